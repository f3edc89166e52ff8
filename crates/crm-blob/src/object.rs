//! Blobs in an object store (S3 or anything speaking its API: MinIO, Ceph,
//! R2...) through the `object_store` crate, for deployments with several
//! servers. Bytes stream up as a multipart upload to `PREFIX/staging/ID`,
//! and are renamed (server-side copy, then delete) to
//! `PREFIX/blobs/TENANT/AB/SHA256` when published.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use crm_domain::DomainError;
use crm_domain::attachments::BlobKey;
use crm_domain::attachments::{BlobReader, BlobStore, StagedBlob};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use crate::{CHUNK_BYTES, missing, unavailable};

/// Size of each part of a multipart upload (S3's minimum, but for the last).
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts uploading at once; with the part being filled, this bounds the
/// memory one upload holds to three parts.
const PARTS_IN_FLIGHT: usize = 2;

/// A content-addressed blob store in an object store.
#[derive(Debug, Clone)]
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

impl ObjectBlobStore {
    /// Keeps blobs in `store` under `prefix` (empty for the bucket's root).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        Self {
            store,
            prefix: Path::from(prefix),
        }
    }

    fn blob_path(&self, key: &BlobKey) -> Path {
        self.join(&format!("blobs/{}", key.path()))
    }

    fn staging(&self) -> Path {
        self.join("staging")
    }

    fn join(&self, relative: &str) -> Path {
        relative
            .split('/')
            .fold(self.prefix.clone(), |path, part| path.join(part))
    }
}

fn failed(action: &str, error: &object_store::Error) -> DomainError {
    unavailable(action, error)
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn stage(&self) -> Result<Box<dyn StagedBlob>, DomainError> {
        let path = self
            .staging()
            .join(uuid::Uuid::new_v4().simple().to_string());
        let upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|error| failed("stage an upload", &error))?;
        Ok(Box::new(ObjectStaged {
            store: self.store.clone(),
            path,
            blobs: self.clone(),
            state: State::Writing(WriteMultipart::new_with_chunk_size(upload, PART_BYTES)),
        }))
    }

    async fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobReader>, DomainError> {
        match self.store.get(&self.blob_path(key)).await {
            Ok(result) => Ok(Box::new(ObjectReader {
                stream: result.into_stream(),
                pending: Bytes::new(),
            })),
            Err(object_store::Error::NotFound { .. }) => Err(missing(key)),
            Err(error) => Err(failed("open an attachment", &error)),
        }
    }

    async fn remove(&self, key: &BlobKey) -> Result<(), DomainError> {
        match self.store.delete(&self.blob_path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(failed("remove an attachment", &error)),
        }
    }

    async fn sweep_staging(&self, older_than: Duration) -> Result<u64, DomainError> {
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(UNIX_EPOCH)
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
            });
        let mut listing = self.store.list(Some(&self.staging()));
        let mut removed = 0;
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|error| failed("sweep staged uploads", &error))?;
            if meta.last_modified.timestamp() < cutoff {
                match self.store.delete(&meta.location).await {
                    Ok(()) => removed += 1,
                    Err(object_store::Error::NotFound { .. }) => {}
                    Err(error) => return Err(failed("sweep staged uploads", &error)),
                }
            }
        }
        Ok(removed)
    }
}

enum State {
    /// Parts are being uploaded.
    Writing(WriteMultipart),
    /// The staging object is complete.
    Sealed,
    /// Published or discarded.
    Done,
}

struct ObjectStaged {
    store: Arc<dyn ObjectStore>,
    path: Path,
    blobs: ObjectBlobStore,
    state: State,
}

#[async_trait]
impl StagedBlob for ObjectStaged {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), DomainError> {
        let State::Writing(writer) = &mut self.state else {
            return Err(DomainError::Internal("write after seal".to_owned()));
        };
        writer
            .wait_for_capacity(PARTS_IN_FLIGHT)
            .await
            .map_err(|error| failed("stage an upload", &error))?;
        writer.write(chunk);
        Ok(())
    }

    async fn seal(&mut self) -> Result<(), DomainError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Writing(writer) => {
                writer
                    .finish()
                    .await
                    .map_err(|error| failed("stage an upload", &error))?;
                self.state = State::Sealed;
                Ok(())
            }
            other => {
                self.state = other;
                Err(DomainError::Internal("sealed twice".to_owned()))
            }
        }
    }

    async fn publish(&mut self, key: &BlobKey) -> Result<(), DomainError> {
        if !matches!(self.state, State::Sealed) {
            return Err(DomainError::Internal(
                "publish before seal, or twice".to_owned(),
            ));
        }
        self.store
            .rename(&self.path, &self.blobs.blob_path(key))
            .await
            .map_err(|error| failed("store an attachment", &error))?;
        self.state = State::Done;
        Ok(())
    }

    async fn discard(mut self: Box<Self>) {
        let state = std::mem::replace(&mut self.state, State::Done);
        clean_up(self.store.clone(), self.path.clone(), state).await;
    }
}

/// Aborts an unfinished multipart upload, or deletes a sealed staging object.
async fn clean_up(store: Arc<dyn ObjectStore>, path: Path, state: State) {
    let outcome = match state {
        State::Writing(writer) => writer.abort().await,
        State::Sealed => store.delete(&path).await,
        State::Done => Ok(()),
    };
    if let Err(error) = outcome {
        tracing::warn!(%path, %error, "cannot remove a staged upload");
    }
}

impl Drop for ObjectStaged {
    fn drop(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Done);
        if matches!(state, State::Done) {
            return;
        }
        // A dropped upload (the caller went away): clean up in the
        // background. Without a runtime (shutting down) the staging sweep
        // and the bucket's rule for incomplete uploads are the backstop.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(clean_up(self.store.clone(), self.path.clone(), state));
        }
    }
}

struct ObjectReader {
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    pending: Bytes,
}

#[async_trait]
impl BlobReader for ObjectReader {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, DomainError> {
        while self.pending.is_empty() {
            match self.stream.next().await {
                Some(Ok(bytes)) => self.pending = bytes,
                Some(Err(error)) => return Err(failed("read an attachment", &error)),
                None => return Ok(None),
            }
        }
        let take = self.pending.len().min(CHUNK_BYTES);
        Ok(Some(self.pending.split_to(take).to_vec()))
    }
}
