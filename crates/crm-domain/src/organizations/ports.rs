//! What the organization use cases need from storage.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::kernel::DomainError;
use crate::kernel::{OrganizationId, TenantId};
use crate::organizations::Organization;

/// Storage of organizations and their domains.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait OrganizationRepository: Send + Sync {
    /// Inserts an organization with its domains, then links the
    /// unaffiliated contacts with an email at any of `link_domains`, all in
    /// one transaction. Returns it as stored.
    ///
    /// # Errors
    /// `AlreadyExists` (a domain another organization owns, naming it);
    /// `Unavailable`; `Internal`.
    async fn create(
        &self,
        organization: &Organization,
        link_domains: &[String],
    ) -> Result<Organization, DomainError>;

    /// Reads one organization with its member count.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn get(
        &self,
        tenant: TenantId,
        id: OrganizationId,
    ) -> Result<Option<Organization>, DomainError>;

    /// Up to `limit` organizations with ids after `after`, by id.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list(
        &self,
        tenant: TenantId,
        after: Option<OrganizationId>,
        limit: u32,
    ) -> Result<Vec<Organization>, DomainError>;

    /// Writes an organization (fields, domains, custom values) at
    /// `expected_version`, then links the unaffiliated contacts at
    /// `link_domains`, atomically.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `AlreadyExists` (domain); `Unavailable`; `Internal`.
    async fn update(
        &self,
        organization: &Organization,
        expected_version: i64,
        link_domains: &[String],
    ) -> Result<Organization, DomainError>;

    /// Deletes an organization; its members become unaffiliated.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn delete(
        &self,
        tenant: TenantId,
        id: OrganizationId,
        expected_version: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<(), DomainError>;

    /// The organization owning any of `domains` (the first in domain order).
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn find_by_domains(
        &self,
        tenant: TenantId,
        domains: &[String],
    ) -> Result<Option<OrganizationId>, DomainError>;
}
