//! `NoteRepository` on sea-orm: notes on contacts and organizations, listed
//! pinned first, then newest first, by keyset paging over (pinned, id).

use async_trait::async_trait;
use crm_domain::kernel::{Presence, RecordRef};
use crm_domain::notes::NoteRepository;
use crm_domain::notes::{Note, NoteCursor};
use crm_domain::{DomainError, Entity, NoteId, TenantId};
use sea_orm::ConnectionTrait;

use crate::error::{is_foreign_key_violation, storage};
use crate::pools::Pools;
use crate::rows::notes::{COLUMNS, NoteRow};
use crate::rows::owner_columns;
use crate::sql::Sql;

/// Notes in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaNoteRepository {
    pub(crate) pools: Pools,
}

fn not_found(id: NoteId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::Note,
        id: id.to_string(),
    }
}

impl SeaNoteRepository {
    async fn select<C: ConnectionTrait>(
        &self,
        connection: &C,
        sql: Sql,
    ) -> Result<Vec<Note>, DomainError> {
        sql.fetch(connection, NoteRow::into_domain).await
    }

    async fn read<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
        id: NoteId,
    ) -> Result<Option<Note>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM notes WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(id.as_uuid());
        Ok(self.select(connection, sql).await?.into_iter().next())
    }
}

#[async_trait]
impl NoteRepository for SeaNoteRepository {
    async fn locate(&self, tenant: TenantId, owner: RecordRef) -> Result<Presence, DomainError> {
        crate::records::locate(&self.pools.db, tenant, owner).await
    }

    async fn create(&self, note: &Note) -> Result<Note, DomainError> {
        let (contact, organization) = owner_columns(note.owner);
        let mut sql = Sql::new("INSERT INTO notes (");
        sql.push(COLUMNS)
            .push(") VALUES (")
            .bind(note.tenant_id.as_uuid())
            .push(", ")
            .bind(note.id.as_uuid())
            .push(", ")
            .bind(contact)
            .push(", ")
            .bind(organization)
            .push(", ")
            .bind(note.fields.author.clone())
            .push(", ")
            .bind(note.fields.body.clone())
            .push(", ")
            .bind(note.fields.format.as_str())
            .push(", ")
            .bind(note.fields.pinned)
            .push(", ")
            .bind(note.version)
            .push(", ")
            .bind(note.create_time)
            .push(", ")
            .bind(note.update_time)
            .push(")");
        match self.pools.writer.statement(sql).await {
            Ok(_) => Ok(note.clone()),
            Err(error) if is_foreign_key_violation(&error) => Err(note.owner.not_found()),
            Err(error) => Err(storage(error)),
        }
    }

    async fn get(&self, tenant: TenantId, id: NoteId) -> Result<Option<Note>, DomainError> {
        self.read(&self.pools.db, tenant, id).await
    }

    async fn list(
        &self,
        tenant: TenantId,
        owner: RecordRef,
        after: Option<NoteCursor>,
        limit: u32,
    ) -> Result<Vec<Note>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM notes WHERE tenant_id = ")
            .bind(tenant.as_uuid());
        match owner {
            RecordRef::Contact(id) => sql.push(" AND contact_id = ").bind(id.as_uuid()),
            RecordRef::Organization(id) => sql.push(" AND organization_id = ").bind(id.as_uuid()),
        };
        if let Some(cursor) = after {
            if cursor.pinned {
                sql.push(" AND (pinned = ")
                    .bind(false)
                    .push(" OR id < ")
                    .bind(cursor.id.as_uuid())
                    .push(")");
            } else {
                sql.push(" AND pinned = ")
                    .bind(false)
                    .push(" AND id < ")
                    .bind(cursor.id.as_uuid());
            }
        }
        sql.push(" ORDER BY pinned DESC, id DESC LIMIT ")
            .bind(i64::from(limit));
        self.select(&self.pools.db, sql).await
    }

    async fn update(&self, note: &Note, expected_version: i64) -> Result<Note, DomainError> {
        let mut sql = Sql::new("UPDATE notes SET body = ");
        sql.bind(note.fields.body.clone())
            .push(", format = ")
            .bind(note.fields.format.as_str())
            .push(", pinned = ")
            .bind(note.fields.pinned)
            .push(", version = ")
            .bind(expected_version + 1)
            .push(", update_time = ")
            .bind(note.update_time)
            .push(" WHERE tenant_id = ")
            .bind(note.tenant_id.as_uuid())
            .push(" AND id = ")
            .bind(note.id.as_uuid())
            .push(" AND version = ")
            .bind(expected_version);
        let updated = self.pools.writer.statement(sql).await.map_err(storage)?;
        if updated == 0 {
            return Err(
                match self.read(&self.pools.db, note.tenant_id, note.id).await? {
                    Some(_) => DomainError::Stale {
                        entity: Entity::Note,
                        id: note.id.to_string(),
                    },
                    None => not_found(note.id),
                },
            );
        }
        Ok(Note {
            version: expected_version + 1,
            ..note.clone()
        })
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: NoteId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError> {
        let mut sql = Sql::new("DELETE FROM notes WHERE tenant_id = ");
        sql.bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(id.as_uuid());
        if let Some(version) = expected_version {
            sql.push(" AND version = ").bind(version);
        }
        let deleted = self.pools.writer.statement(sql).await.map_err(storage)?;
        if deleted == 0 {
            return Err(match self.read(&self.pools.db, tenant, id).await? {
                Some(_) => DomainError::Stale {
                    entity: Entity::Note,
                    id: id.to_string(),
                },
                None => not_found(id),
            });
        }
        Ok(())
    }
}
