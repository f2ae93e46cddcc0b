//! Watched folders: which export files are new since the last night. A file is known by its
//! content (SHA-256), not its name: one that grew is read again (the merge keeps what was
//! stored), one that was renamed or copied is not. The memory is a JSON file in the state
//! directory, replaced whole (written beside it, then renamed), and a file is recorded only once
//! it was imported to its end, so one that failed is tried again the next night.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::collectors::files::EXTENSIONS;
use crate::error::{Error, Result};
use crate::settings::WatchFolder;

/// The memory's file name in the state directory.
const SEEN_FILE: &str = "nightly-imported.json";

/// One imported file, under its content hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SeenFile {
    pub path: String,
    pub size: u64,
    pub imported: chrono::DateTime<chrono::Utc>,
    /// The file's modification time then (ns since the epoch): a file at the same path with the
    /// same size and time is taken to be the same file and is not read again to hash it.
    #[serde(default)]
    pub modified: Option<i128>,
}

/// Every file imported so far, by the hex SHA-256 of its content.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Seen {
    pub files: BTreeMap<String, SeenFile>,
}

impl Seen {
    /// Reads the memory (none yet: empty). A memory that cannot be read is an error naming it:
    /// guessing would import everything again or nothing.
    pub(crate) fn load(state_dir: &Path) -> Result<Self> {
        let p = state_dir.join(SEEN_FILE);
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Input {
                path: p.clone(),
                message: format!("the nightly job's memory of imported files is not valid JSON ({e}); move it away to import every watched file again"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::io(&p, e)),
        }
    }

    /// Replaces the memory whole.
    pub(crate) fn save(&self, state_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir, e))?;
        let p = state_dir.join(SEEN_FILE);
        let tmp = state_dir.join(format!("{SEEN_FILE}.tmp"));
        let text = serde_json::to_vec_pretty(self)?;
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &p).map_err(|e| Error::io(&p, e))
    }
}

/// A file of a watched folder, with its content hash.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub path: PathBuf,
    pub size: u64,
    pub modified: Option<i128>,
    pub sha256: String,
}

/// The files of a watched folder (recursively) whose name passes its patterns, each with its
/// content hash: remembered from `seen` when path, size and modification time are unchanged
/// (a drop folder of years of exports is not read whole every night), else read and hashed.
pub(crate) fn files(folder: &WatchFolder, seen: &Seen) -> Result<Vec<Candidate>> {
    let known: std::collections::HashMap<(&str, u64, i128), &str> = seen
        .files
        .iter()
        .filter_map(|(hash, f)| Some(((f.path.as_str(), f.size, f.modified?), hash.as_str())))
        .collect();
    if !folder.path.is_dir() {
        return Err(Error::Input {
            path: folder.path.clone(),
            message: "the watched folder ([[nightly.watch]] path) does not exist or is not a folder".into(),
        });
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(&folder.path).follow_links(true).sort_by_file_name() {
        let entry = entry.map_err(|e| Error::Input {
            path: e.path().map(Path::to_path_buf).unwrap_or_else(|| folder.path.clone()),
            message: format!("reading the watched folder: {e}"),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if !wanted(folder, &name) {
            continue;
        }
        let meta = entry.metadata().map_err(|e| Error::Input {
            path: entry.path().to_path_buf(),
            message: format!("reading its metadata: {e}"),
        })?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i128);
        let path = entry.path().display().to_string();
        let remembered = modified.and_then(|m| known.get(&(path.as_str(), meta.len(), m)));
        let (size, sha256) = match remembered {
            Some(h) => (meta.len(), h.to_string()),
            None => hash(entry.path())?,
        };
        out.push(Candidate { path: entry.path().to_path_buf(), size, modified, sha256 });
    }
    Ok(out)
}

/// Whether a file name passes a folder's patterns: any `include` (else an extension `sspr
/// import` reads), and no `exclude`.
fn wanted(folder: &WatchFolder, name: &str) -> bool {
    let included = if folder.include.is_empty() {
        let lower = name.to_ascii_lowercase();
        EXTENSIONS.iter().any(|e| lower.ends_with(&format!(".{e}")))
    } else {
        folder.include.iter().any(|p| glob_match(p, name))
    };
    included && !folder.exclude.iter().any(|p| glob_match(p, name))
}

/// `*` (any run of characters) and `?` (one character) against a whole file name; ASCII letters
/// match either case, as on the Windows shares exports come from.
fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let n: Vec<char> = name.chars().map(|c| c.to_ascii_lowercase()).collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Size and hex SHA-256 of a file's content.
fn hash(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        ctx.update(&buf[..n]);
    }
    Ok((size, hex(ctx.finish().as_ref())))
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_names_in_any_case() {
        assert!(glob_match("*.evtx", "Security.EVTX"));
        assert!(glob_match("dc??-*.xml", "dc01-security.xml"));
        assert!(!glob_match("*.evtx", "Security.evtx.tmp"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
    }

    #[test]
    fn a_grown_file_is_new_and_a_renamed_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let w = WatchFolder { path: dir.path().to_path_buf(), include: vec![], exclude: vec!["~*".into()] };
        std::fs::write(dir.path().join("a.json"), "{\"value\":[]}").unwrap();
        std::fs::write(dir.path().join("~lock.json"), "x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let none = Seen::default();
        let first = files(&w, &none).unwrap();
        assert_eq!(first.len(), 1, "only a.json: {first:?}");
        std::fs::rename(dir.path().join("a.json"), dir.path().join("b.json")).unwrap();
        let renamed = files(&w, &none).unwrap();
        assert_eq!(renamed[0].sha256, first[0].sha256, "same content, same identity");
        std::fs::write(dir.path().join("b.json"), "{\"value\":[ ]}").unwrap();
        assert_ne!(files(&w, &none).unwrap()[0].sha256, first[0].sha256, "grown: new content");
        let state = tempfile::tempdir().unwrap();
        let mut seen = Seen::default();
        seen.files.insert(
            first[0].sha256.clone(),
            SeenFile {
                path: "a.json".into(),
                size: first[0].size,
                imported: chrono::Utc::now(),
                modified: None,
            },
        );
        seen.save(state.path()).unwrap();
        assert_eq!(Seen::load(state.path()).unwrap().files, seen.files);
        std::fs::write(state.path().join(SEEN_FILE), "{not json").unwrap();
        let e = Seen::load(state.path()).unwrap_err().to_string();
        assert!(e.contains(SEEN_FILE) && e.contains("move it away"), "{e}");
    }

    #[test]
    fn an_unchanged_file_is_not_read_again_to_hash_it() {
        let dir = tempfile::tempdir().unwrap();
        let w = WatchFolder { path: dir.path().to_path_buf(), include: vec![], exclude: vec![] };
        std::fs::write(dir.path().join("a.json"), "{\"value\":[]}").unwrap();
        let c = files(&w, &Seen::default()).unwrap().remove(0);
        assert!(c.modified.is_some());
        // The memory says this path, size and time had another hash: it is believed, unread.
        let mut seen = Seen::default();
        let f = SeenFile {
            path: c.path.display().to_string(),
            size: c.size,
            imported: chrono::Utc::now(),
            modified: c.modified,
        };
        seen.files.insert("remembered".into(), f.clone());
        assert_eq!(files(&w, &seen).unwrap()[0].sha256, "remembered");
        // Another size (the file grew): read and hashed again.
        std::fs::write(dir.path().join("a.json"), "{\"value\":[ ]}").unwrap();
        assert_ne!(files(&w, &seen).unwrap()[0].sha256, "remembered");
    }
}
