//! The standing index of contacts' custom-field values that filters read:
//! one `contact_values` row per (contact, field, sort key), where a sort key
//! is the value as text in the value's own order (the domain's
//! `fields::sort_key`; the store writes each value's keys beside it in
//! `custom_values`, as `"k": [...]`). `(tenant_id, field_key, sort_key)`
//! serves `=`, `<`, `>` and "has option" over a million contacts without
//! reading a row.
//!
//! It is derived, not a child record (no foreign key: a merge re-writes
//! the survivor's values and deletes the duplicates, and the triggers
//! follow). Triggers keep it equal to `contacts.custom_values` in the same
//! transaction as every write, whatever the statement (a create, an update,
//! a merge, a field's values cleared on its delete), so a filter sees a
//! value the moment its write returns. A contact without custom values (the
//! hot path's new senders) costs no trigger work. Values written before this
//! migration carry no keys yet: the store re-writes them at start-up, found
//! by the `contacts_value_keys_pending` partial index (so a database with
//! none left costs one probe of an empty index).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::execute_all;

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0012_contact_values"
    }
}

// Statements are split at ";\n": the function body keeps its `;` mid-line.
const POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS contact_values (
    tenant_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    field_key text NOT NULL,
    sort_key text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, contact_id, field_key, sort_key)
);
CREATE INDEX IF NOT EXISTS contact_values_by_value ON contact_values (tenant_id, field_key, sort_key, contact_id);
CREATE INDEX IF NOT EXISTS contacts_value_keys_pending ON contacts (tenant_id, id) WHERE custom_values <> '{}' AND custom_values NOT LIKE '%"k":%';
CREATE OR REPLACE FUNCTION contact_values_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP <> 'INSERT' THEN DELETE FROM contact_values WHERE tenant_id = OLD.tenant_id AND contact_id = OLD.id; END IF; IF TG_OP = 'DELETE' THEN RETURN NULL; END IF; INSERT INTO contact_values (tenant_id, contact_id, field_key, sort_key) SELECT NEW.tenant_id, NEW.id, f.key, k.value FROM jsonb_each(NEW.custom_values::jsonb) AS f, jsonb_array_elements_text(CASE WHEN jsonb_typeof(f.value -> 'k') = 'array' THEN f.value -> 'k' ELSE '[]'::jsonb END) AS k ON CONFLICT DO NOTHING; RETURN NULL; END $$;
CREATE OR REPLACE TRIGGER contact_values_insert AFTER INSERT ON contacts FOR EACH ROW WHEN (NEW.custom_values <> '{}') EXECUTE FUNCTION contact_values_sync();
CREATE OR REPLACE TRIGGER contact_values_update AFTER UPDATE OF custom_values ON contacts FOR EACH ROW WHEN (OLD.custom_values IS DISTINCT FROM NEW.custom_values) EXECUTE FUNCTION contact_values_sync();
CREATE OR REPLACE TRIGGER contact_values_delete AFTER DELETE ON contacts FOR EACH ROW WHEN (OLD.custom_values <> '{}') EXECUTE FUNCTION contact_values_sync();
"#;

const SQLITE: &str = r#"
CREATE TABLE IF NOT EXISTS contact_values (
    tenant_id BLOB NOT NULL,
    contact_id BLOB NOT NULL,
    field_key TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    PRIMARY KEY (tenant_id, contact_id, field_key, sort_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS contact_values_by_value ON contact_values (tenant_id, field_key, sort_key, contact_id);
CREATE INDEX IF NOT EXISTS contacts_value_keys_pending ON contacts (tenant_id, id) WHERE custom_values <> '{}' AND custom_values NOT LIKE '%"k":%';
CREATE TRIGGER IF NOT EXISTS contact_values_insert AFTER INSERT ON contacts WHEN new.custom_values <> '{}' BEGIN INSERT OR IGNORE INTO contact_values (tenant_id, contact_id, field_key, sort_key) SELECT new.tenant_id, new.id, f.key, k.value FROM json_each(new.custom_values) AS f, json_each(f.value, '$.k') AS k; END;
CREATE TRIGGER IF NOT EXISTS contact_values_update AFTER UPDATE OF custom_values ON contacts WHEN new.custom_values IS NOT old.custom_values BEGIN DELETE FROM contact_values WHERE tenant_id = old.tenant_id AND contact_id = old.id; INSERT OR IGNORE INTO contact_values (tenant_id, contact_id, field_key, sort_key) SELECT new.tenant_id, new.id, f.key, k.value FROM json_each(new.custom_values) AS f, json_each(f.value, '$.k') AS k; END;
CREATE TRIGGER IF NOT EXISTS contact_values_delete AFTER DELETE ON contacts WHEN old.custom_values <> '{}' BEGIN DELETE FROM contact_values WHERE tenant_id = old.tenant_id AND contact_id = old.id; END;
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
