//! Exchange use cases: exporting the contacts a filter selects.

use std::sync::Arc;

use crate::contacts::{Contact, ContactCursor, ContactFilter, ContactService};
use crate::exchange::ExportLayout;
use crate::fields::{CustomFieldRepository, FieldEntity, MAX_FIELDS_PER_ENTITY};
use crate::kernel::{ContactId, DomainError};
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

    /// Splits what an export has left after `after` into ranges of about
    /// [`EXPORT_PAGE`] contacts each, at most [`EXPORT_RANGES`] at a time,
    /// reading ids only: the ranges can then be read side by side. The
    /// last range is open-ended (its `upto` is `None`) once the end of the
    /// selection is in sight; until then the next call starts after the
    /// last range's `upto`.
    ///
    /// # Errors
    /// As `ContactService::list`.
    pub async fn export_ranges(
        &self,
        caller: &Caller,
        filter: &ContactFilter,
        after: Option<ContactId>,
    ) -> Result<Vec<ExportRange>, DomainError> {
        let ends = self
            .contacts
            .page_ends(caller, filter, after, EXPORT_PAGE, EXPORT_RANGES)
            .await?;
        Ok(ranges_between(after, &ends, EXPORT_RANGES))
    }

    /// The contacts of one range of an export, in id order. Contacts
    /// created in the range since it was planned are read too: the range
    /// is read a page at a time until its end.
    ///
    /// # Errors
    /// As `ContactService::list`.
    pub async fn export_range(
        &self,
        caller: &Caller,
        filter: &ContactFilter,
        range: ExportRange,
    ) -> Result<Vec<Contact>, DomainError> {
        let mut contacts = Vec::new();
        let mut after = range.after;
        loop {
            let page = self
                .contacts
                .list(caller, filter, after.map(ContactCursor::after), EXPORT_PAGE)
                .await?;
            let more = page.next.is_some();
            for contact in page.items {
                if range.upto.is_some_and(|upto| contact.id > upto) {
                    return Ok(contacts);
                }
                after = Some(contact.id);
                contacts.push(contact);
            }
            if !more || (range.upto.is_some() && after == range.upto) {
                return Ok(contacts);
            }
        }
    }
}

/// How many ranges [`ExchangeService::export_ranges`] plans at once.
pub const EXPORT_RANGES: u32 = 8;

/// Contacts after `after` up to and including `upto` (to the end when
/// `None`), in id order: a part of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportRange {
    /// The contact before the range (`None`: from the first).
    pub after: Option<ContactId>,
    /// The range's last contact (`None`: to the end).
    pub upto: Option<ContactId>,
}

/// The ranges between `after` and each of `ends` (`planned` were asked
/// for); when fewer came back, the selection ends within one more range,
/// open-ended.
fn ranges_between(after: Option<ContactId>, ends: &[ContactId], planned: u32) -> Vec<ExportRange> {
    let mut ranges = Vec::with_capacity(ends.len() + 1);
    let mut start = after;
    for end in ends {
        ranges.push(ExportRange {
            after: start,
            upto: Some(*end),
        });
        start = Some(*end);
    }
    if ends.len() < usize::try_from(planned).unwrap_or(usize::MAX) {
        ranges.push(ExportRange {
            after: start,
            upto: None,
        });
    }
    ranges
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use time::OffsetDateTime;

    use super::*;
    use crate::contacts::MockContactRepository;
    use crate::kernel::{MockClock, MockIdGenerator};
    use crate::tenancy::Tenant;

    /// Contact `n`, of no interest but its id.
    fn contact(n: u128) -> Contact {
        Contact::for_tests(id(n), Tenant::for_tests().id)
    }

    /// An exchange over contacts numbered `1..=last`, read in id order.
    fn exchange_over(last: u128) -> ExchangeService {
        let mut contacts = MockContactRepository::new();
        contacts.expect_list().returning(move |_, _, after, limit| {
            let first = after.map_or(1, |cursor| cursor.id.as_uuid().as_u128() + 1);
            Ok((first..=last)
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(contact)
                .collect())
        });
        let mut clock = MockClock::new();
        clock.expect_now().return_const(OffsetDateTime::UNIX_EPOCH);
        let fields = Arc::new(crate::fields::MockCustomFieldRepository::new());
        let service = ContactService::new(
            Arc::new(contacts),
            Arc::new(crate::tiers::MockTierRepository::new()),
            fields.clone(),
            Arc::new(crate::organizations::MockOrganizationRepository::new()),
            Arc::new(clock),
            Arc::new(MockIdGenerator::new()),
        );
        ExchangeService::new(service, fields)
    }

    /// A range planned to end at contact 2,500 while it held 1,000 (others
    /// were created inside it since) is read page by page to its end, and
    /// stops there: nothing past its last id, nothing twice.
    #[tokio::test]
    async fn a_range_is_read_to_its_last_id_however_much_it_grew() {
        let caller = Caller::tenant_key(Tenant::for_tests());
        let exchange = exchange_over(4_000);
        let filter = ContactFilter::default();
        let read = |after: u128, upto: Option<u128>| {
            let range = ExportRange {
                after: Some(id(after)),
                upto: upto.map(id),
            };
            let (exchange, caller, filter) = (&exchange, &caller, &filter);
            async move {
                let read = exchange.export_range(caller, filter, range).await.unwrap();
                read.iter().map(|contact| contact.id).collect::<Vec<_>>()
            }
        };
        assert_eq!(
            read(100, Some(2_600)).await,
            (101..=2_600).map(id).collect::<Vec<_>>()
        );
        assert_eq!(
            read(3_500, None).await,
            (3_501..=4_000).map(id).collect::<Vec<_>>(),
            "the open-ended range reads to the end"
        );
    }

    fn id(n: u128) -> ContactId {
        ContactId::from_uuid(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn ranges_cover_the_selection_without_gaps_and_end_open_once_it_runs_out() {
        let full = ranges_between(None, &[id(10), id(20)], 2);
        assert_eq!(
            full,
            [
                ExportRange {
                    after: None,
                    upto: Some(id(10))
                },
                ExportRange {
                    after: Some(id(10)),
                    upto: Some(id(20))
                },
            ]
        );
        let short = ranges_between(Some(id(20)), &[id(30)], 2);
        assert_eq!(
            short,
            [
                ExportRange {
                    after: Some(id(20)),
                    upto: Some(id(30))
                },
                ExportRange {
                    after: Some(id(30)),
                    upto: None
                },
            ]
        );
        assert_eq!(
            ranges_between(Some(id(5)), &[], 8),
            [ExportRange {
                after: Some(id(5)),
                upto: None
            }]
        );
    }
}
