//! PostgreSQL keeps a contact's addresses on its row, as well as in
//! `contact_identities`.
//!
//! Every contact read used to aggregate the contact's addresses with a
//! subquery over `contact_identities` (an index probe and a heap fetch per
//! address, a sort and a JSON build): about 40% of the cost of the hot
//! path's look-up statement. `contacts.identities` holds the same array,
//! in the same order (primary first, then oldest), written by statement
//! triggers over each statement's transition tables whenever addresses are
//! inserted, moved, changed or deleted, however the write is made, so the
//! two can never disagree. A trigger writes a row only when its array
//! changes, so a writer that already put the right array on the contact
//! (the bench's seed) costs one aggregate and no second row version.
//! `contact_identities` stays the table of record: its unique index is
//! what makes an address belong to one contact, and searches and
//! duplicate matching read it.
//!
//! SQLite keeps reading the subquery: its reads are in-line and cheap, and
//! its one writer, which new senders queue for, would pay a row update per
//! address.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::execute_all;

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0020_identities_on_contact_row"
    }
}

// Statements are split at ";\n": function bodies keep their `;` mid-line.
// The array is built exactly as the store's reads built it (the store's
// `Backend::identity_order`). A trigger first locks the contacts it will
// write, in key order, and only then reads their addresses: its `UPDATE`
// runs on a snapshot taken after the lock, so a transaction that added an
// address to the same contact and committed meanwhile is seen, never
// overwritten by an array read before it committed.
const POSTGRES: &str = r#"
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS identities jsonb NOT NULL DEFAULT '[]';
CREATE OR REPLACE FUNCTION contact_identities_array(tenant uuid, contact uuid) RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT coalesce(jsonb_agg(jsonb_build_array(i.kind, i.value, i.raw_value, i.is_primary) ORDER BY i.is_primary DESC, i.create_time, i.kind, i.value), '[]'::jsonb) FROM contact_identities i WHERE i.tenant_id = tenant AND i.contact_id = contact $$;
CREATE OR REPLACE FUNCTION contact_identities_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM 1 FROM contacts c JOIN (SELECT DISTINCT tenant_id, contact_id FROM changed_identities) t ON c.tenant_id = t.tenant_id AND c.id = t.contact_id ORDER BY c.tenant_id, c.id FOR UPDATE OF c; UPDATE contacts c SET identities = x.identities FROM (SELECT t.tenant_id, t.contact_id, contact_identities_array(t.tenant_id, t.contact_id) AS identities FROM (SELECT DISTINCT tenant_id, contact_id FROM changed_identities) t) x WHERE c.tenant_id = x.tenant_id AND c.id = x.contact_id AND c.identities IS DISTINCT FROM x.identities; RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION contact_identities_moved() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM 1 FROM contacts c JOIN (SELECT tenant_id, contact_id FROM old_identities UNION SELECT tenant_id, contact_id FROM new_identities) t ON c.tenant_id = t.tenant_id AND c.id = t.contact_id ORDER BY c.tenant_id, c.id FOR UPDATE OF c; UPDATE contacts c SET identities = x.identities FROM (SELECT t.tenant_id, t.contact_id, contact_identities_array(t.tenant_id, t.contact_id) AS identities FROM (SELECT tenant_id, contact_id FROM old_identities UNION SELECT tenant_id, contact_id FROM new_identities) t) x WHERE c.tenant_id = x.tenant_id AND c.id = x.contact_id AND c.identities IS DISTINCT FROM x.identities; RETURN NULL; END $$;
DROP TRIGGER IF EXISTS contact_identities_row_insert ON contact_identities;
CREATE TRIGGER contact_identities_row_insert AFTER INSERT ON contact_identities REFERENCING NEW TABLE AS changed_identities FOR EACH STATEMENT EXECUTE FUNCTION contact_identities_changed();
DROP TRIGGER IF EXISTS contact_identities_row_delete ON contact_identities;
CREATE TRIGGER contact_identities_row_delete AFTER DELETE ON contact_identities REFERENCING OLD TABLE AS changed_identities FOR EACH STATEMENT EXECUTE FUNCTION contact_identities_changed();
DROP TRIGGER IF EXISTS contact_identities_row_update ON contact_identities;
CREATE TRIGGER contact_identities_row_update AFTER UPDATE ON contact_identities REFERENCING OLD TABLE AS old_identities NEW TABLE AS new_identities FOR EACH STATEMENT EXECUTE FUNCTION contact_identities_moved();
UPDATE contacts c SET identities = x.identities FROM (SELECT tenant_id, contact_id, jsonb_agg(jsonb_build_array(kind, value, raw_value, is_primary) ORDER BY is_primary DESC, create_time, kind, value) AS identities FROM contact_identities GROUP BY tenant_id, contact_id) x WHERE c.tenant_id = x.tenant_id AND c.id = x.contact_id AND c.identities IS DISTINCT FROM x.identities;
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
