//! The crate's error type. Variants carry the context a user needs to act: the file, record,
//! table or query involved. Library code returns [`Result`]; the binary adds `anyhow` context at
//! the edge and maps errors to exit codes.

use std::path::PathBuf;

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::parquet::errors::ParquetError;

/// The crate-wide result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A command line that cannot mean anything: a bad flag value, contradicting flags, a missing
    /// file or folder the user named. Exit code 2, like clap's own usage errors.
    #[error("{0}")]
    Usage(String),
    #[error("invalid lake location {location:?}: {message}")]
    LakeLocation { location: String, message: String },
    #[error(
        "the lake at {location} is locked by another writer ({holder}); wait for it to finish, or if that writer is gone remove its lock with `sspr lake unlock`"
    )]
    Locked { location: String, holder: String },
    #[error("table {table}: {message}")]
    Table { table: String, message: String },
    #[error("query {query}: {message}")]
    Query { query: String, message: String },
    #[error("parameter {name}: {message}")]
    Parameter { name: String, message: String },
    /// A report could not be delivered (webhook, mail); the outputs are kept.
    #[error("delivery to {target}: {message}")]
    Delivery { target: String, message: String },
    #[error(transparent)]
    ObjectStore(#[from] object_store::Error),
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    #[error(transparent)]
    Parquet(#[from] ParquetError),
    #[error(transparent)]
    DataFusion(#[from] Box<DataFusionError>),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        Error::DataFusion(Box::new(e))
    }
}

impl Error {
    /// A usage error (exit code 2) with a message that says what to do.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

/// The process exit codes, one map for every command (README "Exit codes").
pub mod exit {
    /// The command did everything it was asked.
    pub const SUCCESS: u8 = 0;
    /// The command failed; the message names the file, record, field, parameter or query.
    pub const FAILED: u8 = 1;
    /// The command line or the configuration is wrong: an unknown flag, a bad value, a missing
    /// path, contradicting options, an unknown config key.
    pub const USAGE: u8 = 2;
    /// The command finished, but not everything: an input could not be read to the end, a slice
    /// is incomplete, `lake verify` or `doctor` found problems.
    pub const INCOMPLETE: u8 = 3;
    /// Another writer holds the lake's lock.
    pub(crate) const LOCKED: u8 = 4;

    /// The exit code for an error: the first error of ours in the chain decides.
    pub fn code(e: &anyhow::Error) -> u8 {
        for cause in e.chain() {
            if let Some(ours) = cause.downcast_ref::<super::Error>() {
                return match ours {
                    super::Error::Usage(_)
                    | super::Error::Config(_)
                    | super::Error::Parameter { .. }
                    | super::Error::LakeLocation { .. } => USAGE,
                    super::Error::Locked { .. } => LOCKED,
                    _ => FAILED,
                };
            }
        }
        FAILED
    }

    /// The error and its causes on one line, each cause once: a wrapper whose text already ends
    /// with its cause's text (`path: File exists (os error 17)`) does not repeat it.
    pub fn message(e: &anyhow::Error) -> String {
        let mut out = String::new();
        for cause in e.chain() {
            let text = cause.to_string();
            if text.is_empty() || out.contains(&text) {
                continue;
            }
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        // Engines wrap their own errors with their name ("Parquet error: Parquet error: …").
        let mut parts: Vec<&str> = Vec::new();
        for p in out.split(": ") {
            if parts.last() != Some(&p) {
                parts.push(p);
            }
        }
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::from_raw_os_error(17);
        let e = anyhow::Error::new(Error::io("/x/y", io)).context("writing the report");
        let text = exit::message(&e);
        assert_eq!(text.matches("os error 17").count(), 1, "{text}");
        assert!(text.starts_with("writing the report: /x/y: "), "{text}");
        assert_eq!(exit::code(&e), exit::FAILED);
        let twice = anyhow::anyhow!("Parquet error: Parquet error: Corrupt footer").context("running q");
        assert_eq!(exit::message(&twice), "running q: Parquet error: Corrupt footer");
    }

    #[test]
    fn each_kind_of_error_has_its_code() {
        let code = |e: Error| exit::code(&anyhow::Error::new(e).context("outer"));
        assert_eq!(code(Error::usage("bad")), exit::USAGE);
        assert_eq!(code(Error::Config("k".into())), exit::USAGE);
        assert_eq!(code(Error::Parameter { name: "n".into(), message: "m".into() }), exit::USAGE);
        assert_eq!(code(Error::Locked { location: "l".into(), holder: "h".into() }), exit::LOCKED);
        assert_eq!(code(Error::Input { path: "f".into(), message: "m".into() }), exit::FAILED);
        assert_eq!(exit::code(&anyhow::anyhow!("plain")), exit::FAILED);
    }
}
