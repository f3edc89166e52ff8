//! What the tenant use cases need from storage.

use async_trait::async_trait;

use crate::kernel::DomainError;
use crate::kernel::TenantId;
use crate::tenancy::Tenant;

/// Storage of tenants and their API keys.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait TenantRepository: Send + Sync {
    /// Inserts a tenant with the hash of its API key.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn create(&self, tenant: &Tenant, api_key_hash: &str) -> Result<(), DomainError>;

    /// The tenant whose API key hashes to `api_key_hash`.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn find_by_api_key_hash(&self, api_key_hash: &str)
    -> Result<Option<Tenant>, DomainError>;

    /// Every tenant, oldest first.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list(&self) -> Result<Vec<Tenant>, DomainError>;

    /// Replaces the hash of a tenant's API key: the old key matches no
    /// tenant any more. The tenant's version and settings are unchanged.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    async fn replace_api_key_hash(
        &self,
        id: TenantId,
        api_key_hash: &str,
    ) -> Result<(), DomainError>;

    /// Reads one tenant.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn get(&self, id: TenantId) -> Result<Option<Tenant>, DomainError>;

    /// Writes a tenant's settings if its version is still `expected_version`,
    /// and returns it with the version bumped.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn update(&self, tenant: &Tenant, expected_version: i64) -> Result<Tenant, DomainError>;
}
