//! Rendering results: table, CSV, JSON (one array of row objects), NDJSON, Markdown, Parquet,
//! Excel.
//! Everything renders into bytes; only the binary's edge writes them to stdout or a file.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::Result;

mod table;
pub(crate) mod xlsx;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Ndjson,
    Markdown,
    Parquet,
    /// An Excel workbook: one sheet, typed cells, the header frozen.
    Xlsx,
}

impl OutputFormat {
    /// The format a file name asks for by its extension (`daily.csv` → CSV); `None` for an
    /// extension that names no format.
    fn from_extension(path: &std::path::Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" => Self::Csv,
            "json" => Self::Json,
            "ndjson" | "jsonl" => Self::Ndjson,
            "md" | "markdown" => Self::Markdown,
            "parquet" => Self::Parquet,
            "xlsx" => Self::Xlsx,
            "txt" => Self::Table,
            _ => return None,
        })
    }

    /// The name `--format` takes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Ndjson => "ndjson",
            Self::Markdown => "markdown",
            Self::Parquet => "parquet",
            Self::Xlsx => "xlsx",
        }
    }

    /// `--format` and `--out` together: the flag, else the file's extension, else a table. A flag
    /// that contradicts the extension is refused, and so is a binary format with no file.
    pub(crate) fn resolve(flag: Option<Self>, out: Option<&std::path::Path>) -> Result<Self> {
        let by_ext = out.and_then(Self::from_extension);
        let format = match (flag, by_ext) {
            (Some(f), Some(e)) if f != e => {
                return Err(crate::Error::usage(format!(
                    "--format {} contradicts --out {} (a .{} file holds {}): drop one of them",
                    f.name(),
                    out.map(|p| p.display().to_string()).unwrap_or_default(),
                    out.and_then(|p| p.extension())
                        .map(|e| e.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    e.name()
                )));
            }
            (Some(f), _) => f,
            (None, Some(e)) => e,
            (None, None) => Self::Table,
        };
        if needs_file(format) && out.is_none() {
            return Err(crate::Error::usage(format!(
                "--format {} writes a binary file: give --out FILE",
                format.name()
            )));
        }
        Ok(format)
    }
}

/// Time columns shown in the report's zone: every `Timestamp` column that carries a zone is
/// relabelled to `tz` (the instant is unchanged), so text output reads `2026-11-14T09:00:00+01:00`
/// for Brussels. Parquet output keeps UTC (the Power BI-safe profile).
pub(crate) fn in_zone(
    batches: &[RecordBatch],
    schema: SchemaRef,
    tz: &str,
) -> Result<(Vec<RecordBatch>, SchemaRef)> {
    use datafusion::arrow::datatypes::DataType;
    retype(batches, schema, |t| match t {
        DataType::Timestamp(unit, Some(_)) => Some(DataType::Timestamp(*unit, Some(tz.into()))),
        _ => None,
    })
}

/// Casts every column whose type `map` gives a new type for; the others are kept as they are.
fn retype(
    batches: &[RecordBatch],
    schema: SchemaRef,
    map: impl Fn(&datafusion::arrow::datatypes::DataType) -> Option<datafusion::arrow::datatypes::DataType>,
) -> Result<(Vec<RecordBatch>, SchemaRef)> {
    use datafusion::arrow::datatypes::{Field, Schema};
    if !schema.fields().iter().any(|f| map(f.data_type()).is_some()) {
        return Ok((batches.to_vec(), schema));
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match map(f.data_type()) {
            Some(t) => f.as_ref().clone().with_data_type(t),
            None => f.as_ref().clone(),
        })
        .collect();
    let out_schema = std::sync::Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let out = batches
        .iter()
        .map(|b| {
            let cols = b
                .columns()
                .iter()
                .zip(out_schema.fields())
                .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(RecordBatch::try_new(out_schema.clone(), cols)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((out, out_schema))
}

/// Renders batches in a format, tables unfitted (for files and pipes). Parquet needs the schema
/// (an empty result still has columns).
pub(crate) fn render(batches: &[RecordBatch], schema: SchemaRef, format: OutputFormat) -> Result<Vec<u8>> {
    render_to(batches, schema, format, None)
}

/// Renders batches in a format; a table is fitted to `width` columns when one is given (stdout is
/// a terminal, see [`crate::terminal::stdout_width`]).
pub fn render_to(
    batches: &[RecordBatch],
    schema: SchemaRef,
    format: OutputFormat,
    width: Option<usize>,
) -> Result<Vec<u8>> {
    match format {
        OutputFormat::Table => Ok(table::render(batches, &schema, width)?.into_bytes()),
        OutputFormat::Csv => {
            let mut buf = Vec::new();
            {
                let mut w = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(&mut buf);
                if batches.is_empty() {
                    w.write(&RecordBatch::new_empty(schema))?;
                }
                for b in batches {
                    w.write(b)?;
                }
            }
            Ok(buf)
        }
        OutputFormat::Json => {
            let mut buf = Vec::new();
            {
                let mut w = datafusion::arrow::json::ArrayWriter::new(&mut buf);
                for b in batches {
                    w.write(b)?;
                }
                w.finish()?;
            }
            if buf.is_empty() {
                buf.extend_from_slice(b"[]");
            }
            buf.push(b'\n');
            Ok(buf)
        }
        OutputFormat::Ndjson => {
            let mut buf = Vec::new();
            {
                let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut buf);
                for b in batches {
                    w.write(b)?;
                }
                w.finish()?;
            }
            Ok(buf)
        }
        OutputFormat::Markdown => markdown(batches, &schema),
        OutputFormat::Xlsx => xlsx::workbook(&[xlsx::Sheet { name: "result", batches, schema }]),
        OutputFormat::Parquet => {
            let (batches, schema) = plain_strings(batches, schema)?;
            Ok(crate::store::writer::encode_any(&batches, schema)?.to_vec())
        }
    }
}

/// Text columns as plain `Utf8` (queries see `Utf8View`, see query/context.rs): exported Parquet
/// stays in the Power BI-safe profile, where string columns are plain UTF-8 byte arrays.
fn plain_strings(batches: &[RecordBatch], schema: SchemaRef) -> Result<(Vec<RecordBatch>, SchemaRef)> {
    use datafusion::arrow::datatypes::DataType;
    retype(batches, schema, |t| {
        matches!(t, DataType::Utf8View | DataType::LargeUtf8).then_some(DataType::Utf8)
    })
}

/// Every row's cells as text (NULL as empty), in order: what the text formats lay out.
pub(crate) fn text_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>> {
    rows_with(batches, &FormatOptions::default().with_null(""))
}

/// Rows as text for a reader, not a machine: times as `2026-11-14 18:24:44` on the wall clock
/// of their column's zone (a report states its zone once, in its header), without the fraction
/// of a second and the offset that make them wrap in a table cell or a chart label.
pub(crate) fn human_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>> {
    const TIME: &str = "%Y-%m-%d %H:%M:%S";
    let opts = FormatOptions::default()
        .with_null("")
        .with_timestamp_format(Some(TIME))
        .with_timestamp_tz_format(Some(TIME));
    rows_with(batches, &opts)
}

fn rows_with(batches: &[RecordBatch], opts: &FormatOptions<'_>) -> Result<Vec<Vec<String>>> {
    let mut rows = Vec::new();
    for b in batches {
        let fmts = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), opts))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..b.num_rows() {
            rows.push(fmts.iter().map(|f| f.value(row).to_string()).collect());
        }
    }
    Ok(rows)
}

fn markdown(batches: &[RecordBatch], schema: &SchemaRef) -> Result<Vec<u8>> {
    let mut s = String::new();
    let names: Vec<_> = schema.fields().iter().map(|f| f.name().clone()).collect();
    s.push_str(&format!("| {} |\n", names.join(" | ")));
    s.push_str(&format!("|{}\n", names.iter().map(|_| "---|").collect::<String>()));
    for row in text_rows(batches)? {
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|").replace('\n', " ")).collect();
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    Ok(s.into_bytes())
}

/// Whether a format writes binary that must go to a file.
pub(crate) fn needs_file(format: OutputFormat) -> bool {
    matches!(format, OutputFormat::Parquet | OutputFormat::Xlsx)
}

/// Turns serialisable rows (e.g. `lake stats`) into a batch via JSON, so they print like queries.
pub(crate) fn rows_to_batch<T: serde::Serialize>(rows: &[T]) -> Result<(Vec<RecordBatch>, SchemaRef)> {
    let values: Vec<serde_json::Value> =
        rows.iter().map(serde_json::to_value).collect::<std::result::Result<_, _>>()?;
    let schema = datafusion::arrow::json::reader::infer_json_schema_from_iterator(values.iter().map(Ok))?;
    let schema = std::sync::Arc::new(schema);
    let mut decoder = datafusion::arrow::json::ReaderBuilder::new(schema.clone()).build_decoder()?;
    decoder.serialize(&values)?;
    let batch = decoder.flush()?.unwrap_or_else(|| RecordBatch::new_empty(schema.clone()));
    Ok((vec![batch], schema))
}
