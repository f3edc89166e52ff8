//! `ImportRepository` on sea-orm: jobs in `import_jobs`, their files in
//! `import_chunks`, refused rows in `import_errors`. A batch is one write
//! transaction: the new contacts as multi-row inserts, the changes at
//! their versions and the refused rows, then, in its turn (once the batch
//! before it ended), the job's progress, guarded by the worker, its state
//! and the rows it had settled, so a cancelled or taken-over job keeps
//! nothing. An address taken or a contact changed meanwhile rolls the
//! whole batch back for the worker to plan it again. On PostgreSQL two
//! batches of a job are written side by side.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use crm_domain::contacts::ContactChange;
use crm_domain::exchange::import::{
    BatchOutcome, ColumnMapping, ColumnTarget, DedupKey, Encoding, ImportBatch, ImportCounts,
    ImportJob, ImportMode, ImportOptions, ImportRepository, ImportState, RowError, Turn,
};
use crm_domain::identity::ContactIdentity;
use crm_domain::kernel::ImportJobId;
use crm_domain::{ContactId, DomainError, Entity, TenantId};
use sea_orm::{ConnectionTrait, DatabaseTransaction, FromQueryResult};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::contacts::{INSERT_CONTACT, insert_tag_rows, push_contact_values, push_field_values};
use crate::ordered::lock_tenant;
use crate::pools::Pools;
use crate::rows::contact_identities::{INSERT_IDENTITIES, push_identity_rows};
use crate::sql::Sql;
use crate::write::Abort;

/// Import jobs in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaImportRepository {
    pub(crate) pools: Pools,
}

/// Rows per multi-row insert: well inside SQLite's 32,766 parameters at 18
/// a contact. On SQLite each statement that inserts contacts flushes the
/// search index (FTS5) once, so fewer, larger statements cost less.
const ROWS_PER_INSERT: usize = 1000;

/// Addresses per multi-row insert, at 7 parameters an address.
const ADDRESSES_PER_INSERT: usize = 4000;

const COLUMNS: &str = "tenant_id, id, owner, state, options, header, file_bytes, rows_total, \
     rows_done, created, updated, unchanged, duplicates, invalid, error, create_time, start_time, \
     end_time, update_time";

#[derive(Debug, FromQueryResult)]
struct JobRow {
    tenant_id: Uuid,
    id: Uuid,
    owner: String,
    state: String,
    options: String,
    header: String,
    file_bytes: i64,
    rows_total: i64,
    rows_done: i64,
    created: i64,
    updated: i64,
    unchanged: i64,
    duplicates: i64,
    invalid: i64,
    error: String,
    create_time: OffsetDateTime,
    start_time: Option<OffsetDateTime>,
    end_time: Option<OffsetDateTime>,
    update_time: OffsetDateTime,
}

fn corrupt(what: &str) -> DomainError {
    DomainError::Internal(format!("stored import job {what} is invalid"))
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn stored(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl JobRow {
    fn into_domain(self) -> Result<ImportJob, DomainError> {
        Ok(ImportJob {
            id: ImportJobId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            owner: self.owner,
            state: ImportState::parse(&self.state).ok_or_else(|| corrupt("state"))?,
            options: options_from_json(&self.options)?,
            header: serde_json::from_str(&self.header).map_err(|_| corrupt("header"))?,
            file_bytes: count(self.file_bytes),
            rows_total: count(self.rows_total),
            counts: ImportCounts {
                rows: count(self.rows_done),
                created: count(self.created),
                updated: count(self.updated),
                unchanged: count(self.unchanged),
                duplicates: count(self.duplicates),
                invalid: count(self.invalid),
            },
            error: self.error,
            create_time: self.create_time,
            start_time: self.start_time,
            end_time: self.end_time,
            update_time: self.update_time,
        })
    }
}

fn options_to_json(options: &ImportOptions) -> String {
    json!({
        "file_name": options.file_name,
        "mapping": options.mapping.iter().map(|mapping| json!({
            "column": mapping.column,
            "target": mapping.target.as_text(),
        })).collect::<Vec<_>>(),
        "dedup_key": options.dedup_key.kind().as_str(),
        "mode": options.mode.as_str(),
        "default_tags": options.default_tags,
        "encoding": options.encoding.as_str(),
        "separator": options.separator,
    })
    .to_string()
}

fn options_from_json(text: &str) -> Result<ImportOptions, DomainError> {
    let value: Value = serde_json::from_str(text).map_err(|_| corrupt("options"))?;
    let text_of = |key: &str| value[key].as_str().ok_or_else(|| corrupt("options"));
    let mapping = value["mapping"]
        .as_array()
        .ok_or_else(|| corrupt("options"))?
        .iter()
        .map(|mapping| {
            Ok(ColumnMapping {
                column: mapping["column"]
                    .as_str()
                    .ok_or_else(|| corrupt("mapping"))?
                    .to_owned(),
                target: ColumnTarget::parse(
                    mapping["target"]
                        .as_str()
                        .ok_or_else(|| corrupt("mapping"))?,
                )
                .map_err(|_| corrupt("mapping"))?,
            })
        })
        .collect::<Result<_, DomainError>>()?;
    Ok(ImportOptions {
        file_name: text_of("file_name")?.to_owned(),
        mapping,
        dedup_key: DedupKey::parse(text_of("dedup_key")?).ok_or_else(|| corrupt("dedup key"))?,
        mode: ImportMode::parse(text_of("mode")?).ok_or_else(|| corrupt("mode"))?,
        default_tags: serde_json::from_value(value["default_tags"].clone())
            .map_err(|_| corrupt("tags"))?,
        encoding: Encoding::parse(text_of("encoding")?).ok_or_else(|| corrupt("encoding"))?,
        separator: value["separator"]
            .as_u64()
            .map(|byte| u8::try_from(byte).map_err(|_| corrupt("separator")))
            .transpose()?,
    })
}

fn not_found(id: ImportJobId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::ImportJob,
        id: id.to_string(),
    }
}

#[derive(Debug, FromQueryResult)]
struct ChunkRow {
    bytes: Vec<u8>,
}

#[derive(Debug, FromQueryResult)]
struct ErrorRow {
    line: i64,
    column_name: String,
    reason: String,
    record: String,
}

#[derive(Debug, FromQueryResult)]
struct Claimable {
    tenant_id: Uuid,
    id: Uuid,
}

impl SeaImportRepository {
    async fn read<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
        id: ImportJobId,
    ) -> Result<Option<ImportJob>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM import_jobs WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(id.as_uuid())
            .push(" AND state <> 'uploading'");
        Ok(sql
            .fetch(connection, JobRow::into_domain)
            .await?
            .into_iter()
            .next())
    }

    /// The new contacts of a batch with their addresses and tags; `false`
    /// when an address was taken meanwhile.
    async fn insert_creates(
        &self,
        transaction: &DatabaseTransaction,
        batch: &ImportBatch,
    ) -> Result<bool, DomainError> {
        for part in batch.creates.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::new(INSERT_CONTACT);
            sql.push(" VALUES ");
            for (index, contact) in part.iter().enumerate() {
                if index > 0 {
                    sql.push(", ");
                }
                sql.push("(");
                push_contact_values(&mut sql, contact, None);
                sql.push(")");
            }
            sql.execute(transaction).await?;
        }
        let added = batch
            .creates
            .iter()
            .map(|contact| {
                (
                    contact.id,
                    contact.identities.as_slice(),
                    contact.tags.as_slice(),
                )
            })
            .collect();
        add_addresses_and_tags(transaction, batch, added).await
    }

    /// The changes of a batch: every contact's row in one multi-row
    /// `UPDATE ... FROM (VALUES ...)` at its expected version, then the
    /// added addresses and tags; `false` when a contact moved or an address
    /// was taken meanwhile.
    async fn update_changed(
        &self,
        transaction: &DatabaseTransaction,
        batch: &ImportBatch,
    ) -> Result<bool, DomainError> {
        // In contact id order: the order of their rows and of their
        // search documents, so that on SQLite each renamed contact's
        // document is rewritten after the last one's (FTS5 writes out its
        // pending terms whenever a change goes back in rowid order), and on
        // PostgreSQL two writers lock rows in one order.
        let mut changes: Vec<&ContactChange> = batch.changes.iter().collect();
        changes.sort_unstable_by_key(|change| change.id.as_uuid());
        for part in changes.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::new(
                "UPDATE contacts SET display_name = v.display_name, search_name = v.search_name, \
                 city = v.city, country = v.country, language = v.language, \
                 avatar_url = v.avatar_url, blocked = v.blocked, \
                 lifecycle_stage = v.lifecycle_stage, tier_id = v.tier_id, \
                 custom_values = v.custom_values, organization_id = v.organization_id, \
                 organization_link = v.organization_link, version = contacts.version + 1, \
                 update_time = v.update_time \
                 FROM (SELECT column1 AS id, column2 AS expected, column3 AS display_name, \
                 column4 AS search_name, column5 AS city, column6 AS country, \
                 column7 AS language, column8 AS avatar_url, column9 AS blocked, \
                 column10 AS lifecycle_stage, column11 AS tier_id, column12 AS custom_values, \
                 column13 AS organization_id, column14 AS organization_link, \
                 column15 AS update_time FROM (VALUES ",
            );
            for (index, change) in part.iter().enumerate() {
                if index > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind(change.id.as_uuid())
                    .push(", ")
                    .bind(change.expected_version)
                    .push(", ");
                push_field_values(&mut sql, &change.fields, &change.custom_fields);
                sql.push(", ").bind(change.now).push(")");
            }
            sql.push(") AS rows_given) AS v WHERE contacts.tenant_id = ")
                .bind(batch.tenant_id.as_uuid())
                .push(" AND contacts.id = v.id AND contacts.version = v.expected");
            if sql.execute(transaction).await? < part.len() as u64 {
                return Ok(false);
            }
        }
        let added = batch
            .changes
            .iter()
            .map(|change| (change.id, change.add.as_slice(), change.tags_add.as_slice()))
            .collect();
        add_addresses_and_tags(transaction, batch, added).await
    }

    async fn insert_errors(
        &self,
        transaction: &DatabaseTransaction,
        batch: &ImportBatch,
    ) -> Result<(), DomainError> {
        for part in batch.errors.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::new(
                "INSERT INTO import_errors (tenant_id, job_id, line, column_name, reason, record) VALUES ",
            );
            for (index, error) in part.iter().enumerate() {
                if index > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind(batch.tenant_id.as_uuid())
                    .push(", ")
                    .bind(batch.job_id.as_uuid())
                    .push(", ")
                    .bind(stored(error.line))
                    .push(", ")
                    .bind(error.column.clone())
                    .push(", ")
                    .bind(error.reason.clone())
                    .push(", ")
                    .bind(json!(error.record).to_string())
                    .push(")");
            }
            sql.push(" ON CONFLICT DO NOTHING");
            sql.execute(transaction).await?;
        }
        Ok(())
    }

    async fn delete_chunks(
        &self,
        transaction: &DatabaseTransaction,
        tenant: TenantId,
        id: ImportJobId,
    ) -> Result<(), DomainError> {
        let mut sql = Sql::new("DELETE FROM import_chunks WHERE tenant_id = ");
        sql.bind(tenant.as_uuid())
            .push(" AND job_id = ")
            .bind(id.as_uuid());
        sql.execute(transaction).await?;
        Ok(())
    }
}

/// Inserts the addresses and tags each contact of `added` gains: the
/// addresses whole contacts per statement (one holds at most 100); `false`
/// when an address was taken meanwhile.
async fn add_addresses_and_tags(
    transaction: &DatabaseTransaction,
    batch: &ImportBatch,
    added: Vec<(ContactId, &[ContactIdentity], &[String])>,
) -> Result<bool, DomainError> {
    let mut parts: Vec<Vec<(ContactId, &[ContactIdentity])>> = vec![Vec::new()];
    let mut held = 0;
    for (owner, identities, _) in &added {
        if identities.is_empty() {
            continue;
        }
        if held + identities.len() > ADDRESSES_PER_INSERT {
            parts.push(Vec::new());
            held = 0;
        }
        held += identities.len();
        if let Some(part) = parts.last_mut() {
            part.push((*owner, identities));
        }
    }
    for part in parts.iter().filter(|part| !part.is_empty()) {
        let mut sql = Sql::new(INSERT_IDENTITIES);
        sql.push(" VALUES ");
        let mut wanted = 0;
        for (index, (owner, identities)) in part.iter().enumerate() {
            if index > 0 {
                sql.push(", ");
            }
            push_identity_rows(&mut sql, batch.tenant_id, *owner, identities, batch.now);
            wanted += identities.len() as u64;
        }
        sql.push(" ON CONFLICT (tenant_id, kind, value) DO NOTHING");
        if sql.execute(transaction).await? < wanted {
            return Ok(false);
        }
    }
    let tags: Vec<(ContactId, &String)> = added
        .iter()
        .flat_map(|(owner, _, tags)| tags.iter().map(move |tag| (*owner, tag)))
        .collect();
    insert_tag_rows(transaction, batch.tenant_id, &tags).await?;
    Ok(true)
}

#[async_trait]
impl ImportRepository for SeaImportRepository {
    async fn create(&self, job: &ImportJob) -> Result<(), DomainError> {
        let mut sql = Sql::new("INSERT INTO import_jobs (");
        sql.push(COLUMNS).push(") VALUES (");
        sql.bind(job.tenant_id.as_uuid())
            .push(", ")
            .bind(job.id.as_uuid())
            .push(", ")
            .bind(job.owner.clone())
            .push(", ")
            .bind(job.state.as_str())
            .push(", ")
            .bind(options_to_json(&job.options))
            .push(", ")
            .bind(json!(job.header).to_string())
            .push(", 0, 0, 0, 0, 0, 0, 0, 0, '', ")
            .bind(job.create_time)
            .push(", NULL, NULL, ")
            .bind(job.update_time)
            .push(")");
        self.pools
            .writer
            .transaction(async |transaction| sql.execute(transaction).await)
            .await?;
        Ok(())
    }

    async fn put_chunk(
        &self,
        tenant: TenantId,
        job: ImportJobId,
        seq: u32,
        bytes: &[u8],
    ) -> Result<(), DomainError> {
        let mut sql =
            Sql::new("INSERT INTO import_chunks (tenant_id, job_id, seq, bytes) VALUES (");
        sql.bind(tenant.as_uuid())
            .push(", ")
            .bind(job.as_uuid())
            .push(", ")
            .bind(i64::from(seq))
            .push(", ")
            .bind(bytes.to_vec())
            .push(")");
        self.pools
            .writer
            .transaction(async |transaction| sql.execute(transaction).await)
            .await?;
        Ok(())
    }

    async fn chunk(
        &self,
        tenant: TenantId,
        job: ImportJobId,
        seq: u32,
    ) -> Result<Option<Vec<u8>>, DomainError> {
        let mut sql = Sql::new("SELECT bytes FROM import_chunks WHERE tenant_id = ");
        sql.bind(tenant.as_uuid())
            .push(" AND job_id = ")
            .bind(job.as_uuid())
            .push(" AND seq = ")
            .bind(i64::from(seq));
        Ok(sql
            .fetch_optional::<_, ChunkRow>(&self.pools.db)
            .await?
            .map(|row| row.bytes))
    }

    async fn submit(&self, job: &ImportJob) -> Result<ImportJob, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                let mut sql = Sql::new("UPDATE import_jobs SET state = 'queued', options = ");
                sql.bind(options_to_json(&job.options))
                    .push(", header = ")
                    .bind(json!(job.header).to_string())
                    .push(", file_bytes = ")
                    .bind(stored(job.file_bytes))
                    .push(", rows_total = ")
                    .bind(stored(job.rows_total))
                    .push(" WHERE tenant_id = ")
                    .bind(job.tenant_id.as_uuid())
                    .push(" AND id = ")
                    .bind(job.id.as_uuid())
                    .push(" AND state = 'uploading'");
                if sql.execute(transaction).await? == 0 {
                    return Err(not_found(job.id));
                }
                self.read(transaction, job.tenant_id, job.id)
                    .await?
                    .ok_or_else(|| not_found(job.id))
            })
            .await
    }

    async fn discard(&self, tenant: TenantId, job: ImportJobId) -> Result<(), DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                self.delete_chunks(transaction, tenant, job).await?;
                let mut sql = Sql::new("DELETE FROM import_jobs WHERE tenant_id = ");
                sql.bind(tenant.as_uuid())
                    .push(" AND id = ")
                    .bind(job.as_uuid())
                    .push(" AND state = 'uploading'");
                sql.execute(transaction).await?;
                Ok(())
            })
            .await
    }

    async fn get(
        &self,
        tenant: TenantId,
        id: ImportJobId,
    ) -> Result<Option<ImportJob>, DomainError> {
        self.read(&self.pools.db, tenant, id).await
    }

    async fn list(
        &self,
        tenant: TenantId,
        before: Option<ImportJobId>,
        limit: u32,
    ) -> Result<Vec<ImportJob>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM import_jobs WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND state <> 'uploading'");
        if let Some(before) = before {
            sql.push(" AND id < ").bind(before.as_uuid());
        }
        sql.push(" ORDER BY id DESC LIMIT ").bind(i64::from(limit));
        sql.fetch(&self.pools.db, JobRow::into_domain).await
    }

    async fn cancel(
        &self,
        tenant: TenantId,
        id: ImportJobId,
        now: OffsetDateTime,
    ) -> Result<ImportJob, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                let mut sql = Sql::new(
                    "UPDATE import_jobs SET state = 'cancelled', worker = NULL, lease_until = NULL, end_time = ",
                );
                sql.bind(now)
                    .push(", update_time = ")
                    .bind(now)
                    .push(" WHERE tenant_id = ")
                    .bind(tenant.as_uuid())
                    .push(" AND id = ")
                    .bind(id.as_uuid())
                    .push(" AND state IN ('queued', 'running')");
                if sql.execute(transaction).await? > 0 {
                    self.delete_chunks(transaction, tenant, id).await?;
                }
                self.read(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(id))
            })
            .await
    }

    async fn claim(
        &self,
        worker: Uuid,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<ImportJob>, DomainError> {
        let mut sql = Sql::new(
            "SELECT j.tenant_id, j.id FROM import_jobs j WHERE (j.state = 'queued' OR \
             (j.state = 'running' AND j.lease_until < ",
        );
        sql.bind(now)
            .push(
                ")) AND NOT EXISTS (SELECT 1 FROM import_jobs r WHERE r.tenant_id = j.tenant_id \
                   AND r.state = 'running' AND r.id <> j.id AND r.lease_until >= ",
            )
            .bind(now)
            .push(") ORDER BY j.create_time, j.id LIMIT 1");
        let Some(candidate) = sql.fetch_optional::<_, Claimable>(&self.pools.db).await? else {
            return Ok(None);
        };
        let tenant = TenantId::from_uuid(candidate.tenant_id);
        let id = ImportJobId::from_uuid(candidate.id);
        self.pools
            .writer
            .transaction(async |transaction| {
                // Claims of one tenant's jobs take turns, so two workers
                // cannot each start one.
                lock_tenant(transaction, tenant).await?;
                let mut sql = Sql::new("UPDATE import_jobs SET state = 'running', worker = ");
                sql.bind(worker)
                    .push(", lease_until = ")
                    .bind(lease_until)
                    .push(", start_time = COALESCE(start_time, ")
                    .bind(now)
                    .push("), update_time = ")
                    .bind(now)
                    .push(" WHERE tenant_id = ")
                    .bind(tenant.as_uuid())
                    .push(" AND id = ")
                    .bind(id.as_uuid())
                    .push(" AND (state = 'queued' OR (state = 'running' AND lease_until < ")
                    .bind(now)
                    .push(")) AND NOT EXISTS (SELECT 1 FROM import_jobs r WHERE r.tenant_id = ")
                    .bind(tenant.as_uuid())
                    .push(" AND r.state = 'running' AND r.id <> ")
                    .bind(id.as_uuid())
                    .push(" AND r.lease_until >= ")
                    .bind(now)
                    .push(")");
                if sql.execute(transaction).await? == 0 {
                    return Ok(None);
                }
                self.read(transaction, tenant, id).await
            })
            .await
    }

    async fn apply(&self, batch: &ImportBatch, turn: &Turn) -> Result<BatchOutcome, DomainError> {
        let lost = AtomicBool::new(false);
        let turn_wait = self.pools.db.limit.statement / 4;
        let applied = self
            .pools
            .writer
            .transaction(async |transaction| {
                if !self.insert_creates(transaction, batch).await?
                    || !self.update_changed(transaction, batch).await?
                {
                    return Err(Abort::Undone);
                }
                self.insert_errors(transaction, batch).await?;
                // The batch before this one settles first. One that is long
                // in coming may be waiting for a row this batch holds (a
                // wait the database cannot see): undo, and plan again
                // after it.
                if tokio::time::timeout(turn_wait, turn.wait()).await.is_err() {
                    return Err(Abort::Undone);
                }
                let counts = &batch.counts;
                let mut sql = Sql::new("UPDATE import_jobs SET rows_done = rows_done + ");
                sql.bind(stored(counts.rows))
                    .push(", created = created + ")
                    .bind(stored(counts.created))
                    .push(", updated = updated + ")
                    .bind(stored(counts.updated))
                    .push(", unchanged = unchanged + ")
                    .bind(stored(counts.unchanged))
                    .push(", duplicates = duplicates + ")
                    .bind(stored(counts.duplicates))
                    .push(", invalid = invalid + ")
                    .bind(stored(counts.invalid))
                    .push(", lease_until = ")
                    .bind(batch.lease_until)
                    .push(", update_time = ")
                    .bind(batch.now)
                    .push(" WHERE tenant_id = ")
                    .bind(batch.tenant_id.as_uuid())
                    .push(" AND id = ")
                    .bind(batch.job_id.as_uuid())
                    .push(" AND state = 'running' AND worker = ")
                    .bind(batch.worker)
                    .push(" AND rows_done = ")
                    .bind(stored(batch.rows_before));
                if sql.execute(transaction).await? == 0 {
                    lost.store(true, Ordering::Relaxed);
                    return Err(Abort::Undone);
                }
                Ok(BatchOutcome::Applied)
            })
            .await;
        match applied {
            Ok(outcome) => Ok(outcome),
            Err(Abort::Undone) if lost.load(Ordering::Relaxed) => Ok(BatchOutcome::Lost),
            // Two transactions' rows crossed (PostgreSQL chose this one to
            // undo): plan again.
            Err(Abort::Undone | Abort::Failed(DomainError::Contention(_))) => {
                Ok(BatchOutcome::Raced)
            }
            Err(Abort::Failed(error)) => Err(error),
        }
    }

    fn batches_at_once(&self) -> usize {
        if self.pools.backend.writes_through_one_connection() {
            1
        } else {
            2
        }
    }

    async fn finish(
        &self,
        tenant: TenantId,
        id: ImportJobId,
        worker: Uuid,
        state: ImportState,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                let mut sql = Sql::new("UPDATE import_jobs SET state = ");
                sql.bind(state.as_str())
                    .push(", error = ")
                    .bind(error.to_owned())
                    .push(", worker = NULL, lease_until = NULL, end_time = ")
                    .bind(now)
                    .push(", update_time = ")
                    .bind(now)
                    .push(" WHERE tenant_id = ")
                    .bind(tenant.as_uuid())
                    .push(" AND id = ")
                    .bind(id.as_uuid())
                    .push(" AND state = 'running' AND worker = ")
                    .bind(worker);
                if sql.execute(transaction).await? > 0 {
                    self.delete_chunks(transaction, tenant, id).await?;
                }
                Ok(())
            })
            .await
    }

    async fn errors(
        &self,
        tenant: TenantId,
        id: ImportJobId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<RowError>, DomainError> {
        let mut sql = Sql::new(
            "SELECT line, column_name, reason, record FROM import_errors WHERE tenant_id = ",
        );
        sql.bind(tenant.as_uuid())
            .push(" AND job_id = ")
            .bind(id.as_uuid())
            .push(" AND line > ")
            .bind(stored(after))
            .push(" ORDER BY line LIMIT ")
            .bind(i64::from(limit));
        sql.fetch(&self.pools.db, |row: ErrorRow| {
            Ok(RowError {
                line: count(row.line),
                column: row.column_name,
                reason: row.reason,
                record: serde_json::from_str(&row.record).map_err(|_| corrupt("error row"))?,
            })
        })
        .await
    }

    async fn sweep_uploads(&self, before: OffsetDateTime) -> Result<u64, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                let mut sql = Sql::new(
                    "DELETE FROM import_chunks WHERE EXISTS (SELECT 1 FROM import_jobs j WHERE \
                     j.tenant_id = import_chunks.tenant_id AND j.id = import_chunks.job_id AND \
                     j.state = 'uploading' AND j.create_time < ",
                );
                sql.bind(before).push(")");
                sql.execute(transaction).await?;
                let mut sql = Sql::new(
                    "DELETE FROM import_jobs WHERE state = 'uploading' AND create_time < ",
                );
                sql.bind(before);
                sql.execute(transaction).await
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crm_domain::TenantId;
    use crm_domain::exchange::import::{
        BatchOutcome, ImportBatch, ImportCounts, ImportJob, ImportOptions, ImportRepository,
        ImportState, RowError, Turn,
    };
    use crm_domain::kernel::ImportJobId;
    use time::OffsetDateTime;
    use uuid::Uuid;

    use crate::testing::{BOTH, TestDatabase, tenant};
    use crate::{Store, StoreOptions};

    fn job(tenant: TenantId, create_time: OffsetDateTime) -> ImportJob {
        ImportJob {
            id: ImportJobId::from_uuid(Uuid::now_v7()),
            tenant_id: tenant,
            owner: "tenant".into(),
            state: ImportState::Uploading,
            options: ImportOptions::default(),
            header: vec!["email".into()],
            file_bytes: 6,
            rows_total: 0,
            counts: ImportCounts::default(),
            error: String::new(),
            create_time,
            start_time: None,
            end_time: None,
            update_time: create_time,
        }
    }

    /// Jobs run oldest first, one per tenant at a time: a second worker
    /// takes another tenant's job, not the running tenant's next one, which
    /// waits for the first to end; a job whose worker stopped renewing its
    /// lease goes to the next worker that looks.
    #[tokio::test]
    async fn one_job_runs_per_tenant_oldest_first_and_a_lapsed_lease_is_taken_over() {
        for backend in BOTH {
            let database = TestDatabase::create(backend).await;
            let store = Store::connect(&database.url, &StoreOptions::default())
                .await
                .unwrap();
            let imports = store.imports();
            let (a, b) = (
                TenantId::from_uuid(Uuid::now_v7()),
                TenantId::from_uuid(Uuid::now_v7()),
            );
            let start = OffsetDateTime::now_utc() - time::Duration::minutes(10);
            let minute = time::Duration::minutes(1);
            let mut queued = Vec::new();
            for (tenant, at) in [(a, start), (a, start + minute), (b, start + minute * 2)] {
                let job = job(tenant, at);
                imports.create(&job).await.unwrap();
                let submitted = ImportJob {
                    state: ImportState::Queued,
                    ..job
                };
                imports.submit(&submitted).await.unwrap();
                queued.push(submitted.id);
            }
            let now = OffsetDateTime::now_utc();
            let lease = now + time::Duration::seconds(30);
            let (one, two) = (Uuid::now_v7(), Uuid::now_v7());
            let first = imports.claim(one, now, lease).await.unwrap().unwrap();
            assert_eq!(first.id, queued[0], "{backend:?}: the oldest first");
            assert_eq!(first.state, ImportState::Running);
            let second = imports.claim(two, now, lease).await.unwrap().unwrap();
            assert_eq!(
                second.id, queued[2],
                "{backend:?}: the other tenant's, not A's next"
            );
            assert!(imports.claim(two, now, lease).await.unwrap().is_none());

            imports
                .finish(a, first.id, one, ImportState::Succeeded, "", now)
                .await
                .unwrap();
            let third = imports.claim(two, now, lease).await.unwrap().unwrap();
            assert_eq!(
                third.id, queued[1],
                "{backend:?}: A's next, once A's first ended"
            );

            // The worker holding B's job stops renewing: after its lease,
            // another worker takes the job over, where it was.
            let later = lease + time::Duration::seconds(1);
            let taken = imports
                .claim(one, later, later + time::Duration::seconds(30))
                .await
                .unwrap()
                .unwrap();
            assert!([queued[1], queued[2]].contains(&taken.id), "{backend:?}");
            let ended = imports.get(a, first.id).await.unwrap().unwrap();
            assert_eq!(ended.state, ImportState::Succeeded);
            store.close().await.unwrap();
            database.drop_database().await;
        }
    }

    /// A batch of one refused row, line `line`, after `rows_before` rows.
    fn refusing(job: &ImportJob, worker: Uuid, line: u64, rows_before: u64) -> ImportBatch {
        let now = OffsetDateTime::now_utc();
        ImportBatch {
            tenant_id: job.tenant_id,
            job_id: job.id,
            worker,
            rows_before,
            counts: ImportCounts {
                rows: 1,
                invalid: 1,
                ..ImportCounts::default()
            },
            creates: Vec::new(),
            changes: Vec::new(),
            errors: vec![RowError {
                line,
                column: "email".into(),
                reason: "not an email".into(),
                record: vec!["x".into()],
            }],
            lease_until: now + time::Duration::seconds(30),
            now,
        }
    }

    /// Batches settle in file order: one whose predecessor has not settled
    /// keeps nothing (`Lost`); on PostgreSQL a batch written beside the one
    /// before it waits for its turn and then settles after it; a turn that
    /// never comes undoes the batch (`Raced`) instead of holding its rows.
    #[tokio::test]
    async fn batches_settle_in_file_order_and_a_turn_long_in_coming_undoes_the_batch() {
        for backend in BOTH {
            let database = TestDatabase::create(backend).await;
            let options = StoreOptions {
                statement_timeout: std::time::Duration::from_millis(800),
                ..StoreOptions::default()
            };
            let store = Store::connect(&database.url, &options).await.unwrap();
            let imports = store.imports();
            let tenant = tenant(&store).await.id;
            let uploading = job(tenant, OffsetDateTime::now_utc());
            imports.create(&uploading).await.unwrap();
            let queued = ImportJob {
                state: ImportState::Queued,
                ..uploading
            };
            imports.submit(&queued).await.unwrap();
            let worker = Uuid::now_v7();
            let now = OffsetDateTime::now_utc();
            let job = imports
                .claim(worker, now, now + time::Duration::seconds(30))
                .await
                .unwrap()
                .unwrap();

            let (first, second) = (refusing(&job, worker, 2, 0), refusing(&job, worker, 3, 1));
            assert_eq!(
                imports.apply(&second, &Turn::now()).await.unwrap(),
                BatchOutcome::Lost,
                "{backend:?}: the second batch before the first"
            );
            assert!(
                imports
                    .errors(tenant, job.id, 0, 10)
                    .await
                    .unwrap()
                    .is_empty()
            );

            if imports.batches_at_once() > 1 {
                let (giver, turn) = Turn::after();
                let waiting = imports.apply(&second, &turn);
                let settle_first = async {
                    let applied = imports.apply(&first, &Turn::now()).await;
                    giver.give();
                    applied
                };
                let (second_applied, first_applied) = tokio::join!(waiting, settle_first);
                assert_eq!(first_applied.unwrap(), BatchOutcome::Applied, "{backend:?}");
                assert_eq!(
                    second_applied.unwrap(),
                    BatchOutcome::Applied,
                    "{backend:?}"
                );
            } else {
                assert_eq!(imports.batches_at_once(), 1);
                for batch in [&first, &second] {
                    let applied = imports.apply(batch, &Turn::now()).await.unwrap();
                    assert_eq!(applied, BatchOutcome::Applied, "{backend:?}");
                }
            }
            let settled = imports.get(tenant, job.id).await.unwrap().unwrap();
            assert_eq!((settled.counts.rows, settled.counts.invalid), (2, 2));
            let lines: Vec<u64> = imports
                .errors(tenant, job.id, 0, 10)
                .await
                .unwrap()
                .iter()
                .map(|error| error.line)
                .collect();
            assert_eq!(lines, [2, 3], "{backend:?}");

            let (_never, turn) = Turn::after();
            let third = refusing(&job, worker, 4, 2);
            assert_eq!(
                imports.apply(&third, &turn).await.unwrap(),
                BatchOutcome::Raced,
                "{backend:?}"
            );
            let settled = imports.get(tenant, job.id).await.unwrap().unwrap();
            assert_eq!(
                settled.counts.rows, 2,
                "{backend:?}: the undone batch kept nothing"
            );
            assert_eq!(
                imports.errors(tenant, job.id, 0, 10).await.unwrap().len(),
                2
            );
            store.close().await.unwrap();
            database.drop_database().await;
        }
    }
}
