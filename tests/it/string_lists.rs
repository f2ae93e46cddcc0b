//! The optimizer rule that gives a filter's short `IN` list of strings to a string-view set
//! (`src/query/string_in.rs`): filters use it, scans keep the list for pruning, long lists and
//! lists holding NULL stay DataFusion's, and no answer changes.

use sspr_analytics::query::context::{QueryConfig, build_context};

use crate::util::{batches_json, datafusion_alone, plan_lines};

#[tokio::test]
async fn short_string_lists_filter_through_the_set_with_the_same_answers() {
    if crate::util::skip_without_extensions() {
        return;
    }
    let (_d, lake) = crate::util::shared_lake().await;
    let ours = build_context(&lake, &QueryConfig::default()).await.unwrap();
    // DataFusion without the rule, over the same files.
    let plain = datafusion_alone(&lake, "reset_attempts").await;
    let phone = "'mobile_sms', 'mobile_voice', 'office_voice', 'mobile_sms,mobile_voice', \
                 'mobile_sms,office_voice', 'mobile_voice,office_voice', 'mobile_sms,mobile_voice,office_voice'";
    // Seventeen items: past the set's limit.
    let long =
        format!("{phone}, {}", (0..10).map(|i| format!("'unused {i}'")).collect::<Vec<_>>().join(", "));
    // (list, negated, whether the filter should use the set)
    let cases = [
        (phone.to_string(), false, true),
        (phone.to_string(), true, true),
        // Four items: DataFusion writes lists of up to three as `=` comparisons.
        ("'mobile_sms', 'mobile_voice', 'office_voice', 'email'".to_string(), false, true),
        (long.clone(), false, false),
        (long, true, false),
        // NULL in the list makes NOT IN unknown for every other value: DataFusion's own rules.
        ("'mobile_sms', 'mobile_voice', 'office_voice', NULL".to_string(), false, false),
        ("'mobile_sms', 'mobile_voice', 'office_voice', NULL".to_string(), true, false),
    ];
    for (list, negated, set) in cases {
        let not = if negated { "NOT " } else { "" };
        let sql = format!(
            "SELECT methods_completed, count(*) AS n, count(ip) AS with_ip FROM reset_attempts \
             WHERE outcome = 'succeeded' AND methods_completed {not}IN ({list}) \
             GROUP BY methods_completed ORDER BY methods_completed"
        );
        let got = batches_json(&ours.sql(&sql).await.unwrap().collect().await.unwrap());
        let want = batches_json(&plain.sql(&sql).await.unwrap().collect().await.unwrap());
        assert_eq!(got, want, "answers differ for {not}IN ({list})");
        let (filter, scan) = plan_lines(&ours, &sql).await;
        assert_eq!(filter.contains(&format!("{not}IN ('mobile_sms'")), set, "{not}IN ({list}): {filter}");
        assert_eq!(filter.contains("IN (SET)"), !set, "{filter}");
        // The scan's predicate, for pruning, is DataFusion's expression either way.
        assert!(scan.contains("IN (SET)"), "{scan}");
    }
    // The sample has phone-only successes and others, so the answers above are not all empty.
    let sql = format!("SELECT count(*) AS n FROM reset_attempts WHERE methods_completed IN ({phone})");
    let n = batches_json(&ours.sql(&sql).await.unwrap().collect().await.unwrap())[0]["n"].as_i64().unwrap();
    let all = batches_json(
        &ours.sql("SELECT count(*) AS n FROM reset_attempts").await.unwrap().collect().await.unwrap(),
    )[0]["n"]
        .as_i64()
        .unwrap();
    assert!(n > 0 && n < all, "{n} of {all}");
}
