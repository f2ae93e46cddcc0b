//! The physical half of `sspr.materialize_ctes`: the operator that computes a CTE once and streams
//! its result, its planner, and the rule that makes the references of one CTE share one
//! computation (see the parent module).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::Session;
use datafusion::common::config::ConfigOptions;
use datafusion::common::runtime::JoinSet;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, internal_err};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{LogicalPlan, UserDefinedLogicalNode};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{EmissionType, ReplaceChildrenOptions};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, displayable};
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, TryStreamExt};

use super::MaterializedCte;

/// DataFusion's physical planner, which also plans [`MaterializedCte`] nodes.
#[derive(Debug, Default)]
pub(crate) struct SsprQueryPlanner;

#[async_trait]
impl QueryPlanner for SsprQueryPlanner {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let planner = DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(CtePlanner)]);
        planner.create_physical_plan(plan, session).await
    }
}

#[derive(Debug)]
struct CtePlanner;

#[async_trait]
impl ExtensionPlanner for CtePlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(cte) = node.as_any().downcast_ref::<MaterializedCte>() else {
            return Ok(None);
        };
        let [input] = physical_inputs else {
            return internal_err!("MaterializedCte has one input");
        };
        Ok(Some(Arc::new(MaterializedCteExec::new(cte.id, Cte::new(&cte.name, Arc::clone(input)), true))))
    }
}

/// A CTE's plan and its result, computed on first use.
#[derive(Debug)]
struct Cte {
    name: String,
    input: Arc<dyn ExecutionPlan>,
    result: Mutex<Option<Computation>>,
}

/// The CTE's result: batches per partition, and the memory they are counted against.
#[derive(Debug)]
struct Computed {
    partitions: Vec<Vec<RecordBatch>>,
    _reservation: Arc<MemoryReservation>,
}

type Computation = Shared<BoxFuture<'static, std::result::Result<Arc<Computed>, Arc<DataFusionError>>>>;

impl Cte {
    fn new(name: &str, input: Arc<dyn ExecutionPlan>) -> Arc<Self> {
        Arc::new(Self { name: name.to_string(), input, result: Mutex::new(None) })
    }

    /// The computation of the result, started by the first caller and awaited by all.
    fn result(&self, ctx: &Arc<TaskContext>) -> Computation {
        let mut slot = self.result.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let start = || compute(self.name.clone(), Arc::clone(&self.input), Arc::clone(ctx)).boxed().shared();
        slot.get_or_insert_with(start).clone()
    }
}

/// Runs every partition of `input` on its own task and keeps the batches, counting them against
/// the session's memory pool (a result larger than the pool fails the query with the CTE named).
async fn compute(
    name: String,
    input: Arc<dyn ExecutionPlan>,
    ctx: Arc<TaskContext>,
) -> std::result::Result<Arc<Computed>, Arc<DataFusionError>> {
    let consumer = MemoryConsumer::new(format!("MaterializedCte[{name}]"));
    let reservation = Arc::new(consumer.register(ctx.memory_pool()));
    let partitions = input.properties().partitioning.partition_count();
    let mut tasks = JoinSet::new();
    for partition in 0..partitions {
        let stream = input.execute(partition, Arc::clone(&ctx)).map_err(Arc::new)?;
        let reservation = Arc::clone(&reservation);
        let name = name.clone();
        tasks.spawn(async move {
            let batches = stream
                .and_then(|batch| {
                    let grown = reservation.try_grow(batch.get_array_memory_size()).map_err(|e| {
                        e.context(format!(
                            "the result of CTE {name:?} (sspr.materialize_ctes) does not fit in memory"
                        ))
                    });
                    futures::future::ready(grown.map(|()| batch))
                })
                .try_collect::<Vec<_>>()
                .await?;
            Ok::<_, DataFusionError>((partition, batches))
        });
    }
    let mut out = vec![Vec::new(); partitions];
    while let Some(joined) = tasks.join_next().await {
        let (partition, batches) =
            joined.map_err(|e| DataFusionError::External(Box::new(e))).and_then(|r| r).map_err(Arc::new)?;
        out[partition] = batches;
    }
    Ok(Arc::new(Computed { partitions: out, _reservation: reservation }))
}

/// A reference to a CTE computed once: streams partition `p` of the CTE's result.
#[derive(Debug)]
struct MaterializedCteExec {
    id: usize,
    cte: Arc<Cte>,
    /// Whether this reference shows the CTE's plan as its child: the one that computes it. The
    /// others read the same result and have no child (the plan is shown and measured once).
    computes: bool,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl MaterializedCteExec {
    fn new(id: usize, cte: Arc<Cte>, computes: bool) -> Self {
        let input = cte.input.properties();
        let properties = PlanProperties::new(
            input.eq_properties.clone(),
            input.partitioning.clone(),
            EmissionType::Final,
            input.boundedness,
        );
        Self { id, cte, computes, properties: Arc::new(properties), metrics: ExecutionPlanMetricsSet::new() }
    }
}

impl MaterializedCteExec {
    /// This reference with its own computation of `input` (nothing shared, nothing computed yet).
    fn computing(&self, input: Arc<dyn ExecutionPlan>) -> Self {
        Self::new(self.id, Cte::new(&self.cte.name, input), true)
    }
}

impl DisplayAs for MaterializedCteExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        match self.computes {
            true => write!(f, "MaterializedCteExec: cte={}", self.cte.name),
            false => write!(f, "MaterializedCteExec: cte={}, reads the result computed above", self.cte.name),
        }
    }
}

impl ExecutionPlan for MaterializedCteExec {
    fn name(&self) -> &str {
        "MaterializedCteExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true; self.children().len()]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        if self.computes { vec![&self.cte.input] } else { Vec::new() }
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    /// A new child means a new computation; a reader (no child) stays as it is.
    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (self.computes, children.pop()) {
            (true, Some(input)) if children.is_empty() => Ok(Arc::new(self.computing(input))),
            (false, None) => Ok(self),
            _ => internal_err!("MaterializedCteExec: wrong number of children"),
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        use datafusion::physical_plan::execution_plan::ChildrenPropertiesMode;
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
    }

    /// Forgets the result: each reference computes it again on its own (sharing is set up once,
    /// by [`ShareMaterializedCtes`]).
    fn reset_state(self: Arc<Self>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(self.computing(Arc::clone(&self.cte.input))))
    }

    fn execute(&self, partition: usize, ctx: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let partitions = self.properties.partitioning.partition_count();
        if partition >= partitions {
            return internal_err!("MaterializedCteExec: partition {partition} of {partitions}");
        }
        let result = self.cte.result(&ctx);
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let batches = futures::stream::once(async move {
            let computed = result.await.map_err(DataFusionError::Shared)?;
            let batches = computed.partitions[partition].clone();
            Ok::<_, DataFusionError>(futures::stream::iter(batches.into_iter().map(Ok)))
        })
        .try_flatten()
        .inspect_ok(move |batch| {
            metrics.output_batches().add(1);
            metrics.record_output(batch.num_rows());
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema(), batches)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// The physical rule that makes references with the same id share one computation (see the parent
/// module's documentation). Runs last, when nothing rewrites the plan below it any more.
#[derive(Debug, Default)]
pub(crate) struct ShareMaterializedCtes;

impl PhysicalOptimizerRule for ShareMaterializedCtes {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // Each id's inputs as planned; shared only when they are all the same plan.
        let mut inputs: HashMap<usize, Vec<String>> = HashMap::new();
        plan.apply(|node| {
            if let Some(exec) = node.downcast_ref::<MaterializedCteExec>() {
                let shown = displayable(exec.cte.input.as_ref()).indent(true).to_string();
                inputs.entry(exec.id).or_default().push(shown);
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        let shared: HashSet<usize> = inputs
            .into_iter()
            .filter(|(_, shown)| shown.len() > 1 && shown.iter().all(|s| *s == shown[0]))
            .map(|(id, _)| id)
            .collect();
        let mut computed_by: HashMap<usize, Arc<Cte>> = HashMap::new();
        plan.transform_up(|node| {
            let Some(exec) = node.downcast_ref::<MaterializedCteExec>() else {
                return Ok(Transformed::no(node));
            };
            if !shared.contains(&exec.id) {
                return Ok(Transformed::yes(Arc::clone(&exec.cte.input)));
            }
            let shared_exec = match computed_by.get(&exec.id) {
                Some(cte) => MaterializedCteExec::new(exec.id, Arc::clone(cte), false),
                None => {
                    computed_by.insert(exec.id, Arc::clone(&exec.cte));
                    MaterializedCteExec::new(exec.id, Arc::clone(&exec.cte), true)
                }
            };
            Ok(Transformed::yes(Arc::new(shared_exec) as Arc<dyn ExecutionPlan>))
        })
        .data()
    }

    fn name(&self) -> &str {
        "share_materialized_ctes"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
