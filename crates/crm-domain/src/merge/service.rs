//! Merge use cases: preview a merge, apply it, read merge records, and read
//! a contact by an id that may have been merged away.
//!
//! A preview reads the contacts, plans the merge (see [`crate::merge`]) and
//! counts what would move; its token binds the plan to the version of every
//! contact involved. A merge needs that token, or an etag per contact, and
//! is refused with `Stale` (ABORTED) when any contact changed since, so what
//! a caller previewed is what gets merged.

use crate::kernel;
use crate::merge;
use crate::merge::duplicates;
use std::sync::Arc;

use uuid::Uuid;

use crate::contacts::Contact;
use crate::contacts::{ContactFilter, ContactRepository};
use crate::identity::IdentityKey;
use crate::kernel::DomainError;
use crate::kernel::Page;
use crate::kernel::{Clock, IdGenerator};
use crate::kernel::{ContactId, MergeId, TenantId};
use crate::merge::MergeRepository;
use crate::merge::duplicates::{DuplicateGroup, DuplicateReason, Edges, Evidence, Facts};
use crate::merge::{ContactChild, MergePlan, MergeRecord};
use crate::tenancy::Caller;

/// Contacts read per batch while looking for duplicates.
const SCAN_BATCH: u32 = 1_000;

/// Field addresses looked up per query while looking for duplicates.
const LOOKUP_BATCH: usize = 500;

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

/// What a merge would do, and the token that binds it to the records' versions.
#[derive(Debug, Clone, PartialEq)]
pub struct MergePreview {
    /// The plan: the survivor as it would be, and the fields that competed.
    pub plan: MergePlan,
    /// How many records of each kind would move to the survivor.
    pub moved: Vec<(ContactChild, u64)>,
    /// Pass to [`MergeService::merge`] to merge exactly what was previewed.
    pub token: String,
}

/// What the caller merges: the state it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergePrecondition {
    /// The token of a preview.
    Token(String),
    /// The etag of the survivor and of each duplicate, in request order.
    Etags {
        /// The survivor's etag.
        survivor: String,
        /// Each duplicate's etag.
        duplicates: Vec<String>,
    },
}

/// A contact read by an id that may have been merged away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The contact (the survivor, when the id was merged away).
    pub contact: Contact,
    /// The id asked for, when it was merged away and the read redirected.
    pub redirected_from: Option<ContactId>,
}

const TOKEN_PREFIX: &str = "m1";

/// The token binding a plan to its contacts' versions.
pub fn token_for(plan: &MergePlan) -> String {
    let mut token = TOKEN_PREFIX.to_owned();
    for (id, version) in &plan.versions {
        token.push('.');
        token.push_str(&id.as_uuid().simple().to_string());
        token.push('-');
        token.push_str(&version.to_string());
    }
    token
}

/// The versions a token binds, checked against the request's ids (survivor
/// first).
///
/// # Errors
/// `InvalidArgument` on `preview_token` for a token this server did not
/// issue or one issued for other contacts.
pub fn versions_from_token(token: &str, ids: &[ContactId]) -> Result<Vec<i64>, DomainError> {
    let forged = || {
        DomainError::invalid(
            "preview_token",
            "is not a token PreviewMergeContacts issued",
        )
    };
    let mut parts = token.split('.');
    if parts.next() != Some(TOKEN_PREFIX) {
        return Err(forged());
    }
    let mut bound = Vec::new();
    for part in parts {
        let (id, version) = part.split_once('-').ok_or_else(forged)?;
        let id = Uuid::try_parse(id).map_err(|_| forged())?;
        let version: i64 = version.parse().map_err(|_| forged())?;
        bound.push((ContactId::from_uuid(id), version));
    }
    if bound.iter().map(|(id, _)| *id).ne(ids.iter().copied()) {
        return Err(DomainError::invalid(
            "preview_token",
            "was issued for another merge: preview these contacts, in this order",
        ));
    }
    Ok(bound.into_iter().map(|(_, version)| version).collect())
}

/// The versions a precondition expects, survivor first.
fn expected_versions(
    precondition: &MergePrecondition,
    ids: &[ContactId],
) -> Result<Vec<i64>, DomainError> {
    match precondition {
        MergePrecondition::Token(token) => versions_from_token(token, ids),
        MergePrecondition::Etags {
            survivor,
            duplicates,
        } => {
            if duplicates.len() + 1 != ids.len() {
                return Err(DomainError::invalid(
                    "duplicate_etags",
                    "give one etag per duplicate, in the order of duplicate_ids",
                ));
            }
            let mut versions = vec![kernel::version_from_etag(survivor, "survivor_etag")?];
            for (index, etag) in duplicates.iter().enumerate() {
                versions.push(kernel::version_from_etag(
                    etag,
                    &format!("duplicate_etags[{index}]"),
                )?);
            }
            Ok(versions)
        }
    }
}

/// How the loader treats an input that was merged away.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnMerged {
    /// Refuse, saying where it went (a preview: the caller should look again).
    Refuse,
    /// Report it as changed since the caller's preview (a merge).
    Stale,
}

/// Merge use cases.
#[derive(Clone)]
pub struct MergeService {
    contacts: Arc<dyn ContactRepository>,
    merges: Arc<dyn MergeRepository>,
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
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            contacts,
            merges,
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
        let fields = std::iter::once("survivor_id".to_owned())
            .chain((0..duplicates.len()).map(|index| format!("duplicate_ids[{index}]")));
        let mut read = Vec::with_capacity(duplicates.len() + 1);
        for (id, field) in std::iter::once(&survivor).chain(duplicates).zip(fields) {
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
                Some(into) => DomainError::FailedPrecondition(format!(
                    "{field}: contact {id} was merged into {into} already; \
                     merge with {into} instead"
                )),
            });
        }
        let survivor = read.remove(0);
        Ok((survivor, read))
    }

    /// Plans merging `duplicates` into `survivor` and counts what would move.
    ///
    /// # Errors
    /// `InvalidArgument` naming `survivor_id` or `duplicate_ids[i]`;
    /// `NotFound` for a contact not in the tenant; `FailedPrecondition` for
    /// one merged away already; `Unavailable`; `Internal`.
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
        let token = token_for(&plan);
        Ok(MergePreview { plan, moved, token })
    }

    /// Merges `duplicates` into `survivor`, provided every contact is still
    /// as the caller saw it.
    ///
    /// # Errors
    /// `InvalidArgument` naming the field; `NotFound`; `Stale` when any
    /// contact changed, was merged away or deleted since the caller's
    /// preview or etags (nothing is written); `Unavailable`; `Internal`.
    pub async fn merge(
        &self,
        caller: &Caller,
        survivor: ContactId,
        duplicates: &[ContactId],
        precondition: &MergePrecondition,
        merged_by: &str,
    ) -> Result<(MergeRecord, Contact), DomainError> {
        let tenant = caller.tenant().id;
        merge::check_request(survivor, duplicates)?;
        let merged_by = merge::check_merged_by(merged_by)?;
        let ids: Vec<ContactId> = std::iter::once(survivor)
            .chain(duplicates.iter().copied())
            .collect();
        let expected = expected_versions(precondition, &ids)?;
        let (survivor, duplicates) = self
            .load(tenant, survivor, duplicates, OnMerged::Stale)
            .await?;
        for (contact, version) in std::iter::once(&survivor).chain(&duplicates).zip(expected) {
            if contact.version != version {
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
    /// [`crate::merge::duplicates`]), best score first, after `after`.
    ///
    /// Reads the tenant's contacts in batches and groups them in memory, so
    /// its cost grows with the tenant: a report for operators, not a hot path.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn find_duplicates(
        &self,
        caller: &Caller,
        after: Option<GroupCursor>,
        page_size: u32,
    ) -> Result<Page<DuplicateGroup, GroupCursor>, DomainError> {
        let tenant = caller.tenant();
        let mut facts = Vec::new();
        let mut held_as_data: Vec<(ContactId, IdentityKey, String)> = Vec::new();
        let mut last = None;
        loop {
            let batch = self
                .contacts
                .list(tenant.id, &ContactFilter::default(), last, SCAN_BATCH)
                .await?;
            for contact in &batch {
                facts.push(Facts::of(contact, tenant));
                for (key, field) in duplicates::field_addresses(contact, tenant) {
                    held_as_data.push((contact.id, key, field));
                }
            }
            last = batch.last().map(|contact| contact.id);
            if batch.len() < SCAN_BATCH as usize {
                break;
            }
        }
        let mut edges = Edges::default();
        edges.add_names(&facts);
        drop(facts);
        for chunk in held_as_data.chunks(LOOKUP_BATCH) {
            let keys: Vec<IdentityKey> = chunk.iter().map(|(_, key, _)| key.clone()).collect();
            let holders = self.contacts.find_by_identities(tenant.id, &keys).await?;
            for (owner, key, field) in chunk {
                if let Some(holder) = holders.iter().find(|holder| holder.holds(key)) {
                    edges.add(
                        *owner,
                        holder.id,
                        Evidence {
                            reason: DuplicateReason::AddressInField,
                            detail: format!("{field}: {}", key.value),
                        },
                    );
                }
            }
        }
        let marked = self
            .merges
            .not_duplicates(tenant.id)
            .await?
            .into_iter()
            .collect();
        let mut items: Vec<DuplicateGroup> = edges
            .groups(&marked)
            .into_iter()
            .filter(|group| match after {
                None => true,
                Some(cursor) => {
                    group.score < cursor.score
                        || (group.score == cursor.score && group.contacts[0] > cursor.first)
                }
            })
            .take(page_size as usize + 1)
            .collect();
        let next = if items.len() > page_size as usize {
            items.truncate(page_size as usize);
            items.last().map(|group| GroupCursor {
                score: group.score,
                first: group.contacts[0],
            })
        } else {
            None
        };
        Ok(Page { items, next })
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
        let pairs = duplicates::pairs(ids);
        if pairs.is_empty() || ids.len() > MAX_MARKED {
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
                return Err(DomainError::contact_not_found(*id));
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
        let mut items = self
            .merges
            .list(tenant, contact, before, page_size.saturating_add(1))
            .await?;
        let next = if items.len() > page_size as usize {
            items.truncate(page_size as usize);
            items.last().map(|record| record.id)
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn id(n: u128) -> ContactId {
        ContactId::from_uuid(Uuid::from_u128(n))
    }

    fn plan_of(versions: Vec<(ContactId, i64)>) -> MergePlan {
        MergePlan {
            merged: Contact {
                id: versions[0].0,
                tenant_id: TenantId::from_uuid(Uuid::from_u128(7)),
                fields: crate::contacts::ContactFields::default(),
                identities: Vec::new(),
                tags: Vec::new(),
                custom_fields: crate::fields::CustomValues::new(),
                engagement: crate::contacts::Engagement::default(),
                tier: None,
                version: versions[0].1,
                create_time: time::OffsetDateTime::UNIX_EPOCH,
                update_time: time::OffsetDateTime::UNIX_EPOCH,
            },
            duplicates: versions[1..].iter().map(|(id, _)| *id).collect(),
            versions,
            winners: Vec::new(),
        }
    }

    #[test]
    fn a_token_binds_the_ids_in_order_and_their_versions() {
        let plan = plan_of(vec![(id(1), 4), (id(2), 9)]);
        let token = token_for(&plan);
        assert_eq!(
            versions_from_token(&token, &[id(1), id(2)]).unwrap(),
            [4, 9]
        );
        for (ids, bad) in [
            (vec![id(2), id(1)], "preview_token"),
            (vec![id(1)], "preview_token"),
            (vec![id(1), id(2), id(3)], "preview_token"),
        ] {
            match versions_from_token(&token, &ids) {
                Err(DomainError::InvalidArgument(violations)) => {
                    assert_eq!(violations[0].field, bad);
                }
                other => panic!("{other:?}"),
            }
        }
        for forged in ["", "m1", "x1.00", "m1.zz-1", &format!("{token}x")] {
            assert!(
                versions_from_token(forged, &[id(1), id(2)]).is_err(),
                "{forged}"
            );
        }
    }

    #[test]
    fn etags_must_match_the_duplicates_one_for_one() {
        let ids = [id(1), id(2), id(3)];
        let etags = |duplicates: Vec<&str>| MergePrecondition::Etags {
            survivor: kernel::etag_for(2),
            duplicates: duplicates.into_iter().map(str::to_owned).collect(),
        };
        assert_eq!(
            expected_versions(&etags(vec!["W/\"5\"", "W/\"7\""]), &ids).unwrap(),
            [2, 5, 7]
        );
        let field = |result: Result<Vec<i64>, DomainError>| match result {
            Err(DomainError::InvalidArgument(violations)) => violations[0].field.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(expected_versions(&etags(vec!["W/\"5\""]), &ids)),
            "duplicate_etags"
        );
        assert_eq!(
            field(expected_versions(&etags(vec!["W/\"5\"", "7"]), &ids)),
            "duplicate_etags[1]"
        );
    }
}
