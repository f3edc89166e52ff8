//! The ports: what the use cases need from the outside world, named for the
//! need rather than for a table. Adapters implement them (`crm-store` with
//! sea-orm); use-case tests mock them with mockall.
//!
//! Atomicity: the domain decides, the adapter applies atomically. Every
//! method that writes applies its whole argument in one database transaction
//! with a version check, and no transaction handle crosses the port.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::attachment::{Attachment, AttachmentOwner, BlobKey};
use crate::contact::{Contact, ContactFields, ContactIdentity, IdentityKey};
use crate::conversation::{Conversation, ConversationFilter};
use crate::custom_field::{CustomValues, FieldDefinition, FieldEntity};
use crate::error::DomainError;
use crate::ids::{
    AttachmentId, ContactId, ConversationId, FieldId, MergeId, NoteId, OrganizationId, SectionId,
    TabId, TenantId, TierId,
};
use crate::layout::{LayoutParts, Section, Tab};
use crate::merge::{ContactChild, MergePlan, MergeRecord};
use crate::note::{Note, NoteCursor, NoteOwner};
use crate::organization::Organization;
use crate::tenant::Tenant;
use crate::tier::{Tier, TierBadge};

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

    /// Reads up to `limit` contacts that pass `filter` with ids greater than
    /// `after`, by id.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list(
        &self,
        tenant: TenantId,
        filter: &ContactFilter,
        after: Option<ContactId>,
        limit: u32,
    ) -> Result<Vec<Contact>, DomainError>;

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
}

/// What deleting a tier does to the contacts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TierContacts {
    /// Refuse the delete while any contact is on the tier.
    Refuse,
    /// Leave them without a tier.
    Clear,
    /// Put them on another tier, adding its auto-tags.
    MoveTo {
        /// The tier they move to.
        tier: TierId,
        /// Its auto-tags.
        auto_tags: Vec<String>,
    },
}

/// Storage of merges: applying a planned merge, the tombstones merged-away
/// contacts leave, and the merge records.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait MergeRepository: Send + Sync {
    /// How many records of each kind in [`ContactChild::ALL`] hang off the
    /// contacts `ids`, together.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn count_children(
        &self,
        tenant: TenantId,
        ids: &[ContactId],
    ) -> Result<Vec<(ContactChild, u64)>, DomainError>;

    /// Applies `plan` in one transaction: locks every contact involved in id
    /// order and checks each is still at the plan's version; re-points every
    /// child record of the duplicates to the survivor; writes the survivor
    /// as planned (engagement recomputed from its conversations); turns the
    /// duplicates into tombstones that redirect to the survivor (tombstones
    /// that redirected to a duplicate now redirect to the survivor too); and
    /// stores `record` with the counts of what moved. Returns the record as
    /// stored and the survivor after the merge.
    ///
    /// # Errors
    /// `Stale` (naming the contact) when one moved from its planned version,
    /// was merged away or deleted meanwhile, in which case nothing is
    /// written; `Unavailable`; `Internal`.
    async fn apply(
        &self,
        plan: &MergePlan,
        record: &MergeRecord,
    ) -> Result<(MergeRecord, Contact), DomainError>;

    /// The contact a merged-away contact now resolves to (following chains),
    /// or `None` when `id` was never merged away.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn merged_into(
        &self,
        tenant: TenantId,
        id: ContactId,
    ) -> Result<Option<ContactId>, DomainError>;

    /// Up to `limit` merge records that `contact` took part in, newest first,
    /// older than `before`: as the survivor, as the survivor of a contact
    /// merged into it since, or as a duplicate.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list(
        &self,
        tenant: TenantId,
        contact: ContactId,
        before: Option<MergeId>,
        limit: u32,
    ) -> Result<Vec<MergeRecord>, DomainError>;

    /// Records that each pair (smaller id first) is not one person; pairs
    /// marked before stay as they were.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn mark_not_duplicates(
        &self,
        tenant: TenantId,
        pairs: &[(ContactId, ContactId)],
        marked_by: &str,
        now: OffsetDateTime,
    ) -> Result<(), DomainError>;

    /// Every pair marked not duplicates in the tenant (smaller id first).
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn not_duplicates(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<(ContactId, ContactId)>, DomainError>;
}

/// Storage of customer tiers.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait TierRepository: Send + Sync {
    /// Inserts a tier ranked below every other (its `rank` is ignored) and
    /// returns it as stored; tier-set changes of one tenant are serialised.
    ///
    /// # Errors
    /// `AlreadyExists` when the name is taken (ignoring case);
    /// `FailedPrecondition` when the tenant already has `limit` tiers;
    /// `Unavailable`; `Internal`.
    async fn create(&self, tier: &Tier, limit: usize) -> Result<Tier, DomainError>;

    /// Reads one tier.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn get(&self, tenant: TenantId, id: TierId) -> Result<Option<Tier>, DomainError>;

    /// Every tier of the tenant, by rank.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list(&self, tenant: TenantId) -> Result<Vec<Tier>, DomainError>;

    /// Writes a tier's fields if its version is still `expected_version`
    /// and returns it with the version bumped.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `AlreadyExists` (name); `Unavailable`; `Internal`.
    async fn update(&self, tier: &Tier, expected_version: i64) -> Result<Tier, DomainError>;

    /// Deletes a tier (at `expected_version` if given), closes the gap in the
    /// ranks and does `contacts` to the contacts on it, all in one transaction.
    ///
    /// # Errors
    /// `NotFound` (the tier, or the tier to move to); `Stale`;
    /// `FailedPrecondition` when `contacts` is `Refuse` and some are on it;
    /// `Unavailable`; `Internal`.
    async fn delete(
        &self,
        tenant: TenantId,
        id: TierId,
        expected_version: Option<i64>,
        contacts: TierContacts,
        now: OffsetDateTime,
    ) -> Result<(), DomainError>;

    /// Gives each tier its new rank, atomically, and returns every tier by
    /// rank; `ranks` must name exactly the tenant's tiers.
    ///
    /// # Errors
    /// `Stale` when the set of tiers changed meanwhile; `Unavailable`; `Internal`.
    async fn reorder(
        &self,
        tenant: TenantId,
        ranks: &[(TierId, u32)],
        now: OffsetDateTime,
    ) -> Result<Vec<Tier>, DomainError>;
}

/// Which definitions a record write needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefinitionsFor {
    /// The fields with these keys (an update).
    Keys(Vec<String>),
    /// The fields with these keys and every required field (an update that
    /// replaces all values).
    KeysAndRequired(Vec<String>),
    /// The fields with these keys, every required field and every field
    /// with a default (a create).
    Create(Vec<String>),
    /// Every field with a default (a record created by sender resolution).
    Defaults,
}

/// Storage of custom-field definitions and the form layout.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait CustomFieldRepository: Send + Sync {
    /// Inserts a definition placed last in its section (its `position` is
    /// ignored) and returns it as stored.
    ///
    /// # Errors
    /// `AlreadyExists` when the key is taken for the entity;
    /// `FailedPrecondition` when the entity already has `limit` fields or the
    /// section does not exist; `Unavailable`; `Internal`.
    async fn create_field(
        &self,
        field: &FieldDefinition,
        limit: usize,
    ) -> Result<FieldDefinition, DomainError>;

    /// Reads one definition.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn get_field(
        &self,
        tenant: TenantId,
        id: FieldId,
    ) -> Result<Option<FieldDefinition>, DomainError>;

    /// Up to `limit` definitions of an entity with ids after `after`, by id.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list_fields(
        &self,
        tenant: TenantId,
        entity: FieldEntity,
        after: Option<FieldId>,
        limit: u32,
    ) -> Result<Vec<FieldDefinition>, DomainError>;

    /// The definitions a record write of `entity` needs.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn definitions_for(
        &self,
        tenant: TenantId,
        entity: FieldEntity,
        wanted: DefinitionsFor,
    ) -> Result<Vec<FieldDefinition>, DomainError>;

    /// Writes a definition's spec at `expected_version`. When its type
    /// changes, refuses while any record holds a value for it.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `FailedPrecondition` (type change with values);
    /// `Unavailable`; `Internal`.
    async fn update_field(
        &self,
        field: &FieldDefinition,
        expected_version: i64,
        type_changed: bool,
    ) -> Result<FieldDefinition, DomainError>;

    /// Deletes a definition and every stored value of it, atomically.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn delete_field(
        &self,
        tenant: TenantId,
        id: FieldId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError>;

    /// Moves a field into `section` (or out of every section) at
    /// `position` (clamped to the end), shifting the others.
    ///
    /// # Errors
    /// `NotFound` (field); `FailedPrecondition` (section missing or of
    /// another entity); `Unavailable`; `Internal`.
    async fn move_field(
        &self,
        tenant: TenantId,
        id: FieldId,
        section: Option<SectionId>,
        position: u32,
        now: OffsetDateTime,
    ) -> Result<FieldDefinition, DomainError>;

    /// Every tab, section and definition of an entity, in one read.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn layout(
        &self,
        tenant: TenantId,
        entity: FieldEntity,
    ) -> Result<LayoutParts, DomainError>;

    /// Inserts a tab, last among its entity's tabs.
    ///
    /// # Errors
    /// `FailedPrecondition` at `limit` tabs; `Unavailable`; `Internal`.
    async fn create_tab(&self, tab: &Tab, limit: usize) -> Result<Tab, DomainError>;

    /// Renames a tab at `expected_version` (if given).
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn rename_tab(
        &self,
        tenant: TenantId,
        id: TabId,
        name: &str,
        expected_version: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<Tab, DomainError>;

    /// Deletes an empty tab and closes the gap.
    ///
    /// # Errors
    /// `NotFound`; `FailedPrecondition` while it holds sections;
    /// `Unavailable`; `Internal`.
    async fn delete_tab(&self, tenant: TenantId, id: TabId) -> Result<(), DomainError>;

    /// Gives an entity's tabs the positions of `order`, which must name
    /// exactly its tabs.
    ///
    /// # Errors
    /// `Stale` when the set of tabs changed meanwhile; `Unavailable`; `Internal`.
    async fn reorder_tabs(
        &self,
        tenant: TenantId,
        entity: FieldEntity,
        order: &[TabId],
        now: OffsetDateTime,
    ) -> Result<Vec<Tab>, DomainError>;

    /// Inserts a section, last in its tab.
    ///
    /// # Errors
    /// `FailedPrecondition` when the tab is missing or full; `Unavailable`; `Internal`.
    async fn create_section(&self, section: &Section, limit: usize)
    -> Result<Section, DomainError>;

    /// Renames a section at `expected_version` (if given).
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn rename_section(
        &self,
        tenant: TenantId,
        id: SectionId,
        name: &str,
        expected_version: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<Section, DomainError>;

    /// Deletes an empty section and closes the gap.
    ///
    /// # Errors
    /// `NotFound`; `FailedPrecondition` while it holds fields; `Unavailable`; `Internal`.
    async fn delete_section(&self, tenant: TenantId, id: SectionId) -> Result<(), DomainError>;

    /// The ids of a tab's sections, in order; `None` when there is no such tab.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn sections_of(
        &self,
        tenant: TenantId,
        tab: TabId,
    ) -> Result<Option<Vec<SectionId>>, DomainError>;

    /// Gives a tab's sections the positions of `order`, which must name
    /// exactly its sections.
    ///
    /// # Errors
    /// `NotFound` (tab); `Stale` when the set changed meanwhile; `Unavailable`; `Internal`.
    async fn reorder_sections(
        &self,
        tenant: TenantId,
        tab: TabId,
        order: &[SectionId],
        now: OffsetDateTime,
    ) -> Result<Vec<Section>, DomainError>;
}

/// Storage of organizations and their domains.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait OrganizationRepository: Send + Sync {
    /// Inserts an organization with its domains, then links the
    /// unaffiliated contacts with an email at any of `link_domains`, all in
    /// one transaction. Returns it as stored.
    ///
    /// # Errors
    /// `AlreadyExists` (a domain another organization owns, naming it);
    /// `Unavailable`; `Internal`.
    async fn create(
        &self,
        organization: &Organization,
        link_domains: &[String],
    ) -> Result<Organization, DomainError>;

    /// Reads one organization with its member count.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn get(
        &self,
        tenant: TenantId,
        id: OrganizationId,
    ) -> Result<Option<Organization>, DomainError>;

    /// Up to `limit` organizations with ids after `after`, by id.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list(
        &self,
        tenant: TenantId,
        after: Option<OrganizationId>,
        limit: u32,
    ) -> Result<Vec<Organization>, DomainError>;

    /// Writes an organization (fields, domains, custom values) at
    /// `expected_version`, then links the unaffiliated contacts at
    /// `link_domains`, atomically.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `AlreadyExists` (domain); `Unavailable`; `Internal`.
    async fn update(
        &self,
        organization: &Organization,
        expected_version: i64,
        link_domains: &[String],
    ) -> Result<Organization, DomainError>;

    /// Deletes an organization; its members become unaffiliated.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn delete(
        &self,
        tenant: TenantId,
        id: OrganizationId,
        expected_version: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<(), DomainError>;

    /// The organization owning any of `domains` (the first in domain order).
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn find_by_domains(
        &self,
        tenant: TenantId,
        domains: &[String],
    ) -> Result<Option<OrganizationId>, DomainError>;
}

/// Storage of notes.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait NoteRepository: Send + Sync {
    /// Inserts a note.
    ///
    /// # Errors
    /// `NotFound` when its record does not exist; `Unavailable`; `Internal`.
    async fn create(&self, note: &Note) -> Result<Note, DomainError>;

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
        owner: NoteOwner,
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
    /// Whether the contact or organization exists in the tenant.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn owner_exists(
        &self,
        tenant: TenantId,
        owner: AttachmentOwner,
    ) -> Result<bool, DomainError>;

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
        owner: AttachmentOwner,
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

/// Storage of conversations and the engagement figures derived from them.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait ConversationRepository: Send + Sync {
    /// Inserts a conversation or, when one with the same tenant, source and
    /// source id exists, updates that one (keeping its id and create time,
    /// bumping its version); then recomputes the engagement of every contact
    /// involved, all in one transaction. Returns the stored conversation and
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

    /// Writes a conversation at `expected_version` and recomputes its
    /// contact's engagement, atomically.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn update(
        &self,
        conversation: &Conversation,
        expected_version: i64,
    ) -> Result<Conversation, DomainError>;

    /// Deletes a conversation (at `expected_version` if given) and
    /// recomputes its contact's engagement, atomically.
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

/// Storage of tenants and their API keys.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait TenantRepository: Send + Sync {
    /// Inserts a tenant with the hash of its API key.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn create(&self, tenant: &Tenant, api_key_hash: &str) -> Result<(), DomainError>;

    /// The tenant whose API key hashes to `api_key_hash`.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn find_by_api_key_hash(&self, api_key_hash: &str)
    -> Result<Option<Tenant>, DomainError>;

    /// Reads one tenant.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn get(&self, id: TenantId) -> Result<Option<Tenant>, DomainError>;

    /// Writes a tenant's settings if its version is still `expected_version`,
    /// and returns it with the version bumped.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn update(&self, tenant: &Tenant, expected_version: i64) -> Result<Tenant, DomainError>;
}

/// The time source of use cases, so tests can fix it.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC, truncated to microseconds (what every database keeps).
    fn now(&self) -> OffsetDateTime;
}

/// The id source of use cases, so tests can fix it.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A new UUIDv7.
    fn new_id(&self) -> Uuid;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
            .unwrap_or(now)
    }
}

/// UUIDv7 ids from the system clock and random bits.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
