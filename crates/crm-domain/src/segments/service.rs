//! Segment use cases: keeping saved filters, and running them.

use std::sync::Arc;

use crate::contacts::{
    Contact, ContactCursor, ContactFilter, ContactOrder, ContactService, Filter, Restriction,
    UntypedField,
};
use crate::kernel::{Clock, IdGenerator};
use crate::kernel::{DomainError, Entity, Page, Precondition, SegmentId};
use crate::segments::{
    MAX_SEGMENTS_PER_OWNER, Segment, SegmentFields, SegmentRepository, Visibility, validate,
};
use crate::tenancy::Caller;
use crate::tiers::TierRepository;

/// Changes to a segment; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SegmentPatch {
    /// New name.
    pub display_name: Option<String>,
    /// New filter.
    pub filter: Option<String>,
    /// New visibility.
    pub visibility: Option<Visibility>,
}

/// Segment use cases.
#[derive(Clone)]
pub struct SegmentService {
    segments: Arc<dyn SegmentRepository>,
    tiers: Arc<dyn TierRepository>,
    contacts: ContactService,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for SegmentService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentService").finish_non_exhaustive()
    }
}

/// How a filter that no longer types is reported: to the caller writing it
/// as a bad argument, when a saved one is run as a failed precondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Written,
    Saved,
}

impl SegmentService {
    /// Wires the use cases to their ports.
    pub fn new(
        segments: Arc<dyn SegmentRepository>,
        tiers: Arc<dyn TierRepository>,
        contacts: ContactService,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            segments,
            tiers,
            contacts,
            clock,
            ids,
        }
    }

    /// Saves a segment owned by the caller.
    ///
    /// # Errors
    /// `InvalidArgument` (a bad name or filter, an unknown custom field or
    /// tier); `LimitReached` beyond [`MAX_SEGMENTS_PER_OWNER`];
    /// `Unavailable`; `Internal`.
    pub async fn create(
        &self,
        caller: &Caller,
        fields: SegmentFields,
    ) -> Result<Segment, DomainError> {
        let (fields, filter) = validate(fields)?;
        self.typed(caller, filter, Reading::Written).await?;
        let tenant = caller.tenant();
        let now = self.clock.now();
        let segment = Segment {
            id: SegmentId::from_uuid(self.ids.new_id()),
            tenant_id: tenant.id,
            owner: caller.owner(),
            fields,
            version: 1,
            create_time: now,
            update_time: now,
        };
        self.segments.create(&segment, MAX_SEGMENTS_PER_OWNER).await
    }

    /// Reads a segment the caller may see.
    ///
    /// # Errors
    /// `NotFound` (also for another owner's private segment);
    /// `Unavailable`; `Internal`.
    pub async fn get(&self, caller: &Caller, id: SegmentId) -> Result<Segment, DomainError> {
        self.segments
            .get(caller.tenant().id, id)
            .await?
            .filter(|segment| segment.visible_to(&caller.owner()))
            .ok_or_else(|| not_found(id))
    }

    /// The segments the caller may see, by id, after a cursor.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn list(
        &self,
        caller: &Caller,
        after: Option<SegmentId>,
        page_size: u32,
    ) -> Result<Page<Segment, SegmentId>, DomainError> {
        let items = self
            .segments
            .list(
                caller.tenant().id,
                &caller.owner(),
                after,
                crate::kernel::overfetch(page_size),
            )
            .await?;
        Ok(Page::from_overfetch(items, page_size, |segment| segment.id))
    }

    /// Applies a patch at `expected_version` (if given).
    ///
    /// # Errors
    /// As [`SegmentService::create`], and `NotFound`; `Stale`.
    pub async fn update(
        &self,
        caller: &Caller,
        id: SegmentId,
        patch: SegmentPatch,
        expected_version: Option<i64>,
    ) -> Result<Segment, DomainError> {
        let current = self.get(caller, id).await?;
        let expected = expected_version.unwrap_or(current.version);
        if expected != current.version {
            return Err(stale(id));
        }
        let mut fields = current.fields.clone();
        if let Some(display_name) = patch.display_name {
            fields.display_name = display_name;
        }
        let filter_changed = patch.filter.is_some();
        if let Some(filter) = patch.filter {
            fields.filter = filter;
        }
        if let Some(visibility) = patch.visibility {
            fields.visibility = visibility;
        }
        let (fields, filter) = validate(fields)?;
        if filter_changed {
            self.typed(caller, filter, Reading::Written).await?;
        }
        let updated = Segment {
            fields,
            update_time: self.clock.now(),
            ..current
        };
        self.segments.update(&updated, expected).await
    }

    /// Deletes a segment at `expected_version` (if given).
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    pub async fn delete(
        &self,
        caller: &Caller,
        id: SegmentId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError> {
        let current = self.get(caller, id).await?;
        let expected = expected_version.unwrap_or(current.version);
        self.segments.delete(caller.tenant().id, id, expected).await
    }

    /// A page of the contacts the segment selects now, in `order`.
    ///
    /// # Errors
    /// `NotFound`; `FailedPrecondition` (`FilterOutdated`) when its filter
    /// names a custom field, option or tier deleted since; `Unavailable`;
    /// `Internal`.
    pub async fn contacts(
        &self,
        caller: &Caller,
        id: SegmentId,
        order: ContactOrder,
        after: Option<ContactCursor>,
        page_size: u32,
    ) -> Result<Page<Contact, ContactCursor>, DomainError> {
        let mut filter = self.run(caller, id).await?;
        filter.order = order;
        self.contacts.list(caller, &filter, after, page_size).await
    }

    /// How many contacts the segment selects now (as
    /// `ContactService::count`).
    ///
    /// # Errors
    /// As [`SegmentService::contacts`].
    pub async fn count(&self, caller: &Caller, id: SegmentId) -> Result<(u64, bool), DomainError> {
        let filter = self.run(caller, id).await?;
        self.contacts.count(caller, &filter).await
    }

    /// The contact filter a saved segment stands for, typed now.
    async fn run(&self, caller: &Caller, id: SegmentId) -> Result<ContactFilter, DomainError> {
        let segment = self.get(caller, id).await?;
        let filter =
            Filter::parse(&segment.fields.filter).map_err(|error| outdated("filter", &error))?;
        Ok(ContactFilter {
            expression: self.typed(caller, filter, Reading::Saved).await?,
            ..ContactFilter::default()
        })
    }

    /// Types `filter`'s custom fields and checks that every tier it names
    /// exists.
    async fn typed(
        &self,
        caller: &Caller,
        filter: Option<Filter>,
        reading: Reading,
    ) -> Result<Option<Filter>, DomainError> {
        let Some(mut filter) = filter else {
            return Ok(None);
        };
        if let Err(untyped) = self.contacts.type_filter(caller, &mut filter).await {
            return Err(match (reading, untyped) {
                (
                    _,
                    UntypedField::Invalid(
                        error @ (DomainError::Unavailable | DomainError::Internal(_)),
                    ),
                ) => error,
                (Reading::Written, untyped) => untyped.into_error(),
                (Reading::Saved, UntypedField::Unknown { key, .. }) => {
                    DomainError::FailedPrecondition(Precondition::FilterOutdated {
                        field: format!("custom_fields.{key}"),
                        problem: "no custom field of contacts has this key any more".to_owned(),
                    })
                }
                (Reading::Saved, UntypedField::Invalid(error)) => outdated("filter", &error),
            });
        }
        let mut tiers = Vec::new();
        filter.visit(&mut |restriction| {
            if let Restriction::Tier(_, Some(tier)) = restriction
                && !tiers.contains(tier)
            {
                tiers.push(*tier);
            }
        });
        for tier in tiers {
            if self.tiers.get(caller.tenant().id, tier).await?.is_none() {
                let problem = format!("tier {tier} does not exist");
                return Err(match reading {
                    Reading::Written => DomainError::invalid("filter", problem),
                    Reading::Saved => {
                        DomainError::FailedPrecondition(Precondition::FilterOutdated {
                            field: "tier_id".to_owned(),
                            problem,
                        })
                    }
                });
            }
        }
        Ok(Some(filter))
    }
}

/// A saved filter that no longer reads: `FilterOutdated` with the problem.
fn outdated(field: &str, error: &DomainError) -> DomainError {
    let problem = match error {
        DomainError::InvalidArgument(found) => found
            .iter()
            .map(|violation| violation.description.clone())
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    DomainError::FailedPrecondition(Precondition::FilterOutdated {
        field: field.to_owned(),
        problem,
    })
}

fn not_found(id: SegmentId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::Segment,
        id: id.to_string(),
    }
}

fn stale(id: SegmentId) -> DomainError {
    DomainError::Stale {
        entity: Entity::Segment,
        id: id.to_string(),
    }
}
