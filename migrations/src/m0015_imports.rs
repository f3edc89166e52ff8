//! Import jobs, the files they read (in chunks, so a job outlives the
//! process that took its upload) and the rows they refused.
//! `import_jobs_waiting` serves a worker's claim: the oldest job that may
//! run, and whether its tenant has one running.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::execute_all;

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0015_imports"
    }
}

const POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS import_jobs (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    owner text NOT NULL,
    state text NOT NULL,
    options text NOT NULL,
    header text NOT NULL,
    file_bytes bigint NOT NULL,
    rows_total bigint NOT NULL,
    rows_done bigint NOT NULL,
    created bigint NOT NULL,
    updated bigint NOT NULL,
    unchanged bigint NOT NULL,
    duplicates bigint NOT NULL,
    invalid bigint NOT NULL,
    error text NOT NULL,
    worker uuid,
    lease_until timestamptz,
    create_time timestamptz NOT NULL,
    start_time timestamptz,
    end_time timestamptz,
    update_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS import_jobs_waiting ON import_jobs (state, create_time);
CREATE TABLE IF NOT EXISTS import_chunks (
    tenant_id uuid NOT NULL,
    job_id uuid NOT NULL,
    seq integer NOT NULL,
    bytes bytea NOT NULL,
    PRIMARY KEY (tenant_id, job_id, seq)
);
CREATE TABLE IF NOT EXISTS import_errors (
    tenant_id uuid NOT NULL,
    job_id uuid NOT NULL,
    line bigint NOT NULL,
    column_name text NOT NULL,
    reason text NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (tenant_id, job_id, line)
);
"#;

const SQLITE: &str = r#"
CREATE TABLE IF NOT EXISTS import_jobs (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,
    options TEXT NOT NULL,
    header TEXT NOT NULL,
    file_bytes INTEGER NOT NULL,
    rows_total INTEGER NOT NULL,
    rows_done INTEGER NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    duplicates INTEGER NOT NULL,
    invalid INTEGER NOT NULL,
    error TEXT NOT NULL,
    worker BLOB,
    lease_until TEXT,
    create_time TEXT NOT NULL,
    start_time TEXT,
    end_time TEXT,
    update_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS import_jobs_waiting ON import_jobs (state, create_time);
CREATE TABLE IF NOT EXISTS import_chunks (
    tenant_id BLOB NOT NULL,
    job_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (tenant_id, job_id, seq)
);
CREATE TABLE IF NOT EXISTS import_errors (
    tenant_id BLOB NOT NULL,
    job_id BLOB NOT NULL,
    line INTEGER NOT NULL,
    column_name TEXT NOT NULL,
    reason TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (tenant_id, job_id, line)
) WITHOUT ROWID;
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
