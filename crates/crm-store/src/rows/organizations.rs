//! `organizations`: companies contacts belong to, read with their member
//! count and their domains (from `organization_domains`) as a JSON array.

use crm_domain::organizations::{Organization, OrganizationFields};
use crm_domain::{DomainError, OrganizationId, TenantId};
use sea_orm::FromQueryResult;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rows::custom_values::values_from_json;

/// An organization with its member count and domains.
#[derive(Debug, FromQueryResult)]
pub(crate) struct OrganizationRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub custom_values: String,
    pub version: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub member_count: i64,
    pub domains_json: String,
}

impl OrganizationRow {
    pub(crate) fn into_domain(self) -> Result<Organization, DomainError> {
        let mut domains: Vec<String> = serde_json::from_str(&self.domains_json)
            .map_err(|_| DomainError::Internal("stored domains are invalid".to_owned()))?;
        domains.sort();
        Ok(Organization {
            id: OrganizationId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            fields: OrganizationFields {
                name: self.name,
                domains,
                description: self.description,
            },
            custom_fields: values_from_json(&self.custom_values)?,
            member_count: u64::try_from(self.member_count).unwrap_or(0),
            version: self.version,
            create_time: self.create_time,
            update_time: self.update_time,
        })
    }
}
