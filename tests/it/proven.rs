//! The optimizer rule that drops the parts of a scan's filter the files' statistics prove true
//! (`src/query/proven.rs`): it drops exactly those, and no answer changes.

use sspr_analytics::query::context::{QueryConfig, build_context};

use crate::util::{batches_json, datafusion_alone, plan_lines};

#[tokio::test]
async fn filters_proven_by_statistics_are_dropped_and_answers_do_not_change() {
    if crate::util::skip_without_extensions() {
        return;
    }
    let (_d, lake) = crate::util::shared_lake().await;
    let ours = build_context(&lake, &QueryConfig::default()).await.unwrap();
    // DataFusion without the rule, over the same files.
    let plain = datafusion_alone(&lake, "reset_attempts").await;
    let bounds = batches_json(
        &plain
            .sql("SELECT CAST(min(started_at) AS STRING) AS lo, CAST(max(started_at) AS STRING) AS hi FROM reset_attempts")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    let (lo, hi) = (bounds[0]["lo"].as_str().unwrap(), bounds[0]["hi"].as_str().unwrap());
    // Literals of the columns' own type (µs, UTC), as bound saved-query parameters are.
    let ts = |t: &str| format!("arrow_cast('{t}', 'Timestamp(µs, \"UTC\")')");

    // (filter, whether the rule may drop the time comparison)
    let cases = [
        (
            format!(
                "started_at >= {} AND started_at < {}",
                ts("1970-01-01T00:00:00"),
                ts("9999-12-31T00:00:00")
            ),
            true,
        ),
        (format!("started_at >= {}", ts(lo)), true),
        (format!("started_at > {}", ts(lo)), false),
        (format!("started_at <= {}", ts(hi)), true),
        (format!("started_at < {}", ts(hi)), false),
        (format!("{} <= started_at", ts(lo)), true),
        // Nullable: nulls fail any comparison, so statistics never prove it.
        (format!("ended_at >= {}", ts("1970-01-01T00:00:00")), false),
        // Strings: Parquet may shorten their min/max, so they are never used.
        ("client_kind >= ''".to_string(), false),
    ];
    for (filter, droppable) in cases {
        let sql = format!(
            "SELECT count(*) AS n, count(ended_at) AS ended, sum(events) AS events FROM reset_attempts \
             WHERE initiated_by = 'self' AND {filter}"
        );
        let got = batches_json(&ours.sql(&sql).await.unwrap().collect().await.unwrap());
        let want = batches_json(&plain.sql(&sql).await.unwrap().collect().await.unwrap());
        assert_eq!(got, want, "answers differ for {filter}");
        let (filter_line, scan_line) = plan_lines(&ours, &sql).await;
        let column = if filter.contains("ended_at") {
            "ended_at@"
        } else if filter.contains("client_kind") {
            "client_kind@"
        } else {
            "started_at@"
        };
        assert_eq!(!filter_line.contains(column), droppable, "{filter}: {filter_line}");
        // The scan's own predicate (pruning files, row groups and pages) loses it too, and keeps
        // the rest.
        let predicate =
            scan_line.split(" predicate=").nth(1).and_then(|p| p.split(", pruning_predicate").next());
        let predicate = predicate.unwrap_or_else(|| panic!("no predicate in {scan_line}"));
        assert!(predicate.contains("initiated_by@"), "{filter}: {scan_line}");
        if droppable || column == "started_at@" {
            assert_eq!(!predicate.contains(column), droppable, "{filter}: {scan_line}");
        }
        if droppable {
            // The column only the dropped comparison used is not read any more.
            let projection = scan_line.split("projection=[").nth(1).and_then(|p| p.split(']').next());
            let projection = projection.unwrap_or_else(|| panic!("no projection in {scan_line}"));
            assert!(!projection.split(", ").any(|c| c == "started_at"), "{filter}: {scan_line}");
        }
    }

    // A narrowed filter keeps what else it carried: here the LIMIT pushed into it.
    let sql = format!(
        "SELECT correlation_id, outcome FROM reset_attempts WHERE initiated_by = 'self' AND started_at >= {} LIMIT 3",
        ts(lo)
    );
    let (filter_line, scan_line) = plan_lines(&ours, &sql).await;
    assert!(!filter_line.contains("started_at@") && filter_line.contains("fetch=3"), "{filter_line}");
    assert!(
        !scan_line.contains("projection=[started_at") && !scan_line.contains(", started_at,"),
        "{scan_line}"
    );
    assert_eq!(ours.sql(&sql).await.unwrap().count().await.unwrap(), 3);
}
