//! A physical optimizer rule: a filter's `text IN ('a', 'b', …)` over a short list of literals
//! becomes [`StringSetExpr`], which compares Arrow string views instead of hashing every value.
//!
//! Upstream: apache/datafusion#19241 (faster `IN` lists); the view-based string lists landed in
//! apache/datafusion#24088, after DataFusion 55: drop this rule when the project moves past it.
//!
//! DataFusion's `IN` hashes each row's string and compares it through a type-erased comparator
//! (its fast paths are for numbers): about 14 ns a row on this machine, the largest cost of
//! filtering the sms_voice_only_resets_from_rare_ip probe side (1.2M rows, a list of seven
//! method combinations). A string view already holds a value's length and first four bytes, and
//! all of a value of up to twelve bytes, so most rows are decided by one or two integer
//! comparisons per list item; a longer value's bytes are compared only when its length and
//! prefix match an item's.
//!
//! Only lists of up to [`MAX_ITEMS`] non-null string literals are rewritten (longer lists are
//! left to DataFusion's hash set; DataFusion itself writes lists of up to three items as `=`
//! comparisons), and only in filters: the scan keeps the original expression for pruning row
//! groups and pages.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::builder::make_view;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, GenericStringArray, OffsetSizeTrait, StringViewArray,
};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{InListExpr, Literal};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::FilterExecBuilder;

use super::rewrite_filters;

/// The longest list rewritten: each row is compared with every item in turn, so past a few
/// dozen items a hash lookup wins.
pub const MAX_ITEMS: usize = 16;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct ShortStringLists;

impl PhysicalOptimizerRule for ShortStringLists {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        rewrite_filters(plan, |filter| {
            let schema = filter.input().schema();
            let predicate = Arc::clone(filter.predicate()).transform_up(|e| {
                Ok(match StringSetExpr::from_in_list(&e, &schema)? {
                    Some(set) => Transformed::yes(Arc::new(set) as Arc<dyn PhysicalExpr>),
                    None => Transformed::no(e),
                })
            })?;
            if !predicate.transformed {
                return Ok(None);
            }
            let rebuilt = FilterExecBuilder::from(filter).with_predicate(predicate.data).build()?;
            Ok(Some(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>))
        })
    }

    fn name(&self) -> &str {
        "short_string_lists"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `expr [NOT] IN (items)` for a string-typed `expr` and non-null string items, by comparing
/// string views (see the module documentation). Null input gives null, as SQL's `IN` does when
/// the list holds no null.
#[derive(Debug, Eq)]
pub struct StringSetExpr {
    expr: Arc<dyn PhysicalExpr>,
    items: Vec<Item>,
    negated: bool,
}

// By hand: deriving them for a struct holding `Arc<dyn PhysicalExpr>` does not compile
// (rust-lang/rust#78808), as DataFusion's own expressions note.
impl PartialEq for StringSetExpr {
    fn eq(&self, other: &Self) -> bool {
        self.expr.eq(&other.expr) && self.items == other.items && self.negated == other.negated
    }
}

impl Hash for StringSetExpr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.expr.hash(state);
        self.items.hash(state);
        self.negated.hash(state);
    }
}

/// One list item: its bytes, and the view a string equal to it has (for an item of over twelve
/// bytes, only the low 64 bits, length and prefix, are its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Item {
    text: Box<str>,
    view: u128,
}

impl StringSetExpr {
    /// `expr [NOT] IN (items)`; a repeated item is kept once, where it first appears.
    pub fn new(expr: Arc<dyn PhysicalExpr>, items: &[&str], negated: bool) -> Self {
        let mut unique: Vec<Item> = Vec::with_capacity(items.len());
        for s in items {
            if !unique.iter().any(|u| &*u.text == *s) {
                unique.push(Item { text: (*s).into(), view: make_view(s.as_bytes(), 0, 0) });
            }
        }
        Self { expr, items: unique, negated }
    }

    /// The set form of an `IN` list when `e` is one this rewrites, else None.
    fn from_in_list(e: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Option<Self>> {
        let Some(in_list) = e.downcast_ref::<InListExpr>() else {
            return Ok(None);
        };
        let text = matches!(
            in_list.expr().data_type(schema)?,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        );
        if !text || in_list.list().is_empty() || in_list.list().len() > MAX_ITEMS {
            return Ok(None);
        }
        let items: Option<Vec<&str>> = in_list.list().iter().map(|item| string_literal(item)).collect();
        Ok(items.map(|items| Self::new(Arc::clone(in_list.expr()), &items, in_list.negated())))
    }

    /// Whether each value is in the set (or not, when negated); null where the value is null.
    fn contains(&self, values: &dyn Array) -> Result<BooleanArray> {
        let found = match values.data_type() {
            DataType::Utf8View => self.in_views(values.as_string_view()),
            DataType::Utf8 => self.in_strings(values.as_string::<i32>()),
            DataType::LargeUtf8 => self.in_strings(values.as_string::<i64>()),
            other => return internal_err!("{self} evaluated over {other} values"),
        };
        let found = if self.negated { !&found } else { found };
        Ok(BooleanArray::new(found, values.logical_nulls()))
    }

    fn in_views(&self, values: &StringViewArray) -> BooleanBuffer {
        let views = values.views();
        BooleanBuffer::collect_bool(values.len(), |i| {
            let view = views[i];
            self.items.iter().any(|item| {
                // Length and first four bytes first; a value of up to twelve bytes is all in its
                // view (zero-padded), a longer one is compared byte for byte.
                view as u64 == item.view as u64
                    && if item.text.len() <= 12 { view == item.view } else { values.value(i) == &*item.text }
            })
        })
    }

    fn in_strings<O: OffsetSizeTrait>(&self, values: &GenericStringArray<O>) -> BooleanBuffer {
        BooleanBuffer::collect_bool(values.len(), |i| {
            let value = values.value(i);
            self.items.iter().any(|item| value == &*item.text)
        })
    }
}

/// The string a literal holds, when it is a non-null string.
fn string_literal(e: &Arc<dyn PhysicalExpr>) -> Option<&str> {
    match e.downcast_ref::<Literal>()?.value() {
        ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => {
            Some(s)
        }
        _ => None,
    }
}

impl fmt::Display for StringSetExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        self.write_list(f)
    }
}

impl StringSetExpr {
    /// ` [NOT] IN ('a', 'b')`, quotes in items doubled: what follows the value in both forms.
    fn write_list(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} IN (", if self.negated { " NOT" } else { "" })?;
        for (i, item) in self.items.iter().enumerate() {
            write!(f, "{}'{}'", if i == 0 { "" } else { ", " }, item.text.replace('\'', "''"))?;
        }
        write!(f, ")")
    }
}

impl PhysicalExpr for StringSetExpr {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.expr.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        match self.expr.evaluate(batch)? {
            ColumnarValue::Array(values) => {
                Ok(ColumnarValue::Array(Arc::new(self.contains(&values)?) as ArrayRef))
            }
            ColumnarValue::Scalar(value) => {
                let found = self.contains(&value.to_array_of_size(1)?)?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&found, 0)?))
            }
        }
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.expr]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let [expr] = <[_; 1]>::try_from(children).map_err(|c| {
            datafusion::common::DataFusionError::Internal(format!("{self} takes one child, got {}", c.len()))
        })?;
        Ok(Arc::new(Self { expr, items: self.items.clone(), negated: self.negated }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt_sql(f)?;
        self.write_list(f)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{LargeStringArray, StringArray};
    use datafusion::arrow::datatypes::Field;
    use datafusion::physical_expr::expressions::{col, in_list, lit};

    use super::*;

    /// Items around the view's edges: empty, the four-byte prefix, twelve bytes (the longest
    /// inline value) and thirteen (the shortest out-of-line one), long values sharing a prefix.
    const ITEMS: [&str; 9] = [
        "",
        "mobi",
        "mobile_sms",
        "mobile_voice",
        "mobile_voice,",
        "mobile_sms,mobile_voice",
        "mobile_sms,mobile_voicf",
        "office_voice",
        "it's",
    ];

    /// Values that hit and nearly miss every item: each item, each one byte shorter and longer,
    /// each with its last byte changed, and nulls.
    fn values() -> Vec<Option<String>> {
        let mut v = vec![None];
        for item in ITEMS {
            v.push(Some(item.to_string()));
            v.push(Some(format!("{item}x")));
            v.push(Some(format!("x{item}")));
            if let Some((last, head)) = item.chars().last().zip(item.get(..item.len().saturating_sub(1))) {
                v.push(Some(head.to_string()));
                v.push(Some(format!("{head}{}", if last == 'z' { 'y' } else { 'z' })));
            }
            v.push(None);
        }
        v.push(Some("email".into()));
        v.push(Some("a value well past twelve bytes long".into()));
        v
    }

    fn arrays() -> Vec<ArrayRef> {
        let v = values();
        vec![
            Arc::new(StringViewArray::from_iter(v.clone())),
            Arc::new(StringArray::from_iter(v.clone())),
            Arc::new(LargeStringArray::from_iter(v)),
        ]
    }

    /// DataFusion's own `IN` over the same values: the answer to match.
    fn datafusion_in(values: &ArrayRef, items: &[&str], negated: bool) -> BooleanArray {
        let schema = Schema::new(vec![Field::new("s", values.data_type().clone(), true)]);
        let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::clone(values)]).unwrap();
        let list = items
            .iter()
            .map(|s| {
                let v = match values.data_type() {
                    DataType::Utf8View => ScalarValue::Utf8View(Some(s.to_string())),
                    DataType::LargeUtf8 => ScalarValue::LargeUtf8(Some(s.to_string())),
                    _ => ScalarValue::Utf8(Some(s.to_string())),
                };
                lit(v)
            })
            .collect();
        let expr = in_list(col("s", &schema).unwrap(), list, &negated, &schema).unwrap();
        expr.evaluate(&batch).unwrap().into_array(batch.num_rows()).unwrap().as_boolean().clone()
    }

    fn ours(values: &ArrayRef, items: &[&str], negated: bool) -> BooleanArray {
        let schema = Schema::new(vec![Field::new("s", values.data_type().clone(), true)]);
        let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::clone(values)]).unwrap();
        let expr = StringSetExpr::new(col("s", &schema).unwrap(), items, negated);
        expr.evaluate(&batch).unwrap().into_array(batch.num_rows()).unwrap().as_boolean().clone()
    }

    #[test]
    fn answers_as_datafusion_in_does_for_every_string_type() {
        let lists: [&[&str]; 4] =
            [&ITEMS, &ITEMS[2..4], &["mobile_sms,mobile_voice"], &["", "mobile_sms", "mobile_sms"]];
        for values in arrays() {
            for items in lists {
                for negated in [false, true] {
                    let expected = datafusion_in(&values, items, negated);
                    let got = ours(&values, items, negated);
                    assert_eq!(got, expected, "{} {items:?} negated={negated}", values.data_type());
                    // The values hold both answers and nulls, so the comparison means something.
                    assert!(got.true_count() > 0 && got.false_count() > 0 && got.null_count() > 0);
                }
            }
        }
    }

    #[test]
    fn a_scalar_input_gives_a_scalar_answer() {
        let schema = Schema::empty();
        let batch = RecordBatch::new_empty(Arc::new(schema));
        let set = StringSetExpr::new(lit(ScalarValue::Utf8View(Some("mobile_sms".into()))), &ITEMS, false);
        let ColumnarValue::Scalar(v) = set.evaluate(&batch).unwrap() else {
            panic!("an array for a scalar input")
        };
        assert_eq!(v, ScalarValue::Boolean(Some(true)));
        let set = StringSetExpr::new(lit(ScalarValue::Utf8View(None)), &ITEMS, true);
        let ColumnarValue::Scalar(v) = set.evaluate(&batch).unwrap() else {
            panic!("an array for a scalar input")
        };
        assert_eq!(v, ScalarValue::Boolean(None));
    }

    #[test]
    fn shows_as_sql_with_repeats_dropped_and_quotes_doubled() {
        let schema = Schema::new(vec![Field::new("method", DataType::Utf8View, true)]);
        let set = StringSetExpr::new(col("method", &schema).unwrap(), &["sms", "it's", "sms"], true);
        assert_eq!(set.to_string(), "method@0 NOT IN ('sms', 'it''s')");
        let sql = datafusion::physical_expr_common::physical_expr::fmt_sql(&set).to_string();
        assert_eq!(sql, "method NOT IN ('sms', 'it''s')");
    }
}
