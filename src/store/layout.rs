//! Where things live in the lake: the root (a local path or an object-store URL), the partition
//! keys of every table, and the writer lock.
//!
//! Layout: `<root>/<table>/<partition_col>=YYYY-MM-DD/part-0.parquet`, exactly one file per
//! partition. `<root>/_staging/` holds files being published, `<root>/_quarantine/` input records
//! that could not be parsed, `<root>/_state/` checkpoints, `<root>/_lock` the writer lock.

use std::fs::File;
use std::io::Write;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use url::Url;

use crate::error::{Error, Result};
use crate::store::schema::TableDef;

/// File name of the one file in every partition.
const PART_FILE: &str = "part-0.parquet";
pub(crate) const STAGING_DIR: &str = "_staging";
pub(crate) const QUARANTINE_DIR: &str = "_quarantine";
pub(crate) const STATE_DIR: &str = "_state";
const LOCK_FILE: &str = "_lock";
/// A remote lock older than this is considered abandoned by a crashed writer.
const REMOTE_LOCK_TTL_SECS: i64 = 6 * 3600;

/// The lake root: one object store plus a prefix. Local roots also keep their filesystem path so
/// that publishing can fsync and rename.
#[derive(Debug, Clone)]
pub struct LakeRoot {
    /// What the user gave, for messages.
    pub location: String,
    /// The URL DataFusion registers the store under (`file:///…/` or `az://container/prefix/`).
    pub url: Url,
    pub store: Arc<dyn ObjectStore>,
    /// Prefix of the lake inside `store` (empty for local roots, whose store is rooted at the lake).
    pub prefix: Path,
    /// The filesystem directory for local roots.
    pub local: Option<PathBuf>,
}

impl LakeRoot {
    /// Parses a path or URL: `./lake`, `/data/lake`, `file:///data/lake`, `az://container/prefix`,
    /// `abfss://fs@account.dfs.core.windows.net/prefix`, `memory:///` (tests).
    pub(crate) fn parse(location: &str) -> Result<Self> {
        let bad = |message: String| Error::LakeLocation { location: location.to_string(), message };
        if location.trim().is_empty() {
            return Err(bad("empty location".into()));
        }
        let looks_like_url = location.contains("://");
        if !looks_like_url {
            return Self::local(location, PathBuf::from(location));
        }
        let url = Url::parse(location).map_err(|e| bad(e.to_string()))?;
        match url.scheme() {
            "file" => {
                let path = url.to_file_path().map_err(|_| bad("not a valid file:// URL".into()))?;
                Self::local(location, path)
            }
            "az" | "adl" | "azure" | "abfs" | "abfss" => {
                let store = azure_builder()
                    .map_err(|e| bad(e.to_string()))?
                    .with_url(location)
                    .build()
                    .map_err(|e| bad(e.to_string()))?;
                // The prefix from the URL's path: `object_store::parse_url` would build a second
                // store from the URL alone, without the environment's account or emulator.
                let prefix = Path::from_url_path(url.path()).map_err(|e| bad(e.to_string()))?;
                let base = base_url(&url).map_err(|e| bad(e.to_string()))?;
                Ok(Self {
                    location: location.to_string(),
                    url: base,
                    store: Arc::new(store),
                    prefix,
                    local: None,
                })
            }
            _ => {
                let (store, prefix) = object_store::parse_url(&url).map_err(|e| bad(e.to_string()))?;
                let base = base_url(&url).map_err(|e| bad(e.to_string()))?;
                Ok(Self {
                    location: location.to_string(),
                    url: base,
                    store: Arc::from(store),
                    prefix,
                    local: None,
                })
            }
        }
    }

    /// The directory of a local location (a path or `file://` URL) without touching the disk;
    /// `None` for object-store URLs.
    pub(crate) fn local_dir(location: &str) -> Option<PathBuf> {
        if !location.contains("://") {
            return Some(PathBuf::from(location));
        }
        let url = Url::parse(location).ok()?;
        if url.scheme() == "file" { url.to_file_path().ok() } else { None }
    }

    fn local(location: &str, path: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        let abs = std::fs::canonicalize(&path).map_err(|e| Error::io(&path, e))?;
        let store = LocalFileSystem::new_with_prefix(&abs)?;
        let url = Url::from_directory_path(&abs).map_err(|_| Error::LakeLocation {
            location: location.to_string(),
            message: "cannot form a file URL".into(),
        })?;
        Ok(Self {
            location: location.to_string(),
            url,
            store: Arc::new(store),
            prefix: Path::default(),
            local: Some(abs),
        })
    }

    /// A key below the lake root.
    pub fn key(&self, rel: &str) -> Path {
        let mut p = self.prefix.clone();
        for part in rel.split('/').filter(|s| !s.is_empty()) {
            p = p.clone().join(part);
        }
        p
    }

    /// The table's folder key.
    pub(crate) fn table_key(&self, table: &TableDef) -> Path {
        self.key(table.name)
    }

    /// The key of the one file of a partition.
    pub(crate) fn partition_key(&self, table: &TableDef, date: NaiveDate) -> Path {
        self.key(&partition_rel(table, date))
    }

    /// The URL of a table's folder, for DataFusion listing tables.
    pub(crate) fn table_url(&self, table: &TableDef) -> String {
        let mut s = self.url.to_string();
        if !s.ends_with('/') {
            s.push('/');
        }
        if !self.prefix.as_ref().is_empty() {
            s.push_str(self.prefix.as_ref());
            s.push('/');
        }
        s.push_str(table.name);
        s.push('/');
        s
    }

    /// The filesystem path of a key, for local roots.
    pub fn local_path(&self, rel: &str) -> Option<PathBuf> {
        self.local.as_ref().map(|root| root.join(rel))
    }
}

/// The store's root URL (scheme, user info and host, no path), as DataFusion registers stores.
fn base_url(url: &Url) -> std::result::Result<Url, url::ParseError> {
    Url::parse(&format!("{}/", &url[..url::Position::BeforePath]))
}

/// `<table>/<col>=YYYY-MM-DD/part-0.parquet`
pub(crate) fn partition_rel(table: &TableDef, date: NaiveDate) -> String {
    format!("{}/{}={}/{}", table.name, table.partition_col, date.format("%Y-%m-%d"), PART_FILE)
}

/// Azure storage options from the config's `[storage]` section (`object_store` keys and values),
/// set once at start-up by [`set_storage_options`].
static STORAGE_OPTIONS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();

/// Sets the config's Azure storage options for every `az://` / `abfss://` location this process
/// opens (the lake, an export target). The environment's `AZURE_STORAGE_*` variables still win,
/// as flags and the environment win over the config everywhere.
pub(crate) fn set_storage_options(options: Vec<(String, String)>) {
    let _ = STORAGE_OPTIONS.set(options);
}

/// An Azure builder with the config's options, then the environment's on top.
fn azure_builder() -> std::result::Result<object_store::azure::MicrosoftAzureBuilder, object_store::Error> {
    use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
    let mut b = MicrosoftAzureBuilder::new();
    for (k, v) in STORAGE_OPTIONS.get().into_iter().flatten() {
        let key: AzureConfigKey = k.parse()?;
        b = b.with_config(key, v);
    }
    for (k, v) in std::env::vars() {
        if k.starts_with("AZURE_")
            && let Ok(key) = k.to_ascii_lowercase().parse::<AzureConfigKey>()
        {
            b = b.with_config(key, v);
        }
    }
    if let Ok(endpoint) = std::env::var("IDENTITY_ENDPOINT") {
        b = b.with_msi_endpoint(endpoint);
    }
    Ok(b)
}

/// Parses the partition date out of a file key relative to the table folder
/// (`event_date=2026-11-14/part-0.parquet`). Returns `None` for keys that break the layout.
pub(crate) fn parse_partition(table: &TableDef, rel_to_table: &str) -> Option<NaiveDate> {
    let (dir, file) = rel_to_table.split_once('/')?;
    if file != PART_FILE {
        return None;
    }
    let value = dir.strip_prefix(table.partition_col)?.strip_prefix('=')?;
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
}

/// The writer lock. Local lakes use an advisory lock on `<root>/_lock` (released by the OS if the
/// process dies); object stores use a create-if-absent `_lock` object that expires after
/// [`REMOTE_LOCK_TTL_SECS`] so a crashed writer cannot block the lake for ever.
pub struct LakeLock {
    local: Option<File>,
    remote: Option<(Arc<dyn ObjectStore>, Path)>,
}

impl std::fmt::Debug for LakeLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LakeLock").finish_non_exhaustive()
    }
}

fn holder_text() -> String {
    format!(
        "{{\"pid\":{},\"host\":{:?},\"acquired\":\"{}\"}}",
        std::process::id(),
        hostname(),
        Utc::now().to_rfc3339()
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// What `sspr lake unlock` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlocked {
    /// No writer held the lock.
    NotLocked,
    /// A lock was removed; its holder, as it recorded itself.
    Removed { holder: String },
}

/// Whether an object-store lock's `expires` has passed (a lock that cannot be read has expired).
fn remote_lock_expired(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("expires")?.as_str().map(str::to_string))
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
        .is_none_or(|t| t < Utc::now())
}

impl LakeLock {
    /// Takes the writer lock, failing at once with [`Error::Locked`] when another writer holds it.
    pub async fn acquire(root: &LakeRoot) -> Result<Self> {
        if let Some(dir) = &root.local {
            return Self::acquire_local(root, dir);
        }
        let key = root.key(LOCK_FILE);
        let body = format!(
            "{{\"holder\":{},\"expires\":\"{}\"}}",
            holder_text(),
            (Utc::now() + chrono::Duration::seconds(REMOTE_LOCK_TTL_SECS)).to_rfc3339()
        );
        for _ in 0..2 {
            let opts = PutOptions { mode: PutMode::Create, ..Default::default() };
            match root.store.put_opts(&key, PutPayload::from(body.clone()), opts).await {
                Ok(_) => {
                    return Ok(Self { local: None, remote: Some((root.store.clone(), key)) });
                }
                Err(object_store::Error::AlreadyExists { .. }) => {
                    let existing = root.store.get(&key).await?.bytes().await?;
                    let text = String::from_utf8_lossy(&existing).to_string();
                    if !remote_lock_expired(&text) {
                        return Err(Error::Locked { location: root.location.clone(), holder: text });
                    }
                    tracing::warn!(lock = %key, "Removing an expired lake lock.");
                    root.store.delete(&key).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Locked { location: root.location.clone(), holder: "unknown".into() })
    }

    fn acquire_local(root: &LakeRoot, dir: &FsPath) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(Error::Locked { location: root.location.clone(), holder });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        file.set_len(0).map_err(|e| Error::io(&path, e))?;
        file.write_all(holder_text().as_bytes()).map_err(|e| Error::io(&path, e))?;
        Ok(Self { local: Some(file), remote: None })
    }

    /// Removes a lock that no writer holds any more (`sspr lake unlock`). A live lock (a local
    /// lock another process holds, or an object-store lock that has not expired) is refused with
    /// [`Error::Locked`] naming its holder, unless `force`: then it is removed all the same, which
    /// is only right when its holder is known to be gone (a crashed job on another host).
    pub async fn unlock(root: &LakeRoot, force: bool) -> Result<Unlocked> {
        if let Some(dir) = &root.local {
            let path = dir.join(LOCK_FILE);
            if !path.exists() {
                return Ok(Unlocked::NotLocked);
            }
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            match file.try_lock() {
                Ok(()) => {
                    // Nobody holds it: the OS released it when its writer ended.
                    let _ = file.set_len(0);
                    return Ok(Unlocked::NotLocked);
                }
                Err(std::fs::TryLockError::WouldBlock) if !force => {
                    return Err(Error::Locked { location: root.location.clone(), holder });
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                    return Ok(Unlocked::Removed { holder });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
        }
        let key = root.key(LOCK_FILE);
        let text = match root.store.get(&key).await {
            Ok(r) => String::from_utf8_lossy(&r.bytes().await?).to_string(),
            Err(object_store::Error::NotFound { .. }) => return Ok(Unlocked::NotLocked),
            Err(e) => return Err(e.into()),
        };
        if !force && !remote_lock_expired(&text) {
            return Err(Error::Locked { location: root.location.clone(), holder: text });
        }
        root.store.delete(&key).await?;
        Ok(Unlocked::Removed { holder: text })
    }

    /// Releases the lock (local locks are also released when dropped or when the process dies).
    pub async fn release(mut self) -> Result<()> {
        if let Some((store, key)) = self.remote.take() {
            store.delete(&key).await?;
        }
        if let Some(file) = self.local.take() {
            release_local(file);
        }
        Ok(())
    }
}

/// Empties and unlocks a local lock file. The explicit unlock matters: the lock belongs to the
/// open file description, which a child process forked by another thread (between its fork and
/// its exec) shares for a moment, so merely closing our descriptor could leave the lake locked
/// for the next writer of this very process.
fn release_local(file: File) {
    let _ = file.set_len(0);
    let _ = file.unlock();
}

impl Drop for LakeLock {
    fn drop(&mut self) {
        if let Some(file) = self.local.take() {
            release_local(file);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::AUDIT_EVENTS;

    /// A second descriptor of the lock file (what a child forked by another thread holds until it
    /// execs) must not keep the lake locked once the writer is done.
    #[tokio::test]
    async fn a_released_lock_is_free_while_a_copy_of_its_descriptor_lives() {
        let dir = tempfile::tempdir().unwrap();
        let root = LakeRoot::parse(&dir.path().to_string_lossy()).unwrap();
        let lock = LakeLock::acquire(&root).await.unwrap();
        let copy = lock.local.as_ref().unwrap().try_clone().unwrap();
        lock.release().await.unwrap();
        let again = LakeLock::acquire(&root).await.expect("released, so free");
        drop(again);
        let dropped_with_copy = LakeLock::acquire(&root).await.expect("dropped, so free");
        drop(copy);
        drop(dropped_with_copy);
    }

    #[test]
    fn partition_keys_round_trip() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 14).unwrap();
        let rel = partition_rel(&AUDIT_EVENTS, d);
        assert_eq!(rel, "audit_events/event_date=2026-11-14/part-0.parquet");
        let in_table = rel.strip_prefix("audit_events/").unwrap();
        assert_eq!(parse_partition(&AUDIT_EVENTS, in_table), Some(d));
        assert_eq!(parse_partition(&AUDIT_EVENTS, "event_date=2026-11-14/x.parquet"), None);
        assert_eq!(parse_partition(&AUDIT_EVENTS, "snapshot_date=2026-11-14/part-0.parquet"), None);
    }

    #[test]
    fn remote_urls_parse_and_route_through_object_store() {
        let r = LakeRoot::parse("memory:///lake/prefix").unwrap();
        assert!(r.local.is_none());
        assert_eq!(r.prefix.as_ref(), "lake/prefix");
        assert_eq!(r.table_url(&AUDIT_EVENTS), "memory:///lake/prefix/audit_events/");
        // Azure URLs must parse without contacting anything.
        let az = LakeRoot::parse("abfss://lake@account.dfs.core.windows.net/sspr").unwrap();
        assert_eq!(az.prefix.as_ref(), "sspr");
        assert_eq!(
            az.table_url(&AUDIT_EVENTS),
            "abfss://lake@account.dfs.core.windows.net/sspr/audit_events/"
        );
        // Without an account (URL or AZURE_STORAGE_ACCOUNT_NAME) the error says what is missing.
        if std::env::var("AZURE_STORAGE_ACCOUNT_NAME").is_err() {
            let e = LakeRoot::parse("az://container/sspr").unwrap_err().to_string();
            assert!(e.contains("az://container/sspr") && e.contains("Account"), "{e}");
        }
        assert!(LakeRoot::parse("").is_err());
        assert!(LakeRoot::parse("notascheme://x/y").is_err());
    }
}
