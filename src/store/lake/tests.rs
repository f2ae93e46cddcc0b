use super::*;

/// Issue 20 item 9: rows that tie on the sort columns come out in one order whatever order
/// they went in (a stable sort on the sort columns alone kept the input's order).
#[test]
fn sorting_is_total_so_ties_do_not_follow_the_input_order() {
    use crate::store::schema::ERROR_EVENTS;
    use datafusion::arrow::array::{ArrayRef, Date32Array, StringArray, TimestampMicrosecondArray};
    let make = |subjects: [&str; 3]| {
        let schema = ERROR_EVENTS.schema();
        let cols: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| -> ArrayRef {
                match f.name().as_str() {
                    "event_date" => std::sync::Arc::new(Date32Array::from(vec![20_000; 3])),
                    "time" => {
                        std::sync::Arc::new(TimestampMicrosecondArray::from(vec![5; 3]).with_timezone("UTC"))
                    }
                    "subject" => std::sync::Arc::new(StringArray::from(subjects.to_vec())),
                    _ => std::sync::Arc::new(StringArray::from(vec!["same"; 3])),
                }
            })
            .collect();
        RecordBatch::try_new(schema, cols).expect("batch")
    };
    let a = sort_batch(&make(["WIN7-B", "WIN7-A", "WIN7-C"]), &ERROR_EVENTS).expect("sorts");
    let b = sort_batch(&make(["WIN7-C", "WIN7-B", "WIN7-A"]), &ERROR_EVENTS).expect("sorts");
    assert_eq!(a, b);
}
use crate::collectors::ledger::{LedgerEntry, ledger_batch};
use crate::store::schema::INGEST_LEDGER;
use datafusion::arrow::array::StringArray;

/// Ledger rows for items `ids`, each a second after the one before.
fn rows(ids: std::ops::Range<i64>) -> RecordBatch {
    let entries: Vec<LedgerEntry> = ids
        .map(|i| LedgerEntry {
            run_id: "r".into(),
            source: "file".into(),
            item: format!("{i:05}"),
            started_at: chrono::DateTime::from_timestamp(1_800_000_000 + i, 0).expect("valid"),
            ..Default::default()
        })
        .collect();
    ledger_batch(&entries).expect("ledger rows")
}

fn items(bytes: Bytes) -> Vec<String> {
    decode(bytes)
        .expect("decodes")
        .iter()
        .flat_map(|b| {
            let a =
                b.column_by_name("item").expect("item").as_any().downcast_ref::<StringArray>().expect("utf8");
            a.iter().map(|v| v.unwrap_or_default().to_string()).collect::<Vec<_>>()
        })
        .collect()
}

/// Big batches already in order are encoded as they are; batches out of order, or with a
/// duplicate, are copied into sorted slices. Both give the same sorted, de-duplicated file.
#[test]
fn rows_in_order_and_out_of_order_give_the_same_sorted_file() {
    let want: Vec<String> = (0..1200).map(|i| format!("{i:05}")).collect();
    let (direct, bytes) =
        merge_and_encode(&INGEST_LEDGER, Vec::new(), vec![rows(0..600), rows(600..1200)]).unwrap();
    assert_eq!(items(bytes.unwrap()), want);
    assert_eq!((direct.rows_new, direct.duplicates), (1200, 0));
    let (copied, bytes) =
        merge_and_encode(&INGEST_LEDGER, Vec::new(), vec![rows(600..1200), rows(0..600), rows(5..6)])
            .unwrap();
    assert_eq!(items(bytes.unwrap()), want);
    assert_eq!((copied.rows_new, copied.duplicates), (1200, 1));
}
