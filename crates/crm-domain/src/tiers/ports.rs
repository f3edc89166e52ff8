//! What the tier use cases need from storage.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::kernel::DomainError;
use crate::kernel::{TenantId, TierId};
use crate::tiers::Tier;

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
