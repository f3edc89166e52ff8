//! Note use cases: writing, changing, pinning, deleting and listing notes on a
//! contact or an organization.

use crate::kernel::RecordRef;
use crate::notes::validate;
use crate::notes::{Note, NoteCursor, NoteFields, NoteFormat};
use std::sync::Arc;

use crate::kernel::NoteId;
use crate::kernel::Page;
use crate::kernel::{Clock, IdGenerator};
use crate::kernel::{DomainError, Entity};
use crate::notes::NoteRepository;
use crate::tenancy::Caller;

/// Changes to a note; `None` leaves a field as it is. The author stays.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NotePatch {
    /// New text.
    pub body: Option<String>,
    /// New format.
    pub format: Option<NoteFormat>,
    /// New pinned flag.
    pub pinned: Option<bool>,
}

/// Note use cases.
#[derive(Clone)]
pub struct NoteService {
    notes: Arc<dyn NoteRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for NoteService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteService").finish_non_exhaustive()
    }
}

impl NoteService {
    /// Wires the use cases to their ports.
    pub fn new(
        notes: Arc<dyn NoteRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { notes, clock, ids }
    }

    /// Writes a note on a record.
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound` when the record does not exist;
    /// `MergedAway` for a merged-away contact; `Unavailable`; `Internal`.
    pub async fn create(
        &self,
        caller: &Caller,
        owner: RecordRef,
        fields: NoteFields,
    ) -> Result<Note, DomainError> {
        let tenant = caller.tenant();
        let fields = validate(fields)?;
        owner.require(self.notes.locate(tenant.id, owner).await?)?;
        let now = self.clock.now();
        let note = Note {
            id: NoteId::from_uuid(self.ids.new_id()),
            tenant_id: tenant.id,
            owner,
            fields,
            version: 1,
            create_time: now,
            update_time: now,
        };
        self.notes.create(&note).await
    }

    /// Reads one note.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn get(&self, caller: &Caller, id: NoteId) -> Result<Note, DomainError> {
        let tenant = caller.tenant();
        self.notes
            .get(tenant.id, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// A record's notes, pinned first, then newest first, after a cursor.
    ///
    /// # Errors
    /// `NotFound` for an unknown record (not an empty list); `MergedAway`
    /// for a merged-away contact; `Unavailable`; `Internal`.
    pub async fn list(
        &self,
        caller: &Caller,
        owner: RecordRef,
        after: Option<NoteCursor>,
        page_size: u32,
    ) -> Result<Page<Note, NoteCursor>, DomainError> {
        let tenant = caller.tenant();
        owner.require(self.notes.locate(tenant.id, owner).await?)?;
        let items = self
            .notes
            .list(tenant.id, owner, after, crate::kernel::overfetch(page_size))
            .await?;
        Ok(Page::from_overfetch(items, page_size, |note| NoteCursor {
            pinned: note.fields.pinned,
            id: note.id,
        }))
    }

    /// Applies a patch at `expected_version` (if given).
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `Unavailable`; `Internal`.
    pub async fn update(
        &self,
        caller: &Caller,
        id: NoteId,
        patch: NotePatch,
        expected_version: Option<i64>,
    ) -> Result<Note, DomainError> {
        let current = self.get(caller, id).await?;
        let expected = expected_version.unwrap_or(current.version);
        if expected != current.version {
            return Err(DomainError::Stale {
                entity: Entity::Note,
                id: id.to_string(),
            });
        }
        let mut fields = current.fields.clone();
        if let Some(body) = patch.body {
            fields.body = body;
        }
        if let Some(format) = patch.format {
            fields.format = format;
        }
        if let Some(pinned) = patch.pinned {
            fields.pinned = pinned;
        }
        let updated = Note {
            fields: validate(fields)?,
            update_time: self.clock.now(),
            ..current
        };
        self.notes.update(&updated, expected).await
    }

    /// Deletes a note.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    pub async fn delete(
        &self,
        caller: &Caller,
        id: NoteId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError> {
        let tenant = caller.tenant();
        self.notes.delete(tenant.id, id, expected_version).await
    }
}

fn not_found(id: NoteId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::Note,
        id: id.to_string(),
    }
}
