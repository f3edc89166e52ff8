//! `contact_identities`: every address a contact is recognised by, unique on
//! (tenant, kind, normalised value) so an address has one holder per tenant,
//! and clustered by (tenant, contact) so a contact's addresses read together.

use crm_domain::identity::ContactIdentity;
use crm_domain::{ContactId, TenantId};
use sea_orm::FromQueryResult;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::sql::Sql;

/// A key that was written, as `RETURNING kind, value` gives it back.
#[derive(Debug, FromQueryResult)]
pub(crate) struct KeyRow {
    pub kind: String,
    pub value: String,
}

/// The holder of a key.
#[derive(Debug, FromQueryResult)]
pub(crate) struct HolderRow {
    pub contact_id: Uuid,
}

/// Appends `INSERT ... ON CONFLICT DO NOTHING RETURNING kind, value` for identities,
/// rows in key order so concurrent writers take row locks in one order and
/// cannot deadlock.
pub(crate) fn push_insert_ignoring_held(
    sql: &mut Sql,
    tenant: TenantId,
    contact: ContactId,
    identities: &[ContactIdentity],
    now: OffsetDateTime,
) {
    sql.push(INSERT_IDENTITIES).push(" VALUES ");
    push_identity_rows(sql, tenant, contact, identities, now);
    sql.push(" ON CONFLICT (tenant_id, kind, value) DO NOTHING RETURNING kind, value");
}

/// `INSERT INTO contact_identities (...) SELECT * FROM (VALUES <rows>)`
/// (rows as [`push_insert_ignoring_held`] writes them), for a caller to
/// append a `WHERE` that decides whether they are inserted. `identities`
/// must not be empty.
pub(crate) fn push_insert_select(
    sql: &mut Sql,
    tenant: TenantId,
    contact: ContactId,
    identities: &[ContactIdentity],
    now: OffsetDateTime,
) {
    sql.push(INSERT_IDENTITIES).push(" SELECT * FROM (VALUES ");
    push_identity_rows(sql, tenant, contact, identities, now);
    sql.push(")");
}

pub(crate) const INSERT_IDENTITIES: &str = "INSERT INTO contact_identities \
     (tenant_id, kind, value, contact_id, raw_value, is_primary, create_time)";

/// The rows of a contact's new identities, `(...), (...)`.
pub(crate) fn push_identity_rows(
    sql: &mut Sql,
    tenant: TenantId,
    contact: ContactId,
    identities: &[ContactIdentity],
    now: OffsetDateTime,
) {
    // Each address of one write is stamped a microsecond after the one
    // before it, so reads list them in the order they were written.
    let mut sorted: Vec<(OffsetDateTime, &ContactIdentity)> = identities
        .iter()
        .enumerate()
        .map(|(position, identity)| {
            let offset = time::Duration::microseconds(i64::try_from(position).unwrap_or(i64::MAX));
            (now.saturating_add(offset), identity)
        })
        .collect();
    sorted.sort_by(|(_, a), (_, b)| (a.kind.as_str(), &a.value).cmp(&(b.kind.as_str(), &b.value)));
    for (index, (created, identity)) in sorted.into_iter().enumerate() {
        if index > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .bind(tenant.as_uuid())
            .push(", ")
            .bind(identity.kind.as_str())
            .push(", ")
            .bind(identity.value.clone())
            .push(", ")
            .bind(contact.as_uuid())
            .push(", ")
            .bind(identity.raw.clone())
            .push(", ")
            .bind(identity.primary)
            .push(", ")
            .bind(created)
            .push(")");
    }
}

/// The identities of `wanted` that are missing from the `written` keys, in `wanted` order.
pub(crate) fn not_written<'a>(
    wanted: &'a [ContactIdentity],
    written: &[KeyRow],
) -> Vec<&'a ContactIdentity> {
    wanted
        .iter()
        .filter(|identity| {
            !written
                .iter()
                .any(|row| row.kind == identity.kind.as_str() && row.value == identity.value)
        })
        .collect()
}
