//! Notes on contacts and organizations. A note belongs to exactly one
//! record (one of the two owner columns is set) and goes with it when the
//! record is deleted. The indexes serve the list order: pinned first, then
//! newest (ids are time-ordered).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::execute_all;

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0005_notes"
    }
}

const POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS notes (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    contact_id uuid,
    organization_id uuid,
    author text NOT NULL,
    body text NOT NULL,
    format text NOT NULL,
    pinned boolean NOT NULL,
    version bigint NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id) ON DELETE CASCADE,
    CHECK ((contact_id IS NULL) <> (organization_id IS NULL))
);
CREATE INDEX IF NOT EXISTS notes_by_contact ON notes (tenant_id, contact_id, pinned, id);
CREATE INDEX IF NOT EXISTS notes_by_organization ON notes (tenant_id, organization_id, pinned, id);
"#;

const SQLITE: &str = r#"
CREATE TABLE IF NOT EXISTS notes (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    contact_id BLOB,
    organization_id BLOB,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    format TEXT NOT NULL,
    pinned INTEGER NOT NULL,
    version INTEGER NOT NULL,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id) ON DELETE CASCADE,
    CHECK ((contact_id IS NULL) <> (organization_id IS NULL))
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS notes_by_contact ON notes (tenant_id, contact_id, pinned, id);
CREATE INDEX IF NOT EXISTS notes_by_organization ON notes (tenant_id, organization_id, pinned, id);
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
