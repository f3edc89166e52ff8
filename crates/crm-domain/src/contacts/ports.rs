//! What the contact use cases need from storage.
//!
//! Atomicity: the domain decides, the adapter applies atomically. Every method
//! that writes applies its whole argument in one database transaction with a
//! version check, and no transaction handle crosses the port.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::contacts::{Contact, ContactCursor, ContactFields};
use crate::fields::CustomValues;
use crate::identity::{ContactIdentity, IdentityKey};
use crate::kernel::DomainError;
use crate::kernel::{ContactId, OrganizationId, TenantId};
use crate::tiers::TierBadge;

/// What a create with a request id did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The contact was inserted.
    Created(Box<Contact>),
    /// An earlier call with the same request id created this contact.
    Replayed(ContactId),
}

/// What creating a resolved sender did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedCreate {
    /// The contact was inserted with every identity.
    Created(Box<Contact>),
    /// Another writer claimed one of the identities first; nothing was written.
    Raced,
}

/// A change to one contact, computed by the domain and applied as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactChange {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The contact.
    pub id: ContactId,
    /// The version the change was computed from; the write fails if it moved.
    pub expected_version: i64,
    /// The new describing fields (all of them).
    pub fields: ContactFields,
    /// Identities to insert.
    pub add: Vec<ContactIdentity>,
    /// Identities to delete.
    pub remove: Vec<IdentityKey>,
    /// Kept identities whose raw form or primary flag changes.
    pub restate: Vec<ContactIdentity>,
    /// Tags to add (normalised).
    pub tags_add: Vec<String>,
    /// Tags to remove (normalised).
    pub tags_remove: Vec<String>,
    /// The custom-field values after the change (all of them).
    pub custom_fields: CustomValues,
    /// The new update time.
    pub now: OffsetDateTime,
}

/// The most identity keys one bulk read may name, with room to spare: a
/// routing request names at most 1000 senders (one or two keys each), and
/// duplicate finding reads in batches of 500. Statements take the keys as
/// one list, 2 parameters a key, within every backend's parameter limit
/// (SQLite's is 32,766).
pub const MAX_KEYS_PER_READ: usize = 8000;

/// Storage of contacts and their identities.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait ContactRepository: Send + Sync {
    /// Inserts a contact with its identities, all or nothing. With a request
    /// id already used in the tenant, inserts nothing and names the contact
    /// that request created.
    ///
    /// # Errors
    /// `IdentityTaken` (with the holder, `field` empty) when another contact
    /// holds one of the identities; `Unavailable`; `Internal`.
    async fn create(
        &self,
        contact: &Contact,
        request_id: Option<String>,
    ) -> Result<CreateOutcome, DomainError>;

    /// Reads one contact with its identities.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn get(&self, tenant: TenantId, id: ContactId) -> Result<Option<Contact>, DomainError>;

    /// The contact `id` was merged into (chains followed), or `None` when it
    /// was never merged away.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn merged_into(
        &self,
        tenant: TenantId,
        id: ContactId,
    ) -> Result<Option<ContactId>, DomainError>;

    /// Reads up to `limit` contacts that pass `filter`, in `filter.order`,
    /// after `after` (a cursor of that order).
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list(
        &self,
        tenant: TenantId,
        filter: &ContactFilter,
        after: Option<ContactCursor>,
        limit: u32,
    ) -> Result<Vec<Contact>, DomainError>;

    /// Where the next `pages` pages of `step` contacts passing `filter`
    /// after `after` end, in id order: the id of every `step`-th such
    /// contact, at most `pages` of them (fewer when fewer remain). Reads
    /// ids only, so a reader can fetch those pages side by side.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn page_ends(
        &self,
        tenant: TenantId,
        filter: &ContactFilter,
        after: Option<ContactId>,
        step: u32,
        pages: u32,
    ) -> Result<Vec<ContactId>, DomainError>;

    /// How many contacts of `tenant` pass `filter`, counting at most
    /// `cap + 1` of them (so a count over a large tenant stays bounded).
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn count(
        &self,
        tenant: TenantId,
        filter: &ContactFilter,
        cap: u64,
    ) -> Result<u64, DomainError>;

    /// The tier of each of `ids` that exists, in no particular order.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn tiers_of(
        &self,
        tenant: TenantId,
        ids: &[ContactId],
    ) -> Result<Vec<(ContactId, Option<TierBadge>)>, DomainError>;

    /// Applies a change atomically and returns the contact after it.
    ///
    /// # Errors
    /// `NotFound`; `Stale` when the version moved; `IdentityTaken` (with the
    /// holder, `field` empty) when an added identity is held by another
    /// contact, in which case nothing is written; `Unavailable`; `Internal`.
    async fn update(&self, change: &ContactChange) -> Result<Contact, DomainError>;

    /// Deletes a contact and its identities, at `expected_version` if given.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn delete(
        &self,
        tenant: TenantId,
        id: ContactId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError>;

    /// Every contact holding any of `keys`, each with all its identities.
    /// The hot path of sender resolution: one round trip.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn find_by_identities(
        &self,
        tenant: TenantId,
        keys: &[IdentityKey],
    ) -> Result<Vec<Contact>, DomainError>;

    /// [`ContactRepository::find_by_identities`] for several senders at
    /// once (a `ResolveSenders` batch): one answer per set of keys, in
    /// order, each exactly what `find_by_identities` would give for it. The
    /// store reads them together, in as few statements as it can.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn find_by_identities_each(
        &self,
        tenant: TenantId,
        key_sets: &[Vec<IdentityKey>],
    ) -> Result<Vec<Vec<Contact>>, DomainError>;

    /// [`ContactRepository::find_by_identities`] for many keys at once (a
    /// routing request's senders): any number of keys up to
    /// [`MAX_KEYS_PER_READ`], in one statement that no backend limit on
    /// expressions refuses.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn find_many_by_identities(
        &self,
        tenant: TenantId,
        keys: &[IdentityKey],
    ) -> Result<Vec<Contact>, DomainError>;

    /// Inserts a newly resolved sender with all its identities, or nothing
    /// at all when another writer holds any of them by now.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn create_resolved(&self, contact: &Contact) -> Result<ResolvedCreate, DomainError>;

    /// Attaches identities to an existing contact, skipping any that another
    /// contact holds by now, and returns the contact after it; with `link`,
    /// also links the contact to that organization if it still has no
    /// affiliation at all. Bumps the version only when something changed.
    ///
    /// # Errors
    /// `NotFound` when the contact is gone; `Unavailable`; `Internal`.
    async fn attach_identities(
        &self,
        tenant: TenantId,
        id: ContactId,
        identities: &[ContactIdentity],
        link: Option<OrganizationId>,
        now: OffsetDateTime,
    ) -> Result<Contact, DomainError>;
}

/// Which contacts a list returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactFilter {
    /// Only contacts with this (normalised) tag.
    pub tag: Option<String>,
    /// Only members of this organization.
    pub organization: Option<OrganizationId>,
    /// Only contacts that pass this filter expression.
    pub expression: Option<crate::contacts::Filter>,
    /// The order a list reads them in (a count ignores it).
    pub order: crate::contacts::ContactOrder,
}

/// Most contacts a count counts exactly; beyond, it says "at least".
pub const COUNT_CAP: u64 = 10_000;
