//! The command line, as clap derive types only. Nothing downstream reads these: `settings.rs`
//! resolves them (with the config file and environment) into validated settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::collectors::files::FileFormat;
use crate::output::OutputFormat;

#[derive(Debug, Parser)]
#[command(
    name = "sspr",
    version,
    about = "Audit and reporting pipeline for Microsoft Entra ID self-service password reset"
)]
pub struct Cli {
    /// Lake location: a path, file:// URL or az:// / abfss:// URL (default: config `lake`, else ./lake).
    #[arg(long, global = true, env = "SSPR_LAKE")]
    pub lake: Option<String>,
    /// Config file (TOML).
    #[arg(long, global = true, env = "SSPR_CONFIG")]
    pub config: Option<PathBuf>,
    /// More log output (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr, no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log lines as text or as JSON objects (one per line, for log collectors).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a lake from the bundled sample tenant and print the headline reports (no credentials).
    Demo(DemoArgs),
    /// Import export files or folders into the lake (format detected per file).
    Import(ImportArgs),
    /// Rebuild the derived tables (reset_attempts, registration_coverage_daily,
    /// writeback_operations, error_events) for the partitions whose inputs changed.
    Build(BuildArgs),
    /// Collect from a live source into the lake.
    Collect(CollectArgs),
    /// Preflight: config, credentials, token, permissions, endpoints, retention, estimate.
    Doctor(DoctorArgs),
    /// Run a saved query by name, or ad-hoc SQL with --sql.
    Query(QueryArgs),
    /// List the saved queries.
    Queries(QueriesArgs),
    /// One user's story across every source: sessions, writeback, DC, sign-in screen, what went
    /// wrong and what to do (the saved query `user_timeline`, told for a helpdesk).
    Explain(ExplainArgs),
    /// Render dashboards (dashboards/*.toml) as self-contained HTML pages with charts.
    Report(ReportArgs),
    /// Export the lake as Power BI-safe Parquet into a folder or storage account
    Export(ExportArgs),
    /// The unattended job: collect, import watched folders, build, reports, export, manifest.
    Nightly(NightlyArgs),
    /// Check the config file: every key resolved, where it came from, secrets masked.
    Config(ConfigArgs),
    /// Inspect the lake.
    Lake(LakeArgs),
    /// Synthetic sample data.
    Sample(SampleArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the demo lake (default: a fresh temporary directory, kept and named).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Sample data folder to import (default: the bundled tenant, generated into DIR/sample-data).
    #[arg(long)]
    pub sample: Option<PathBuf>,
    /// Time zone for day buckets.
    #[arg(long, default_value = "UTC")]
    pub tz: String,
    /// No charts under the headline tables (they are drawn only on a terminal anyway).
    #[arg(long)]
    pub no_charts: bool,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    #[command(subcommand)]
    pub source: CollectSource,
}

#[derive(Debug, Subcommand)]
pub enum CollectSource {
    /// Microsoft Graph: directoryAudits, userRegistrationDetails, users (config section `[graph]`).
    Graph {
        /// Start of the audit window (RFC 3339, YYYY-MM-DD in UTC, -7d, -12h); default: watermark
        /// minus overlap.
        #[arg(long, allow_hyphen_values = true, value_name = "TIME")]
        from: Option<String>,
        /// End of the audit window (same forms); default: now minus lag.
        #[arg(long, allow_hyphen_values = true, value_name = "TIME")]
        to: Option<String>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Leave the derived tables as they are (by default the changed days are rebuilt).
        #[arg(long)]
        no_build: bool,
    },
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files or folders (folders are searched recursively for .json, .jsonl, .ndjson, .csv, .evtx,
    /// .xml).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Force the input format instead of detecting it.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FileFormat,
    /// Snapshot date for registration/user files (default: a YYYY-MM-DD in the path, else today).
    #[arg(long)]
    pub snapshot_date: Option<chrono::NaiveDate>,
    /// Parser threads (default: number of cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// IANA zone of event-log times written without an offset (Export-Csv culture times are the
    /// exporting machine's local time).
    #[arg(long, default_value = "UTC")]
    pub source_tz: String,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Leave the derived tables as they are (by default the days this import changed are
    /// rebuilt, as `sspr build` would, so reports never read tables older than their data).
    #[arg(long)]
    pub no_build: bool,
}

/// The window and zone of a report, shared by `sspr query` and `sspr report`.
#[derive(Debug, Args)]
pub struct WindowArgs {
    /// Start of the window: RFC 3339, YYYY-MM-DD or `today` (local midnight in --tz), `-30d` /
    /// `-2w` (calendar days back, from local midnight), `-12h` / `-30m` (exactly that long ago);
    /// sets parameter `from`.
    #[arg(long, allow_hyphen_values = true, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the window (exclusive), in the same forms as --from; sets parameter `to`.
    #[arg(long, allow_hyphen_values = true, value_name = "TIME")]
    pub to: Option<String>,
    /// IANA time zone of the report: day buckets, dates given to --from/--to, and every time
    /// shown (default: config `[query] tz`, else UTC).
    #[arg(long)]
    pub tz: Option<String>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Saved query name (see `sspr queries`).
    #[arg(required_unless_present = "sql", conflicts_with = "sql")]
    pub name: Option<String>,
    /// Ad-hoc read-only SQL instead of a saved query.
    #[arg(long)]
    pub sql: Option<String>,
    /// Query parameter, repeatable: --param name=value.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Output format (default: from the --out file's extension, else table).
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Write the result to a file; its extension (.csv, .json, .ndjson, .md, .parquet) sets the
    /// format unless --format says the same.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Folder of .sql files that override or extend the embedded saved queries.
    #[arg(long)]
    pub queries_dir: Option<PathBuf>,
    /// Draw the query's chart (its `-- chart:` line) under the table, as Unicode bars or a
    /// sparkline: only on a terminal, never when piped or with NO_COLOR.
    #[arg(long, conflicts_with_all = ["explain", "analyze"])]
    pub chart: bool,
    /// Show the logical and physical plan instead of running the query.
    #[arg(long)]
    pub explain: bool,
    /// Run the query and show its physical plan with what each step did (rows, time, bytes
    /// scanned, files and row groups pruned) instead of its rows: EXPLAIN ANALYZE.
    #[arg(long, conflicts_with = "explain")]
    pub analyze: bool,
}

impl QueryArgs {
    /// `--explain` or `--analyze`: the output is the plan, not the rows.
    pub(crate) fn plan_only(&self) -> bool {
        self.explain || self.analyze
    }
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The user: UPN (jan.maes@contoso.com) or Entra object id.
    pub user: String,
    #[command(flatten)]
    pub window: WindowArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Dashboards to render (default: every one; `overview`, `operations`, `security` ship).
    pub names: Vec<String>,
    /// Folder the pages are written to (created when missing).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "html")]
    pub format: ReportFormat,
    /// Rows shown per table in HTML and Markdown pages (the rest is counted under the table;
    /// xlsx has every row).
    #[arg(long, default_value_t = crate::report::DEFAULT_MAX_ROWS)]
    pub max_rows: usize,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Folder of dashboard specs that replace or add to the shipped ones.
    #[arg(long)]
    pub dashboards_dir: Option<PathBuf>,
    /// Folder of .sql files that override or extend the saved queries.
    #[arg(long)]
    pub queries_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Target folder, share or URL (`az://`, `abfss://`); default: the config's `[export] to`.
    #[arg(long)]
    pub to: Option<String>,
    /// Export the raw tables too (audit events, registration details, users, event logs).
    #[arg(long)]
    pub raw: bool,
    /// Write again only partitions changed since a time (RFC 3339, YYYY-MM-DD, -1d, …) or since
    /// the current export (`last`); the rest is copied from it.
    #[arg(long, allow_hyphen_values = true)]
    pub since: Option<String>,
    /// Exports kept in the target, this one included (default: config, else 3).
    #[arg(long)]
    pub keep: Option<usize>,
    /// Replace identities by keyed tokens (key from SSPR_PSEUDONYM_KEY or the config's
    /// `[export] pseudonym_key_file`, never a flag).
    #[arg(long)]
    pub pseudonymize: bool,
    /// Print the manifest as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// What `sspr report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One self-contained page per dashboard.
    Html,
    /// One Markdown page per dashboard, its charts as SVG files beside it (for wikis and repos).
    Md,
    /// One PNG image per chart, `<dashboard>-<n>-<query>.png` (for mail and slides), drawn with
    /// the font the binary carries.
    Png,
    /// One Excel workbook per dashboard, a sheet per panel's table.
    Xlsx,
}

#[derive(Debug, Args)]
pub struct QueriesArgs {
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[arg(long)]
    pub queries_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Rebuild every partition, not only those whose inputs changed.
    #[arg(long)]
    pub full: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LakeArgs {
    #[command(subcommand)]
    pub command: LakeCommand,
}

#[derive(Debug, Subcommand)]
pub enum LakeCommand {
    /// Check every file against its table schema and the Power BI-safe Parquet profile.
    Verify {
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Tables, partitions, rows and bytes.
    Stats {
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Remove the writer lock of a writer that is gone (a live lock is refused unless --force).
    Unlock {
        /// Remove the lock even though its holder looks alive (only when you know it is not).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    #[command(subcommand)]
    pub command: SampleCommand,
}

#[derive(Debug, Subcommand)]
pub enum SampleCommand {
    /// Generate a deterministic synthetic tenant in the real export formats, with ground truth.
    Generate {
        #[arg(long, default_value_t = 2000)]
        users: usize,
        #[arg(long, default_value_t = 14)]
        days: u32,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Last day of the generated window (default 2026-11-14, fixed so output is reproducible).
        #[arg(long, default_value = "2026-11-14")]
        end_date: chrono::NaiveDate,
        /// SSPR sessions per 1,000 users per day.
        #[arg(long, default_value_t = 20.0)]
        session_rate: f64,
        #[arg(long)]
        out: PathBuf,
        /// Replace the sample already in --out (its export folders and ground_truth.json); without
        /// it a folder that is not empty is refused, since old files would no longer match the
        /// new ground truth.
        #[arg(long)]
        force: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sspr sample generate` with no options writes the bundled sample that `sspr demo`
    /// generates from `TenantParams::default()`.
    #[test]
    fn sample_defaults_are_the_bundled_tenant() {
        let cli = Cli::try_parse_from(["sspr", "sample", "generate", "--out", "x"]).unwrap();
        let Command::Sample(SampleArgs {
            command: SampleCommand::Generate { users, days, seed, end_date, session_rate, .. },
        }) = cli.command
        else {
            panic!("parsed as another command")
        };
        let d = crate::sample::Params::default();
        assert_eq!(
            (users, days, seed, end_date, session_rate),
            (d.users, d.days, d.seed, d.end_date, d.session_rate)
        );
    }
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct NightlyArgs {
    /// The report date, the name of the reports/<date>/ folder (default: today in the report zone).
    #[arg(long)]
    pub date: Option<chrono::NaiveDate>,
    /// Print the run manifest as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and print every key resolved: its value (secrets masked) and where it
    /// came from (file and line, environment variable, or the default).
    Check,
}
