//! `AttachmentRepository` on sea-orm: attachment records, listed newest
//! first by keyset paging over the time-ordered id, and the claims on blob
//! keys (`attachment_blobs`) that keep the blob store and the records in
//! step.
//!
//! Every write that publishes or removes bytes runs inside a transaction
//! holding the claim's row lock (the upsert, or `Backend::for_update`; where
//! the dialect does not lock rows, the transaction's database lock), so an upload of some
//! bytes and the deletion of the last record holding the same bytes are
//! serialised.

use async_trait::async_trait;
use crm_domain::attachments::{Attachment, BlobKey};
use crm_domain::attachments::{AttachmentRepository, BlobStore, StagedBlob};
use crm_domain::kernel::{Presence, RecordRef};
use crm_domain::{AttachmentId, DomainError, Entity, TenantId};
use sea_orm::DatabaseTransaction;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::dialect::Backend;
use crate::error::{is_foreign_key_violation, storage};
use crate::pools::Pools;
use crate::rows::Found;
use crate::rows::attachment_blobs::KeyRow;
use crate::rows::attachments::{AttachmentRow, COLUMNS};
use crate::rows::owner_columns;
use crate::sql::Sql;

/// Most orphaned blobs one sweep releases.
const SWEEP_BATCH: i64 = 500;

/// Attachment records in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaAttachmentRepository {
    pub(crate) pools: Pools,
}

fn owner_column(owner: RecordRef) -> (&'static str, Uuid) {
    match owner {
        RecordRef::Contact(id) => ("contact_id", id.as_uuid()),
        RecordRef::Organization(id) => ("organization_id", id.as_uuid()),
    }
}

fn key_condition(sql: &mut Sql, key: &BlobKey) {
    sql.push(" WHERE tenant_id = ")
        .bind(key.tenant_id.as_uuid())
        .push(" AND sha256 = ")
        .bind(key.sha256.as_bytes().to_vec());
}

/// The statement that inserts the claim on `key`, or touches it; inside a
/// transaction on PostgreSQL it also takes the claim's row lock until the
/// transaction ends.
fn upsert_claim(key: &BlobKey, now: OffsetDateTime) -> Sql {
    let mut sql = Sql::new("INSERT INTO attachment_blobs (tenant_id, sha256, claim_time) VALUES (");
    sql.bind(key.tenant_id.as_uuid())
        .push(", ")
        .bind(key.sha256.as_bytes().to_vec())
        .push(", ")
        .bind(now)
        .push(") ON CONFLICT (tenant_id, sha256) DO UPDATE SET claim_time = excluded.claim_time");
    sql
}

/// Removes the bytes under `key`, and its claim, when a claim exists and no
/// record holds the bytes; the claim's row is locked first.
async fn release_in(
    transaction: &DatabaseTransaction,
    key: &BlobKey,
    blobs: &dyn BlobStore,
) -> Result<bool, DomainError> {
    let mut sql = Sql::new("SELECT 1 AS found FROM attachment_blobs");
    key_condition(&mut sql, key);
    sql.push(Backend::of(transaction).for_update());
    if sql
        .fetch(transaction, |row: Found| Ok(row))
        .await?
        .is_empty()
    {
        return Ok(false);
    }
    let mut sql = Sql::new("SELECT 1 AS found FROM attachments");
    key_condition(&mut sql, key);
    sql.push(" LIMIT 1");
    if !sql
        .fetch(transaction, |row: Found| Ok(row))
        .await?
        .is_empty()
    {
        return Ok(false);
    }
    blobs.remove(key).await?;
    let mut sql = Sql::new("DELETE FROM attachment_blobs");
    key_condition(&mut sql, key);
    sql.execute(transaction).await?;
    Ok(true)
}

impl SeaAttachmentRepository {
    async fn insert(
        transaction: &DatabaseTransaction,
        attachment: &Attachment,
        bytes: &mut dyn StagedBlob,
    ) -> Result<Attachment, DomainError> {
        upsert_claim(&attachment.blob_key(), attachment.create_time)
            .execute(transaction)
            .await?;
        let (contact, organization) = owner_columns(attachment.owner);
        let mut sql = Sql::new("INSERT INTO attachments (");
        sql.push(COLUMNS)
            .push(") VALUES (")
            .bind(attachment.tenant_id.as_uuid())
            .push(", ")
            .bind(attachment.id.as_uuid())
            .push(", ")
            .bind(contact)
            .push(", ")
            .bind(organization)
            .push(", ")
            .bind(attachment.file_name.clone())
            .push(", ")
            .bind(attachment.content_type.clone())
            .push(", ")
            .bind(i64::try_from(attachment.size).unwrap_or(i64::MAX))
            .push(", ")
            .bind(attachment.sha256.as_bytes().to_vec())
            .push(", ")
            .bind(attachment.uploaded_by.clone())
            .push(", ")
            .bind(attachment.create_time)
            .push(")");
        match sql.try_execute(transaction).await {
            Ok(_) => {}
            Err(error) if is_foreign_key_violation(&error) => {
                return Err(attachment.owner.not_found());
            }
            Err(error) => return Err(storage(error)),
        }
        bytes.publish(&attachment.blob_key()).await?;
        Ok(attachment.clone())
    }

    async fn remove(
        transaction: &DatabaseTransaction,
        tenant: TenantId,
        id: AttachmentId,
        blobs: &dyn BlobStore,
    ) -> Result<(), DomainError> {
        let mut sql = Sql::new("DELETE FROM attachments WHERE tenant_id = ");
        sql.bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(id.as_uuid())
            .push(" RETURNING tenant_id, sha256");
        let Some(key) = sql.fetch(transaction, KeyRow::into_key).await?.pop() else {
            return Err(DomainError::NotFound {
                entity: Entity::Attachment,
                id: id.to_string(),
            });
        };
        release_in(transaction, &key, blobs).await.map(drop)
    }
}

#[async_trait]
impl AttachmentRepository for SeaAttachmentRepository {
    async fn locate(&self, tenant: TenantId, owner: RecordRef) -> Result<Presence, DomainError> {
        crate::records::locate(&self.pools.db, tenant, owner).await
    }

    async fn claim_blob(&self, key: &BlobKey, now: OffsetDateTime) -> Result<(), DomainError> {
        self.pools
            .writer
            .statement(upsert_claim(key, now))
            .await
            .map(drop)
            .map_err(storage)
    }

    async fn create(
        &self,
        attachment: &Attachment,
        bytes: &mut dyn StagedBlob,
    ) -> Result<Attachment, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| Self::insert(transaction, attachment, bytes).await)
            .await
    }

    async fn get(
        &self,
        tenant: TenantId,
        id: AttachmentId,
    ) -> Result<Option<Attachment>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM attachments WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(id.as_uuid());
        Ok(sql
            .fetch(&self.pools.db, AttachmentRow::into_domain)
            .await?
            .pop())
    }

    async fn list(
        &self,
        tenant: TenantId,
        owner: RecordRef,
        after: Option<AttachmentId>,
        limit: u32,
    ) -> Result<Vec<Attachment>, DomainError> {
        let (column, owner_id) = owner_column(owner);
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM attachments WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND ")
            .push(column)
            .push(" = ")
            .bind(owner_id);
        if let Some(after) = after {
            sql.push(" AND id < ").bind(after.as_uuid());
        }
        sql.push(" ORDER BY id DESC LIMIT ").bind(i64::from(limit));
        sql.fetch(&self.pools.db, AttachmentRow::into_domain).await
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: AttachmentId,
        blobs: &dyn BlobStore,
    ) -> Result<(), DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| Self::remove(transaction, tenant, id, blobs).await)
            .await
    }

    async fn release_blob(
        &self,
        key: &BlobKey,
        blobs: &dyn BlobStore,
    ) -> Result<bool, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| release_in(transaction, key, blobs).await)
            .await
    }

    async fn sweep(&self, blobs: &dyn BlobStore) -> Result<u64, DomainError> {
        let mut sql = Sql::new(
            "SELECT b.tenant_id, b.sha256 FROM attachment_blobs b WHERE NOT EXISTS \
             (SELECT 1 FROM attachments a WHERE a.tenant_id = b.tenant_id AND a.sha256 = b.sha256) \
             LIMIT ",
        );
        sql.bind(SWEEP_BATCH);
        let orphans = sql.fetch(&self.pools.db, KeyRow::into_key).await?;
        let mut released = 0;
        for key in orphans {
            if self.release_blob(&key, blobs).await? {
                released += 1;
            }
        }
        Ok(released)
    }
}
