//! Rendering results: table, CSV, JSON (one array of row objects), NDJSON, Markdown, Parquet.
//! Everything renders into bytes; only the binary's edge writes them to stdout or a file.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::arrow::util::pretty::pretty_format_batches;

use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Ndjson,
    Markdown,
    Parquet,
}

/// Renders batches in a format. Parquet needs the schema (an empty result still has columns).
pub fn render(batches: &[RecordBatch], schema: SchemaRef, format: OutputFormat) -> Result<Vec<u8>> {
    match format {
        OutputFormat::Table => {
            if batches.iter().all(|b| b.num_rows() == 0) {
                let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                return Ok(format!("(no rows; columns: {})\n", names.join(", ")).into_bytes());
            }
            Ok(format!("{}\n", pretty_format_batches(batches)?).into_bytes())
        }
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
        OutputFormat::Parquet => {
            let (batches, schema) = plain_strings(batches, schema)?;
            Ok(crate::store::writer::encode_any(&batches, schema)?.to_vec())
        }
    }
}

/// Text columns as plain `Utf8` (queries see `Utf8View`, see query/context.rs): exported Parquet
/// stays in the Power BI-safe profile, where string columns are plain UTF-8 byte arrays.
fn plain_strings(batches: &[RecordBatch], schema: SchemaRef) -> Result<(Vec<RecordBatch>, SchemaRef)> {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let plain = |t: &DataType| matches!(t, DataType::Utf8View | DataType::LargeUtf8);
    if !schema.fields().iter().any(|f| plain(f.data_type())) {
        return Ok((batches.to_vec(), schema));
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if plain(f.data_type()) {
                f.as_ref().clone().with_data_type(DataType::Utf8)
            } else {
                f.as_ref().clone()
            }
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

fn markdown(batches: &[RecordBatch], schema: &SchemaRef) -> Result<Vec<u8>> {
    let mut s = String::new();
    let names: Vec<_> = schema.fields().iter().map(|f| f.name().clone()).collect();
    s.push_str(&format!("| {} |\n", names.join(" | ")));
    s.push_str(&format!("|{}\n", names.iter().map(|_| "---|").collect::<String>()));
    let opts = FormatOptions::default().with_null("");
    for b in batches {
        let fmts = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..b.num_rows() {
            let cells: Vec<String> = fmts
                .iter()
                .map(|f| f.value(row).to_string().replace('|', "\\|").replace('\n', " "))
                .collect();
            s.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
    }
    Ok(s.into_bytes())
}

/// Whether a format writes binary that must go to a file.
pub fn needs_file(format: OutputFormat) -> bool {
    format == OutputFormat::Parquet
}

/// Turns serialisable rows (e.g. `lake stats`) into a batch via JSON, so they print like queries.
pub fn rows_to_batch<T: serde::Serialize>(rows: &[T]) -> Result<(Vec<RecordBatch>, SchemaRef)> {
    let values: Vec<serde_json::Value> =
        rows.iter().map(serde_json::to_value).collect::<std::result::Result<_, _>>()?;
    let schema = datafusion::arrow::json::reader::infer_json_schema_from_iterator(values.iter().map(Ok))?;
    let schema = std::sync::Arc::new(schema);
    let mut decoder = datafusion::arrow::json::ReaderBuilder::new(schema.clone()).build_decoder()?;
    decoder.serialize(&values)?;
    let batch = decoder.flush()?.unwrap_or_else(|| RecordBatch::new_empty(schema.clone()));
    Ok((vec![batch], schema))
}
