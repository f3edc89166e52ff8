//! SQLite rewrites a renamed contact's search document in place.
//!
//! `m0011`'s trigger deleted the name's document and inserted a new one,
//! which took a new, higher rowid. FTS5 keeps the terms it has not yet
//! written in rowid order and must write them out (a new segment, then
//! merges) whenever a change comes for a rowid below the last one it took:
//! in a statement renaming many contacts (an import batch) every rename
//! after the first did, which was a sixth of an import's time. The name's
//! document now keeps its rowid: the trigger updates its text, and the
//! documents' update trigger tells FTS5 to delete the old text and index the
//! new one under the same rowid, which needs no write-out when the renames
//! come in rowid order (the store sends a batch's changes in contact id
//! order, the order their documents were written in). PostgreSQL's search
//! column is indexed where it lies and needs nothing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::execute_all;

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0019_search_docs_in_place"
    }
}

const SQLITE: &str = r#"
CREATE TRIGGER IF NOT EXISTS contact_search_docs_update AFTER UPDATE OF text ON contact_search_docs BEGIN INSERT INTO contact_search (contact_search, rowid, text) VALUES ('delete', old.rowid, old.text); INSERT INTO contact_search (rowid, text) VALUES (new.rowid, new.text); END;
DROP TRIGGER IF EXISTS contacts_search_update;
CREATE TRIGGER contacts_search_update AFTER UPDATE OF search_name ON contacts WHEN new.search_name IS NOT old.search_name BEGIN DELETE FROM contact_search_docs WHERE new.search_name IS NULL AND tenant_id = old.tenant_id AND contact_id = old.id AND kind = ''; UPDATE contact_search_docs SET text = new.search_name WHERE new.search_name IS NOT NULL AND tenant_id = old.tenant_id AND contact_id = old.id AND kind = ''; INSERT OR IGNORE INTO contact_search_docs (tenant_id, contact_id, kind, text) SELECT new.tenant_id, new.id, '', new.search_name WHERE new.search_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contact_search_docs WHERE tenant_id = new.tenant_id AND contact_id = new.id AND kind = ''); END;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => Ok(()),
            DatabaseBackend::Sqlite => execute_all(manager, SQLITE).await,
            other => Err(DbErr::Migration(format!(
                "unsupported database backend {other:?}"
            ))),
        }
    }
}
