//! Merges of duplicate contacts: the record of each merge, and the
//! tombstones merged-away contacts leave.
//!
//! A merge re-points every child record of the duplicates to the survivor
//! and deletes the duplicates' rows, leaving in `merged_contacts` one row
//! per merged-away id that names the contact it now resolves to (chains are
//! kept one hop long: merging B into C re-points every tombstone that named
//! B). Neither table references `contacts`: a tombstone outlives both the
//! duplicate and, should it be deleted later, the survivor.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::execute_all;

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0008_merges"
    }
}

const POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS contact_merges (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    survivor_id uuid NOT NULL,
    duplicate_ids text NOT NULL,
    merged_by text NOT NULL,
    winners text NOT NULL,
    moved text NOT NULL,
    create_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS contact_merges_by_survivor ON contact_merges (tenant_id, survivor_id, id);
CREATE TABLE IF NOT EXISTS merged_contacts (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    survivor_id uuid NOT NULL,
    merge_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, merge_id) REFERENCES contact_merges (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS merged_contacts_by_survivor ON merged_contacts (tenant_id, survivor_id);
"#;

const SQLITE: &str = r#"
CREATE TABLE IF NOT EXISTS contact_merges (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    survivor_id BLOB NOT NULL,
    duplicate_ids TEXT NOT NULL,
    merged_by TEXT NOT NULL,
    winners TEXT NOT NULL,
    moved TEXT NOT NULL,
    create_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS contact_merges_by_survivor ON contact_merges (tenant_id, survivor_id, id);
CREATE TABLE IF NOT EXISTS merged_contacts (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    survivor_id BLOB NOT NULL,
    merge_id BLOB NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, merge_id) REFERENCES contact_merges (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS merged_contacts_by_survivor ON merged_contacts (tenant_id, survivor_id);
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
