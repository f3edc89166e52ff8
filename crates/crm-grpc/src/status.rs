//! The one mapping from domain errors to gRPC statuses, with `google.rpc`
//! details a client can act on: `BadRequest` field violations with full
//! paths, `ResourceInfo` naming the record (for ALREADY_EXISTS, the holder's
//! id), and an `ErrorInfo` reason. The match is exhaustive, so a new domain
//! error does not compile until someone decides its code.

use std::collections::HashMap;

use crm_domain::{DomainError, Entity, Precondition};
use crm_proto::v1::ErrorReason;
use tonic::{Code, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every error this service raises.
pub const ERROR_DOMAIN: &str = "crm.v1";

/// The longest status message, in bytes. The message travels as the
/// `grpc-message` header and again inside `grpc-status-details-bin`; some
/// clients (Python's grpcio) refuse headers past 16 KiB, so an error never
/// repeats a caller's input at length.
pub const MAX_MESSAGE_BYTES: usize = 1000;

/// The most `BadRequest` field violations a status lists; `ErrorInfo`
/// metadata `violations` gives the full count.
pub const MAX_VIOLATIONS: usize = 10;

/// The longest field path, description, metadata value or resource text
/// a status repeats, in bytes.
pub const MAX_DETAIL_BYTES: usize = 200;

/// `text` cut to at most `max` bytes at a character boundary, with `…`
/// marking the cut.
fn capped(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// What an RPC body fails with: a domain error, or for a client-streaming
/// RPC the transport failing under the stream (already a status).
#[derive(Debug)]
pub(crate) enum ApiError {
    /// Any failure of the request itself.
    Domain(DomainError),
    /// The caller cancelled or the connection broke mid-stream.
    Transport(Status),
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        ApiError::Domain(error)
    }
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        ApiError::Transport(status)
    }
}

/// The one exit of every RPC: its body's result as a tonic response.
///
/// # Errors
/// The status [`to_status`] maps the domain error to, or the transport's own.
pub(crate) fn respond<T, E>(result: Result<T, E>) -> Result<Response<T>, Status>
where
    ApiError: From<E>,
{
    result
        .map(Response::new)
        .map_err(|error| match ApiError::from(error) {
            ApiError::Domain(error) => to_status(error),
            ApiError::Transport(status) => status,
        })
}

/// Metadata of an `ErrorInfo`, from `(key, value)` pairs.
fn metadata<const N: usize>(pairs: [(&str, String); N]) -> HashMap<String, String> {
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

/// Maps a domain error to a status: its code, its `ErrorInfo` (a reason
/// from [`ErrorReason`], the one table of them) and the details a client
/// can act on.
///
/// Whatever the error, the message and the details stay small (well under
/// 8 KiB together): the message is cut at [`MAX_MESSAGE_BYTES`], at most
/// [`MAX_VIOLATIONS`] violations are listed, and every repeated text is cut
/// at [`MAX_DETAIL_BYTES`].
pub fn to_status(error: DomainError) -> Status {
    let message = capped(error.to_string(), MAX_MESSAGE_BYTES);
    let mut details = ErrorDetails::new();
    let cap = |text: String| capped(text, MAX_DETAIL_BYTES);
    let (code, reason, metadata) = match error {
        DomainError::InvalidArgument(violations) => {
            let total = violations.len();
            let listed: Vec<_> = violations.into_iter().take(MAX_VIOLATIONS).collect();
            let mut fields = listed
                .iter()
                .map(|violation| cap(violation.field.clone()))
                .collect::<Vec<_>>()
                .join(",");
            if total > listed.len() {
                fields.push_str(&format!(",… ({} more)", total - listed.len()));
            }
            for violation in listed {
                details.add_bad_request_violation(cap(violation.field), cap(violation.description));
            }
            (
                Code::InvalidArgument,
                ErrorReason::InvalidArgument,
                metadata([("fields", fields), ("violations", total.to_string())]),
            )
        }
        DomainError::NotFound { entity, id } => {
            details.set_resource_info(
                resource_type(entity),
                id.clone(),
                "",
                "not found in the caller's tenant",
            );
            (
                Code::NotFound,
                ErrorReason::NotFound,
                metadata([
                    ("resource_type", resource_type(entity).to_owned()),
                    ("resource_id", id),
                ]),
            )
        }
        DomainError::MergedAway { contact, into } => {
            details.set_resource_info(
                resource_type(Entity::Contact),
                contact.to_string(),
                "",
                format!("merged into contact {into}; use that id"),
            );
            (
                Code::NotFound,
                ErrorReason::ContactAlreadyMerged,
                metadata([
                    ("resource_type", resource_type(Entity::Contact).to_owned()),
                    ("resource_id", contact.to_string()),
                    ("merged_into_contact_id", into.to_string()),
                ]),
            )
        }
        DomainError::IdentityTaken {
            field,
            kind,
            value,
            holder,
        } => {
            details.set_resource_info(
                resource_type(Entity::Contact),
                holder.to_string(),
                "",
                format!("holds the {kind} {value:?}"),
            );
            (
                Code::AlreadyExists,
                ErrorReason::IdentityAlreadyClaimed,
                metadata([
                    ("holder_contact_id", holder.to_string()),
                    ("identity_kind", kind.to_owned()),
                    ("identity_value", value),
                    ("field", field),
                ]),
            )
        }
        DomainError::AlreadyExists {
            entity,
            field,
            value,
            holder,
        } => {
            details.set_resource_info(
                resource_type(entity),
                holder.clone(),
                "",
                format!("already uses {value:?}"),
            );
            (
                Code::AlreadyExists,
                ErrorReason::AlreadyExists,
                metadata([("holder_id", holder), ("value", value), ("field", field)]),
            )
        }
        DomainError::Stale { entity, id } => {
            details.set_resource_info(
                resource_type(entity),
                id.clone(),
                "",
                "changed since the etag was read",
            );
            (
                Code::Aborted,
                ErrorReason::EtagMismatch,
                metadata([
                    ("resource_type", resource_type(entity).to_owned()),
                    ("resource_id", id),
                ]),
            )
        }
        DomainError::TooLarge { field, limit } => {
            details.add_quota_failure_violation(
                cap(field.clone()),
                format!("the limit is {limit} bytes"),
            );
            (
                Code::ResourceExhausted,
                ErrorReason::TooLarge,
                metadata([("field", field), ("limit_bytes", limit.to_string())]),
            )
        }
        DomainError::LimitReached { what, limit } => {
            details.add_quota_failure_violation(what, format!("the limit is {limit}"));
            (
                Code::ResourceExhausted,
                ErrorReason::SegmentLimitReached,
                metadata([("limit", limit.to_string())]),
            )
        }
        DomainError::TooManyDuplicateLinks { limit } => {
            details.add_quota_failure_violation(
                "duplicate links",
                format!(
                    "more than {limit} links between likely duplicates; mark groups as not duplicates, or list shared domains and addresses in the tenant settings"
                ),
            );
            (
                Code::ResourceExhausted,
                ErrorReason::DuplicateLinksLimitReached,
                metadata([("limit", limit.to_string())]),
            )
        }
        DomainError::FailedPrecondition(cause) => {
            details.add_precondition_failure_violation("STATE", "request", cap(cause.to_string()));
            let (reason, metadata) = precondition(cause);
            (Code::FailedPrecondition, reason, metadata)
        }
        DomainError::Unauthenticated(_) => (
            Code::Unauthenticated,
            ErrorReason::Unauthenticated,
            HashMap::new(),
        ),
        DomainError::Unavailable => {
            details.set_retry_info(Some(std::time::Duration::from_millis(200)));
            (Code::Unavailable, ErrorReason::Unavailable, HashMap::new())
        }
        DomainError::Contention(what) => {
            details.set_retry_info(Some(std::time::Duration::from_millis(50)));
            (
                Code::Aborted,
                ErrorReason::Contention,
                metadata([("on", what.to_owned())]),
            )
        }
        DomainError::Internal(reason) => {
            tracing::error!(%reason, "internal error");
            (Code::Internal, ErrorReason::Internal, HashMap::new())
        }
    };
    let metadata: HashMap<String, String> = metadata
        .into_iter()
        .map(|(key, value)| {
            // The field list may hold MAX_VIOLATIONS paths; other values one.
            let max = if key == "fields" {
                MAX_VIOLATIONS * MAX_DETAIL_BYTES / 2
            } else {
                MAX_DETAIL_BYTES
            };
            (key, capped(value, max))
        })
        .collect();
    if let Some(resource) = details.resource_info().cloned() {
        details.set_resource_info(
            resource.resource_type,
            cap(resource.resource_name),
            resource.owner,
            cap(resource.description),
        );
    }
    details.set_error_info(reason.as_str_name(), ERROR_DOMAIN, metadata);
    Status::with_error_details(code, message, details)
}

/// The reason and metadata of a failed precondition.
fn precondition(cause: Precondition) -> (ErrorReason, HashMap<String, String>) {
    match cause {
        Precondition::TierInUse { contacts } => (
            ErrorReason::TierInUse,
            metadata([("contacts", contacts.to_string())]),
        ),
        Precondition::TierLimit { limit } => (
            ErrorReason::TierLimitReached,
            metadata([("limit", limit.to_string())]),
        ),
        Precondition::CustomFieldLimit { limit } => (
            ErrorReason::CustomFieldLimitReached,
            metadata([("limit", limit.to_string())]),
        ),
        Precondition::CustomFieldHasValues { key } => {
            (ErrorReason::CustomFieldHasValues, metadata([("key", key)]))
        }
        Precondition::TabLimit { limit } => (
            ErrorReason::TabLimitReached,
            metadata([("limit", limit.to_string())]),
        ),
        Precondition::TabNotEmpty { sections } => (
            ErrorReason::TabNotEmpty,
            metadata([("sections", sections.to_string())]),
        ),
        Precondition::SectionLimit { limit } => (
            ErrorReason::SectionLimitReached,
            metadata([("limit", limit.to_string())]),
        ),
        Precondition::SectionNotEmpty { fields } => (
            ErrorReason::SectionNotEmpty,
            metadata([("fields", fields.to_string())]),
        ),
        Precondition::FilterOutdated { field, problem: _ } => (
            ErrorReason::SegmentFilterOutdated,
            metadata([("field", field)]),
        ),
        Precondition::NotAMember {
            contact,
            organization,
        } => (
            ErrorReason::NotAMember,
            metadata([
                ("contact_id", contact.to_string()),
                ("organization_id", organization.to_string()),
            ]),
        ),
    }
}

/// An UNAUTHENTICATED status with the given message, for failures found
/// before the domain is asked (no or unreadable credentials).
pub(crate) fn unauthenticated(message: &str) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(
        ErrorReason::Unauthenticated.as_str_name(),
        ERROR_DOMAIN,
        HashMap::new(),
    );
    Status::with_error_details(Code::Unauthenticated, message, details)
}

pub(crate) fn resource_type(entity: Entity) -> &'static str {
    match entity {
        Entity::Contact => "crm.v1.Contact",
        Entity::Tenant => "crm.v1.TenantSettings",
        Entity::Identity => "crm.v1.Identity",
        Entity::Tier => "crm.v1.Tier",
        Entity::CustomField => "crm.v1.CustomField",
        Entity::Tab => "crm.v1.Tab",
        Entity::Section => "crm.v1.Section",
        Entity::Organization => "crm.v1.Organization",
        Entity::Note => "crm.v1.Note",
        Entity::Conversation => "crm.v1.Conversation",
        Entity::Attachment => "crm.v1.Attachment",
        Entity::Segment => "crm.v1.Segment",
        Entity::ImportJob => "crm.v1.ImportJob",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crm_domain::{ContactId, FieldViolation, OrganizationId};

    use super::*;

    /// The code and reason each error must map to. The matches have no `_`
    /// arm: a new variant or precondition does not compile until it is
    /// listed here, and [`samples`] must then hold one of it.
    fn expected(error: &DomainError) -> (Code, ErrorReason) {
        match error {
            DomainError::InvalidArgument(_) => {
                (Code::InvalidArgument, ErrorReason::InvalidArgument)
            }
            DomainError::NotFound { .. } => (Code::NotFound, ErrorReason::NotFound),
            DomainError::MergedAway { .. } => (Code::NotFound, ErrorReason::ContactAlreadyMerged),
            DomainError::IdentityTaken { .. } => {
                (Code::AlreadyExists, ErrorReason::IdentityAlreadyClaimed)
            }
            DomainError::AlreadyExists { .. } => (Code::AlreadyExists, ErrorReason::AlreadyExists),
            DomainError::Stale { .. } => (Code::Aborted, ErrorReason::EtagMismatch),
            DomainError::TooLarge { .. } => (Code::ResourceExhausted, ErrorReason::TooLarge),
            DomainError::LimitReached { .. } => {
                (Code::ResourceExhausted, ErrorReason::SegmentLimitReached)
            }
            DomainError::TooManyDuplicateLinks { .. } => (
                Code::ResourceExhausted,
                ErrorReason::DuplicateLinksLimitReached,
            ),
            DomainError::Unauthenticated(_) => {
                (Code::Unauthenticated, ErrorReason::Unauthenticated)
            }
            DomainError::Unavailable => (Code::Unavailable, ErrorReason::Unavailable),
            DomainError::Contention(_) => (Code::Aborted, ErrorReason::Contention),
            DomainError::Internal(_) => (Code::Internal, ErrorReason::Internal),
            DomainError::FailedPrecondition(cause) => (
                Code::FailedPrecondition,
                match cause {
                    Precondition::TierInUse { .. } => ErrorReason::TierInUse,
                    Precondition::TierLimit { .. } => ErrorReason::TierLimitReached,
                    Precondition::CustomFieldLimit { .. } => ErrorReason::CustomFieldLimitReached,
                    Precondition::CustomFieldHasValues { .. } => ErrorReason::CustomFieldHasValues,
                    Precondition::TabLimit { .. } => ErrorReason::TabLimitReached,
                    Precondition::TabNotEmpty { .. } => ErrorReason::TabNotEmpty,
                    Precondition::SectionLimit { .. } => ErrorReason::SectionLimitReached,
                    Precondition::SectionNotEmpty { .. } => ErrorReason::SectionNotEmpty,
                    Precondition::NotAMember { .. } => ErrorReason::NotAMember,
                    Precondition::FilterOutdated { .. } => ErrorReason::SegmentFilterOutdated,
                },
            ),
        }
    }

    fn survivor() -> ContactId {
        ContactId::from_uuid(uuid::Uuid::from_u128(42))
    }

    /// One error of every variant and every precondition.
    fn samples(holder: ContactId) -> Vec<DomainError> {
        let organization = OrganizationId::from_uuid(uuid::Uuid::now_v7());
        let preconditions = [
            Precondition::TierInUse { contacts: 3 },
            Precondition::TierLimit { limit: 50 },
            Precondition::CustomFieldLimit { limit: 200 },
            Precondition::CustomFieldHasValues { key: "plan".into() },
            Precondition::TabLimit { limit: 20 },
            Precondition::TabNotEmpty { sections: 2 },
            Precondition::SectionLimit { limit: 20 },
            Precondition::SectionNotEmpty { fields: 4 },
            Precondition::NotAMember {
                contact: holder,
                organization,
            },
            Precondition::FilterOutdated {
                field: "custom_fields.plan".into(),
                problem: "gone".into(),
            },
        ];
        let mut samples = vec![
            DomainError::InvalidArgument(vec![FieldViolation::new(
                "contact.emails[1].address",
                "bad",
            )]),
            DomainError::NotFound {
                entity: Entity::Contact,
                id: "x".into(),
            },
            DomainError::MergedAway {
                contact: holder,
                into: survivor(),
            },
            DomainError::IdentityTaken {
                field: "contact.emails[0].address".into(),
                kind: "email",
                value: "a@x.com".into(),
                holder,
            },
            DomainError::AlreadyExists {
                entity: Entity::Tier,
                field: "tier.name".into(),
                value: "gold".into(),
                holder: holder.to_string(),
            },
            DomainError::Stale {
                entity: Entity::Contact,
                id: "x".into(),
            },
            DomainError::TooLarge {
                field: "chunk".into(),
                limit: 10,
            },
            DomainError::LimitReached {
                what: "segments per owner",
                limit: 100,
            },
            DomainError::TooManyDuplicateLinks { limit: 250_000 },
            DomainError::Unauthenticated("no key"),
            DomainError::Unavailable,
            DomainError::Contention("contact"),
            DomainError::Internal("boom".into()),
        ];
        samples.extend(
            preconditions
                .into_iter()
                .map(DomainError::FailedPrecondition),
        );
        samples
    }

    #[test]
    fn every_error_has_its_code_and_a_reason_from_the_table() {
        let holder = ContactId::from_uuid(uuid::Uuid::now_v7());
        let samples = samples(holder);
        let mut reasons = std::collections::HashSet::new();
        for error in samples {
            let (code, reason) = expected(&error);
            let status = to_status(error.clone());
            assert_eq!(status.code(), code, "{error:?}");
            assert_eq!(status.message(), error.to_string());
            let info = status.get_error_details().error_info().cloned().unwrap();
            assert_eq!(info.reason, reason.as_str_name(), "{error:?}");
            assert_eq!(info.domain, ERROR_DOMAIN);
            let parsed = ErrorReason::from_str_name(&info.reason).unwrap();
            assert_ne!(parsed, ErrorReason::Unspecified);
            reasons.insert(parsed);
        }
        // Every value of the table but the zero one is raised by some error.
        let table = (1..)
            .map_while(|value| ErrorReason::try_from(value).ok())
            .count();
        assert_eq!(reasons.len(), table);
    }

    #[test]
    fn no_error_repeats_its_input_at_length() {
        let long = |byte: char, len: usize| byte.to_string().repeat(len);
        let holder = ContactId::from_uuid(uuid::Uuid::now_v7());
        let mut huge = vec![
            DomainError::InvalidArgument(
                (0..10_000)
                    .map(|index| {
                        FieldViolation::new(
                            format!("tier_ids[{index}]{}", long('x', 1_000)),
                            format!("no tier {}", long('é', 5_000)),
                        )
                    })
                    .collect(),
            ),
            DomainError::NotFound {
                entity: Entity::Contact,
                id: long('n', 100_000),
            },
            DomainError::IdentityTaken {
                field: long('f', 100_000),
                kind: "email",
                value: long('v', 100_000),
                holder,
            },
            DomainError::AlreadyExists {
                entity: Entity::Tier,
                field: long('f', 100_000),
                value: long('v', 100_000),
                holder: long('h', 100_000),
            },
            DomainError::Stale {
                entity: Entity::Note,
                id: long('s', 100_000),
            },
            DomainError::TooLarge {
                field: long('t', 100_000),
                limit: 1,
            },
            DomainError::Internal(long('i', 100_000)),
            DomainError::FailedPrecondition(Precondition::CustomFieldHasValues {
                key: long('k', 100_000),
            }),
        ];
        huge.extend(samples(holder));
        for error in huge {
            let status = to_status(error.clone());
            let size = status.message().len() + status.details().len();
            assert!(size < 8 * 1024, "{size} bytes for {:?}", status.code());
            assert!(status.message().len() <= MAX_MESSAGE_BYTES);
            let details = status.get_error_details();
            assert!(details.error_info().is_some(), "still carries its reason");
            if let DomainError::InvalidArgument(violations) = &error {
                let listed = details.bad_request().map(|b| b.field_violations.len());
                assert_eq!(listed, Some(violations.len().min(MAX_VIOLATIONS)));
                let info = details.error_info().cloned().unwrap();
                assert_eq!(info.metadata["violations"], violations.len().to_string());
            }
        }
    }

    #[test]
    fn reasons_clients_depend_on_keep_their_names() {
        for (reason, name) in [
            (
                ErrorReason::IdentityAlreadyClaimed,
                "IDENTITY_ALREADY_CLAIMED",
            ),
            (ErrorReason::AlreadyExists, "ALREADY_EXISTS"),
            (ErrorReason::EtagMismatch, "ETAG_MISMATCH"),
            (ErrorReason::TooLarge, "TOO_LARGE"),
            (ErrorReason::Contention, "CONTENTION"),
        ] {
            assert_eq!(reason.as_str_name(), name);
        }
    }

    #[test]
    fn details_name_the_fields_and_the_holder() {
        let holder = ContactId::from_uuid(uuid::Uuid::now_v7());
        for error in samples(holder) {
            let details = to_status(error.clone()).get_error_details();
            match error {
                DomainError::InvalidArgument(_) => {
                    let violations = details
                        .bad_request()
                        .map(|b| b.field_violations.clone())
                        .unwrap_or_default();
                    assert_eq!(violations[0].field, "contact.emails[1].address");
                }
                DomainError::IdentityTaken { .. } => assert_eq!(
                    details.resource_info().map(|r| r.resource_name.clone()),
                    Some(holder.to_string())
                ),
                DomainError::MergedAway { contact, into } => {
                    let info = details.error_info().cloned().unwrap();
                    assert_eq!(
                        info.metadata.get("merged_into_contact_id"),
                        Some(&into.to_string())
                    );
                    assert_eq!(
                        details.resource_info().map(|r| r.resource_name.clone()),
                        Some(contact.to_string())
                    );
                }
                DomainError::FailedPrecondition(cause) => assert_eq!(
                    details
                        .precondition_failure()
                        .map(|p| p.violations[0].description.clone()),
                    Some(cause.to_string())
                ),
                _ => {}
            }
        }
    }
}
