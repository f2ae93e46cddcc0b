//! The `sspr` binary: parse arguments, start logging, run, map the outcome to an exit code.
//!
//! Exit codes: one map for every command, in [`sspr_analytics::error::exit`] (and the README).

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use sspr_analytics::cli::{Cli, Command};
use sspr_analytics::commands;
use sspr_analytics::error::exit;
use sspr_analytics::settings::Settings;

/// mimalloc: imports and reports allocate many small strings on several threads and free them on
/// others (chunk buffers, rows), where it is markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    init_logging(cli.verbose, cli.quiet, cli.log_format);
    // `demo` builds its own lake in --dir; a --lake typed on its command line would be ignored, so
    // it is refused (SSPR_LAKE or a config's `lake` are left alone: they serve the other commands).
    if matches!(cli.command, Command::Demo(_))
        && matches.value_source("lake") == Some(clap::parser::ValueSource::CommandLine)
    {
        eprintln!(
            "error: sspr demo builds its lake in --dir DIR (as DIR/lake); --lake is for the other commands"
        );
        return ExitCode::from(exit::USAGE);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::from(exit::SUCCESS),
        Ok(false) => ExitCode::from(exit::INCOMPLETE),
        Err(e) => {
            eprintln!("error: {}", exit::message(&e));
            ExitCode::from(exit::code(&e))
        }
    }
}

/// Returns Ok(false) for runs that finished but are incomplete.
async fn run(cli: Cli) -> anyhow::Result<bool> {
    let settings = Settings::resolve(cli.lake.as_deref(), cli.config.as_deref())?;
    match &cli.command {
        Command::Demo(a) => commands::demo::run(&settings, a, cli.quiet).await.map(|_| true),
        Command::Import(a) => {
            let s = commands::import::run(&settings, a, cli.quiet).await?;
            let incomplete: Vec<_> = s.incomplete_files().map(|f| f.path.clone()).collect();
            if !incomplete.is_empty() {
                eprintln!(
                    "incomplete: {} file(s) could not be read to the end: {}",
                    incomplete.len(),
                    incomplete.join(", ")
                );
            }
            Ok(incomplete.is_empty())
        }
        Command::Build(a) => commands::build::run(&settings, a).await.map(|_| true),
        Command::Collect(a) => commands::collect::run(&settings, &a.source, cli.quiet).await,
        Command::Doctor(a) => commands::doctor::run(&settings, a.json).await,
        Command::Query(a) => commands::query::run(&settings, a, cli.quiet).await.map(|_| true),
        Command::Queries(a) => commands::query::list(&settings, a).map(|_| true),
        Command::Explain(a) => commands::explain::run(&settings, a).await.map(|_| true),
        Command::Report(a) => commands::report::run(&settings, a).await.map(|_| true),
        Command::Export(a) => commands::export::run(&settings, a).await.map(|_| true),
        Command::Lake(a) => commands::lake::run(&settings, &a.command).await,
        Command::Nightly(a) => {
            let code = commands::nightly::run(&settings, a).await?;
            // 0 complete; 3 partial; 1 failed (the manifest and summary name what).
            Ok(match code {
                0 => true,
                3 => false,
                _ => return Err(anyhow::anyhow!("the nightly run failed: see its manifest")),
            })
        }
        Command::Config(_) => commands::nightly::check(&settings).map(|_| true),
        Command::Sample(a) => commands::sample::run(&a.command).map(|_| true),
    }
}

fn init_logging(verbose: u8, quiet: bool, format: sspr_analytics::cli::LogFormat) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let fmt =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match format {
        sspr_analytics::cli::LogFormat::Json => fmt.json().flatten_event(true).init(),
        sspr_analytics::cli::LogFormat::Text => {
            fmt.with_ansi(sspr_analytics::terminal::color_stderr()).init()
        }
    }
}
