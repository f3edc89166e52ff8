//! Merge use cases: preview a merge, apply it, read merge records, and read
//! a contact by an id that may have been merged away.
//!
//! A preview reads the contacts, plans the merge (see [`crate::merge`]) and
//! counts what would move, and reports the version of every contact it read.
//! A merge takes the versions the caller expects (from a preview or from the
//! contacts' etags; the wire forms of both are the gRPC adapter's) and is
//! refused with `Stale` (ABORTED) when any contact changed since, so what a
//! caller previewed is what gets merged.

use crate::merge;
use crate::merge::duplicates;
use std::sync::Arc;

use crate::contacts::Contact;
use crate::contacts::ContactRepository;
use crate::kernel::DomainError;
use crate::kernel::Page;
use crate::kernel::{Clock, IdGenerator};
use crate::kernel::{ContactId, MergeId, TenantId};
use crate::merge::MergeRepository;
use crate::merge::duplicates::{DuplicateGroup, Edges};
use crate::merge::index::{self, DuplicateIndex, Examined};
use crate::merge::{ContactChild, MergePlan, MergeRecord};
use crate::tenancy::Caller;

/// Waiting contacts the duplicate index takes in per transaction.
pub const EXAMINE_BATCH: u32 = 500;

/// The most links between likely duplicates FindDuplicateContacts groups:
/// a quarter of a million links (a tenant whose contacts are mostly one
/// another's duplicates) is read and grouped in about half a second; past
/// it the call is refused rather than grow without bound.
pub const MAX_LINKS: u64 = 250_000;

/// The most waiting contacts FindDuplicateContacts takes in before it
/// answers.
pub const EXAMINE_BEFORE_FINDING: usize = 10_000;

/// The most contacts one "not duplicates" mark names.
pub const MAX_MARKED: usize = 50;

/// Where a page of duplicate groups continues: after the group with this
/// score and first contact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupCursor {
    /// The last group's score.
    pub score: f64,
    /// The last group's first contact.
    pub first: ContactId,
}

/// What a merge would do; `plan.versions` are the versions it planned from.
#[derive(Debug, Clone, PartialEq)]
pub struct MergePreview {
    /// The plan: the survivor as it would be, and the fields that competed.
    pub plan: MergePlan,
    /// How many records of each kind would move to the survivor.
    pub moved: Vec<(ContactChild, u64)>,
}

impl MergePreview {
    /// The versions the preview planned from, survivor first: pass them to
    /// [`MergeService::merge`] to merge exactly what was previewed.
    pub fn versions(&self) -> Vec<i64> {
        self.plan
            .versions
            .iter()
            .map(|(_, version)| *version)
            .collect()
    }
}

/// A contact read by an id that may have been merged away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The contact (the survivor, when the id was merged away).
    pub contact: Contact,
    /// The id asked for, when it was merged away and the read redirected.
    pub redirected_from: Option<ContactId>,
}

/// How the loader treats an input that was merged away.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnMerged {
    /// Refuse with `MergedAway`, naming where it went (a preview: the
    /// caller should look again, at the survivor).
    Refuse,
    /// Report it as changed since the caller's preview (a merge).
    Stale,
}

/// Merge use cases.
#[derive(Clone)]
pub struct MergeService {
    contacts: Arc<dyn ContactRepository>,
    merges: Arc<dyn MergeRepository>,
    index: Arc<dyn DuplicateIndex>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for MergeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergeService").finish_non_exhaustive()
    }
}

impl MergeService {
    /// Wires the use cases to their ports.
    pub fn new(
        contacts: Arc<dyn ContactRepository>,
        merges: Arc<dyn MergeRepository>,
        index: Arc<dyn DuplicateIndex>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            contacts,
            merges,
            index,
            clock,
            ids,
        }
    }

    /// Reads a contact, following merges: an id that was merged away
    /// returns the contact it now resolves to.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn get_contact(&self, caller: &Caller, id: ContactId) -> Result<Found, DomainError> {
        let tenant = caller.tenant().id;
        if let Some(contact) = self.contacts.get(tenant, id).await? {
            return Ok(Found {
                contact,
                redirected_from: None,
            });
        }
        let survivor = self
            .merges
            .merged_into(tenant, id)
            .await?
            .ok_or_else(|| DomainError::contact_not_found(id))?;
        let contact = self
            .contacts
            .get(tenant, survivor)
            .await?
            // The survivor was deleted since.
            .ok_or_else(|| DomainError::contact_not_found(id))?;
        Ok(Found {
            contact,
            redirected_from: Some(id),
        })
    }

    /// Reads the survivor and the duplicates, in request order.
    async fn load(
        &self,
        tenant: TenantId,
        survivor: ContactId,
        duplicates: &[ContactId],
        on_merged: OnMerged,
    ) -> Result<(Contact, Vec<Contact>), DomainError> {
        merge::check_request(survivor, duplicates)?;
        let mut read = Vec::with_capacity(duplicates.len() + 1);
        for id in std::iter::once(&survivor).chain(duplicates) {
            if let Some(contact) = self.contacts.get(tenant, *id).await? {
                read.push(contact);
                continue;
            }
            return Err(match self.merges.merged_into(tenant, *id).await? {
                None => DomainError::contact_not_found(*id),
                Some(_) if on_merged == OnMerged::Stale => DomainError::Stale {
                    entity: crate::kernel::Entity::Contact,
                    id: id.to_string(),
                },
                Some(into) => DomainError::MergedAway { contact: *id, into },
            });
        }
        let survivor = read.remove(0);
        Ok((survivor, read))
    }

    /// Plans merging `duplicates` into `survivor` and counts what would move.
    ///
    /// # Errors
    /// `InvalidArgument` naming `survivor_id` or `duplicate_ids[i]`;
    /// `NotFound` for a contact not in the tenant; `MergedAway` for one
    /// merged away already; `Unavailable`; `Internal`.
    pub async fn preview(
        &self,
        caller: &Caller,
        survivor: ContactId,
        duplicates: &[ContactId],
    ) -> Result<MergePreview, DomainError> {
        let tenant = caller.tenant().id;
        let (survivor, duplicates) = self
            .load(tenant, survivor, duplicates, OnMerged::Refuse)
            .await?;
        let plan = merge::plan(&survivor, &duplicates)?;
        let moved = self.merges.count_children(tenant, &plan.duplicates).await?;
        Ok(MergePreview { plan, moved })
    }

    /// Merges `duplicates` into `survivor`, provided every contact is still
    /// as the caller saw it: `expected` holds the version the caller saw of
    /// the survivor and of each duplicate, in that order.
    ///
    /// # Errors
    /// `InvalidArgument` naming the field; `NotFound`; `Stale` when any
    /// contact changed, was merged away or deleted since the caller's
    /// preview or etags (nothing is written); `Unavailable`; `Internal`
    /// when `expected` does not hold one version per contact.
    pub async fn merge(
        &self,
        caller: &Caller,
        survivor: ContactId,
        duplicates: &[ContactId],
        expected: &[i64],
        merged_by: &str,
    ) -> Result<(MergeRecord, Contact), DomainError> {
        let tenant = caller.tenant().id;
        merge::check_request(survivor, duplicates)?;
        let merged_by = merge::check_merged_by(merged_by)?;
        if expected.len() != duplicates.len() + 1 {
            return Err(DomainError::Internal(format!(
                "{} expected versions for {} contacts",
                expected.len(),
                duplicates.len() + 1
            )));
        }
        let (survivor, duplicates) = self
            .load(tenant, survivor, duplicates, OnMerged::Stale)
            .await?;
        for (contact, version) in std::iter::once(&survivor).chain(&duplicates).zip(expected) {
            if contact.version != *version {
                return Err(DomainError::Stale {
                    entity: crate::kernel::Entity::Contact,
                    id: contact.id.to_string(),
                });
            }
        }
        let plan = merge::plan(&survivor, &duplicates)?;
        let record = MergeRecord {
            id: MergeId::from_uuid(self.ids.new_id()),
            tenant_id: tenant,
            survivor_id: survivor.id,
            duplicate_ids: plan.duplicates.clone(),
            merged_by,
            winners: plan.winners.clone(),
            moved: Vec::new(),
            create_time: self.clock.now(),
        };
        self.merges.apply(&plan, &record).await
    }

    /// Groups of contacts that are probably one person (see
    /// [`crate::merge::duplicates`]), best score first, after `after`, and
    /// how many of the tenant's contacts still wait for the index.
    ///
    /// Reads the standing index (see [`crate::merge::index`]), after taking
    /// in up to [`EXAMINE_BEFORE_FINDING`] waiting contacts, so a write is
    /// found as soon as it returns unless a burst (an import) left more
    /// waiting than that: the background indexer takes those in, and the
    /// count says how many are left.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn find_duplicates(
        &self,
        caller: &Caller,
        after: Option<GroupCursor>,
        page_size: u32,
    ) -> Result<(Page<DuplicateGroup, GroupCursor>, u64), DomainError> {
        let tenant = caller.tenant();
        self.index_waiting(tenant.id, EXAMINE_BEFORE_FINDING)
            .await?;
        let waiting = self.index.pending_count(tenant.id).await?;
        let found = self.index.edges(tenant.id, MAX_LINKS + 1).await?;
        if found.len() as u64 > MAX_LINKS {
            return Err(DomainError::TooManyDuplicateLinks { limit: MAX_LINKS });
        }
        let mut edges = Edges::default();
        for edge in found {
            edges.add(edge.a, edge.b, edge.evidence);
        }
        let marked = self
            .merges
            .not_duplicates(tenant.id)
            .await?
            .into_iter()
            .collect();
        let items: Vec<DuplicateGroup> = edges
            .groups(&marked)
            .into_iter()
            .filter(|group| match after {
                None => true,
                Some(cursor) => {
                    group.score < cursor.score
                        || (group.score == cursor.score && group.contacts[0] > cursor.first)
                }
            })
            .take(crate::kernel::overfetch(page_size) as usize)
            .collect();
        let page = Page::from_overfetch(items, page_size, |group| GroupCursor {
            score: group.score,
            first: group.contacts[0],
        });
        Ok((page, waiting))
    }

    /// Tenants whose contacts wait for the duplicate index, at most `limit`.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn tenants_waiting(&self, limit: u32) -> Result<Vec<TenantId>, DomainError> {
        self.index.tenants_pending(limit).await
    }

    /// Takes up to `budget` (rounded up to a batch) of `tenant`'s waiting
    /// contacts into the duplicate index; returns how many it examined.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn index_waiting(
        &self,
        tenant: TenantId,
        budget: usize,
    ) -> Result<usize, DomainError> {
        let mut examined = 0;
        while examined < budget {
            let pending = self.index.pending(tenant, EXAMINE_BATCH).await?;
            if pending.is_empty() {
                break;
            }
            let Some(tenant) = self.index.tenant(tenant).await? else {
                break;
            };
            let tenant = &tenant;
            let ids: Vec<ContactId> = pending.iter().map(|entry| entry.id).collect();
            let contacts = self.index.contacts(tenant.id, &ids).await?;
            let batch: Vec<Examined> = pending
                .iter()
                .map(|entry| {
                    let contact = contacts.iter().find(|contact| contact.id == entry.id);
                    Examined {
                        pending: *entry,
                        keys: contact.map(|c| index::keys(c, tenant)).unwrap_or_default(),
                        identities: contact
                            .filter(|_| !entry.recheck)
                            .map(|c| index::identity_addresses(c, tenant))
                            .unwrap_or_default(),
                    }
                })
                .collect();
            self.index.examine(tenant.id, &batch).await?;
            examined += batch.len();
        }
        Ok(examined)
    }

    /// Marks `ids` as not one person: every pair among them stops counting
    /// as duplicates, so a group made only of them stops appearing.
    ///
    /// # Errors
    /// `InvalidArgument` on `contact_ids` or `marked_by`; `NotFound` for a
    /// contact not in the tenant; `Unavailable`; `Internal`.
    pub async fn mark_not_duplicates(
        &self,
        caller: &Caller,
        ids: &[ContactId],
        marked_by: &str,
    ) -> Result<(), DomainError> {
        let tenant = caller.tenant().id;
        let pairs = duplicates::pairs(ids)?;
        if pairs.is_empty() {
            return Err(DomainError::invalid(
                "contact_ids",
                format!("name 2 to {MAX_MARKED} different contacts"),
            ));
        }
        let marked_by = merge::check_merged_by(marked_by).map_err(|_| {
            DomainError::invalid(
                "marked_by",
                "is required: name who marks them (at most 200 characters)",
            )
        })?;
        for id in ids {
            if self.contacts.get(tenant, *id).await?.is_none() {
                return Err(DomainError::contact_not_found(*id)
                    .or_merged(|id| self.merges.merged_into(tenant, id))
                    .await);
            }
        }
        self.merges
            .mark_not_duplicates(tenant, &pairs, &marked_by, self.clock.now())
            .await
    }

    /// The merges a contact took part in, newest first.
    ///
    /// # Errors
    /// `NotFound` when the contact neither exists nor was merged away;
    /// `Unavailable`; `Internal`.
    pub async fn list(
        &self,
        caller: &Caller,
        contact: ContactId,
        before: Option<MergeId>,
        page_size: u32,
    ) -> Result<Page<MergeRecord, MergeId>, DomainError> {
        let tenant = caller.tenant().id;
        if self.contacts.get(tenant, contact).await?.is_none()
            && self.merges.merged_into(tenant, contact).await?.is_none()
        {
            return Err(DomainError::contact_not_found(contact));
        }
        let items = self
            .merges
            .list(tenant, contact, before, crate::kernel::overfetch(page_size))
            .await?;
        Ok(Page::from_overfetch(items, page_size, |record| record.id))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::contacts::MockContactRepository;
    use crate::kernel::{SystemClock, UuidV7Ids};
    use crate::merge::MockMergeRepository;
    use crate::merge::duplicates::{DuplicateReason, Evidence};
    use crate::merge::index::{FoundEdge, MockDuplicateIndex};
    use crate::tenancy::Tenant;

    fn id(n: u64) -> ContactId {
        ContactId::from_uuid(uuid::Uuid::from_u128(u128::from(n)))
    }

    #[tokio::test]
    async fn a_tenant_linked_past_the_limit_is_refused_after_a_bounded_read() {
        let mut index = MockDuplicateIndex::new();
        index.expect_pending().returning(|_, _| Ok(Vec::new()));
        index.expect_pending_count().returning(|_| Ok(0));
        index
            .expect_edges()
            .withf(|_, limit| *limit == MAX_LINKS + 1)
            .returning(|_, limit| {
                Ok((0..limit)
                    .map(|n| FoundEdge {
                        a: id(2 * n),
                        b: id(2 * n + 1),
                        evidence: Evidence {
                            reason: DuplicateReason::SameNameSameOrganization,
                            detail: String::new(),
                        },
                        found_by: id(2 * n),
                    })
                    .collect())
            });
        let service = MergeService::new(
            Arc::new(MockContactRepository::new()),
            Arc::new(MockMergeRepository::new()),
            Arc::new(index),
            Arc::new(SystemClock),
            Arc::new(UuidV7Ids),
        );
        let error = service
            .find_duplicates(&Caller::tenant_key(Tenant::for_tests()), None, 10)
            .await
            .unwrap_err();
        assert!(
            matches!(error, DomainError::TooManyDuplicateLinks { limit } if limit == MAX_LINKS),
            "{error:?}"
        );
    }
}
