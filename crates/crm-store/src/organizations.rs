//! `OrganizationRepository` on sea-orm. An organization's domains live in
//! `organization_domains`, keyed by (tenant, domain), so a domain has one
//! owner; gaining a domain links the unaffiliated contacts with an email
//! there in the same transaction, found through the expression index on the
//! domain part of email identities.

use async_trait::async_trait;
use crm_domain::organizations::Organization;
use crm_domain::organizations::OrganizationRepository;
use crm_domain::{DomainError, Entity, OrganizationId, TenantId};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use time::OffsetDateTime;

use crate::ordered::lock_tenant;
use crate::pools::Pools;
use crate::rows::custom_values::values_to_json;
use crate::rows::organization_domains::{DomainRow, OwnerRow};
use crate::rows::organizations::OrganizationRow;
use crate::sql::Sql;

/// Organizations in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaOrganizationRepository {
    pub(crate) pools: Pools,
}

fn not_found(id: OrganizationId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::Organization,
        id: id.to_string(),
    }
}

fn stale(id: OrganizationId) -> DomainError {
    DomainError::Stale {
        entity: Entity::Organization,
        id: id.to_string(),
    }
}

fn push_list(sql: &mut Sql, items: &[String]) {
    sql.push("(");
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            sql.push(", ");
        }
        sql.bind(item.clone());
    }
    sql.push(")");
}

impl SeaOrganizationRepository {
    fn select(&self) -> Sql {
        let (json_array_open, json_array_close) = self.pools.backend.json_array_agg();
        let mut sql = Sql::new(
            "SELECT o.tenant_id, o.id, o.name, o.description, o.custom_values, o.version, \
             o.create_time, o.update_time, (SELECT count(*) FROM contacts c \
             WHERE c.tenant_id = o.tenant_id AND c.organization_id = o.id) AS member_count, ",
        );
        sql.push("(SELECT ")
            .push(json_array_open)
            .push("d.domain")
            .push(json_array_close)
            .push(
                " FROM organization_domains d \
                 WHERE d.tenant_id = o.tenant_id AND d.organization_id = o.id)",
            )
            .push(" AS domains_json FROM organizations o WHERE o.tenant_id = ");
        sql
    }

    async fn rows<C: ConnectionTrait>(
        &self,
        connection: &C,
        sql: Sql,
    ) -> Result<Vec<Organization>, DomainError> {
        sql.fetch(connection, OrganizationRow::into_domain).await
    }

    async fn read<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
        id: OrganizationId,
    ) -> Result<Option<Organization>, DomainError> {
        let mut sql = self.select();
        sql.bind(tenant.as_uuid())
            .push(" AND o.id = ")
            .bind(id.as_uuid());
        Ok(self.rows(connection, sql).await?.into_iter().next())
    }

    /// Gives `domains` to `organization`, or reports the first one another
    /// organization owns.
    async fn claim_domains(
        &self,
        transaction: &DatabaseTransaction,
        tenant: TenantId,
        organization: OrganizationId,
        domains: &[String],
    ) -> Result<(), DomainError> {
        if domains.is_empty() {
            return Ok(());
        }
        let mut sql = Sql::new(
            "INSERT INTO organization_domains (tenant_id, domain, organization_id) VALUES ",
        );
        for (index, domain) in domains.iter().enumerate() {
            if index > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(tenant.as_uuid())
                .push(", ")
                .bind(domain.clone())
                .push(", ")
                .bind(organization.as_uuid())
                .push(")");
        }
        sql.push(" ON CONFLICT DO NOTHING RETURNING domain");
        let written: Vec<String> = sql
            .fetch(transaction, |row: DomainRow| Ok(row.domain))
            .await?;
        let Some(taken) = domains.iter().find(|domain| !written.contains(domain)) else {
            return Ok(());
        };
        let mut sql =
            Sql::new("SELECT organization_id FROM organization_domains WHERE tenant_id = ");
        sql.bind(tenant.as_uuid())
            .push(" AND domain = ")
            .bind(taken.clone());
        let owner: Option<OwnerRow> = sql.fetch_optional(transaction).await?;
        Err(DomainError::AlreadyExists {
            entity: Entity::Organization,
            field: "domains".to_owned(),
            value: taken.clone(),
            holder: owner
                .map(|owner| owner.organization_id.to_string())
                .unwrap_or_default(),
        })
    }

    /// Links the contacts with no affiliation at all that hold an email at
    /// any of `domains`.
    async fn link_contacts(
        &self,
        transaction: &DatabaseTransaction,
        tenant: TenantId,
        organization: OrganizationId,
        domains: &[String],
        now: OffsetDateTime,
    ) -> Result<(), DomainError> {
        if domains.is_empty() {
            return Ok(());
        }
        // The same expression as the index `contact_identities_email_domain`.
        let domain_of = self.pools.backend.email_domain_of("value");
        let mut sql = Sql::new("UPDATE contacts SET organization_id = ");
        sql.bind(organization.as_uuid())
            .push(", organization_link = 'auto', version = version + 1, update_time = ")
            .bind(now)
            .push(" WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(
                " AND organization_id IS NULL AND organization_link IS NULL AND id IN \
                 (SELECT contact_id FROM contact_identities WHERE tenant_id = ",
            )
            .bind(tenant.as_uuid())
            .push(" AND kind = 'email' AND ")
            .push(&domain_of)
            .push(" IN ");
        push_list(&mut sql, domains);
        sql.push(")");
        sql.execute(transaction).await?;
        Ok(())
    }
}

#[async_trait]
impl OrganizationRepository for SeaOrganizationRepository {
    async fn create(
        &self,
        organization: &Organization,
        link_domains: &[String],
    ) -> Result<Organization, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, organization.tenant_id).await?;
                let mut sql = Sql::new(
                    "INSERT INTO organizations (tenant_id, id, name, description, custom_values, \
                 version, create_time, update_time) VALUES (",
                );
                sql.bind(organization.tenant_id.as_uuid())
                    .push(", ")
                    .bind(organization.id.as_uuid())
                    .push(", ")
                    .bind(organization.fields.name.clone())
                    .push(", ")
                    .bind(organization.fields.description.clone())
                    .push(", ")
                    .bind(values_to_json(&organization.custom_fields))
                    .push(", ")
                    .bind(organization.version)
                    .push(", ")
                    .bind(organization.create_time)
                    .push(", ")
                    .bind(organization.update_time)
                    .push(")");
                sql.execute(transaction).await?;
                self.claim_domains(
                    transaction,
                    organization.tenant_id,
                    organization.id,
                    &organization.fields.domains,
                )
                .await?;
                self.link_contacts(
                    transaction,
                    organization.tenant_id,
                    organization.id,
                    link_domains,
                    organization.create_time,
                )
                .await?;
                self.read(transaction, organization.tenant_id, organization.id)
                    .await?
                    .ok_or_else(|| not_found(organization.id))
            })
            .await
    }

    async fn get(
        &self,
        tenant: TenantId,
        id: OrganizationId,
    ) -> Result<Option<Organization>, DomainError> {
        self.read(&self.pools.db, tenant, id).await
    }

    async fn list(
        &self,
        tenant: TenantId,
        after: Option<OrganizationId>,
        limit: u32,
    ) -> Result<Vec<Organization>, DomainError> {
        let mut sql = self.select();
        sql.bind(tenant.as_uuid());
        if let Some(after) = after {
            sql.push(" AND o.id > ").bind(after.as_uuid());
        }
        sql.push(" ORDER BY o.id LIMIT ").bind(i64::from(limit));
        self.rows(&self.pools.db, sql).await
    }

    async fn update(
        &self,
        organization: &Organization,
        expected_version: i64,
        link_domains: &[String],
    ) -> Result<Organization, DomainError> {
        let tenant = organization.tenant_id;
        let id = organization.id;
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, tenant).await?;
                let current = self
                    .read(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(id))?;
                if current.version != expected_version {
                    return Err(stale(id));
                }
                let mut sql = Sql::new("UPDATE organizations SET name = ");
                sql.bind(organization.fields.name.clone())
                    .push(", description = ")
                    .bind(organization.fields.description.clone())
                    .push(", custom_values = ")
                    .bind(values_to_json(&organization.custom_fields))
                    .push(", version = ")
                    .bind(expected_version + 1)
                    .push(", update_time = ")
                    .bind(organization.update_time)
                    .push(" WHERE tenant_id = ")
                    .bind(tenant.as_uuid())
                    .push(" AND id = ")
                    .bind(id.as_uuid())
                    .push(" AND version = ")
                    .bind(expected_version);
                if sql.execute(transaction).await? == 0 {
                    return Err(stale(id));
                }
                let dropped: Vec<String> = current
                    .fields
                    .domains
                    .iter()
                    .filter(|domain| !organization.fields.domains.contains(domain))
                    .cloned()
                    .collect();
                if !dropped.is_empty() {
                    let mut sql = Sql::new("DELETE FROM organization_domains WHERE tenant_id = ");
                    sql.bind(tenant.as_uuid())
                        .push(" AND organization_id = ")
                        .bind(id.as_uuid())
                        .push(" AND domain IN ");
                    push_list(&mut sql, &dropped);
                    sql.execute(transaction).await?;
                }
                let added: Vec<String> = organization
                    .fields
                    .domains
                    .iter()
                    .filter(|domain| !current.fields.domains.contains(domain))
                    .cloned()
                    .collect();
                self.claim_domains(transaction, tenant, id, &added).await?;
                self.link_contacts(
                    transaction,
                    tenant,
                    id,
                    link_domains,
                    organization.update_time,
                )
                .await?;
                self.read(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(id))
            })
            .await
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: OrganizationId,
        expected_version: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<(), DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, tenant).await?;
                let current = self
                    .read(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(id))?;
                if expected_version.is_some_and(|version| version != current.version) {
                    return Err(stale(id));
                }
                let mut sql = Sql::new(
                    "UPDATE contacts SET organization_id = NULL, organization_link = NULL, \
                 version = version + 1, update_time = ",
                );
                sql.bind(now)
                    .push(" WHERE tenant_id = ")
                    .bind(tenant.as_uuid())
                    .push(" AND organization_id = ")
                    .bind(id.as_uuid());
                sql.execute(transaction).await?;
                let mut sql = Sql::new("DELETE FROM organization_domains WHERE tenant_id = ");
                sql.bind(tenant.as_uuid())
                    .push(" AND organization_id = ")
                    .bind(id.as_uuid());
                sql.execute(transaction).await?;
                let mut sql = Sql::new("DELETE FROM organizations WHERE tenant_id = ");
                sql.bind(tenant.as_uuid())
                    .push(" AND id = ")
                    .bind(id.as_uuid());
                sql.execute(transaction).await?;
                Ok(())
            })
            .await
    }

    async fn find_by_domains(
        &self,
        tenant: TenantId,
        domains: &[String],
    ) -> Result<Option<OrganizationId>, DomainError> {
        if domains.is_empty() {
            return Ok(None);
        }
        let mut sql =
            Sql::new("SELECT organization_id FROM organization_domains WHERE tenant_id = ");
        sql.bind(tenant.as_uuid()).push(" AND domain IN ");
        push_list(&mut sql, domains);
        sql.push(" ORDER BY domain LIMIT 1");
        // A new sender's auto-link reads this: a small read, in-line on
        // SQLite.
        Ok(self
            .pools
            .fetch_small(sql, |owner: OwnerRow| {
                Ok(OrganizationId::from_uuid(owner.organization_id))
            })
            .await?
            .pop())
    }
}
