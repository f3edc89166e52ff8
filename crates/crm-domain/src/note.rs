//! Notes: freeform context on a contact or an organization ("prefers
//! first-name basis", "always escalate"), in plain text or markdown, with
//! an author and a pinned flag. Listed pinned first, then newest first.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::error::{DomainError, Entity, FieldViolation};
use crate::ids::{ContactId, NoteId, OrganizationId, TenantId};
use crate::page::Page;
use crate::ports::{Clock, IdGenerator, NoteRepository};
use crate::tenant::Tenant;

/// Largest note body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest author, in characters.
pub const MAX_AUTHOR_CHARS: usize = 200;

/// The record a note is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoteOwner {
    /// A contact.
    Contact(ContactId),
    /// An organization.
    Organization(OrganizationId),
}

impl NoteOwner {
    /// The error for a record that does not exist.
    pub fn not_found(self) -> DomainError {
        match self {
            NoteOwner::Contact(id) => DomainError::contact_not_found(id),
            NoteOwner::Organization(id) => DomainError::NotFound {
                entity: Entity::Organization,
                id: id.to_string(),
            },
        }
    }
}

/// How a note's body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NoteFormat {
    /// Plain text.
    #[default]
    PlainText,
    /// Markdown, rendered by the client.
    Markdown,
}

impl NoteFormat {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            NoteFormat::PlainText => "plain_text",
            NoteFormat::Markdown => "markdown",
        }
    }

    /// Inverse of [`NoteFormat::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [NoteFormat::PlainText, NoteFormat::Markdown]
            .into_iter()
            .find(|format| format.as_str() == text)
    }
}

/// What a caller writes on a note.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NoteFields {
    /// Who wrote it (an agent id or name).
    pub author: String,
    /// The text.
    pub body: String,
    /// How the text is written.
    pub format: NoteFormat,
    /// Whether it is listed before the others.
    pub pinned: bool,
}

/// A stored note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Its id (UUIDv7: newer notes have greater ids).
    pub id: NoteId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The record it is on.
    pub owner: NoteOwner,
    /// What the caller wrote.
    pub fields: NoteFields,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// When it was written.
    pub create_time: OffsetDateTime,
    /// When it last changed.
    pub update_time: OffsetDateTime,
}

impl Note {
    /// The weak etag of this version.
    pub fn etag(&self) -> String {
        crate::contact::etag_for(self.version)
    }
}

/// Where a page of notes continues: after this note in list order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoteCursor {
    /// Whether the last note listed was pinned.
    pub pinned: bool,
    /// Its id.
    pub id: NoteId,
}

/// Validates what a caller wrote (`prefix` is the request path of the note).
///
/// # Errors
/// `InvalidArgument` listing every bad field.
pub fn validate(fields: NoteFields, prefix: &str) -> Result<NoteFields, DomainError> {
    let mut violations = Vec::new();
    let author = fields.author.trim().to_owned();
    if author.is_empty()
        || author.chars().count() > MAX_AUTHOR_CHARS
        || author.chars().any(char::is_control)
    {
        violations.push(FieldViolation::new(
            format!("{prefix}.author"),
            format!("must be 1 to {MAX_AUTHOR_CHARS} characters without control characters"),
        ));
    }
    if fields.body.trim().is_empty() {
        violations.push(FieldViolation::new(
            format!("{prefix}.body"),
            "must not be empty",
        ));
    } else if fields.body.len() > MAX_BODY_BYTES {
        violations.push(FieldViolation::new(
            format!("{prefix}.body"),
            format!("must be at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    if violations.is_empty() {
        Ok(NoteFields { author, ..fields })
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

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

fn not_found(id: NoteId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::Note,
        id: id.to_string(),
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
    /// `Unavailable`; `Internal`.
    pub async fn create(
        &self,
        tenant: &Tenant,
        owner: NoteOwner,
        fields: NoteFields,
    ) -> Result<Note, DomainError> {
        let fields = validate(fields, "note")?;
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
    pub async fn get(&self, tenant: &Tenant, id: NoteId) -> Result<Note, DomainError> {
        self.notes
            .get(tenant.id, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// A record's notes, pinned first, then newest first, after a cursor.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn list(
        &self,
        tenant: &Tenant,
        owner: NoteOwner,
        after: Option<NoteCursor>,
        page_size: u32,
    ) -> Result<Page<Note, NoteCursor>, DomainError> {
        let mut items = self
            .notes
            .list(tenant.id, owner, after, page_size.saturating_add(1))
            .await?;
        let next = if items.len() > page_size as usize {
            items.truncate(page_size as usize);
            items.last().map(|note| NoteCursor {
                pinned: note.fields.pinned,
                id: note.id,
            })
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// Applies a patch at `expected_version` (if given).
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `Unavailable`; `Internal`.
    pub async fn update(
        &self,
        tenant: &Tenant,
        id: NoteId,
        patch: NotePatch,
        expected_version: Option<i64>,
    ) -> Result<Note, DomainError> {
        let current = self.get(tenant, id).await?;
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
            fields: validate(fields, "note")?,
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
        tenant: &Tenant,
        id: NoteId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError> {
        self.notes.delete(tenant.id, id, expected_version).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn notes_need_an_author_and_a_bounded_body() {
        let fields = |author: &str, body: String| NoteFields {
            author: author.into(),
            body,
            ..NoteFields::default()
        };
        assert_eq!(
            validate(
                fields(" agent-7 ", "Prefers first-name basis".into()),
                "note"
            )
            .unwrap()
            .author,
            "agent-7"
        );
        let DomainError::InvalidArgument(violations) =
            validate(fields("", " ".into()), "note").unwrap_err()
        else {
            panic!("expected invalid argument");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(paths, ["note.author", "note.body"]);
        assert!(validate(fields("a", "x".repeat(MAX_BODY_BYTES)), "note").is_ok());
        assert!(validate(fields("a", "x".repeat(MAX_BODY_BYTES + 1)), "note").is_err());
        assert_eq!(
            NoteFormat::parse(NoteFormat::Markdown.as_str()),
            Some(NoteFormat::Markdown)
        );
    }
}
