//! Versioned JSON checkpoints under the state directory, written atomically (temp file, fsync,
//! rename). A corrupt file is set aside as `<name>.corrupt-<time>` with a warning and the run
//! starts fresh: merge on natural keys makes the re-collection harmless.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Current checkpoint format version.
pub(crate) const VERSION: u32 = 1;

/// Loads `path`; `Ok(None)` when absent, unreadable JSON or of another version (set aside).
pub(crate) fn load<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    #[derive(serde::Deserialize)]
    struct Versioned<T> {
        version: u32,
        state: T,
    }
    match serde_json::from_str::<Versioned<T>>(&text) {
        Ok(v) if v.version == VERSION => Ok(Some(v.state)),
        Ok(v) => {
            set_aside(path, &format!("version {} is not {VERSION}", v.version));
            Ok(None)
        }
        Err(e) => {
            set_aside(path, &e.to_string());
            Ok(None)
        }
    }
}

fn set_aside(path: &Path, why: &str) {
    let aside =
        PathBuf::from(format!("{}.corrupt-{}", path.display(), chrono::Utc::now().format("%Y%m%dT%H%M%S")));
    let _ = std::fs::rename(path, &aside);
    tracing::warn!(file = %path.display(), moved_to = %aside.display(), reason = why, "Checkpoint unusable; starting fresh.");
}

/// Writes `state` atomically.
pub(crate) fn save<T: Serialize>(path: &Path, state: &T) -> Result<()> {
    #[derive(Serialize)]
    struct Versioned<'a, T> {
        version: u32,
        state: &'a T,
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        crate::util::unique_suffix()
    ));
    let bytes = serde_json::to_vec_pretty(&Versioned { version: VERSION, state })?;
    write_durably(&tmp, &bytes)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes a file and fsyncs it.
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cp.json");
        assert_eq!(load::<Vec<u32>>(&p).unwrap(), None);
        save(&p, &vec![1u32, 2]).unwrap();
        assert_eq!(load::<Vec<u32>>(&p).unwrap(), Some(vec![1, 2]));
        std::fs::write(&p, "{\"version\":1,\"state\":[1,").unwrap();
        assert_eq!(load::<Vec<u32>>(&p).unwrap(), None);
        assert!(!p.exists());
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
        assert!(aside, "the corrupt file is kept for inspection");
    }
}
