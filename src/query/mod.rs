//! The query layer: the one `SessionContext` builder and the saved-query registry.

pub mod build;
pub(crate) mod completeness;
pub(crate) mod consistent;
pub mod context;
mod functions;
mod inline_reads;
mod known_subquery;
mod materialize;
pub mod params;
mod percentile;
mod proven;
pub mod saved;
mod session_parquet;

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::FilterExec;

/// The plan with every filter that `rewrite` has a replacement for replaced (bottom up): the
/// walk our filter rules (`proven.rs`) use.
fn rewrite_filters(
    plan: Arc<dyn ExecutionPlan>,
    rewrite: impl Fn(&FilterExec) -> Result<Option<Arc<dyn ExecutionPlan>>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        let Some(filter) = node.downcast_ref::<FilterExec>() else {
            return Ok(Transformed::no(node));
        };
        Ok(match rewrite(filter)? {
            Some(plan) => Transformed::yes(plan),
            None => Transformed::no(node),
        })
    })
    .data()
}
