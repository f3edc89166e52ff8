//! Notes: freeform context on a contact or an organization ("prefers
//! first-name basis", "always escalate"), in plain text or markdown, with
//! an author and a pinned flag. Listed pinned first, then newest first.

use crate::kernel::RecordRef;

use time::OffsetDateTime;

use crate::kernel::{DomainError, FieldViolation};
use crate::kernel::{NoteId, TenantId};

/// Largest note body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Longest author, in characters.
pub const MAX_AUTHOR_CHARS: usize = 200;

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
    pub owner: RecordRef,
    /// What the caller wrote.
    pub fields: NoteFields,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// When it was written.
    pub create_time: OffsetDateTime,
    /// When it last changed.
    pub update_time: OffsetDateTime,
}

impl Note {}

/// Where a page of notes continues: after this note in list order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoteCursor {
    /// Whether the last note listed was pinned.
    pub pinned: bool,
    /// Its id.
    pub id: NoteId,
}

/// Validates what a caller wrote. Violations name paths inside the note
/// (`author`, `body`); the adapter scopes them.
///
/// # Errors
/// `InvalidArgument` listing every bad field.
pub fn validate(fields: NoteFields) -> Result<NoteFields, DomainError> {
    let mut violations = Vec::new();
    let author = fields.author.trim().to_owned();
    if author.is_empty()
        || author.chars().count() > MAX_AUTHOR_CHARS
        || author.chars().any(char::is_control)
    {
        violations.push(FieldViolation::new(
            "author",
            format!("must be 1 to {MAX_AUTHOR_CHARS} characters without control characters"),
        ));
    }
    if fields.body.trim().is_empty() {
        violations.push(FieldViolation::new("body", "must not be empty"));
    } else if fields.body.len() > MAX_BODY_BYTES {
        violations.push(FieldViolation::new(
            "body",
            format!("must be at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    if violations.is_empty() {
        Ok(NoteFields { author, ..fields })
    } else {
        Err(DomainError::InvalidArgument(violations))
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
            validate(fields(" agent-7 ", "Prefers first-name basis".into()))
                .unwrap()
                .author,
            "agent-7"
        );
        let DomainError::InvalidArgument(violations) =
            validate(fields("", " ".into())).unwrap_err()
        else {
            panic!("expected invalid argument");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(paths, ["author", "body"]);
        assert!(validate(fields("a", "x".repeat(MAX_BODY_BYTES))).is_ok());
        assert!(validate(fields("a", "x".repeat(MAX_BODY_BYTES + 1))).is_err());
        assert_eq!(
            NoteFormat::parse(NoteFormat::Markdown.as_str()),
            Some(NoteFormat::Markdown)
        );
    }
}
