//! `attachments`: file records on a contact or an organization; the bytes
//! live in the blob store under (tenant, sha256).

use crm_domain::attachments::{Attachment, Sha256};
use crm_domain::{AttachmentId, DomainError, TenantId};
use sea_orm::FromQueryResult;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rows::owner_from_columns;

/// Every column, in [`AttachmentRow`] order.
pub(crate) const COLUMNS: &str = "tenant_id, id, contact_id, organization_id, file_name, content_type, \
    size, sha256, uploaded_by, create_time";

#[derive(Debug, FromQueryResult)]
pub(crate) struct AttachmentRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub contact_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: Vec<u8>,
    pub uploaded_by: String,
    pub create_time: OffsetDateTime,
}

/// A stored checksum.
pub(crate) fn digest(bytes: Vec<u8>) -> Result<Sha256, DomainError> {
    <[u8; 32]>::try_from(bytes)
        .map(Sha256::from_bytes)
        .map_err(|_| DomainError::Internal("stored attachment checksum is invalid".to_owned()))
}

impl AttachmentRow {
    pub(crate) fn into_domain(self) -> Result<Attachment, DomainError> {
        let owner = owner_from_columns(self.contact_id, self.organization_id, "attachment")?;
        Ok(Attachment {
            id: AttachmentId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            owner,
            file_name: self.file_name,
            content_type: self.content_type,
            size: u64::try_from(self.size).map_err(|_| {
                DomainError::Internal("stored attachment size is invalid".to_owned())
            })?,
            sha256: digest(self.sha256)?,
            uploaded_by: self.uploaded_by,
            create_time: self.create_time,
        })
    }
}
