use super::*;

/// A bare session that knows our options (`sspr.…`) as `build_context`'s does.
fn session_with_our_options() -> SessionContext {
    let config = datafusion::prelude::SessionConfig::new().with_option_extension(SsprOptions::default());
    SessionContext::new_with_config(config)
}

#[test]
fn every_embedded_query_has_a_valid_header() {
    let r = Registry::load(None).unwrap();
    assert_eq!(r.queries.len(), EMBEDDED.len());
    let ctx = session_with_our_options();
    for q in &r.queries {
        assert!(!q.title.is_empty() && !q.description.is_empty(), "{}", q.name);
        // Every engine setting a query carries is one DataFusion (or sspr) knows, with a valid
        // value.
        q.session(&ctx).unwrap_or_else(|e| panic!("{}: {e}", q.name));
        // A chart hint is one the chart grammar accepts (nothing of the SQL's comments).
        let chart = q.chart.as_deref().unwrap_or("table");
        crate::charts::ChartSpec::parse(&q.name, chart).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn the_header_ends_at_the_first_comment_that_is_neither_a_field_nor_indented() {
    let q = SavedQuery::parse(
        "t",
        "-- name: t\n-- title: T\n-- description: one\n--   two\n\
         -- settings: datafusion.optimizer.join_reordering=false,\n\
         --   datafusion.execution.parquet.pushdown_filters=true\n-- chart: bar x=a y=b\n\
         -- The SQL's own note: not the chart's.\n-- x: nor this\nSELECT 1 AS a, 2 AS b",
    )
    .unwrap();
    assert_eq!(q.description, "one two");
    assert_eq!(q.chart.as_deref(), Some("bar x=a y=b"));
    let keys: Vec<&str> = q.settings.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["datafusion.optimizer.join_reordering", "datafusion.execution.parquet.pushdown_filters"]
    );
}

#[test]
fn settings_apply_to_the_query_alone_and_bad_ones_are_named() {
    let key = "datafusion.execution.parquet.pushdown_filters";
    let q = SavedQuery::parse("t", &format!("-- name: t\n-- title: T\n-- settings: {key}=true\nSELECT 1"))
        .unwrap();
    assert_eq!(q.settings, vec![(key.to_string(), "true".to_string())]);
    let ctx = SessionContext::new();
    let own = q.session(&ctx).unwrap();
    assert!(own.state().config().options().execution.parquet.pushdown_filters);
    assert!(
        !ctx.state().config().options().execution.parquet.pushdown_filters,
        "leaked into the shared session"
    );

    let e = SavedQuery::parse("t", "-- name: t\n-- title: T\n-- settings: pushdown\nSELECT 1").unwrap_err();
    assert!(e.to_string().contains("-- settings:") && e.to_string().contains("not key=value"), "{e}");
    let e = SavedQuery::parse("t", "-- name: t\n-- title: T\n-- settings: target_partitions=4\nSELECT 1")
        .unwrap_err();
    assert!(e.to_string().contains("datafusion.<option>"), "{e}");
    let q = SavedQuery::parse(
        "t",
        "-- name: t\n-- title: T\n-- settings: datafusion.execution.no_such=1\nSELECT 1",
    )
    .unwrap();
    let e = q.session(&ctx).err().unwrap().to_string();
    assert!(e.contains("datafusion.execution.no_such=1"), "{e}");
    let q = SavedQuery::parse("t", &format!("-- name: t\n-- title: T\n-- settings: {key}=maybe\nSELECT 1"))
        .unwrap();
    assert!(q.session(&ctx).err().unwrap().to_string().contains(key));
}

/// Our own options (`sspr.…`) go through the same line, in a session that knows them.
#[tokio::test]
async fn sspr_settings_reach_the_query_session() {
    let ctx = session_with_our_options();
    let text = "-- name: t\n-- title: T\n-- settings: sspr.materialize_ctes=a b\nSELECT 1";
    let own = SavedQuery::parse("t", text).unwrap().session(&ctx).unwrap();
    let options = own.state().config().options().extensions.get::<SsprOptions>().cloned();
    assert_eq!(options.map(|o| o.materialize_ctes).as_deref(), Some("a b"));
    let q = SavedQuery::parse("t", "-- name: t\n-- title: T\n-- settings: sspr.no_such=1\nSELECT 1").unwrap();
    let e = q.session(&ctx).err().unwrap().to_string();
    assert!(e.contains("sspr.no_such=1"), "{e}");
}

#[test]
fn parameters_are_typed_and_checked() {
    let q =
        SavedQuery::parse("t", "-- name: t\n-- title: T\n-- params: from:timestamp=-7d, n:int=3\nSELECT 1")
            .unwrap();
    let tz: chrono_tz::Tz = "Europe/Brussels".parse().unwrap();
    let mut given = BTreeMap::new();
    given.insert("n".to_string(), "x".to_string());
    let e = q.bind(&given, &tz).unwrap_err().to_string();
    assert!(e.contains("parameter n") && e.contains("not an integer"), "{e}");
    given.clear();
    given.insert("bogus".into(), "1".into());
    assert!(q.bind(&given, &tz).unwrap_err().to_string().contains("no such parameter"));
}

#[test]
fn a_parameter_with_fixed_values_refuses_any_other() {
    let q = SavedQuery::parse(
        "t",
        "-- name: t\n-- title: T\n-- params: c:string(any|sspr|not_sspr)=any\nSELECT 1",
    )
    .unwrap();
    assert_eq!(q.params[0].choices, ["any", "sspr", "not_sspr"]);
    let tz = chrono_tz::UTC;
    let mut given = BTreeMap::new();
    given.insert("c".to_string(), "not_sspr".to_string());
    assert_eq!(q.bind(&given, &tz).unwrap()["c"], ScalarValue::Utf8(Some("not_sspr".into())));
    given.insert("c".to_string(), "capable".to_string());
    let e = q.bind(&given, &tz).unwrap_err().to_string();
    assert!(e.contains("parameter c") && e.contains("\"capable\" is not one of any, sspr, not_sspr"), "{e}");
    for bad in ["c:string(any|sspr)=other", "c:string(any||sspr)=any"] {
        let text = format!("-- name: t\n-- title: T\n-- params: {bad}\nSELECT 1");
        assert!(SavedQuery::parse("t", &text).is_err(), "{bad}");
    }
}
