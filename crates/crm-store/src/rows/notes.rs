//! `notes`: notes on a contact or an organization (one of two owner columns).

use crm_domain::notes::{Note, NoteFields, NoteFormat};
use crm_domain::{DomainError, NoteId, TenantId};
use sea_orm::FromQueryResult;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rows::owner_from_columns;

/// Every column, in [`NoteRow`] order.
pub(crate) const COLUMNS: &str = "tenant_id, id, contact_id, organization_id, author, body, format, \
    pinned, version, create_time, update_time";

#[derive(Debug, FromQueryResult)]
pub(crate) struct NoteRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub contact_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub author: String,
    pub body: String,
    pub format: String,
    pub pinned: bool,
    pub version: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

impl NoteRow {
    pub(crate) fn into_domain(self) -> Result<Note, DomainError> {
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
