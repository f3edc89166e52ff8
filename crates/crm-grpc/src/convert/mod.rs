//! Protobuf <-> domain conversion. Messages are destructured exhaustively,
//! so a field added to the proto breaks the build here until someone decides
//! what it means.

pub(crate) mod attachment;
pub(crate) mod contact;
pub(crate) mod conversation;
pub(crate) mod custom_field;
pub(crate) mod id;
pub(crate) mod mask;
pub(crate) mod merge;
pub(crate) mod note;
pub(crate) mod organization;
pub(crate) mod routing;
pub(crate) mod tenancy;
pub(crate) mod tier;

use crm_domain::{DomainError, FieldViolation};

pub(crate) use id::{id, ids, optional_id};
use time::OffsetDateTime;

/// A `google.protobuf.Timestamp` for an instant.
pub(crate) fn timestamp(instant: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: instant.unix_timestamp(),
        nanos: i32::try_from(instant.nanosecond()).unwrap_or_default(),
    }
}

/// The value of a conversion that may fail with field violations, or `None`
/// with its violations added to `violations`, so a request reports every bad
/// field at once.
pub(crate) fn gather<T>(
    result: Result<T, DomainError>,
    violations: &mut Vec<FieldViolation>,
) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(DomainError::InvalidArgument(found)) => {
            violations.extend(found);
            None
        }
        Err(other) => {
            violations.push(FieldViolation::new("", other.to_string()));
            None
        }
    }
}

/// A required message field.
///
/// # Errors
/// `InvalidArgument` on `field` when it is unset.
pub(crate) fn required<T>(value: Option<T>, field: &str) -> Result<T, DomainError> {
    value.ok_or_else(|| DomainError::invalid(field, "is required"))
}
