//! What the conversation use cases need from storage.

use async_trait::async_trait;

use crate::conversations::{Conversation, ConversationFilter};
use crate::kernel::DomainError;
use crate::kernel::{ContactId, ConversationId, TenantId};

/// Storage of conversations and the engagement figures derived from them.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait ConversationRepository: Send + Sync {
    /// Inserts a conversation or, when one with the same tenant, source and
    /// source id exists, updates that one (keeping its id and create time,
    /// bumping its version); then brings the engagement of every contact
    /// involved up to date (equal to `engagement_of` its history), all in one
    /// transaction. Returns the stored conversation and
    /// whether it was inserted.
    ///
    /// # Errors
    /// `NotFound` when the contact does not exist; `Contention` when another
    /// writer recorded the same source id at the same instant; `Unavailable`;
    /// `Internal`.
    async fn record(
        &self,
        conversation: &Conversation,
    ) -> Result<(Conversation, bool), DomainError>;

    /// Reads one conversation.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn get(
        &self,
        tenant: TenantId,
        id: ConversationId,
    ) -> Result<Option<Conversation>, DomainError>;

    /// Writes a conversation at `expected_version` and brings its contact's
    /// engagement up to date, atomically.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn update(
        &self,
        conversation: &Conversation,
        expected_version: i64,
    ) -> Result<Conversation, DomainError>;

    /// Deletes a conversation (at `expected_version` if given) and brings
    /// its contact's engagement up to date, atomically.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn delete(
        &self,
        tenant: TenantId,
        id: ConversationId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError>;

    /// Up to `limit` of a contact's conversations that pass `filter`, newest
    /// first (by start, then id), after the conversation `after`.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list_for_contact(
        &self,
        tenant: TenantId,
        contact: ContactId,
        filter: ConversationFilter,
        after: Option<ConversationId>,
        limit: u32,
    ) -> Result<Vec<Conversation>, DomainError>;
}
