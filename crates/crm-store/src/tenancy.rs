//! `TenantRepository` on sea-orm: the tenancy context's port.

use async_trait::async_trait;
use crm_domain::tenancy::Tenant;
use crm_domain::tenancy::TenantRepository;
use crm_domain::{DomainError, Entity, TenantId};

use crate::error::storage;
use crate::pools::Pools;
use crate::rows::tenants::{COLUMNS, TenantRow, shared_to_json};
use crate::rows::tiers::tags_json;
use crate::sql::Sql;

/// Tenants in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaTenantRepository {
    pub(crate) pools: Pools,
}

impl SeaTenantRepository {
    async fn one(&self, sql: Sql) -> Result<Option<Tenant>, DomainError> {
        sql.fetch_optional(&self.pools.db)
            .await?
            .map(TenantRow::into_domain)
            .transpose()
    }
}

#[async_trait]
impl TenantRepository for SeaTenantRepository {
    async fn create(&self, tenant: &Tenant, api_key_hash: &str) -> Result<(), DomainError> {
        let mut sql = Sql::new(
            "INSERT INTO tenants (id, name, api_key_hash, default_region, version, create_time, update_time) VALUES (",
        );
        sql.bind(tenant.id.as_uuid())
            .push(", ")
            .bind(tenant.name.clone())
            .push(", ")
            .bind(api_key_hash.to_owned())
            .push(", ")
            .bind(tenant.default_region.as_str().to_owned())
            .push(", ")
            .bind(tenant.version)
            .push(", ")
            .bind(tenant.create_time)
            .push(", ")
            .bind(tenant.update_time)
            .push(")");
        self.pools.writer.statement(sql).await.map_err(storage)?;
        Ok(())
    }

    async fn find_by_api_key_hash(
        &self,
        api_key_hash: &str,
    ) -> Result<Option<Tenant>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM tenants WHERE api_key_hash = ")
            .bind(api_key_hash.to_owned());
        self.one(sql).await
    }

    async fn list(&self) -> Result<Vec<Tenant>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM tenants ORDER BY create_time, id");
        sql.fetch(&self.pools.db, TenantRow::into_domain).await
    }

    async fn replace_api_key_hash(
        &self,
        id: TenantId,
        api_key_hash: &str,
    ) -> Result<(), DomainError> {
        let mut sql = Sql::new("UPDATE tenants SET api_key_hash = ");
        sql.bind(api_key_hash.to_owned())
            .push(" WHERE id = ")
            .bind(id.as_uuid());
        match self.pools.writer.statement(sql).await.map_err(storage)? {
            0 => Err(DomainError::NotFound {
                entity: Entity::Tenant,
                id: id.to_string(),
            }),
            _ => Ok(()),
        }
    }

    async fn get(&self, id: TenantId) -> Result<Option<Tenant>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM tenants WHERE id = ")
            .bind(id.as_uuid());
        self.one(sql).await
    }

    async fn update(&self, tenant: &Tenant, expected_version: i64) -> Result<Tenant, DomainError> {
        let mut sql = Sql::new("UPDATE tenants SET default_region = ");
        sql.bind(tenant.default_region.as_str().to_owned())
            .push(", free_mail_domains = ")
            .bind(tags_json(&tenant.free_mail_domains))
            .push(", shared_addresses = ")
            .bind(shared_to_json(&tenant.shared_addresses))
            .push(", version = ")
            .bind(expected_version + 1)
            .push(", update_time = ")
            .bind(tenant.update_time)
            .push(" WHERE id = ")
            .bind(tenant.id.as_uuid())
            .push(" AND version = ")
            .bind(expected_version);
        let updated = self.pools.writer.statement(sql).await.map_err(storage)?;
        if updated == 0 {
            return Err(match self.get(tenant.id).await? {
                Some(_) => DomainError::Stale {
                    entity: Entity::Tenant,
                    id: tenant.id.to_string(),
                },
                None => DomainError::NotFound {
                    entity: Entity::Tenant,
                    id: tenant.id.to_string(),
                },
            });
        }
        Ok(Tenant {
            version: expected_version + 1,
            ..tenant.clone()
        })
    }
}
