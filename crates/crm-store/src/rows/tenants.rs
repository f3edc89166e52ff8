//! `tenants`: one row per tenant, with the hash of its API key.

use crm_domain::tenancy::{AddressUse, SharedAddress, Tenant};
use crm_domain::{DomainError, IdentityKey, IdentityKind, Region, TenantId};
use sea_orm::FromQueryResult;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

/// The columns read back, in `SELECT` order.
pub(crate) const COLUMNS: &str = "id, name, default_region, free_mail_domains, shared_addresses, version, create_time, \
     update_time";

#[derive(Debug, FromQueryResult)]
pub(crate) struct TenantRow {
    pub id: Uuid,
    pub name: String,
    pub default_region: String,
    pub free_mail_domains: String,
    pub shared_addresses: String,
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
        let shared_addresses = shared_from_json(&self.shared_addresses)?;
        Ok(Tenant {
            id: TenantId::from_uuid(self.id),
            name: self.name,
            default_region,
            free_mail_domains,
            shared_addresses,
            version: self.version,
            create_time: self.create_time,
            update_time: self.update_time,
        })
    }
}

/// A tenant's shared addresses as stored: `[{"kind":..,"value":..,"use":..}]`.
pub(crate) fn shared_to_json(shared: &[SharedAddress]) -> String {
    Value::Array(
        shared
            .iter()
            .map(|address| {
                json!({
                    "kind": address.key.kind.as_str(),
                    "value": address.key.value,
                    "use": address.usage.as_str(),
                })
            })
            .collect(),
    )
    .to_string()
}

fn shared_from_json(text: &str) -> Result<Vec<SharedAddress>, DomainError> {
    let invalid = || DomainError::Internal("stored shared addresses are invalid".to_owned());
    let parsed: Value = serde_json::from_str(text).map_err(|_| invalid())?;
    let mut shared = parsed
        .as_array()
        .ok_or_else(invalid)?
        .iter()
        .map(|item| {
            Ok(SharedAddress {
                key: IdentityKey {
                    kind: item["kind"]
                        .as_str()
                        .and_then(IdentityKind::parse)
                        .ok_or_else(invalid)?,
                    value: item["value"].as_str().ok_or_else(invalid)?.to_owned(),
                },
                usage: item["use"]
                    .as_str()
                    .and_then(AddressUse::parse)
                    .ok_or_else(invalid)?,
            })
        })
        .collect::<Result<Vec<_>, DomainError>>()?;
    // Sorted, so `Tenant::ignores` can search it.
    shared.sort();
    Ok(shared)
}
