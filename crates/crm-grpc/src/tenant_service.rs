//! `crm.v1.TenantService`: the caller's own tenant settings.

use std::sync::Arc;

use crm_domain::DomainError;
use crm_domain::tenancy::Caller;
use crm_domain::tenancy::TenantSettingsPatch;
use crm_proto::v1 as pb;
use crm_proto::v1::tenant_service_server::TenantService as TenantRpc;

use crate::auth::Authenticator;
use crate::convert::mask::Mask;
use crate::convert::tenancy::{UPDATABLE, shared_from, to_proto};
use crate::token;

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
