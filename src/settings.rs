//! Settings: the config file (TOML), environment and flags resolved into one validated value.
//! Precedence: flag > environment > config file > default.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::query::context::QueryConfig;

/// Upper bound for the query memory limit, to catch unit mistakes.
const MAX_MEMORY_LIMIT: usize = 1 << 40;
/// Lower bound: DataFusion needs some room to sort and aggregate.
const MIN_MEMORY_LIMIT: usize = 64 << 20;

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// Lake location (path or URL).
    pub lake: Option<String>,
    /// Folder of saved queries overriding the embedded ones.
    pub queries_dir: Option<PathBuf>,
    #[serde(default)]
    pub query: QuerySection,
    /// The live Graph collector (`sspr collect graph`, `sspr doctor`).
    pub graph: Option<crate::collectors::graph::settings::GraphSection>,
    /// Event-log routing additions (`sspr import` of Windows event logs).
    pub eventlog: Option<crate::collectors::eventlog::Routing>,
    #[serde(default)]
    pub export: ExportSection,
    /// Credentials and endpoint for an `az://` / `abfss://` lake or export target.
    #[serde(default)]
    pub storage: StorageSection,
    /// `sspr nightly`: what the unattended job collects, imports, reports and exports.
    #[serde(default)]
    pub nightly: NightlySection,
    /// `sspr nightly` mails its summary when this section is there.
    pub mail: Option<MailSection>,
    /// Days of each raw table `sspr nightly` keeps.
    #[serde(default)]
    pub retention: RetentionSection,
}

/// `[retention]`: how many days of each raw table `sspr nightly` keeps (default: every day).
/// A partition whose date is more than that many days before the report date is removed; a
/// snapshot table always keeps its newest snapshot. The derived tables follow their inputs: the
/// build that comes next removes or recomputes the days whose inputs went.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSection {
    pub audit_events: Option<u32>,
    pub registration_details: Option<u32>,
    pub users: Option<u32>,
    pub role_assignments: Option<u32>,
    pub writeback_events: Option<u32>,
    pub credential_provider_events: Option<u32>,
    pub dc_security_events: Option<u32>,
    pub ingest_ledger: Option<u32>,
    pub runs: Option<u32>,
}

impl RetentionSection {
    /// The configured tables with their days, in the lake's table order.
    pub(crate) fn tables(&self) -> Vec<(&'static crate::store::schema::TableDef, u32)> {
        use crate::store::schema::{
            AUDIT_EVENTS, CREDENTIAL_PROVIDER_EVENTS, DC_SECURITY_EVENTS, INGEST_LEDGER,
            REGISTRATION_DETAILS, ROLE_ASSIGNMENTS, RUNS, USERS, WRITEBACK_EVENTS,
        };
        [
            (&AUDIT_EVENTS, self.audit_events),
            (&REGISTRATION_DETAILS, self.registration_details),
            (&USERS, self.users),
            (&ROLE_ASSIGNMENTS, self.role_assignments),
            (&WRITEBACK_EVENTS, self.writeback_events),
            (&CREDENTIAL_PROVIDER_EVENTS, self.credential_provider_events),
            (&DC_SECURITY_EVENTS, self.dc_security_events),
            (&INGEST_LEDGER, self.ingest_ledger),
            (&RUNS, self.runs),
        ]
        .into_iter()
        .filter_map(|(t, d)| Some((t, d?)))
        .collect()
    }
}

/// `[mail]`: the nightly summary by mail, over SMTP with STARTTLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSection {
    /// The relay (`smtp.office365.com`, an internal relay).
    pub smtp_host: String,
    /// Default 587 (submission).
    pub smtp_port: Option<u16>,
    /// STARTTLS before anything is sent (default true). `false` is refused with a username: a
    /// password never crosses the network in the clear.
    pub starttls: Option<bool>,
    pub username: Option<String>,
    /// A file holding the password (never the config text).
    pub password_file: Option<PathBuf>,
    /// The sender, `SSPR reports <sspr@contoso.com>`.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// A PEM file of the CA that signed the relay's certificate, for a private PKI (the public
    /// web roots are trusted anyway).
    pub ca_file: Option<PathBuf>,
    /// Attach the overview report (default true).
    pub attach_overview: Option<bool>,
}

/// `[nightly]`: the unattended job (`sspr nightly`). Every step is on when what it needs is
/// configured: Graph when `[graph]` is, the export when `[export] to` is.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NightlySection {
    /// Where `<date>/` folders of reports go (default `reports`, beside a local lake).
    pub reports_dir: Option<PathBuf>,
    /// Saved queries written as CSV and Markdown (default: every saved query but the lookups,
    /// which need a value such as a user).
    pub queries: Option<Vec<String>>,
    /// Dashboards written as HTML (default: every dashboard).
    pub dashboards: Option<Vec<String>>,
    /// Collect from Microsoft Graph (default: when `[graph]` is configured).
    pub collect_graph: Option<bool>,
    /// Folders whose new export files are imported (`[[nightly.watch]]`).
    #[serde(default)]
    pub watch: Vec<WatchFolder>,
    /// Export for Power BI to `[export] to` (default: when it is set).
    pub export: Option<bool>,
    /// Report folders older than this many days are removed (default: all kept).
    pub keep_reports_days: Option<u32>,
    /// IANA zone of event-log times written without an offset, as `sspr import --source-tz`.
    pub source_tz: Option<String>,
    /// A file holding the URL the summary is POSTed to as JSON (a Teams or Slack incoming
    /// webhook; the URL carries its token, so it is kept out of the config text).
    pub webhook_url_file: Option<PathBuf>,
}

/// A folder `sspr nightly` imports new files from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchFolder {
    pub path: PathBuf,
    /// File-name patterns (`*`, `?`) a file must match (default: every file `sspr import` reads).
    #[serde(default)]
    pub include: Vec<String>,
    /// File-name patterns that leave a file out (`*.tmp`, `~$*`).
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// `[storage]`: Azure Blob / ADLS Gen2 credentials. Secrets come from files, never from the config
/// text itself; the standard `AZURE_STORAGE_*` environment variables win over every key.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StorageSection {
    /// The storage account (else the URL's, else `AZURE_STORAGE_ACCOUNT_NAME`).
    pub account: Option<String>,
    /// A file holding the account key.
    pub access_key_file: Option<PathBuf>,
    /// A file holding a SAS token (`sv=…&sig=…`).
    pub sas_token_file: Option<PathBuf>,
    /// An app registration: client id, tenant id and a file holding its secret.
    pub client_id: Option<String>,
    pub tenant_id: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    /// The client id of a user-assigned managed identity (with no other credential, the
    /// machine's managed identity is used anyway).
    pub managed_identity_client_id: Option<String>,
    /// Where the app registration's token comes from: the public cloud's
    /// `https://login.microsoftonline.com` unless set (a national cloud's login host).
    pub authority_host: Option<String>,
    /// Another endpoint (a private endpoint, Azurite: `http://127.0.0.1:10000/devstoreaccount1`).
    pub endpoint: Option<String>,
    /// The Azurite emulator's well-known account.
    pub use_emulator: Option<bool>,
}

impl StorageSection {
    /// The section as `object_store` Azure options, secrets read from their files.
    fn options(&self) -> Result<Vec<(String, String)>> {
        let secret = |key: &str, p: &Path| -> Result<String> {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Error::Config(format!("storage.{key} {}: {e}", p.display())))?;
            let text = text.trim().to_string();
            if text.is_empty() {
                return Err(Error::Config(format!("storage.{key} {} is empty", p.display())));
            }
            Ok(text)
        };
        let mut o = Vec::new();
        let mut put = |k: &str, v: String| o.push((k.to_string(), v));
        if let Some(a) = &self.account {
            put("azure_storage_account_name", a.clone());
        }
        if let Some(p) = &self.access_key_file {
            put("azure_storage_account_key", secret("access_key_file", p)?);
        }
        if let Some(p) = &self.sas_token_file {
            put("azure_storage_sas_key", secret("sas_token_file", p)?.trim_start_matches('?').to_string());
        }
        if let Some(c) = self.client_id.as_ref().or(self.managed_identity_client_id.as_ref()) {
            put("azure_storage_client_id", c.clone());
        }
        if let Some(t) = &self.tenant_id {
            put("azure_storage_tenant_id", t.clone());
        }
        if let Some(p) = &self.client_secret_file {
            put("azure_storage_client_secret", secret("client_secret_file", p)?);
        }
        if let Some(h) = &self.authority_host {
            put("azure_authority_host", h.trim_end_matches('/').to_string());
        }
        if let Some(e) = &self.endpoint {
            if e.starts_with("http://") {
                put("allow_http", "true".into());
            }
            put("azure_storage_endpoint", e.clone());
        }
        if let Some(on) = self.use_emulator {
            put("azure_storage_use_emulator", on.to_string());
        }
        Ok(o)
    }
}

/// `[export]`: the Power BI export.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSection {
    /// Default target folder or URL of `sspr export`.
    pub to: Option<String>,
    /// A file holding the pseudonymisation key (at least 32 bytes); `SSPR_PSEUDONYM_KEY` is the
    /// other way. Never a flag.
    pub pseudonym_key_file: Option<PathBuf>,
    /// Tokenise user object ids too (default false: they are not personal in themselves).
    pub pseudonymize_ids: Option<bool>,
    /// Exports kept in the target (default 3).
    pub keep: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuerySection {
    /// e.g. "2GiB", "512MiB".
    pub memory_limit: Option<String>,
    pub target_partitions: Option<usize>,
    /// Default time zone for reports.
    pub tz: Option<String>,
    /// Our DataFusion extensions (default on; see `QueryConfig::extensions`).
    pub extensions: Option<bool>,
    /// Business hours, Monday to Friday on the report zone's clock: [start hour, end hour).
    pub business_hours: Option<[u32; 2]>,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub lake: String,
    pub queries_dir: Option<PathBuf>,
    pub query: QueryConfig,
    pub tz: String,
    /// The `[graph]` section, resolved (secrets read) only by the commands that need it.
    pub graph: Option<crate::collectors::graph::settings::GraphSection>,
    /// Where the config came from, for messages.
    pub config_path: Option<std::path::PathBuf>,
    /// Event-log routing: the defaults plus the config's `[eventlog]` additions.
    pub routing: crate::collectors::eventlog::Routing,
    /// The `[export]` section.
    pub export: ExportSection,
    /// The `[nightly]` section.
    pub nightly: NightlySection,
    /// The `[mail]` section.
    pub mail: Option<MailSection>,
    /// The `[retention]` section.
    pub retention: RetentionSection,
    /// The config as read, with the environment's overrides and where each key came from.
    pub layered: crate::config::Layered,
}

impl Settings {
    /// Resolves from the flags and an optional config file.
    pub fn resolve(lake_flag: Option<&str>, config: Option<&Path>) -> Result<Self> {
        let env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("SSPR_")).collect();
        let layered = crate::config::Layered::load(config, &env)?;
        let file = ConfigFile::deserialize(toml::Value::Table(layered.table.clone())).map_err(|e| {
            let place = config.map(|p| format!("{}: ", p.display())).unwrap_or_default();
            Error::Config(format!("{place}{}", e.to_string().trim()))
        })?;
        let mut query = QueryConfig::default();
        if let Some(m) = &file.query.memory_limit {
            query.memory_limit = parse_size(m).map_err(Error::Config)?;
            if !(MIN_MEMORY_LIMIT..=MAX_MEMORY_LIMIT).contains(&query.memory_limit) {
                return Err(Error::Config(format!("query.memory_limit {m} is outside 64MiB..1TiB")));
            }
        }
        if let Some(n) = file.query.target_partitions {
            if n == 0 {
                return Err(Error::Config("query.target_partitions must be at least 1".into()));
            }
            query.target_partitions = n;
        }
        if let Some(on) = file.query.extensions {
            query.extensions = on.into();
        }
        if let Some([start, end]) = file.query.business_hours {
            if start >= end || end > 24 {
                return Err(Error::Config(format!(
                    "[query] business_hours = [{start}, {end}]: give [start, end) hours with start < end <= 24"
                )));
            }
            query.business_hours = (start, end);
        }
        let tz = file.query.tz.clone().unwrap_or_else(|| "UTC".into());
        validate_tz(&tz)?;
        crate::store::layout::set_storage_options(file.storage.options().map_err(|e| match (e, config) {
            (Error::Config(m), Some(p)) => Error::Config(format!("{}: {m}", p.display())),
            (e, _) => e,
        })?);
        for (table, days) in file.retention.tables() {
            if days == 0 {
                return Err(Error::Config(format!(
                    "[retention] {} = 0 would remove today's data: give at least 1 day, or leave the key out to keep every day",
                    table.name
                )));
            }
        }
        Ok(Self {
            lake: lake_flag.map(str::to_string).or(file.lake).unwrap_or_else(|| "./lake".into()),
            queries_dir: file.queries_dir,
            query,
            tz,
            graph: file.graph,
            config_path: config.map(Path::to_path_buf),
            export: file.export,
            nightly: file.nightly,
            mail: file.mail,
            retention: file.retention,
            layered,
            routing: {
                let mut r = crate::collectors::eventlog::Routing::default();
                if let Some(extra) = &file.eventlog {
                    r.extend(extra);
                }
                r
            },
        })
    }
}

impl Settings {
    /// The pseudonymisation key: `SSPR_PSEUDONYM_KEY`, else the config's `pseudonym_key_file`.
    /// Returns the key and where it came from, for errors.
    pub(crate) fn pseudonym_key(&self) -> Result<(Vec<u8>, String)> {
        if let Ok(k) = std::env::var(crate::export::pseudonym::KEY_ENV) {
            return Ok((k.into_bytes(), crate::export::pseudonym::KEY_ENV.to_string()));
        }
        match &self.export.pseudonym_key_file {
            Some(p) => Ok((
                std::fs::read(p).map_err(|e| Error::io(p, e))?,
                format!("export.pseudonym_key_file {}", p.display()),
            )),
            None => Err(Error::Config(format!(
                "--pseudonymize needs a key: set {} or `pseudonym_key_file` in the config's [export] section",
                crate::export::pseudonym::KEY_ENV
            ))),
        }
    }

    /// Collector state (checkpoints, spool): `state_dir` if given, else `<lake>/_state` for a
    /// local lake, else `./sspr-state`.
    pub(crate) fn state_dir(&self, configured: Option<&Path>) -> PathBuf {
        if let Some(p) = configured {
            return p.to_path_buf();
        }
        match crate::store::layout::LakeRoot::local_dir(&self.lake) {
            Some(dir) => dir.join(crate::store::layout::STATE_DIR),
            None => PathBuf::from("sspr-state"),
        }
    }
}

/// Checks an IANA time zone name.
pub(crate) fn validate_tz(tz: &str) -> Result<chrono_tz::Tz> {
    tz.parse::<chrono_tz::Tz>().map_err(|_| {
        Error::Config(format!("unknown time zone {tz:?} (use an IANA name such as Europe/Brussels)"))
    })
}

/// Parses "512MiB", "2GiB", "1G", "1048576".
fn parse_size(s: &str) -> std::result::Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num.parse().map_err(|_| format!("{s:?} is not a size"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => return Err(format!("unknown size unit {other:?}")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_is_validated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sspr.toml");
        std::fs::write(&p, "lake = \"/x\"\n[query]\nmemory_limit = \"1GiB\"\n").unwrap();
        let s = Settings::resolve(None, Some(&p)).unwrap();
        assert_eq!((s.lake.as_str(), s.query.memory_limit), ("/x", 1 << 30));
        assert_eq!(Settings::resolve(Some("/y"), Some(&p)).unwrap().lake, "/y");
        std::fs::write(&p, "lak = \"/x\"\n").unwrap();
        let e = Settings::resolve(None, Some(&p)).unwrap_err().to_string();
        assert!(e.contains("sspr.toml:1: unknown key `lak`; did you mean `lake`?"), "{e}");
        std::fs::write(&p, "[query]\nmemory_limit = \"1KiB\"\n").unwrap();
        assert!(Settings::resolve(None, Some(&p)).is_err());
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert!(parse_size("lots").is_err());
    }
}
