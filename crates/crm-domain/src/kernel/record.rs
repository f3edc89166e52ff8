//! The record a note, an attachment (and later a deal or an order) hangs on.

use crate::kernel::{ContactId, OrganizationId};
use crate::kernel::{DomainError, Entity};

/// The record a note is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordRef {
    /// A contact.
    Contact(ContactId),
    /// An organization.
    Organization(OrganizationId),
}

impl RecordRef {
    /// The error for a record that does not exist.
    pub fn not_found(self) -> DomainError {
        match self {
            RecordRef::Contact(id) => DomainError::contact_not_found(id),
            RecordRef::Organization(id) => DomainError::NotFound {
                entity: Entity::Organization,
                id: id.to_string(),
            },
        }
    }
}
