//! A physical optimizer rule: a filter's scalar subquery whose answer the files' statistics
//! already gave becomes a literal, so that the scans below it can prune with it. No upstream
//! issue was found for it; it is off with the other extensions (`[query] extensions`).
//!
//! The coverage reports read the latest snapshot as
//! `WHERE snapshot_date = (SELECT max(snapshot_date) FROM registration_details)`, the portable way
//! to say it. DataFusion answers that `max` from the partition values without reading a row (its
//! `AggregateStatistics` rule leaves a one-row projection of a literal), but the filter still
//! holds a `ScalarSubqueryExpr`: a slot filled when the query runs. Parquet pruning cannot fold a
//! slot, so every snapshot file was read and all but one of them filtered away row by row. With
//! the literal in its place, the scan skips the other snapshots' files before reading them.
//!
//! What makes it safe: only a subquery whose plan is literals projected over DataFusion's one-row
//! placeholder is replaced, and only inside filters (their output schema does not change). A
//! reference elsewhere keeps reading the slot, and the subquery stays in the plan to fill it.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::physical_planning_context::ScalarSubqueryResults;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{Literal, lit};
use datafusion::physical_expr::scalar_subquery::ScalarSubqueryExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::placeholder_row::PlaceholderRowExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::scalar_subquery::{ScalarSubqueryExec, ScalarSubqueryLink};

/// See the module documentation. Runs right after DataFusion's `AggregateStatistics` (which
/// answers the subqueries) and before `FilterPushdown` (which hands filters to the scans).
#[derive(Debug, Default)]
pub(crate) struct InlineKnownSubqueries;

impl PhysicalOptimizerRule for InlineKnownSubqueries {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(inline).data()
    }

    fn name(&self) -> &str {
        "inline_known_subqueries"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The subquery node with the known answers put into the filters of its input; without the
/// subqueries nothing reads any more, and without the node when none is left.
fn inline(node: Arc<dyn ExecutionPlan>) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    let Some(exec) = node.downcast_ref::<ScalarSubqueryExec>() else {
        return Ok(Transformed::no(node));
    };
    let results = exec.results();
    let slots: Vec<Arc<dyn PhysicalExpr>> =
        exec.subqueries().iter().map(|link| slot(results, link)).collect();
    let known: Vec<(Arc<dyn PhysicalExpr>, ScalarValue)> = exec
        .subqueries()
        .iter()
        .zip(&slots)
        .filter_map(|(link, slot)| Some((Arc::clone(slot), known_value(&link.plan)?)))
        .collect();
    if known.is_empty() {
        return Ok(Transformed::no(node));
    }
    let input = Arc::clone(exec.input())
        .transform_up(|node| {
            let Some(filter) = node.downcast_ref::<FilterExec>() else {
                return Ok(Transformed::no(node));
            };
            let predicate = replace_slots(filter.predicate(), &known)?;
            if !predicate.transformed {
                return Ok(Transformed::no(node));
            }
            let rebuilt = FilterExecBuilder::from(filter).with_predicate(predicate.data).build()?;
            Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>))
        })
        .data()?;
    let mut still_read = Vec::new();
    for (link, slot) in exec.subqueries().iter().zip(&slots) {
        if reads(&input, slot)? {
            still_read.push(link.clone());
        }
    }
    if still_read.is_empty() {
        return Ok(Transformed::yes(input));
    }
    Ok(Transformed::yes(Arc::new(ScalarSubqueryExec::new(input, still_read, results.clone()))))
}

/// An expression equal to every `ScalarSubqueryExpr` reading this link's slot (equality is the
/// shared container and the slot index; type and nullability do not take part).
fn slot(results: &ScalarSubqueryResults, link: &ScalarSubqueryLink) -> Arc<dyn PhysicalExpr> {
    Arc::new(ScalarSubqueryExpr::new(DataType::Null, true, link.index, results.clone()))
}

/// The subquery's answer when its plan is one literal projected over the one-row placeholder.
fn known_value(plan: &Arc<dyn ExecutionPlan>) -> Option<ScalarValue> {
    let projection = plan.downcast_ref::<ProjectionExec>()?;
    let [only] = projection.expr() else { return None };
    projection.input().downcast_ref::<PlaceholderRowExec>()?;
    Some(only.expr.downcast_ref::<Literal>()?.value().clone())
}

fn replace_slots(
    predicate: &Arc<dyn PhysicalExpr>,
    known: &[(Arc<dyn PhysicalExpr>, ScalarValue)],
) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
    Arc::clone(predicate).transform_up(|e| {
        let Some((_, value)) = known.iter().find(|(s, _)| s.as_ref() == e.as_ref()) else {
            return Ok(Transformed::no(e));
        };
        // The literal takes the type the expression around it was planned for.
        let want = e.return_field(&Schema::empty())?.data_type().clone();
        let value = if value.data_type() == want { value.clone() } else { value.cast_to(&want)? };
        Ok(Transformed::yes(lit(value)))
    })
}

/// Whether any expression of the plan still reads the slot.
fn reads(plan: &Arc<dyn ExecutionPlan>, slot: &Arc<dyn PhysicalExpr>) -> Result<bool> {
    let mut found = false;
    plan.apply(|node| {
        node.apply_expressions(&mut |root| {
            root.apply(|e| {
                found |= e.as_ref() == slot.as_ref();
                Ok(if found { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
            })
        })
    })?;
    Ok(found)
}
