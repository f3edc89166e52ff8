//! Attachments: files on a contact or an organization (a signed contract,
//! a screenshot of the error). The bytes live in a [`BlobStore`], addressed
//! by tenant and SHA-256, so the same file uploaded twice is stored once;
//! the record (name, type, size, checksum, owner) lives in the database.
//!
//! An upload is streamed: [`AttachmentService::begin`] checks the metadata
//! and stages an empty blob, [`Upload::write`] hashes and stages each chunk
//! as it arrives, and [`Upload::finish`] checks the size and checksum and
//! only then stores the record and publishes the bytes, in one transaction.
//! Anything else (a bad chunk, a mismatch, a stream cut off, a dropped
//! upload) discards the staged bytes: no record, no orphaned bytes.

use crate::attachments::validate;
use crate::attachments::{Attachment, MAX_CHUNK_BYTES, NewAttachment, Sha256};
use std::fmt;
use std::sync::Arc;

use sha2::Digest;

use crate::attachments::{AttachmentRepository, BlobStore, StagedBlob};
use crate::kernel::Page;
use crate::kernel::{AttachmentId, TenantId};
use crate::kernel::{Clock, IdGenerator};
use crate::kernel::{DomainError, Entity};
use crate::kernel::{Presence, RecordRef};
use crate::tenancy::Caller;

/// Attachment use cases.
#[derive(Clone)]
pub struct AttachmentService {
    attachments: Arc<dyn AttachmentRepository>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    max_bytes: u64,
}

impl fmt::Debug for AttachmentService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttachmentService")
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl AttachmentService {
    /// Wires the use cases to their ports; files over `max_bytes` are refused.
    pub fn new(
        attachments: Arc<dyn AttachmentRepository>,
        blobs: Arc<dyn BlobStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        max_bytes: u64,
    ) -> Self {
        Self {
            attachments,
            blobs,
            clock,
            ids,
            max_bytes,
        }
    }

    /// The largest file accepted, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Starts an upload: checks the metadata and the owner, and stages an
    /// empty blob for the bytes.
    ///
    /// # Errors
    /// `TooLarge`; `InvalidArgument`; `NotFound` when the owner does not
    /// exist; `MergedAway` for a merged-away contact; `Unavailable`;
    /// `Internal`.
    pub async fn begin(
        &self,
        caller: &Caller,
        owner: RecordRef,
        meta: NewAttachment,
    ) -> Result<Upload, DomainError> {
        let tenant = caller.tenant();
        let meta = validate(meta, self.max_bytes)?;
        owner.require(self.attachments.locate(tenant.id, owner).await?)?;
        let staged = self.blobs.stage().await?;
        Ok(Upload {
            service: self.clone(),
            tenant_id: tenant.id,
            owner,
            meta,
            staged: Some(staged),
            hasher: sha2::Sha256::new(),
            received: 0,
        })
    }

    /// Reads one attachment's record.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn get(&self, caller: &Caller, id: AttachmentId) -> Result<Attachment, DomainError> {
        let tenant = caller.tenant();
        self.attachments
            .get(tenant.id, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Opens an attachment's bytes for reading, with its record.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal` when the bytes are missing.
    pub async fn open(
        &self,
        caller: &Caller,
        id: AttachmentId,
    ) -> Result<(Attachment, Box<dyn crate::attachments::BlobReader>), DomainError> {
        let attachment = self.get(caller, id).await?;
        let reader = self.blobs.open(&attachment.blob_key()).await?;
        Ok((attachment, reader))
    }

    /// A record's attachments, newest first, after a cursor.
    ///
    /// # Errors
    /// `NotFound` for an unknown record (not an empty list); `MergedAway`
    /// for a merged-away contact; `Unavailable`; `Internal`.
    pub async fn list(
        &self,
        caller: &Caller,
        owner: RecordRef,
        after: Option<AttachmentId>,
        page_size: u32,
    ) -> Result<Page<Attachment, AttachmentId>, DomainError> {
        let tenant = caller.tenant();
        owner.require(self.attachments.locate(tenant.id, owner).await?)?;
        let items = self
            .attachments
            .list(tenant.id, owner, after, crate::kernel::overfetch(page_size))
            .await?;
        Ok(Page::from_overfetch(items, page_size, |attachment| {
            attachment.id
        }))
    }

    /// Deletes an attachment, and its bytes unless another attachment of
    /// the tenant has the same bytes.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn delete(&self, caller: &Caller, id: AttachmentId) -> Result<(), DomainError> {
        let tenant = caller.tenant();
        self.attachments
            .delete(tenant.id, id, self.blobs.as_ref())
            .await
    }

    /// Removes bytes no attachment holds any more (their records went with
    /// a deleted contact or organization, or a crash cut an upload short)
    /// and staged uploads abandoned longer than `stale_after`. Returns how
    /// many blobs and staged uploads it removed.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn sweep(&self, stale_after: std::time::Duration) -> Result<u64, DomainError> {
        let blobs = self.attachments.sweep(self.blobs.as_ref()).await?;
        let staged = self.blobs.sweep_staging(stale_after).await?;
        Ok(blobs + staged)
    }
}

fn not_found(id: AttachmentId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::Attachment,
        id: id.to_string(),
    }
}

/// An upload in progress. Dropping it without [`Upload::finish`] discards
/// the staged bytes.
pub struct Upload {
    service: AttachmentService,
    tenant_id: TenantId,
    owner: RecordRef,
    meta: NewAttachment,
    staged: Option<Box<dyn StagedBlob>>,
    hasher: sha2::Sha256,
    received: u64,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("owner", &self.owner)
            .field("meta", &self.meta)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// How many bytes have arrived so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Hashes and stages the next chunk.
    ///
    /// # Errors
    /// `TooLarge` past the size limit; `InvalidArgument` on `chunk` for a
    /// chunk over [`MAX_CHUNK_BYTES`], on `metadata.size` past the declared
    /// size; `Unavailable` when the blob store fails. The upload should be
    /// aborted after an error.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), DomainError> {
        if chunk.len() > MAX_CHUNK_BYTES {
            return Err(DomainError::invalid(
                "chunk",
                format!(
                    "carries {} bytes; a chunk holds at most {MAX_CHUNK_BYTES} (3 MiB)",
                    chunk.len()
                ),
            ));
        }
        let received = self.received.saturating_add(chunk.len() as u64);
        if received > self.service.max_bytes {
            return Err(DomainError::TooLarge {
                field: "chunk".to_owned(),
                limit: self.service.max_bytes,
            });
        }
        if received > self.meta.size {
            return Err(DomainError::invalid(
                "metadata.size",
                format!(
                    "the upload carried more bytes than the declared {}",
                    self.meta.size
                ),
            ));
        }
        let staged = self
            .staged
            .as_mut()
            .ok_or_else(|| DomainError::Internal("upload already ended".to_owned()))?;
        self.hasher.update(chunk);
        staged.write(chunk).await?;
        self.received = received;
        Ok(())
    }

    /// Checks the size and checksum, then stores the record and publishes
    /// the bytes together.
    ///
    /// # Errors
    /// `InvalidArgument` when the bytes do not match the declared size or
    /// checksum; `NotFound` when the owner was deleted meanwhile;
    /// `Unavailable`; `Internal`. Nothing is kept after an error.
    pub async fn finish(mut self) -> Result<Attachment, DomainError> {
        let mut staged = self
            .staged
            .take()
            .ok_or_else(|| DomainError::Internal("upload already ended".to_owned()))?;
        let outcome = self.store(staged.as_mut()).await;
        if outcome.is_err() {
            staged.discard().await;
        }
        outcome
    }

    async fn store(&mut self, staged: &mut dyn StagedBlob) -> Result<Attachment, DomainError> {
        if self.received != self.meta.size {
            return Err(DomainError::invalid(
                "metadata.size",
                format!(
                    "declared {} bytes but the upload carried {}",
                    self.meta.size, self.received
                ),
            ));
        }
        let sha256 = Sha256::from_bytes(std::mem::take(&mut self.hasher).finalize().into());
        if let Some(expected) = self.meta.sha256.filter(|expected| *expected != sha256) {
            return Err(DomainError::invalid(
                "metadata.sha256",
                format!("the bytes' SHA-256 is {sha256}, not the declared {expected}"),
            ));
        }
        staged.seal().await?;
        let service = &self.service;
        let attachment = Attachment {
            id: AttachmentId::from_uuid(service.ids.new_id()),
            tenant_id: self.tenant_id,
            owner: self.owner,
            file_name: std::mem::take(&mut self.meta.file_name),
            content_type: std::mem::take(&mut self.meta.content_type),
            size: self.received,
            sha256,
            uploaded_by: std::mem::take(&mut self.meta.uploaded_by),
            create_time: service.clock.now(),
        };
        // The claim is committed first, so that bytes published by a
        // transaction that then fails (or a crash) can always be found.
        service
            .attachments
            .claim_blob(&attachment.blob_key(), attachment.create_time)
            .await?;
        match service.attachments.create(&attachment, staged).await {
            Ok(stored) => Ok(stored),
            Err(error) => {
                // Best effort: what this cannot remove, the periodic sweep does.
                let _ = service
                    .attachments
                    .release_blob(&attachment.blob_key(), service.blobs.as_ref())
                    .await;
                // The owner may have been merged away during the upload.
                let owner = self.owner;
                Err(error
                    .or_merged(async |_| {
                        match service.attachments.locate(self.tenant_id, owner).await? {
                            Presence::MergedInto(into) => Ok(Some(into)),
                            Presence::Present | Presence::Missing => Ok(None),
                        }
                    })
                    .await)
            }
        }
    }

    /// Discards the staged bytes now (dropping the upload does it too, but
    /// in the background).
    pub async fn abort(mut self) {
        if let Some(staged) = self.staged.take() {
            staged.discard().await;
        }
    }
}
