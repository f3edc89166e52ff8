//! `attachment_blobs`: the claims on blob keys that keep the blob store and
//! the attachment records in step.

use crm_domain::attachments::BlobKey;
use crm_domain::{DomainError, TenantId};
use sea_orm::FromQueryResult;
use uuid::Uuid;

use crate::rows::attachments::digest;

/// A blob key, as `attachment_blobs` and `attachments` both hold it.
#[derive(Debug, FromQueryResult)]
pub(crate) struct KeyRow {
    pub tenant_id: Uuid,
    pub sha256: Vec<u8>,
}

impl KeyRow {
    pub(crate) fn into_key(self) -> Result<BlobKey, DomainError> {
        Ok(BlobKey {
            tenant_id: TenantId::from_uuid(self.tenant_id),
            sha256: digest(self.sha256)?,
        })
    }
}
