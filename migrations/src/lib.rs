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

/// Every migration, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m0001_contacts::Migration)]
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
