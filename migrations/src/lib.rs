//! Forward-only schema migrations for SQLite and PostgreSQL, applied at
//! start-up by `crmd` and by the store tests. Each migration is written as
//! plain DDL per backend (so the column types are exactly what the store
//! binds: UUIDs as `uuid` on PostgreSQL and 16-byte BLOBs on SQLite) and is
//! idempotent (`IF NOT EXISTS`), so a replica that races another one at
//! start-up cannot fail half-way.
//!
//! Schema rules every migration keeps: every tenant-owned table carries
//! `tenant_id` first in its primary key and in every unique index, and no
//! key or sequence spans tenants, so `tenant_id` can be the shard key.

pub use sea_orm_migration::prelude::*;

mod m0001_contacts;
mod m0002_tiers_tags;
mod m0003_custom_fields;
mod m0004_organizations;
mod m0005_notes;
mod m0006_conversations;
mod m0007_attachments;
mod m0008_merges;
mod m0009_duplicates;
mod m0010_conversation_channels;
mod m0011_search;
mod m0012_contact_values;
mod m0013_contact_order;
mod m0014_segments;
mod m0015_imports;
mod m0016_duplicate_index;
mod m0017_duplicate_sweep;
mod m0018_duplicate_statement_triggers;
mod m0019_search_docs_in_place;
mod m0020_search_names_apart;

/// Every migration, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_contacts::Migration),
            Box::new(m0002_tiers_tags::Migration),
            Box::new(m0003_custom_fields::Migration),
            Box::new(m0004_organizations::Migration),
            Box::new(m0005_notes::Migration),
            Box::new(m0006_conversations::Migration),
            Box::new(m0007_attachments::Migration),
            Box::new(m0008_merges::Migration),
            Box::new(m0009_duplicates::Migration),
            Box::new(m0010_conversation_channels::Migration),
            Box::new(m0011_search::Migration),
            Box::new(m0012_contact_values::Migration),
            Box::new(m0013_contact_order::Migration),
            Box::new(m0014_segments::Migration),
            Box::new(m0015_imports::Migration),
            Box::new(m0016_duplicate_index::Migration),
            Box::new(m0017_duplicate_sweep::Migration),
            Box::new(m0018_duplicate_statement_triggers::Migration),
            Box::new(m0019_search_docs_in_place::Migration),
            Box::new(m0020_search_names_apart::Migration),
        ]
    }
}

/// Runs each statement of `ddl` (separated by `;` at line ends) in order.
async fn execute_all(manager: &SchemaManager<'_>, ddl: &str) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    for statement in ddl.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        connection.execute_unprepared(statement).await?;
    }
    Ok(())
}

/// SQLite: adds a nullable column unless it is there already (SQLite has no
/// `ADD COLUMN IF NOT EXISTS`), so a re-run migration changes nothing.
async fn add_column_if_missing(
    manager: &SchemaManager<'_>,
    table: &str,
    column: &str,
    column_type: &str,
) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
    let connection = manager.get_connection();
    let backend = connection.get_database_backend();
    let existing = connection
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT name FROM pragma_table_info('{table}')"),
        ))
        .await?;
    for row in existing {
        if row.try_get::<String>("", "name")? == column {
            return Ok(());
        }
    }
    connection
        .execute_unprepared(&format!(
            "ALTER TABLE {table} ADD COLUMN {column} {column_type}"
        ))
        .await?;
    Ok(())
}
