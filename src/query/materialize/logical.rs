//! The logical half of `sspr.materialize_ctes`: the analyzer rule that finds the references of
//! the named CTEs and the plan node that stands for each of them (see the parent module).

use std::fmt;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNodeRecursion};
use datafusion::common::{DFSchemaRef, Result, internal_err, plan_err};
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, SubqueryAlias, UserDefinedLogicalNodeCore};
use datafusion::optimizer::AnalyzerRule;

use super::named_ctes;

/// The analyzer rule: see the parent module's documentation.
#[derive(Debug, Default)]
pub(crate) struct MaterializeCtes;

impl AnalyzerRule for MaterializeCtes {
    fn analyze(&self, plan: LogicalPlan, options: &ConfigOptions) -> Result<LogicalPlan> {
        let names = named_ctes(options);
        if names.is_empty() {
            return Ok(plan);
        }
        // Each distinct (name, body) among the references, and how often it occurs.
        let mut bodies: Vec<(String, LogicalPlan, usize)> = Vec::new();
        plan.apply_with_subqueries(|node| {
            if let Some((name, body)) = cte_reference(node, &names) {
                match bodies.iter_mut().find(|(n, b, _)| n == name && b == body) {
                    Some(seen) => seen.2 += 1,
                    None => bodies.push((name.to_string(), body.clone(), 1)),
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        for name in &names {
            if !bodies.iter().any(|(n, _, _)| n == name) {
                return plan_err!(
                    "sspr.materialize_ctes names {name:?}, but the query has no CTE of that name"
                );
            }
        }
        let shared: Vec<(String, LogicalPlan)> = bodies
            .into_iter()
            .filter(|(_, _, count)| *count > 1)
            .map(|(name, body, _)| (name, body))
            .collect();
        plan.transform_down_with_subqueries(|node| {
            let Some((name, body)) = cte_reference(&node, &names) else {
                return Ok(Transformed::no(node));
            };
            let Some(id) = shared.iter().position(|(n, b)| n == name && b == body) else {
                return Ok(Transformed::no(node));
            };
            let node_input = Arc::new(LogicalPlan::Extension(Extension {
                node: Arc::new(MaterializedCte { id, name: name.to_string(), input: body.clone() }),
            }));
            let LogicalPlan::SubqueryAlias(alias) = &node else {
                return internal_err!("a CTE reference is a SubqueryAlias");
            };
            let aliased = SubqueryAlias::try_new(node_input, alias.alias.clone())?;
            Ok(Transformed::yes(LogicalPlan::SubqueryAlias(aliased)))
        })
        .data()
    }

    fn name(&self) -> &str {
        "materialize_ctes"
    }
}

/// `(name, body)` when `node` is a reference to one of the named CTEs: DataFusion's SQL planner
/// puts each CTE reference's body under a `SubqueryAlias` named after the CTE. A table alias is
/// one over a bare table scan, and a body already under our node was done.
fn cte_reference<'a>(node: &'a LogicalPlan, names: &[String]) -> Option<(&'a str, &'a LogicalPlan)> {
    let LogicalPlan::SubqueryAlias(alias) = node else { return None };
    let name = alias.alias.table();
    let body = alias.input.as_ref();
    let wanted = names.iter().any(|n| n == name);
    let is_cte_body = !matches!(body, LogicalPlan::TableScan(_) | LogicalPlan::Extension(_));
    (wanted && is_cte_body && !body.contains_outer_reference()).then_some((name, body))
}

/// One reference of a CTE whose result is computed once (logical plan node).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Hash)]
pub(crate) struct MaterializedCte {
    /// The same for every reference with this body.
    pub(super) id: usize,
    pub(super) name: String,
    pub(super) input: LogicalPlan,
}

impl UserDefinedLogicalNodeCore for MaterializedCte {
    fn name(&self) -> &str {
        "MaterializedCte"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "MaterializedCte: cte={}", self.name)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, mut inputs: Vec<LogicalPlan>) -> Result<Self> {
        let Some(input) = inputs.pop() else {
            return internal_err!("MaterializedCte has one input");
        };
        Ok(Self { id: self.id, name: self.name.clone(), input })
    }
}
