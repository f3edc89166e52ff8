//! Planning a contact update as plain data: which identities a patch adds,
//! removes or restates, given what the contact holds, and what it may not do.

use super::service::merge_violations;
use crate::contacts;
use crate::contacts::{ContactDraft, ContactPatch, draft_violations};
use crate::fields;
use crate::identity;
use crate::kernel::tag;

use crate::contacts::ContactChange;
use crate::contacts::{Contact, ContactFields, LifecycleStage};
use crate::fields::{CustomValues, FieldDefinition, ValueChanges};
use crate::identity::ContactIdentity;
use crate::identity::{IdentityKind, Region};
use crate::kernel::DomainError;
use crate::kernel::OrganizationId;
use crate::organizations::Affiliation;
use crate::tiers::Tier;

/// Every field violation of a patch that can be found without the stored
/// contact, for the same purpose as [`draft_violations`].
pub fn patch_violations(patch: &ContactPatch, region: Region) -> Vec<crate::FieldViolation> {
    let fields = ContactFields {
        display_name: patch.display_name.clone().unwrap_or_default(),
        city: patch.city.clone().unwrap_or_default(),
        country: patch.country.clone().unwrap_or_default(),
        language: patch.language.clone().unwrap_or_default(),
        avatar_url: patch.avatar_url.clone().unwrap_or_default(),
        blocked: false,
        lifecycle_stage: LifecycleStage::default(),
        tier_id: None,
        affiliation: Affiliation::None,
    };
    let identities = [&patch.emails, &patch.phones, &patch.channel_identities]
        .into_iter()
        .flatten()
        .flatten()
        .cloned()
        .chain(
            patch
                .external_id
                .clone()
                .filter(|input| !input.raw.is_empty()),
        )
        .collect();
    draft_violations(
        &ContactDraft {
            fields,
            identities,
            tags: patch.tags.clone().unwrap_or_default(),
            custom_fields: ValueChanges::default(),
        },
        region,
    )
}

/// Computes the change a patch makes to a contact.
///
/// # Errors
/// `InvalidArgument` listing every bad field.
pub fn plan_update(
    current: &Contact,
    patch: &ContactPatch,
    tier: Option<&Tier>,
    definitions: &[FieldDefinition],
    auto_org: Option<OrganizationId>,
    region: Region,
    now: time::OffsetDateTime,
) -> Result<ContactChange, DomainError> {
    let mut fields = current.fields.clone();
    let replace = |target: &mut String, value: &Option<String>| {
        if let Some(value) = value {
            target.clone_from(value);
        }
    };
    replace(&mut fields.display_name, &patch.display_name);
    replace(&mut fields.city, &patch.city);
    replace(&mut fields.country, &patch.country);
    replace(&mut fields.language, &patch.language);
    replace(&mut fields.avatar_url, &patch.avatar_url);
    if let Some(blocked) = patch.blocked {
        fields.blocked = blocked;
    }
    if let Some(stage) = patch.lifecycle_stage {
        fields.lifecycle_stage = stage;
    }
    if let Some(tier_id) = patch.tier_id {
        fields.tier_id = tier_id;
    }
    match (patch.affiliation, auto_org) {
        (Some(affiliation), _) => fields.affiliation = affiliation,
        (None, Some(org)) if fields.affiliation == Affiliation::None => {
            fields.affiliation = Affiliation::Auto(org);
        }
        (None, _) => {}
    }
    let fields = contacts::validate_fields(fields);
    let tags = match &patch.tags {
        Some(raw) => tag::normalize_tags(raw, "tags"),
        None => Ok(current.tags.clone()),
    };
    let fields = merge_violations(fields, tags);
    let custom = match &patch.custom_fields {
        Some(changes) => {
            fields::apply_values(&current.custom_fields, changes, definitions, false, region)
                .map_err(DomainError::InvalidArgument)
        }
        None => Ok(current.custom_fields.clone()),
    };
    let fields = merge_violations(fields, custom);

    // Kinds whose whole list the patch replaces keep nothing of the old list.
    let replaced = |kind: IdentityKind| match kind {
        IdentityKind::Email => patch.emails.is_some(),
        IdentityKind::Phone => patch.phones.is_some(),
        IdentityKind::ExternalId => patch.external_id.is_some(),
        _ => patch.channel_identities.is_some(),
    };
    // Each replacement list may hold only its own kinds.
    let mut fresh_inputs = Vec::new();
    let mut violations = Vec::new();
    for (list, name) in [
        (&patch.emails, List::Emails),
        (&patch.phones, List::Phones),
        (&patch.channel_identities, List::Channel),
    ] {
        for input in list.iter().flatten() {
            if List::of(input.kind) == Some(name) {
                fresh_inputs.push(input.clone());
            } else {
                violations.push(crate::FieldViolation::new(
                    input.field.clone(),
                    "this kind of address belongs in another list",
                ));
            }
        }
    }
    if let Some(external_id) = &patch.external_id
        && !external_id.raw.is_empty()
    {
        fresh_inputs.push(external_id.clone());
    }
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument(violations));
    }
    // Kept addresses keep their stored value (even if the tenant's region
    // changed since), so a kept address never moves; only new ones are
    // normalised.
    let kept: Vec<ContactIdentity> = current
        .identities
        .iter()
        .filter(|held| !replaced(held.kind))
        .cloned()
        .collect();
    let fresh = identity::normalize_identities(fresh_inputs, region);
    let (((mut fields, mut tags), custom_fields), fresh) = merge_violations(fields, fresh)?;
    // Putting a contact on a tier adds the tier's auto-tags; taking it off
    // removes nothing, since a tag may have been added for other reasons.
    if let Some(tier) = tier {
        tags = tag::union(&tags, &tier.fields.auto_tags);
    }
    if tags.len() > tag::MAX_TAGS {
        return Err(DomainError::invalid(
            "tags",
            format!("may hold at most {} tags", tag::MAX_TAGS),
        ));
    }
    let mut identities = kept;
    for identity in fresh {
        if identities.iter().any(|held| held.key() == identity.key()) {
            return Err(DomainError::invalid(
                "",
                format!(
                    "{} {:?} is listed twice",
                    identity.kind.as_str(),
                    identity.value
                ),
            ));
        }
        identities.push(identity);
    }
    if identities.len() > identity::MAX_IDENTITIES {
        return Err(DomainError::invalid(
            "",
            format!("may hold at most {} addresses", identity::MAX_IDENTITIES),
        ));
    }
    identity::ensure_primaries(&mut identities);
    if fields.display_name.is_empty() {
        fields.display_name = identity::default_display_name(&identities);
    }
    Ok(diff(current, fields, identities, tags, custom_fields, now))
}

/// The replacement lists of a patch, by the kinds they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Emails,
    Phones,
    Channel,
}

impl List {
    /// The list a kind of address belongs in; the external id has a field of its own.
    fn of(kind: IdentityKind) -> Option<List> {
        match kind {
            IdentityKind::Email => Some(List::Emails),
            IdentityKind::Phone => Some(List::Phones),
            IdentityKind::ExternalId => None,
            IdentityKind::Instagram
            | IdentityKind::Telegram
            | IdentityKind::Messenger
            | IdentityKind::Webchat
            | IdentityKind::WhatsappUserId => Some(List::Channel),
        }
    }
}

/// The change that turns `current` into a contact with these fields and identities.
pub(crate) fn diff(
    current: &Contact,
    fields: ContactFields,
    identities: Vec<ContactIdentity>,
    tags: Vec<String>,
    custom_fields: CustomValues,
    now: time::OffsetDateTime,
) -> ContactChange {
    let tags_add = tags
        .iter()
        .filter(|tag| !current.tags.contains(tag))
        .cloned()
        .collect();
    let tags_remove = current
        .tags
        .iter()
        .filter(|tag| !tags.contains(tag))
        .cloned()
        .collect();
    let remove = current
        .identities
        .iter()
        .filter(|held| !identities.iter().any(|kept| kept.key() == held.key()))
        .map(ContactIdentity::key)
        .collect();
    let mut add = Vec::new();
    let mut restate = Vec::new();
    for identity in identities {
        match current
            .identities
            .iter()
            .find(|held| held.key() == identity.key())
        {
            None => add.push(identity),
            Some(held) if held != &identity => restate.push(identity),
            Some(_) => {}
        }
    }
    ContactChange {
        tenant_id: current.tenant_id,
        id: current.id,
        expected_version: current.version,
        fields,
        add,
        remove,
        restate,
        tags_add,
        tags_remove,
        custom_fields,
        now,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::identity::{IdentityInput, IdentityKey};
    use crate::kernel::ContactId;
    use crate::tenancy::Tenant;

    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    fn held(kind: IdentityKind, value: &str, primary: bool) -> ContactIdentity {
        ContactIdentity {
            kind,
            value: value.into(),
            raw: value.into(),
            primary,
        }
    }

    #[test]
    fn replacing_emails_diffs_against_what_is_held() {
        let tenant = Tenant::for_tests();
        let current = Contact {
            id: ContactId::from_uuid(Uuid::now_v7()),
            tenant_id: tenant.id,
            fields: ContactFields {
                display_name: "Ana".into(),
                ..ContactFields::default()
            },
            identities: vec![
                held(IdentityKind::Email, "a@x.com", true),
                held(IdentityKind::Email, "b@x.com", false),
                held(IdentityKind::Phone, "+16502530000", true),
            ],
            tags: Vec::new(),
            tier: None,
            custom_fields: Default::default(),
            engagement: Default::default(),
            version: 4,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        };
        let patch = ContactPatch {
            emails: Some(vec![
                IdentityInput {
                    kind: IdentityKind::Email,
                    raw: "b@x.com".into(),
                    primary: true,
                    field: "emails[0].address".into(),
                },
                IdentityInput {
                    kind: IdentityKind::Email,
                    raw: "c@x.com".into(),
                    primary: false,
                    field: "emails[1].address".into(),
                },
            ]),
            ..ContactPatch::default()
        };
        let change = plan_update(
            &current,
            &patch,
            None,
            &[],
            None,
            tenant.default_region,
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(change.expected_version, 4);
        assert_eq!(
            change.remove,
            [IdentityKey {
                kind: IdentityKind::Email,
                value: "a@x.com".into()
            }]
        );
        assert_eq!(change.add, [held(IdentityKind::Email, "c@x.com", false)]);
        assert_eq!(change.restate, [held(IdentityKind::Email, "b@x.com", true)]);
    }

    #[test]
    fn a_patch_may_not_smuggle_a_kind_into_the_wrong_list() {
        let tenant = Tenant::for_tests();
        let current = Contact::for_tests(ContactId::from_uuid(Uuid::now_v7()), tenant.id);
        let patch = ContactPatch {
            channel_identities: Some(vec![IdentityInput {
                kind: IdentityKind::Email,
                raw: "a@x.com".into(),
                primary: false,
                field: "identities[0]".into(),
            }]),
            ..ContactPatch::default()
        };
        let error = plan_update(
            &current,
            &patch,
            None,
            &[],
            None,
            tenant.default_region,
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap_err();
        assert!(matches!(error, DomainError::InvalidArgument(v) if v[0].field == "identities[0]"));
    }
}
