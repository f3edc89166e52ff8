//! Tenants, contacts and contact identities: the foundation of the ledger.
//!
//! `contact_identities` is unique on (tenant, kind, normalised value): that
//! index is what makes sender resolution create one contact however many
//! callers race, on every replica. Its primary key clusters the rows by
//! contact, so reading a contact's addresses is one range of one B-tree and
//! no planner (SQLite's has no statistics unless someone runs ANALYZE) can
//! prefer scanning the tenant's identities to it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::execute_all;

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_contacts"
    }
}

const POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS tenants (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    api_key_hash text NOT NULL,
    default_region text NOT NULL,
    version bigint NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS tenants_api_key_hash ON tenants (api_key_hash);
CREATE TABLE IF NOT EXISTS contacts (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    display_name text NOT NULL,
    city text NOT NULL,
    country text NOT NULL,
    language text NOT NULL,
    avatar_url text NOT NULL,
    blocked boolean NOT NULL,
    lifecycle_stage text NOT NULL,
    create_request_id text,
    version bigint NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS contacts_request_id ON contacts (tenant_id, create_request_id);
CREATE TABLE IF NOT EXISTS contact_identities (
    tenant_id uuid NOT NULL,
    kind text NOT NULL,
    value text NOT NULL,
    contact_id uuid NOT NULL,
    raw_value text NOT NULL,
    is_primary boolean NOT NULL,
    create_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, contact_id, kind, value),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS contact_identities_address ON contact_identities (tenant_id, kind, value);
"#;

const SQLITE: &str = r#"
CREATE TABLE IF NOT EXISTS tenants (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    api_key_hash TEXT NOT NULL,
    default_region TEXT NOT NULL,
    version INTEGER NOT NULL,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS tenants_api_key_hash ON tenants (api_key_hash);
CREATE TABLE IF NOT EXISTS contacts (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    display_name TEXT NOT NULL,
    city TEXT NOT NULL,
    country TEXT NOT NULL,
    language TEXT NOT NULL,
    avatar_url TEXT NOT NULL,
    blocked INTEGER NOT NULL,
    lifecycle_stage TEXT NOT NULL,
    create_request_id TEXT,
    version INTEGER NOT NULL,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS contacts_request_id ON contacts (tenant_id, create_request_id);
CREATE TABLE IF NOT EXISTS contact_identities (
    tenant_id BLOB NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    contact_id BLOB NOT NULL,
    raw_value TEXT NOT NULL,
    is_primary INTEGER NOT NULL,
    create_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, contact_id, kind, value),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS contact_identities_address ON contact_identities (tenant_id, kind, value);
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
