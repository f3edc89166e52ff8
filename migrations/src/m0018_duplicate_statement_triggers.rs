//! PostgreSQL queues inserted contacts and addresses for the duplicate
//! index once per statement, not once per row.
//!
//! `m0016`'s row triggers ran a PL/pgSQL call and an upsert into
//! `duplicate_pending` for every inserted contact and address: with a
//! batch of an import (a thousand contacts and their addresses in a few
//! statements) that was about a sixth of the database's work. The insert
//! triggers are now statement triggers over the statement's transition
//! table: one upsert of the distinct contacts per statement (a contact
//! inserted with its addresses in one statement is bumped once; `mark`
//! only has to move when something changed). A single-row insert costs
//! about the same as before. Updates and deletes keep their row triggers,
//! whose `WHEN` skips rows that change nothing the index reads (a statement
//! trigger over `UPDATE` cannot name columns, so it would fire for every
//! update). SQLite keeps its row triggers: they run inside the statement,
//! without a call per row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::execute_all;

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0018_duplicate_statement_triggers"
    }
}

// Statements are split at ";\n": function bodies keep their `;` mid-line.
const POSTGRES: &str = r#"
CREATE OR REPLACE FUNCTION duplicate_pending_contacts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) SELECT DISTINCT tenant_id, id, 0, false FROM inserted_contacts ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = duplicate_pending.mark + 1, recheck = false; RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION duplicate_pending_identities_inserted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) SELECT DISTINCT tenant_id, contact_id, 0, false FROM inserted_identities WHERE kind IN ('email', 'phone') ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = duplicate_pending.mark + 1, recheck = false; RETURN NULL; END $$;
DROP TRIGGER IF EXISTS duplicate_contact_insert ON contacts;
CREATE TRIGGER duplicate_contact_insert AFTER INSERT ON contacts REFERENCING NEW TABLE AS inserted_contacts FOR EACH STATEMENT EXECUTE FUNCTION duplicate_pending_contacts_inserted();
DROP TRIGGER IF EXISTS duplicate_identity_insert ON contact_identities;
CREATE TRIGGER duplicate_identity_insert AFTER INSERT ON contact_identities REFERENCING NEW TABLE AS inserted_identities FOR EACH STATEMENT EXECUTE FUNCTION duplicate_pending_identities_inserted();
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => execute_all(manager, POSTGRES).await,
            DatabaseBackend::Sqlite => Ok(()),
            other => Err(DbErr::Migration(format!(
                "unsupported database backend {other:?}"
            ))),
        }
    }
}
