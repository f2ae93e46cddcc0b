//! A local lake's column reads done in place rather than on tokio's blocking pool.
//!
//! object_store's `LocalFileSystem` hands every read to `spawn_blocking`: a thread hand-off and
//! a wake-up back, 20–40 µs on the bench machine, for a `pread` of a column chunk that is usually
//! in the page cache. A small report reads a handful of chunks, so the hand-offs were a quarter
//! of its running time (benches/README.md). [`InlineReads`] wraps the store and serves
//! `get_ranges` (what the Parquet reader fetches column chunks and page indexes with) with
//! positioned reads on the calling thread; everything else, listings and footer reads included,
//! is the wrapped store's. A lake on a slow network share, where a read can block for long,
//! turns it off: `SSPR_ENGINE_EXTENSIONS=-inline_reads`.

use std::fmt;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct InlineReads {
    inner: LocalFileSystem,
}

impl fmt::Display for InlineReads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InlineReads({})", self.inner)
    }
}

/// An I/O failure as object_store reports it, naming the file and, for a read, the range.
fn failure(path: &std::path::Path, what: String, e: std::io::Error) -> object_store::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        return object_store::Error::NotFound { path: path.display().to_string(), source: Box::new(e) };
    }
    let message = format!("{what} {}: {e}", path.display());
    object_store::Error::Generic { store: "InlineReads", source: message.into() }
}

/// Reads each range of the file at `path` with positioned reads, opening it once.
fn read_ranges(path: &std::path::Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
    let file = std::fs::File::open(path).map_err(|e| failure(path, "open".into(), e))?;
    ranges
        .iter()
        .map(|r| {
            let len = usize::try_from(r.end.saturating_sub(r.start)).unwrap_or(usize::MAX);
            let mut buf = vec![0u8; len];
            file.read_exact_at(&mut buf, r.start)
                .map_err(|e| failure(path, format!("read bytes {}..{} of", r.start, r.end), e))?;
            Ok(Bytes::from(buf))
        })
        .collect()
}

#[async_trait]
impl ObjectStore for InlineReads {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        read_ranges(&self.inner.path_to_filesystem(location)?, ranges)
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ranges_read_in_place_equal_the_local_stores_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        std::fs::write(dir.path().join("part-0.parquet"), &data).unwrap();
        let store = InlineReads::default();
        let at = Path::from_filesystem_path(dir.path().join("part-0.parquet")).unwrap();
        let ranges = [0..10, 4096..8192, 9_990..10_000, 5..5];
        let ours = store.get_ranges(&at, &ranges).await.unwrap();
        let theirs = LocalFileSystem::new().get_ranges(&at, &ranges).await.unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(&ours[1][..], &data[4096..8192]);
        // Past the end: an error naming the file and the range, not short or zeroed bytes.
        let e = store.get_ranges(&at, &[9_000..10_001, 0..1]).await.unwrap_err().to_string();
        assert!(e.contains("part-0.parquet") && e.contains("9000..10001"), "{e}");
        let gone = Path::from_filesystem_path(dir.path()).unwrap().join("gone.parquet");
        let e = store.get_ranges(&gone, &[0..1, 1..2]).await.unwrap_err();
        assert!(matches!(e, object_store::Error::NotFound { .. }), "{e}");
        assert!(e.to_string().contains("gone.parquet"), "{e}");
    }
}
