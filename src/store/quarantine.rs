//! `_quarantine/`: input records that could not be parsed, kept with the file, line, byte offset
//! and reason, so nothing collected disappears silently. One JSON-lines object per run.

use std::io::{BufWriter, Write};

use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::layout::{LakeRoot, QUARANTINE_DIR};

/// Raw record text longer than this is cut (the file and offset still locate the original).
const MAX_RAW_CHARS: usize = 64 * 1024;

/// One quarantined record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QuarantineEntry {
    pub run_id: String,
    pub source_file: String,
    /// 1-based line where the record starts (0 when not line-oriented).
    pub line: u64,
    /// Byte offset where the record starts.
    pub offset: u64,
    pub reason: String,
    pub raw: String,
}

/// Collects entries on local disk during a run and publishes them to the lake at the end.
pub(crate) struct Quarantine {
    run_id: String,
    file: BufWriter<tempfile::NamedTempFile>,
    count: usize,
}

impl Quarantine {
    pub(crate) fn new(run_id: &str) -> Result<Self> {
        let f = tempfile::NamedTempFile::new().map_err(|e| Error::io("quarantine temp file", e))?;
        Ok(Self { run_id: run_id.to_string(), file: BufWriter::new(f), count: 0 })
    }

    /// Records one bad input record.
    pub(crate) fn add(
        &mut self,
        source_file: &str,
        line: u64,
        offset: u64,
        reason: &str,
        raw: &[u8],
    ) -> Result<()> {
        let mut raw = String::from_utf8_lossy(raw).into_owned();
        if raw.len() > MAX_RAW_CHARS {
            let mut cut = MAX_RAW_CHARS;
            while !raw.is_char_boundary(cut) {
                cut -= 1;
            }
            raw.truncate(cut);
            raw.push_str("…[truncated]");
        }
        let e = QuarantineEntry {
            run_id: self.run_id.clone(),
            source_file: source_file.to_string(),
            line,
            offset,
            reason: reason.to_string(),
            raw,
        };
        serde_json::to_writer(&mut self.file, &e)?;
        self.file.write_all(b"\n").map_err(|e| Error::io("quarantine temp file", e))?;
        self.count += 1;
        Ok(())
    }

    /// Writes the run's entries to `_quarantine/<run_id>.jsonl` (nothing when there are none).
    pub(crate) async fn publish(self, root: &LakeRoot) -> Result<Option<String>> {
        if self.count == 0 {
            return Ok(None);
        }
        let tmp = self.file.into_inner().map_err(|e| Error::io("quarantine temp file", e.into_error()))?;
        let bytes = std::fs::read(tmp.path()).map_err(|e| Error::io(tmp.path(), e))?;
        let rel = format!("{QUARANTINE_DIR}/{}.jsonl", self.run_id);
        root.store.put(&root.key(&rel), PutPayload::from(bytes)).await?;
        Ok(Some(rel))
    }
}

/// Reads every quarantine entry in the lake (for `lake stats`, tests and analysts).
pub async fn read_all(root: &LakeRoot) -> Result<Vec<QuarantineEntry>> {
    use futures::TryStreamExt;
    let prefix = root.key(QUARANTINE_DIR);
    let metas: Vec<_> = root.store.list(Some(&prefix)).try_collect().await?;
    let mut out = Vec::new();
    for m in metas {
        let bytes = root.store.get(&m.location).await?.bytes().await?;
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            out.push(serde_json::from_slice(line)?);
        }
    }
    Ok(out)
}
