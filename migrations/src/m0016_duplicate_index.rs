//! The standing duplicate index: what FindDuplicateContacts reads instead
//! of the whole tenant.
//!
//! - `duplicate_pending`: contacts whose name, city, organization, custom
//!   values, emails or phones changed (or that were created or deleted)
//!   since the index last took them in. Triggers fill it in the same
//!   transaction as every write, whichever path wrote; a tenant's change
//!   of free-mail domains or shared addresses marks all its contacts. `mark`
//!   goes up on every new change, so the indexer removes a row only if
//!   nothing changed while it worked. `recheck` rows were queued by the
//!   indexer itself (a contact whose evidence may have gone stale because
//!   another changed): they are re-examined without queueing others.
//! - `duplicate_keys`: each contact's blocking keys: its name key under its
//!   organization (`o`), each of its non-free-mail email domains (`d`) and
//!   its city (`c`), with the name reversed for suffix neighbours; and each
//!   address it holds as data in a custom field (`a`, the field in `name`).
//! - `duplicate_edges`: pairs that look like one person, with the evidence
//!   and the contact whose examination found them.
//! - `duplicate_index`: one row per tenant, when it was last examined; an
//!   examination upserts it first, so its row lock keeps one examiner per
//!   tenant at a time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::execute_all;

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0016_duplicate_index"
    }
}

// Statements are split at ";\n": function bodies keep their `;` mid-line.
const POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS duplicate_pending (
    tenant_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    mark bigint NOT NULL,
    recheck boolean NOT NULL,
    PRIMARY KEY (tenant_id, contact_id)
);
CREATE TABLE IF NOT EXISTS duplicate_keys (
    tenant_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    block text NOT NULL,
    key text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    reversed text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, contact_id, block, key)
);
CREATE INDEX IF NOT EXISTS duplicate_keys_by_name ON duplicate_keys (tenant_id, block, key, name, contact_id);
CREATE INDEX IF NOT EXISTS duplicate_keys_by_reversed ON duplicate_keys (tenant_id, block, key, reversed, contact_id);
CREATE TABLE IF NOT EXISTS duplicate_edges (
    tenant_id uuid NOT NULL,
    contact_a uuid NOT NULL,
    contact_b uuid NOT NULL,
    reason text NOT NULL,
    detail text NOT NULL,
    found_by uuid NOT NULL,
    PRIMARY KEY (tenant_id, contact_a, contact_b, reason, detail)
);
CREATE INDEX IF NOT EXISTS duplicate_edges_by_b ON duplicate_edges (tenant_id, contact_b);
CREATE INDEX IF NOT EXISTS duplicate_edges_by_finder ON duplicate_edges (tenant_id, found_by);
CREATE TABLE IF NOT EXISTS duplicate_index (
    tenant_id uuid PRIMARY KEY,
    examine_time timestamptz NOT NULL
);
CREATE OR REPLACE FUNCTION duplicate_pending_contact() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' THEN INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) VALUES (OLD.tenant_id, OLD.id, 0, false) ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = duplicate_pending.mark + 1, recheck = false; ELSE INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) VALUES (NEW.tenant_id, NEW.id, 0, false) ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = duplicate_pending.mark + 1, recheck = false; END IF; RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION duplicate_pending_identity() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP <> 'INSERT' THEN INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) VALUES (OLD.tenant_id, OLD.contact_id, 0, false) ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = duplicate_pending.mark + 1, recheck = false; END IF; IF TG_OP <> 'DELETE' THEN INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) VALUES (NEW.tenant_id, NEW.contact_id, 0, false) ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = duplicate_pending.mark + 1, recheck = false; END IF; RETURN NULL; END $$;
CREATE OR REPLACE TRIGGER duplicate_contact_insert AFTER INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION duplicate_pending_contact();
CREATE OR REPLACE TRIGGER duplicate_contact_update AFTER UPDATE OF display_name, city, organization_id, custom_values ON contacts FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name OR OLD.city IS DISTINCT FROM NEW.city OR OLD.organization_id IS DISTINCT FROM NEW.organization_id OR OLD.custom_values IS DISTINCT FROM NEW.custom_values) EXECUTE FUNCTION duplicate_pending_contact();
CREATE OR REPLACE TRIGGER duplicate_contact_delete AFTER DELETE ON contacts FOR EACH ROW EXECUTE FUNCTION duplicate_pending_contact();
CREATE OR REPLACE TRIGGER duplicate_identity_insert AFTER INSERT ON contact_identities FOR EACH ROW WHEN (NEW.kind IN ('email', 'phone')) EXECUTE FUNCTION duplicate_pending_identity();
CREATE OR REPLACE TRIGGER duplicate_identity_update AFTER UPDATE ON contact_identities FOR EACH ROW WHEN (NEW.kind IN ('email', 'phone') AND (OLD.contact_id IS DISTINCT FROM NEW.contact_id OR OLD.value IS DISTINCT FROM NEW.value)) EXECUTE FUNCTION duplicate_pending_identity();
CREATE OR REPLACE TRIGGER duplicate_identity_delete AFTER DELETE ON contact_identities FOR EACH ROW WHEN (OLD.kind IN ('email', 'phone')) EXECUTE FUNCTION duplicate_pending_identity();
CREATE OR REPLACE FUNCTION duplicate_pending_tenant() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) SELECT tenant_id, id, 0, false FROM contacts WHERE tenant_id = NEW.id ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = duplicate_pending.mark + 1, recheck = false; RETURN NULL; END $$;
CREATE OR REPLACE TRIGGER duplicate_tenant_settings AFTER UPDATE OF free_mail_domains, shared_addresses ON tenants FOR EACH ROW WHEN (OLD.free_mail_domains IS DISTINCT FROM NEW.free_mail_domains OR OLD.shared_addresses IS DISTINCT FROM NEW.shared_addresses) EXECUTE FUNCTION duplicate_pending_tenant();
INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) SELECT tenant_id, id, 0, false FROM contacts ON CONFLICT DO NOTHING;
"#;

const SQLITE: &str = r#"
CREATE TABLE IF NOT EXISTS duplicate_pending (
    tenant_id BLOB NOT NULL,
    contact_id BLOB NOT NULL,
    mark INTEGER NOT NULL,
    recheck INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, contact_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS duplicate_keys (
    tenant_id BLOB NOT NULL,
    contact_id BLOB NOT NULL,
    block TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    reversed TEXT NOT NULL,
    PRIMARY KEY (tenant_id, contact_id, block, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS duplicate_keys_by_name ON duplicate_keys (tenant_id, block, key, name, contact_id);
CREATE INDEX IF NOT EXISTS duplicate_keys_by_reversed ON duplicate_keys (tenant_id, block, key, reversed, contact_id);
CREATE TABLE IF NOT EXISTS duplicate_edges (
    tenant_id BLOB NOT NULL,
    contact_a BLOB NOT NULL,
    contact_b BLOB NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    found_by BLOB NOT NULL,
    PRIMARY KEY (tenant_id, contact_a, contact_b, reason, detail)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS duplicate_edges_by_b ON duplicate_edges (tenant_id, contact_b);
CREATE INDEX IF NOT EXISTS duplicate_edges_by_finder ON duplicate_edges (tenant_id, found_by);
CREATE TABLE IF NOT EXISTS duplicate_index (
    tenant_id BLOB PRIMARY KEY,
    examine_time TEXT NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS duplicate_contact_insert AFTER INSERT ON contacts BEGIN INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) VALUES (new.tenant_id, new.id, 0, 0) ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = mark + 1, recheck = 0; END;
CREATE TRIGGER IF NOT EXISTS duplicate_contact_update AFTER UPDATE OF display_name, city, organization_id, custom_values ON contacts WHEN old.display_name IS NOT new.display_name OR old.city IS NOT new.city OR old.organization_id IS NOT new.organization_id OR old.custom_values IS NOT new.custom_values BEGIN INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) VALUES (new.tenant_id, new.id, 0, 0) ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = mark + 1, recheck = 0; END;
CREATE TRIGGER IF NOT EXISTS duplicate_contact_delete AFTER DELETE ON contacts BEGIN INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) VALUES (old.tenant_id, old.id, 0, 0) ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = mark + 1, recheck = 0; END;
CREATE TRIGGER IF NOT EXISTS duplicate_identity_insert AFTER INSERT ON contact_identities WHEN new.kind IN ('email', 'phone') BEGIN INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) VALUES (new.tenant_id, new.contact_id, 0, 0) ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = mark + 1, recheck = 0; END;
CREATE TRIGGER IF NOT EXISTS duplicate_identity_update AFTER UPDATE ON contact_identities WHEN new.kind IN ('email', 'phone') AND (old.contact_id IS NOT new.contact_id OR old.value IS NOT new.value) BEGIN INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) VALUES (new.tenant_id, new.contact_id, 0, 0) ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = mark + 1, recheck = 0; INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) VALUES (old.tenant_id, old.contact_id, 0, 0) ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = mark + 1, recheck = 0; END;
CREATE TRIGGER IF NOT EXISTS duplicate_identity_delete AFTER DELETE ON contact_identities WHEN old.kind IN ('email', 'phone') BEGIN INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) VALUES (old.tenant_id, old.contact_id, 0, 0) ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = mark + 1, recheck = 0; END;
CREATE TRIGGER IF NOT EXISTS duplicate_tenant_settings AFTER UPDATE OF free_mail_domains, shared_addresses ON tenants WHEN old.free_mail_domains IS NOT new.free_mail_domains OR old.shared_addresses IS NOT new.shared_addresses BEGIN INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) SELECT tenant_id, id, 0, 0 FROM contacts WHERE tenant_id = new.id ON CONFLICT (tenant_id, contact_id) DO UPDATE SET mark = mark + 1, recheck = 0; END;
INSERT INTO duplicate_pending (tenant_id, contact_id, mark, recheck) SELECT tenant_id, id, 0, 0 FROM contacts WHERE true ON CONFLICT DO NOTHING;
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
