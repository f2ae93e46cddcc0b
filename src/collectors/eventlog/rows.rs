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
    /// Room for `rows` rows; string bytes grow as they come.
    pub fn with_capacity(rows: usize) -> Self {
        let s = || StringBuilder::with_capacity(rows, 0);
        let i32s = || Int32Builder::with_capacity(rows);
        let i64s = || Int64Builder::with_capacity(rows);
        let ts = || TimestampMicrosecondBuilder::with_capacity(rows);
        EventRows {
            computer: s(),
            channel: s(),
            provider: s(),
            event_id: i32s(),
            qualifiers: i32s(),
            level: i32s(),
            task: i32s(),
            keywords: s(),
            time_created: ts(),
            event_date: Date32Builder::with_capacity(rows),
            event_record_id: i64s(),
            header_record_id: i64s(),
            message: s(),
            data_json: s(),
            tracking_id: s(),
            hresult: s(),
            target_account: s(),
            target_domain: s(),
            subject_account: s(),
            subject_domain: s(),
            audit_success: BooleanBuilder::with_capacity(rows),
            content_hash: s(),
            source_file: s(),
            source_format: s(),
            ingested_at: ts(),
            rows: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends `rec`'s row (deriving its facts first if [`EventRecord::prepare`] has not run).
    /// The caller has checked [`EventRecord::problem`]: a record without an event id or a time is
    /// stored with 0 / the epoch, which the table's non-null columns need.
    pub fn push(&mut self, rec: &mut EventRecord, source_file: &str, source_format: &str, ingested_at: i64) {
        rec.prepare();
        let d = rec.derived.as_deref().expect("prepared above");
        let f = &d.facts;
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
        self.message.append_option(d.message.as_deref());
        self.data_json.append_option(d.data_json.as_deref());
        self.tracking_id.append_option(f.tracking_id.as_deref());
        self.hresult.append_option(f.hresult.as_deref());
        self.target_account.append_option(f.target_account.as_deref());
        self.target_domain.append_option(f.target_domain.as_deref());
        self.subject_account.append_option(f.subject_account.as_deref());
        self.subject_domain.append_option(f.subject_domain.as_deref());
        self.audit_success.append_option(f.audit_success);
        self.content_hash.append_option(d.content_hash.as_deref());
        self.source_file.append_value(source_file);
        self.source_format.append_value(source_format);
        self.ingested_at.append_value(ingested_at);
        self.rows += 1;
    }

    /// The rows so far as a batch of `schema` (one of the event-log tables'), starting over.
    pub fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
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

/// Days since the epoch of a UTC time in microseconds.
fn date32_of_micros(t: i64) -> i32 {
    t.div_euclid(86_400_000_000) as i32
}
