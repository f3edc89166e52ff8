//! The filesystem blob store: bytes under `ROOT/blobs/TENANT/AB/SHA256`,
//! staged in `ROOT/staging/` under a random name while they stream in, and
//! renamed into place (atomic on one filesystem) when published.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use crm_domain::DomainError;
use crm_domain::attachments::BlobKey;
use crm_domain::attachments::{BlobReader, BlobStore, StagedBlob};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};

use crate::{CHUNK_BYTES, missing, unavailable};

/// Bytes buffered before a write reaches the file.
const WRITE_BUFFER: usize = 256 * 1024;

/// A content-addressed blob store in a local (or shared) directory.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    blobs: PathBuf,
    staging: PathBuf,
}

impl FsBlobStore {
    /// Opens (creating) the store under `root`.
    ///
    /// # Errors
    /// The OS error when the directories cannot be created.
    pub fn open(root: impl AsRef<Path>) -> std::io::Result<Self> {
        let root = root.as_ref();
        let store = Self {
            blobs: root.join("blobs"),
            staging: root.join("staging"),
        };
        std::fs::create_dir_all(&store.blobs)?;
        std::fs::create_dir_all(&store.staging)?;
        Ok(store)
    }

    /// Where a key's bytes are.
    pub fn path_of(&self, key: &BlobKey) -> PathBuf {
        self.blobs.join(key.path())
    }

    /// Every file under the store (published and staged), for operators'
    /// checks and tests.
    ///
    /// # Errors
    /// The OS error when a directory cannot be read.
    pub fn files(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        let mut pending = vec![self.blobs.clone(), self.staging.clone()];
        while let Some(directory) = pending.pop() {
            for entry in std::fs::read_dir(directory)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    pending.push(entry.path());
                } else {
                    files.push(entry.path());
                }
            }
        }
        Ok(files)
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn stage(&self) -> Result<Box<dyn StagedBlob>, DomainError> {
        let path = self
            .staging
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|error| unavailable("stage an upload", &error))?;
        Ok(Box::new(FsStaged {
            path,
            blobs: self.blobs.clone(),
            file: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
            done: false,
        }))
    }

    async fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobReader>, DomainError> {
        match tokio::fs::File::open(self.path_of(key)).await {
            Ok(file) => Ok(Box::new(FsReader { file })),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(missing(key)),
            Err(error) => Err(unavailable("open an attachment", &error)),
        }
    }

    async fn remove(&self, key: &BlobKey) -> Result<(), DomainError> {
        match tokio::fs::remove_file(self.path_of(key)).await {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(unavailable("remove an attachment", &error)),
        }
    }

    async fn sweep_staging(&self, older_than: Duration) -> Result<u64, DomainError> {
        let staging = self.staging.clone();
        tokio::task::spawn_blocking(move || sweep_directory(&staging, older_than))
            .await
            .map_err(|error| DomainError::Internal(format!("staging sweep panicked: {error}")))?
            .map_err(|error| unavailable("sweep staged uploads", &error))
    }
}

fn sweep_directory(directory: &Path, older_than: Duration) -> std::io::Result<u64> {
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut removed = 0;
    for entry in std::fs::read_dir(directory)? {
        let entry = entry?;
        if entry.metadata()?.modified()? < cutoff {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
    }
    Ok(removed)
}

struct FsStaged {
    path: PathBuf,
    blobs: PathBuf,
    file: Option<BufWriter<tokio::fs::File>>,
    /// Published or discarded: nothing left to clean up.
    done: bool,
}

#[async_trait]
impl StagedBlob for FsStaged {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), DomainError> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| DomainError::Internal("write after seal".to_owned()))?;
        file.write_all(chunk)
            .await
            .map_err(|error| unavailable("stage an upload", &error))
    }

    async fn seal(&mut self) -> Result<(), DomainError> {
        if let Some(mut file) = self.file.take() {
            file.flush()
                .await
                .map_err(|error| unavailable("stage an upload", &error))?;
            file.get_mut()
                .sync_all()
                .await
                .map_err(|error| unavailable("stage an upload", &error))?;
        }
        Ok(())
    }

    async fn publish(&mut self, key: &BlobKey) -> Result<(), DomainError> {
        if self.file.is_some() || self.done {
            return Err(DomainError::Internal(
                "publish before seal, or twice".to_owned(),
            ));
        }
        let target = self.blobs.join(key.path());
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|error| unavailable("store an attachment", &error))?;
        }
        tokio::fs::rename(&self.path, &target)
            .await
            .map_err(|error| unavailable("store an attachment", &error))?;
        self.done = true;
        Ok(())
    }

    async fn discard(mut self: Box<Self>) {
        self.file = None;
        if !self.done {
            self.done = true;
            if let Err(error) = tokio::fs::remove_file(&self.path).await {
                tracing::warn!(path = %self.path.display(), %error, "cannot remove a staged upload");
            }
        }
    }
}

impl Drop for FsStaged {
    fn drop(&mut self) {
        if !self.done {
            // A dropped upload (the caller went away): the file is closed
            // first, then removed; one quick syscall, fine outside a task.
            self.file = None;
            if let Err(error) = std::fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), %error, "cannot remove a staged upload");
            }
        }
    }
}

struct FsReader {
    file: tokio::fs::File,
}

#[async_trait]
impl BlobReader for FsReader {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, DomainError> {
        let mut chunk = vec![0; CHUNK_BYTES];
        let mut filled = 0;
        while filled < CHUNK_BYTES {
            let read = self
                .file
                .read(&mut chunk[filled..])
                .await
                .map_err(|error| unavailable("read an attachment", &error))?;
            if read == 0 {
                break;
            }
            filled += read;
        }
        if filled == 0 {
            return Ok(None);
        }
        chunk.truncate(filled);
        Ok(Some(chunk))
    }
}
