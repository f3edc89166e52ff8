//! Attachments between protobuf and the domain.

use crate::convert::note::owner_of;
use crate::convert::timestamp;
use crm_domain::DomainError;
use crm_domain::attachments::{Attachment, NewAttachment, Sha256};
use crm_domain::kernel::RecordRef;
use crm_proto::v1 as pb;

pub(crate) fn to_proto(attachment: &Attachment) -> pb::Attachment {
    let Attachment {
        id,
        tenant_id: _,
        owner,
        file_name,
        content_type,
        size,
        sha256,
        uploaded_by,
        create_time,
    } = attachment;
    pb::Attachment {
        id: id.to_string(),
        owner: Some(match owner {
            RecordRef::Contact(id) => pb::attachment::Owner::ContactId(id.to_string()),
            RecordRef::Organization(id) => pb::attachment::Owner::OrganizationId(id.to_string()),
        }),
        file_name: file_name.clone(),
        content_type: content_type.clone(),
        size: *size,
        sha256: sha256.to_hex(),
        uploaded_by: uploaded_by.clone(),
        create_time: Some(timestamp(*create_time)),
    }
}

pub(crate) fn metadata_from(
    metadata: pb::AttachmentMetadata,
) -> Result<(RecordRef, NewAttachment), DomainError> {
    let pb::AttachmentMetadata {
        owner,
        file_name,
        content_type,
        size,
        sha256,
        uploaded_by,
    } = metadata;
    let owner = match &owner {
        Some(pb::attachment_metadata::Owner::ContactId(id)) => {
            owner_of(Some(id), None, "metadata.")?
        }
        Some(pb::attachment_metadata::Owner::OrganizationId(id)) => {
            owner_of(None, Some(id), "metadata.")?
        }
        None => owner_of(None, None, "metadata.")?,
    };
    let sha256 = match sha256.trim() {
        "" => None,
        hex => Some(
            Sha256::parse_hex(hex)
                .ok_or_else(|| DomainError::invalid("metadata.sha256", "must be 64 hex digits"))?,
        ),
    };
    Ok((
        owner,
        NewAttachment {
            file_name,
            content_type,
            size,
            sha256,
            uploaded_by,
        },
    ))
}

pub(crate) fn owner_scope(owner: RecordRef) -> String {
    match owner {
        RecordRef::Contact(id) => format!("attachments:contact:{id}"),
        RecordRef::Organization(id) => format!("attachments:organization:{id}"),
    }
}
