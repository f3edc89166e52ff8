//! The contact: one person the tenant talks to, the fields that describe
//! them, and the identities (addresses) they are recognised by. Validation of
//! every field a caller can write lives here, as plain functions.

use time::OffsetDateTime;

use crate::error::{DomainError, FieldViolation};
use crate::identity::{self, IdentityKind, Region};
use crate::ids::{ContactId, TenantId, TierId};
use crate::tier::TierBadge;

/// Where the relationship stands, in order of progress (later is further along).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum LifecycleStage {
    /// Has written in but not bought.
    #[default]
    Prospect,
    /// Has bought.
    Customer,
    /// Buys and engages regularly.
    Active,
    /// Shows signs of leaving.
    AtRisk,
    /// Has left.
    Churned,
    /// Among the most valuable relationships.
    Vip,
}

impl LifecycleStage {
    /// Every stage, in order.
    pub const ALL: [LifecycleStage; 6] = [
        LifecycleStage::Prospect,
        LifecycleStage::Customer,
        LifecycleStage::Active,
        LifecycleStage::AtRisk,
        LifecycleStage::Churned,
        LifecycleStage::Vip,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Prospect => "prospect",
            LifecycleStage::Customer => "customer",
            LifecycleStage::Active => "active",
            LifecycleStage::AtRisk => "at_risk",
            LifecycleStage::Churned => "churned",
            LifecycleStage::Vip => "vip",
        }
    }

    /// Inverse of [`LifecycleStage::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|stage| stage.as_str() == text)
    }
}

/// The identity of an address: what uniqueness and matching are keyed on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityKey {
    /// The kind of address.
    pub kind: IdentityKind,
    /// The normalised value.
    pub value: String,
}

/// An address on a contact: normalised value, raw form and primary flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactIdentity {
    /// The kind of address.
    pub kind: IdentityKind,
    /// The normalised value the contact is matched by.
    pub value: String,
    /// The form the caller wrote, for display.
    pub raw: String,
    /// Whether this is the contact's primary address of its kind.
    pub primary: bool,
}

impl ContactIdentity {
    /// The key this identity is unique on.
    pub fn key(&self) -> IdentityKey {
        IdentityKey {
            kind: self.kind,
            value: self.value.clone(),
        }
    }
}

/// The describing fields of a contact: everything but id, addresses and bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactFields {
    /// How the contact is shown.
    pub display_name: String,
    /// City, free text.
    pub city: String,
    /// ISO 3166-1 alpha-2 country code, upper case, or empty.
    pub country: String,
    /// BCP 47 language tag, or empty.
    pub language: String,
    /// http(s) URL of a picture, or empty.
    pub avatar_url: String,
    /// Whether channels should block this contact's messages.
    pub blocked: bool,
    /// Where the relationship stands.
    pub lifecycle_stage: LifecycleStage,
    /// The customer tier, if any.
    pub tier_id: Option<TierId>,
    /// The organization it belongs to, and how it came to.
    pub affiliation: crate::organization::Affiliation,
}

/// A stored contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The contact's id.
    pub id: ContactId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// Its describing fields.
    pub fields: ContactFields,
    /// Every address it is recognised by, external id included.
    pub identities: Vec<ContactIdentity>,
    /// Its tags, normalised and sorted.
    pub tags: Vec<String>,
    /// Its custom-field values, by key.
    pub custom_fields: crate::custom_field::CustomValues,
    /// Figures derived from its conversations (read-only).
    pub engagement: crate::conversation::Engagement,
    /// The tier `fields.tier_id` names, as read with the contact; `None`
    /// when there is none (or it was deleted a moment ago).
    pub tier: Option<TierBadge>,
    /// Optimistic-concurrency version; starts at 1, grows on every change.
    pub version: i64,
    /// When it was created.
    pub create_time: OffsetDateTime,
    /// When it last changed.
    pub update_time: OffsetDateTime,
}

impl Contact {
    /// The identities of one kind, in stored order.
    pub fn identities_of(&self, kind: IdentityKind) -> impl Iterator<Item = &ContactIdentity> {
        self.identities
            .iter()
            .filter(move |identity| identity.kind == kind)
    }

    /// The external id, if one is set.
    pub fn external_id(&self) -> Option<&str> {
        self.identities_of(IdentityKind::ExternalId)
            .next()
            .map(|identity| identity.value.as_str())
    }

    /// Whether the contact holds this address.
    pub fn holds(&self, key: &IdentityKey) -> bool {
        self.identities
            .iter()
            .any(|identity| identity.kind == key.kind && identity.value == key.value)
    }

    /// The etag callers send back on updates.
    pub fn etag(&self) -> String {
        etag_for(self.version)
    }
}

/// The etag of a record at a version. Opaque to callers.
pub fn etag_for(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The version an etag names.
///
/// # Errors
/// `InvalidArgument` on `field` when the etag was not issued by this server.
pub fn version_from_etag(etag: &str, field: &str) -> Result<i64, DomainError> {
    etag.strip_prefix("W/\"")
        .and_then(|rest| rest.strip_suffix('"'))
        .and_then(|number| number.parse::<i64>().ok())
        .filter(|version| *version > 0)
        .ok_or_else(|| DomainError::invalid(field, "is not an etag this server issued"))
}

/// An address as a caller sent it, with the request path it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityInput {
    /// The kind of address.
    pub kind: IdentityKind,
    /// The address as written.
    pub raw: String,
    /// Whether the caller marked it primary.
    pub primary: bool,
    /// Where it sits in the request, for error details (`contact.emails[0].address`).
    pub field: String,
}

/// Limits on free-text fields, in characters.
pub const MAX_DISPLAY_NAME: usize = 256;
/// Limit on city names, in characters.
pub const MAX_CITY: usize = 128;
/// Limit on URLs, in bytes.
pub const MAX_URL: usize = 2048;
/// The most identities of all kinds one contact may hold.
pub const MAX_IDENTITIES: usize = 100;

/// Checks and canonicalises describing fields; `prefix` is the request path
/// of the contact message (`contact`).
///
/// # Errors
/// `InvalidArgument` listing every bad field.
pub fn validate_fields(fields: ContactFields, prefix: &str) -> Result<ContactFields, DomainError> {
    let mut violations = Vec::new();
    let mut fields = fields;
    fields.display_name = fields.display_name.trim().to_owned();
    if fields.display_name.chars().count() > MAX_DISPLAY_NAME {
        violations.push(FieldViolation::new(
            format!("{prefix}.display_name"),
            format!("must be at most {MAX_DISPLAY_NAME} characters"),
        ));
    }
    if fields.display_name.chars().any(char::is_control) {
        violations.push(FieldViolation::new(
            format!("{prefix}.display_name"),
            "must not contain control characters",
        ));
    }
    fields.city = fields.city.trim().to_owned();
    if fields.city.chars().count() > MAX_CITY || fields.city.chars().any(char::is_control) {
        violations.push(FieldViolation::new(
            format!("{prefix}.city"),
            format!("must be at most {MAX_CITY} characters without control characters"),
        ));
    }
    fields.country = fields.country.trim().to_ascii_uppercase();
    if !fields.country.is_empty() && Region::parse(&fields.country).is_err() {
        violations.push(FieldViolation::new(
            format!("{prefix}.country"),
            "must be an ISO 3166-1 alpha-2 country code such as \"BR\"",
        ));
    }
    fields.language = fields.language.trim().to_owned();
    if !fields.language.is_empty() && !is_language_tag(&fields.language) {
        violations.push(FieldViolation::new(
            format!("{prefix}.language"),
            "must be a BCP 47 language tag such as \"pt-BR\"",
        ));
    }
    fields.avatar_url = fields.avatar_url.trim().to_owned();
    if !fields.avatar_url.is_empty() && !is_http_url(&fields.avatar_url) {
        violations.push(FieldViolation::new(
            format!("{prefix}.avatar_url"),
            format!("must be an http or https URL of at most {MAX_URL} bytes"),
        ));
    }
    if violations.is_empty() {
        Ok(fields)
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

/// A well-formed BCP 47 tag: a 2-3 letter (or 4-8 letter) primary language
/// subtag, then 1-8 alphanumeric subtags separated by hyphens.
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts.next().is_some_and(|primary| {
        (2..=8).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic())
    });
    primary_ok
        && tag.len() <= 64
        && parts.all(|part| {
            (1..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric())
        })
}

pub(crate) fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    url.len() <= MAX_URL
        && rest.is_some_and(|rest| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        })
}

/// Normalises the addresses a caller sent for a contact, checking that none
/// repeats and that at most one email and one phone are primary. When none
/// of a kind is marked primary, the first of that kind becomes primary.
///
/// # Errors
/// `InvalidArgument` listing every bad address by its request path.
pub fn normalize_identities(
    inputs: Vec<IdentityInput>,
    region: Region,
) -> Result<Vec<ContactIdentity>, DomainError> {
    let mut violations = Vec::new();
    let mut identities: Vec<ContactIdentity> = Vec::with_capacity(inputs.len());
    if inputs.len() > MAX_IDENTITIES {
        return Err(DomainError::invalid(
            "contact",
            format!("may hold at most {MAX_IDENTITIES} addresses"),
        ));
    }
    for input in inputs {
        match identity::normalize(input.kind, &input.raw, region) {
            Ok(normalized) => {
                let key = IdentityKey {
                    kind: normalized.kind,
                    value: normalized.value.clone(),
                };
                if identities.iter().any(|existing| existing.key() == key) {
                    violations.push(FieldViolation::new(
                        input.field,
                        "repeats an address given earlier in the request",
                    ));
                } else {
                    identities.push(ContactIdentity {
                        kind: normalized.kind,
                        value: normalized.value,
                        raw: normalized.raw,
                        primary: input.primary,
                    });
                }
            }
            Err(error) => violations.push(FieldViolation::new(input.field, error.to_string())),
        }
    }
    for kind in [IdentityKind::Email, IdentityKind::Phone] {
        let primaries = identities
            .iter()
            .filter(|identity| identity.kind == kind && identity.primary)
            .count();
        if primaries > 1 {
            violations.push(FieldViolation::new(
                match kind {
                    IdentityKind::Email => "contact.emails",
                    _ => "contact.phones",
                },
                "at most one may be primary",
            ));
        }
    }
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument(violations));
    }
    ensure_primaries(&mut identities);
    Ok(identities)
}

/// Makes sure every kind that has addresses has exactly one primary among
/// them (the first, when none is marked), and that only email and phone carry
/// the flag. External ids and channel identities are never "primary".
pub fn ensure_primaries(identities: &mut [ContactIdentity]) {
    for kind in IdentityKind::ALL {
        let has_primary = identities
            .iter()
            .any(|identity| identity.kind == kind && identity.primary);
        let mut first = !has_primary;
        for identity in identities
            .iter_mut()
            .filter(|identity| identity.kind == kind)
        {
            if first {
                identity.primary = true;
                first = false;
            }
        }
    }
}

/// The display name a contact gets when none was given: the email's local
/// part, else the formatted phone, else the first other address as written.
pub fn default_display_name(identities: &[ContactIdentity]) -> String {
    let pick = |kind| identities.iter().find(|identity| identity.kind == kind);
    if let Some(email) = pick(IdentityKind::Email) {
        return identity::email_local_part(&email.raw).to_owned();
    }
    if let Some(phone) = pick(IdentityKind::Phone) {
        return identity::format_phone(&phone.value);
    }
    identities
        .iter()
        .find(|identity| identity.kind != IdentityKind::ExternalId)
        .map(|identity| match identity.kind {
            IdentityKind::Instagram | IdentityKind::Telegram => format!("@{}", identity.value),
            _ => identity.raw.clone(),
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fields() -> ContactFields {
        ContactFields::default()
    }

    #[test]
    fn fields_are_trimmed_and_canonical() {
        let out = validate_fields(
            ContactFields {
                display_name: "  Ana Souza ".into(),
                country: " br".into(),
                language: "pt-BR".into(),
                avatar_url: "https://cdn.example.com/a.png".into(),
                ..fields()
            },
            "contact",
        )
        .unwrap();
        assert_eq!(out.display_name, "Ana Souza");
        assert_eq!(out.country, "BR");
    }

    #[test]
    fn bad_fields_are_each_named() {
        let error = validate_fields(
            ContactFields {
                country: "Brazil".into(),
                language: "not a tag".into(),
                avatar_url: "ftp://x".into(),
                ..fields()
            },
            "contact",
        )
        .unwrap_err();
        let DomainError::InvalidArgument(violations) = error else {
            panic!("expected invalid argument");
        };
        let named: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            named,
            ["contact.country", "contact.language", "contact.avatar_url"]
        );
    }

    #[test]
    fn language_tags() {
        for (tag, ok) in [
            ("en", true),
            ("pt-BR", true),
            ("zh-Hant-TW", true),
            ("e", false),
            ("en_US", false),
            ("en-", false),
        ] {
            assert_eq!(is_language_tag(tag), ok, "{tag}");
        }
    }

    fn input(kind: IdentityKind, raw: &str, primary: bool, field: &str) -> IdentityInput {
        IdentityInput {
            kind,
            raw: raw.into(),
            primary,
            field: field.into(),
        }
    }

    #[test]
    fn first_address_of_a_kind_becomes_primary() {
        let region = Region::parse("US").unwrap();
        let identities = normalize_identities(
            vec![
                input(IdentityKind::Email, "A@x.com", false, "e0"),
                input(IdentityKind::Email, "b@x.com", false, "e1"),
                input(IdentityKind::Phone, "+1 650 253 0000", false, "p0"),
            ],
            region,
        )
        .unwrap();
        let flags: Vec<_> = identities.iter().map(|i| i.primary).collect();
        assert_eq!(flags, [true, false, true]);
        assert_eq!(identities[0].value, "a@x.com");
        assert_eq!(identities[0].raw, "A@x.com");
    }

    #[test]
    fn repeated_and_invalid_addresses_are_named() {
        let region = Region::parse("US").unwrap();
        let error = normalize_identities(
            vec![
                input(
                    IdentityKind::Email,
                    "a@x.com",
                    false,
                    "contact.emails[0].address",
                ),
                input(
                    IdentityKind::Email,
                    "A@X.com ",
                    false,
                    "contact.emails[1].address",
                ),
                input(
                    IdentityKind::Phone,
                    "not a phone",
                    false,
                    "contact.phones[0].number",
                ),
            ],
            region,
        )
        .unwrap_err();
        let DomainError::InvalidArgument(violations) = error else {
            panic!("expected invalid argument");
        };
        let named: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            named,
            ["contact.emails[1].address", "contact.phones[0].number"]
        );
    }

    #[test]
    fn two_primaries_are_refused() {
        let region = Region::parse("US").unwrap();
        let error = normalize_identities(
            vec![
                input(IdentityKind::Email, "a@x.com", true, "e0"),
                input(IdentityKind::Email, "b@x.com", true, "e1"),
            ],
            region,
        )
        .unwrap_err();
        assert!(matches!(error, DomainError::InvalidArgument(v) if v[0].field == "contact.emails"));
    }

    #[test]
    fn default_display_names() {
        let identity = |kind, value: &str, raw: &str| ContactIdentity {
            kind,
            value: value.into(),
            raw: raw.into(),
            primary: true,
        };
        assert_eq!(
            default_display_name(&[identity(
                IdentityKind::Email,
                "john.doe@x.com",
                "John.Doe@x.com"
            )]),
            "John.Doe"
        );
        assert_eq!(
            default_display_name(&[identity(IdentityKind::Phone, "+16502530000", "6502530000")]),
            identity::format_phone("+16502530000")
        );
        assert_eq!(
            default_display_name(&[identity(IdentityKind::Instagram, "ana", "@Ana")]),
            "@ana"
        );
        assert_eq!(default_display_name(&[]), "");
    }

    #[test]
    fn etags_round_trip() {
        assert_eq!(version_from_etag(&etag_for(7), "etag"), Ok(7));
        assert!(version_from_etag("7", "etag").is_err());
        assert!(version_from_etag("W/\"-1\"", "etag").is_err());
    }

    #[test]
    fn lifecycle_stages_round_trip_in_order() {
        for stage in LifecycleStage::ALL {
            assert_eq!(LifecycleStage::parse(stage.as_str()), Some(stage));
        }
        assert!(LifecycleStage::Vip > LifecycleStage::Prospect);
    }
}
