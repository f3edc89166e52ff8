//! Contacts between protobuf and the domain: drafts for create, patches for
//! update, the resource for responses, and the enums they use.

use crm_domain::contacts::{Contact, ContactFields, LifecycleStage};
use crm_domain::contacts::{ContactDraft, ContactPatch};
use crm_domain::identity::IdentityInput;
use crm_domain::identity::{MatchedBy, SenderInput};
use crm_domain::{Channel, DomainError, FieldViolation, IdentityKind, OrganizationId, TierId};
use crm_proto::v1 as pb;

use super::{custom_field, gather, optional_id, tier, timestamp};
use crm_domain::fields::ValueChanges;
use crm_domain::organizations::Affiliation;

/// Fields UpdateContact can change.
pub(crate) const UPDATABLE: [&str; 15] = [
    "display_name",
    "emails",
    "phones",
    "identities",
    "external_id",
    "city",
    "country",
    "language",
    "avatar_url",
    "blocked",
    "lifecycle_stage",
    "tier_id",
    "tags",
    "organization_id",
    "custom_fields",
];

/// Addresses of a proto contact as domain inputs, each with its request path.
struct Addresses {
    emails: Vec<IdentityInput>,
    phones: Vec<IdentityInput>,
    channel: Vec<IdentityInput>,
    external_id: Option<IdentityInput>,
}

fn addresses(
    emails: Vec<pb::EmailAddress>,
    phones: Vec<pb::PhoneNumber>,
    identities: Vec<pb::Identity>,
    external_id: String,
    violations: &mut Vec<FieldViolation>,
) -> Addresses {
    let emails = emails
        .into_iter()
        .enumerate()
        .map(|(index, email)| {
            let pb::EmailAddress {
                address,
                normalized_address: _,
                primary,
            } = email;
            IdentityInput {
                kind: IdentityKind::Email,
                raw: address,
                primary,
                field: format!("emails[{index}].address"),
            }
        })
        .collect();
    let phones = phones
        .into_iter()
        .enumerate()
        .map(|(index, phone)| {
            let pb::PhoneNumber {
                number,
                e164: _,
                primary,
            } = phone;
            IdentityInput {
                kind: IdentityKind::Phone,
                raw: number,
                primary,
                field: format!("phones[{index}].number"),
            }
        })
        .collect();
    let channel = identities
        .into_iter()
        .enumerate()
        .filter_map(|(index, identity)| {
            let pb::Identity {
                kind,
                value,
                normalized_value: _,
            } = identity;
            match identity_kind(kind, &format!("identities[{index}].kind")) {
                Ok(IdentityKind::Email | IdentityKind::Phone) => {
                    violations.push(FieldViolation::new(
                        format!("identities[{index}].kind"),
                        "email addresses and phone numbers belong in `emails` and `phones`",
                    ));
                    None
                }
                Ok(kind) => Some(IdentityInput {
                    kind,
                    raw: value,
                    primary: false,
                    field: format!("identities[{index}].value"),
                }),
                Err(violation) => {
                    violations.push(violation);
                    None
                }
            }
        })
        .collect();
    let external_id = Some(IdentityInput {
        kind: IdentityKind::ExternalId,
        raw: external_id,
        primary: false,
        field: "external_id".to_owned(),
    });
    Addresses {
        emails,
        phones,
        channel,
        external_id,
    }
}

/// A create request's contact as a draft, with the violations only the
/// protobuf side can see (unknown enum values, misplaced kinds). The caller
/// reports those together with the domain's own checks of the draft. Paths
/// are relative to the contact message, as the domain's are; the service
/// scopes both at once.
pub(crate) fn draft(contact: pb::Contact) -> (ContactDraft, Vec<FieldViolation>) {
    let pb::Contact {
        id: _,
        display_name,
        emails,
        phones,
        identities,
        external_id,
        city,
        country,
        language,
        avatar_url,
        blocked,
        lifecycle_stage,
        create_time: _,
        update_time: _,
        etag: _,
        tier_id,
        tier: _,
        tags,
        custom_fields,
        organization_id,
        organization_link: _,
        engagement: _,
        redirected_from: _,
    } = contact;
    let mut violations = Vec::new();
    let custom_fields = ValueChanges {
        replace_all: false,
        values: custom_field::values(custom_fields, "", &mut violations)
            .into_iter()
            .map(|(key, value)| (key, Some(value)))
            .collect(),
    };
    let tier_id = gather(optional_id::<TierId>(&tier_id, "tier_id"), &mut violations).flatten();
    let affiliation = match gather(
        optional_id::<OrganizationId>(&organization_id, "organization_id"),
        &mut violations,
    ) {
        Some(Some(id)) => Affiliation::Manual(id),
        Some(None) | None => Affiliation::None,
    };
    let stage = match lifecycle_stage_from(lifecycle_stage, "lifecycle_stage") {
        Ok(stage) => stage.unwrap_or_default(),
        Err(violation) => {
            violations.push(violation);
            LifecycleStage::default()
        }
    };
    let addresses = addresses(emails, phones, identities, external_id, &mut violations);
    let mut inputs = addresses.emails;
    inputs.extend(addresses.phones);
    inputs.extend(addresses.channel);
    inputs.extend(addresses.external_id.filter(|input| !input.raw.is_empty()));
    let draft = ContactDraft {
        fields: ContactFields {
            display_name,
            city,
            country,
            language,
            avatar_url,
            blocked,
            lifecycle_stage: stage,
            tier_id,
            affiliation,
        },
        identities: inputs,
        tags,
        custom_fields,
    };
    (draft, violations)
}

/// An update request's contact and mask as a patch, with the violations only
/// the protobuf side can see (as for [`draft`]). A bad mask fails at once.
pub(crate) fn patch(
    contact: pb::Contact,
    mask: Option<prost_types::FieldMask>,
) -> Result<(ContactPatch, Vec<FieldViolation>), DomainError> {
    let pb::Contact {
        id: _,
        display_name,
        emails,
        phones,
        identities,
        external_id,
        city,
        country,
        language,
        avatar_url,
        blocked,
        lifecycle_stage,
        create_time: _,
        update_time: _,
        etag: _,
        tier_id,
        tier: _,
        tags,
        custom_fields,
        organization_id,
        organization_link: _,
        engagement: _,
        redirected_from: _,
    } = contact;
    let (mask, custom_keys) = custom_field::split_mask(mask);
    let mut implied = Vec::new();
    for (name, set) in [
        ("display_name", !display_name.is_empty()),
        ("emails", !emails.is_empty()),
        ("phones", !phones.is_empty()),
        ("identities", !identities.is_empty()),
        ("external_id", !external_id.is_empty()),
        ("city", !city.is_empty()),
        ("country", !country.is_empty()),
        ("language", !language.is_empty()),
        ("avatar_url", !avatar_url.is_empty()),
        ("blocked", blocked),
        ("lifecycle_stage", lifecycle_stage != 0),
        ("tier_id", !tier_id.is_empty()),
        ("tags", !tags.is_empty()),
        ("organization_id", !organization_id.is_empty()),
    ] {
        if set {
            implied.push(name);
        }
    }
    let mask_given = mask.is_some() || custom_keys.is_some();
    let mask = custom_field::parse_mask(mask, custom_keys.as_ref(), &UPDATABLE, implied)?;
    let mut violations = Vec::new();
    let custom_fields = custom_field::value_changes(
        &mask,
        custom_keys,
        mask_given,
        custom_fields,
        "",
        &mut violations,
    );
    let stage = if mask.has("lifecycle_stage") {
        match lifecycle_stage_from(lifecycle_stage, "lifecycle_stage") {
            Ok(Some(stage)) => Some(stage),
            Ok(None) => {
                violations.push(FieldViolation::new(
                    "lifecycle_stage",
                    "must be set when named in update_mask",
                ));
                None
            }
            Err(violation) => {
                violations.push(violation);
                None
            }
        }
    } else {
        None
    };
    let tier_id = if mask.has("tier_id") {
        gather(optional_id::<TierId>(&tier_id, "tier_id"), &mut violations)
    } else {
        None
    };
    let addresses = addresses(emails, phones, identities, external_id, &mut violations);
    let pick = |field: &str, value: String| mask.has(field).then_some(value);
    let patch = ContactPatch {
        display_name: pick("display_name", display_name),
        city: pick("city", city),
        country: pick("country", country),
        language: pick("language", language),
        avatar_url: pick("avatar_url", avatar_url),
        blocked: mask.has("blocked").then_some(blocked),
        lifecycle_stage: stage,
        emails: mask.has("emails").then_some(addresses.emails),
        phones: mask.has("phones").then_some(addresses.phones),
        channel_identities: mask.has("identities").then_some(addresses.channel),
        external_id: if mask.has("external_id") {
            addresses.external_id
        } else {
            None
        },
        tier_id,
        tags: mask.has("tags").then_some(tags),
        custom_fields,
        affiliation: if mask.has("organization_id") {
            gather(
                optional_id::<OrganizationId>(&organization_id, "organization_id"),
                &mut violations,
            )
            .map(|id| id.map_or(Affiliation::Detached, Affiliation::Manual))
        } else {
            None
        },
    };
    Ok((patch, violations))
}

/// The API resource for a contact.
pub(crate) fn to_proto(contact: &Contact) -> pb::Contact {
    let Contact {
        id,
        tenant_id: _,
        fields,
        identities,
        tags,
        tier: badge,
        custom_fields,
        engagement,
        version: _,
        create_time,
        update_time,
    } = contact;
    let ContactFields {
        display_name,
        city,
        country,
        language,
        avatar_url,
        blocked,
        lifecycle_stage,
        tier_id,
        affiliation,
    } = fields;
    let mut emails = Vec::new();
    let mut phones = Vec::new();
    let mut channel = Vec::new();
    // A merged contact may hold several external ids; it shows its primary one.
    let external_id = contact.external_id().unwrap_or_default().to_owned();
    for identity in identities {
        match identity.kind {
            IdentityKind::Email => emails.push(pb::EmailAddress {
                address: identity.raw.clone(),
                normalized_address: identity.value.clone(),
                primary: identity.primary,
            }),
            IdentityKind::Phone => phones.push(pb::PhoneNumber {
                number: identity.raw.clone(),
                e164: identity.value.clone(),
                primary: identity.primary,
            }),
            IdentityKind::ExternalId => {}
            kind => channel.push(pb::Identity {
                kind: identity_kind_to_proto(kind) as i32,
                value: identity.raw.clone(),
                normalized_value: identity.value.clone(),
            }),
        }
    }
    pb::Contact {
        id: id.to_string(),
        display_name: display_name.clone(),
        emails,
        phones,
        identities: channel,
        external_id,
        city: city.clone(),
        country: country.clone(),
        language: language.clone(),
        avatar_url: avatar_url.clone(),
        blocked: *blocked,
        lifecycle_stage: lifecycle_stage_to_proto(*lifecycle_stage) as i32,
        create_time: Some(timestamp(*create_time)),
        update_time: Some(timestamp(*update_time)),
        etag: crate::token::etag(contact.version),
        tier_id: tier_id.map(|id| id.to_string()).unwrap_or_default(),
        tier: badge.as_ref().map(tier::summary),
        tags: tags.clone(),
        custom_fields: custom_field::values_to_proto(custom_fields),
        organization_id: affiliation
            .organization()
            .map(|id| id.to_string())
            .unwrap_or_default(),
        organization_link: match affiliation {
            Affiliation::None => pb::OrganizationLink::Unspecified,
            Affiliation::Auto(_) => pb::OrganizationLink::Auto,
            Affiliation::Manual(_) => pb::OrganizationLink::Manual,
            Affiliation::Detached => pb::OrganizationLink::Detached,
        } as i32,
        engagement: Some(pb::Engagement {
            conversation_count: i64::try_from(engagement.conversation_count).unwrap_or(i64::MAX),
            message_count: i64::try_from(engagement.message_count).unwrap_or(i64::MAX),
            first_contact_time: engagement.first_contact.map(timestamp),
            last_contact_time: engagement.last_contact.map(timestamp),
            average_csat: engagement.average_csat().unwrap_or_default(),
            csat_rating_count: i64::try_from(engagement.csat_count).unwrap_or(i64::MAX),
            channels: engagement
                .channels
                .iter()
                .map(|channel| channel_to_proto(*channel) as i32)
                .collect(),
        }),
        redirected_from: String::new(),
    }
}

/// An identity kind from the API; email and phone included, unspecified refused.
pub(crate) fn identity_kind(value: i32, field: &str) -> Result<IdentityKind, FieldViolation> {
    match pb::IdentityKind::try_from(value) {
        Ok(pb::IdentityKind::Email) => Ok(IdentityKind::Email),
        Ok(pb::IdentityKind::Phone) => Ok(IdentityKind::Phone),
        Ok(pb::IdentityKind::Instagram) => Ok(IdentityKind::Instagram),
        Ok(pb::IdentityKind::Telegram) => Ok(IdentityKind::Telegram),
        Ok(pb::IdentityKind::Messenger) => Ok(IdentityKind::Messenger),
        Ok(pb::IdentityKind::Webchat) => Ok(IdentityKind::Webchat),
        Ok(pb::IdentityKind::WhatsappUserId) => Ok(IdentityKind::WhatsappUserId),
        Ok(pb::IdentityKind::Unspecified) => Err(FieldViolation::new(field, "is required")),
        Err(_) => Err(FieldViolation::new(
            field,
            format!("{value} is not an IdentityKind"),
        )),
    }
}

pub(crate) fn identity_kind_to_proto(kind: IdentityKind) -> pb::IdentityKind {
    match kind {
        IdentityKind::Email => pb::IdentityKind::Email,
        IdentityKind::Phone => pb::IdentityKind::Phone,
        IdentityKind::Instagram => pb::IdentityKind::Instagram,
        IdentityKind::Telegram => pb::IdentityKind::Telegram,
        IdentityKind::Messenger => pb::IdentityKind::Messenger,
        IdentityKind::Webchat => pb::IdentityKind::Webchat,
        IdentityKind::WhatsappUserId => pb::IdentityKind::WhatsappUserId,
        // External ids are a field of their own in the API, never listed as identities.
        IdentityKind::ExternalId => pb::IdentityKind::Unspecified,
    }
}

/// A lifecycle stage from the API; `None` for unspecified.
fn lifecycle_stage_from(value: i32, field: &str) -> Result<Option<LifecycleStage>, FieldViolation> {
    match pb::LifecycleStage::try_from(value) {
        Ok(pb::LifecycleStage::Unspecified) => Ok(None),
        Ok(pb::LifecycleStage::Prospect) => Ok(Some(LifecycleStage::Prospect)),
        Ok(pb::LifecycleStage::Customer) => Ok(Some(LifecycleStage::Customer)),
        Ok(pb::LifecycleStage::Active) => Ok(Some(LifecycleStage::Active)),
        Ok(pb::LifecycleStage::AtRisk) => Ok(Some(LifecycleStage::AtRisk)),
        Ok(pb::LifecycleStage::Churned) => Ok(Some(LifecycleStage::Churned)),
        Ok(pb::LifecycleStage::Vip) => Ok(Some(LifecycleStage::Vip)),
        Err(_) => Err(FieldViolation::new(
            field,
            format!("{value} is not a LifecycleStage"),
        )),
    }
}

fn lifecycle_stage_to_proto(stage: LifecycleStage) -> pb::LifecycleStage {
    match stage {
        LifecycleStage::Prospect => pb::LifecycleStage::Prospect,
        LifecycleStage::Customer => pb::LifecycleStage::Customer,
        LifecycleStage::Active => pb::LifecycleStage::Active,
        LifecycleStage::AtRisk => pb::LifecycleStage::AtRisk,
        LifecycleStage::Churned => pb::LifecycleStage::Churned,
        LifecycleStage::Vip => pb::LifecycleStage::Vip,
    }
}

/// A ResolveSender request as the domain's input.
pub(crate) fn sender(request: pb::ResolveSenderRequest) -> Result<SenderInput, DomainError> {
    let pb::ResolveSenderRequest {
        channel,
        address,
        display_name,
        email,
        phone,
        external_id,
    } = request;
    let channel = channel_from(channel, "channel")?;
    Ok(SenderInput {
        channel,
        address,
        display_name,
        email,
        phone,
        external_id,
    })
}

/// How a resolution matched, for the API.
/// A channel from a request field.
pub(crate) fn channel_from(value: i32, field: &str) -> Result<Channel, DomainError> {
    Ok(match pb::Channel::try_from(value) {
        Ok(pb::Channel::Email) => Channel::Email,
        Ok(pb::Channel::Phone) => Channel::Phone,
        Ok(pb::Channel::Sms) => Channel::Sms,
        Ok(pb::Channel::Voice) => Channel::Voice,
        Ok(pb::Channel::Whatsapp) => Channel::Whatsapp,
        Ok(pb::Channel::Messenger) => Channel::Messenger,
        Ok(pb::Channel::Instagram) => Channel::Instagram,
        Ok(pb::Channel::Telegram) => Channel::Telegram,
        Ok(pb::Channel::Webchat) => Channel::Webchat,
        Ok(pb::Channel::Unspecified) => return Err(DomainError::invalid(field, "is required")),
        Err(_) => {
            return Err(DomainError::invalid(
                field,
                format!("{value} is not a Channel"),
            ));
        }
    })
}

/// A channel for a response.
pub(crate) fn channel_to_proto(channel: Channel) -> pb::Channel {
    match channel {
        Channel::Email => pb::Channel::Email,
        Channel::Phone => pb::Channel::Phone,
        Channel::Sms => pb::Channel::Sms,
        Channel::Voice => pb::Channel::Voice,
        Channel::Whatsapp => pb::Channel::Whatsapp,
        Channel::Messenger => pb::Channel::Messenger,
        Channel::Instagram => pb::Channel::Instagram,
        Channel::Telegram => pb::Channel::Telegram,
        Channel::Webchat => pb::Channel::Webchat,
    }
}

pub(crate) fn matched_by(matched: Option<MatchedBy>) -> pb::MatchedBy {
    match matched {
        None => pb::MatchedBy::Unspecified,
        Some(MatchedBy::Address) => pb::MatchedBy::Address,
        Some(MatchedBy::ExternalId) => pb::MatchedBy::ExternalId,
        Some(MatchedBy::Email) => pb::MatchedBy::Email,
        Some(MatchedBy::Phone) => pb::MatchedBy::Phone,
    }
}

pub(crate) fn identity_input(
    identity: Option<pb::Identity>,
    primary: bool,
) -> Result<IdentityInput, DomainError> {
    let pb::Identity {
        kind,
        value,
        normalized_value: _,
    } = super::required(identity, "identity")?;
    let kind = identity_kind(kind, "identity.kind")
        .map_err(|violation| DomainError::InvalidArgument(vec![violation]))?;
    Ok(IdentityInput {
        kind,
        raw: value,
        primary,
        field: "value".to_owned(),
    })
}
