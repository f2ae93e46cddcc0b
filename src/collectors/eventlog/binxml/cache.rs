//! Compiled templates kept from chunk to chunk on each worker thread: a log repeats the same few
//! templates in every chunk, and compiling them again per chunk cost a tenth of the import.

use std::rc::Rc;

use super::Decline;
use super::template::{self, Program, compile};

/// The compiled template at chunk offset `def` of chunk `d`, from this thread's cache when a
/// template that says the same was compiled before (see [`template::fingerprint`]).
pub(super) fn compiled(d: &[u8], def: usize) -> Result<Rc<Program>, Decline> {
    COMPILED.with_borrow_mut(|c| c.get(d, def))
}

thread_local! {
    /// The templates this thread compiled, for the chunks it reads next (a log repeats the same
    /// few templates in every chunk).
    static COMPILED: std::cell::RefCell<Compiled> = std::cell::RefCell::default();
}

/// Compiled templates by [`template::fingerprint`].
#[derive(Default)]
pub(super) struct Compiled {
    programs: std::collections::HashMap<Vec<u8>, Rc<Program>>,
    key: Vec<u8>,
}

impl Compiled {
    /// Entries kept before the cache starts over (a log has tens of templates, not thousands).
    const MAX: usize = 512;

    fn get(&mut self, d: &[u8], def: usize) -> Result<Rc<Program>, Decline> {
        template::fingerprint(d, def, &mut self.key)?;
        if let Some(p) = self.programs.get(&self.key) {
            return Ok(p.clone());
        }
        let p = Rc::new(compile(d, def)?);
        if self.programs.len() >= Self::MAX {
            self.programs.clear();
        }
        self.programs.insert(self.key.clone(), p.clone());
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ChunkReader, u32le};
    use super::*;

    /// Every template definition of every chunk of `path`: (fingerprint, program as text, the
    /// definition's raw bytes).
    fn templates(path: &std::path::Path) -> Vec<(Vec<u8>, String, Vec<u8>)> {
        let bytes = std::fs::read(path).unwrap();
        let mut out = Vec::new();
        for chunk in bytes[4096.min(bytes.len())..].chunks_exact(65536) {
            let mut reader = ChunkReader::new(chunk);
            if reader.read_all(&|_| true).is_err() {
                continue;
            }
            for (def, cached) in &reader.programs {
                // Compiled afresh: the reader's own came through the cache under test.
                let Ok(program) = cached.as_ref().map(|_| compile(chunk, *def as usize).unwrap()) else {
                    continue;
                };
                let mut key = Vec::new();
                template::fingerprint(chunk, *def as usize, &mut key).unwrap();
                let size = u32le(chunk, *def as usize + 20).unwrap() as usize;
                let raw = chunk[*def as usize + 24..*def as usize + 24 + size].to_vec();
                out.push((key, format!("{program:?}"), raw));
            }
        }
        out
    }

    #[test]
    fn equal_fingerprints_are_equal_programs_whatever_chunk_holds_them() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let sample = |f: &str| root.join("sample-data/eventlogs").join(f);
        let mut files = vec![sample("DC01/Security.evtx"), sample("AADC01/Application.evtx")];
        let real = root.join("../shared/realdata/evtx");
        for f in ["security.evtx", "post-Security.evtx", "Application_no_crc32.evtx"] {
            if real.join(f).exists() {
                files.push(real.join(f));
            }
        }
        // Two event shapes that differ only in the text of a name of the same length, over
        // several chunks: a fingerprint that left names out would take one for the other.
        let dir = tempfile::tempdir().unwrap();
        let twins = dir.path().join("twins.evtx");
        let mut w = crate::sample::evtx_writer::EvtxWriter::new(std::io::Cursor::new(Vec::new())).unwrap();
        for i in 0..3000u64 {
            let name = if i % 2 == 0 { "Alpha" } else { "Bravo" };
            w.write(&crate::sample::evtx_writer::WinEvent {
                provider: "Twins".into(),
                event_id: 1,
                time_created: 1_793_577_600_000_000 + i as i64,
                event_record_id: i + 1,
                channel: "Application".into(),
                computer: "HOST".into(),
                data: vec![(Some(name.into()), format!("value {i}"))],
                ..Default::default()
            })
            .unwrap();
        }
        std::fs::write(&twins, w.finish().unwrap().into_inner()).unwrap();
        files.push(twins);
        let (mut reused, mut relocated) = (0, 0);
        for f in &files {
            let all = templates(f);
            assert!(!all.is_empty(), "{}: no template read", f.display());
            for (i, (key, program, raw)) in all.iter().enumerate() {
                for (key2, program2, raw2) in &all[..i] {
                    assert_eq!(key == key2, program == program2, "{}: template {i}", f.display());
                    if key == key2 {
                        reused += 1;
                        relocated += usize::from(raw != raw2);
                    }
                }
            }
        }
        // A name's text changed in place (same length, so nothing moves): the templates that
        // use it compile differently, and their fingerprints must differ too.
        let bytes = std::fs::read(sample("DC01/Security.evtx")).unwrap();
        let chunk = &bytes[4096..4096 + 65536];
        let provider: Vec<u8> = "Provider".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let at = chunk.windows(provider.len()).position(|w| w == provider).expect("the name Provider");
        let mut renamed = chunk.to_vec();
        renamed[at + 14] = b's'; // Provider → Provides
        let mut reader = ChunkReader::new(chunk);
        reader.read_all(&|_| true).unwrap();
        for (def, _) in &reader.programs {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            template::fingerprint(chunk, *def as usize, &mut a).unwrap();
            template::fingerprint(&renamed, *def as usize, &mut b).unwrap();
            let (pa, pb) =
                (compile(chunk, *def as usize).unwrap(), compile(&renamed, *def as usize).unwrap());
            assert_eq!(a == b, format!("{pa:?}") == format!("{pb:?}"), "template at {def}");
            assert_ne!(a, b, "template at {def} names Provider");
        }
        // The cache has work to do: the same templates recur from chunk to chunk, and some of
        // them with other bytes (names referenced instead of inline, other offsets).
        assert!(reused > 0 && relocated > 0, "reused {reused}, relocated {relocated}");
    }
}
