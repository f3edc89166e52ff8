//! A segment and the rules of its fields.

use time::OffsetDateTime;

use crate::contacts::Filter;
use crate::kernel::{DomainError, SegmentId, TenantId};

/// Most segments one owner may keep.
pub const MAX_SEGMENTS_PER_OWNER: usize = 100;

/// Longest segment name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Who sees a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Its owner only.
    #[default]
    Private,
    /// Everyone in the tenant (only the owner changes or deletes it).
    Shared,
}

impl Visibility {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Shared => "shared",
        }
    }

    /// Inverse of [`Visibility::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "private" => Some(Visibility::Private),
            "shared" => Some(Visibility::Shared),
            _ => None,
        }
    }
}

/// What a caller writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFields {
    /// Shown name.
    pub display_name: String,
    /// The AIP-160 contact filter, as `ListContacts` takes it; empty
    /// selects every contact.
    pub filter: String,
    /// Who sees it.
    pub visibility: Visibility,
}

/// A stored segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Its id.
    pub id: SegmentId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Who created it (`Caller::owner`).
    pub owner: String,
    /// What the caller wrote.
    pub fields: SegmentFields,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// When it was created.
    pub create_time: OffsetDateTime,
    /// When it last changed.
    pub update_time: OffsetDateTime,
}

impl Segment {
    /// Whether `viewer` (a `Caller::owner`) may see it.
    pub fn visible_to(&self, viewer: &str) -> bool {
        self.owner == viewer || self.fields.visibility == Visibility::Shared
    }
}

/// Checks a segment's fields (name trimmed) and parses its filter.
///
/// # Errors
/// `InvalidArgument` on `display_name` or `filter` (paths relative to the
/// segment).
pub fn validate(fields: SegmentFields) -> Result<(SegmentFields, Option<Filter>), DomainError> {
    let display_name = fields.display_name.trim().to_owned();
    let mut problems = Vec::new();
    if display_name.is_empty() || display_name.chars().count() > MAX_NAME_CHARS {
        problems.push(crate::kernel::FieldViolation::new(
            "display_name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    let filter = match Filter::parse(&fields.filter) {
        Ok(filter) => filter,
        Err(DomainError::InvalidArgument(found)) => {
            problems.extend(found);
            None
        }
        Err(other) => return Err(other),
    };
    if !problems.is_empty() {
        return Err(DomainError::InvalidArgument(problems));
    }
    Ok((
        SegmentFields {
            display_name,
            ..fields
        },
        filter,
    ))
}
