//! Identity keys: the (kind, normalised value) pair a contact is recognised
//! by, the identities a contact holds, and the rules for a list of them (no
//! repeats, one primary address per kind, a display name from the best one).

use crate::identity;

use crate::identity::{IdentityKind, Region};
use crate::kernel::{DomainError, FieldViolation};

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

/// The most identities of all kinds one contact may hold.
pub const MAX_IDENTITIES: usize = 100;

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
            "",
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
                    IdentityKind::Email => "emails",
                    _ => "phones",
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
                input(IdentityKind::Email, "a@x.com", false, "emails[0].address"),
                input(IdentityKind::Email, "A@X.com ", false, "emails[1].address"),
                input(
                    IdentityKind::Phone,
                    "not a phone",
                    false,
                    "phones[0].number",
                ),
            ],
            region,
        )
        .unwrap_err();
        let DomainError::InvalidArgument(violations) = error else {
            panic!("expected invalid argument");
        };
        let named: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(named, ["emails[1].address", "phones[0].number"]);
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
        assert!(matches!(error, DomainError::InvalidArgument(v) if v[0].field == "emails"));
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
}
