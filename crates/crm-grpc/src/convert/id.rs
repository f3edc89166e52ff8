//! The one parser of ids in requests. Every domain id newtype is a UUID;
//! [`Id`] names each for messages, and [`id`], [`optional_id`] and [`ids`]
//! read a required, an optional and a repeated id field with one error shape:
//! `InvalidArgument` on the field, "is required" or "is not a tier id (a UUID)".

use crm_domain::kernel::{ImportJobId, SegmentId};
use crm_domain::{
    AttachmentId, ContactId, ConversationId, DomainError, FieldId, FieldViolation, MergeId, NoteId,
    OrganizationId, SectionId, TabId, TierId,
};
use uuid::Uuid;

/// A domain id that requests carry as text.
pub(crate) trait Id: Sized {
    /// What the id names, with its article, as messages say it: "a tier id".
    const WHAT: &'static str;

    /// Wraps a UUID.
    fn from_uuid(uuid: Uuid) -> Self;
}

macro_rules! ids {
    ($($type:ident => $what:literal,)*) => {
        $(
            impl Id for $type {
                const WHAT: &'static str = $what;

                fn from_uuid(uuid: Uuid) -> Self {
                    $type::from_uuid(uuid)
                }
            }
        )*
    };
}

ids! {
    ContactId => "a contact id",
    TierId => "a tier id",
    FieldId => "a custom field id",
    TabId => "a tab id",
    SectionId => "a section id",
    OrganizationId => "an organization id",
    NoteId => "a note id",
    ConversationId => "a conversation id",
    AttachmentId => "an attachment id",
    MergeId => "a merge id",
    SegmentId => "a segment id",
    ImportJobId => "an import job id",
}

/// The violation of `field` when `text` is not a `T`; `None` when it is one.
fn check<T: Id>(text: &str, field: &str) -> Result<T, FieldViolation> {
    if text.is_empty() {
        return Err(FieldViolation::new(field, "is required"));
    }
    Uuid::try_parse(text)
        .map(T::from_uuid)
        .map_err(|_| FieldViolation::new(field, format!("is not {} (a UUID)", T::WHAT)))
}

/// A required id field.
///
/// # Errors
/// `InvalidArgument` on `field` when it is empty or not a UUID.
pub(crate) fn id<T: Id>(text: &str, field: &str) -> Result<T, DomainError> {
    check(text, field).map_err(|violation| DomainError::InvalidArgument(vec![violation]))
}

/// An optional id field: empty means none.
///
/// # Errors
/// `InvalidArgument` on `field` when it is set and not a UUID.
pub(crate) fn optional_id<T: Id>(text: &str, field: &str) -> Result<Option<T>, DomainError> {
    if text.is_empty() {
        Ok(None)
    } else {
        id(text, field).map(Some)
    }
}

/// A repeated id field of at most `max` entries; every bad entry is named
/// as `field[index]`. The count is checked first, before any entry is read.
///
/// # Errors
/// `InvalidArgument` on `field` for more than `max` entries, else listing
/// each empty or malformed entry.
pub(crate) fn ids<T: Id>(texts: &[String], field: &str, max: usize) -> Result<Vec<T>, DomainError> {
    DomainError::check_count(field, texts.len(), max, "ids")?;
    let mut parsed = Vec::with_capacity(texts.len());
    let mut violations = Vec::new();
    for (index, text) in texts.iter().enumerate() {
        match check(text, &format!("{field}[{index}]")) {
            Ok(id) => parsed.push(id),
            Err(violation) => violations.push(violation),
        }
    }
    if violations.is_empty() {
        Ok(parsed)
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_shape_for_every_id() {
        let uuid = Uuid::now_v7();
        assert_eq!(
            id::<TierId>(&uuid.to_string(), "id").unwrap(),
            TierId::from_uuid(uuid)
        );
        assert_eq!(
            id::<NoteId>("", "note.id"),
            Err(DomainError::invalid("note.id", "is required"))
        );
        assert_eq!(
            id::<OrganizationId>("x", "organization_id"),
            Err(DomainError::invalid(
                "organization_id",
                "is not an organization id (a UUID)"
            ))
        );
        assert_eq!(optional_id::<TabId>("", "tab_id"), Ok(None));
        let error = ids::<ContactId>(
            &[uuid.to_string(), "x".into(), String::new()],
            "contact_ids",
            3,
        )
        .unwrap_err();
        assert_eq!(
            error,
            DomainError::InvalidArgument(vec![
                FieldViolation::new("contact_ids[1]", "is not a contact id (a UUID)"),
                FieldViolation::new("contact_ids[2]", "is required"),
            ])
        );
        // Over the limit: one violation on the list, no entry read.
        let many = vec!["x".to_owned(); 10_000];
        assert_eq!(
            ids::<ContactId>(&many, "contact_ids", 50),
            Err(DomainError::invalid(
                "contact_ids",
                "holds 10000 ids; at most 50 are allowed"
            ))
        );
    }
}
