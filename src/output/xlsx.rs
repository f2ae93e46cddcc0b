//! Excel workbooks for analysts (`--format xlsx`): one sheet per result, typed cells (numbers
//! as numbers, booleans as booleans, dates as Excel dates, times as Excel date-times on the wall
//! clock of the column's zone, which the sheet's header names), a bold header row that stays in
//! view (frozen) with a filter on it, and columns sized to their contents. `rust_xlsxwriter`
//! writes the file.

use chrono::{TimeZone, Timelike};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, SchemaRef, TimeUnit};
use rust_xlsxwriter::{ExcelDateTime, Format, FormatBorder, Workbook, XlsxError};

use crate::error::{Error, Result};

/// Excel's rows per sheet, the header included.
const MAX_ROWS: usize = 1_048_576;
/// Excel's longest text in a cell.
const MAX_TEXT: usize = 32_767;
/// Excel's longest sheet name.
const MAX_NAME: usize = 31;

/// One sheet: its name (cut and cleaned to what Excel accepts) and a result.
pub(crate) struct Sheet<'a> {
    pub name: &'a str,
    pub batches: &'a [RecordBatch],
    pub schema: SchemaRef,
}

fn xlsx_error(e: XlsxError) -> Error {
    Error::Table { table: "xlsx".into(), message: e.to_string() }
}

/// A sheet name Excel accepts, unique among `taken`.
fn sheet_name(name: &str, taken: &[String]) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect::<String>()
        .trim_matches('\'')
        .to_string();
    let clean = if clean.is_empty() { "Sheet".to_string() } else { clean };
    let mut n = 1;
    loop {
        let suffix = if n == 1 { String::new() } else { format!(" ({n})") };
        let keep = MAX_NAME - suffix.chars().count();
        let candidate: String = clean.chars().take(keep).chain(suffix.chars()).collect();
        if !taken.iter().any(|t| t.eq_ignore_ascii_case(&candidate)) {
            return candidate;
        }
        n += 1;
    }
}

/// The workbook's bytes.
pub(crate) fn workbook(sheets: &[Sheet<'_>]) -> Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let header = Format::new().set_bold().set_border_bottom(FormatBorder::Thin);
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let time = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let mut taken = Vec::new();
    for sheet in sheets {
        let rows: usize = sheet.batches.iter().map(|b| b.num_rows()).sum();
        if rows + 1 > MAX_ROWS {
            return Err(Error::Table {
                table: sheet.name.to_string(),
                message: format!(
                    "{rows} rows do not fit in an Excel sheet ({} at most): write csv or parquet instead",
                    MAX_ROWS - 1
                ),
            });
        }
        let name = sheet_name(sheet.name, &taken);
        taken.push(name.clone());
        let ws = wb.add_worksheet();
        ws.set_name(&name).map_err(xlsx_error)?;
        let columns = sheet.schema.fields().len();
        for (c, f) in sheet.schema.fields().iter().enumerate() {
            let title = match f.data_type() {
                DataType::Timestamp(_, Some(tz)) => format!("{} ({tz})", f.name()),
                _ => f.name().clone(),
            };
            ws.write_string_with_format(0, c as u16, &title, &header).map_err(xlsx_error)?;
        }
        ws.set_freeze_panes(1, 0).map_err(xlsx_error)?;
        if columns > 0 {
            ws.autofilter(0, 0, rows as u32, (columns - 1) as u16).map_err(xlsx_error)?;
        }
        let text = crate::output::human_rows(sheet.batches)?;
        let mut row = 1u32;
        let mut at = 0usize;
        for b in sheet.batches {
            for (c, col) in b.columns().iter().enumerate() {
                let c16 = c as u16;
                match col.data_type() {
                    DataType::Boolean => {
                        let v = col.as_boolean();
                        for i in (0..v.len()).filter(|i| !v.is_null(*i)) {
                            ws.write_boolean(row + i as u32, c16, v.value(i)).map_err(xlsx_error)?;
                        }
                    }
                    t if t.is_numeric() => {
                        let v = datafusion::arrow::compute::cast(col, &DataType::Float64)?;
                        let v = v.as_primitive::<Float64Type>();
                        for i in (0..v.len()).filter(|i| !v.is_null(*i) && v.value(*i).is_finite()) {
                            ws.write_number(row + i as u32, c16, v.value(i)).map_err(xlsx_error)?;
                        }
                    }
                    DataType::Date32 => {
                        let v = col.as_primitive::<Date32Type>();
                        for i in (0..v.len()).filter(|i| !v.is_null(*i)) {
                            let d = chrono::NaiveDate::from_num_days_from_ce_opt(v.value(i) + 719_163);
                            if let Some(dt) = d.and_then(|d| excel_date(d, 0.0)) {
                                ws.write_datetime_with_format(row + i as u32, c16, &dt, &date)
                                    .map_err(xlsx_error)?;
                            }
                        }
                    }
                    DataType::Timestamp(_, tz) => {
                        let zone: chrono_tz::Tz =
                            tz.as_deref().and_then(|z| z.parse().ok()).unwrap_or(chrono_tz::UTC);
                        let micros = datafusion::arrow::compute::cast(
                            col,
                            &DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
                        )?;
                        let micros = datafusion::arrow::compute::cast(&micros, &DataType::Int64)?;
                        let v = micros.as_primitive::<Int64Type>();
                        for i in (0..v.len()).filter(|i| !v.is_null(*i)) {
                            let Some(utc) = chrono::Utc.timestamp_micros(v.value(i)).single() else {
                                continue;
                            };
                            let local = utc.with_timezone(&zone).naive_local();
                            let secs = f64::from(local.time().num_seconds_from_midnight())
                                + f64::from(local.time().nanosecond()) / 1e9;
                            if let Some(dt) = excel_date(local.date(), secs) {
                                ws.write_datetime_with_format(row + i as u32, c16, &dt, &time)
                                    .map_err(xlsx_error)?;
                            }
                        }
                    }
                    _ => {
                        for i in 0..b.num_rows() {
                            let s = &text[at + i][c];
                            if col.is_null(i) || s.is_empty() {
                                continue;
                            }
                            let s: String = if s.chars().count() > MAX_TEXT {
                                s.chars().take(MAX_TEXT - 1).chain(['…']).collect()
                            } else {
                                s.clone()
                            };
                            ws.write_string(row + i as u32, c16, &s).map_err(xlsx_error)?;
                        }
                    }
                }
            }
            row += b.num_rows() as u32;
            at += b.num_rows();
        }
        ws.set_autofit_max_width(60 * 7);
        ws.autofit();
    }
    if sheets.is_empty() {
        wb.add_worksheet();
    }
    wb.save_to_buffer().map_err(xlsx_error)
}

/// An Excel date-time of a day and seconds into it (Excel's calendar starts in 1900).
fn excel_date(d: chrono::NaiveDate, secs: f64) -> Option<ExcelDateTime> {
    use chrono::Datelike;
    let year = u16::try_from(d.year()).ok().filter(|y| (1900..=9999).contains(y))?;
    let day = ExcelDateTime::from_ymd(year, d.month() as u8, d.day() as u8).ok()?;
    let (h, rest) = ((secs / 3600.0).floor(), secs % 3600.0);
    let (m, s) = ((rest / 60.0).floor(), rest % 60.0);
    day.and_hms(h as u16, m as u8, s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_what_excel_accepts_and_unique() {
        let mut taken = Vec::new();
        let a = sheet_name("sms_voice_only_resets_from_rare_ip", &taken);
        assert_eq!(a.chars().count(), 31);
        taken.push(a.clone());
        let b = sheet_name("sms_voice_only_resets_from_rare_ip", &taken);
        assert!(b.ends_with(" (2)") && b.chars().count() <= 31 && b != a, "{b}");
        assert_eq!(sheet_name("a/b:c*d?[e]", &[]), "a_b_c_d__e_");
        assert_eq!(sheet_name("", &[]), "Sheet");
    }
}
