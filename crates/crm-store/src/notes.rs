//! `NoteRepository` on sea-orm: notes on contacts and organizations, listed
//! pinned first, then newest first, by keyset paging over (pinned, id).

use async_trait::async_trait;
use crm_domain::kernel::RecordRef;
use crm_domain::notes::NoteRepository;
use crm_domain::notes::{Note, NoteCursor, NoteFields, NoteFormat};
use crm_domain::{ContactId, DomainError, Entity, NoteId, OrganizationId, TenantId};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{is_foreign_key_violation, storage};
use crate::sql::Sql;

const COLUMNS: &str = "tenant_id, id, contact_id, organization_id, author, body, format, \
    pinned, version, create_time, update_time";

#[derive(Debug, FromQueryResult)]
struct NoteRow {
    tenant_id: Uuid,
    id: Uuid,
    contact_id: Option<Uuid>,
    organization_id: Option<Uuid>,
    author: String,
    body: String,
    format: String,
    pinned: bool,
    version: i64,
    create_time: OffsetDateTime,
    update_time: OffsetDateTime,
}

impl NoteRow {
    fn into_domain(self) -> Result<Note, DomainError> {
        let owner = owner_from_columns(self.contact_id, self.organization_id, "note")?;
        Ok(Note {
            id: NoteId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            owner,
            fields: NoteFields {
                author: self.author,
                body: self.body,
                format: NoteFormat::parse(&self.format).ok_or_else(|| {
                    DomainError::Internal("stored note format is invalid".to_owned())
                })?,
                pinned: self.pinned,
            },
            version: self.version,
            create_time: self.create_time,
            update_time: self.update_time,
        })
    }
}

/// Notes in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaNoteRepository {
    db: DatabaseConnection,
    writer: DatabaseConnection,
    backend: DbBackend,
}

fn not_found(id: NoteId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::Note,
        id: id.to_string(),
    }
}

/// The record a stored note or attachment is on, from its two owner
/// columns (`what` names the kind of row, for the error).
pub(crate) fn owner_from_columns(
    contact: Option<Uuid>,
    organization: Option<Uuid>,
    what: &str,
) -> Result<RecordRef, DomainError> {
    match (contact, organization) {
        (Some(contact), None) => Ok(RecordRef::Contact(ContactId::from_uuid(contact))),
        (None, Some(organization)) => Ok(RecordRef::Organization(OrganizationId::from_uuid(
            organization,
        ))),
        _ => Err(DomainError::Internal(format!(
            "stored {what} owner is invalid"
        ))),
    }
}

/// The two owner columns (contact, organization) of a note or attachment.
pub(crate) fn owner_columns(owner: RecordRef) -> (Option<Uuid>, Option<Uuid>) {
    match owner {
        RecordRef::Contact(id) => (Some(id.as_uuid()), None),
        RecordRef::Organization(id) => (None, Some(id.as_uuid())),
    }
}

impl SeaNoteRepository {
    pub(crate) fn new(db: DatabaseConnection, writer: DatabaseConnection) -> Self {
        let backend = db.get_database_backend();
        Self {
            db,
            writer,
            backend,
        }
    }

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
        match self.writer.execute_raw(sql.build(self.backend)).await {
            Ok(_) => Ok(note.clone()),
            Err(error) if is_foreign_key_violation(&error) => Err(note.owner.not_found()),
            Err(error) => Err(storage(error)),
        }
    }

    async fn get(&self, tenant: TenantId, id: NoteId) -> Result<Option<Note>, DomainError> {
        self.read(&self.db, tenant, id).await
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
        self.select(&self.db, sql).await
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
        let updated = self
            .writer
            .execute_raw(sql.build(self.backend))
            .await
            .map_err(storage)?;
        if updated.rows_affected() == 0 {
            return Err(match self.read(&self.db, note.tenant_id, note.id).await? {
                Some(_) => DomainError::Stale {
                    entity: Entity::Note,
                    id: note.id.to_string(),
                },
                None => not_found(note.id),
            });
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
        let deleted = self
            .writer
            .execute_raw(sql.build(self.backend))
            .await
            .map_err(storage)?;
        if deleted.rows_affected() == 0 {
            return Err(match self.read(&self.db, tenant, id).await? {
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
