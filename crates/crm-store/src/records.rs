//! Where a record a request names stands: there, merged away (a contact's
//! tombstone in `merged_contacts`, naming its survivor), or missing. Shared by
//! every repository whose use cases must tell a merged-away contact from an
//! unknown one.

use crm_domain::kernel::{Presence, RecordRef};
use crm_domain::{ContactId, DomainError, TenantId};
use sea_orm::ConnectionTrait;

use crate::rows::Found;
use crate::rows::merged_contacts::SurvivorRow;
use crate::sql::Sql;

/// The contact a merged-away contact resolves to (tombstones are kept one
/// hop deep), or `None` when `id` was never merged away.
pub(crate) async fn merged_into<C: ConnectionTrait>(
    connection: &C,
    tenant: TenantId,
    id: ContactId,
) -> Result<Option<ContactId>, DomainError> {
    let mut sql = Sql::new("SELECT survivor_id FROM merged_contacts WHERE tenant_id = ");
    sql.bind(tenant.as_uuid())
        .push(" AND id = ")
        .bind(id.as_uuid());
    let found: Option<SurvivorRow> = sql.fetch_optional(connection).await?;
    Ok(found.map(|row| ContactId::from_uuid(row.survivor_id)))
}

/// Whether `record` exists in the tenant, was merged away, or is missing.
pub(crate) async fn locate<C: ConnectionTrait>(
    connection: &C,
    tenant: TenantId,
    record: RecordRef,
) -> Result<Presence, DomainError> {
    let (table, id) = match record {
        RecordRef::Contact(id) => ("contacts", id.as_uuid()),
        RecordRef::Organization(id) => ("organizations", id.as_uuid()),
    };
    let mut sql = Sql::new("SELECT 1 AS found FROM ");
    sql.push(table)
        .push(" WHERE tenant_id = ")
        .bind(tenant.as_uuid())
        .push(" AND id = ")
        .bind(id);
    let found: Option<Found> = sql.fetch_optional(connection).await?;
    if found.is_some() {
        return Ok(Presence::Present);
    }
    Ok(match record {
        RecordRef::Contact(id) => merged_into(connection, tenant, id)
            .await?
            .map_or(Presence::Missing, Presence::MergedInto),
        RecordRef::Organization(_) => Presence::Missing,
    })
}
