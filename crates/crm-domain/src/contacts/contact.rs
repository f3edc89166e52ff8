//! The contact: one person the tenant talks to, and the fields that describe
//! them. Validation of every contact field a caller can write lives here, as
//! plain functions; identities are in `crate::identity`.

use crate::identity::{Channel, MAX_DISPLAY_NAME};
use crate::identity::{ContactIdentity, IdentityKey};
use crate::kernel::MAX_URL;
use crate::kernel::is_http_url;
use time::OffsetDateTime;

use crate::identity::{IdentityKind, Region};
use crate::kernel::{ContactId, TenantId, TierId};
use crate::kernel::{DomainError, FieldViolation};
use crate::tiers::TierBadge;

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
    pub affiliation: crate::organizations::Affiliation,
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
    pub custom_fields: crate::fields::CustomValues,
    /// Figures derived from its conversations (read-only).
    pub engagement: crate::contacts::Engagement,
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

#[cfg(test)]
impl Contact {
    /// A contact for the domain's unit tests: `id` of `tenant`, with
    /// default fields and nothing else.
    pub(crate) fn for_tests(id: ContactId, tenant: TenantId) -> Contact {
        Contact {
            id,
            tenant_id: tenant,
            fields: ContactFields::default(),
            identities: Vec::new(),
            tags: Vec::new(),
            tier: None,
            custom_fields: Default::default(),
            engagement: Default::default(),
            version: 1,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        }
    }
}

impl Contact {
    /// The identities of one kind, in stored order.
    pub fn identities_of(&self, kind: IdentityKind) -> impl Iterator<Item = &ContactIdentity> {
        self.identities
            .iter()
            .filter(move |identity| identity.kind == kind)
    }

    /// The external id, if one is set. A merged contact may hold several
    /// (all resolve to it); this is its primary one, which a merge keeps as
    /// the survivor's, else the first.
    pub fn external_id(&self) -> Option<&str> {
        self.identities_of(IdentityKind::ExternalId)
            .find(|identity| identity.primary)
            .or_else(|| self.identities_of(IdentityKind::ExternalId).next())
            .map(|identity| identity.value.as_str())
    }

    /// Whether the contact holds this address.
    pub fn holds(&self, key: &IdentityKey) -> bool {
        self.identities
            .iter()
            .any(|identity| identity.kind == key.kind && identity.value == key.value)
    }
}

/// Limit on city names, in characters.
pub const MAX_CITY: usize = 128;

/// Checks and canonicalises describing fields. Paths are relative to the
/// contact (`country`).
///
/// # Errors
/// `InvalidArgument` listing every bad field.
pub fn validate_fields(fields: ContactFields) -> Result<ContactFields, DomainError> {
    let mut violations = Vec::new();
    let mut fields = fields;
    fields.display_name = fields.display_name.trim().to_owned();
    if fields.display_name.chars().count() > MAX_DISPLAY_NAME {
        violations.push(FieldViolation::new(
            "display_name",
            format!("must be at most {MAX_DISPLAY_NAME} characters"),
        ));
    }
    if fields.display_name.chars().any(char::is_control) {
        violations.push(FieldViolation::new(
            "display_name",
            "must not contain control characters",
        ));
    }
    fields.city = fields.city.trim().to_owned();
    if fields.city.chars().count() > MAX_CITY || fields.city.chars().any(char::is_control) {
        violations.push(FieldViolation::new(
            "city",
            format!("must be at most {MAX_CITY} characters without control characters"),
        ));
    }
    fields.country = fields.country.trim().to_ascii_uppercase();
    if !fields.country.is_empty() && Region::parse(&fields.country).is_err() {
        violations.push(FieldViolation::new(
            "country",
            "must be an ISO 3166-1 alpha-2 country code such as \"BR\"",
        ));
    }
    fields.language = fields.language.trim().to_owned();
    if !fields.language.is_empty() && !is_language_tag(&fields.language) {
        violations.push(FieldViolation::new(
            "language",
            "must be a BCP 47 language tag such as \"pt-BR\"",
        ));
    }
    fields.avatar_url = fields.avatar_url.trim().to_owned();
    if !fields.avatar_url.is_empty() && !is_http_url(&fields.avatar_url) {
        violations.push(FieldViolation::new(
            "avatar_url",
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

/// A contact's engagement, derived from its conversations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Engagement {
    /// Conversations on record.
    pub conversation_count: u64,
    /// Messages across them.
    pub message_count: u64,
    /// When the first one started.
    pub first_contact: Option<OffsetDateTime>,
    /// When the latest one started.
    pub last_contact: Option<OffsetDateTime>,
    /// Sum of CSAT ratings.
    pub csat_sum: u64,
    /// Number of CSAT ratings.
    pub csat_count: u64,
    /// Channels used, sorted by name.
    pub channels: Vec<Channel>,
}

impl Engagement {
    /// The mean CSAT rating, if any was given.
    pub fn average_csat(&self) -> Option<f64> {
        (self.csat_count > 0).then(|| self.csat_sum as f64 / self.csat_count as f64)
    }

    /// The figures of two histories taken together, as a merge joins them:
    /// counts and sums add, the first contact is the earlier, the last the
    /// later, and the channels are the union. Exact, so a merge never has to
    /// recount the survivor's history.
    #[must_use]
    pub fn combined(self, other: &Engagement) -> Engagement {
        let earliest = |a: Option<OffsetDateTime>, b: Option<OffsetDateTime>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let latest = |a: Option<OffsetDateTime>, b: Option<OffsetDateTime>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let mut channels = self.channels;
        channels.extend(other.channels.iter().copied());
        channels.sort_by_key(|channel| channel.as_str());
        channels.dedup();
        Engagement {
            conversation_count: self.conversation_count + other.conversation_count,
            message_count: self.message_count + other.message_count,
            first_contact: earliest(self.first_contact, other.first_contact),
            last_contact: latest(self.last_contact, other.last_contact),
            csat_sum: self.csat_sum + other.csat_sum,
            csat_count: self.csat_count + other.csat_count,
            channels,
        }
    }
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
        let out = validate_fields(ContactFields {
            display_name: "  Ana Souza ".into(),
            country: " br".into(),
            language: "pt-BR".into(),
            avatar_url: "https://cdn.example.com/a.png".into(),
            ..fields()
        })
        .unwrap();
        assert_eq!(out.display_name, "Ana Souza");
        assert_eq!(out.country, "BR");
    }

    #[test]
    fn bad_fields_are_each_named() {
        let error = validate_fields(ContactFields {
            country: "Brazil".into(),
            language: "not a tag".into(),
            avatar_url: "ftp://x".into(),
            ..fields()
        })
        .unwrap_err();
        let DomainError::InvalidArgument(violations) = error else {
            panic!("expected invalid argument");
        };
        let named: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(named, ["country", "language", "avatar_url"]);
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

    #[test]
    fn lifecycle_stages_round_trip_in_order() {
        for stage in LifecycleStage::ALL {
            assert_eq!(LifecycleStage::parse(stage.as_str()), Some(stage));
        }
        assert!(LifecycleStage::Vip > LifecycleStage::Prospect);
    }
}
