//! Tenant use cases: creating a tenant with its first key, listing tenants
//! and replacing a key (for operators), authenticating a key, and changing
//! the tenant's settings.

use crate::identity;
use crate::tenancy;
use std::sync::Arc;

use crate::identity::{IdentityKind, Region};
use crate::kernel::TenantId;
use crate::kernel::{Clock, IdGenerator};
use crate::kernel::{DomainError, Entity};
use crate::tenancy::TenantRepository;
use crate::tenancy::{Caller, Tenant};

/// Tenant use cases: creation by operators, settings, and authentication.
#[derive(Clone)]
pub struct TenantService {
    tenants: Arc<dyn TenantRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for TenantService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantService").finish_non_exhaustive()
    }
}

impl TenantService {
    /// Wires the use cases to their ports.
    pub fn new(
        tenants: Arc<dyn TenantRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            tenants,
            clock,
            ids,
        }
    }

    /// Creates a tenant whose API key hashes to `api_key_hash`. A name is
    /// taken once, ignoring case, so an operator cannot create the same
    /// tenant twice by repeating a command (two creations racing each other
    /// are not excluded: tenants are created by hand, one at a time).
    ///
    /// # Errors
    /// `InvalidArgument` on `name` or `default_region`; `AlreadyExists` on
    /// `name` when a tenant has it; `Unavailable`; `Internal`.
    pub async fn create(
        &self,
        name: &str,
        default_region: &str,
        api_key_hash: &str,
    ) -> Result<Tenant, DomainError> {
        let name = tenancy::validate_tenant_name(name)?;
        let default_region = parse_region(default_region, "default_region")?;
        let folded = name.to_lowercase();
        if let Some(holder) = self
            .tenants
            .list()
            .await?
            .into_iter()
            .find(|tenant| tenant.name.to_lowercase() == folded)
        {
            return Err(DomainError::AlreadyExists {
                entity: Entity::Tenant,
                field: "name".to_owned(),
                value: name,
                holder: holder.id.to_string(),
            });
        }
        let now = self.clock.now();
        let tenant = Tenant {
            id: TenantId::from_uuid(self.ids.new_id()),
            name,
            default_region,
            free_mail_domains: Vec::new(),
            shared_addresses: Vec::new(),
            version: 1,
            create_time: now,
            update_time: now,
        };
        self.tenants.create(&tenant, api_key_hash).await?;
        Ok(tenant)
    }

    /// Every tenant, oldest first.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn list(&self) -> Result<Vec<Tenant>, DomainError> {
        self.tenants.list().await
    }

    /// Gives a tenant a new API key, hashing to `api_key_hash`; the old
    /// key stops working.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn replace_key(
        &self,
        id: TenantId,
        api_key_hash: &str,
    ) -> Result<Tenant, DomainError> {
        self.tenants.replace_api_key_hash(id, api_key_hash).await?;
        self.tenants
            .get(id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                entity: Entity::Tenant,
                id: id.to_string(),
            })
    }

    /// The tenant an API key hash belongs to.
    ///
    /// # Errors
    /// `Unauthenticated` when none; `Unavailable`; `Internal`.
    pub async fn authenticate(&self, api_key_hash: &str) -> Result<Tenant, DomainError> {
        self.tenants
            .find_by_api_key_hash(api_key_hash)
            .await?
            .ok_or(DomainError::Unauthenticated(
                "the API key matches no tenant",
            ))
    }

    /// The current settings of a tenant.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn get(&self, caller: &Caller) -> Result<Tenant, DomainError> {
        let id = caller.tenant().id;
        self.tenants
            .get(id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                entity: Entity::Tenant,
                id: id.to_string(),
            })
    }

    /// Changes a tenant's settings.
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `Unavailable`; `Internal`.
    pub async fn update_settings(
        &self,
        caller: &Caller,
        patch: TenantSettingsPatch,
        expected_version: Option<i64>,
    ) -> Result<Tenant, DomainError> {
        let id = caller.tenant().id;
        let current = self.get(caller).await?;
        if expected_version.is_some_and(|version| version != current.version) {
            return Err(DomainError::Stale {
                entity: Entity::Tenant,
                id: id.to_string(),
            });
        }
        let mut next = current.clone();
        if let Some(region) = &patch.default_region {
            next.default_region = parse_region(region, "settings.default_region")?;
        }
        if let Some(domains) = &patch.free_mail_domains {
            next.free_mail_domains =
                identity::normalize_free_mail(domains, "settings.extra_free_mail_domains")?;
        }
        if let Some(shared) = &patch.shared_addresses {
            next.shared_addresses = tenancy::normalize_shared(
                shared,
                next.default_region,
                "settings.shared_addresses",
            )?;
        }
        next.update_time = self.clock.now();
        self.tenants.update(&next, current.version).await
    }
}

/// Changes to tenant settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantSettingsPatch {
    /// New default region, as the caller wrote it.
    pub default_region: Option<String>,
    /// New list of the tenant's own free-mail domains.
    pub free_mail_domains: Option<Vec<String>>,
    /// New list of shared or blocked addresses (kind, address as written, use).
    pub shared_addresses: Option<Vec<(IdentityKind, String, tenancy::AddressUse)>>,
}

fn parse_region(text: &str, field: &str) -> Result<Region, DomainError> {
    Region::parse(text).map_err(|_| {
        DomainError::invalid(
            field,
            "must be an ISO 3166-1 alpha-2 region with a phone numbering plan, such as \"US\"",
        )
    })
}
