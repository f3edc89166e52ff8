//! A settings change sweeps the tenant instead of queueing it whole.
//!
//! `m0016` queued every contact of a tenant in `duplicate_pending` from
//! the trigger on a change of its free-mail domains or shared addresses:
//! one statement writing a row per contact inside the settings update,
//! which on a tenant of a million contacts outlasts the statement timeout
//! and fails the update. Now the trigger only starts a sweep on the
//! tenant's `duplicate_index` row (`sweeping`, from the start, a new
//! `sweep_generation`; none for a tenant without contacts), and the indexer walks the tenant's contacts in id
//! order, moving `sweep_after` past each batch it takes in, as long as no
//! newer change restarted the sweep (`sweep_generation` unchanged). A
//! contact created after the change is queued by its own trigger.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::{add_column_if_missing, execute_all};

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0017_duplicate_sweep"
    }
}

// Statements are split at ";\n": function bodies keep their `;` mid-line.
const POSTGRES: &str = r#"
ALTER TABLE duplicate_index ADD COLUMN IF NOT EXISTS sweeping boolean NOT NULL DEFAULT false;
ALTER TABLE duplicate_index ADD COLUMN IF NOT EXISTS sweep_after uuid;
ALTER TABLE duplicate_index ADD COLUMN IF NOT EXISTS sweep_generation bigint NOT NULL DEFAULT 0;
CREATE OR REPLACE FUNCTION duplicate_pending_tenant() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO duplicate_index (tenant_id, examine_time, sweeping, sweep_after, sweep_generation) VALUES (NEW.id, now(), EXISTS (SELECT 1 FROM contacts WHERE tenant_id = NEW.id), NULL, 1) ON CONFLICT (tenant_id) DO UPDATE SET sweeping = excluded.sweeping, sweep_after = NULL, sweep_generation = duplicate_index.sweep_generation + 1; RETURN NULL; END $$;
"#;

const SQLITE: &str = r#"
DROP TRIGGER IF EXISTS duplicate_tenant_settings;
CREATE TRIGGER IF NOT EXISTS duplicate_tenant_settings AFTER UPDATE OF free_mail_domains, shared_addresses ON tenants WHEN old.free_mail_domains IS NOT new.free_mail_domains OR old.shared_addresses IS NOT new.shared_addresses BEGIN INSERT INTO duplicate_index (tenant_id, examine_time, sweeping, sweep_after, sweep_generation) VALUES (new.id, strftime('%Y-%m-%d %H:%M:%f', 'now'), EXISTS (SELECT 1 FROM contacts WHERE tenant_id = new.id), NULL, 1) ON CONFLICT (tenant_id) DO UPDATE SET sweeping = excluded.sweeping, sweep_after = NULL, sweep_generation = sweep_generation + 1; END;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => execute_all(manager, POSTGRES).await,
            DatabaseBackend::Sqlite => {
                for (column, column_type) in [
                    ("sweeping", "INTEGER NOT NULL DEFAULT 0"),
                    ("sweep_after", "BLOB"),
                    ("sweep_generation", "INTEGER NOT NULL DEFAULT 0"),
                ] {
                    add_column_if_missing(manager, "duplicate_index", column, column_type).await?;
                }
                execute_all(manager, SQLITE).await
            }
            other => Err(DbErr::Migration(format!(
                "unsupported database backend {other:?}"
            ))),
        }
    }
}
