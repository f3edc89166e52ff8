//! The one mapping from domain errors to gRPC statuses, with `google.rpc`
//! details a client can act on: `BadRequest` field violations with full
//! paths, `ResourceInfo` naming the record (for ALREADY_EXISTS, the holder's
//! id), and an `ErrorInfo` reason. The match is exhaustive, so a new domain
//! error does not compile until someone decides its code.

use std::collections::HashMap;

use crm_domain::DomainError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every error this service raises.
pub const ERROR_DOMAIN: &str = "crm.v1";

/// Maps a domain error to a status.
pub fn to_status(error: DomainError) -> Status {
    let message = error.to_string();
    let mut details = ErrorDetails::new();
    let code = match error {
        DomainError::InvalidArgument(violations) => {
            for violation in violations {
                details.add_bad_request_violation(violation.field, violation.description);
            }
            Code::InvalidArgument
        }
        DomainError::NotFound { entity, id } => {
            details.set_resource_info(
                resource_type(entity),
                id,
                "",
                "not found in the caller's tenant",
            );
            Code::NotFound
        }
        DomainError::IdentityTaken {
            field,
            kind,
            value,
            holder,
        } => {
            details.set_resource_info(
                "crm.v1.Contact",
                holder.to_string(),
                "",
                format!("holds the {kind} {value:?}"),
            );
            details.set_error_info(
                "IDENTITY_ALREADY_CLAIMED",
                ERROR_DOMAIN,
                HashMap::from([
                    ("holder_contact_id".to_owned(), holder.to_string()),
                    ("identity_kind".to_owned(), kind.to_owned()),
                    ("identity_value".to_owned(), value),
                    ("field".to_owned(), field),
                ]),
            );
            Code::AlreadyExists
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
            details.set_error_info(
                "ALREADY_EXISTS",
                ERROR_DOMAIN,
                HashMap::from([
                    ("holder_id".to_owned(), holder),
                    ("value".to_owned(), value),
                    ("field".to_owned(), field),
                ]),
            );
            Code::AlreadyExists
        }
        DomainError::Stale { entity, id } => {
            details.set_resource_info(
                resource_type(entity),
                id,
                "",
                "changed since the etag was read",
            );
            details.set_error_info("ETAG_MISMATCH", ERROR_DOMAIN, HashMap::new());
            Code::Aborted
        }
        DomainError::TooLarge { field, limit } => {
            details
                .add_quota_failure_violation(field.clone(), format!("the limit is {limit} bytes"));
            details.set_error_info(
                "TOO_LARGE",
                ERROR_DOMAIN,
                HashMap::from([
                    ("field".to_owned(), field),
                    ("limit_bytes".to_owned(), limit.to_string()),
                ]),
            );
            Code::ResourceExhausted
        }
        DomainError::FailedPrecondition(reason) => {
            details.add_precondition_failure_violation("STATE", "request", reason);
            Code::FailedPrecondition
        }
        DomainError::Unauthenticated(_) => Code::Unauthenticated,
        DomainError::Unavailable => {
            details.set_retry_info(Some(std::time::Duration::from_millis(200)));
            Code::Unavailable
        }
        DomainError::Contention(what) => {
            details.set_error_info(
                "CONTENTION",
                ERROR_DOMAIN,
                HashMap::from([("on".to_owned(), what.to_owned())]),
            );
            details.set_retry_info(Some(std::time::Duration::from_millis(50)));
            Code::Aborted
        }
        DomainError::Internal(reason) => {
            tracing::error!(%reason, "internal error");
            Code::Internal
        }
    };
    Status::with_error_details(code, message, details)
}

fn resource_type(entity: crm_domain::Entity) -> &'static str {
    match entity {
        crm_domain::Entity::Contact => "crm.v1.Contact",
        crm_domain::Entity::Tenant => "crm.v1.TenantSettings",
        crm_domain::Entity::Identity => "crm.v1.Identity",
        crm_domain::Entity::Tier => "crm.v1.Tier",
        crm_domain::Entity::CustomField => "crm.v1.CustomField",
        crm_domain::Entity::Tab => "crm.v1.Tab",
        crm_domain::Entity::Section => "crm.v1.Section",
        crm_domain::Entity::Organization => "crm.v1.Organization",
        crm_domain::Entity::Note => "crm.v1.Note",
        crm_domain::Entity::Conversation => "crm.v1.Conversation",
        crm_domain::Entity::Attachment => "crm.v1.Attachment",
    }
}

#[cfg(test)]
mod tests {
    use crm_domain::{ContactId, Entity, FieldViolation};

    use super::*;

    #[test]
    fn every_variant_has_its_code_and_details() {
        let holder = ContactId::from_uuid(uuid::Uuid::now_v7());
        let cases = [
            (
                DomainError::InvalidArgument(vec![FieldViolation::new(
                    "contact.emails[1].address",
                    "bad",
                )]),
                Code::InvalidArgument,
            ),
            (
                DomainError::NotFound {
                    entity: Entity::Contact,
                    id: "x".into(),
                },
                Code::NotFound,
            ),
            (
                DomainError::IdentityTaken {
                    field: "contact.emails[0].address".into(),
                    kind: "email",
                    value: "a@x.com".into(),
                    holder,
                },
                Code::AlreadyExists,
            ),
            (
                DomainError::AlreadyExists {
                    entity: Entity::Tier,
                    field: "tier.name".into(),
                    value: "gold".into(),
                    holder: holder.to_string(),
                },
                Code::AlreadyExists,
            ),
            (
                DomainError::Stale {
                    entity: Entity::Contact,
                    id: "x".into(),
                },
                Code::Aborted,
            ),
            (
                DomainError::FailedPrecondition("in use".into()),
                Code::FailedPrecondition,
            ),
            (
                DomainError::Unauthenticated("no key"),
                Code::Unauthenticated,
            ),
            (DomainError::Unavailable, Code::Unavailable),
            (DomainError::Contention("contact"), Code::Aborted),
            (DomainError::Internal("boom".into()), Code::Internal),
        ];
        for (error, code) in cases {
            let status = to_status(error.clone());
            assert_eq!(status.code(), code, "{error:?}");
            let details = status.get_error_details();
            match error {
                DomainError::InvalidArgument(_) => {
                    let violations = &details
                        .bad_request()
                        .map(|b| b.field_violations.clone())
                        .unwrap_or_default();
                    assert_eq!(violations[0].field, "contact.emails[1].address");
                }
                DomainError::IdentityTaken { .. } => {
                    assert_eq!(
                        details.resource_info().map(|r| r.resource_name.clone()),
                        Some(holder.to_string())
                    );
                    assert_eq!(
                        details.error_info().map(|e| e.reason.clone()).as_deref(),
                        Some("IDENTITY_ALREADY_CLAIMED")
                    );
                }
                _ => {}
            }
        }
    }
}
