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
    let (_d, lake) = shared_lake().await;
    let ctx = sspr_analytics::query::context::build_context(&lake, &Default::default()).await.unwrap();
    let reg = sspr_analytics::query::saved::Registry::load(None).unwrap();
    let q = reg.get(query).unwrap();
    let batches =
        sspr_analytics::query::saved::run(&ctx, q, &Default::default(), &chrono_tz::UTC).await.unwrap();
    let schema = batches[0].schema();
    let spec = ChartSpec::parse(&q.name, q.chart.as_deref().unwrap()).unwrap().unwrap();
    let data = charts::data(&batches, &schema, &spec, &q.name).unwrap();
    let svg = charts::svg(&data, &spec, &q.title).unwrap();
    dump(query, &svg);
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
    Data { labels, series: vec![("v".into(), values)] }
}

#[test]
fn no_rows_or_only_nulls_say_no_data() {
    for d in [data(vec![], vec![]), data(vec!["a".into()], vec![None])] {
        for kind in ["line", "bar", "hbar"] {
            let svg = charts::svg(&d, &spec(&format!("{kind} x=x y=v")), "Empty").unwrap();
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

#[test]
fn several_series_have_a_legend_and_their_own_markers() {
    let d = Data {
        labels: vec!["a".into(), "b".into(), "c".into()],
        series: vec![
            ("member".into(), vec![Some(1.0), Some(2.0), Some(3.0)]),
            ("guest".into(), vec![Some(3.0), Some(1.0), None]),
        ],
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
