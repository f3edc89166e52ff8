//! `AttachmentRepository` on sea-orm: attachment records, listed newest
//! first by keyset paging over the time-ordered id, and the claims on blob
//! keys (`attachment_blobs`) that keep the blob store and the records in
//! step.
//!
//! Every write that publishes or removes bytes runs inside a transaction
//! holding the claim's row lock (PostgreSQL: the upsert or `FOR UPDATE`;
//! SQLite: the IMMEDIATE transaction's database lock), so an upload of some
//! bytes and the deletion of the last record holding the same bytes are
//! serialised.

use async_trait::async_trait;
use crm_domain::attachments::{Attachment, BlobKey, Sha256};
use crm_domain::attachments::{AttachmentRepository, BlobStore, StagedBlob};
use crm_domain::kernel::RecordRef;
use crm_domain::{AttachmentId, DomainError, Entity, TenantId};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, FromQueryResult,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::connect::{begin_write, finish};
use crate::error::{is_foreign_key_violation, storage};
use crate::notes::{owner_columns, owner_from_columns};
use crate::sql::Sql;

const COLUMNS: &str = "tenant_id, id, contact_id, organization_id, file_name, content_type, \
    size, sha256, uploaded_by, create_time";

/// Most orphaned blobs one sweep releases.
const SWEEP_BATCH: i64 = 500;

#[derive(Debug, FromQueryResult)]
struct AttachmentRow {
    tenant_id: Uuid,
    id: Uuid,
    contact_id: Option<Uuid>,
    organization_id: Option<Uuid>,
    file_name: String,
    content_type: String,
    size: i64,
    sha256: Vec<u8>,
    uploaded_by: String,
    create_time: OffsetDateTime,
}

fn digest(bytes: Vec<u8>) -> Result<Sha256, DomainError> {
    <[u8; 32]>::try_from(bytes)
        .map(Sha256::from_bytes)
        .map_err(|_| DomainError::Internal("stored attachment checksum is invalid".to_owned()))
}

impl AttachmentRow {
    fn into_domain(self) -> Result<Attachment, DomainError> {
        let owner = owner_from_columns(self.contact_id, self.organization_id, "attachment")?;
        Ok(Attachment {
            id: AttachmentId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            owner,
            file_name: self.file_name,
            content_type: self.content_type,
            size: u64::try_from(self.size).map_err(|_| {
                DomainError::Internal("stored attachment size is invalid".to_owned())
            })?,
            sha256: digest(self.sha256)?,
            uploaded_by: self.uploaded_by,
            create_time: self.create_time,
        })
    }
}

#[derive(Debug, FromQueryResult)]
struct KeyRow {
    tenant_id: Uuid,
    sha256: Vec<u8>,
}

impl KeyRow {
    fn into_key(self) -> Result<BlobKey, DomainError> {
        Ok(BlobKey {
            tenant_id: TenantId::from_uuid(self.tenant_id),
            sha256: digest(self.sha256)?,
        })
    }
}

#[derive(Debug, FromQueryResult)]
struct Found {
    #[allow(dead_code)] // read only to learn that a row exists
    found: i32,
}

/// Attachment records in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaAttachmentRepository {
    db: DatabaseConnection,
    writer: DatabaseConnection,
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

/// Inserts the claim on `key`, or touches it; on PostgreSQL this also takes
/// the claim's row lock until the transaction ends.
async fn upsert_claim<C: ConnectionTrait>(
    connection: &C,
    key: &BlobKey,
    now: OffsetDateTime,
) -> Result<(), DomainError> {
    let mut sql = Sql::new("INSERT INTO attachment_blobs (tenant_id, sha256, claim_time) VALUES (");
    sql.bind(key.tenant_id.as_uuid())
        .push(", ")
        .bind(key.sha256.as_bytes().to_vec())
        .push(", ")
        .bind(now)
        .push(") ON CONFLICT (tenant_id, sha256) DO UPDATE SET claim_time = excluded.claim_time");
    sql.execute(connection).await.map(drop)
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
    if transaction.get_database_backend() == DbBackend::Postgres {
        sql.push(" FOR UPDATE");
    }
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
    pub(crate) fn new(db: DatabaseConnection, writer: DatabaseConnection) -> Self {
        Self { db, writer }
    }

    async fn insert(
        transaction: &DatabaseTransaction,
        attachment: &Attachment,
        bytes: &mut dyn StagedBlob,
    ) -> Result<Attachment, DomainError> {
        upsert_claim(transaction, &attachment.blob_key(), attachment.create_time).await?;
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
        let backend = transaction.get_database_backend();
        match transaction.execute_raw(sql.build(backend)).await {
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
    async fn owner_exists(&self, tenant: TenantId, owner: RecordRef) -> Result<bool, DomainError> {
        let mut sql = Sql::new(match owner {
            RecordRef::Contact(_) => "SELECT 1 AS found FROM contacts WHERE tenant_id = ",
            RecordRef::Organization(_) => "SELECT 1 AS found FROM organizations WHERE tenant_id = ",
        });
        sql.bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(owner_column(owner).1);
        Ok(!sql.fetch(&self.db, |row: Found| Ok(row)).await?.is_empty())
    }

    async fn claim_blob(&self, key: &BlobKey, now: OffsetDateTime) -> Result<(), DomainError> {
        upsert_claim(&self.writer, key, now).await
    }

    async fn create(
        &self,
        attachment: &Attachment,
        bytes: &mut dyn StagedBlob,
    ) -> Result<Attachment, DomainError> {
        let transaction = begin_write(&self.writer).await?;
        let outcome = Self::insert(&transaction, attachment, bytes).await;
        finish(transaction, outcome).await
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
        Ok(sql.fetch(&self.db, AttachmentRow::into_domain).await?.pop())
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
        sql.fetch(&self.db, AttachmentRow::into_domain).await
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: AttachmentId,
        blobs: &dyn BlobStore,
    ) -> Result<(), DomainError> {
        let transaction = begin_write(&self.writer).await?;
        let outcome = Self::remove(&transaction, tenant, id, blobs).await;
        finish(transaction, outcome).await
    }

    async fn release_blob(
        &self,
        key: &BlobKey,
        blobs: &dyn BlobStore,
    ) -> Result<bool, DomainError> {
        let transaction = begin_write(&self.writer).await?;
        let outcome = release_in(&transaction, key, blobs).await;
        finish(transaction, outcome).await
    }

    async fn sweep(&self, blobs: &dyn BlobStore) -> Result<u64, DomainError> {
        let mut sql = Sql::new(
            "SELECT b.tenant_id, b.sha256 FROM attachment_blobs b WHERE NOT EXISTS \
             (SELECT 1 FROM attachments a WHERE a.tenant_id = b.tenant_id AND a.sha256 = b.sha256) \
             LIMIT ",
        );
        sql.bind(SWEEP_BATCH);
        let orphans = sql.fetch(&self.db, KeyRow::into_key).await?;
        let mut released = 0;
        for key in orphans {
            if self.release_blob(&key, blobs).await? {
                released += 1;
            }
        }
        Ok(released)
    }
}
