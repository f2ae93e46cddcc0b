//! Issue 21 item 6, first part: charts drawn from real query output on the sample lake are well
//! formed SVG whose marks, labels and numbers are the query's (read back from the SVG), and the
//! edge cases of item 1 each give a readable chart.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::Event;
use sspr_analytics::charts::{self, ChartSpec, Data};

use crate::util::{query_rows, shared_lake};

/// The SVG's elements by name, and every text it shows.
struct Svg {
    elements: BTreeMap<String, usize>,
    texts: Vec<String>,
    circles: usize,
}

/// Parses the SVG as XML (any error fails the test) and counts what is in it.
fn read(svg: &str) -> Svg {
    let mut r = Reader::from_str(svg);
    let mut out = Svg { elements: BTreeMap::new(), texts: Vec::new(), circles: 0 };
    let mut in_text = false;
    loop {
        match r.read_event().unwrap_or_else(|e| panic!("not XML: {e}\n{svg}")) {
            Event::Start(e) | Event::Empty(e) => {
                let qname = e.name();
                let name: String = qname.as_ref().to_string();
                in_text = name == "text";
                if name == "circle" {
                    out.circles += 1;
                }
                *out.elements.entry(name).or_default() += 1;
            }
            Event::Text(t) if in_text => out.texts.push(t.xml10_content().trim().to_string()),
            Event::GeneralRef(r) if in_text => {
                // An entity (&amp;, &#8230;) inside a label: append what it stands for.
                let ch = match r.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => {
                        let name: &str = &r;
                        quick_xml::escape::resolve_predefined_entity(name).unwrap_or("").to_string()
                    }
                };
                match out.texts.last_mut() {
                    Some(last) => last.push_str(&ch),
                    None => out.texts.push(ch),
                }
            }
            Event::End(_) => in_text = false,
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// Rects filled with the first series' colour: the bars. Every one must be visible (a bar of no
/// width or height is a chart bug, not a bar).
fn bars(svg: &str) -> usize {
    let c = charts::PALETTE[0];
    let fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
    let rects: Vec<&str> =
        svg.split("<rect").skip(1).filter(|r| r.split("/>").next().unwrap_or("").contains(&fill)).collect();
    for r in &rects {
        let attr = |name: &str| -> f64 {
            let at =
                r.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("{name} in {r}")) + name.len() + 3;
            r[at..].split('"').next().unwrap().parse().unwrap()
        };
        assert!(
            attr("width") >= 1.0 && attr("height") >= 1.0,
            "an invisible bar: <rect{}",
            r.split("/>").next().unwrap()
        );
    }
    rects.len()
}

async fn chart_of(query: &str) -> (Data, ChartSpec, String, Vec<serde_json::Value>) {
    chart_with(query, None).await
}

/// The rects filled with `color` (x, y, width, height), in the order drawn.
fn rects(svg: &str, color: plotters::style::RGBColor) -> Vec<[f64; 4]> {
    let fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", color.0, color.1, color.2);
    svg.split("<rect")
        .skip(1)
        .map(|r| r.split("/>").next().unwrap_or(""))
        .filter(|r| r.contains(&fill))
        .map(|r| {
            let attr = |name: &str| -> f64 {
                let at = r.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                r[at..].split('"').next().unwrap().parse().unwrap()
            };
            [attr("x"), attr("y"), attr("width"), attr("height")]
        })
        .collect()
}

/// The query's chart, drawn with `spec` instead of its header's when given.
async fn chart_with(
    query: &str,
    spec_text: Option<&str>,
) -> (Data, ChartSpec, String, Vec<serde_json::Value>) {
    let (_d, lake) = shared_lake().await;
    let ctx = sspr_analytics::query::context::build_context(&lake, &Default::default()).await.unwrap();
    let reg = sspr_analytics::query::saved::Registry::load(None).unwrap();
    let q = reg.get(query).unwrap();
    let batches =
        sspr_analytics::query::saved::run(&ctx, q, &Default::default(), &chrono_tz::UTC).await.unwrap();
    let schema = batches[0].schema();
    let spec = ChartSpec::parse(&q.name, spec_text.or(q.chart.as_deref()).unwrap()).unwrap().unwrap();
    let data = charts::data(&batches, &schema, &spec, &q.name).unwrap();
    let svg = charts::svg(&data, &spec, &q.title).unwrap();
    dump(&format!("{query}-{:?}", spec.kind), &svg);
    let rows = query_rows(&lake, query, &[]).await;
    (data, spec, svg, rows)
}

#[tokio::test]
async fn a_line_chart_has_a_point_per_row_and_the_query_labels() {
    let (_, _, svg, rows) = chart_of("reset_success_daily").await;
    let s = read(&svg);
    assert_eq!(s.circles, rows.len(), "one marker per day");
    assert!(s.texts.iter().any(|t| t == "2026-11-01"), "the first day labels the x axis: {:?}", s.texts);
    assert!(
        s.texts.iter().any(|t| t.contains("success_rate_pct") && t.contains('%')),
        "axis name with unit: {:?}",
        s.texts
    );
    assert!(
        s.texts.iter().any(|t| t == "100") && s.texts.iter().any(|t| t == "0"),
        "percent axis 0-100: {:?}",
        s.texts
    );
}

#[tokio::test]
async fn bars_carry_the_querys_numbers_and_labels() {
    let (data, spec, svg, rows) = chart_of("error_codes").await;
    let s = read(&svg);
    let shown = charts::top_n(data, spec.sort, spec.limit);
    assert_eq!(bars(&svg), shown.labels.len(), "one bar per category shown");
    // Every bar's number, as drawn, is the query's events for that code (the "other" bar sums
    // the rest).
    let mut want: Vec<u64> = rows.iter().map(|r| r["events"].as_u64().unwrap()).collect();
    want.sort_unstable_by(|a, b| b.cmp(a));
    let shown_numbers: Vec<String> = want.iter().take(spec.limit - 1).map(|n| n.to_string()).collect();
    for n in &shown_numbers {
        assert!(s.texts.contains(n), "{n} missing from {:?}", s.texts);
    }
    if rows.len() > spec.limit {
        let other: u64 = want[spec.limit - 1..].iter().sum();
        assert!(
            s.texts.contains(&other.to_string()),
            "the other bar sums the rest: {other} in {:?}",
            s.texts
        );
        assert!(s.texts.iter().any(|t| t.starts_with("other (")), "{:?}", s.texts);
    }
}

#[tokio::test]
async fn horizontal_bars_label_each_machine() {
    let (_, _, svg, rows) = chart_of("credential_provider_errors").await;
    let s = read(&svg);
    assert_eq!(bars(&svg), rows.len());
    for r in &rows {
        let name = charts::cut(r["computer"].as_str().unwrap(), charts::MAX_LABEL);
        assert!(s.texts.contains(&name), "{name} in {:?}", s.texts);
        assert!(s.texts.contains(&r["errors"].as_u64().unwrap().to_string()));
    }
}

/// A stacked bar per day: a segment per non-zero value of each column in its own colour, each
/// day's total written on top, and each segment as tall as its share of the day (read back from
/// the rects' heights).
#[tokio::test]
async fn stacked_bars_have_a_segment_per_value_and_the_days_totals() {
    let spec = "stacked x=day y=sessions_succeeded,sessions_not_succeeded sort=none limit=400 units=attempts";
    let (_, _, svg, rows) = chart_with("reset_success_daily", Some(spec)).await;
    let s = read(&svg);
    let n = |r: &serde_json::Value, c: &str| r[c].as_f64().unwrap();
    let (ok, not_ok) = (rects(&svg, charts::PALETTE[0]), rects(&svg, charts::PALETTE[1]));
    // The legend has one swatch of each colour (12 × 12); the segments are the rest.
    let segments = |r: &[[f64; 4]]| r.iter().filter(|r| r[2] > 12.0).copied().collect::<Vec<_>>();
    let (ok, not_ok) = (segments(&ok), segments(&not_ok));
    assert_eq!(ok.len(), rows.iter().filter(|r| n(r, "sessions_succeeded") > 0.0).count());
    assert_eq!(not_ok.len(), rows.iter().filter(|r| n(r, "sessions_not_succeeded") > 0.0).count());
    for (i, r) in rows.iter().enumerate() {
        let total = n(r, "sessions_started");
        assert!(s.texts.contains(&charts::number(total)), "total {total} of {}: {:?}", r["day"], s.texts);
        // Heights in pixels: each segment's share of its bar is the value's share of the day.
        let (a, b) = (ok[i][3], not_ok[i][3]);
        let want = n(r, "sessions_succeeded") / total;
        assert!((a / (a + b) - want).abs() < 0.03, "{}: {a} and {b} px for {want}", r["day"]);
    }
    assert!(s.texts.contains(&"sessions_succeeded".to_string()), "the legend: {:?}", s.texts);
    assert!(s.texts.contains(&"attempts".to_string()), "the value axis' unit: {:?}", s.texts);
}

/// The funnel: one bar per stage in the query's order, each as wide as its attempts, with its
/// share of the first stage, which the chart works out itself and must match the query's own
/// `pct_of_started`.
#[tokio::test]
async fn a_funnel_has_a_bar_per_stage_with_its_share_of_the_first() {
    let (_, _, svg, rows) = chart_of("reset_funnel").await;
    let s = read(&svg);
    let drawn = rects(&svg, charts::PALETTE[0]);
    assert_eq!(drawn.len(), rows.len(), "a bar per stage");
    let first = rows[0]["attempts"].as_f64().unwrap();
    for (r, bar) in rows.iter().zip(&drawn) {
        let attempts = r["attempts"].as_f64().unwrap();
        let label = format!(
            "{} ({}%)",
            charts::number(attempts),
            charts::number(r["pct_of_started"].as_f64().unwrap())
        );
        assert!(s.texts.contains(&label), "{label} in {:?}", s.texts);
        assert!(s.texts.contains(&r["stage"].as_str().unwrap().to_string()), "{:?}", s.texts);
        let want = attempts / first * drawn[0][2];
        assert!((bar[2] - want).abs() <= 1.5, "{}: {} px, want {want}", r["stage"], bar[2]);
    }
    // Top to bottom in stage order.
    assert!(drawn.windows(2).all(|w| w[0][1] < w[1][1]), "{drawn:?}");
}

/// The heatmap: a cell per (weekday, hour) row, the busiest in the darkest shade, the counts
/// written in the cells.
#[tokio::test]
async fn a_heatmap_has_a_cell_per_row_and_the_busiest_darkest() {
    let (_, _, svg, rows) = chart_of("errors_by_hour").await;
    let s = read(&svg);
    assert_eq!(rows.len(), 7 * 24, "every weekday and hour");
    let cells: usize = svg
        .split("<rect")
        .skip(1)
        .filter(|r| {
            let r = r.split("/>").next().unwrap_or("");
            let attr = |name: &str| -> f64 {
                let at = r.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                r[at..].split('"').next().unwrap().parse().unwrap()
            };
            // Not the background, not a legend swatch.
            !r.contains("fill=\"#FFFFFF\"") && attr("width") > 12.0
        })
        .count();
    assert_eq!(cells, rows.len(), "a cell per row");
    let errors: Vec<u64> = rows.iter().map(|r| r["errors"].as_u64().unwrap()).collect();
    let max = *errors.iter().max().unwrap();
    let darkest = rects(&svg, charts::PALETTE[0]).iter().filter(|r| r[2] > 12.0).count();
    assert_eq!(darkest, errors.iter().filter(|e| **e == max).count(), "the busiest cells are the darkest");
    for e in errors.iter().filter(|e| **e > 0) {
        assert!(s.texts.contains(&e.to_string()), "{e} in {:?}", s.texts);
    }
    for day in ["Mon", "Sun"] {
        assert!(s.texts.contains(&day.to_string()), "{day}: {:?}", s.texts);
    }
}

/// `errors_by_hour` puts each error in its weekday and hour on the wall clock of --tz: the same
/// counts as placing every error_events time with chrono-tz here.
#[tokio::test]
async fn errors_by_hour_counts_each_error_at_its_local_hour() {
    use chrono::{Datelike, Timelike};
    let (_d, lake) = shared_lake().await;
    let zone = "America/St_Johns";
    let rows = query_rows(&lake, "errors_by_hour", &[("tz", zone)]).await;
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let mut want = vec![0u64; 7 * 24];
    for r in crate::util::sql_rows(&lake, "SELECT CAST(time AS STRING) AS t FROM error_events").await {
        let t = r["t"].as_str().unwrap();
        let utc = chrono::NaiveDateTime::parse_from_str(&t[..19], "%Y-%m-%dT%H:%M:%S")
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(&t[..19], "%Y-%m-%d %H:%M:%S"))
            .unwrap()
            .and_utc();
        let local = utc.with_timezone(&tz);
        want[local.weekday().num_days_from_monday() as usize * 24 + local.hour() as usize] += 1;
    }
    let got: Vec<u64> = rows.iter().map(|r| r["errors"].as_u64().unwrap()).collect();
    assert_eq!(got, want);
    assert!(want.iter().sum::<u64>() > 100, "the sample has errors to place");
}

/// The timeline: a lane per server, a marker per instant (circles for the first kind), a span per
/// heartbeat gap, the kinds in the legend and times in the report's zone.
#[tokio::test]
async fn a_timeline_has_a_mark_per_row_in_its_lane() {
    let (data, _, svg, rows) = chart_of("writeback_health").await;
    let s = read(&svg);
    let kinds: Vec<&str> = {
        let mut k: Vec<&str> = Vec::new();
        for r in &rows {
            let kind = r["kind"].as_str().unwrap();
            if !k.contains(&kind) {
                k.push(kind);
            }
        }
        k
    };
    for k in &kinds {
        assert!(s.texts.contains(&k.to_string()), "{k} in the legend: {:?}", s.texts);
    }
    let circles = rows
        .iter()
        .filter(|r| r["ends"].is_null())
        .filter(|r| kinds.iter().position(|k| *k == r["kind"].as_str().unwrap()).unwrap() % 3 == 0)
        .count();
    assert_eq!(s.circles, circles, "a circle per instant of the first and fourth kinds");
    let spans = svg.matches("opacity=\"0.85\"").count();
    assert_eq!(spans, rows.iter().filter(|r| !r["ends"].is_null()).count(), "a span per gap");
    assert!(spans > 0, "the sample has heartbeat gaps");
    assert_eq!(data.marks.len(), rows.len());
    for r in &rows {
        assert!(s.texts.contains(&r["computer"].as_str().unwrap().to_string()), "{:?}", s.texts);
    }
    assert!(s.texts.iter().any(|t| t == "time (UTC)"), "{:?}", s.texts);
}

/// With `SSPR_CHART_DUMP=DIR`, the charts are also written there, to be looked at.
fn dump(name: &str, svg: &str) {
    if let Ok(dir) = std::env::var("SSPR_CHART_DUMP") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.svg")), svg).unwrap();
    }
}

fn spec(text: &str) -> ChartSpec {
    ChartSpec::parse("t", text).unwrap().unwrap()
}

fn data(labels: Vec<String>, values: Vec<Option<f64>>) -> Data {
    Data { labels, series: vec![("v".into(), values)], ..Data::default() }
}

#[test]
fn no_rows_or_only_nulls_say_no_data() {
    for d in [data(vec![], vec![]), data(vec!["a".into()], vec![None])] {
        for kind in ["line", "bar", "hbar", "stacked", "funnel", "heatmap", "timeline"] {
            let text = match kind {
                "heatmap" => format!("{kind} x=x y=v series=s"),
                _ => format!("{kind} x=x y=v"),
            };
            let svg = charts::svg(&d, &spec(&text), "Empty").unwrap();
            assert!(read(&svg).texts.iter().any(|t| t == "no data in this window"), "{kind}");
        }
    }
}

#[test]
fn one_point_and_one_category_draw() {
    let d = data(vec!["2026-11-01".into()], vec![Some(42.0)]);
    assert_eq!(read(&charts::svg(&d, &spec("line x=x y=v"), "One").unwrap()).circles, 1);
    for kind in ["bar", "hbar"] {
        let svg = charts::svg(&d, &spec(&format!("{kind} x=x y=v")), "One").unwrap();
        assert_eq!(bars(&svg), 1, "{kind}");
        let s = read(&svg);
        assert!(
            s.texts.contains(&"42".to_string()) && s.texts.contains(&"2026-11-01".to_string()),
            "{kind}: {:?}",
            s.texts
        );
    }
}

/// Seen in the security dashboard: a one-bar chart in a full-width panel is short, and the axis
/// labels plotters sizes by the chart's height shrank to 5.6 px, unreadable. Every text of a
/// chart is as large as on a full-size chart, whatever the chart's height.
#[test]
fn a_short_chart_keeps_readable_text() {
    let d = data(vec!["198.51.100.7".into()], vec![Some(6.0)]);
    for kind in ["hbar", "funnel", "bar", "line"] {
        for size in [(900, 360), (560, 340), (900, 124)] {
            let svg = charts::svg_sized(&d, &spec(&format!("{kind} x=x y=v")), "", size).unwrap();
            let sizes: Vec<f64> = svg
                .split("font-size=\"")
                .skip(1)
                .map(|s| s.split('"').next().unwrap().parse().unwrap())
                .collect();
            assert!(!sizes.is_empty(), "{kind} {size:?}");
            let smallest = sizes.iter().cloned().fold(f64::MAX, f64::min);
            assert!(smallest >= 8.8, "{kind} at {size:?}: a text of {smallest} px");
        }
    }
}

/// Seen on the security dashboard: a bar of 3 refused passwords had an axis of 0, 0.5, 1, … 3. A
/// count axis carries whole numbers only; an axis of fractions still gets its halves.
#[test]
fn a_count_axis_has_no_halves() {
    let counts = data(vec!["a".into(), "b".into()], vec![Some(3.0), Some(1.0)]);
    let rates = data(vec!["a".into(), "b".into()], vec![Some(2.5), Some(1.0)]);
    for kind in ["hbar", "bar", "line", "stacked"] {
        let s = spec(&format!("{kind} x=x y=v"));
        let texts = read(&charts::svg(&counts, &s, "Counts").unwrap()).texts;
        assert!(texts.iter().any(|t| t == "2"), "{kind}: {texts:?}");
        assert!(!texts.iter().any(|t| t.ends_with(".5")), "{kind}: {texts:?}");
        let texts = read(&charts::svg(&rates, &s, "Rates").unwrap()).texts;
        assert!(texts.iter().any(|t| t.ends_with(".5")), "{kind}: {texts:?}");
    }
}

/// Seen comparing two renderings of the same report: plotters' histogram draws its bars in a
/// hash map's order, so the same chart came out as different bytes (same picture) each time and a
/// nightly run with nothing new wrote reports with new hashes. The same data gives the same SVG.
#[test]
fn the_same_data_draws_the_same_bytes() {
    let labels: Vec<String> = (0..12).map(|i| format!("code {i}")).collect();
    let values = (0..12).map(|i| Some(f64::from(i * 7 % 11 + 1))).collect();
    let d = data(labels, values);
    for kind in ["bar", "hbar"] {
        let first = charts::svg(&d, &spec(&format!("{kind} x=x y=v")), "Twelve").unwrap();
        for _ in 0..5 {
            assert_eq!(
                charts::svg(&d, &spec(&format!("{kind} x=x y=v")), "Twelve").unwrap(),
                first,
                "{kind}"
            );
        }
    }
}

#[test]
fn ten_thousand_categories_become_the_top_n_and_other() {
    let labels: Vec<String> = (0..10_000).map(|i| format!("user{i}@contoso.example")).collect();
    let values: Vec<Option<f64>> = (0..10_000).map(|i| Some(i as f64)).collect();
    let svg = charts::svg(&data(labels, values), &spec("hbar x=x y=v limit=10"), "Many").unwrap();
    dump("many", &svg);
    let s = read(&svg);
    assert_eq!(bars(&svg), 10);
    assert!(
        s.texts.contains(&"9,999".to_string()) && s.texts.iter().any(|t| t == "other (9991 more)"),
        "{:?}",
        s.texts
    );
    let other: f64 = (0..9991).map(|i| i as f64).sum();
    assert!(s.texts.contains(&charts::number(other)), "{:?}", s.texts);
}

#[test]
fn nulls_negative_and_huge_values_and_long_non_ascii_labels() {
    let labels = vec![
        "Žaneta Nováková — účet s velmi dlouhým jménem pro test".to_string(),
        "名前の長いユーザーのアカウントのテスト用ラベルです".to_string(),
        "plain".to_string(),
        "null".to_string(),
    ];
    let values = vec![Some(-120.0), Some(3.5e18), Some(7.0), None];
    for kind in ["bar", "hbar", "line"] {
        let svg = charts::svg(
            &data(labels.clone(), values.clone()),
            &spec(&format!("{kind} x=x y=v sort=none")),
            "Edges",
        )
        .unwrap();
        dump(&format!("edges-{kind}"), &svg);
        let s = read(&svg);
        if kind != "line" {
            assert_eq!(bars(&svg), 3, "{kind}: NULL draws no bar");
            assert!(s.texts.contains(&"-120".to_string()), "{kind}: {:?}", s.texts);
        } else {
            assert_eq!(s.circles, 3, "NULL draws no point");
        }
        assert!(s.texts.iter().all(|t| t.chars().count() <= 80), "{kind}: labels are cut: {:?}", s.texts);
        assert!(s.texts.iter().any(|t| t.starts_with("Žaneta") && t.ends_with('…')), "{kind}: {:?}", s.texts);
    }
}

/// The kinds of this second round at their edges: one category, one cell, one instant,
/// negative and huge values, NULLs, long non-ASCII labels and 10,000 categories all draw, and
/// every label stays cut to size.
#[test]
fn stacked_funnel_heatmap_and_timeline_at_their_edges() {
    let long = "Žaneta Nováková — účet s velmi dlouhým jménem pro test".to_string();
    let one = Data {
        labels: vec![long.clone()],
        series: vec![("ok".into(), vec![Some(3.0)]), ("failed".into(), vec![Some(-2.0)])],
        ..Data::default()
    };
    let svg = charts::svg(&one, &spec("stacked x=x y=ok,failed"), "One").unwrap();
    assert_eq!(rects(&svg, charts::PALETTE[0]).iter().filter(|r| r[2] > 12.0).count(), 1);
    assert_eq!(
        rects(&svg, charts::PALETTE[1]).iter().filter(|r| r[2] > 12.0).count(),
        1,
        "negative: below 0"
    );
    let huge = data(vec![long.clone(), "名前".into(), "null".into()], vec![Some(3.5e18), Some(7.0), None]);
    let f = charts::svg(&huge, &spec("funnel x=x y=v"), "Funnel").unwrap();
    dump("edges-funnel", &f);
    let t = read(&f).texts;
    assert_eq!(rects(&f, charts::PALETTE[0]).len(), 2, "NULL draws no bar; 7 next to 3.5e18 still shows");
    assert!(t.iter().any(|t| t.starts_with("Žaneta") && t.ends_with('…')), "{t:?}");
    // 10,000 stacked categories: the top N and one "other".
    let labels: Vec<String> = (0..10_000).map(|i| format!("user{i}@contoso.example")).collect();
    let many = Data {
        labels: labels.clone(),
        series: vec![
            ("a".into(), (0..10_000).map(|i| Some(i as f64)).collect()),
            ("b".into(), (0..10_000).map(|_| Some(1.0)).collect()),
        ],
        ..Data::default()
    };
    let m = charts::svg(&many, &spec("stacked x=x y=a,b limit=8"), "Many").unwrap();
    assert_eq!(rects(&m, charts::PALETTE[1]).iter().filter(|r| r[2] > 12.0).count(), 8);
    assert!(read(&m).texts.iter().any(|t| t.starts_with("other (99")), "{:?}", read(&m).texts);
    // Seven series in a stack: four and "other", each its own colour.
    let seven = Data {
        labels: vec!["x".into()],
        series: (0..7).map(|k| (format!("s{k}"), vec![Some(1.0 + k as f64)])).collect(),
        ..Data::default()
    };
    let folded = charts::fold_series(seven, charts::PALETTE.len());
    assert_eq!(folded.series.len(), 5);
    assert_eq!(folded.series[4], ("other (3 more)".to_string(), vec![Some(6.0)]));
    // One heatmap cell; a heatmap of only zeros has no data.
    let cell =
        Data { labels: vec!["0".into()], series: vec![("Mon".into(), vec![Some(4.0)])], ..Data::default() };
    let h = charts::svg(&cell, &spec("heatmap x=h y=v series=d"), "Cell").unwrap();
    assert_eq!(rects(&h, charts::PALETTE[0]).iter().filter(|r| r[2] > 12.0).count(), 1);
    let zeros =
        Data { labels: vec!["0".into()], series: vec![("Mon".into(), vec![Some(0.0)])], ..Data::default() };
    let z = charts::svg(&zeros, &spec("heatmap x=h y=v series=d"), "Zeros").unwrap();
    assert!(read(&z).texts.iter().any(|t| t == "no data in this window"));
    // One instant on a timeline, and a span that ends where it starts plus a microsecond.
    let marks = vec![
        charts::Mark { start: 1_763_000_000_000_000, end: None, lane: long.clone(), kind: "started".into() },
        charts::Mark {
            start: 1_763_000_000_000_000,
            end: Some(1_763_000_000_000_001),
            lane: "名前".into(),
            kind: "gap".into(),
        },
    ];
    let tl = Data {
        labels: vec![long, "名前".into()],
        marks,
        zone: Some(chrono_tz::Europe::Brussels),
        ..Data::default()
    };
    let svg = charts::svg(&tl, &spec("timeline x=t y=k series=l"), "Instant").unwrap();
    dump("edges-timeline", &svg);
    let s = read(&svg);
    assert_eq!(s.circles, 1);
    let span = svg.split("<rect").find(|r| r.contains("opacity=\"0.85\"")).expect("the span");
    assert!(!span.contains("width=\"0\""), "a span of a microsecond is still seen: {span}");
    assert!(s.texts.iter().any(|t| t == "time (Europe/Brussels)"), "{:?}", s.texts);
}

#[test]
fn several_series_have_a_legend_and_their_own_markers() {
    let d = Data {
        labels: vec!["a".into(), "b".into(), "c".into()],
        series: vec![
            ("member".into(), vec![Some(1.0), Some(2.0), Some(3.0)]),
            ("guest".into(), vec![Some(3.0), Some(1.0), None]),
        ],
        ..Data::default()
    };
    let svg = charts::svg(&d, &spec("line x=x y=v series=t"), "Two").unwrap();
    dump("two-series", &svg);
    let s = read(&svg);
    assert!(
        s.texts.contains(&"member".to_string()) && s.texts.contains(&"guest".to_string()),
        "{:?}",
        s.texts
    );
    assert_eq!(s.circles, 3, "circles for the first series, triangles for the second");
    assert!(s.elements.get("polygon").copied().unwrap_or(0) >= 2, "{:?}", s.elements);
}

/// Issue 21 item 5: `sspr query NAME --chart` draws the chart under the table on a terminal (a
/// pseudo-terminal from `script`), and never when piped or with NO_COLOR.
#[test]
fn terminal_charts_only_on_a_terminal() {
    let lake = crate::util::shared_lake_arg();
    let bin = env!("CARGO_BIN_EXE_sspr");
    let on_a_terminal = |no_color: bool| {
        let cmd = format!("{bin} --lake {lake} -q query reset_success_daily --chart");
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"]).env("COLUMNS", "100").env_remove("SSPR_LAKE");
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        let o = c.output().expect("script (util-linux) runs the binary on a pseudo-terminal");
        assert!(o.status.success(), "{:?}", crate::util::text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let sparks = |s: &str| s.chars().any(|c| ('▁'..='█').contains(&c));
    let shown = on_a_terminal(false);
    assert!(sparks(&shown) && shown.contains("2026-11-01 … 2026-11-14"), "{shown}");
    assert!(!sparks(&on_a_terminal(true)), "NO_COLOR: no chart");
    let piped = crate::util::sspr(
        &["--lake", &lake, "-q", "query", "reset_success_daily", "--chart"],
        &[("NO_COLOR", "")],
    );
    assert!(piped.status.success() && !sparks(&crate::util::text(&piped).0), "piped: no chart");
}

/// Several x columns label a bar with their values joined; a value repeated ("all / all") shows
/// once and an empty one (an error code with no detail) is left out, not drawn as "32015 / ".
#[test]
fn labels_of_several_columns_leave_out_repeats_and_blanks() {
    use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("code", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, true),
        Field::new("events", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            std::sync::Arc::new(StringArray::from(vec!["6329", "6329", "32015", "all"])),
            std::sync::Arc::new(StringArray::from(vec![
                Some("RestrictionPreventsPasswordChange"),
                Some("RemoteSamAccessDenied"),
                None,
                Some("all"),
            ])),
            std::sync::Arc::new(Int64Array::from(vec![8, 7, 29, 44])),
        ],
    )
    .unwrap();
    let d = charts::data(&[batch], &schema, &spec("hbar x=code,detail y=events sort=none"), "t").unwrap();
    assert_eq!(
        d.labels,
        ["6329 / RestrictionPreventsPasswordChange", "6329 / RemoteSamAccessDenied", "32015", "all"]
    );
}
