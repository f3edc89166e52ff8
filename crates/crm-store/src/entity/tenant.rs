//! `tenants`: one row per tenant, with the hash of its API key.

use crm_domain::tenant::Tenant;
use crm_domain::{DomainError, Region, TenantId};
use sea_orm::FromQueryResult;
use time::OffsetDateTime;
use uuid::Uuid;

/// The columns read back, in `SELECT` order.
pub(crate) const COLUMNS: &str =
    "id, name, default_region, free_mail_domains, version, create_time, update_time";

#[derive(Debug, FromQueryResult)]
pub(crate) struct TenantRow {
    pub id: Uuid,
    pub name: String,
    pub default_region: String,
    pub free_mail_domains: String,
    pub version: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

impl TenantRow {
    pub(crate) fn into_domain(self) -> Result<Tenant, DomainError> {
        let default_region = Region::parse(&self.default_region).map_err(|_| {
            DomainError::Internal(format!(
                "stored region {:?} is invalid",
                self.default_region
            ))
        })?;
        let free_mail_domains = serde_json::from_str(&self.free_mail_domains).map_err(|_| {
            DomainError::Internal("stored free-mail domains are invalid".to_owned())
        })?;
        Ok(Tenant {
            id: TenantId::from_uuid(self.id),
            name: self.name,
            default_region,
            free_mail_domains,
            version: self.version,
            create_time: self.create_time,
            update_time: self.update_time,
        })
    }
}
