//! Attachments on contacts and organizations, and the claims on their
//! bytes.
//!
//! An attachment record belongs to exactly one record and goes with it when
//! that record is deleted. Its bytes are stored once per tenant and SHA-256
//! in the blob store; `attachment_blobs` holds one row per stored blob key,
//! which writers lock while they publish or remove the bytes, and which the
//! sweep uses to find bytes no record holds any more.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::execute_all;

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0007_attachments"
    }
}

const POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS attachments (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    contact_id uuid,
    organization_id uuid,
    file_name text NOT NULL,
    content_type text NOT NULL,
    size bigint NOT NULL,
    sha256 bytea NOT NULL,
    uploaded_by text NOT NULL,
    create_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id) ON DELETE CASCADE,
    CHECK ((contact_id IS NULL) <> (organization_id IS NULL))
);
CREATE INDEX IF NOT EXISTS attachments_by_contact ON attachments (tenant_id, contact_id, id);
CREATE INDEX IF NOT EXISTS attachments_by_organization ON attachments (tenant_id, organization_id, id);
CREATE INDEX IF NOT EXISTS attachments_by_blob ON attachments (tenant_id, sha256);
CREATE TABLE IF NOT EXISTS attachment_blobs (
    tenant_id uuid NOT NULL,
    sha256 bytea NOT NULL,
    claim_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);
"#;

const SQLITE: &str = r#"
CREATE TABLE IF NOT EXISTS attachments (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    contact_id BLOB,
    organization_id BLOB,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 BLOB NOT NULL,
    uploaded_by TEXT NOT NULL,
    create_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id) ON DELETE CASCADE,
    CHECK ((contact_id IS NULL) <> (organization_id IS NULL))
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS attachments_by_contact ON attachments (tenant_id, contact_id, id);
CREATE INDEX IF NOT EXISTS attachments_by_organization ON attachments (tenant_id, organization_id, id);
CREATE INDEX IF NOT EXISTS attachments_by_blob ON attachments (tenant_id, sha256);
CREATE TABLE IF NOT EXISTS attachment_blobs (
    tenant_id BLOB NOT NULL,
    sha256 BLOB NOT NULL,
    claim_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
) WITHOUT ROWID;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => execute_all(manager, POSTGRES).await,
            DatabaseBackend::Sqlite => execute_all(manager, SQLITE).await,
            other => Err(DbErr::Migration(format!(
                "unsupported database backend {other:?}"
            ))),
        }
    }
}
