//! Custom-field definitions, the form layout (tabs and sections), and the
//! values column on contacts.
//!
//! Values live on the record itself, in one JSON column (`custom_values`),
//! each value tagged with its type: reading or writing a record with 200
//! values is still one row, and a definition never has to be read to decode
//! them. Deleting a field strips its key from every record of the entity in
//! one statement; checking whether any record holds a value (before a type
//! change) scans the tenant's records, which is rare and administrative.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::{add_column_if_missing, execute_all};

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0003_custom_fields"
    }
}

const POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS custom_fields (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    entity text NOT NULL,
    key text NOT NULL,
    display_name text NOT NULL,
    description text NOT NULL,
    field_type text NOT NULL,
    required boolean NOT NULL,
    default_value text,
    validation text NOT NULL,
    options text NOT NULL,
    section_id uuid,
    position integer NOT NULL,
    version bigint NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS custom_fields_key ON custom_fields (tenant_id, entity, key);
CREATE TABLE IF NOT EXISTS layout_tabs (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    entity text NOT NULL,
    name text NOT NULL,
    position integer NOT NULL,
    version bigint NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE IF NOT EXISTS layout_sections (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    tab_id uuid NOT NULL,
    name text NOT NULL,
    position integer NOT NULL,
    version bigint NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS custom_values text NOT NULL DEFAULT '{}';
"#;

const SQLITE: &str = r#"
CREATE TABLE IF NOT EXISTS custom_fields (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    entity TEXT NOT NULL,
    key TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    field_type TEXT NOT NULL,
    required INTEGER NOT NULL,
    default_value TEXT,
    validation TEXT NOT NULL,
    options TEXT NOT NULL,
    section_id BLOB,
    position INTEGER NOT NULL,
    version INTEGER NOT NULL,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS custom_fields_key ON custom_fields (tenant_id, entity, key);
CREATE TABLE IF NOT EXISTS layout_tabs (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    entity TEXT NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    version INTEGER NOT NULL,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS layout_sections (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    tab_id BLOB NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    version INTEGER NOT NULL,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
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
                    "contacts",
                    "custom_values",
                    "TEXT NOT NULL DEFAULT '{}'",
                )
                .await
            }
            other => Err(DbErr::Migration(format!(
                "unsupported database backend {other:?}"
            ))),
        }
    }
}
