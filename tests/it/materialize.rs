//! `sspr.materialize_ctes` (`src/query/materialize/`): a named CTE referenced several times is
//! computed once, its tables are scanned once, and no answer changes.

use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::{collect, displayable};
use sspr_analytics::query::context::{QueryConfig, build_context};
use sspr_analytics::store::Lake;

use crate::util::batches_json;

/// What one run of `sql` gave: the answer, the physical plan's text, how many Parquet scans the
/// plan has and how many rows they produced.
struct Run {
    rows: Vec<serde_json::Value>,
    plan: String,
    scans: usize,
    scanned: usize,
}

/// Runs `sql` in a fresh session with `sspr.materialize_ctes` set to `ctes` (set with SQL `SET`,
/// as an analyst would), or not set when `ctes` is empty.
async fn run(lake: &Lake, cfg: &QueryConfig, ctes: &str, sql: &str) -> datafusion::error::Result<Run> {
    let ctx = build_context(lake, cfg).await.unwrap();
    if !ctes.is_empty() {
        ctx.sql(&format!("SET sspr.materialize_ctes = '{ctes}'")).await?;
    }
    let plan = ctx.sql(sql).await?.create_physical_plan().await?;
    let batches = collect(Arc::clone(&plan), ctx.task_ctx()).await?;
    let (mut scans, mut scanned) = (0, 0);
    plan.apply(|node| {
        if node.downcast_ref::<DataSourceExec>().is_some() {
            scans += 1;
            scanned += node.metrics().and_then(|m| m.output_rows()).unwrap_or(0);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let plan_text = displayable(plan.as_ref()).indent(true).to_string();
    Ok(Run { rows: batches_json(&batches), plan: plan_text, scans, scanned })
}

/// The same query inlined (DataFusion's way) and materialized: same answer, one scan instead of
/// `inlined_scans`, and the rows of one scan instead of all of them (of at most all of them when
/// each reference has its own filter, which the inlined scans may use to prune).
async fn same_answer_one_computation(
    lake: &Lake,
    ctes: &str,
    sql: &str,
    inlined_scans: usize,
    own_filters: bool,
) {
    let cfg = QueryConfig::default();
    let inlined = run(lake, &cfg, "", sql).await.unwrap();
    let once = run(lake, &cfg, ctes, sql).await.unwrap();
    assert!(!inlined.rows.is_empty(), "the sample must give this query rows: {sql}");
    assert_eq!(once.rows, inlined.rows, "{sql}\n{}", once.plan);
    assert_eq!(inlined.scans, inlined_scans, "{}", inlined.plan);
    assert!(!inlined.plan.contains("MaterializedCteExec"), "{}", inlined.plan);
    assert_eq!(once.scans, 1, "{}", once.plan);
    match own_filters {
        false => assert_eq!(once.scanned * inlined_scans, inlined.scanned, "{}", once.plan),
        true => assert!(once.scanned > 0 && once.scanned < inlined.scanned, "{}", once.plan),
    }
    // Every reference but the first of each CTE reads the first one's result.
    let references = once.plan.matches("MaterializedCteExec: cte=").count();
    let reads = once.plan.matches("reads the result computed above").count();
    assert!(reads >= 1 && references > reads, "{}", once.plan);
}

#[tokio::test]
async fn a_cte_joined_with_itself_is_scanned_once() {
    if crate::util::skip_without_extensions() {
        return;
    }
    let (_d, lake) = crate::util::shared_lake().await;
    // The shape of bulk_admin_resets: a selective filter, then the CTE joined with itself on a
    // time range.
    let sql = "WITH a AS (SELECT activity, target_upn, activity_time FROM audit_events \
                          WHERE lower(coalesce(result, '')) = 'success') \
               SELECT x.activity, count(*) AS pairs \
               FROM a x JOIN a y ON y.activity = x.activity AND y.activity_time >= x.activity_time \
                AND y.activity_time < x.activity_time + INTERVAL '1 hour' \
               GROUP BY x.activity ORDER BY x.activity";
    same_answer_one_computation(&lake, "a", sql, 2, false).await;
}

#[tokio::test]
async fn references_in_subqueries_with_their_own_filters_read_the_one_result() {
    if crate::util::skip_without_extensions() {
        return;
    }
    let (_d, lake) = crate::util::shared_lake().await;
    // Each reference filters differently: the filters stay above the shared result instead of
    // going into two different scans.
    let sql = "WITH a AS (SELECT activity, result FROM audit_events) \
               SELECT (SELECT count(*) FROM a WHERE activity LIKE 'Reset%') AS resets, \
                      (SELECT count(*) FROM a WHERE activity NOT LIKE 'Reset%') AS others, \
                      (SELECT count(*) FROM a WHERE result IS NULL) AS no_result";
    same_answer_one_computation(&lake, "a", sql, 3, true).await;
}

#[tokio::test]
async fn nested_materialized_ctes_compute_each_once() {
    if crate::util::skip_without_extensions() {
        return;
    }
    let (_d, lake) = crate::util::shared_lake().await;
    let sql = "WITH a AS (SELECT activity, count(*) AS n FROM audit_events GROUP BY activity), \
                    b AS (SELECT x.activity, x.n + y.n AS twice FROM a x JOIN a y ON x.activity = y.activity) \
               SELECT p.activity, p.twice, q.twice AS again \
               FROM b p JOIN b q ON p.activity = q.activity ORDER BY p.activity";
    same_answer_one_computation(&lake, "a b", sql, 4, false).await;
    // Only the outer one named: its two references share one computation of b, which scans
    // twice (a inlined in it).
    let cfg = QueryConfig::default();
    let outer = run(&lake, &cfg, "b", sql).await.unwrap();
    assert_eq!(outer.scans, 2, "{}", outer.plan);
    assert_eq!(outer.rows, run(&lake, &cfg, "", sql).await.unwrap().rows);
}

#[tokio::test]
async fn a_cte_referenced_once_keeps_its_streaming_plan() {
    let (_d, lake) = crate::util::shared_lake().await;
    let sql = "WITH a AS (SELECT activity FROM audit_events WHERE activity LIKE 'Reset%') \
               SELECT activity, count(*) AS n FROM a GROUP BY activity ORDER BY activity";
    let cfg = QueryConfig::default();
    let once = run(&lake, &cfg, "a", sql).await.unwrap();
    assert!(!once.plan.contains("MaterializedCteExec"), "{}", once.plan);
    assert_eq!(once.rows, run(&lake, &cfg, "", sql).await.unwrap().rows);
    assert!(!once.rows.is_empty());
}

#[tokio::test]
async fn a_misspelt_cte_name_is_an_error_that_names_it() {
    if crate::util::skip_without_extensions() {
        return;
    }
    let (_d, lake) = crate::util::shared_lake().await;
    let sql =
        "WITH a AS (SELECT activity FROM audit_events) SELECT count(*) FROM a x JOIN a y USING (activity)";
    let err = run(&lake, &QueryConfig::default(), "a_typo", sql).await.err().expect("an unknown CTE name");
    let msg = err.to_string();
    assert!(msg.contains("sspr.materialize_ctes") && msg.contains("\"a_typo\""), "{msg}");
    // A table alias is not a CTE: naming one is the same mistake.
    let sql = "SELECT count(*) FROM audit_events a JOIN audit_events b USING (id)";
    let err = run(&lake, &QueryConfig::default(), "a", sql).await.err().expect("a table alias");
    assert!(err.to_string().contains("no CTE of that name"), "{err}");
}

#[tokio::test]
async fn a_result_larger_than_the_memory_limit_fails_the_query_naming_the_cte() {
    if crate::util::skip_without_extensions() {
        return;
    }
    let (_d, lake) = crate::util::shared_lake().await;
    let cfg = QueryConfig { memory_limit: 64 * 1024, ..QueryConfig::default() };
    let sql = "WITH a AS (SELECT * FROM audit_events) \
               SELECT count(*) AS n FROM a UNION ALL SELECT count(*) AS n FROM a";
    let err = run(&lake, &cfg, "a", sql).await.err().expect("the result does not fit in 64 KiB");
    let msg = err.to_string();
    assert!(msg.contains("the result of CTE \"a\"") && msg.contains("does not fit in memory"), "{msg}");
    // Without materializing, the same query streams within the same limit.
    let streamed = run(&lake, &cfg, "", sql).await.unwrap();
    assert_eq!(streamed.rows.len(), 2);
}
