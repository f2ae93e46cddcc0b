//! The optimizer rule that puts a scalar subquery's answer into filters when the files'
//! statistics already gave it (`src/query/known_subquery.rs`): the scan then reads only the latest
//! snapshot, and no answer changes.

use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::{collect, displayable};
use datafusion::prelude::SessionContext;
use sspr_analytics::query::context::{QueryConfig, build_context};

use crate::util::batches_json;

/// The answer, the physical plan's text and the rows the Parquet scans produced.
async fn run(ctx: &SessionContext, sql: &str) -> (Vec<serde_json::Value>, String, usize) {
    let plan = ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap();
    let batches = collect(Arc::clone(&plan), ctx.task_ctx()).await.unwrap();
    let mut scanned = 0;
    plan.apply(|node| {
        if node.downcast_ref::<DataSourceExec>().is_some() {
            scanned += node.metrics().and_then(|m| m.output_rows()).unwrap_or(0);
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .unwrap();
    let text = displayable(plan.as_ref()).indent(true).to_string();
    (batches_json(&batches), text, scanned)
}

#[tokio::test]
async fn a_subquery_answered_by_statistics_prunes_the_scan_and_answers_do_not_change() {
    if crate::util::skip_without_extensions() {
        return;
    }
    let (_d, lake) = crate::util::shared_lake().await;
    let ctx = build_context(&lake, &QueryConfig::default()).await.unwrap();
    let snapshots = crate::util::sql_rows(
        &lake,
        "SELECT CAST(snapshot_date AS STRING) AS d, count(*) AS n FROM registration_details \
         GROUP BY snapshot_date ORDER BY snapshot_date",
    )
    .await;
    assert!(snapshots.len() >= 2, "the sample needs two registration snapshots: {snapshots:?}");
    let latest = snapshots.last().unwrap();
    let (latest_date, latest_rows) = (latest["d"].as_str().unwrap(), latest["n"].as_u64().unwrap() as usize);
    let all_rows: u64 = snapshots.iter().map(|s| s["n"].as_u64().unwrap()).sum();

    let body = "SELECT count(*) AS n, sum(CASE WHEN is_sspr_capable THEN 1 ELSE 0 END) AS capable \
                FROM registration_details WHERE snapshot_date = ";
    // The answer with the date written out: what the rule must reproduce.
    let (want, _, _) = run(&ctx, &format!("{body} DATE '{latest_date}'")).await;
    assert_eq!(want[0]["n"].as_u64(), Some(latest_rows as u64));

    // max(snapshot_date) comes from the partition values: the filter gets the date as a literal,
    // the subquery leaves the plan and the scan reads only the latest snapshot's rows.
    let (got, plan, scanned) =
        run(&ctx, &format!("{body} (SELECT max(snapshot_date) FROM registration_details)")).await;
    assert_eq!(got, want);
    assert!(!plan.contains("ScalarSubqueryExec") && !plan.contains("scalar_subquery"), "{plan}");
    let scan = plan.lines().find(|l| l.contains("DataSourceExec")).unwrap_or_default();
    assert!(
        scan.contains(&format!(" = {latest_date}")) && scan.contains("predicate=snapshot_date@"),
        "{plan}"
    );
    assert_eq!(scanned, latest_rows, "{plan}");

    // A subquery the statistics cannot answer still runs as DataFusion plans it, and reads all.
    let (got, plan, scanned) = run(
        &ctx,
        &format!("{body} (SELECT max(snapshot_date) FROM registration_details WHERE user_id <> '')"),
    )
    .await;
    assert_eq!(got, want);
    assert!(plan.contains("ScalarSubqueryExec"), "{plan}");
    assert!(scanned as u64 >= all_rows, "{scanned} rows scanned: {plan}");

    // The same answer read outside a filter as well: the select list keeps reading it from the
    // subquery, which therefore stays, and both uses agree.
    let (got, _, _) = run(
        &ctx,
        "SELECT CAST((SELECT max(snapshot_date) FROM registration_details) AS STRING) AS d, count(*) AS n \
         FROM registration_details WHERE snapshot_date = (SELECT max(snapshot_date) FROM registration_details)",
    )
    .await;
    assert_eq!(got, vec![serde_json::json!({"d": latest_date, "n": latest_rows})]);

    // A filter comparing against a different type gets the literal in the type it was planned
    // for (here the date compared as a timestamp).
    let (got, _, _) = run(
        &ctx,
        "SELECT count(*) AS n FROM registration_details \
         WHERE CAST(snapshot_date AS TIMESTAMP) = (SELECT CAST(max(snapshot_date) AS TIMESTAMP) FROM registration_details)",
    )
    .await;
    assert_eq!(got, vec![serde_json::json!({"n": latest_rows})]);
}
