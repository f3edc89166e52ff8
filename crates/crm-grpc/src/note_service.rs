//! `crm.v1.NoteService`: authenticates the caller, converts the request,
//! calls the note use cases, converts the answer. No rules live here.

use crm_domain::kernel;
use std::sync::Arc;

use crm_domain::kernel::RecordRef;
use crm_domain::notes::{Note, NoteCursor, NoteFields, NoteFormat, NotePatch, NoteService};
use crm_domain::{DomainError, NoteId, OrganizationId};
use crm_proto::v1 as pb;
use crm_proto::v1::note_service_server::NoteService as NoteRpc;
use tonic::{Request, Response, Status};

use crate::auth::Authenticator;
use crate::convert::{self, mask::Mask, timestamp};
use crate::page_token;
use crate::status::to_status;

/// The gRPC face of the note use cases.
#[derive(Debug, Clone)]
pub struct NoteApi {
    notes: NoteService,
    auth: Arc<Authenticator>,
}

impl NoteApi {
    /// Serves `notes` to callers `auth` recognises.
    pub fn new(notes: NoteService, auth: Arc<Authenticator>) -> Self {
        Self { notes, auth }
    }
}

fn note_id(text: &str, field: &str) -> Result<NoteId, Status> {
    if text.is_empty() {
        return Err(to_status(DomainError::invalid(field, "is required")));
    }
    NoteId::parse(text)
        .ok_or_else(|| to_status(DomainError::invalid(field, "is not a note id (a UUID)")))
}

/// The record a request names by one of its two owner ids (`prefix` is
/// the path of the message holding them).
pub(crate) fn owner_of(
    contact: Option<&str>,
    organization: Option<&str>,
    prefix: &str,
) -> Result<RecordRef, Status> {
    match (contact, organization) {
        (Some(id), None) => convert::contact_id(id, &format!("{prefix}contact_id"))
            .map(RecordRef::Contact)
            .map_err(to_status),
        (None, Some(id)) => OrganizationId::parse(id)
            .map(RecordRef::Organization)
            .ok_or_else(|| {
                to_status(DomainError::invalid(
                    format!("{prefix}organization_id"),
                    "is not an organization id (a UUID)",
                ))
            }),
        _ => Err(to_status(DomainError::invalid(
            format!("{prefix}owner"),
            "set contact_id or organization_id",
        ))),
    }
}

fn format_from(value: i32, field: &str) -> Result<NoteFormat, Status> {
    match pb::NoteFormat::try_from(value) {
        Ok(pb::NoteFormat::Unspecified | pb::NoteFormat::PlainText) => Ok(NoteFormat::PlainText),
        Ok(pb::NoteFormat::Markdown) => Ok(NoteFormat::Markdown),
        Err(_) => Err(to_status(DomainError::invalid(
            field,
            format!("{value} is not a NoteFormat"),
        ))),
    }
}

fn to_proto(note: &Note) -> pb::Note {
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
        etag: note.etag(),
    }
}

fn owner_scope(owner: RecordRef) -> String {
    match owner {
        RecordRef::Contact(id) => format!("notes:contact:{id}"),
        RecordRef::Organization(id) => format!("notes:organization:{id}"),
    }
}

#[tonic::async_trait]
impl NoteRpc for NoteApi {
    async fn create_note(
        &self,
        request: Request<pb::CreateNoteRequest>,
    ) -> Result<Response<pb::Note>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::CreateNoteRequest { note } = request.into_inner();
        let pb::Note {
            id: _,
            owner,
            author,
            body,
            format,
            pinned,
            create_time: _,
            update_time: _,
            etag: _,
        } = note.ok_or_else(|| to_status(DomainError::invalid("note", "is required")))?;
        let owner = match &owner {
            Some(pb::note::Owner::ContactId(id)) => owner_of(Some(id), None, "note.")?,
            Some(pb::note::Owner::OrganizationId(id)) => owner_of(None, Some(id), "note.")?,
            None => owner_of(None, None, "note.")?,
        };
        let fields = NoteFields {
            author,
            body,
            format: format_from(format, "note.format")?,
            pinned,
        };
        let created = self
            .notes
            .create(&caller, owner, fields)
            .await
            .map_err(to_status)?;
        Ok(Response::new(to_proto(&created)))
    }

    async fn get_note(
        &self,
        request: Request<pb::GetNoteRequest>,
    ) -> Result<Response<pb::Note>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::GetNoteRequest { id } = request.into_inner();
        let found = self
            .notes
            .get(&caller, note_id(&id, "id")?)
            .await
            .map_err(to_status)?;
        Ok(Response::new(to_proto(&found)))
    }

    async fn list_notes(
        &self,
        request: Request<pb::ListNotesRequest>,
    ) -> Result<Response<pb::ListNotesResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::ListNotesRequest {
            owner,
            page_size,
            page_token,
        } = request.into_inner();
        let owner = match &owner {
            Some(pb::list_notes_request::Owner::ContactId(id)) => owner_of(Some(id), None, "")?,
            Some(pb::list_notes_request::Owner::OrganizationId(id)) => {
                owner_of(None, Some(id), "")?
            }
            None => owner_of(None, None, "")?,
        };
        let size = kernel::page_size(page_size).map_err(to_status)?;
        let scope = owner_scope(owner);
        let after = page_token::decode_flagged(&page_token, &scope)
            .map_err(to_status)?
            .map(|(id, pinned)| NoteCursor {
                pinned,
                id: NoteId::from_uuid(id),
            });
        let page = self
            .notes
            .list(&caller, owner, after, size)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListNotesResponse {
            notes: page.items.iter().map(to_proto).collect(),
            next_page_token: page
                .next
                .map(|cursor| {
                    page_token::encode_flagged(cursor.id.as_uuid(), cursor.pinned, &scope)
                })
                .unwrap_or_default(),
        }))
    }

    async fn update_note(
        &self,
        request: Request<pb::UpdateNoteRequest>,
    ) -> Result<Response<pb::Note>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::UpdateNoteRequest {
            note,
            update_mask,
            etag,
        } = request.into_inner();
        let pb::Note {
            id,
            owner: _,
            author: _,
            body,
            format,
            pinned,
            create_time: _,
            update_time: _,
            etag: _,
        } = note.ok_or_else(|| to_status(DomainError::invalid("note", "is required")))?;
        let id = note_id(&id, "note.id")?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        let mut implied = Vec::new();
        for (field, set) in [
            ("body", !body.is_empty()),
            ("format", format != 0),
            ("pinned", pinned),
        ] {
            if set {
                implied.push(field);
            }
        }
        let mask =
            Mask::parse(update_mask, &["body", "format", "pinned"], implied).map_err(to_status)?;
        let patch = NotePatch {
            body: mask.has("body").then_some(body),
            format: if mask.has("format") {
                Some(format_from(format, "note.format")?)
            } else {
                None
            },
            pinned: mask.has("pinned").then_some(pinned),
        };
        let updated = self
            .notes
            .update(&caller, id, patch, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(to_proto(&updated)))
    }

    async fn delete_note(
        &self,
        request: Request<pb::DeleteNoteRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::DeleteNoteRequest { id, etag } = request.into_inner();
        let id = note_id(&id, "id")?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        self.notes
            .delete(&caller, id, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(()))
    }
}
