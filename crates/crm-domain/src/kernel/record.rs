//! The record a note, an attachment (and later a deal or an order) hangs on,
//! and the one rule for an id that names no such record: NOT_FOUND, or for a
//! contact merged away, `MergedAway` naming the contact it went to.

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

/// Where a record a request names stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// It exists in the caller's tenant.
    Present,
    /// It was a contact, merged into this one (chains followed).
    MergedInto(ContactId),
    /// There is no such record in the caller's tenant.
    Missing,
}

impl RecordRef {
    /// `Ok` when the record is there; otherwise the error every call gives
    /// for it: `MergedAway` for a merged-away contact, else `NotFound`.
    ///
    /// # Errors
    /// As described.
    pub fn require(self, presence: Presence) -> Result<(), DomainError> {
        match (presence, self) {
            (Presence::Present, _) => Ok(()),
            (Presence::MergedInto(into), RecordRef::Contact(contact)) => {
                Err(DomainError::MergedAway { contact, into })
            }
            (Presence::MergedInto(_) | Presence::Missing, record) => Err(record.not_found()),
        }
    }
}

impl DomainError {
    /// This error, or when it is a contact's `NotFound` and `into` says the
    /// contact was merged away, `MergedAway` naming where it went. `into` is
    /// asked only for a contact's `NotFound`.
    pub async fn or_merged<F, Fut>(self, into: F) -> DomainError
    where
        F: FnOnce(ContactId) -> Fut,
        Fut: std::future::Future<Output = Result<Option<ContactId>, DomainError>>,
    {
        let DomainError::NotFound {
            entity: Entity::Contact,
            id,
        } = &self
        else {
            return self;
        };
        let Some(contact) = ContactId::parse(id) else {
            return self;
        };
        match into(contact).await {
            Ok(Some(into)) => DomainError::MergedAway { contact, into },
            Ok(None) => self,
            Err(error) => error,
        }
    }
}
