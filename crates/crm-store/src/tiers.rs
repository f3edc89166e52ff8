//! `TierRepository` on sea-orm. Changes to a tenant's set of tiers (create,
//! delete, reorder) keep ranks 1..n without gaps, so they are serialised per
//! tenant (`ordered::lock_tenant`).

use async_trait::async_trait;
use crm_domain::tiers;
use crm_domain::tiers::Tier;
use crm_domain::tiers::{TierContacts, TierRepository};
use crm_domain::{DomainError, Entity, Precondition, TenantId, TierId};
use sea_orm::ConnectionTrait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{is_unique_violation, storage};
use crate::ordered::lock_tenant;
use crate::pools::Pools;
use crate::rows::tiers::{COLUMNS, RankCount, TierRow, seconds, tags_json};
use crate::rows::{Count, Id};
use crate::sql::Sql;
use crate::write::Abort;

/// Tiers in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaTierRepository {
    pub(crate) pools: Pools,
}

impl SeaTierRepository {
    /// Runs a write that ends undone when the tier's name is taken, and
    /// then reports the name's holder, read once the transaction is over.
    async fn write_named<T>(
        &self,
        tier: &Tier,
        work: impl AsyncFnOnce(&sea_orm::DatabaseTransaction) -> Result<T, Abort>,
    ) -> Result<T, DomainError> {
        match self.pools.writer.transaction(work).await {
            Ok(value) => Ok(value),
            Err(Abort::Undone) => Err(self.name_holder(tier.tenant_id, &tier.fields.name).await?),
            Err(Abort::Failed(error)) => Err(error),
        }
    }

    async fn select<C: ConnectionTrait>(
        &self,
        connection: &C,
        sql: Sql,
    ) -> Result<Vec<Tier>, DomainError> {
        sql.fetch(connection, TierRow::into_domain).await
    }

    async fn read<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
        id: TierId,
    ) -> Result<Option<Tier>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM tiers WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(id.as_uuid());
        Ok(self.select(connection, sql).await?.into_iter().next())
    }

    async fn read_all<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
    ) -> Result<Vec<Tier>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM tiers WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" ORDER BY priority_rank, id");
        self.select(connection, sql).await
    }

    /// The tier holding a name, for `AlreadyExists`.
    async fn name_holder(&self, tenant: TenantId, name: &str) -> Result<DomainError, DomainError> {
        let mut sql = Sql::new("SELECT id FROM tiers WHERE tenant_id = ");
        sql.bind(tenant.as_uuid())
            .push(" AND name_key = ")
            .bind(tiers::name_key(name));
        let holder: Option<Id> = sql.fetch_optional(&self.pools.db).await?;
        Ok(match holder {
            Some(holder) => DomainError::AlreadyExists {
                entity: Entity::Tier,
                field: "name".to_owned(),
                value: name.to_owned(),
                holder: holder.id.to_string(),
            },
            // Renamed again meanwhile: the caller may simply retry.
            None => DomainError::Contention("tier name"),
        })
    }
}

fn not_found(id: TierId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::Tier,
        id: id.to_string(),
    }
}

#[async_trait]
impl TierRepository for SeaTierRepository {
    async fn create(&self, tier: &Tier, limit: usize) -> Result<Tier, DomainError> {
        self.write_named(tier, async |transaction| {
            lock_tenant(transaction, tier.tenant_id).await?;
            let mut sql = Sql::new(
                "SELECT count(*) AS n, CAST(coalesce(max(priority_rank), 0) AS BIGINT) AS top \
                 FROM tiers WHERE tenant_id = ",
            );
            sql.bind(tier.tenant_id.as_uuid());
            let counted: RankCount = sql
                .fetch_optional(transaction)
                .await?
                .unwrap_or(RankCount { n: 0, top: 0 });
            if usize::try_from(counted.n).unwrap_or(usize::MAX) >= limit {
                return Err(
                    DomainError::FailedPrecondition(Precondition::TierLimit { limit }).into(),
                );
            }
            let rank = u32::try_from(counted.top + 1).unwrap_or(u32::MAX);
            let fields = &tier.fields;
            let mut sql = Sql::new(
                "INSERT INTO tiers (tenant_id, id, name, name_key, color, priority_rank, \
                 first_response_seconds, resolution_seconds, auto_tags, version, create_time, \
                 update_time) VALUES (",
            );
            sql.bind(tier.tenant_id.as_uuid())
                .push(", ")
                .bind(tier.id.as_uuid())
                .push(", ")
                .bind(fields.name.clone())
                .push(", ")
                .bind(tiers::name_key(&fields.name))
                .push(", ")
                .bind(fields.color.clone())
                .push(", ")
                .bind(i64::from(rank))
                .push(", ")
                .bind(seconds(fields.sla.first_response))
                .push(", ")
                .bind(seconds(fields.sla.resolution))
                .push(", ")
                .bind(tags_json(&fields.auto_tags))
                .push(", ")
                .bind(tier.version)
                .push(", ")
                .bind(tier.create_time)
                .push(", ")
                .bind(tier.update_time)
                .push(") ON CONFLICT (tenant_id, name_key) DO NOTHING");
            if sql.execute(transaction).await? == 0 {
                return Err(Abort::Undone);
            }
            Ok(Tier {
                rank,
                ..tier.clone()
            })
        })
        .await
    }

    async fn get(&self, tenant: TenantId, id: TierId) -> Result<Option<Tier>, DomainError> {
        self.read(&self.pools.db, tenant, id).await
    }

    async fn list(&self, tenant: TenantId) -> Result<Vec<Tier>, DomainError> {
        self.read_all(&self.pools.db, tenant).await
    }

    async fn update(&self, tier: &Tier, expected_version: i64) -> Result<Tier, DomainError> {
        self.write_named(tier, async |transaction| {
            let fields = &tier.fields;
            let mut sql = Sql::new("UPDATE tiers SET name = ");
            sql.bind(fields.name.clone())
                .push(", name_key = ")
                .bind(tiers::name_key(&fields.name))
                .push(", color = ")
                .bind(fields.color.clone())
                .push(", first_response_seconds = ")
                .bind(seconds(fields.sla.first_response))
                .push(", resolution_seconds = ")
                .bind(seconds(fields.sla.resolution))
                .push(", auto_tags = ")
                .bind(tags_json(&fields.auto_tags))
                .push(", version = ")
                .bind(expected_version + 1)
                .push(", update_time = ")
                .bind(tier.update_time)
                .push(" WHERE tenant_id = ")
                .bind(tier.tenant_id.as_uuid())
                .push(" AND id = ")
                .bind(tier.id.as_uuid())
                .push(" AND version = ")
                .bind(expected_version);
            let updated = match sql.try_execute(transaction).await {
                Ok(updated) => updated,
                Err(error) if is_unique_violation(&error) => return Err(Abort::Undone),
                Err(error) => return Err(storage(error).into()),
            };
            if updated == 0 {
                let exists = self
                    .read(transaction, tier.tenant_id, tier.id)
                    .await?
                    .is_some();
                return Err(if exists {
                    DomainError::Stale {
                        entity: Entity::Tier,
                        id: tier.id.to_string(),
                    }
                } else {
                    not_found(tier.id)
                }
                .into());
            }
            Ok(self
                .read(transaction, tier.tenant_id, tier.id)
                .await?
                .ok_or_else(|| not_found(tier.id))?)
        })
        .await
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: TierId,
        expected_version: Option<i64>,
        contacts: TierContacts,
        now: OffsetDateTime,
    ) -> Result<(), DomainError> {
        self.pools.writer.transaction(async |transaction| {
            lock_tenant(transaction, tenant).await?;
            let current = self
                .read(transaction, tenant, id)
                .await?
                .ok_or_else(|| not_found(id))?;
            if expected_version.is_some_and(|version| version != current.version) {
                return Err(DomainError::Stale {
                    entity: Entity::Tier,
                    id: id.to_string(),
                });
            }
            let on_tier = |sql: &mut Sql| {
                sql.push(" WHERE tenant_id = ")
                    .bind(tenant.as_uuid())
                    .push(" AND tier_id = ")
                    .bind(id.as_uuid());
            };
            match contacts {
                TierContacts::Refuse => {
                    let mut sql = Sql::new("SELECT count(*) AS n FROM contacts");
                    on_tier(&mut sql);
                    let counted = sql
                        .fetch_optional::<_, Count>(transaction)
                        .await?
                        .map_or(0, |row| row.n);
                    if counted > 0 {
                        return Err(DomainError::FailedPrecondition(Precondition::TierInUse {
                            contacts: counted,
                        }));
                    }
                }
                TierContacts::Clear => {
                    let mut sql = Sql::new("UPDATE contacts SET tier_id = NULL, version = version + 1, update_time = ");
                    sql.bind(now);
                    on_tier(&mut sql);
                    sql.execute(transaction).await?;
                }
                TierContacts::MoveTo { tier: target, auto_tags } => {
                    if self.read(transaction, tenant, target).await?.is_none() {
                        return Err(DomainError::invalid(
                            "move_to_tier_id",
                            format!("no tier {target}"),
                        ));
                    }
                    for tag in auto_tags {
                        let mut sql = Sql::new(
                            "INSERT INTO contact_tags (tenant_id, contact_id, tag) SELECT tenant_id, id, ",
                        );
                        sql.bind(tag).push(" FROM contacts");
                        on_tier(&mut sql);
                        sql.push(" ON CONFLICT DO NOTHING");
                        sql.execute(transaction).await?;
                    }
                    let mut sql = Sql::new("UPDATE contacts SET tier_id = ");
                    sql.bind(target.as_uuid())
                        .push(", version = version + 1, update_time = ")
                        .bind(now);
                    on_tier(&mut sql);
                    sql.execute(transaction).await?;
                }
            }
            let mut sql = Sql::new("DELETE FROM tiers WHERE tenant_id = ");
            sql.bind(tenant.as_uuid())
                .push(" AND id = ")
                .bind(id.as_uuid());
            sql.execute(transaction).await?;
            let mut sql = Sql::new(
                "UPDATE tiers SET priority_rank = priority_rank - 1, version = version + 1, update_time = ",
            );
            sql.bind(now)
                .push(" WHERE tenant_id = ")
                .bind(tenant.as_uuid())
                .push(" AND priority_rank > ")
                .bind(i64::from(current.rank));
            sql.execute(transaction).await?;
            Ok(())
        })
        .await
    }

    async fn reorder(
        &self,
        tenant: TenantId,
        ranks: &[(TierId, u32)],
        now: OffsetDateTime,
    ) -> Result<Vec<Tier>, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, tenant).await?;
                let current: Vec<(Uuid, i64)> = self
                    .read_all(transaction, tenant)
                    .await?
                    .iter()
                    .map(|tier| (tier.id.as_uuid(), i64::from(tier.rank)))
                    .collect();
                let wanted: Vec<(Uuid, i64)> = ranks
                    .iter()
                    .map(|(id, rank)| (id.as_uuid(), i64::from(*rank)))
                    .collect();
                let stale = DomainError::Stale {
                    entity: Entity::Tier,
                    id: "order".to_owned(),
                };
                crate::ordered::rewrite(
                    transaction,
                    "tiers",
                    "priority_rank",
                    tenant,
                    &current,
                    &wanted,
                    now,
                    stale,
                )
                .await?;
                self.read_all(transaction, tenant).await
            })
            .await
    }
}
