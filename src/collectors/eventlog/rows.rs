//! Rows of the event-log tables built column by column, on the thread that read the records.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::SchemaRef;

use crate::collectors::eventlog::record::EventRecord;
use crate::error::Result;

/// Rows of an event-log table (`writeback_events`, `credential_provider_events` and
/// `dc_security_events` share one schema) built column by column from records, with one typed
/// builder per column. The EVTX workers fill one per chunk, so the thread that hands batches to
/// the lake only moves finished columns.
#[derive(Debug)]
pub struct EventRows {
    computer: StringBuilder,
    channel: StringBuilder,
    provider: StringBuilder,
    event_id: Int32Builder,
    qualifiers: Int32Builder,
    level: Int32Builder,
    task: Int32Builder,
    keywords: StringBuilder,
    time_created: TimestampMicrosecondBuilder,
    event_date: Date32Builder,
    event_record_id: Int64Builder,
    header_record_id: Int64Builder,
    message: StringBuilder,
    data_json: StringBuilder,
    tracking_id: StringBuilder,
    hresult: StringBuilder,
    target_account: StringBuilder,
    target_domain: StringBuilder,
    subject_account: StringBuilder,
    subject_domain: StringBuilder,
    audit_success: BooleanBuilder,
    content_hash: StringBuilder,
    source_file: StringBuilder,
    source_format: StringBuilder,
    ingested_at: TimestampMicrosecondBuilder,
    rows: usize,
}

impl EventRows {
    /// Room for `rows` rows, and for their text at the bytes per row this thread's last batch
    /// had in each column (a log's records are alike, so the builders seldom grow by copying).
    pub fn with_capacity(rows: usize) -> Self {
        let [
            computer,
            channel,
            provider,
            keywords,
            message,
            data_json,
            tracking_id,
            hresult,
            target_account,
            target_domain,
            subject_account,
            subject_domain,
            content_hash,
            source_file,
            source_format,
        ] = BYTES_PER_ROW.get().map(|bytes| StringBuilder::with_capacity(rows, rows * bytes as usize));
        let i32s = || Int32Builder::with_capacity(rows);
        let i64s = || Int64Builder::with_capacity(rows);
        let ts = || TimestampMicrosecondBuilder::with_capacity(rows);
        EventRows {
            computer,
            channel,
            provider,
            event_id: i32s(),
            qualifiers: i32s(),
            level: i32s(),
            task: i32s(),
            keywords,
            time_created: ts(),
            event_date: Date32Builder::with_capacity(rows),
            event_record_id: i64s(),
            header_record_id: i64s(),
            message,
            data_json,
            tracking_id,
            hresult,
            target_account,
            target_domain,
            subject_account,
            subject_domain,
            audit_success: BooleanBuilder::with_capacity(rows),
            content_hash,
            source_file,
            source_format,
            ingested_at: ts(),
            rows: 0,
        }
    }

    /// The string columns, in the order of [`BYTES_PER_ROW`].
    fn text_columns(&self) -> [&StringBuilder; TEXT_COLUMNS] {
        [
            &self.computer,
            &self.channel,
            &self.provider,
            &self.keywords,
            &self.message,
            &self.data_json,
            &self.tracking_id,
            &self.hresult,
            &self.target_account,
            &self.target_domain,
            &self.subject_account,
            &self.subject_domain,
            &self.content_hash,
            &self.source_file,
            &self.source_format,
        ]
    }

    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends `rec`'s row, deriving its facts, message and event-data JSON straight into the
    /// builders. The caller has checked [`EventRecord::problem`]: a record without an event id
    /// or a time is stored with 0 / the epoch, which the table's non-null columns need.
    pub fn push(&mut self, rec: &EventRecord, source_file: &str, source_format: &str, ingested_at: i64) {
        let f = rec.facts();
        let time = rec.time_created.unwrap_or_default();
        self.computer.append_value(&rec.computer);
        self.channel.append_value(&rec.channel);
        self.provider.append_value(&rec.provider);
        self.event_id.append_value(rec.event_id.unwrap_or_default());
        self.qualifiers.append_option(rec.qualifiers);
        self.level.append_option(rec.level);
        self.task.append_option(rec.task);
        self.keywords.append_option(rec.keywords.as_deref());
        self.time_created.append_value(time);
        self.event_date.append_value(date32_of_micros(time));
        self.event_record_id.append_option(rec.event_record_id);
        self.header_record_id.append_option(rec.header_record_id);
        self.message.append_option(rec.message().as_deref());
        if rec.write_data_json(&mut self.data_json) {
            self.data_json.append_value("");
        } else {
            self.data_json.append_null();
        }
        self.tracking_id.append_option(f.tracking_id.as_deref());
        self.hresult.append_option(f.hresult.as_deref());
        self.target_account.append_option(f.target_account.as_deref());
        self.target_domain.append_option(f.target_domain.as_deref());
        self.subject_account.append_option(f.subject_account.as_deref());
        self.subject_domain.append_option(f.subject_domain.as_deref());
        self.audit_success.append_option(f.audit_success);
        // Only a record without `EventRecordID` needs one (see [`EventRecord::content_hash`]).
        self.content_hash.append_option(rec.event_record_id.is_none().then(|| rec.content_hash()));
        self.source_file.append_value(source_file);
        self.source_format.append_value(source_format);
        self.ingested_at.append_value(ingested_at);
        self.rows += 1;
    }

    /// The rows so far as a batch of `schema` (one of the event-log tables'), starting over.
    pub fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let mut per_row = [0u32; TEXT_COLUMNS];
        for (out, b) in per_row.iter_mut().zip(self.text_columns()) {
            // A little over the last batch's mean, so a batch like it fits without growing.
            if let Some(mean) = b.values_slice().len().checked_div(self.rows) {
                *out = ((mean + 1) * 9).div_ceil(8).min(1 << 16) as u32;
            }
        }
        if self.rows > 0 {
            BYTES_PER_ROW.set(per_row);
        }
        let utc = |b: &mut TimestampMicrosecondBuilder| Arc::new(b.finish().with_timezone("UTC")) as ArrayRef;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.computer.finish()),
            Arc::new(self.channel.finish()),
            Arc::new(self.provider.finish()),
            Arc::new(self.event_id.finish()),
            Arc::new(self.qualifiers.finish()),
            Arc::new(self.level.finish()),
            Arc::new(self.task.finish()),
            Arc::new(self.keywords.finish()),
            utc(&mut self.time_created),
            Arc::new(self.event_date.finish()),
            Arc::new(self.event_record_id.finish()),
            Arc::new(self.header_record_id.finish()),
            Arc::new(self.message.finish()),
            Arc::new(self.data_json.finish()),
            Arc::new(self.tracking_id.finish()),
            Arc::new(self.hresult.finish()),
            Arc::new(self.target_account.finish()),
            Arc::new(self.target_domain.finish()),
            Arc::new(self.subject_account.finish()),
            Arc::new(self.subject_domain.finish()),
            Arc::new(self.audit_success.finish()),
            Arc::new(self.content_hash.finish()),
            Arc::new(self.source_file.finish()),
            Arc::new(self.source_format.finish()),
            utc(&mut self.ingested_at),
        ];
        self.rows = 0;
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// The string columns of [`EventRows`] (see `EventRows::text_columns`).
const TEXT_COLUMNS: usize = 15;

thread_local! {
    /// Text bytes per row of the last batch this thread finished, per string column in the
    /// order of `EventRows::text_columns` (`with_capacity` names them in the same order).
    static BYTES_PER_ROW: std::cell::Cell<[u32; TEXT_COLUMNS]> = const { std::cell::Cell::new([0; TEXT_COLUMNS]) };
}

/// Days since the epoch of a UTC time in microseconds.
fn date32_of_micros(t: i64) -> i32 {
    t.div_euclid(86_400_000_000) as i32
}
