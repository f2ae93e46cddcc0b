//! Issue 21: `sspr report` pages, built from the sample lake, are self-contained and complete, and
//! load in a real browser (Debian's Chromium, which `.ci/run` installs).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{shared_lake_arg, sspr, text};

const DASHBOARDS: [&str; 3] = ["overview", "operations", "security"];

fn render(out: &Path) -> Vec<PathBuf> {
    let o = sspr(
        &["--lake", &shared_lake_arg(), "report", "--out", out.to_str().unwrap(), "--tz", "Europe/Brussels"],
        &[],
    );
    let (stdout, err) = text(&o);
    assert!(o.status.success(), "{err}");
    stdout.lines().map(PathBuf::from).collect()
}

#[test]
fn every_dashboard_is_one_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    let pages = render(dir.path());
    assert_eq!(pages.len(), 3);
    for (page, name) in pages.iter().zip(DASHBOARDS) {
        assert!(page.ends_with(format!("{name}.html")), "{page:?}");
        let html = std::fs::read_to_string(page).unwrap();
        // No script, and nothing fetched: no src=, href=, url(…) or @import anywhere.
        for banned in ["<script", " src=", " href=", "url(", "@import", "<link"] {
            assert!(!html.contains(banned), "{name}: {banned}");
        }
        // The header: tenant, window, zone, when; the completeness line (the sample is stale).
        assert!(
            html.contains("Tenant") && html.contains("Europe/Brussels") && html.contains("Generated"),
            "{name}"
        );
        assert!(html.contains("completeness warn") && html.contains("STALE"), "{name}");
        // Every panel of the spec is there, with a chart or a table.
        let spec =
            std::fs::read_to_string(crate::util::repo().join(format!("dashboards/{name}.toml"))).unwrap();
        let panels = spec.matches("[[panel]]").count();
        assert_eq!(html.matches("<section class=\"panel").count(), panels, "{name}");
        assert!(html.matches("<svg").count() + html.matches("<table>").count() >= panels, "{name}");
    }
}

/// Seen in the nightly's overview: Graph exports carry no tenant id, and the header said "no
/// audit events" over a lake of 3,938 of them. It says which of the two it is.
#[test]
fn the_header_tells_no_audit_events_from_no_tenant_id() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let tenant_of = |lake: &str| {
        let out = dir.path().join("pages");
        let o = sspr(&["--lake", lake, "-q", "report", "overview", "--out", out.to_str().unwrap()], &[]);
        assert!(o.status.success(), "{:?}", text(&o));
        let html = std::fs::read_to_string(out.join("overview.html")).unwrap();
        let at = html.find("<dt>Tenant</dt><dd>").unwrap() + "<dt>Tenant</dt><dd>".len();
        html[at..at + html[at..].find("</dd>").unwrap()].to_string()
    };
    let users = crate::util::repo().join("sample-data/graph/users");
    let o = sspr(&["--lake", lake, "-q", "import", users.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(tenant_of(lake), "no audit events");
    let audits = crate::util::repo().join("sample-data/graph/directoryAudits");
    let o = sspr(&["--lake", lake, "-q", "import", audits.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(tenant_of(lake), "not recorded in the audit events");
    // A diagnostic-settings archive records it.
    let other = dir.path().join("archive-lake");
    let other = other.to_str().unwrap();
    let archive = crate::util::repo().join("sample-data/diagnostic-archive");
    let o = sspr(&["--lake", other, "-q", "import", archive.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(tenant_of(other), "ec779c36-93f8-4501-bed9-eeb4936de39d");
}

#[test]
fn a_dashboard_with_a_mistake_is_refused_naming_file_panel_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("dashboards");
    std::fs::create_dir_all(&specs).unwrap();
    std::fs::write(
        specs.join("mine.toml"),
        "title = \"Mine\"\n[[panel]]\nquery = \"error_codes\"\nchart = \"bar x=code y=nope\"\n",
    )
    .unwrap();
    let o = sspr(
        &[
            "--lake",
            &shared_lake_arg(),
            "report",
            "mine",
            "--dashboards-dir",
            specs.to_str().unwrap(),
            "--out",
            dir.path().join("out").to_str().unwrap(),
        ],
        &[],
    );
    let (_, err) = text(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("mine.toml") && err.contains("y=nope") && err.contains("error_codes"), "{err}");
    let o =
        sspr(&["--lake", &shared_lake_arg(), "report", "nosuch", "--out", dir.path().to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no dashboard named \"nosuch\""), "{:?}", text(&o));
}

/// Headless Chromium flags that keep it off the network (it would try Google's hosts).
fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--window-size=1400,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("chromium is needed for this test (.ci/run installs Debian's): {e}"))
}

/// What a page did in Chromium: the console messages it logged and the URLs it requested (the
/// browser's own update and account checks, which the flags cannot all silence and which fail on
/// a closed network, are not the page's and are left out).
fn console_and_requests(url: &str, profile: &Path) -> (Vec<String>, Vec<String>) {
    let net = profile.with_extension("netlog.json");
    let o = chromium(
        &["--enable-logging=stderr", "--v=0", &format!("--log-net-log={}", net.display()), "--dump-dom", url],
        profile,
    );
    let console = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.contains("CONSOLE"))
        .map(str::to_string)
        .collect();
    let log = std::fs::read_to_string(&net).unwrap_or_default();
    let mut requests: Vec<String> = log
        .split("\"url\":\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|u| {
            !u.starts_with("file:")
                && !u.starts_with("data:")
                && !u.starts_with("about:")
                && !u.starts_with("chrome")
        })
        .filter(|u| !["google.com/", "googleapis.com/", "gstatic.com/"].iter().any(|h| u.contains(h)))
        .map(str::to_string)
        .collect();
    requests.sort();
    requests.dedup();
    (console, requests)
}

#[test]
fn the_pages_load_in_chromium_with_every_chart_and_print() {
    let dir = tempfile::tempdir().unwrap();
    let pages = render(&dir.path().join("out"));
    for (page, name) in pages.iter().zip(DASHBOARDS) {
        let url = format!("file://{}", page.display());
        let profile = dir.path().join(format!("profile-{name}"));
        // The DOM Chromium built: every panel, and an SVG inside every chart figure.
        let dom = chromium(&["--dump-dom", &url], &profile);
        let dom_text = String::from_utf8_lossy(&dom.stdout);
        assert!(dom.status.success(), "{name}: {}", String::from_utf8_lossy(&dom.stderr));
        let html = std::fs::read_to_string(page).unwrap();
        assert_eq!(
            dom_text.matches("<section class=\"panel").count(),
            html.matches("<section class=\"panel").count(),
            "{name}: every panel loaded"
        );
        assert_eq!(
            dom_text.matches("<figure class=\"chart\"><svg").count(),
            html.matches("<figure class=\"chart\">").count(),
            "{name}"
        );
        // No console message and no request of the page's own.
        let (console, requests) = console_and_requests(&url, &dir.path().join(format!("net-{name}")));
        assert!(console.is_empty(), "{name}: {console:?}");
        assert!(requests.is_empty(), "{name}: {requests:?}");
        let png = dir.path().join(format!("{name}.png"));
        let shot = chromium(&[&format!("--screenshot={}", png.display()), &url], &profile);
        assert!(shot.status.success(), "{name}");
        assert!(std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0) > 20_000, "{name}: screenshot");
        let pdf = dir.path().join(format!("{name}.pdf"));
        let print = chromium(
            &["--no-pdf-header-footer", &format!("--print-to-pdf={}", pdf.display()), &url],
            &profile,
        );
        assert!(print.status.success(), "{name}");
        let bytes = std::fs::read(&pdf).unwrap_or_default();
        assert!(bytes.starts_with(b"%PDF") && bytes.len() > 20_000, "{name}: pdf");
    }
    // The check can fail: a page that logs an error and fetches from loopback is caught.
    let bad = dir.path().join("bad.html");
    std::fs::write(&bad, "<html><body><script>console.error('boom')</script><img src=\"http://127.0.0.1:9/x.png\"></body></html>").unwrap();
    let (console, requests) =
        console_and_requests(&format!("file://{}", bad.display()), &dir.path().join("net-bad"));
    assert!(console.iter().any(|l| l.contains("boom")), "{console:?}");
    assert_eq!(requests, ["http://127.0.0.1:9/x.png"]);
}

/// `--format md`: one Markdown page per dashboard with its charts as SVG files beside it; every
/// chart it links exists, and every panel has its heading and table.
#[test]
fn markdown_pages_link_charts_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("md");
    let o = sspr(
        &["--lake", &shared_lake_arg(), "report", "--format", "md", "--out", out.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    for name in DASHBOARDS {
        let page = std::fs::read_to_string(out.join(format!("{name}.md"))).unwrap();
        let spec =
            std::fs::read_to_string(crate::util::repo().join(format!("dashboards/{name}.toml"))).unwrap();
        assert_eq!(page.matches("\n## ").count(), spec.matches("[[panel]]").count(), "{name}");
        for link in page.split("](").skip(1).map(|s| s.split(')').next().unwrap()) {
            let svg =
                std::fs::read_to_string(out.join(link)).unwrap_or_else(|_| panic!("{name}: {link} missing"));
            assert!(svg.starts_with("<svg"), "{link}");
        }
        assert!(page.contains("**Check the data:**"), "{name}: the stale warning");
    }
}

/// Issue 21 item 2: `--format png` draws every charted panel as a PNG with the font the binary
/// carries: one file per chart, the right size, the palette's marks in it, text drawn in the
/// caption, and the same bytes whatever fonts the machine has (none are looked up: the run below
/// has no fontconfig and no font folders to find).
#[test]
fn png_charts_are_drawn_with_the_carried_font() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &Path| {
        let o = sspr(
            &["--lake", &shared_lake_arg(), "report", "overview", "operations", "--format", "png", "--out"]
                .into_iter()
                .chain([out.to_str().unwrap()])
                .collect::<Vec<_>>(),
            &[("FONTCONFIG_FILE", "/dev/null"), ("XDG_DATA_HOME", "/nonexistent"), ("HOME", "/nonexistent")],
        );
        let (stdout, err) = text(&o);
        assert!(o.status.success(), "{err}");
        stdout.lines().map(PathBuf::from).collect::<Vec<_>>()
    };
    let files = run(&dir.path().join("a"));
    let charted = |name: &str| {
        let spec =
            std::fs::read_to_string(crate::util::repo().join(format!("dashboards/{name}.toml"))).unwrap();
        spec.split("[[panel]]").skip(1).filter(|p| !p.contains("chart = \"table\"")).count()
    };
    assert_eq!(files.len(), charted("overview") + charted("operations"), "{files:?}");
    let dark = sspr_analytics::charts::PALETTE[0];
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("overview-") || name.starts_with("operations-"), "{name}");
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(f).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb, "{name}");
        assert!(info.width >= 960 && info.height >= 150, "{name}: {}×{}", info.width, info.height);
        let px: Vec<&[u8]> = buf[..info.buffer_size()].chunks(3).collect();
        let marks = px.iter().filter(|p| **p == [dark.0, dark.1, dark.2]).count();
        assert!(marks > 200, "{name}: the first series' colour is drawn ({marks} px)");
        // The caption's band (the top 24 rows) has dark text pixels: glyphs were drawn.
        let caption = px[..info.width as usize * 24].iter().filter(|p| p.iter().all(|c| *c < 96)).count();
        assert!(caption > 100, "{name}: caption text ({caption} dark px)");
    }
    let again = run(&dir.path().join("b"));
    for (a, b) in files.iter().zip(&again) {
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap(), "{a:?}: the same picture every run");
    }
}

/// A page shows at most `--max-rows` rows per table and says how many there are and how to get
/// all of them; the xlsx and the query keep every row.
#[test]
fn long_tables_are_cut_on_the_page_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let o = sspr(
        &[
            "--lake",
            &shared_lake_arg(),
            "report",
            "overview",
            "--max-rows",
            "7",
            "--out",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let html = std::fs::read_to_string(dir.path().join("overview.html")).unwrap();
    let section =
        html.split("data-query=\"error_codes\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert_eq!(section.matches("<tr>").count(), 1 + 7, "the header and seven rows");
    let rows = crate::util::sspr(
        &["--lake", &shared_lake_arg(), "-q", "query", "error_codes", "--format", "json"],
        &[],
    );
    let n = serde_json::from_slice::<Vec<serde_json::Value>>(&rows.stdout).unwrap().len();
    assert!(n > 7);
    assert!(
        section.contains(&format!(
            "The first 7 of {n} rows; all of them: sspr query error_codes --out error_codes.csv"
        )),
        "{section}"
    );
    let small = html.split("data-query=\"reset_funnel\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert_eq!(small.matches("<tr>").count(), 1 + 7, "the funnel's seven stages");
    assert!(!small.contains("The first"), "a table within the limit is whole");
}
