//! `sspr explain USER`: the helpdesk's "why could Jan not reset yesterday?". Runs the saved query
//! `user_timeline` (every source's events for one user, in time order) and tells it as a story:
//! who the user is, their registration, each reset session with its steps and the writeback, DC
//! and sign-in-screen events that belong to it, what went wrong and what to do about it.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use datafusion::scalar::ScalarValue;

use crate::cli::ExplainArgs;
use crate::error::Error;
use crate::output;
use crate::query::consistent;
use crate::settings::{Settings, validate_tz};
use crate::store::Lake;

/// A DC or sign-in-screen event belongs to a session when it falls between a little before its
/// first step and a little after its last (the writeback's DC reset lands seconds after the new
/// password; the sign-in screen logs just before the first step).
const BEFORE: chrono::Duration = chrono::Duration::minutes(2);
const AFTER: chrono::Duration = chrono::Duration::minutes(5);
/// Details longer than this are cut on screen (`sspr query user_timeline` has them whole).
pub(crate) const DETAIL: usize = 120;

pub async fn run(settings: &Settings, args: &ExplainArgs) -> anyhow::Result<()> {
    let tz_name = args.window.tz.clone().unwrap_or_else(|| settings.tz.clone());
    let tz = validate_tz(&tz_name)?;
    let registry = super::query::registry(settings, None)?;
    let q = registry.get("user_timeline")?;
    let mut given: BTreeMap<String, String> = BTreeMap::new();
    given.insert("user".into(), args.user.trim().to_string());
    for (k, v) in [("from", &args.window.from), ("to", &args.window.to)] {
        if let Some(v) = v {
            given.insert(k.to_string(), v.clone());
        }
    }
    if args.user.trim().is_empty() {
        return Err(Error::usage("sspr explain needs a user: a UPN or an object id").into());
    }
    let params = q.bind(&given, &tz)?;
    let lake = Lake::open_existing(&settings.lake).await?;
    let (batches, schema, ctx) =
        consistent::collect(&lake, &settings.query, &q.name, async |ctx| q.plan(ctx, params.clone()).await)
            .await?;
    let (batches, schema) = output::in_zone(&batches, schema, tz.name())?;
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let rows: Vec<Row> = output::human_rows(&batches)?
        .into_iter()
        .map(|values| Row(names.iter().cloned().zip(values).collect()))
        .collect();
    let window = match (&args.window.from, &args.window.to) {
        (None, None) => "all data in the lake".to_string(),
        (f, t) => format!("{} → {}", f.as_deref().unwrap_or("start"), t.as_deref().unwrap_or("now")),
    };
    if rows.is_empty() {
        return Err(anyhow::anyhow!(
            "nothing in the lake names {:?} in {window}: check the UPN or object id (sspr query \
             users_not_covered lists users by UPN), or widen --from / --to",
            args.user.trim()
        ));
    }
    let who = profile(&ctx, args.user.trim()).await;
    let text = story(&rows, who.as_ref(), args.user.trim(), &window, tz.name());
    super::stdout(text.as_bytes())
}

/// One row of `user_timeline`, by column name.
struct Row(HashMap<String, String>);

impl Row {
    fn get(&self, k: &str) -> &str {
        self.0.get(k).map(String::as_str).unwrap_or("")
    }
}

/// Who the user is, from the newest users snapshot that holds them.
struct Profile {
    upn: String,
    name: String,
    id: String,
    enabled: String,
    user_type: String,
    department: String,
}

async fn profile(ctx: &datafusion::prelude::SessionContext, user: &str) -> Option<Profile> {
    let sql = "SELECT user_principal_name, display_name, user_id, \
               CASE WHEN account_enabled THEN 'enabled' WHEN NOT account_enabled THEN 'disabled' END AS enabled, \
               user_type, department \
               FROM users WHERE lower(user_principal_name) = lower($1) OR user_id = $1 \
               ORDER BY snapshot_date DESC LIMIT 1";
    let df =
        ctx.sql(sql).await.ok()?.with_param_values(vec![ScalarValue::Utf8(Some(user.to_string()))]).ok()?;
    let batches = df.collect().await.ok()?;
    let row = output::human_rows(&batches).ok()?.into_iter().next()?;
    let [upn, name, id, enabled, user_type, department] = <[String; 6]>::try_from(row).ok()?;
    Some(Profile { upn, name, id, enabled, user_type, department })
}

/// A reset session: the rows of one correlation id, and the DC and sign-in-screen events that
/// fall within it.
struct Session<'a> {
    id: String,
    rows: Vec<&'a Row>,
}

impl Session<'_> {
    fn start(&self) -> &str {
        self.rows.first().map(|r| r.get("time")).unwrap_or("")
    }
    fn end(&self) -> &str {
        self.rows.last().map(|r| r.get("time")).unwrap_or("")
    }
    /// How the session ended: succeeded when any cloud step says so, else the last cloud step
    /// that is not progress, else "no final step logged".
    fn outcome(&self) -> (String, String) {
        let cloud = || self.rows.iter().filter(|r| r.get("source") == "cloud");
        if cloud().any(|r| r.get("outcome") == "succeeded") {
            return ("succeeded".into(), String::new());
        }
        match cloud().rfind(|r| !matches!(r.get("outcome"), "progress" | "success" | "")) {
            Some(r) => (r.get("outcome").to_string(), r.get("stage").to_string()),
            None => ("no final step logged".into(), String::new()),
        }
    }
    /// The first explained problem: a server or DC error with its meaning, else a cloud failure.
    fn problem(&self) -> Option<&Row> {
        let explained = self.rows.iter().find(|r| !r.get("meaning").is_empty() && r.get("source") != "cloud");
        explained.or_else(|| self.rows.iter().find(|r| !r.get("meaning").is_empty())).copied()
    }
}

fn story(rows: &[Row], who: Option<&Profile>, user: &str, window: &str, tz: &str) -> String {
    let mut s = String::new();
    match who {
        Some(p) => {
            let _ =
                writeln!(s, "{} <{}>", if p.name.is_empty() { "(no display name)" } else { &p.name }, p.upn);
            let facts: Vec<String> = [
                ("object id", &p.id),
                ("account", &p.enabled),
                ("type", &p.user_type),
                ("department", &p.department),
            ]
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
            let _ = writeln!(s, "{}", facts.join(" · "));
        }
        None => {
            let _ = writeln!(s, "{user} (not in any users snapshot)");
        }
    }
    let _ = writeln!(s, "Window: {window} · times in {tz}\n");

    let registration: Vec<&Row> = rows.iter().filter(|r| r.get("source") == "registration").collect();
    if !registration.is_empty() {
        s.push_str("Registration\n");
        for r in &registration {
            let capable = if r.get("outcome") == "sspr_capable" { "can reset" } else { "CANNOT reset" };
            let _ =
                writeln!(s, "  {}  {}: {capable}, {}", &r.get("time")[..10], r.get("event"), r.get("detail"));
        }
        s.push('\n');
    }

    // Sessions by correlation id, in order of their first row.
    let mut sessions: Vec<Session> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in rows.iter().filter(|r| !r.get("correlation_id").is_empty()) {
        let id = r.get("correlation_id").to_string();
        let i = *index.entry(id.clone()).or_insert_with(|| {
            sessions.push(Session { id, rows: Vec::new() });
            sessions.len() - 1
        });
        sessions[i].rows.push(r);
    }
    // Each session's own span, from its correlated rows, before anything is attached to it.
    let spans: Vec<(String, String)> =
        sessions.iter().map(|x| (x.start().to_string(), x.end().to_string())).collect();
    let mut other = Vec::new();
    for r in rows.iter().filter(|r| r.get("correlation_id").is_empty() && r.get("source") != "registration") {
        match spans.iter().position(|(start, end)| within(r.get("time"), start, end)) {
            Some(i) => sessions[i].rows.push(r),
            None => other.push(r),
        }
    }
    for x in &mut sessions {
        x.rows.sort_by(|a, b| a.get("time").cmp(b.get("time")));
    }
    for x in &sessions {
        let first = x.rows.first().copied();
        let ip = x.rows.iter().map(|r| r.get("ip")).find(|v| !v.is_empty()).unwrap_or("");
        let (outcome, stage) = x.outcome();
        let by = x.rows.iter().map(|r| r.get("by_other")).find(|v| !v.is_empty());
        let kind = match by {
            Some(admin) => format!("Reset by {admin}"),
            None => "Session".to_string(),
        };
        let _ = writeln!(
            s,
            "{kind} {} · {}{} · {}{}",
            x.id,
            x.start(),
            if ip.is_empty() { String::new() } else { format!(" from {ip}") },
            outcome.to_uppercase(),
            if stage.is_empty() || outcome == "succeeded" { String::new() } else { format!(" at {stage}") },
        );
        for r in &x.rows {
            line(&mut s, r);
        }
        if first.is_some() {
            s.push('\n');
        }
    }
    if !other.is_empty() {
        s.push_str("Other events\n");
        for r in &other {
            line(&mut s, r);
        }
        s.push('\n');
    }

    // In short.
    let total = sessions.len();
    let succeeded = sessions.iter().filter(|x| x.outcome().0 == "succeeded").count();
    let _ = write!(s, "In short: {total} session(s), {succeeded} succeeded");
    let failed: Vec<&Session> = sessions.iter().filter(|x| x.outcome().0 != "succeeded").collect();
    match failed.last() {
        None => s.push_str(".\n"),
        Some(last) => {
            let (outcome, stage) = last.outcome();
            let _ = writeln!(
                s,
                ", {} not. The last one ({}) ended {outcome}{}.",
                failed.len(),
                last.start(),
                if stage.is_empty() { String::new() } else { format!(" at {stage}") }
            );
            match last.problem() {
                Some(p) => {
                    let _ = writeln!(s, "What went wrong: {}", p.get("meaning"));
                    if !p.get("resolution").is_empty() {
                        let _ = writeln!(s, "What to do: {}", p.get("resolution"));
                    }
                }
                None => {
                    let detail = last
                        .rows
                        .iter()
                        .rev()
                        .find(|r| r.get("source") == "cloud" && r.get("outcome") != "progress")
                        .map(|r| r.get("detail"))
                        .unwrap_or("the session logged no final step (the user may have closed the page)");
                    let _ = writeln!(s, "Last step: {detail}");
                }
            }
        }
    }
    if registration.last().is_some_and(|r| r.get("outcome") != "sspr_capable") {
        s.push_str("Note: in the latest registration snapshot shown above, the user cannot reset.\n");
    }
    s
}

/// One event: time, source, what, outcome, detail, and the meaning and fix of an error.
fn line(s: &mut String, r: &Row) {
    let time = r.get("time");
    let clock = time.get(11..19).unwrap_or(time);
    let what = match (r.get("source"), r.get("stage")) {
        ("cloud", stage) if !stage.is_empty() => stage.to_string(),
        _ => r.get("event").to_string(),
    };
    let where_ =
        if r.get("computer").is_empty() { String::new() } else { format!(" on {}", r.get("computer")) };
    let _ = writeln!(
        s,
        "  {clock}  {:<9}  {:<34} {:<10} {}{where_}",
        r.get("source"),
        crate::charts::cut(&what, 34),
        r.get("outcome"),
        crate::charts::cut(r.get("detail"), DETAIL)
    );
    if !r.get("meaning").is_empty() {
        let _ = writeln!(s, "            what went wrong: {}", r.get("meaning"));
        if !r.get("resolution").is_empty() {
            let _ = writeln!(s, "            what to do:      {}", r.get("resolution"));
        }
    }
}

/// `time` within [start - BEFORE, end + AFTER] (times as `YYYY-MM-DD HH:MM:SS`, one zone).
fn within(time: &str, start: &str, end: &str) -> bool {
    let parse = |t: &str| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").ok();
    match (parse(time), parse(start), parse(end)) {
        (Some(t), Some(a), Some(b)) => t >= a - BEFORE && t <= b + AFTER,
        _ => false,
    }
}
