//! A physical optimizer rule: drop the parts of a scan's filter that the files' own statistics
//! prove true for every row, and stop reading the columns only those parts needed. No upstream
//! issue was found for it; it is off with the other extensions (`[query] extensions`).
//!
//! Every report takes a time window (`started_at >= $from AND started_at < $to`), and by default
//! the window is unbounded (1970-01-01 to 9999-12-31). DataFusion still reads and decodes the time
//! column of every row to compare it with both bounds: a quarter of a small report's time. When
//! the Parquet footers of all files under a scan show the column has no nulls and its minimum and
//! maximum already satisfy a bound, that comparison cannot remove a row, so it is dropped, from
//! the filter and from the scan's own predicate (which each file opened turns into pruning
//! predicates and evaluates on its footer and page index); the rest stays. A column the report
//! itself does not use then leaves the scan.
//!
//! What makes it safe: only a `column <op> literal` comparison directly above a Parquet scan is
//! considered, only for integer, date and timestamp columns (Parquet never truncates their
//! min/max, unlike long strings), and only when the scan knows the bounds of every file it reads.
//! DataFusion labels those bounds "inexact" as soon as the scan carries a pruning predicate,
//! because the row count may shrink; a subset of rows stays within the bounds of the whole, so
//! the label is accepted here for bounds and for a null count of zero.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{ColumnStatistics, Result, ScalarValue};
use datafusion::datasource::physical_plan::{
    FileScanConfig, FileScanConfigBuilder, FileSource, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal, lit};
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::{PhysicalExpr, conjunction, split_conjunction};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::{ExecutionPlan, StatisticsArgs, StatisticsContext};

use super::rewrite_filters;

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct DropProvenFilters;

impl PhysicalOptimizerRule for DropProvenFilters {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        rewrite_filters(plan, without_proven)
    }

    fn name(&self) -> &str {
        "drop_proven_filters"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The filter without its proven parts (and its scan without the columns only they read), or
/// None when nothing is proven.
fn without_proven(filter: &FilterExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    // Directly over a Parquet scan: its statistics are the files' own footers.
    let scan = filter.input();
    let found =
        scan.downcast_ref::<DataSourceExec>().and_then(|s| s.downcast_to_file_source::<ParquetSource>());
    let Some((config, parquet)) = found else {
        return Ok(None);
    };
    let stats = StatisticsContext::new().compute(scan.as_ref(), &StatisticsArgs::new())?;
    let (proven, kept): (Vec<_>, Vec<_>) = split_conjunction(filter.predicate())
        .into_iter()
        .partition(|p| proven_true(p, &stats.column_statistics));
    if proven.is_empty() {
        return Ok(None);
    }
    let kept: Vec<Arc<dyn PhysicalExpr>> = kept.into_iter().map(Arc::clone).collect();
    // The scan no longer prunes files and pages by them either: each file opened built and
    // evaluated its pruning predicates with them (a third of a 14-file scan's opening time).
    let scan = &without_proven_in_scan(config, parquet, &proven).unwrap_or_else(|| Arc::clone(scan));
    // An all-true predicate keeps the filter (and its projection); the filter then passes whole
    // batches through without copying them.
    let predicate = if kept.is_empty() { lit(true) } else { conjunction(kept) };

    // The scan's columns still needed: the remaining predicate's and the filter's output.
    let width = scan.schema().fields().len();
    let output: Vec<usize> = match filter.projection() {
        Some(p) => p.to_vec(),
        None => (0..width).collect(),
    };
    let mut needed: BTreeSet<usize> = output.iter().copied().collect();
    needed.extend(collect_columns(&predicate).iter().map(Column::index));
    // The same filter (fetch, selectivity, batch size, projection) with the new predicate, over
    // the same scan or, below, a narrower one.
    let same =
        FilterExecBuilder::from(filter).with_input(Arc::clone(scan)).with_predicate(Arc::clone(&predicate));
    let narrowed = if needed.is_empty() || needed.len() == width { None } else { narrow(scan, &needed)? };
    let Some(narrow) = narrowed else {
        return Ok(Some(Arc::new(same.build()?)));
    };
    // Column indices of the old scan's output, renumbered to the narrow scan's.
    let position = |old: usize| needed.iter().position(|&n| n == old);
    let predicate = predicate
        .transform_up(|e| {
            let renumbered =
                e.downcast_ref::<Column>().and_then(|c| Some(Column::new(c.name(), position(c.index())?)));
            Ok(match renumbered {
                Some(c) => Transformed::yes(Arc::new(c) as Arc<dyn PhysicalExpr>),
                None => Transformed::no(e),
            })
        })
        .data()?;
    // Every output column is in `needed`, so each has a position.
    let remapped: Option<Vec<usize>> = output.iter().map(|&o| position(o)).collect();
    let rebuilt = same
        .apply_projection(None)?
        .with_input(narrow)
        .with_predicate(predicate)
        .apply_projection(remapped)?
        .build()?;
    Ok(Some(Arc::new(rebuilt)))
}

/// The Parquet scan without the parts of its own predicate (which names columns by the table's
/// schema, not the scan's output) that compare as one of `proven` does; None when it has none.
fn without_proven_in_scan(
    config: &FileScanConfig,
    parquet: &ParquetSource,
    proven: &[&Arc<dyn PhysicalExpr>],
) -> Option<Arc<dyn ExecutionPlan>> {
    let predicate = parquet.filter()?;
    let same = |a: &Arc<dyn PhysicalExpr>, b: &Arc<dyn PhysicalExpr>| match (comparison(a), comparison(b)) {
        (Some((c1, op1, v1)), Some((c2, op2, v2))) => c1.name() == c2.name() && op1 == op2 && v1 == v2,
        _ => false,
    };
    let parts = split_conjunction(&predicate);
    let kept: Vec<Arc<dyn PhysicalExpr>> =
        parts.iter().filter(|p| !proven.iter().any(|q| same(p, q))).map(|p| Arc::clone(*p)).collect();
    if kept.len() == parts.len() {
        return None;
    }
    // A literal `true` leaves the files with no pruning predicate at all.
    let source = parquet.with_predicate(if kept.is_empty() { lit(true) } else { conjunction(kept) });
    let config = FileScanConfigBuilder::from(config.clone()).with_source(Arc::new(source)).build();
    Some(DataSourceExec::from_data_source(config))
}

/// The scan reading only the `needed` columns of its output (in order), when it can take the
/// projection.
fn narrow(scan: &Arc<dyn ExecutionPlan>, needed: &BTreeSet<usize>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let schema = scan.schema();
    let columns: Vec<(Arc<dyn PhysicalExpr>, String)> = needed
        .iter()
        .map(|&i| {
            let name = schema.field(i).name().clone();
            (Arc::new(Column::new(&name, i)) as Arc<dyn PhysicalExpr>, name)
        })
        .collect();
    let projection = ProjectionExec::try_new(columns, Arc::clone(scan))?;
    scan.try_swapping_with_projection(&projection)
}

/// `column <op> literal`, with `literal <op> column` turned round; None for any other expression.
fn comparison(expr: &Arc<dyn PhysicalExpr>) -> Option<(&Column, Operator, &ScalarValue)> {
    let binary = expr.downcast_ref::<BinaryExpr>()?;
    match (column_of(binary.left()), literal_of(binary.right())) {
        (Some(c), Some(v)) => Some((c, *binary.op(), v)),
        // `literal <op> column` is `column <swapped op> literal`.
        _ => Some((column_of(binary.right())?, binary.op().swap()?, literal_of(binary.left())?)),
    }
}

/// Whether `expr` is a comparison of a column with a literal that the column's statistics
/// (no nulls, min, max) make true for every row.
fn proven_true(expr: &Arc<dyn PhysicalExpr>, columns: &[ColumnStatistics]) -> bool {
    let Some((column, op, value)) = comparison(expr) else {
        return false;
    };
    let Some(stats) = columns.get(column.index()) else {
        return false;
    };
    let (Some(nulls), Some(min), Some(max)) =
        (stats.null_count.get_value(), stats.min_value.get_value(), stats.max_value.get_value())
    else {
        return false;
    };
    if *nulls != 0 || min.is_null() || max.is_null() || value.is_null() || !untruncated(min) {
        return false;
    }
    // Only values of one type compare (timestamps of one unit whatever their zone label).
    if min.data_type() != value.data_type() && !same_timestamp_unit(min, value) {
        return false;
    }
    let (lo, hi) = (min.partial_cmp(value), max.partial_cmp(value));
    match op {
        Operator::GtEq => matches!(lo, Some(Ordering::Greater | Ordering::Equal)),
        Operator::Gt => lo == Some(Ordering::Greater),
        Operator::LtEq => matches!(hi, Some(Ordering::Less | Ordering::Equal)),
        Operator::Lt => hi == Some(Ordering::Less),
        _ => false,
    }
}

/// Types whose Parquet min/max are the values themselves, never shortened.
fn untruncated(v: &ScalarValue) -> bool {
    use datafusion::arrow::datatypes::DataType as T;
    matches!(
        v.data_type(),
        T::Int8
            | T::Int16
            | T::Int32
            | T::Int64
            | T::UInt8
            | T::UInt16
            | T::UInt32
            | T::UInt64
            | T::Date32
            | T::Date64
            | T::Timestamp(_, _)
    )
}

/// Timestamps of one unit compare by value whatever their zone label (`UTC` vs `+00:00`): both
/// count from the epoch.
fn same_timestamp_unit(a: &ScalarValue, b: &ScalarValue) -> bool {
    use datafusion::arrow::datatypes::DataType::Timestamp;
    matches!((a.data_type(), b.data_type()), (Timestamp(u1, _), Timestamp(u2, _)) if u1 == u2)
}

fn column_of(expr: &Arc<dyn PhysicalExpr>) -> Option<&Column> {
    expr.downcast_ref::<Column>()
}

fn literal_of(expr: &Arc<dyn PhysicalExpr>) -> Option<&ScalarValue> {
    expr.downcast_ref::<Literal>().map(Literal::value)
}
