//! Building Arrow batches row by row against a table schema. Collectors produce rows as slices of
//! [`Cell`]s in schema order; [`BatchBuilder`] appends them column-wise and hands out batches of
//! the table's exact schema.

use std::borrow::Cow;

use datafusion::arrow::array::{
    ArrayBuilder, BooleanBuilder, Date32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder, make_builder,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef};

use crate::error::Result;

/// One value of a row.
#[derive(Debug, Clone)]
pub(crate) enum Cell<'a> {
    Str(Option<Cow<'a, str>>),
    Bool(Option<bool>),
    I64(Option<i64>),
    /// Microseconds since the epoch, UTC.
    Ts(Option<i64>),
    /// Days since the epoch.
    Date(Option<i32>),
}

impl<'a> From<Option<Cow<'a, str>>> for Cell<'a> {
    fn from(v: Option<Cow<'a, str>>) -> Self {
        Cell::Str(v)
    }
}
impl<'a> From<&'a str> for Cell<'a> {
    fn from(v: &'a str) -> Self {
        Cell::Str(Some(Cow::Borrowed(v)))
    }
}
impl From<String> for Cell<'_> {
    fn from(v: String) -> Self {
        Cell::Str(Some(Cow::Owned(v)))
    }
}
impl From<Option<String>> for Cell<'_> {
    fn from(v: Option<String>) -> Self {
        Cell::Str(v.map(Cow::Owned))
    }
}
impl From<Option<bool>> for Cell<'_> {
    fn from(v: Option<bool>) -> Self {
        Cell::Bool(v)
    }
}

/// Appends rows to one builder per column of a schema.
pub struct BatchBuilder {
    schema: SchemaRef,
    builders: Vec<Box<dyn ArrayBuilder>>,
    rows: usize,
}

impl std::fmt::Debug for BatchBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchBuilder").field("rows", &self.rows).finish()
    }
}

impl BatchBuilder {
    pub(crate) fn new(schema: SchemaRef) -> Self {
        let builders = schema.fields().iter().map(|f| make_builder(f.data_type(), 1024)).collect();
        Self { schema, builders, rows: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one row; `cells` must follow the schema's column order and types.
    pub(crate) fn push(&mut self, cells: &[Cell<'_>]) {
        debug_assert_eq!(cells.len(), self.builders.len());
        for ((b, c), f) in self.builders.iter_mut().zip(cells).zip(self.schema.fields()) {
            append(b.as_mut(), c, f.data_type());
        }
        self.rows += 1;
    }

    /// Finishes the rows appended so far into a batch and starts over.
    pub(crate) fn finish(&mut self) -> Result<RecordBatch> {
        let arrays = self.builders.iter_mut().map(|b| b.finish()).collect();
        self.rows = 0;
        let arrays = fix_timezones(arrays, &self.schema);
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

fn fix_timezones(
    arrays: Vec<datafusion::arrow::array::ArrayRef>,
    schema: &SchemaRef,
) -> Vec<datafusion::arrow::array::ArrayRef> {
    use datafusion::arrow::array::{Array, TimestampMicrosecondArray};
    use std::sync::Arc;
    arrays
        .into_iter()
        .zip(schema.fields())
        .map(|(a, f)| match f.data_type() {
            DataType::Timestamp(_, Some(tz)) => {
                let t = a
                    .as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .expect("timestamp builder")
                    .clone()
                    .with_timezone(tz.clone());
                Arc::new(t) as Arc<dyn Array>
            }
            _ => a,
        })
        .collect()
}

macro_rules! typed {
    ($b:expr, $t:ty) => {
        $b.as_any_mut().downcast_mut::<$t>().expect("builder matches the schema")
    };
}

fn append(b: &mut dyn ArrayBuilder, c: &Cell<'_>, dt: &DataType) {
    match (c, dt) {
        (Cell::Str(v), DataType::Utf8) => typed!(b, StringBuilder).append_option(v.as_deref()),
        (Cell::Bool(v), DataType::Boolean) => typed!(b, BooleanBuilder).append_option(*v),
        (Cell::I64(v), DataType::Int64) => typed!(b, Int64Builder).append_option(*v),
        (Cell::Ts(v), DataType::Timestamp(..)) => typed!(b, TimestampMicrosecondBuilder).append_option(*v),
        (Cell::Date(v), DataType::Date32) => typed!(b, Date32Builder).append_option(*v),
        (c, dt) => panic!("row cell {c:?} does not fit column type {dt}: a collector bug"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::INGEST_LEDGER;

    #[test]
    fn builds_batches_in_the_table_schema() {
        let mut b = BatchBuilder::new(INGEST_LEDGER.schema());
        b.push(&[
            "run".into(),
            Cell::Date(Some(1)),
            "file".into(),
            "a.json".into(),
            Cell::Str(None),
            Cell::Ts(None),
            Cell::Ts(None),
            Cell::I64(Some(1)),
            Cell::I64(Some(2)),
            Cell::I64(None),
            Cell::I64(None),
            Cell::I64(None),
            Cell::I64(None),
            Cell::I64(Some(0)),
            Cell::Bool(Some(true)),
            Cell::Str(None),
            Cell::Ts(Some(5)),
            Cell::Ts(None),
        ]);
        let batch = b.finish().unwrap();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema(), INGEST_LEDGER.schema());
    }
}
