//! Conversations, and the engagement figures kept on each contact.
//!
//! A conversation is unique per (tenant, source, source id), so recording
//! it again updates it. The figures on `contacts` (counts, first and last
//! contact, CSAT sum and count, channels used) move with every transaction
//! that changes a conversation, under the contact's row lock, so a read
//! never scans history (and, since m0010, neither does a write).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::{add_column_if_missing, execute_all};

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0006_conversations"
    }
}

const POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS conversations (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    contact_id uuid NOT NULL,
    source text NOT NULL,
    source_id text NOT NULL,
    channel text NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    status text NOT NULL,
    agent_id text NOT NULL,
    agent_name text NOT NULL,
    team text NOT NULL,
    subject text NOT NULL,
    outcome text NOT NULL,
    message_count bigint NOT NULL,
    csat integer,
    custom_values text NOT NULL DEFAULT '{}',
    version bigint NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS conversations_source ON conversations (tenant_id, source, source_id);
CREATE INDEX IF NOT EXISTS conversations_by_contact ON conversations (tenant_id, contact_id, started_at, id);
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS conversation_count bigint NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS message_count bigint NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS first_contact_time timestamptz;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS last_contact_time timestamptz;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS csat_sum bigint NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS csat_count bigint NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS channels_used text NOT NULL DEFAULT '[]';
"#;

const SQLITE: &str = r#"
CREATE TABLE IF NOT EXISTS conversations (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    contact_id BLOB NOT NULL,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    agent_name TEXT NOT NULL,
    team TEXT NOT NULL,
    subject TEXT NOT NULL,
    outcome TEXT NOT NULL,
    message_count INTEGER NOT NULL,
    csat INTEGER,
    custom_values TEXT NOT NULL DEFAULT '{}',
    version INTEGER NOT NULL,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS conversations_source ON conversations (tenant_id, source, source_id);
CREATE INDEX IF NOT EXISTS conversations_by_contact ON conversations (tenant_id, contact_id, started_at, id);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => execute_all(manager, POSTGRES).await,
            DatabaseBackend::Sqlite => {
                execute_all(manager, SQLITE).await?;
                for (column, kind) in [
                    ("conversation_count", "INTEGER NOT NULL DEFAULT 0"),
                    ("message_count", "INTEGER NOT NULL DEFAULT 0"),
                    ("first_contact_time", "TEXT"),
                    ("last_contact_time", "TEXT"),
                    ("csat_sum", "INTEGER NOT NULL DEFAULT 0"),
                    ("csat_count", "INTEGER NOT NULL DEFAULT 0"),
                    ("channels_used", "TEXT NOT NULL DEFAULT '[]'"),
                ] {
                    add_column_if_missing(manager, "contacts", column, kind).await?;
                }
                Ok(())
            }
            other => Err(DbErr::Migration(format!(
                "unsupported database backend {other:?}"
            ))),
        }
    }
}
