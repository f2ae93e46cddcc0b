//! The `sspr` binary: parse arguments, start logging, run, map the outcome to an exit code.
//!
//! Exit codes: 0 success; 1 error; 2 usage error (clap); 3 finished but incomplete (a file could
//! not be read to the end, or `lake verify` found problems).

use std::process::ExitCode;

use clap::Parser;
use sspr_analytics::cli::{Cli, Command};
use sspr_analytics::commands;
use sspr_analytics::settings::Settings;

/// mimalloc: imports and reports allocate many small strings on several threads and free them on
/// others (chunk buffers, rows), where it is markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(3),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
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
        Command::Lake(a) => commands::lake::run(&settings, &a.command).await,
        Command::Sample(a) => commands::sample::run(&a.command).map(|_| true),
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}
