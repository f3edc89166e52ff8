//! `organization_domains`: each email domain of a tenant has at most one
//! owning organization.

use sea_orm::FromQueryResult;
use uuid::Uuid;

/// A domain, as `RETURNING domain` gives it back.
#[derive(Debug, FromQueryResult)]
pub(crate) struct DomainRow {
    pub domain: String,
}

/// The organization owning a domain.
#[derive(Debug, FromQueryResult)]
pub(crate) struct OwnerRow {
    pub organization_id: Uuid,
}
