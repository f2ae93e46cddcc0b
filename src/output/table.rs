//! The `table` format: a bordered text table, fitted to a terminal's width when it has one.
//!
//! Piped or written to a file, the table is plain: every value whole. On a terminal of `width`
//! columns, the widest text columns (reasons, resolutions, UPNs) are cut with `…` until the table
//! fits, numbers and times never; a table that still does not fit (many columns) is shown one
//! record at a time, `name | value`, with long values wrapped. CSV and JSON always carry the full
//! values, and a note under a fitted table says so.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::error::Result;

/// A text column is never cut narrower than this (or its header, when shorter).
const MIN_CUT_WIDTH: usize = 8;

/// One table's cells as text, ready to lay out.
struct Cells {
    headers: Vec<String>,
    /// Each header as it is printed: one line, or two split at an underscore when the table
    /// would not fit otherwise.
    header_lines: Vec<Vec<String>>,
    /// Right-aligned (numbers).
    numeric: Vec<bool>,
    /// May be cut to fit (text; not numbers, times, dates or booleans).
    cuttable: Vec<bool>,
    rows: Vec<Vec<String>>,
}

/// Renders the table; `width` is the terminal's when stdout is one, `None` for pipes and files.
pub(crate) fn render(batches: &[RecordBatch], schema: &SchemaRef, width: Option<usize>) -> Result<String> {
    let cells = cells(batches, schema)?;
    if cells.rows.is_empty() {
        let text = format!("(no rows; columns: {})", cells.headers.join(", "));
        return Ok(match width {
            Some(w) => wrap(&text, w).join("\n") + "\n",
            None => text + "\n",
        });
    }
    let mut cells = cells;
    let Some(limit) = width else {
        return Ok(grid(&cells, &natural(&cells)));
    };
    if total(&natural(&cells)) <= limit {
        return Ok(grid(&cells, &natural(&cells)));
    }
    // Too wide: long headers over narrow columns (`sspr_registered` over 4-digit counts) go on
    // two lines before any value is cut.
    if fit(&cells, &natural(&cells), limit).is_none() {
        cells.header_lines = cells.headers.iter().map(|h| split_header(h)).collect();
    }
    let natural = natural(&cells);
    match fit(&cells, &natural, limit) {
        Some(widths) => {
            let mut out = grid(&cells, &widths);
            // Only a cut value needs the note (two-line headers lose nothing).
            if widths != natural {
                out.push_str(&format!(
                    "(long values cut to fit {limit} columns; --format csv or json shows them whole)\n"
                ));
            }
            Ok(out)
        }
        None => Ok(records(&cells, limit)),
    }
}

/// Each column's natural width: its widest value or header line.
fn natural(cells: &Cells) -> Vec<usize> {
    (0..cells.headers.len())
        .map(|c| {
            let header = cells.header_lines[c].iter().map(|l| l.width()).max().unwrap_or(0);
            cells.rows.iter().map(|r| r[c].width()).chain([header]).max().unwrap_or(0)
        })
        .collect()
}

/// A header split in two at the underscore nearest its middle (`sspr_` / `registered`).
fn split_header(h: &str) -> Vec<String> {
    let mid = h.len() / 2;
    match h.match_indices('_').map(|(i, _)| i).min_by_key(|&i| i.abs_diff(mid)) {
        Some(i) => vec![h[..=i].to_string(), h[i + 1..].to_string()],
        None => vec![h.to_string()],
    }
}

fn cells(batches: &[RecordBatch], schema: &SchemaRef) -> Result<Cells> {
    let headers: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let numeric: Vec<bool> = schema.fields().iter().map(|f| f.data_type().is_numeric()).collect();
    let cuttable: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| matches!(f.data_type(), DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8))
        .collect();
    let rows =
        super::text_rows(batches)?.into_iter().map(|row| row.iter().map(|c| one_line(c)).collect()).collect();
    let header_lines = headers.iter().map(|h| vec![h.clone()]).collect();
    Ok(Cells { headers, header_lines, numeric, cuttable, rows })
}

/// A value on one line: line breaks and tabs become spaces so the grid holds.
fn one_line(s: &str) -> String {
    if s.contains(['\n', '\r', '\t']) {
        s.split(['\n', '\r', '\t']).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ")
    } else {
        s.to_string()
    }
}

/// The printed width of a grid with these column widths: `| a | b |`.
fn total(widths: &[usize]) -> usize {
    widths.iter().sum::<usize>() + 3 * widths.len() + 1
}

/// Cuts the widest text column by one until the grid fits; `None` when the text columns reach
/// their floor first.
fn fit(cells: &Cells, natural: &[usize], limit: usize) -> Option<Vec<usize>> {
    let floor: Vec<usize> = natural
        .iter()
        .enumerate()
        .map(|(c, &w)| {
            let header = cells.header_lines[c].iter().map(|l| l.width()).max().unwrap_or(0);
            if cells.cuttable[c] { w.min(header.max(MIN_CUT_WIDTH)) } else { w }
        })
        .collect();
    let mut widths = natural.to_vec();
    while total(&widths) > limit {
        let widest = (0..widths.len()).filter(|&c| widths[c] > floor[c]).max_by_key(|&c| (widths[c], c))?;
        widths[widest] -= 1;
    }
    Some(widths)
}

fn grid(cells: &Cells, widths: &[usize]) -> String {
    let rule: String =
        format!("+{}\n", widths.iter().map(|w| format!("{}+", "-".repeat(w + 2))).collect::<String>());
    let line = |values: &[String], header: bool| -> String {
        let mut s = String::from("|");
        for (c, v) in values.iter().enumerate() {
            let v = cut(v, widths[c]);
            let pad = " ".repeat(widths[c] - v.width());
            if cells.numeric[c] && !header {
                s.push_str(&format!(" {pad}{v} |"));
            } else {
                s.push_str(&format!(" {v}{pad} |"));
            }
        }
        s.push('\n');
        s
    };
    let mut out = rule.clone();
    let header_rows = cells.header_lines.iter().map(Vec::len).max().unwrap_or(1);
    for i in 0..header_rows {
        let row: Vec<String> =
            cells.header_lines.iter().map(|l| l.get(i).cloned().unwrap_or_default()).collect();
        out.push_str(&line(&row, true));
    }
    out.push_str(&rule);
    for r in &cells.rows {
        out.push_str(&line(r, false));
    }
    out.push_str(&rule);
    out
}

/// `s` cut to `width` display columns, ending in `…` when cut.
fn cut(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in s.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(ch);
        used += w;
    }
    out.push('…');
    out
}

/// One record at a time: `name | value`, values wrapped to the width.
fn records(cells: &Cells, limit: usize) -> String {
    let name_w = cells.headers.iter().map(|h| h.width()).max().unwrap_or(0).min(limit / 2);
    let value_w = limit.saturating_sub(name_w + 3).max(1);
    let mut out = String::new();
    for (i, r) in cells.rows.iter().enumerate() {
        let head = format!("-[ record {} ]", i + 1);
        let fill = limit.saturating_sub(head.width());
        out.push_str(&format!("{head}{}\n", "-".repeat(fill)));
        for (c, v) in r.iter().enumerate() {
            let name = cut(&cells.headers[c], name_w);
            let pad = " ".repeat(name_w - name.width());
            let mut pieces = wrap(v, value_w).into_iter();
            out.push_str(&format!("{name}{pad} | {}\n", pieces.next().unwrap_or_default()));
            for more in pieces {
                out.push_str(&format!("{} | {more}\n", " ".repeat(name_w)));
            }
        }
    }
    out
}

/// Splits `s` into lines of at most `width` display columns, at spaces where it can.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in s.split(' ') {
        let last = lines.last_mut().expect("never empty");
        let sep = usize::from(!last.is_empty());
        if last.width() + sep + word.width() <= width {
            if sep == 1 {
                last.push(' ');
            }
            last.push_str(word);
            continue;
        }
        // A word longer than a line is split by characters.
        let mut rest = word;
        if !last.is_empty() {
            lines.push(String::new());
        }
        while rest.width() > width {
            let mut used = 0;
            let split = rest
                .char_indices()
                .find(|&(_, ch)| {
                    used += ch.width().unwrap_or(0);
                    used > width
                })
                .map(|(i, _)| i)
                .unwrap_or(rest.len());
            let split = if split == 0 { rest.chars().next().map(char::len_utf8).unwrap_or(1) } else { split };
            lines.last_mut().expect("never empty").push_str(&rest[..split]);
            lines.push(String::new());
            rest = &rest[split..];
        }
        lines.last_mut().expect("never empty").push_str(rest);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn batch(reasons: &[&str]) -> (Vec<RecordBatch>, SchemaRef) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("code", DataType::Utf8, true),
            Field::new("events", DataType::Int64, false),
            Field::new("resolution", DataType::Utf8, true),
        ]));
        let n = reasons.len();
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from((0..n).map(|i| format!("SSPR_00{i:02}")).collect::<Vec<_>>())),
                Arc::new(Int64Array::from((0..n as i64).map(|i| i * 1000).collect::<Vec<_>>())),
                Arc::new(StringArray::from(reasons.to_vec())),
            ],
        )
        .unwrap();
        (vec![b], schema)
    }

    fn widest_line(s: &str) -> usize {
        s.lines().map(|l| l.width()).max().unwrap_or(0)
    }

    #[test]
    fn piped_tables_keep_every_value_whole() {
        let long = "Ask the user to register a second method and check the writeback connector account";
        let (b, s) = batch(&[long]);
        let out = render(&b, &s, None).unwrap();
        assert!(out.contains(long), "{out}");
        assert!(out.contains("|      0 |"), "numbers are right-aligned: {out}");
    }

    #[test]
    fn long_text_is_cut_to_the_terminal_and_numbers_are_not() {
        let long =
            "Ask the user to register a second method, then check the writeback connector account ".repeat(3);
        let (b, s) =
            batch(&[&long, "short", "Ünïcødé 名前 that is long enough to be cut at some point for sure"]);
        for width in [80, 100] {
            let out = render(&b, &s, Some(width)).unwrap();
            assert!(widest_line(&out) <= width, "{width}:\n{out}");
            assert!(out.contains('…') && out.contains("--format csv"), "{out}");
            assert!(out.contains("2000") && out.contains("SSPR_0002"), "{out}");
        }
    }

    #[test]
    fn too_many_columns_become_records_that_fit() {
        let fields: Vec<Field> =
            (0..20).map(|i| Field::new(format!("column_number_{i}"), DataType::Int64, false)).collect();
        let schema = Arc::new(Schema::new(fields));
        let cols = (0..20).map(|i| Arc::new(Int64Array::from(vec![i * 1_000_000, 7])) as _).collect();
        let b = RecordBatch::try_new(schema.clone(), cols).unwrap();
        let out = render(&[b], &schema, Some(80)).unwrap();
        assert!(widest_line(&out) <= 80, "{out}");
        assert!(out.contains("-[ record 2 ]") && out.contains("column_number_19 | 19000000"), "{out}");
    }

    #[test]
    fn long_headers_over_narrow_numbers_go_on_two_lines_before_records() {
        let names = [
            "snapshot_date",
            "user_type",
            "users",
            "sspr_registered",
            "sspr_enabled",
            "sspr_capable",
            "mfa_capable",
            "capable_pct",
        ];
        let fields: Vec<Field> = names.iter().map(|n| Field::new(*n, DataType::Int64, false)).collect();
        let schema = Arc::new(Schema::new(fields));
        let cols = names.iter().map(|_| Arc::new(Int64Array::from(vec![1314, 57])) as _).collect();
        let b = RecordBatch::try_new(schema.clone(), cols).unwrap();
        // 113 columns on one header line; 83 on two, which a 100-column terminal holds.
        let out = render(&[b], &schema, Some(100)).unwrap();
        assert!(widest_line(&out) <= 100, "{out}");
        assert!(!out.contains("-[ record"), "a table, not records: {out}");
        assert!(out.contains("| sspr_") && out.contains("| registered"), "{out}");
        assert!(!out.contains("values cut"), "nothing was cut: {out}");
        assert_eq!(split_header("sspr_registered"), ["sspr_", "registered"]);
        assert_eq!(split_header("users"), ["users"]);
    }

    #[test]
    fn wrapping_splits_at_spaces_and_inside_long_words() {
        assert_eq!(wrap("aaa bbb ccc", 7), ["aaa bbb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("名前名前", 5), "名前…");
    }
}
