//! Exchange use cases: exporting the contacts a filter selects.

use std::sync::Arc;

use crate::contacts::{Contact, ContactCursor, ContactFilter, ContactService};
use crate::exchange::ExportLayout;
use crate::fields::{CustomFieldRepository, FieldEntity, MAX_FIELDS_PER_ENTITY};
use crate::kernel::{DomainError, Page};
use crate::tenancy::Caller;

/// Contacts an export reads at a time: its memory does not grow with the
/// tenant.
pub const EXPORT_PAGE: u32 = 1000;

/// Exchange use cases.
#[derive(Clone)]
pub struct ExchangeService {
    contacts: ContactService,
    fields: Arc<dyn CustomFieldRepository>,
}

impl std::fmt::Debug for ExchangeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeService").finish_non_exhaustive()
    }
}

impl ExchangeService {
    /// Wires the use cases to their ports.
    pub fn new(contacts: ContactService, fields: Arc<dyn CustomFieldRepository>) -> Self {
        Self { contacts, fields }
    }

    /// The columns of an export of the caller's contacts: every custom
    /// field of contacts the tenant defines now.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn export_layout(&self, caller: &Caller) -> Result<ExportLayout, DomainError> {
        let limit = u32::try_from(MAX_FIELDS_PER_ENTITY).unwrap_or(u32::MAX);
        let definitions = self
            .fields
            .list_fields(caller.tenant().id, FieldEntity::Contact, None, limit)
            .await?;
        Ok(ExportLayout::new(&definitions))
    }

    /// How many contacts `filter` selects, exactly (an export reads them
    /// all anyway; the count drives its progress).
    ///
    /// # Errors
    /// As `ContactService::count`.
    pub async fn export_total(
        &self,
        caller: &Caller,
        filter: &ContactFilter,
    ) -> Result<u64, DomainError> {
        self.contacts.count_exactly(caller, filter).await
    }

    /// The next [`EXPORT_PAGE`] contacts of an export, by id.
    ///
    /// # Errors
    /// As `ContactService::list`.
    pub async fn export_page(
        &self,
        caller: &Caller,
        filter: &ContactFilter,
        after: Option<ContactCursor>,
    ) -> Result<Page<Contact, ContactCursor>, DomainError> {
        self.contacts.list(caller, filter, after, EXPORT_PAGE).await
    }
}
