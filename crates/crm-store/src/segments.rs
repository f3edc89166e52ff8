//! `SegmentRepository` on sea-orm: saved contact filters, listed by id; the
//! per-owner limit is counted under the tenant's row lock, so two creates
//! racing at the limit cannot both pass.

use async_trait::async_trait;
use crm_domain::kernel::SegmentId;
use crm_domain::segments::{Segment, SegmentFields, SegmentRepository, Visibility};
use crm_domain::{DomainError, Entity, TenantId};
use sea_orm::{ConnectionTrait, FromQueryResult};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::storage;
use crate::ordered::lock_tenant;
use crate::pools::Pools;
use crate::sql::Sql;

/// Segments in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaSegmentRepository {
    pub(crate) pools: Pools,
}

/// Every column, in [`SegmentRow`] order.
const COLUMNS: &str =
    "tenant_id, id, owner, display_name, filter, visibility, version, create_time, update_time";

#[derive(Debug, FromQueryResult)]
struct SegmentRow {
    tenant_id: Uuid,
    id: Uuid,
    owner: String,
    display_name: String,
    filter: String,
    visibility: String,
    version: i64,
    create_time: OffsetDateTime,
    update_time: OffsetDateTime,
}

impl SegmentRow {
    fn into_domain(self) -> Result<Segment, DomainError> {
        Ok(Segment {
            id: SegmentId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            owner: self.owner,
            fields: SegmentFields {
                display_name: self.display_name,
                filter: self.filter,
                visibility: Visibility::parse(&self.visibility).ok_or_else(|| {
                    DomainError::Internal("stored segment visibility is invalid".to_owned())
                })?,
            },
            version: self.version,
            create_time: self.create_time,
            update_time: self.update_time,
        })
    }
}

#[derive(Debug, FromQueryResult)]
struct Counted {
    n: i64,
}

fn not_found(id: SegmentId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::Segment,
        id: id.to_string(),
    }
}

impl SeaSegmentRepository {
    async fn read<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
        id: SegmentId,
    ) -> Result<Option<Segment>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM segments WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(id.as_uuid());
        Ok(sql
            .fetch(connection, SegmentRow::into_domain)
            .await?
            .into_iter()
            .next())
    }

    /// What a write that touched no row met: a changed segment or none.
    async fn missed(&self, tenant: TenantId, id: SegmentId) -> DomainError {
        match self.read(&self.pools.db, tenant, id).await {
            Ok(Some(_)) => DomainError::Stale {
                entity: Entity::Segment,
                id: id.to_string(),
            },
            Ok(None) => not_found(id),
            Err(error) => error,
        }
    }
}

#[async_trait]
impl SegmentRepository for SeaSegmentRepository {
    async fn create(&self, segment: &Segment, limit: usize) -> Result<Segment, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, segment.tenant_id).await?;
                let mut count = Sql::new("SELECT count(*) AS n FROM segments WHERE tenant_id = ");
                count
                    .bind(segment.tenant_id.as_uuid())
                    .push(" AND owner = ")
                    .bind(segment.owner.clone());
                let held = count
                    .fetch_optional::<_, Counted>(transaction)
                    .await?
                    .map_or(0, |row| row.n);
                if usize::try_from(held).unwrap_or(usize::MAX) >= limit {
                    return Err(DomainError::LimitReached {
                        what: "segments per owner",
                        limit,
                    });
                }
                let mut sql = Sql::new("INSERT INTO segments (");
                sql.push(COLUMNS)
                    .push(") VALUES (")
                    .bind(segment.tenant_id.as_uuid())
                    .push(", ")
                    .bind(segment.id.as_uuid())
                    .push(", ")
                    .bind(segment.owner.clone())
                    .push(", ")
                    .bind(segment.fields.display_name.clone())
                    .push(", ")
                    .bind(segment.fields.filter.clone())
                    .push(", ")
                    .bind(segment.fields.visibility.as_str())
                    .push(", ")
                    .bind(segment.version)
                    .push(", ")
                    .bind(segment.create_time)
                    .push(", ")
                    .bind(segment.update_time)
                    .push(")");
                sql.execute(transaction).await?;
                Ok(segment.clone())
            })
            .await
    }

    async fn get(&self, tenant: TenantId, id: SegmentId) -> Result<Option<Segment>, DomainError> {
        self.read(&self.pools.db, tenant, id).await
    }

    async fn list(
        &self,
        tenant: TenantId,
        viewer: &str,
        after: Option<SegmentId>,
        limit: u32,
    ) -> Result<Vec<Segment>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM segments WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND (owner = ")
            .bind(viewer.to_owned())
            .push(" OR visibility = ")
            .bind(Visibility::Shared.as_str())
            .push(")");
        if let Some(after) = after {
            sql.push(" AND id > ").bind(after.as_uuid());
        }
        sql.push(" ORDER BY id LIMIT ").bind(i64::from(limit));
        sql.fetch(&self.pools.db, SegmentRow::into_domain).await
    }

    async fn update(
        &self,
        segment: &Segment,
        expected_version: i64,
    ) -> Result<Segment, DomainError> {
        let mut sql = Sql::new("UPDATE segments SET display_name = ");
        sql.bind(segment.fields.display_name.clone())
            .push(", filter = ")
            .bind(segment.fields.filter.clone())
            .push(", visibility = ")
            .bind(segment.fields.visibility.as_str())
            .push(", version = ")
            .bind(expected_version + 1)
            .push(", update_time = ")
            .bind(segment.update_time)
            .push(" WHERE tenant_id = ")
            .bind(segment.tenant_id.as_uuid())
            .push(" AND id = ")
            .bind(segment.id.as_uuid())
            .push(" AND version = ")
            .bind(expected_version);
        if self.pools.writer.statement(sql).await.map_err(storage)? == 0 {
            return Err(self.missed(segment.tenant_id, segment.id).await);
        }
        Ok(Segment {
            version: expected_version + 1,
            ..segment.clone()
        })
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: SegmentId,
        expected_version: i64,
    ) -> Result<(), DomainError> {
        let mut sql = Sql::new("DELETE FROM segments WHERE tenant_id = ");
        sql.bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(id.as_uuid())
            .push(" AND version = ")
            .bind(expected_version);
        if self.pools.writer.statement(sql).await.map_err(storage)? == 0 {
            return Err(self.missed(tenant, id).await);
        }
        Ok(())
    }
}
