//! `crm.v1.NoteService`: authenticates the caller, converts the request,
//! calls the note use cases, converts the answer. No rules live here.

use crm_domain::kernel;
use crm_domain::tenancy::Caller;
use std::sync::Arc;

use crm_domain::notes::{NoteCursor, NoteFields, NotePatch, NoteService};
use crm_domain::{DomainError, NoteId};
use crm_proto::v1 as pb;
use crm_proto::v1::note_service_server::NoteService as NoteRpc;

use crate::auth::Authenticator;
use crate::convert::note::{UPDATABLE, format_from, owner_of, owner_scope, to_proto};
use crate::convert::{self, mask::Mask};
use crate::token;

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

/// The bodies of the RPCs: each takes the authenticated caller and the
/// request message and returns a domain result; [`crate::serve!`] does the rest.
impl NoteApi {
    async fn create_note(
        &self,
        caller: Caller,
        request: pb::CreateNoteRequest,
    ) -> Result<pb::Note, DomainError> {
        let pb::CreateNoteRequest { note } = request;
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
        } = note.ok_or_else(|| DomainError::invalid("note", "is required"))?;
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
        // The domain reports paths inside the note; the request holds it in `note`.
        let created = self
            .notes
            .create(&caller, owner, fields)
            .await
            .map_err(|error| error.scoped("note"))?;
        Ok(to_proto(&created))
    }

    async fn get_note(
        &self,
        caller: Caller,
        request: pb::GetNoteRequest,
    ) -> Result<pb::Note, DomainError> {
        let pb::GetNoteRequest { id } = request;
        let found = self
            .notes
            .get(&caller, convert::id::<NoteId>(&id, "id")?)
            .await?;
        Ok(to_proto(&found))
    }

    async fn list_notes(
        &self,
        caller: Caller,
        request: pb::ListNotesRequest,
    ) -> Result<pb::ListNotesResponse, DomainError> {
        let pb::ListNotesRequest {
            owner,
            page_size,
            page_token,
        } = request;
        let owner = match &owner {
            Some(pb::list_notes_request::Owner::ContactId(id)) => owner_of(Some(id), None, "")?,
            Some(pb::list_notes_request::Owner::OrganizationId(id)) => {
                owner_of(None, Some(id), "")?
            }
            None => owner_of(None, None, "")?,
        };
        let size = kernel::page_size(page_size)?;
        let scope = owner_scope(owner);
        let after =
            token::flagged_page_after(&page_token, &scope)?.map(|(id, pinned)| NoteCursor {
                pinned,
                id: NoteId::from_uuid(id),
            });
        let page = self.notes.list(&caller, owner, after, size).await?;
        Ok(pb::ListNotesResponse {
            notes: page.items.iter().map(to_proto).collect(),
            next_page_token: page
                .next
                .map(|cursor| token::flagged_page(cursor.id.as_uuid(), cursor.pinned, &scope))
                .unwrap_or_default(),
        })
    }

    async fn update_note(
        &self,
        caller: Caller,
        request: pb::UpdateNoteRequest,
    ) -> Result<pb::Note, DomainError> {
        let pb::UpdateNoteRequest {
            note,
            update_mask,
            etag,
        } = request;
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
        } = note.ok_or_else(|| DomainError::invalid("note", "is required"))?;
        let id = convert::id::<NoteId>(&id, "note.id")?;
        let expected = token::optional_version(&etag, "etag")?;
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
        let mask = Mask::parse(update_mask, &UPDATABLE, implied)?;
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
            .map_err(|error| error.scoped("note"))?;
        Ok(to_proto(&updated))
    }

    async fn delete_note(
        &self,
        caller: Caller,
        request: pb::DeleteNoteRequest,
    ) -> Result<(), DomainError> {
        let pb::DeleteNoteRequest { id, etag } = request;
        let id = convert::id::<NoteId>(&id, "id")?;
        let expected = token::optional_version(&etag, "etag")?;
        self.notes.delete(&caller, id, expected).await?;
        Ok(())
    }
}

crate::serve! {
    impl NoteRpc for NoteApi {
        create_note(pb::CreateNoteRequest) -> pb::Note;
        get_note(pb::GetNoteRequest) -> pb::Note;
        list_notes(pb::ListNotesRequest) -> pb::ListNotesResponse;
        update_note(pb::UpdateNoteRequest) -> pb::Note;
        delete_note(pb::DeleteNoteRequest) -> ();
    }
}
