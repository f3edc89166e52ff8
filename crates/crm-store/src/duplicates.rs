//! `DuplicateIndex` on sea-orm: the standing duplicate index (see
//! `crm_domain::merge::index` for the rules and migration
//! `m0016_duplicate_index` for the tables and the triggers that queue every
//! write, `m0017_duplicate_sweep` for the sweep a settings change starts).
//!
//! An examination is one write transaction that first upserts the tenant's
//! `duplicate_index` row: on PostgreSQL that row's lock keeps one examiner
//! per tenant at a time across replicas; SQLite has one writer anyway.
//! Every step is a set statement over the batch (a few hundred contacts),
//! and the probes go out as `UNION ALL`s of small index range reads, so a
//! batch costs a dozen round trips whatever its size.

use std::collections::HashSet;

use async_trait::async_trait;
use crm_domain::contacts::Contact;
use crm_domain::identity::IdentityKey;
use crm_domain::merge::duplicates::{DuplicateReason, Evidence};
use crm_domain::merge::index::{
    self, Block, DuplicateIndex, Examined, FoundEdge, MatchKey, Neighbours, Pending, Probe, WINDOW,
};
use crm_domain::tenancy::{Tenant, TenantRepository};
use crm_domain::{ContactId, DomainError, TenantId};
use sea_orm::{ConnectionTrait, DatabaseTransaction, FromQueryResult};
use uuid::Uuid;

use crate::dialect::Backend;
use crate::error::storage;
use crate::pools::Pools;
use crate::sql::Sql;

/// Rows per multi-row insert (6 parameters each, far below SQLite's
/// 32,766).
const ROWS_PER_INSERT: usize = 1_000;

/// Probes per statement on SQLite: each is five range reads, and SQLite
/// allows 500 terms in one compound select.
const PROBES_PER_STATEMENT: usize = 90;

/// Probes per statement on PostgreSQL (7 parameters each).
const PROBES_PER_LATERAL: usize = 1_000;

/// Examinations between two refreshes of PostgreSQL's statistics on the
/// index tables (and one after the first 2,000 and 10,000).
const ANALYZE_EVERY: u64 = 50_000;

/// The standing duplicate index in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaDuplicateIndex {
    pub(crate) pools: Pools,
    /// Contacts examined through this handle, for [`ANALYZE_EVERY`].
    pub(crate) examined: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Debug, FromQueryResult)]
struct PendingRow {
    contact_id: Uuid,
    mark: i64,
    recheck: bool,
}

#[derive(Debug, FromQueryResult)]
struct IdRow {
    contact_id: Uuid,
}

#[derive(Debug, FromQueryResult)]
struct SweepRow {
    sweep_after: Option<Uuid>,
    sweep_generation: i64,
}

#[derive(Debug, FromQueryResult)]
struct TenantRow {
    tenant_id: Uuid,
}

#[derive(Debug, FromQueryResult)]
struct CountRow {
    counted: i64,
}

#[derive(Debug, FromQueryResult)]
struct NeighbourRow {
    probe: i64,
    contact_id: Uuid,
    name: String,
}

#[derive(Debug, FromQueryResult)]
struct HolderRow {
    kind: String,
    value: String,
    contact_id: Uuid,
}

#[derive(Debug, FromQueryResult)]
struct EdgeRow {
    contact_a: Uuid,
    contact_b: Uuid,
    reason: String,
    detail: String,
    found_by: Uuid,
}

fn reason_str(reason: DuplicateReason) -> &'static str {
    match reason {
        DuplicateReason::AddressInField => "address_in_field",
        DuplicateReason::SameNameSameOrganization => "same_name_same_organization",
        DuplicateReason::SameNameSameEmailDomain => "same_name_same_email_domain",
        DuplicateReason::SimilarNameSameOrganization => "similar_name_same_organization",
        DuplicateReason::SimilarNameSameCity => "similar_name_same_city",
    }
}

fn reason_of(text: &str) -> Result<DuplicateReason, DomainError> {
    [
        DuplicateReason::AddressInField,
        DuplicateReason::SameNameSameOrganization,
        DuplicateReason::SameNameSameEmailDomain,
        DuplicateReason::SimilarNameSameOrganization,
        DuplicateReason::SimilarNameSameCity,
    ]
    .into_iter()
    .find(|reason| reason_str(*reason) == text)
    .ok_or_else(|| DomainError::Internal(format!("stored duplicate reason {text:?} is invalid")))
}

fn uuids(ids: &[ContactId]) -> impl Iterator<Item = Uuid> + '_ {
    ids.iter().map(|id| id.as_uuid())
}

impl SeaDuplicateIndex {
    /// Step 1 of an examination: new keys for the changed contacts, the
    /// edges touching them dropped, and who must look again queued.
    async fn rekey(
        &self,
        transaction: &DatabaseTransaction,
        tenant: TenantId,
        batch: &[Examined],
    ) -> Result<(), DomainError> {
        let changed: Vec<&Examined> = batch.iter().filter(|e| !e.pending.recheck).collect();
        if changed.is_empty() {
            return Ok(());
        }
        let ids: Vec<ContactId> = changed.iter().map(|e| e.pending.id).collect();
        let mut sql = Sql::new("DELETE FROM duplicate_keys WHERE tenant_id = ");
        sql.bind(tenant.as_uuid())
            .push(" AND contact_id IN ")
            .ids(uuids(&ids));
        sql.execute(transaction).await?;
        let keys: Vec<(ContactId, &MatchKey)> = changed
            .iter()
            .flat_map(|e| e.keys.iter().map(|key| (e.pending.id, key)))
            .collect();
        for part in keys.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::new(
                "INSERT INTO duplicate_keys (tenant_id, contact_id, block, key, name, reversed) VALUES ",
            );
            for (index, (id, key)) in part.iter().enumerate() {
                if index > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind(tenant.as_uuid())
                    .push(", ")
                    .bind(id.as_uuid())
                    .push(", ")
                    .bind(key.block.as_str())
                    .push(", ")
                    .bind(key.key.clone())
                    .push(", ")
                    .bind(key.name.clone())
                    .push(", ")
                    .bind(key.reversed())
                    .push(")");
            }
            sql.push(" ON CONFLICT DO NOTHING");
            sql.execute(transaction).await?;
        }
        // Whoever found an edge touching a changed contact looks again.
        let mut again: HashSet<Uuid> = HashSet::new();
        for column in ["contact_a", "contact_b"] {
            let mut sql =
                Sql::new("SELECT found_by AS contact_id FROM duplicate_edges WHERE tenant_id = ");
            sql.bind(tenant.as_uuid())
                .push(" AND ")
                .push(column)
                .push(" IN ")
                .ids(uuids(&ids));
            again.extend(
                sql.fetch(transaction, |row: IdRow| Ok(row.contact_id))
                    .await?,
            );
            let mut sql = Sql::new("DELETE FROM duplicate_edges WHERE tenant_id = ");
            sql.bind(tenant.as_uuid())
                .push(" AND ")
                .push(column)
                .push(" IN ")
                .ids(uuids(&ids));
            sql.execute(transaction).await?;
        }
        // So does whoever holds one of their addresses as data.
        let addresses: Vec<&IdentityKey> = changed.iter().flat_map(|e| &e.identities).collect();
        for part in addresses.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::new("SELECT contact_id FROM duplicate_keys WHERE tenant_id = ");
            sql.bind(tenant.as_uuid())
                .push(" AND block = 'a' AND key IN (");
            for (index, address) in part.iter().enumerate() {
                if index > 0 {
                    sql.push(", ");
                }
                sql.bind(index::address_key(address));
            }
            sql.push(")");
            again.extend(
                sql.fetch(transaction, |row: IdRow| Ok(row.contact_id))
                    .await?,
            );
        }
        for entry in batch {
            again.remove(&entry.pending.id.as_uuid());
        }
        let again: Vec<Uuid> = again.into_iter().collect();
        for part in again.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::new(
                "INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) VALUES ",
            );
            for (index, id) in part.iter().enumerate() {
                if index > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind(tenant.as_uuid())
                    .push(", ")
                    .bind(*id)
                    .push(", 0, ")
                    .bind(true)
                    .push(")");
            }
            sql.push(" ON CONFLICT DO NOTHING");
            sql.execute(transaction).await?;
        }
        Ok(())
    }

    /// PostgreSQL: refreshes the planner's statistics on the index tables
    /// every [`ANALYZE_EVERY`] examinations of this process. A tenant's first import takes
    /// them from nothing to millions of rows faster than autovacuum gets
    /// to them (it is busy with the contacts the import wrote): planned
    /// from the statistics of empty tables, deleting a batch's keys read
    /// the tenant's every key by the wrong index (measured: 460 ms a batch,
    /// against 2 ms once analysed).
    async fn analyze_after_churn(&self, examined: u64) -> Result<(), DomainError> {
        use std::sync::atomic::Ordering;
        let before = self.examined.fetch_add(examined, Ordering::Relaxed);
        let after = before + examined;
        // Early while the tables may still be growing from nothing, then
        // at every step.
        let crossed = [2_000, 10_000]
            .iter()
            .any(|&mark| before < mark && after >= mark)
            || before / ANALYZE_EVERY != after / ANALYZE_EVERY;
        if self.pools.backend != Backend::Postgres || !crossed {
            return Ok(());
        }
        self.pools
            .db
            .execute_unprepared("ANALYZE duplicate_pending, duplicate_keys, duplicate_edges")
            .await
            .map_err(storage)?;
        Ok(())
    }

    /// Answers probes from the key indexes.
    async fn answer(
        &self,
        transaction: &DatabaseTransaction,
        tenant: TenantId,
        probes: &[Probe],
    ) -> Result<Vec<Neighbours>, DomainError> {
        let mut answers = vec![Neighbours::default(); probes.len()];
        let per_statement = match self.pools.backend {
            Backend::Postgres => PROBES_PER_LATERAL,
            Backend::Sqlite => PROBES_PER_STATEMENT,
        };
        for (part_index, part) in probes.chunks(per_statement).enumerate() {
            let first = part_index * per_statement;
            let sql = match self.pools.backend {
                Backend::Postgres => lateral_probes(tenant, first, part),
                Backend::Sqlite => compound_probes(tenant, first, part),
            };
            let rows = sql.fetch(transaction, |row: NeighbourRow| Ok(row)).await?;
            for row in rows {
                let Ok(number) = usize::try_from(row.probe) else {
                    continue;
                };
                let (Some(probe), Some(answer)) = (probes.get(number), answers.get_mut(number))
                else {
                    continue;
                };
                let id = ContactId::from_uuid(row.contact_id);
                if row.name == probe.key.name {
                    answer.same = Some(id);
                } else if !answer.near.iter().any(|(near, _)| *near == id) {
                    answer.near.push((id, row.name));
                }
            }
        }
        Ok(answers)
    }

    /// The contacts holding each field address of `batch` as an identity.
    async fn holders(
        &self,
        transaction: &DatabaseTransaction,
        tenant: TenantId,
        batch: &[Examined],
    ) -> Result<Vec<(String, ContactId)>, DomainError> {
        let addresses: Vec<IdentityKey> = batch
            .iter()
            .flat_map(|e| &e.keys)
            .filter(|key| key.block == Block::Address)
            .filter_map(|key| index::address_of(&key.key))
            .collect();
        let mut holders = Vec::new();
        for part in addresses.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::new(
                "SELECT m.kind, m.value, m.contact_id FROM contact_identities m WHERE m.tenant_id = ",
            );
            sql.bind(tenant.as_uuid())
                .push(" AND ")
                .key_values("m", part);
            for row in sql.fetch(transaction, |row: HolderRow| Ok(row)).await? {
                holders.push((
                    format!("{}:{}", row.kind, row.value),
                    ContactId::from_uuid(row.contact_id),
                ));
            }
        }
        Ok(holders)
    }

    /// Step 2 and 3: each entry's own edges replaced, and the entries
    /// still at their mark removed.
    async fn settle(
        &self,
        transaction: &DatabaseTransaction,
        tenant: TenantId,
        batch: &[Examined],
        edges: &[FoundEdge],
    ) -> Result<(), DomainError> {
        let ids: Vec<ContactId> = batch.iter().map(|e| e.pending.id).collect();
        let mut sql = Sql::new("DELETE FROM duplicate_edges WHERE tenant_id = ");
        sql.bind(tenant.as_uuid())
            .push(" AND found_by IN ")
            .ids(uuids(&ids));
        sql.execute(transaction).await?;
        for part in edges.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::new(
                "INSERT INTO duplicate_edges (tenant_id, contact_a, contact_b, reason, detail, found_by) VALUES ",
            );
            for (index, edge) in part.iter().enumerate() {
                if index > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind(tenant.as_uuid())
                    .push(", ")
                    .bind(edge.a.as_uuid())
                    .push(", ")
                    .bind(edge.b.as_uuid())
                    .push(", ")
                    .bind(reason_str(edge.evidence.reason))
                    .push(", ")
                    .bind(edge.evidence.detail.clone())
                    .push(", ")
                    .bind(edge.found_by.as_uuid())
                    .push(")");
            }
            sql.push(" ON CONFLICT DO NOTHING");
            sql.execute(transaction).await?;
        }
        let mut sql = Sql::new("DELETE FROM duplicate_pending WHERE tenant_id = ");
        sql.bind(tenant.as_uuid())
            .push(" AND (contact_id, mark) IN (VALUES ");
        for (index, entry) in batch.iter().enumerate() {
            if index > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(entry.pending.id.as_uuid())
                .push(", ")
                .bind(entry.pending.mark)
                .push(")");
        }
        sql.push(")");
        sql.execute(transaction).await?;
        let swept = batch
            .iter()
            .filter_map(|entry| {
                entry
                    .pending
                    .sweep
                    .map(|generation| (entry.pending.id, generation))
            })
            .max();
        if let Some((last, generation)) = swept {
            self.move_sweep(transaction, tenant, last, generation)
                .await?;
        }
        Ok(())
    }

    /// Moves the tenant's sweep past `last`, and ends it when no contact
    /// comes after, unless a newer settings change restarted it.
    async fn move_sweep(
        &self,
        transaction: &DatabaseTransaction,
        tenant: TenantId,
        last: ContactId,
        generation: i64,
    ) -> Result<(), DomainError> {
        let mut sql = Sql::new("UPDATE duplicate_index SET sweep_after = ");
        sql.bind(last.as_uuid())
            .push(", sweeping = EXISTS (SELECT 1 FROM contacts WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND id > ")
            .bind(last.as_uuid())
            .push(") WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND sweeping AND sweep_generation = ")
            .bind(generation);
        sql.execute(transaction).await?;
        Ok(())
    }

    /// The tenant's running sweep, if one runs.
    async fn sweep(&self, tenant: TenantId) -> Result<Option<SweepRow>, DomainError> {
        let mut sql = Sql::new(
            "SELECT sweep_after, sweep_generation FROM duplicate_index WHERE sweeping AND tenant_id = ",
        );
        sql.bind(tenant.as_uuid());
        sql.fetch_optional(&self.pools.db).await
    }
}

/// The five range reads of one probe, as `(condition, order, limit)`: the
/// lowest id with the same name, then the nearest names on each side, in
/// name order and in reversed-name order.
const READS: [(&str, &str, &str, u32); 5] = [
    ("name = ", "name", "contact_id", 1),
    ("name > ", "name", "name, contact_id", WINDOW),
    ("name < ", "name", "name DESC, contact_id DESC", WINDOW),
    ("reversed > ", "reversed", "reversed, contact_id", WINDOW),
    (
        "reversed < ",
        "reversed",
        "reversed DESC, contact_id DESC",
        WINDOW,
    ),
];

/// SQLite: a compound select of each probe's range reads, with the probe's
/// values bound in each (SQLite plans them in microseconds).
fn compound_probes(tenant: TenantId, first: usize, part: &[Probe]) -> Sql {
    let mut sql = Sql::new("");
    let mut terms = 0;
    for (offset, probe) in part.iter().enumerate() {
        let reads = if probe.near { &READS[..] } else { &READS[..1] };
        for (condition, column, order, limit) in reads {
            if terms > 0 {
                sql.push(" UNION ALL ");
            }
            let value = if *column == "name" {
                probe.key.name.clone()
            } else {
                probe.key.reversed()
            };
            sql.push("SELECT * FROM (SELECT CAST(")
                .push(&(first + offset).to_string())
                .push(
                    " AS BIGINT) AS probe, contact_id, name FROM duplicate_keys WHERE tenant_id = ",
                )
                .bind(tenant.as_uuid())
                .push(" AND block = ")
                .bind(probe.key.block.as_str())
                .push(" AND key = ")
                .bind(probe.key.key.clone())
                .push(" AND ")
                .push(condition)
                .bind(value)
                .push(" AND contact_id <> ")
                .bind(probe.contact.as_uuid())
                .push(" ORDER BY ")
                .push(order)
                .push(" LIMIT ")
                .push(&limit.to_string())
                .push(") AS t")
                .push(&terms.to_string());
            terms += 1;
        }
    }
    sql
}

/// PostgreSQL: the probes as a `VALUES` table joined `LATERAL` to the five
/// range reads, so the statement is planned once, not once per read
/// (planning 450 reads took 250 ms of a 255 ms statement).
fn lateral_probes(tenant: TenantId, first: usize, part: &[Probe]) -> Sql {
    let mut sql = Sql::new("SELECT p.n AS probe, k.contact_id, k.name FROM (VALUES ");
    for (offset, probe) in part.iter().enumerate() {
        if offset > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .bind(i64::try_from(first + offset).unwrap_or(i64::MAX))
            .push("::bigint, ")
            .bind(probe.key.block.as_str())
            .push("::text, ")
            .bind(probe.key.key.clone())
            .push("::text, ")
            .bind(probe.key.name.clone())
            .push("::text, ")
            .bind(probe.key.reversed())
            .push("::text, ")
            .bind(probe.contact.as_uuid())
            .push("::uuid, ")
            .bind(probe.near)
            .push("::boolean)");
    }
    sql.push(") AS p (n, block, key, name, reversed, contact, near) CROSS JOIN LATERAL (");
    for (index, (condition, column, order, limit)) in READS.iter().enumerate() {
        if index > 0 {
            sql.push(" UNION ALL ");
        }
        sql.push("(SELECT d.contact_id, d.name FROM duplicate_keys d WHERE d.tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND d.block = p.block AND d.key = p.key AND d.contact_id <> p.contact AND ");
        if index > 0 {
            sql.push("p.near AND ");
        }
        sql.push("d.")
            .push(condition)
            .push("p.")
            .push(column)
            .push(" ORDER BY ");
        for (position, part) in order.split(", ").enumerate() {
            if position > 0 {
                sql.push(", ");
            }
            sql.push("d.").push(part);
        }
        sql.push(" LIMIT ").push(&limit.to_string()).push(")");
    }
    sql.push(") AS k");
    sql
}

#[async_trait]
impl DuplicateIndex for SeaDuplicateIndex {
    async fn tenants_pending(&self, limit: u32) -> Result<Vec<TenantId>, DomainError> {
        // Tenants are few: test each for a waiting contact (one index
        // probe). A tenant with an import queued or running is left until
        // it ends: the import's batches would wait on the examinations
        // (SQLite has one writer, and both want the CPU), and the index
        // takes the whole import in afterwards.
        let mut sql = Sql::new(
            "SELECT t.id AS tenant_id FROM tenants t \
             WHERE (EXISTS (SELECT 1 FROM duplicate_pending p WHERE p.tenant_id = t.id) \
              OR EXISTS (SELECT 1 FROM duplicate_index d WHERE d.tenant_id = t.id AND d.sweeping \
                AND EXISTS (SELECT 1 FROM contacts c WHERE c.tenant_id = t.id \
                  AND (d.sweep_after IS NULL OR c.id > d.sweep_after)))) \
             AND NOT EXISTS (SELECT 1 FROM import_jobs j WHERE j.tenant_id = t.id AND j.state IN ('queued', 'running')) \
             ORDER BY t.id LIMIT ",
        );
        sql.bind(i64::from(limit));
        sql.fetch(&self.pools.db, |row: TenantRow| {
            Ok(TenantId::from_uuid(row.tenant_id))
        })
        .await
    }

    async fn pending(&self, tenant: TenantId, limit: u32) -> Result<Vec<Pending>, DomainError> {
        let mut sql =
            Sql::new("SELECT contact_id, mark, recheck FROM duplicate_pending WHERE tenant_id = ");
        sql.bind(tenant.as_uuid())
            .push(" ORDER BY contact_id LIMIT ")
            .bind(i64::from(limit));
        let mut entries = sql
            .fetch(&self.pools.db, |row: PendingRow| {
                Ok(Pending {
                    id: ContactId::from_uuid(row.contact_id),
                    mark: row.mark,
                    recheck: row.recheck,
                    sweep: None,
                })
            })
            .await?;
        let room = (limit as usize).saturating_sub(entries.len());
        if room == 0 {
            return Ok(entries);
        }
        let Some(sweep) = self.sweep(tenant).await? else {
            return Ok(entries);
        };
        let mut sql = Sql::new("SELECT id AS contact_id FROM contacts WHERE tenant_id = ");
        sql.bind(tenant.as_uuid());
        if let Some(after) = sweep.sweep_after {
            sql.push(" AND id > ").bind(after);
        }
        sql.push(" ORDER BY id LIMIT ").bind(room as i64);
        let swept = sql
            .fetch(&self.pools.db, |row: IdRow| {
                Ok(ContactId::from_uuid(row.contact_id))
            })
            .await?;
        for id in swept {
            let generation = Some(sweep.sweep_generation);
            match entries.iter_mut().find(|entry| entry.id == id) {
                // Queued too: examined once, for both.
                Some(entry) => {
                    entry.recheck = false;
                    entry.sweep = generation;
                }
                // No queue row has a negative mark: settling this entry
                // removes none.
                None => entries.push(Pending {
                    id,
                    mark: -1,
                    recheck: false,
                    sweep: generation,
                }),
            }
        }
        Ok(entries)
    }

    async fn tenant(&self, tenant: TenantId) -> Result<Option<Tenant>, DomainError> {
        crate::SeaTenantRepository {
            pools: self.pools.clone(),
        }
        .get(tenant)
        .await
    }

    async fn pending_count(&self, tenant: TenantId) -> Result<u64, DomainError> {
        let mut sql =
            Sql::new("SELECT COUNT(*) AS counted FROM duplicate_pending WHERE tenant_id = ");
        sql.bind(tenant.as_uuid());
        let mut counted = sql
            .fetch_optional::<_, CountRow>(&self.pools.db)
            .await?
            .map_or(0, |row| row.counted);
        if let Some(sweep) = self.sweep(tenant).await? {
            let mut sql = Sql::new("SELECT COUNT(*) AS counted FROM contacts WHERE tenant_id = ");
            sql.bind(tenant.as_uuid());
            if let Some(after) = sweep.sweep_after {
                sql.push(" AND id > ").bind(after);
            }
            counted += sql
                .fetch_optional::<_, CountRow>(&self.pools.db)
                .await?
                .map_or(0, |row| row.counted);
        }
        Ok(u64::try_from(counted).unwrap_or(0))
    }

    async fn contacts(
        &self,
        tenant: TenantId,
        ids: &[ContactId],
    ) -> Result<Vec<Contact>, DomainError> {
        crate::contacts::read_many(&self.pools.db, self.pools.backend, tenant, ids).await
    }

    async fn examine(&self, tenant: TenantId, batch: &[Examined]) -> Result<(), DomainError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.pools
            .writer
            .transaction(async |transaction| {
                if self.pools.backend == Backend::Postgres {
                    // The index tables grow from nothing to millions of rows
                    // within a tenant's first import, faster than
                    // autovacuum analyses them: a generic plan cached while
                    // they were small scans them (measured: 0.3-1.1 s per
                    // key delete, against 1 ms). Plan each statement for
                    // the table as it is now.
                    transaction
                        .execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
                        .await
                        .map_err(storage)?;
                }
                let mut sql = Sql::new("INSERT INTO duplicate_index (tenant_id, examine_time) VALUES (");
                sql.bind(tenant.as_uuid())
                    .push(", ")
                    .bind(time::OffsetDateTime::now_utc())
                    .push(") ON CONFLICT (tenant_id) DO UPDATE SET examine_time = excluded.examine_time");
                sql.execute(transaction).await?;
                self.rekey(transaction, tenant, batch).await?;
                let probes: Vec<Probe> = batch
                    .iter()
                    .flat_map(|e| index::probes(e.pending.id, &e.keys))
                    .collect();
                let answers = self.answer(transaction, tenant, &probes).await?;
                let mut edges: Vec<FoundEdge> = probes
                    .iter()
                    .zip(&answers)
                    .flat_map(|(probe, answer)| index::edges_of(probe, answer))
                    .collect();
                let holders = self.holders(transaction, tenant, batch).await?;
                for entry in batch {
                    edges.extend(index::address_edges(entry.pending.id, &entry.keys, &holders));
                }
                self.settle(transaction, tenant, batch, &edges).await
            })
            .await?;
        self.analyze_after_churn(batch.len() as u64).await
    }

    async fn edges(&self, tenant: TenantId, limit: u64) -> Result<Vec<FoundEdge>, DomainError> {
        let mut sql = Sql::new(
            "SELECT contact_a, contact_b, reason, detail, found_by FROM duplicate_edges WHERE tenant_id = ",
        );
        sql.bind(tenant.as_uuid())
            .push(" LIMIT ")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        sql.fetch(&self.pools.db, |row: EdgeRow| {
            Ok(FoundEdge {
                a: ContactId::from_uuid(row.contact_a),
                b: ContactId::from_uuid(row.contact_b),
                evidence: Evidence {
                    reason: reason_of(&row.reason)?,
                    detail: row.detail,
                },
                found_by: ContactId::from_uuid(row.found_by),
            })
        })
        .await
    }
}
