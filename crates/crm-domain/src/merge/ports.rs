//! What the merge use cases need from storage.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::contacts::Contact;
use crate::kernel::DomainError;
use crate::kernel::{ContactId, MergeId, TenantId};
use crate::merge::{ContactChild, MergePlan, MergeRecord};

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
    /// as planned (its engagement combined with the duplicates'); turns the
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
