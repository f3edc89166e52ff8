//! Segments: saved contact filters, each with an owner and a visibility.
//! `segments_by_owner` serves the per-owner limit's count and the list of
//! an owner's own segments.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::execute_all;

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0014_segments"
    }
}

const POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS segments (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    owner text NOT NULL,
    display_name text NOT NULL,
    filter text NOT NULL,
    visibility text NOT NULL,
    version bigint NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS segments_by_owner ON segments (tenant_id, owner, id);
"#;

const SQLITE: &str = r#"
CREATE TABLE IF NOT EXISTS segments (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    owner TEXT NOT NULL,
    display_name TEXT NOT NULL,
    filter TEXT NOT NULL,
    visibility TEXT NOT NULL,
    version INTEGER NOT NULL,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS segments_by_owner ON segments (tenant_id, owner, id);
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
