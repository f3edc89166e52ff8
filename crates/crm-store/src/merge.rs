//! `MergeRepository` on sea-orm. A merge is one write transaction:
//!
//! 1. lock every contact involved in id order (`Backend::for_update`, or the
//!    transaction's database lock where rows are not locked) and check each
//!    is at the planned version: overlapping merges serialise, and the
//!    later one finds a duplicate gone or moved and changes nothing;
//! 2. re-point every table in `ContactChild::ALL` from the duplicates to the
//!    survivor (tags by insert-and-delete, since the survivor may hold the
//!    same tag), counting the rows;
//! 3. write the survivor as planned, with its primaries, and its engagement
//!    figures combined with the duplicates' (exact, so nothing is recounted);
//! 4. store the merge record, leave a tombstone per duplicate (re-pointing
//!    older tombstones that named a duplicate, so chains stay one hop), and
//!    delete the duplicates' rows, which by then hold nothing.
//!
//! The row lock is taken before anything moves, so a writer adding a note
//! or a conversation to a duplicate either commits first (and its record
//! moves with the rest) or waits and then finds the duplicate gone.

use async_trait::async_trait;
use crm_domain::contacts::Contact;
use crm_domain::merge::MergeRepository;
use crm_domain::merge::{ContactChild, MergePlan, MergeRecord};
use crm_domain::{ContactId, DomainError, Entity, MergeId, TenantId};
use sea_orm::DatabaseTransaction;
use serde_json::Value;
use time::OffsetDateTime;

use crate::contacts::{SeaContactRepository, push_assignments};
use crate::conversations::absorb_engagement;
use crate::dialect::Backend;
use crate::error::storage;
use crate::pools::Pools;
use crate::rows::KindCount;
use crate::rows::contact_merges::{COLUMNS, MergeRow, moved_json, winners_json};
use crate::rows::contacts::VersionRow;
use crate::rows::not_duplicates::PairRow;
use crate::sql::Sql;

/// Merges in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaMergeRepository {
    pub(crate) pools: Pools,
}

impl SeaMergeRepository {
    /// The contact repository over the same connections, to read the survivor.
    fn contacts(&self) -> SeaContactRepository {
        SeaContactRepository {
            pools: self.pools.clone(),
        }
    }
}

/// Appends `(id, id, ...)`.
fn push_ids(sql: &mut Sql, ids: &[ContactId]) {
    sql.ids(ids.iter().map(ContactId::as_uuid));
}

/// Appends `WHERE tenant_id = T AND contact_id IN (ids)`.
fn of_contacts(sql: &mut Sql, tenant: TenantId, ids: &[ContactId]) {
    sql.push(" WHERE tenant_id = ")
        .bind(tenant.as_uuid())
        .push(" AND contact_id IN ");
    push_ids(sql, ids);
}

/// Locks every contact of the plan in id order and checks its version.
async fn lock_and_check(
    transaction: &DatabaseTransaction,
    plan: &MergePlan,
) -> Result<(), DomainError> {
    let tenant = plan.merged.tenant_id;
    let mut ids: Vec<ContactId> = plan.versions.iter().map(|(id, _)| *id).collect();
    ids.sort();
    let mut sql = Sql::new("SELECT id, version FROM contacts WHERE tenant_id = ");
    sql.bind(tenant.as_uuid()).push(" AND id IN ");
    push_ids(&mut sql, &ids);
    sql.push(" ORDER BY id")
        .push(Backend::of(transaction).for_update());
    let found: Vec<VersionRow> = sql.fetch(transaction, Ok).await?;
    for (id, version) in &plan.versions {
        let current = found.iter().find(|row| row.id == id.as_uuid());
        if current.map(|row| row.version) != Some(*version) {
            return Err(DomainError::Stale {
                entity: Entity::Contact,
                id: id.to_string(),
            });
        }
    }
    Ok(())
}

/// Re-points every child record of the duplicates; returns the counts.
async fn move_children(
    transaction: &DatabaseTransaction,
    tenant: TenantId,
    survivor: ContactId,
    duplicates: &[ContactId],
) -> Result<Vec<(ContactChild, u64)>, DomainError> {
    let mut moved = Vec::with_capacity(ContactChild::ALL.len());
    for child in ContactChild::ALL {
        let count = if child == ContactChild::Tags {
            let mut copy = Sql::new(
                "INSERT INTO contact_tags (tenant_id, contact_id, tag) SELECT tenant_id, ",
            );
            copy.bind(survivor.as_uuid())
                .push(", tag FROM contact_tags");
            of_contacts(&mut copy, tenant, duplicates);
            copy.push(" ON CONFLICT DO NOTHING");
            copy.execute(transaction).await?;
            let mut remove = Sql::new("DELETE FROM contact_tags");
            of_contacts(&mut remove, tenant, duplicates);
            remove.execute(transaction).await?
        } else {
            let mut sql = Sql::new("UPDATE ");
            sql.push(child.table())
                .push(" SET contact_id = ")
                .bind(survivor.as_uuid());
            of_contacts(&mut sql, tenant, duplicates);
            sql.execute(transaction).await?
        };
        moved.push((child, count));
    }
    Ok(moved)
}

/// Writes the survivor's fields, version and primaries as planned.
async fn write_survivor(
    transaction: &DatabaseTransaction,
    plan: &MergePlan,
    now: OffsetDateTime,
) -> Result<(), DomainError> {
    let merged = &plan.merged;
    let tenant = merged.tenant_id;
    let mut sql = Sql::new("UPDATE contacts SET ");
    push_assignments(&mut sql, &merged.fields, &merged.custom_fields);
    sql.push(", version = ")
        .bind(merged.version + 1)
        .push(", update_time = ")
        .bind(now)
        .push(" WHERE tenant_id = ")
        .bind(tenant.as_uuid())
        .push(" AND id = ")
        .bind(merged.id.as_uuid());
    sql.execute(transaction).await?;
    let mut demote = Sql::new("UPDATE contact_identities SET is_primary = ");
    demote.bind(false);
    of_contacts(&mut demote, tenant, &[merged.id]);
    demote.push(" AND is_primary = ").bind(true);
    demote.execute(transaction).await?;
    for primary in merged.identities.iter().filter(|identity| identity.primary) {
        let mut promote = Sql::new("UPDATE contact_identities SET is_primary = ");
        promote.bind(true);
        of_contacts(&mut promote, tenant, &[merged.id]);
        promote
            .push(" AND kind = ")
            .bind(primary.kind.as_str())
            .push(" AND value = ")
            .bind(primary.value.clone());
        promote.execute(transaction).await?;
    }
    absorb_engagement(transaction, tenant, merged.id, &plan.duplicates).await
}

/// Stores the record, leaves the tombstones and deletes the duplicates' rows.
async fn bury_duplicates(
    transaction: &DatabaseTransaction,
    record: &MergeRecord,
) -> Result<(), DomainError> {
    let tenant = record.tenant_id;
    let duplicates = &record.duplicate_ids;
    let mut insert = Sql::new("INSERT INTO contact_merges (");
    insert
        .push(COLUMNS)
        .push(") VALUES (")
        .bind(tenant.as_uuid())
        .push(", ")
        .bind(record.id.as_uuid())
        .push(", ")
        .bind(record.survivor_id.as_uuid())
        .push(", ")
        .bind(
            Value::Array(
                duplicates
                    .iter()
                    .map(|id| Value::String(id.to_string()))
                    .collect(),
            )
            .to_string(),
        )
        .push(", ")
        .bind(record.merged_by.clone())
        .push(", ")
        .bind(winners_json(&record.winners))
        .push(", ")
        .bind(moved_json(&record.moved))
        .push(", ")
        .bind(record.create_time)
        .push(")");
    insert.execute(transaction).await?;
    let mut chains = Sql::new("UPDATE merged_contacts SET survivor_id = ");
    chains
        .bind(record.survivor_id.as_uuid())
        .push(" WHERE tenant_id = ")
        .bind(tenant.as_uuid())
        .push(" AND survivor_id IN ");
    push_ids(&mut chains, duplicates);
    chains.execute(transaction).await?;
    let mut tombstones =
        Sql::new("INSERT INTO merged_contacts (tenant_id, id, survivor_id, merge_id) VALUES ");
    for (index, duplicate) in duplicates.iter().enumerate() {
        if index > 0 {
            tombstones.push(", ");
        }
        tombstones
            .push("(")
            .bind(tenant.as_uuid())
            .push(", ")
            .bind(duplicate.as_uuid())
            .push(", ")
            .bind(record.survivor_id.as_uuid())
            .push(", ")
            .bind(record.id.as_uuid())
            .push(")");
    }
    tombstones.execute(transaction).await?;
    let mut delete = Sql::new("DELETE FROM contacts WHERE tenant_id = ");
    delete.bind(tenant.as_uuid()).push(" AND id IN ");
    push_ids(&mut delete, duplicates);
    delete.execute(transaction).await?;
    Ok(())
}

#[async_trait]
impl MergeRepository for SeaMergeRepository {
    async fn count_children(
        &self,
        tenant: TenantId,
        ids: &[ContactId],
    ) -> Result<Vec<(ContactChild, u64)>, DomainError> {
        let mut sql = Sql::new("");
        for (index, child) in ContactChild::ALL.iter().enumerate() {
            if index > 0 {
                sql.push(" UNION ALL ");
            }
            // The kind is a fixed identifier, written as a literal so
            // PostgreSQL need not guess a parameter's type in the union.
            sql.push("SELECT '")
                .push(child.as_str())
                .push("' AS kind, count(*) AS n FROM ")
                .push(child.table());
            of_contacts(&mut sql, tenant, ids);
        }
        let counted: Vec<KindCount> = sql.fetch(&self.pools.db, Ok).await?;
        Ok(ContactChild::ALL
            .into_iter()
            .map(|child| {
                let n = counted
                    .iter()
                    .find(|row| row.kind == child.as_str())
                    .map_or(0, |row| row.n);
                (child, u64::try_from(n).unwrap_or(0))
            })
            .collect())
    }

    async fn apply(
        &self,
        plan: &MergePlan,
        record: &MergeRecord,
    ) -> Result<(MergeRecord, Contact), DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_and_check(transaction, plan).await?;
                let tenant = plan.merged.tenant_id;
                let moved =
                    move_children(transaction, tenant, plan.merged.id, &plan.duplicates).await?;
                write_survivor(transaction, plan, record.create_time).await?;
                let record = MergeRecord {
                    moved,
                    ..record.clone()
                };
                bury_duplicates(transaction, &record).await?;
                let survivor = self
                    .contacts()
                    .read(transaction, tenant, plan.merged.id)
                    .await?
                    .ok_or_else(|| DomainError::contact_not_found(plan.merged.id))?;
                Ok((record, survivor))
            })
            .await
    }

    async fn merged_into(
        &self,
        tenant: TenantId,
        id: ContactId,
    ) -> Result<Option<ContactId>, DomainError> {
        crate::records::merged_into(&self.pools.db, tenant, id).await
    }

    async fn list(
        &self,
        tenant: TenantId,
        contact: ContactId,
        before: Option<MergeId>,
        limit: u32,
    ) -> Result<Vec<MergeRecord>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM contact_merges WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND (survivor_id = ")
            .bind(contact.as_uuid())
            .push(" OR survivor_id IN (SELECT id FROM merged_contacts WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND survivor_id = ")
            .bind(contact.as_uuid())
            .push(") OR id IN (SELECT merge_id FROM merged_contacts WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(contact.as_uuid())
            .push("))");
        if let Some(before) = before {
            sql.push(" AND id < ").bind(before.as_uuid());
        }
        sql.push(" ORDER BY id DESC LIMIT ").bind(i64::from(limit));
        sql.fetch(&self.pools.db, MergeRow::into_domain).await
    }

    async fn mark_not_duplicates(
        &self,
        tenant: TenantId,
        pairs: &[(ContactId, ContactId)],
        marked_by: &str,
        now: OffsetDateTime,
    ) -> Result<(), DomainError> {
        if pairs.is_empty() {
            return Ok(());
        }
        let mut sql = Sql::new(
            "INSERT INTO not_duplicates (tenant_id, contact_a, contact_b, marked_by, create_time) VALUES ",
        );
        for (index, (a, b)) in pairs.iter().enumerate() {
            if index > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(tenant.as_uuid())
                .push(", ")
                .bind(a.as_uuid())
                .push(", ")
                .bind(b.as_uuid())
                .push(", ")
                .bind(marked_by.to_owned())
                .push(", ")
                .bind(now)
                .push(")");
        }
        sql.push(" ON CONFLICT DO NOTHING");
        self.pools
            .writer
            .statement(sql)
            .await
            .map(drop)
            .map_err(storage)
    }

    async fn not_duplicates(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<(ContactId, ContactId)>, DomainError> {
        let mut sql =
            Sql::new("SELECT contact_a, contact_b FROM not_duplicates WHERE tenant_id = ");
        sql.bind(tenant.as_uuid());
        sql.fetch(&self.pools.db, |row: PairRow| {
            Ok((
                ContactId::from_uuid(row.contact_a),
                ContactId::from_uuid(row.contact_b),
            ))
        })
        .await
    }
}
