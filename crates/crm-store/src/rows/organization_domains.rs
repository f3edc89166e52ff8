//! `organization_domains`: each email domain of a tenant has at most one
//! owning organization.

use sea_orm::FromQueryResult;
use uuid::Uuid;

/// A domain, as `RETURNING domain` gives it back.
#[derive(Debug, FromQueryResult)]
pub(crate) struct DomainRow {
    pub domain: String,
}

crate::rows::positional_row! {
    /// The organization owning a domain.
    OwnerRow {
        organization_id: Uuid,
    }
}
