//! What the attachment use cases need from the outside: the attachment
//! records, and the blob store that holds their bytes.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::attachments::{Attachment, BlobKey};
use crate::kernel::DomainError;
use crate::kernel::{AttachmentId, TenantId};
use crate::kernel::{Presence, RecordRef};

/// Storage of attachment records, and the claims on blobs that keep bytes
/// and records in step.
///
/// A blob key is *claimed* by a row of its own while any attachment of the
/// tenant may hold it. Writers lock that row while they publish or remove
/// the bytes, so an upload of some bytes and the deletion of the last
/// attachment holding the same bytes cannot interleave.
///
/// Not mocked: mockall cannot mock methods taking `&dyn` port arguments;
/// the use-case tests use a small fake instead.
#[async_trait]
pub trait AttachmentRepository: Send + Sync {
    /// Whether the contact or organization exists in the tenant, or (a
    /// contact) was merged into another.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn locate(&self, tenant: TenantId, owner: RecordRef) -> Result<Presence, DomainError>;

    /// Records (and commits) a claim on `key` before its bytes are
    /// published, so a sweep can find bytes whose upload failed later.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn claim_blob(&self, key: &BlobKey, now: OffsetDateTime) -> Result<(), DomainError>;

    /// In one transaction: locks the claim on the attachment's blob key,
    /// inserts the record, and publishes `bytes` under the key.
    ///
    /// # Errors
    /// `NotFound` when the owner does not exist; `Unavailable` (the bytes
    /// could not be published); `Internal`.
    async fn create(
        &self,
        attachment: &Attachment,
        bytes: &mut dyn StagedBlob,
    ) -> Result<Attachment, DomainError>;

    /// Reads one record.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn get(
        &self,
        tenant: TenantId,
        id: AttachmentId,
    ) -> Result<Option<Attachment>, DomainError>;

    /// Up to `limit` records of an owner after `after`, newest first.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list(
        &self,
        tenant: TenantId,
        owner: RecordRef,
        after: Option<AttachmentId>,
        limit: u32,
    ) -> Result<Vec<Attachment>, DomainError>;

    /// Deletes a record and, in the same transaction, its bytes from
    /// `blobs` when no other record of the tenant holds them.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    async fn delete(
        &self,
        tenant: TenantId,
        id: AttachmentId,
        blobs: &dyn BlobStore,
    ) -> Result<(), DomainError>;

    /// Removes the bytes under `key` and its claim when no record holds
    /// them. Returns whether it removed them.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn release_blob(&self, key: &BlobKey, blobs: &dyn BlobStore)
    -> Result<bool, DomainError>;

    /// Releases every claimed key no record holds (records deleted with
    /// their contact or organization, uploads cut short by a crash).
    /// Returns how many it removed.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn sweep(&self, blobs: &dyn BlobStore) -> Result<u64, DomainError>;
}

/// Where attachment bytes live. Content-addressed: bytes are staged under a
/// temporary name while they stream in, then published under their
/// [`BlobKey`], replacing any identical copy.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Starts staging new bytes.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    async fn stage(&self) -> Result<Box<dyn StagedBlob>, DomainError>;

    /// Opens the bytes under `key` for reading.
    ///
    /// # Errors
    /// `Internal` when there are none; `Unavailable`.
    async fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobReader>, DomainError>;

    /// Removes the bytes under `key`; removing missing bytes succeeds.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn remove(&self, key: &BlobKey) -> Result<(), DomainError>;

    /// Removes staged bytes older than `older_than` (left by a process that
    /// died mid-upload). Returns how many it removed.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn sweep_staging(&self, older_than: std::time::Duration) -> Result<u64, DomainError>;
}

/// Bytes being staged. Dropping it before [`StagedBlob::publish`] removes
/// what was staged (in the background).
#[async_trait]
pub trait StagedBlob: Send {
    /// Appends a chunk.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn write(&mut self, chunk: &[u8]) -> Result<(), DomainError>;

    /// Makes every written byte durable in staging; no write may follow.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn seal(&mut self) -> Result<(), DomainError>;

    /// Moves the sealed bytes to `key`, replacing what is there.
    ///
    /// # Errors
    /// `Unavailable`; `Internal` when not sealed.
    async fn publish(&mut self, key: &BlobKey) -> Result<(), DomainError>;

    /// Removes what was staged, unless it was published.
    async fn discard(self: Box<Self>);
}

/// Stored bytes being read, a chunk at a time.
#[async_trait]
pub trait BlobReader: Send {
    /// The next chunk (at most 64 KiB), or `None` at the end.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, DomainError>;
}
