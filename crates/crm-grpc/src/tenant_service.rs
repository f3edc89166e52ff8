//! `crm.v1.TenantService`: the caller's own tenant settings.

use std::sync::Arc;

use crm_domain::tenancy::Caller;
use crm_domain::tenancy::TenantSettingsPatch;
use crm_domain::tenancy::{AddressUse, Tenant};
use crm_domain::{DomainError, IdentityKind};
use crm_proto::v1 as pb;
use crm_proto::v1::tenant_service_server::TenantService as TenantRpc;

use crate::auth::Authenticator;
use crate::convert::{self, mask::Mask, timestamp};
use crate::token;

/// The paths an UpdateTenantSettings mask may name.
pub(crate) const UPDATABLE: [&str; 3] = [
    "default_region",
    "extra_free_mail_domains",
    "shared_addresses",
];

/// The gRPC face of the tenant-settings use cases.
#[derive(Debug, Clone)]
pub struct TenantApi {
    auth: Arc<Authenticator>,
}

impl TenantApi {
    /// Serves settings to callers `auth` recognises.
    pub fn new(auth: Arc<Authenticator>) -> Self {
        Self { auth }
    }
}

fn to_proto(tenant: &Tenant) -> pb::TenantSettings {
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
fn shared_from(
    shared: Vec<pb::SharedAddress>,
) -> Result<Vec<(IdentityKind, String, AddressUse)>, DomainError> {
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

/// The bodies of the RPCs: each takes the authenticated caller and the
/// request message and returns a domain result; [`crate::serve!`] does the rest.
impl TenantApi {
    async fn get_tenant_settings(
        &self,
        caller: Caller,
        request: pb::GetTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, DomainError> {
        let pb::GetTenantSettingsRequest {} = request;
        // Read through, not from the authentication cache: settings are shown fresh.
        let current = self.auth.tenants().get(&caller).await?;
        Ok(to_proto(&current))
    }

    async fn update_tenant_settings(
        &self,
        caller: Caller,
        request: pb::UpdateTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, DomainError> {
        let pb::UpdateTenantSettingsRequest {
            settings,
            update_mask,
            etag,
        } = request;
        let pb::TenantSettings {
            tenant_id: _,
            name: _,
            default_region,
            update_time: _,
            etag: _,
            extra_free_mail_domains,
            shared_addresses,
        } = settings.ok_or_else(|| DomainError::invalid("settings", "is required"))?;
        let mut implied = Vec::new();
        if !default_region.is_empty() {
            implied.push("default_region");
        }
        if !extra_free_mail_domains.is_empty() {
            implied.push("extra_free_mail_domains");
        }
        if !shared_addresses.is_empty() {
            implied.push("shared_addresses");
        }
        let mask = Mask::parse(update_mask, &UPDATABLE, implied)?;
        let expected = token::optional_version(&etag, "etag")?;
        let shared_addresses = if mask.has("shared_addresses") {
            Some(shared_from(shared_addresses)?)
        } else {
            None
        };
        let patch = TenantSettingsPatch {
            shared_addresses,
            default_region: mask.has("default_region").then_some(default_region),
            free_mail_domains: mask
                .has("extra_free_mail_domains")
                .then_some(extra_free_mail_domains),
        };
        let updated = self
            .auth
            .tenants()
            .update_settings(&caller, patch, expected)
            .await?;
        self.auth.refresh(&updated);
        Ok(to_proto(&updated))
    }
}

crate::serve! {
    impl TenantRpc for TenantApi {
        get_tenant_settings(pb::GetTenantSettingsRequest) -> pb::TenantSettings;
        update_tenant_settings(pb::UpdateTenantSettingsRequest) -> pb::TenantSettings;
    }
}
