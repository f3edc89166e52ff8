//! Customer tiers and contact tags.
//!
//! `tiers` is unique on (tenant, lower-cased name); ranks run 1..n per
//! tenant without gaps, kept so by the store (no unique index on the rank,
//! which a reorder would violate half-way). `contacts.tier_id` names the
//! contact's tier; there is no foreign key to `tiers` (SQLite cannot add one
//! to an existing table), so a read treats a tier that is gone as none, and
//! deleting a tier moves or clears its contacts in the same transaction.
//! `contact_tags` is clustered by contact (reading a contact's tags is one
//! range) with a second index by tag for listing the contacts that carry one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::{add_column_if_missing, execute_all};

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_tiers_tags"
    }
}

const POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS tiers (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    name text NOT NULL,
    name_key text NOT NULL,
    color text NOT NULL,
    priority_rank integer NOT NULL,
    first_response_seconds bigint,
    resolution_seconds bigint,
    auto_tags text NOT NULL,
    version bigint NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS tiers_name ON tiers (tenant_id, name_key);
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS tier_id uuid;
CREATE INDEX IF NOT EXISTS contacts_tier ON contacts (tenant_id, tier_id) WHERE tier_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS contact_tags (
    tenant_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    tag text NOT NULL,
    PRIMARY KEY (tenant_id, contact_id, tag),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS contact_tags_by_tag ON contact_tags (tenant_id, tag, contact_id);
"#;

const SQLITE: &str = r#"
CREATE TABLE IF NOT EXISTS tiers (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    color TEXT NOT NULL,
    priority_rank INTEGER NOT NULL,
    first_response_seconds INTEGER,
    resolution_seconds INTEGER,
    auto_tags TEXT NOT NULL,
    version INTEGER NOT NULL,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS tiers_name ON tiers (tenant_id, name_key);
CREATE TABLE IF NOT EXISTS contact_tags (
    tenant_id BLOB NOT NULL,
    contact_id BLOB NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (tenant_id, contact_id, tag),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS contact_tags_by_tag ON contact_tags (tenant_id, tag, contact_id);
"#;

const SQLITE_AFTER_COLUMNS: &str = r#"
CREATE INDEX IF NOT EXISTS contacts_tier ON contacts (tenant_id, tier_id) WHERE tier_id IS NOT NULL;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => execute_all(manager, POSTGRES).await,
            DatabaseBackend::Sqlite => {
                execute_all(manager, SQLITE).await?;
                add_column_if_missing(manager, "contacts", "tier_id", "BLOB").await?;
                execute_all(manager, SQLITE_AFTER_COLUMNS).await
            }
            other => Err(DbErr::Migration(format!(
                "unsupported database backend {other:?}"
            ))),
        }
    }
}
