//! `sspr doctor`: the preflight a new user runs first. Each check prints ok / problem / how to
//! fix, and the command exits 3 when any check has a problem.

use base64::Engine;
use serde::Serialize;

pub(crate) use crate::collectors::graph::cloud::GraphApi;
use crate::collectors::graph::plan::plan_run;
use crate::collectors::graph::settings::GraphSettings;
use crate::settings::Settings;

#[derive(Debug, Serialize)]
struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    pub fix: Option<String>,
}

fn ok(name: &str, detail: impl Into<String>) -> Check {
    Check { name: name.into(), ok: true, detail: detail.into(), fix: None }
}
fn problem(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check { name: name.into(), ok: false, detail: detail.into(), fix: Some(fix.into()) }
}

/// Application permissions the collector needs (reference/entra-audit.md §1.1, §3.1).
const REQUIRED_ROLES: &[&str] = &["AuditLog.Read.All", "Directory.Read.All"];

/// Runs every check; later checks are skipped when an earlier one makes them meaningless.
async fn checks(settings: &Settings) -> Vec<Check> {
    let mut out = Vec::new();
    let Some(section) = &settings.graph else {
        out.push(problem("config", "no [graph] section", "add [graph] with tenant_id, client_id and auth to the config file (README: Collecting from Microsoft Graph)"));
        return out;
    };
    let g: GraphSettings = match section.resolve() {
        Ok(g) => g,
        Err(e) => {
            out.push(problem("config", e.to_string(), "correct the [graph] section; secrets come from client_secret_file or SSPR_GRAPH_CLIENT_SECRET"));
            return out;
        }
    };
    out.push(ok(
        "config",
        format!(
            "tenant {}, app {}, {} cloud, {}",
            g.tenant_id,
            g.client_id,
            format!("{:?}", g.plan.endpoints.cloud).to_lowercase(),
            g.credential.kind()
        ),
    ));
    out.push(ok("credential", format!("{} readable", g.credential.kind())));
    let client = match g.client() {
        Ok(c) => c,
        Err(e) => {
            out.push(problem("http", e.to_string(), "check proxy and TLS settings"));
            return out;
        }
    };
    let token = match client.tokens().token().await {
        Ok(t) => t,
        Err(e) => {
            out.push(problem("token", e.to_string(), "check tenant_id, client_id and the secret/certificate; AADSTS7000215 means a wrong secret, AADSTS700016 an unknown app in this tenant or cloud"));
            return out;
        }
    };
    out.push(ok("token", format!("obtained from {}", g.plan.endpoints.token_url(&g.tenant_id))));
    out.push(roles_check(token.expose()));
    let apis = [
        (GraphApi::DirectoryAudits, "auditLogs/directoryAudits", "directoryAudits"),
        (
            GraphApi::UserRegistrationDetails,
            "reports/authenticationMethods/userRegistrationDetails",
            "userRegistrationDetails",
        ),
        (GraphApi::Users, "users", "users"),
        (GraphApi::RoleAssignments, "roleManagement/directory/roleAssignments", "roleAssignments"),
    ];
    for (api, path, name) in apis {
        if !g.plan.endpoints.cloud.supports(api) {
            out.push(problem(
                name,
                format!("not available in the {:?} cloud", g.plan.endpoints.cloud),
                "collect it from diagnostic-settings exports instead (sspr import)",
            ));
            continue;
        }
        // roleAssignments takes $filter and $expand, not $top: it is asked for unbounded.
        let top = if api == GraphApi::RoleAssignments { "" } else { "?$top=1" };
        let url = format!("{}{top}", g.plan.endpoints.graph_url("v1.0", path));
        match client.get_page(&url).await {
            Ok(_) => out.push(ok(name, format!("reachable ({url})"))),
            Err(e) => out.push(problem(name, e.to_string(), "grant the application permission and admin consent; 403 Authorization_RequestDenied means a missing permission or a licence below P1 for reports")),
        }
    }
    if g.plan.endpoints.cloud.supports(GraphApi::DirectoryAudits) {
        let old = chrono::Utc::now() - chrono::Duration::days(8);
        let filter = format!("activityDateTime le {}", old.format("%Y-%m-%dT%H:%M:%SZ"));
        let base = g.plan.endpoints.graph_url("v1.0", "auditLogs/directoryAudits");
        let url = match url::Url::parse(&base) {
            Ok(mut url) => {
                url.query_pairs_mut().append_pair("$filter", &filter).append_pair("$top", "1");
                Ok(url.to_string())
            }
            Err(e) => Err(format!("{base} is not a URL ({e})")),
        };
        let page = match url {
            Ok(url) => client.get_page(&url).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match page {
            Ok((p, _)) if p.items > 0 => out.push(ok("retention", "events older than 7 days are available (Entra ID P1/P2 keep 30 days)")),
            Ok(_) => out.push(problem("retention", "no event older than 7 days: the tenant may keep only 7 days (Entra ID Free)", "run the collector at least daily, or archive with diagnostic settings and import the archive")),
            Err(e) => out.push(problem("retention", e, "see the directoryAudits check")),
        }
    }
    match plan_run(&g.plan, None, chrono::Utc::now()) {
        Ok(run) => {
            let slices = run.slices.len() as f64;
            // At least one request per slice; real volume adds one per 999 events.
            let per_second = g.requests_per_window as f64 / g.window.as_secs_f64();
            out.push(ok(
                "estimate",
                format!(
                    "first run: {} slices over {} → {}, at least {} requests, about {:.1} minutes at {} requests / {:?} plus one request per 999 events",
                    run.slices.len(),
                    run.window_start.format("%Y-%m-%d %H:%M"),
                    run.window_end.format("%Y-%m-%d %H:%M"),
                    run.slices.len(),
                    slices / per_second / 60.0,
                    g.requests_per_window,
                    g.window
                ),
            ))
        }
        Err(e) => out.push(problem("estimate", e.to_string(), "check overlap, lag and initial_lookback")),
    }
    out
}

/// Reads the application roles from the token's payload (no signature check: Graph checks it).
fn roles_check(token: &str) -> Check {
    let payload = token
        .split('.')
        .nth(1)
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok());
    let Some(claims) = payload.and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok()) else {
        return ok(
            "permissions",
            "the token is not a readable JWT; permissions are checked by calling each endpoint below",
        );
    };
    let roles: Vec<&str> =
        claims["roles"].as_array().map(|a| a.iter().filter_map(|r| r.as_str()).collect()).unwrap_or_default();
    let missing: Vec<&str> = REQUIRED_ROLES.iter().copied().filter(|r| !roles.contains(r)).collect();
    if missing.is_empty() {
        ok("permissions", format!("application roles include {}", REQUIRED_ROLES.join(" and ")))
    } else {
        problem(
            "permissions",
            format!("missing application permission(s): {}", missing.join(", ")),
            "add them as Microsoft Graph application permissions and grant admin consent",
        )
    }
}

pub async fn run(settings: &Settings, json: bool) -> anyhow::Result<bool> {
    let checks = checks(settings).await;
    let all_ok = checks.iter().all(|c| c.ok);
    let out = if json {
        format!("{}\n", serde_json::to_string_pretty(&checks)?)
    } else {
        let mut s = String::new();
        for c in &checks {
            s.push_str(&format!("{:<8} {:<24} {}\n", if c.ok { "ok" } else { "problem" }, c.name, c.detail));
            if let Some(f) = &c.fix {
                s.push_str(&format!("{:<8} {:<24} fix: {f}\n", "", ""));
            }
        }
        s
    };
    super::stdout(out.as_bytes())?;
    Ok(all_ok)
}
