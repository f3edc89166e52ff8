//! Duplicate finding: each tenant's shared or blocked addresses (a JSON
//! list on `tenants`, read with the tenant on every call), and the pairs of
//! contacts an operator marked "not duplicates".
//!
//! `not_duplicates` does not reference `contacts`: a mark outlives a
//! deleted or merged-away contact harmlessly, and the merge's list of child
//! records stays the list of what a contact owns.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::{add_column_if_missing, execute_all};

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0009_duplicates"
    }
}

const POSTGRES: &str = r#"
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS shared_addresses text NOT NULL DEFAULT '[]';
CREATE TABLE IF NOT EXISTS not_duplicates (
    tenant_id uuid NOT NULL,
    contact_a uuid NOT NULL,
    contact_b uuid NOT NULL,
    marked_by text NOT NULL,
    create_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, contact_a, contact_b)
);
"#;

const SQLITE: &str = r#"
CREATE TABLE IF NOT EXISTS not_duplicates (
    tenant_id BLOB NOT NULL,
    contact_a BLOB NOT NULL,
    contact_b BLOB NOT NULL,
    marked_by TEXT NOT NULL,
    create_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, contact_a, contact_b)
) WITHOUT ROWID;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => execute_all(manager, POSTGRES).await,
            DatabaseBackend::Sqlite => {
                execute_all(manager, SQLITE).await?;
                add_column_if_missing(
                    manager,
                    "tenants",
                    "shared_addresses",
                    "TEXT NOT NULL DEFAULT '[]'",
                )
                .await
            }
            other => Err(DbErr::Migration(format!(
                "unsupported database backend {other:?}"
            ))),
        }
    }
}
