//! Row shapes, one file per table, and their mapping to domain types; only
//! this crate sees them. The few shapes no single table owns (a count, an
//! id, "a row exists", the two owner columns of a note or a file) are here.

pub(crate) mod attachment_blobs;
pub(crate) mod attachments;
pub(crate) mod contact_identities;
pub(crate) mod contact_merges;
pub(crate) mod contacts;
pub(crate) mod conversations;
pub(crate) mod custom_fields;
pub(crate) mod custom_values;
pub(crate) mod layout_sections;
pub(crate) mod layout_tabs;
pub(crate) mod merged_contacts;
pub(crate) mod not_duplicates;
pub(crate) mod notes;
pub(crate) mod organization_domains;
pub(crate) mod organizations;
pub(crate) mod tenants;
pub(crate) mod tiers;

use crm_domain::kernel::RecordRef;
use crm_domain::{ContactId, DomainError, OrganizationId};
use sea_orm::FromQueryResult;
use uuid::Uuid;

/// `SELECT count(*) AS n`.
#[derive(Debug, FromQueryResult)]
pub(crate) struct Count {
    pub n: i64,
}

/// `SELECT ... AS text`: one text column.
#[derive(Debug, FromQueryResult)]
pub(crate) struct Text {
    pub text: String,
}

/// `SELECT id`.
#[derive(Debug, FromQueryResult)]
pub(crate) struct Id {
    pub id: Uuid,
}

/// `SELECT 1 AS found`: read only to learn that a row exists.
#[derive(Debug, FromQueryResult)]
pub(crate) struct Found {
    #[allow(dead_code)] // the row's existence is the answer
    pub found: i32,
}

/// A count per kind of record, `SELECT '<kind>' AS kind, count(*) AS n`.
#[derive(Debug, FromQueryResult)]
pub(crate) struct KindCount {
    pub kind: String,
    pub n: i64,
}

/// The record a stored note or attachment is on, from its two owner
/// columns (`what` names the kind of row, for the error).
pub(crate) fn owner_from_columns(
    contact: Option<Uuid>,
    organization: Option<Uuid>,
    what: &str,
) -> Result<RecordRef, DomainError> {
    match (contact, organization) {
        (Some(contact), None) => Ok(RecordRef::Contact(ContactId::from_uuid(contact))),
        (None, Some(organization)) => Ok(RecordRef::Organization(OrganizationId::from_uuid(
            organization,
        ))),
        _ => Err(DomainError::Internal(format!(
            "stored {what} owner is invalid"
        ))),
    }
}

/// The two owner columns (contact, organization) of a note or attachment.
pub(crate) fn owner_columns(owner: RecordRef) -> (Option<Uuid>, Option<Uuid>) {
    match owner {
        RecordRef::Contact(id) => (Some(id.as_uuid()), None),
        RecordRef::Organization(id) => (None, Some(id.as_uuid())),
    }
}
