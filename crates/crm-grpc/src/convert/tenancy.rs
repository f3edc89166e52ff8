//! Tenant settings between protobuf and the domain.

use crate::convert::{self, timestamp};
use crm_domain::tenancy::{AddressUse, Tenant};
use crm_domain::{DomainError, IdentityKind};
use crm_proto::v1 as pb;

/// The paths an UpdateTenantSettings mask may name.
pub(crate) const UPDATABLE: [&str; 3] = [
    "default_region",
    "extra_free_mail_domains",
    "shared_addresses",
];

pub(crate) fn to_proto(tenant: &Tenant) -> pb::TenantSettings {
    pb::TenantSettings {
        tenant_id: tenant.id.to_string(),
        name: tenant.name.clone(),
        default_region: tenant.default_region.to_string(),
        update_time: Some(timestamp(tenant.update_time)),
        etag: crate::token::etag(tenant.version),
        extra_free_mail_domains: tenant.free_mail_domains.clone(),
        shared_addresses: tenant
            .shared_addresses
            .iter()
            .map(|shared| pb::SharedAddress {
                kind: convert::contact::identity_kind_to_proto(shared.key.kind) as i32,
                value: shared.key.value.clone(),
                address_use: match shared.usage {
                    AddressUse::Shared => pb::AddressUse::Shared,
                    AddressUse::Blocked => pb::AddressUse::Blocked,
                } as i32,
            })
            .collect(),
    }
}

/// The shared addresses of a settings update, every bad one named.
pub(crate) fn shared_from(
    shared: Vec<pb::SharedAddress>,
) -> Result<Vec<(IdentityKind, String, AddressUse)>, DomainError> {
    DomainError::check_count(
        "settings.shared_addresses",
        shared.len(),
        crm_domain::tenancy::MAX_SHARED_ADDRESSES,
        "addresses",
    )?;
    let mut violations = Vec::new();
    let mut parsed = Vec::with_capacity(shared.len());
    for (index, address) in shared.into_iter().enumerate() {
        let prefix = format!("settings.shared_addresses[{index}]");
        let kind = convert::contact::identity_kind(address.kind, &format!("{prefix}.kind"));
        let usage = match pb::AddressUse::try_from(address.address_use) {
            Ok(pb::AddressUse::Unspecified | pb::AddressUse::Shared) => Some(AddressUse::Shared),
            Ok(pb::AddressUse::Blocked) => Some(AddressUse::Blocked),
            Err(_) => {
                violations.push(crm_domain::FieldViolation::new(
                    format!("{prefix}.address_use"),
                    format!("{} is not an AddressUse", address.address_use),
                ));
                None
            }
        };
        match (kind, usage) {
            (Ok(kind), Some(usage)) => parsed.push((kind, address.value, usage)),
            (Err(violation), _) => violations.push(violation),
            _ => {}
        }
    }
    if violations.is_empty() {
        Ok(parsed)
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}
