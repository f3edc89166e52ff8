//! Ordered sets of a tenant (tier ranks; tab, section and field positions):
//! the lock that serialises changes to them, and rewriting an order.

use crm_domain::{DomainError, TenantId};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::dialect::Backend;
use crate::error::storage;
use crate::sql::Sql;

/// Serialises a tenant's ordered-set changes inside a write transaction by
/// locking the tenant's row, where the dialect locks rows at all (see
/// `Backend::locks_rows`).
pub(crate) async fn lock_tenant(
    transaction: &DatabaseTransaction,
    tenant: TenantId,
) -> Result<(), DomainError> {
    let backend = Backend::of(transaction);
    if !backend.locks_rows() {
        return Ok(());
    }
    let mut sql = Sql::new("SELECT id FROM tenants WHERE id = ");
    sql.bind(tenant.as_uuid()).push(backend.for_update());
    transaction
        .query_all_raw(sql.build(backend.db_backend()))
        .await
        .map_err(storage)?;
    Ok(())
}

/// Gives the rows of `table` in `wanted` their new `column` value, bumping
/// the version of each that moves. `current` is what the rows hold now;
/// when `wanted` does not name exactly the same rows, nothing is written and
/// `stale` is returned (the set changed since the caller planned).
#[allow(clippy::too_many_arguments)] // one statement's worth of parts, each plain data
pub(crate) async fn rewrite(
    transaction: &DatabaseTransaction,
    table: &str,
    column: &str,
    tenant: TenantId,
    current: &[(Uuid, i64)],
    wanted: &[(Uuid, i64)],
    now: OffsetDateTime,
    stale: DomainError,
) -> Result<(), DomainError> {
    let same_set = current.len() == wanted.len()
        && current
            .iter()
            .all(|(id, _)| wanted.iter().any(|(wanted_id, _)| wanted_id == id));
    if !same_set {
        return Err(stale);
    }
    for (id, position) in wanted {
        if current.contains(&(*id, *position)) {
            continue;
        }
        let mut sql = Sql::new("UPDATE ");
        sql.push(table)
            .push(" SET ")
            .push(column)
            .push(" = ")
            .bind(*position)
            .push(", version = version + 1, update_time = ")
            .bind(now)
            .push(" WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(*id);
        sql.execute(transaction).await?;
    }
    Ok(())
}
