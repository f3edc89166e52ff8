//! Tier use cases: defining, renaming, reordering and deleting tiers. Putting
//! one contact on a tier is a contact change (`ContactService::set_tier`);
//! ordering a queue by tier is `crate::routing`.

use crate::tiers;
use std::sync::Arc;

use crate::kernel::TierId;
use crate::kernel::{Attempt, retry, stale_unless_expected};
use crate::kernel::{Clock, IdGenerator};
use crate::kernel::{DomainError, Entity};
use crate::tenancy::Caller;
use crate::tiers::{SlaPolicy, Tier, TierFields};
use crate::tiers::{TierContacts, TierRepository};

/// Changes to a tier; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TierPatch {
    /// New name.
    pub name: Option<String>,
    /// New colour.
    pub color: Option<String>,
    /// New SLA policy (an empty one removes the targets).
    pub sla: Option<SlaPolicy>,
    /// New auto-tags.
    pub auto_tags: Option<Vec<String>>,
}

/// What deleting a tier does to the contacts on it, as the caller asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// Refuse while any contact is on the tier.
    Refuse,
    /// Leave them without a tier.
    Clear,
    /// Move them to this tier.
    MoveTo(TierId),
}

/// Tier use cases.
#[derive(Clone)]
pub struct TierService {
    tiers: Arc<dyn TierRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for TierService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TierService").finish_non_exhaustive()
    }
}

impl TierService {
    /// Wires the use cases to their ports.
    pub fn new(
        tiers: Arc<dyn TierRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { tiers, clock, ids }
    }

    /// Defines a tier, ranked below every existing one.
    ///
    /// # Errors
    /// `InvalidArgument`; `AlreadyExists` for a name in use; `FailedPrecondition`
    /// at [`tiers::MAX_TIERS`]; `Unavailable`; `Internal`.
    pub async fn create(&self, caller: &Caller, fields: TierFields) -> Result<Tier, DomainError> {
        let tenant = caller.tenant();
        let fields = tiers::validate(fields)?;
        let now = self.clock.now();
        let tier = Tier {
            id: TierId::from_uuid(self.ids.new_id()),
            tenant_id: tenant.id,
            fields,
            rank: 0,
            version: 1,
            create_time: now,
            update_time: now,
        };
        self.tiers.create(&tier, tiers::MAX_TIERS).await
    }

    /// Reads one tier.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn get(&self, caller: &Caller, id: TierId) -> Result<Tier, DomainError> {
        let tenant = caller.tenant();
        self.tiers
            .get(tenant.id, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Every tier, by rank.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn list(&self, caller: &Caller) -> Result<Vec<Tier>, DomainError> {
        let tenant = caller.tenant();
        self.tiers.list(tenant.id).await
    }

    /// Applies a patch; without `expected_version` a concurrent change is
    /// re-read and the patch applied on top of it.
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `AlreadyExists`; `Contention`;
    /// `Unavailable`; `Internal`.
    pub async fn update(
        &self,
        caller: &Caller,
        id: TierId,
        patch: TierPatch,
        expected_version: Option<i64>,
    ) -> Result<Tier, DomainError> {
        let patch = &patch;
        retry("tier", || async move {
            let current = self.get(caller, id).await?;
            if let Some(version) = expected_version
                && version != current.version
            {
                return Err(stale(id));
            }
            let mut fields = current.fields.clone();
            if let Some(name) = &patch.name {
                fields.name.clone_from(name);
            }
            if let Some(color) = &patch.color {
                fields.color.clone_from(color);
            }
            if let Some(sla) = patch.sla {
                fields.sla = sla;
            }
            if let Some(auto_tags) = &patch.auto_tags {
                fields.auto_tags.clone_from(auto_tags);
            }
            let updated = Tier {
                fields: tiers::validate(fields)?,
                update_time: self.clock.now(),
                ..current.clone()
            };
            Attempt::again_if(
                self.tiers.update(&updated, current.version).await,
                stale_unless_expected(expected_version),
            )
        })
        .await
    }

    /// Deletes a tier, doing what `on_delete` says to the contacts on it.
    ///
    /// # Errors
    /// `InvalidArgument` when moving to the tier being deleted or to an
    /// unknown tier; `NotFound`; `Stale`; `FailedPrecondition` when contacts
    /// are on it and the caller did not say where they go; `Unavailable`;
    /// `Internal`.
    pub async fn delete(
        &self,
        caller: &Caller,
        id: TierId,
        expected_version: Option<i64>,
        on_delete: OnDelete,
    ) -> Result<(), DomainError> {
        let tenant = caller.tenant();
        let contacts = match on_delete {
            OnDelete::Refuse => TierContacts::Refuse,
            OnDelete::Clear => TierContacts::Clear,
            OnDelete::MoveTo(target) if target == id => {
                return Err(DomainError::invalid(
                    "move_to_tier_id",
                    "must name another tier than the one deleted",
                ));
            }
            OnDelete::MoveTo(target) => {
                let target = self.tiers.get(tenant.id, target).await?.ok_or_else(|| {
                    DomainError::invalid("move_to_tier_id", format!("no tier {target}"))
                })?;
                TierContacts::MoveTo {
                    tier: target.id,
                    auto_tags: target.fields.auto_tags,
                }
            }
        };
        self.tiers
            .delete(tenant.id, id, expected_version, contacts, self.clock.now())
            .await
    }

    /// Ranks the tiers in the given order (first is rank 1).
    ///
    /// # Errors
    /// `InvalidArgument` on `tier_ids` unless it lists every tier exactly
    /// once; `Contention`; `Unavailable`; `Internal`.
    pub async fn reorder(
        &self,
        caller: &Caller,
        order: &[TierId],
    ) -> Result<Vec<Tier>, DomainError> {
        let tenant = caller.tenant();
        retry("tier order", || async move {
            let current: Vec<TierId> = self
                .tiers
                .list(tenant.id)
                .await?
                .iter()
                .map(|t| t.id)
                .collect();
            let ranks = tiers::plan_reorder(&current, order)?;
            Attempt::again_if(
                self.tiers
                    .reorder(tenant.id, &ranks, self.clock.now())
                    .await,
                |error| matches!(error, DomainError::Stale { .. }),
            )
        })
        .await
    }
}

fn not_found(id: TierId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::Tier,
        id: id.to_string(),
    }
}

fn stale(id: TierId) -> DomainError {
    DomainError::Stale {
        entity: Entity::Tier,
        id: id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::tenancy::Tenant;
    use mockall::predicate::always;
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    use crate::kernel::{MockClock, MockIdGenerator};
    use crate::tiers::MockTierRepository;

    fn service(tiers: MockTierRepository) -> TierService {
        let mut clock = MockClock::new();
        clock.expect_now().returning(|| OffsetDateTime::UNIX_EPOCH);
        let mut ids = MockIdGenerator::new();
        ids.expect_new_id().returning(Uuid::now_v7);
        TierService::new(Arc::new(tiers), Arc::new(clock), Arc::new(ids))
    }

    #[tokio::test]
    async fn an_invalid_tier_never_reaches_storage() {
        let error = service(MockTierRepository::new())
            .create(
                &Caller::tenant_key(Tenant::for_tests()),
                TierFields::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, DomainError::InvalidArgument(v) if v[0].field == "name"));
    }

    #[tokio::test]
    async fn moving_contacts_to_the_deleted_tier_itself_is_refused() {
        let id = TierId::from_uuid(Uuid::now_v7());
        let error = service(MockTierRepository::new())
            .delete(
                &Caller::tenant_key(Tenant::for_tests()),
                id,
                None,
                OnDelete::MoveTo(id),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(error, DomainError::InvalidArgument(v) if v[0].field == "move_to_tier_id")
        );
    }

    #[tokio::test]
    async fn a_reorder_that_loses_a_race_is_planned_again() {
        let a = TierId::from_uuid(Uuid::now_v7());
        let b = TierId::from_uuid(Uuid::now_v7());
        let tenant = Tenant::for_tests();
        let tenant_id = tenant.id;
        let stored = move |id: TierId, rank: u32| Tier {
            id,
            tenant_id,
            fields: TierFields::default(),
            rank,
            version: 1,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        };
        let listed = vec![stored(a, 1), stored(b, 2)];
        let mut tiers = MockTierRepository::new();
        tiers
            .expect_list()
            .times(2)
            .returning(move |_| Ok(listed.clone()));
        let mut attempts = 0;
        tiers
            .expect_reorder()
            .with(always(), always(), always())
            .times(2)
            .returning(move |_, ranks, _| {
                attempts += 1;
                if attempts == 1 {
                    Err(DomainError::Stale {
                        entity: Entity::Tier,
                        id: "order".into(),
                    })
                } else {
                    Ok(ranks.iter().map(|(id, rank)| stored(*id, *rank)).collect())
                }
            });
        let ordered = service(tiers)
            .reorder(&Caller::tenant_key(tenant.clone()), &[b, a])
            .await
            .unwrap();
        assert_eq!(
            ordered.iter().map(|t| (t.id, t.rank)).collect::<Vec<_>>(),
            [(b, 1), (a, 2)]
        );
    }
}
