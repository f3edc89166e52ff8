//! Protobuf <-> domain conversion. Messages are destructured exhaustively,
//! so a field added to the proto breaks the build here until someone decides
//! what it means.

pub(crate) mod contact;
pub(crate) mod custom_field;
pub(crate) mod mask;
pub(crate) mod organization;
pub(crate) mod tier;

use crm_domain::DomainError;
use time::OffsetDateTime;

/// A `google.protobuf.Timestamp` for an instant.
pub(crate) fn timestamp(instant: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: instant.unix_timestamp(),
        nanos: i32::try_from(instant.nanosecond()).unwrap_or_default(),
    }
}

/// A contact id from a request field.
pub(crate) fn contact_id(text: &str, field: &str) -> Result<crm_domain::ContactId, DomainError> {
    if text.is_empty() {
        return Err(DomainError::invalid(field, "is required"));
    }
    crm_domain::ContactId::parse(text)
        .ok_or_else(|| DomainError::invalid(field, "is not a contact id (a UUID)"))
}

/// The version an optional etag names.
pub(crate) fn etag(text: &str, field: &str) -> Result<Option<i64>, DomainError> {
    if text.is_empty() {
        Ok(None)
    } else {
        crm_domain::kernel::version_from_etag(text, field).map(Some)
    }
}
