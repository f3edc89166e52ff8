//! Caller authentication: every RPC carries `authorization: Bearer KEY`; the
//! key's SHA-256 names the tenant. Keys are 244 random bits, so a fast hash is
//! the right tool (a slow password hash guards low-entropy secrets).
//!
//! Lookups are cached per replica for a few seconds, so the hot path does not
//! pay a database round trip per call for authentication. A settings change
//! made on this replica refreshes its cache at once; other replicas see it
//! within [`CACHE_TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crm_domain::tenancy::TenantService;
use crm_domain::tenancy::{Caller, Tenant};
use crm_domain::{DomainError, TenantId};
use sha2::{Digest, Sha256};
use tonic::Status;

use crate::status::{to_status, unauthenticated};

/// How long a key-to-tenant lookup is trusted.
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// The bound on cached keys; past it the cache starts afresh.
const CACHE_CAPACITY: usize = 10_000;

/// A new API key: `crm_` and 64 hex digits from two random UUIDv4s.
pub fn generate_api_key() -> String {
    format!(
        "crm_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The hex SHA-256 of a key: what the database stores.
pub fn hash_api_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Finds the tenant of a request.
pub struct Authenticator {
    tenants: TenantService,
    cache: Mutex<HashMap<String, (Tenant, Instant)>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator over the tenant use cases.
    pub fn new(tenants: TenantService) -> Self {
        Self {
            tenants,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant use cases behind it.
    pub fn tenants(&self) -> &TenantService {
        &self.tenants
    }

    /// Who is calling: the tenant whose API key the request bears.
    ///
    /// # Errors
    /// UNAUTHENTICATED without a bearer key or with one that matches no
    /// tenant; UNAVAILABLE when the database cannot be reached.
    pub async fn authenticate<T>(&self, request: &tonic::Request<T>) -> Result<Caller, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .ok_or_else(|| {
                unauthenticated(
                    "missing credentials: send the metadata `authorization: Bearer <API key>`",
                )
            })?
            .to_str()
            .map_err(|_| unauthenticated("the authorization metadata is not readable text"))?;
        let key = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .ok_or_else(|| {
                unauthenticated("the authorization metadata must be `Bearer <API key>`")
            })?;
        let hash = hash_api_key(key);
        if let Some(tenant) = self.cached(&hash) {
            return Ok(Caller::tenant_key(tenant));
        }
        let tenant = self
            .tenants
            .authenticate(&hash)
            .await
            .map_err(|error| match error {
                DomainError::Unauthenticated(_) => unauthenticated("the API key matches no tenant"),
                other => to_status(other),
            })?;
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(hash, (tenant.clone(), Instant::now()));
        Ok(Caller::tenant_key(tenant))
    }

    fn cached(&self, hash: &str) -> Option<Tenant> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(hash)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(tenant, _)| tenant.clone())
    }

    /// Replaces this replica's cached copy of a tenant after a change.
    pub fn refresh(&self, tenant: &Tenant) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (cached, at) in cache.values_mut() {
            if cached.id == tenant.id {
                *cached = tenant.clone();
                *at = Instant::now();
            }
        }
    }

    /// Forgets every cached key of a tenant.
    pub fn forget(&self, tenant: TenantId) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.retain(|_, (cached, _)| cached.id != tenant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hash_stably() {
        let key = generate_api_key();
        assert!(key.starts_with("crm_"));
        assert_eq!(key.len(), 4 + 64);
        assert_ne!(key, generate_api_key());
        assert_eq!(
            hash_api_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
