//! Saved queries: `queries/*.sql` embedded in the binary (or read from `--queries-dir`), each with
//! a header giving its name, title, description, typed parameters and an optional chart hint.
//!
//! ```sql
//! -- name: reset_success_daily
//! -- title: Reset success per day
//! -- description: SSPR sessions (correlation ids) started and succeeded per local day.
//! -- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, tz:string=UTC
//! -- chart: line x=day y=success_rate_pct
//! SELECT … WHERE started_at >= $from AND started_at < $to …
//! ```
//!
//! Parameters are bound as DataFusion placeholders (`$name`), never spliced into the text, and
//! queries run with DDL, DML and statements disallowed.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::Utc;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigExtension;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::query::materialize::SsprOptions;
use crate::query::params::{ParamType, check_window, parse_value};

macro_rules! include_query {
    ($name:literal) => {
        ($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/queries/", $name, ".sql")))
    };
}

/// Every saved query shipped in the binary.
pub const EMBEDDED: &[(&str, &str)] = &[
    include_query!("registration_coverage"),
    include_query!("registration_coverage_by_role"),
    include_query!("reset_success_daily"),
    include_query!("reset_failures_by_reason"),
    include_query!("error_codes"),
    include_query!("writeback_errors"),
    include_query!("writeback_health"),
    include_query!("credential_provider_errors"),
    include_query!("dc_password_resets"),
    include_query!("registration_coverage_trend"),
    include_query!("users_not_covered"),
    include_query!("coverage_lost"),
    include_query!("new_users_unregistered"),
    include_query!("reset_funnel"),
    include_query!("reset_by_client_kind"),
    include_query!("errors_by_hour"),
    include_query!("time_to_reset"),
    include_query!("top_errors_this_week"),
    include_query!("blocked_users"),
    include_query!("resets_per_ip"),
    include_query!("verification_recon"),
    include_query!("bulk_admin_resets"),
    include_query!("reset_by_method"),
    include_query!("sms_voice_only_resets_from_rare_ip"),
    include_query!("register_then_reset"),
    include_query!("unclassified_steps"),
    include_query!("user_timeline"),
    include_query!("registration_by_method"),
    include_query!("registration_by_method_group"),
    include_query!("reset_users"),
    include_query!("resets_outside_business_hours"),
    include_query!("admin_self_resets"),
    include_query!("password_activity_daily"),
    include_query!("repeated_password_rejections"),
    include_query!("password_operations_per_user_daily"),
    include_query!("registration_activity_daily"),
    include_query!("user_registration_details"),
    include_query!("sspr_activity_events"),
    include_query!("reset_then_privileged_operation"),
];

/// One declared parameter.
#[derive(Debug, Clone, Serialize)]
pub struct ParamSpec {
    pub name: String,
    pub ty: ParamType,
    pub default: Option<String>,
    /// The values a `string(a|b|c)` parameter accepts (empty: any).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

/// A parsed saved query.
#[derive(Debug, Clone, Serialize)]
pub struct SavedQuery {
    pub name: String,
    pub title: String,
    pub description: String,
    pub params: Vec<ParamSpec>,
    pub chart: Option<String>,
    /// Engine settings for this query alone (`-- settings: key=value, …`), DataFusion option
    /// keys such as `datafusion.execution.parquet.pushdown_filters`, or ours such as
    /// `sspr.materialize_ctes`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<(String, String)>,
    #[serde(skip)]
    pub sql: String,
}

impl SavedQuery {
    /// Parses the header and body of a query file.
    pub(crate) fn parse(origin: &str, text: &str) -> Result<Self> {
        let bad = |m: String| Error::Query { query: origin.to_string(), message: m };
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        let mut last: Option<String> = None;
        for line in text.lines() {
            let Some(rest) = line.trim_start().strip_prefix("--") else {
                if line.trim().is_empty() {
                    continue;
                }
                break;
            };
            // A field's value continues on lines indented past `-- ` (long descriptions); any
            // other comment ends the header and belongs to the SQL below it.
            let continues = rest.starts_with("  ");
            let rest = rest.trim();
            match rest.split_once(':') {
                Some((k, v)) if !continues && !k.contains(' ') && !k.is_empty() => {
                    fields.insert(k.to_string(), v.trim().to_string());
                    last = Some(k.to_string());
                }
                _ if continues => {
                    if let Some(k) = &last
                        && let Some(v) = fields.get_mut(k)
                    {
                        v.push(' ');
                        v.push_str(rest);
                    }
                }
                _ => break,
            }
        }
        let name = fields.remove("name").ok_or_else(|| bad("header has no `-- name:`".into()))?;
        let title = fields.remove("title").ok_or_else(|| bad("header has no `-- title:`".into()))?;
        let params = parse_params(fields.get("params").map(String::as_str).unwrap_or(""))
            .map_err(|m| bad(format!("-- params: {m}")))?;
        let settings = parse_settings(fields.get("settings").map(String::as_str).unwrap_or(""))
            .map_err(|m| bad(format!("-- settings: {m}")))?;
        Ok(Self {
            name,
            title,
            description: fields.remove("description").unwrap_or_default(),
            params,
            chart: fields.remove("chart"),
            settings,
            sql: text.to_string(),
        })
    }

    /// The session this query runs in: `ctx` itself, or a copy of its state (same tables, views
    /// and functions) with the query's `-- settings:` applied, so they never leak into the next
    /// query run on `ctx`.
    fn session(&self, ctx: &SessionContext) -> Result<SessionContext> {
        if self.settings.is_empty() {
            return Ok(ctx.clone());
        }
        let mut state = ctx.state();
        for (k, v) in &self.settings {
            state.config_mut().options_mut().set(k, v).map_err(|e| Error::Query {
                query: self.name.clone(),
                message: format!("-- settings: {k}={v}: {e}"),
            })?;
        }
        Ok(SessionContext::new_with_state(state))
    }

    /// Plans this query with bound parameter values, in its own session (see [`Self::session`]).
    pub async fn plan(
        &self,
        ctx: &SessionContext,
        params: HashMap<String, ScalarValue>,
    ) -> Result<DataFrame> {
        plan(&self.session(ctx)?, &self.name, &self.sql, params).await
    }

    /// A lookup rather than a report: a parameter has no default (`user_timeline`'s user), so it
    /// runs only when asked for one, never in a batch of every query (`sspr demo`, the nightly's
    /// default list).
    pub fn is_lookup(&self) -> bool {
        self.params.iter().any(|p| p.default.is_none())
    }

    /// The values a run gives the parameters the query declares from its setting rather than from
    /// the user: `tz` (the report zone), `start_hour` / `end_hour` (`[query] business_hours`).
    /// Values given by the user win over them.
    pub(crate) fn context_params(
        &self,
        tz: &str,
        cfg: &crate::query::context::QueryConfig,
    ) -> BTreeMap<String, String> {
        let (start, end) = cfg.business_hours;
        [("tz", tz.to_string()), ("start_hour", start.to_string()), ("end_hour", end.to_string())]
            .into_iter()
            .filter(|(k, _)| self.params.iter().any(|p| p.name == *k))
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    /// The parameter names, for messages (`from, to, tz`, or `none`).
    pub(crate) fn param_names(&self) -> String {
        if self.params.is_empty() {
            return "no parameters".into();
        }
        self.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Resolves the given values (and defaults) into placeholder values, checking names and types.
    pub fn bind(
        &self,
        given: &BTreeMap<String, String>,
        tz: &chrono_tz::Tz,
    ) -> Result<HashMap<String, ScalarValue>> {
        for k in given.keys() {
            if !self.params.iter().any(|p| &p.name == k) {
                return Err(Error::Parameter {
                    name: k.clone(),
                    message: format!(
                        "query {} has no such parameter (it takes: {})",
                        self.name,
                        self.param_names()
                    ),
                });
            }
        }
        let mut out = HashMap::new();
        for p in &self.params {
            let text = given.get(&p.name).or(p.default.as_ref()).ok_or_else(|| Error::Parameter {
                name: p.name.clone(),
                message: format!("query {} needs a value (--param {}=…)", self.name, p.name),
            })?;
            if !p.choices.is_empty() && !p.choices.iter().any(|c| c == text.trim()) {
                return Err(Error::Parameter {
                    name: p.name.clone(),
                    message: format!("{:?} is not one of {}", text.trim(), p.choices.join(", ")),
                });
            }
            let value = parse_value(p.ty, text, tz, Utc::now())
                .map_err(|m| Error::Parameter { name: p.name.clone(), message: m })?;
            out.insert(p.name.clone(), value);
        }
        check_window(&out)?;
        Ok(out)
    }
}

/// `key=value, key=value`: DataFusion option keys (`datafusion.…`) or ours (`sspr.…`, see
/// [`crate::query::materialize::SsprOptions`]) and their values; whether the engine knows them is
/// checked when the query's session is made.
fn parse_settings(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = item.split_once('=').ok_or_else(|| format!("{item:?} is not key=value"))?;
        let (k, v) = (k.trim(), v.trim());
        let namespace = k.split_once('.').map(|(n, _)| n);
        if !matches!(namespace, Some("datafusion" | SsprOptions::PREFIX)) || v.is_empty() {
            return Err(format!("{item:?}: expected datafusion.<option>=<value> or sspr.<option>=<value>"));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

fn parse_params(text: &str) -> std::result::Result<Vec<ParamSpec>, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (decl, default) = match item.split_once('=') {
            Some((d, v)) => (d.trim(), Some(v.trim().to_string())),
            None => (item, None),
        };
        let (name, ty) =
            decl.split_once(':').ok_or_else(|| format!("{item:?} must be name:type[=default]"))?;
        let (ty, choices) = match ty.trim().strip_prefix("string(").and_then(|c| c.strip_suffix(')')) {
            Some(list) => {
                let choices: Vec<String> = list.split('|').map(|c| c.trim().to_string()).collect();
                if choices.iter().any(String::is_empty) {
                    return Err(format!("{item:?}: string(a|b|…) lists its values, none empty"));
                }
                ("string", choices)
            }
            None => (ty.trim(), Vec::new()),
        };
        if let (Some(d), false) = (&default, choices.is_empty())
            && !choices.contains(d)
        {
            return Err(format!("{item:?}: the default {d:?} is not one of its values"));
        }
        let ty = match ty {
            "string" => ParamType::String,
            "int" => ParamType::Int,
            "float" => ParamType::Float,
            "bool" => ParamType::Bool,
            "date" => ParamType::Date,
            "timestamp" => ParamType::Timestamp,
            other => {
                return Err(format!("unknown type {other:?} (string, int, float, bool, date, timestamp)"));
            }
        };
        out.push(ParamSpec { name: name.trim().to_string(), ty, default, choices });
    }
    Ok(out)
}

/// The catalogue of saved queries: embedded ones, overridden or extended by a folder.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    pub queries: Vec<SavedQuery>,
}

impl Registry {
    /// The embedded queries, then every `*.sql` of `dir` (same name replaces).
    pub fn load(dir: Option<&Path>) -> Result<Self> {
        let mut queries = Vec::new();
        for (origin, text) in EMBEDDED {
            queries.push(SavedQuery::parse(origin, text)?);
        }
        if let Some(dir) = dir {
            for f in crate::util::files_with_extension(dir, "sql").map_err(|e| Error::io(dir, e))? {
                let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
                let q = SavedQuery::parse(&f.display().to_string(), &text)?;
                queries.retain(|x| x.name != q.name);
                queries.push(q);
            }
        }
        queries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self { queries })
    }

    pub fn get(&self, name: &str) -> Result<&SavedQuery> {
        self.queries.iter().find(|q| q.name == name).ok_or_else(|| {
            Error::usage(format!(
                "no saved query named {name:?}; `sspr queries` lists them (known: {})",
                self.queries.iter().map(|q| q.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

/// Options that keep user SQL read-only.
fn read_only() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// Plans `sql` read-only and binds placeholder values.
pub(crate) async fn plan(
    ctx: &SessionContext,
    origin: &str,
    sql: &str,
    params: HashMap<String, ScalarValue>,
) -> Result<DataFrame> {
    let wrap = |e: datafusion::error::DataFusionError| Error::Query {
        query: origin.to_string(),
        message: e.to_string(),
    };
    let df = ctx.sql_with_options(sql, read_only()).await.map_err(wrap)?;
    if params.is_empty() {
        return Ok(df);
    }
    df.with_param_values(params).map_err(wrap)
}

/// Runs a saved query with the given parameter values.
pub async fn run(
    ctx: &SessionContext,
    q: &SavedQuery,
    given: &BTreeMap<String, String>,
    tz: &chrono_tz::Tz,
) -> Result<Vec<RecordBatch>> {
    let params = q.bind(given, tz)?;
    let df = q.plan(ctx, params).await?;
    df.collect().await.map_err(|e| Error::Query { query: q.name.clone(), message: e.to_string() })
}

#[cfg(test)]
mod tests;
