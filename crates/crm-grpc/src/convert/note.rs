//! Notes between protobuf and the domain.

use crate::convert::{self, timestamp};
use crm_domain::kernel::RecordRef;
use crm_domain::notes::{Note, NoteFormat};
use crm_domain::{ContactId, DomainError, OrganizationId};
use crm_proto::v1 as pb;

/// The paths an UpdateNote mask may name.
pub(crate) const UPDATABLE: [&str; 3] = ["body", "format", "pinned"];

/// The record a request names by one of its two owner ids (`prefix` is
/// the path of the message holding them).
pub(crate) fn owner_of(
    contact: Option<&str>,
    organization: Option<&str>,
    prefix: &str,
) -> Result<RecordRef, DomainError> {
    match (contact, organization) {
        (Some(id), None) => {
            convert::id::<ContactId>(id, &format!("{prefix}contact_id")).map(RecordRef::Contact)
        }
        (None, Some(id)) => convert::id::<OrganizationId>(id, &format!("{prefix}organization_id"))
            .map(RecordRef::Organization),
        _ => Err(DomainError::invalid(
            format!("{prefix}owner"),
            "set contact_id or organization_id",
        )),
    }
}

pub(crate) fn format_from(value: i32, field: &str) -> Result<NoteFormat, DomainError> {
    match pb::NoteFormat::try_from(value) {
        Ok(pb::NoteFormat::Unspecified | pb::NoteFormat::PlainText) => Ok(NoteFormat::PlainText),
        Ok(pb::NoteFormat::Markdown) => Ok(NoteFormat::Markdown),
        Err(_) => Err(DomainError::invalid(
            field,
            format!("{value} is not a NoteFormat"),
        )),
    }
}

pub(crate) fn to_proto(note: &Note) -> pb::Note {
    let Note {
        id,
        tenant_id: _,
        owner,
        fields,
        version: _,
        create_time,
        update_time,
    } = note;
    pb::Note {
        id: id.to_string(),
        owner: Some(match owner {
            RecordRef::Contact(id) => pb::note::Owner::ContactId(id.to_string()),
            RecordRef::Organization(id) => pb::note::Owner::OrganizationId(id.to_string()),
        }),
        author: fields.author.clone(),
        body: fields.body.clone(),
        format: match fields.format {
            NoteFormat::PlainText => pb::NoteFormat::PlainText,
            NoteFormat::Markdown => pb::NoteFormat::Markdown,
        } as i32,
        pinned: fields.pinned,
        create_time: Some(timestamp(*create_time)),
        update_time: Some(timestamp(*update_time)),
        etag: crate::token::etag(note.version),
    }
}

pub(crate) fn owner_scope(owner: RecordRef) -> String {
    match owner {
        RecordRef::Contact(id) => format!("notes:contact:{id}"),
        RecordRef::Organization(id) => format!("notes:organization:{id}"),
    }
}
