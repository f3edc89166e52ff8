//! What the note use cases need from storage.

use async_trait::async_trait;

use crate::kernel::DomainError;
use crate::kernel::{NoteId, TenantId};
use crate::kernel::{Presence, RecordRef};
use crate::notes::{Note, NoteCursor};

/// Storage of notes.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait NoteRepository: Send + Sync {
    /// Inserts a note.
    ///
    /// # Errors
    /// `NotFound` when its record does not exist; `Unavailable`; `Internal`.
    async fn create(&self, note: &Note) -> Result<Note, DomainError>;

    /// Whether the contact or organization exists in the tenant, or (a
    /// contact) was merged into another.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn locate(&self, tenant: TenantId, owner: RecordRef) -> Result<Presence, DomainError>;

    /// Reads one note.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn get(&self, tenant: TenantId, id: NoteId) -> Result<Option<Note>, DomainError>;

    /// Up to `limit` notes of a record after `after`, pinned first, then
    /// newest first.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list(
        &self,
        tenant: TenantId,
        owner: RecordRef,
        after: Option<NoteCursor>,
        limit: u32,
    ) -> Result<Vec<Note>, DomainError>;

    /// Writes a note's fields at `expected_version`.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn update(&self, note: &Note, expected_version: i64) -> Result<Note, DomainError>;

    /// Deletes a note (at `expected_version` if given).
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn delete(
        &self,
        tenant: TenantId,
        id: NoteId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError>;
}
