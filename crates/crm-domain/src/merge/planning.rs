//! Merging duplicate contacts: the plan, as plain data. The domain decides
//! which values win and what moves where; the store applies the plan in
//! one transaction with a version check on every contact involved.
//!
//! Rules (the survivor is the contact that stays):
//! - the survivor's non-empty values win; duplicates fill what it lacks, in
//!   the order given;
//! - identities (emails, phones, every channel address, external ids) are
//!   united, so every address keeps resolving, now to the survivor; the
//!   survivor keeps its primary address of each kind;
//! - custom fields: the survivor's value wins, empty ones are filled;
//!   multi-select values are united;
//! - tags are united;
//! - tier: the highest-ranked (the lowest rank number; ties by tier id);
//! - lifecycle stage: the one furthest along the stage order;
//! - organization: the survivor's, else the first duplicate's that has one;
//! - blocked: blocked if any of them is (a merge never unblocks a sender);
//! - engagement figures are those of all their conversations together.

use std::collections::BTreeSet;

use crate::contacts::Contact;
use crate::fields::FieldValue;
use crate::kernel::{ContactId, MergeId, TenantId};
use crate::kernel::{DomainError, FieldViolation};
use crate::merge::unite::{unite_custom_values, unite_engagement, unite_identities};
use time::OffsetDateTime;

/// The most duplicates one merge takes.
pub const MAX_DUPLICATES: usize = 10;

/// Everything that hangs off a contact, in one place: the merge moves each
/// to the survivor. A store test compares this list with every table that
/// references `contacts`, so a new kind of child record cannot be forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContactChild {
    /// Addresses the contact is recognised by.
    Identities,
    /// Tags.
    Tags,
    /// Conversations.
    Conversations,
    /// Notes.
    Notes,
    /// Attachments.
    Attachments,
}

impl ContactChild {
    /// Every kind of child record.
    pub const ALL: [ContactChild; 5] = [
        ContactChild::Identities,
        ContactChild::Tags,
        ContactChild::Conversations,
        ContactChild::Notes,
        ContactChild::Attachments,
    ];

    /// The table holding it (with `tenant_id` and `contact_id` columns).
    pub fn table(self) -> &'static str {
        match self {
            ContactChild::Identities => "contact_identities",
            ContactChild::Tags => "contact_tags",
            ContactChild::Conversations => "conversations",
            ContactChild::Notes => "notes",
            ContactChild::Attachments => "attachments",
        }
    }

    /// Inverse of [`ContactChild::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|child| child.as_str() == text)
    }

    /// The name the API counts it under.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactChild::Identities => "identities",
            ContactChild::Tags => "tags",
            ContactChild::Conversations => "conversations",
            ContactChild::Notes => "notes",
            ContactChild::Attachments => "attachments",
        }
    }
}

/// A field that had competing values, the one that wins, and the ones that
/// lose: the merge record keeps them, so nothing a duplicate held is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldWinner {
    /// The field's path (`display_name`, `custom_fields.KEY`, ...).
    pub field: String,
    /// The contact the winning value comes from.
    pub source: ContactId,
    /// The winning value, as text.
    pub value: String,
    /// The values that lost, each with the contact it came from.
    pub overruled: Vec<Overruled>,
}

/// A value that lost to another in a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overruled {
    /// The contact that held it.
    pub source: ContactId,
    /// The value, as text.
    pub value: String,
}

/// A custom-field value as text, for merge records.
pub fn render(value: &FieldValue) -> String {
    match value {
        FieldValue::Text(text)
        | FieldValue::Link(text)
        | FieldValue::Email(text)
        | FieldValue::Phone(text)
        | FieldValue::Select(text) => text.clone(),
        FieldValue::Number(number) | FieldValue::Percent(number) => number.to_string(),
        FieldValue::Currency(money) => format!("{} {}", money.amount, money.currency),
        FieldValue::Date(date) => date.to_string(),
        FieldValue::DateTime(instant) => instant.to_string(),
        FieldValue::Checkbox(checked) => checked.to_string(),
        FieldValue::MultiSelect(keys) => keys.join(", "),
    }
}

/// Notes a winner when any value in `present` differs from the winning one.
pub(super) fn compete(
    winners: &mut Vec<FieldWinner>,
    field: &str,
    present: &[(ContactId, String)],
    source: ContactId,
    value: String,
) {
    let overruled: Vec<Overruled> = present
        .iter()
        .filter(|(_, other)| *other != value)
        .map(|(holder, other)| Overruled {
            source: *holder,
            value: other.clone(),
        })
        .collect();
    if !overruled.is_empty() {
        winners.push(FieldWinner {
            field: field.to_owned(),
            source,
            value,
            overruled,
        });
    }
}

/// What a merge will do.
#[derive(Debug, Clone, PartialEq)]
pub struct MergePlan {
    /// The survivor as it will be after the merge (its version is the one
    /// the plan was computed from).
    pub merged: Contact,
    /// The duplicates, in the order given.
    pub duplicates: Vec<ContactId>,
    /// The version of each contact the plan was computed from, survivor
    /// first; the merge fails if any has moved.
    pub versions: Vec<(ContactId, i64)>,
    /// Fields whose values competed, and where the winner came from.
    pub winners: Vec<FieldWinner>,
}

/// A merge as recorded: who asked, when, what went into what, which values
/// won (and which lost), and how many records of each kind moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRecord {
    /// The merge's id.
    pub id: MergeId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The contact that stayed.
    pub survivor_id: ContactId,
    /// The contacts merged into it, in the order given.
    pub duplicate_ids: Vec<ContactId>,
    /// Who asked for the merge, as the caller named itself.
    pub merged_by: String,
    /// Fields whose values competed.
    pub winners: Vec<FieldWinner>,
    /// How many records of each kind moved to the survivor.
    pub moved: Vec<(ContactChild, u64)>,
    /// When the merge happened.
    pub create_time: OffsetDateTime,
}

/// Longest `merged_by`, in characters.
pub const MAX_MERGED_BY_CHARS: usize = 200;

/// Checks `merged_by`: required, at most [`MAX_MERGED_BY_CHARS`], no
/// control characters; returns it trimmed.
///
/// # Errors
/// `InvalidArgument` on `merged_by`.
pub fn check_merged_by(merged_by: &str) -> Result<String, DomainError> {
    let trimmed = merged_by.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid(
            "merged_by",
            "is required: name who asks for the merge",
        ));
    }
    if trimmed.chars().count() > MAX_MERGED_BY_CHARS || trimmed.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "merged_by",
            format!("must be at most {MAX_MERGED_BY_CHARS} characters, without control characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// Checks the ids of a merge request (`survivor_id`, `duplicate_ids`).
///
/// # Errors
/// `InvalidArgument` for no duplicates, more than [`MAX_DUPLICATES`], the
/// survivor among the duplicates, or a duplicate listed twice.
pub fn check_request(survivor: ContactId, duplicates: &[ContactId]) -> Result<(), DomainError> {
    // The count first: nothing is looked at in a list over the limit.
    if duplicates.len() > MAX_DUPLICATES {
        return Err(DomainError::invalid(
            "duplicate_ids",
            format!("at most {MAX_DUPLICATES} contacts merge at once"),
        ));
    }
    let mut violations = Vec::new();
    if duplicates.is_empty() {
        violations.push(FieldViolation::new(
            "duplicate_ids",
            "name at least one contact to merge into the survivor",
        ));
    }
    let mut seen = BTreeSet::new();
    for (index, duplicate) in duplicates.iter().enumerate() {
        if *duplicate == survivor {
            violations.push(FieldViolation::new(
                format!("duplicate_ids[{index}]"),
                "is the survivor: a contact cannot be merged into itself",
            ));
        } else if !seen.insert(*duplicate) {
            violations.push(FieldViolation::new(
                format!("duplicate_ids[{index}]"),
                "is listed twice",
            ));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

pub(super) fn is_empty_value(value: &FieldValue) -> bool {
    match value {
        FieldValue::Text(text)
        | FieldValue::Link(text)
        | FieldValue::Email(text)
        | FieldValue::Phone(text)
        | FieldValue::Select(text) => text.trim().is_empty(),
        FieldValue::MultiSelect(keys) => keys.is_empty(),
        _ => false,
    }
}

/// Picks the first non-empty value in `[survivor, duplicates...]` order,
/// noting a winner when another contact had a different non-empty value.
fn fill<T: Clone>(
    contacts: &[&Contact],
    field: &str,
    value: impl Fn(&Contact) -> Option<T>,
    render: impl Fn(&T) -> String,
    winners: &mut Vec<FieldWinner>,
) -> Option<T> {
    let present: Vec<(ContactId, T)> = contacts
        .iter()
        .filter_map(|contact| value(contact).map(|v| (contact.id, v)))
        .collect();
    let (source, chosen) = present.first().cloned()?;
    let texts: Vec<(ContactId, String)> = present.iter().map(|(id, v)| (*id, render(v))).collect();
    compete(winners, field, &texts, source, render(&chosen));
    Some(chosen)
}

fn text(value: &str) -> Option<String> {
    (!value.trim().is_empty()).then(|| value.to_owned())
}

/// Plans merging `duplicates` (in the order given) into `survivor`.
///
/// # Errors
/// `InvalidArgument` as [`check_request`] says; `Internal` when a contact
/// belongs to another tenant (the caller must have read them in one).
pub fn plan(survivor: &Contact, duplicates: &[Contact]) -> Result<MergePlan, DomainError> {
    let ids: Vec<ContactId> = duplicates.iter().map(|contact| contact.id).collect();
    check_request(survivor.id, &ids)?;
    if duplicates
        .iter()
        .any(|duplicate| duplicate.tenant_id != survivor.tenant_id)
    {
        return Err(DomainError::Internal(
            "merge planned across tenants".to_owned(),
        ));
    }
    let all: Vec<&Contact> = std::iter::once(survivor).chain(duplicates).collect();
    let mut winners = Vec::new();
    let mut merged = survivor.clone();
    let fields = &mut merged.fields;
    for (name, slot, read) in [
        (
            "display_name",
            &mut fields.display_name,
            (|c: &Contact| text(&c.fields.display_name)) as fn(&Contact) -> Option<String>,
        ),
        ("city", &mut fields.city, |c| text(&c.fields.city)),
        ("country", &mut fields.country, |c| text(&c.fields.country)),
        ("language", &mut fields.language, |c| {
            text(&c.fields.language)
        }),
        ("avatar_url", &mut fields.avatar_url, |c| {
            text(&c.fields.avatar_url)
        }),
    ] {
        if let Some(value) = fill(&all, name, read, String::clone, &mut winners) {
            *slot = value;
        }
    }
    let every = |read: &dyn Fn(&Contact) -> String| -> Vec<(ContactId, String)> {
        all.iter()
            .map(|contact| (contact.id, read(contact)))
            .collect()
    };
    if let Some(blocker) = all.iter().find(|contact| contact.fields.blocked) {
        let present = every(&|c| c.fields.blocked.to_string());
        compete(
            &mut winners,
            "blocked",
            &present,
            blocker.id,
            true.to_string(),
        );
        fields.blocked = true;
    }
    // The furthest stage; among equals, the first in [survivor, duplicates...].
    if let Some(furthest) = all.iter().rev().max_by_key(|c| c.fields.lifecycle_stage) {
        let present = every(&|c| c.fields.lifecycle_stage.as_str().to_owned());
        let stage = furthest.fields.lifecycle_stage;
        compete(
            &mut winners,
            "lifecycle_stage",
            &present,
            furthest.id,
            stage.as_str().to_owned(),
        );
        fields.lifecycle_stage = stage;
    }
    let ranked = all
        .iter()
        .filter_map(|contact| contact.tier.as_ref().map(|tier| (tier, contact.id)))
        .min_by_key(|(tier, _)| (tier.rank, tier.id));
    if let Some((tier, source)) = ranked {
        let present: Vec<(ContactId, String)> = all
            .iter()
            .filter_map(|c| c.tier.as_ref().map(|t| (c.id, t.id.to_string())))
            .collect();
        compete(
            &mut winners,
            "tier_id",
            &present,
            source,
            tier.id.to_string(),
        );
        fields.tier_id = Some(tier.id);
        merged.tier = Some(tier.clone());
    }
    if let Some(affiliation) = fill(
        &all,
        "organization_id",
        |c| {
            c.fields
                .affiliation
                .organization()
                .map(|_| c.fields.affiliation)
        },
        |affiliation| {
            affiliation
                .organization()
                .map(|id| id.to_string())
                .unwrap_or_default()
        },
        &mut winners,
    ) {
        merged.fields.affiliation = affiliation;
    }
    merged.identities = unite_identities(&all);
    merged.tags = all
        .iter()
        .flat_map(|contact| contact.tags.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    merged.custom_fields = unite_custom_values(&all, &mut winners);
    merged.engagement = unite_engagement(&all);
    Ok(MergePlan {
        merged,
        duplicates: ids,
        versions: all
            .iter()
            .map(|contact| (contact.id, contact.version))
            .collect(),
        winners,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A list over its limit gets one violation, on the list, and nothing
    /// in it is looked at.
    fn only_the_count(error: DomainError, field: &str) {
        let DomainError::InvalidArgument(violations) = error else {
            panic!("expected invalid argument");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(paths, [field]);
    }

    #[test]
    fn an_oversized_merge_is_refused_before_its_ids_are_read() {
        only_the_count(
            check_request(id(1), &vec![id(2); 10_000]).unwrap_err(),
            "duplicate_ids",
        );
    }
    use crate::contacts::{ContactFields, LifecycleStage};
    use crate::fields::CustomValues;
    use crate::identity::ContactIdentity;
    use crate::identity::IdentityKind;
    use crate::kernel::{OrganizationId, TenantId, TierId};
    use crate::organizations::Affiliation;
    use crate::tiers::{SlaPolicy, TierBadge};
    use proptest::prelude::*;
    use time::OffsetDateTime;
    use uuid::Uuid;

    fn id(n: u128) -> ContactId {
        ContactId::from_uuid(Uuid::from_u128(n))
    }

    fn tenant() -> TenantId {
        TenantId::from_uuid(Uuid::from_u128(7))
    }

    fn address(kind: IdentityKind, value: &str, primary: bool) -> ContactIdentity {
        ContactIdentity {
            kind,
            value: value.into(),
            raw: value.into(),
            primary,
        }
    }

    fn contact(n: u128) -> Contact {
        Contact {
            id: id(n),
            tenant_id: tenant(),
            fields: ContactFields::default(),
            identities: Vec::new(),
            tags: Vec::new(),
            custom_fields: CustomValues::new(),
            engagement: crate::contacts::Engagement::default(),
            tier: None,
            version: 3,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn tier(n: u128, rank: u32) -> TierBadge {
        TierBadge {
            id: TierId::from_uuid(Uuid::from_u128(n)),
            name: format!("tier {n}"),
            color: "#000000".into(),
            rank,
            sla: SlaPolicy::default(),
        }
    }

    #[test]
    fn requests_name_what_is_wrong() {
        let fields = |result: Result<(), DomainError>| match result {
            Err(DomainError::InvalidArgument(violations)) => {
                violations.into_iter().map(|v| v.field).collect::<Vec<_>>()
            }
            other => panic!("expected invalid argument, got {other:?}"),
        };
        assert_eq!(fields(check_request(id(1), &[])), ["duplicate_ids"]);
        assert_eq!(
            fields(check_request(id(1), &[id(2), id(1), id(2)])),
            ["duplicate_ids[1]", "duplicate_ids[2]"]
        );
        let many: Vec<ContactId> = (2..=12).map(id).collect();
        assert_eq!(fields(check_request(id(1), &many)), ["duplicate_ids"]);
        assert!(check_request(id(1), &many[..10]).is_ok());
    }

    #[test]
    fn the_survivor_wins_and_duplicates_fill_in_order() {
        let mut survivor = contact(1);
        survivor.fields.display_name = "Ana Souza".into();
        survivor.identities = vec![address(IdentityKind::Email, "ana@x.com", true)];
        survivor.tags = vec!["vip".into()];
        survivor
            .custom_fields
            .insert("plan".into(), FieldValue::Text("gold".into()));
        survivor
            .custom_fields
            .insert("teams".into(), FieldValue::MultiSelect(vec!["a".into()]));
        survivor.fields.lifecycle_stage = LifecycleStage::Customer;
        survivor.tier = Some(tier(20, 2));
        let mut first = contact(2);
        first.fields.display_name = "A. Souza".into();
        first.fields.city = "Lisbon".into();
        first.fields.blocked = true;
        first.identities = vec![
            address(IdentityKind::Email, "ana@work.com", true),
            address(IdentityKind::Phone, "+351912345678", true),
        ];
        first.tags = vec!["lead".into(), "vip".into()];
        first
            .custom_fields
            .insert("plan".into(), FieldValue::Text("silver".into()));
        first
            .custom_fields
            .insert("region".into(), FieldValue::Text("eu".into()));
        first.custom_fields.insert(
            "teams".into(),
            FieldValue::MultiSelect(vec!["b".into(), "a".into()]),
        );
        first.fields.lifecycle_stage = LifecycleStage::Active;
        first.tier = Some(tier(10, 1));
        first.fields.affiliation =
            Affiliation::Manual(OrganizationId::from_uuid(Uuid::from_u128(99)));
        let mut second = contact(3);
        second.fields.city = "Porto".into();
        second.identities = vec![address(IdentityKind::Instagram, "ana.souza", true)];

        let plan = plan(&survivor, &[first.clone(), second]).unwrap();
        let merged = &plan.merged;
        assert_eq!(merged.id, survivor.id);
        assert_eq!(merged.fields.display_name, "Ana Souza");
        assert_eq!(
            merged.fields.city, "Lisbon",
            "the first duplicate fills first"
        );
        assert!(merged.fields.blocked);
        assert_eq!(merged.fields.lifecycle_stage, LifecycleStage::Active);
        assert_eq!(merged.tier, first.tier, "rank 1 beats rank 2");
        assert_eq!(merged.fields.tier_id, first.tier.as_ref().map(|t| t.id));
        assert_eq!(merged.fields.affiliation, first.fields.affiliation);
        assert_eq!(merged.tags, ["lead", "vip"]);
        assert_eq!(
            merged.custom_fields.get("plan"),
            Some(&FieldValue::Text("gold".into()))
        );
        assert_eq!(
            merged.custom_fields.get("region"),
            Some(&FieldValue::Text("eu".into()))
        );
        assert_eq!(
            merged.custom_fields.get("teams"),
            Some(&FieldValue::MultiSelect(vec!["a".into(), "b".into()]))
        );
        let primaries: Vec<&str> = merged
            .identities
            .iter()
            .filter(|identity| identity.primary)
            .map(|identity| identity.value.as_str())
            .collect();
        assert_eq!(primaries, ["ana@x.com", "+351912345678", "ana.souza"]);
        assert_eq!(merged.identities.len(), 4);
        let won: Vec<(&str, ContactId)> = plan
            .winners
            .iter()
            .map(|winner| (winner.field.as_str(), winner.source))
            .collect();
        assert_eq!(
            won,
            [
                ("display_name", id(1)),
                ("city", id(2)),
                ("blocked", id(2)),
                ("lifecycle_stage", id(2)),
                ("tier_id", id(2)),
                ("custom_fields.plan", id(1)),
            ]
        );
        let city = &plan.winners[1];
        assert_eq!(city.value, "Lisbon");
        assert_eq!(
            city.overruled,
            [Overruled {
                source: id(3),
                value: "Porto".into()
            }],
            "the losing value is kept in the record"
        );
        assert_eq!(plan.winners[5].value, "gold");
        assert_eq!(plan.winners[5].overruled[0].value, "silver");
        assert_eq!(plan.versions, [(id(1), 3), (id(2), 3), (id(3), 3)]);
    }

    #[test]
    fn the_survivor_keeps_its_external_id_and_primaries() {
        // The survivor's addresses carry no primary flag (as rows written
        // before primaries were kept for every kind); the duplicate's do.
        let mut survivor = contact(1);
        survivor.identities = vec![
            address(IdentityKind::ExternalId, "crm-ana", false),
            address(IdentityKind::Email, "ana@x.com", false),
        ];
        let mut duplicate = contact(2);
        duplicate.identities = vec![
            address(IdentityKind::ExternalId, "crm-a-souza", true),
            address(IdentityKind::Email, "ana@work.com", true),
        ];
        let planned = plan(&survivor, std::slice::from_ref(&duplicate)).unwrap();
        let merged = &planned.merged;
        assert_eq!(merged.external_id(), Some("crm-ana"));
        let primaries: Vec<&str> = merged
            .identities
            .iter()
            .filter(|identity| identity.primary)
            .map(|identity| identity.value.as_str())
            .collect();
        assert_eq!(primaries, ["crm-ana", "ana@x.com"]);
        // Read back from a store (primary first, then in the order added),
        // the duplicate's older external id comes second: still the survivor's.
        let mut stored = merged.clone();
        stored.identities.sort_by_key(|identity| !identity.primary);
        assert_eq!(stored.external_id(), Some("crm-ana"));
        let mut reversed = merged.clone();
        reversed.identities.reverse();
        assert_eq!(reversed.external_id(), Some("crm-ana"));

        // A survivor without one takes the duplicates' external id.
        let mut bare = contact(3);
        bare.identities = vec![address(IdentityKind::Email, "bare@x.com", true)];
        let planned = plan(&bare, &[duplicate]).unwrap();
        assert_eq!(planned.merged.external_id(), Some("crm-a-souza"));
    }

    #[test]
    fn every_kind_of_child_has_a_table_of_its_own() {
        let tables: BTreeSet<&str> = ContactChild::ALL.iter().map(|c| c.table()).collect();
        assert_eq!(tables.len(), ContactChild::ALL.len());
    }

    fn arbitrary_contact(n: u128) -> impl Strategy<Value = Contact> {
        (
            proptest::collection::vec((0usize..3, 0u8..12, any::<bool>()), 0..6),
            proptest::collection::vec(0u8..6, 0..4),
            proptest::option::of((0u128..3, 1u32..3)),
            0usize..6,
        )
            .prop_map(move |(addresses, tags, tier_pick, stage)| {
                let mut contact = contact(n);
                let kinds = [
                    IdentityKind::Email,
                    IdentityKind::Phone,
                    IdentityKind::Webchat,
                ];
                for (kind, value, primary) in addresses {
                    // Values are unique per contact, as the store keeps them.
                    let value = format!("{n}-{value}");
                    if !contact
                        .identities
                        .iter()
                        .any(|i| i.kind == kinds[kind] && i.value == value)
                    {
                        let primary = primary
                            && !contact
                                .identities
                                .iter()
                                .any(|i| i.kind == kinds[kind] && i.primary);
                        contact
                            .identities
                            .push(address(kinds[kind], &value, primary));
                    }
                }
                contact.tags = tags
                    .into_iter()
                    .map(|t| format!("tag{t}"))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                contact.tier = tier_pick.map(|(tier_n, rank)| tier(100 + tier_n, rank));
                contact.fields.lifecycle_stage = LifecycleStage::ALL[stage];
                contact.engagement.conversation_count = u64::try_from(n).unwrap_or(0);
                contact
            })
    }

    proptest! {
        #[test]
        fn merging_loses_no_address_and_ignores_duplicate_order(
            survivor in arbitrary_contact(1),
            duplicates in proptest::collection::vec(0u128..1, 1..5).prop_flat_map(|seeds| {
                let count = seeds.len();
                (0..count).map(|i| arbitrary_contact(2 + i as u128)).collect::<Vec<_>>()
            }),
            rotate in 0usize..5,
        ) {
            let planned = plan(&survivor, &duplicates).unwrap();
            let before: BTreeSet<_> = std::iter::once(&survivor)
                .chain(&duplicates)
                .flat_map(|c| c.identities.iter().map(ContactIdentity::key))
                .collect();
            let after: Vec<_> = planned.merged.identities.iter().map(ContactIdentity::key).collect();
            prop_assert_eq!(after.len(), before.len(), "every address exactly once");
            prop_assert_eq!(after.iter().cloned().collect::<BTreeSet<_>>(), before);
            for kind in [IdentityKind::Email, IdentityKind::Phone, IdentityKind::Webchat] {
                let primaries = planned.merged.identities.iter().filter(|i| i.kind == kind && i.primary).count();
                prop_assert!(primaries <= 1);
            }
            let tags: BTreeSet<_> = std::iter::once(&survivor).chain(&duplicates).flat_map(|c| c.tags.iter().cloned()).collect();
            prop_assert_eq!(planned.merged.tags.iter().cloned().collect::<BTreeSet<_>>(), tags);
            let conversations: u64 = std::iter::once(&survivor).chain(&duplicates).map(|c| c.engagement.conversation_count).sum();
            prop_assert_eq!(planned.merged.engagement.conversation_count, conversations);

            let mut reordered = duplicates.clone();
            let len = reordered.len();
            reordered.rotate_left(rotate % len);
            let again = plan(&survivor, &reordered).unwrap();
            prop_assert_eq!(&again.merged.identities, &planned.merged.identities);
            prop_assert_eq!(&again.merged.tags, &planned.merged.tags);
            prop_assert_eq!(&again.merged.tier, &planned.merged.tier);
            prop_assert_eq!(again.merged.fields.lifecycle_stage, planned.merged.fields.lifecycle_stage);
            prop_assert_eq!(&again.merged.engagement, &planned.merged.engagement);
        }
    }
}
