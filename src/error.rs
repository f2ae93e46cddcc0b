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
    #[error("invalid lake location {location:?}: {message}")]
    LakeLocation { location: String, message: String },
    #[error(
        "the lake at {location} is locked by another writer ({holder}); wait for it to finish or remove a stale lock with `sspr lake unlock`"
    )]
    Locked { location: String, holder: String },
    #[error("table {table}: {message}")]
    Table { table: String, message: String },
    #[error("query {query}: {message}")]
    Query { query: String, message: String },
    #[error("parameter {name}: {message}")]
    Parameter { name: String, message: String },
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
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// A problem with the content of an input file.
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input { path: path.into(), message: message.into() }
    }

    /// Whether retrying the same operation may succeed (transient network and store errors).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::ObjectStore(e) => {
                matches!(e, object_store::Error::Generic { .. } | object_store::Error::Precondition { .. })
            }
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::WouldBlock
            ),
            Error::Locked { .. } => true,
            _ => false,
        }
    }
}
