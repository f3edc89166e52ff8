//! Tenants: the isolation boundary of the ledger. A tenant is created by an
//! operator, authenticates with an API key (stored hashed), and carries the
//! settings that shape how its data is read, such as the default region for
//! national-format phone numbers.

use crate::identity;
use time::OffsetDateTime;

use crate::identity::IdentityKey;
use crate::identity::{IdentityKind, Region};
use crate::kernel::TenantId;
use crate::kernel::{DomainError, FieldViolation};

/// Why a tenant never identifies anyone by an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressUse {
    /// Many people write from it (a team inbox, an office switchboard).
    Shared,
    /// A junk or test value (test@test.com).
    Blocked,
}

impl AddressUse {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressUse::Shared => "shared",
            AddressUse::Blocked => "blocked",
        }
    }

    /// Inverse of [`AddressUse::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [AddressUse::Shared, AddressUse::Blocked]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// An address the tenant never identifies anyone by: sender resolution
/// neither matches, attaches nor claims it, and duplicate finding ignores it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SharedAddress {
    /// The address, normalised as an identity of its kind.
    pub key: IdentityKey,
    /// Why.
    pub usage: AddressUse,
}

/// The most shared or blocked addresses a tenant may list.
pub const MAX_SHARED_ADDRESSES: usize = 1_000;

/// Normalises a tenant's list of shared addresses (each as its kind's
/// identities are normalised, national phone numbers read in `region`),
/// dropping repeats; the last use given for an address wins.
///
/// # Errors
/// `InvalidArgument` naming `{field}[i].value` or `{field}[i].kind`, or
/// `field` for more than [`MAX_SHARED_ADDRESSES`].
pub fn normalize_shared(
    inputs: &[(IdentityKind, String, AddressUse)],
    region: Region,
    field: &str,
) -> Result<Vec<SharedAddress>, DomainError> {
    DomainError::check_count(field, inputs.len(), MAX_SHARED_ADDRESSES, "addresses")?;
    let mut violations = Vec::new();
    let mut found: std::collections::BTreeMap<IdentityKey, AddressUse> = Default::default();
    for (index, (kind, raw, usage)) in inputs.iter().enumerate() {
        match identity::normalize(*kind, raw, region) {
            Ok(address) => {
                found.insert(
                    IdentityKey {
                        kind: address.kind,
                        value: address.value,
                    },
                    *usage,
                );
            }
            Err(error) => violations.push(FieldViolation::new(
                format!("{field}[{index}].value"),
                error.to_string(),
            )),
        }
    }
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument(violations));
    }
    Ok(found
        .into_iter()
        .map(|(key, usage)| SharedAddress { key, usage })
        .collect())
}

/// One tenant and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant's id.
    pub id: TenantId,
    /// A name for operators.
    pub name: String,
    /// How national-format phone numbers are read.
    pub default_region: Region,
    /// Email domains this tenant treats as free mail besides the built-in
    /// list (they never auto-link contacts to organizations).
    pub free_mail_domains: Vec<String>,
    /// Addresses that never identify anyone (sorted by kind and value).
    pub shared_addresses: Vec<SharedAddress>,
    /// Optimistic-concurrency version of the settings.
    pub version: i64,
    /// When it was created.
    pub create_time: OffsetDateTime,
    /// When its settings last changed.
    pub update_time: OffsetDateTime,
}

impl Tenant {
    /// Whether the tenant never identifies anyone by `key`.
    pub fn ignores(&self, key: &IdentityKey) -> bool {
        self.shared_addresses
            .binary_search_by(|shared| shared.key.cmp(key))
            .is_ok()
    }
}

/// The most characters a tenant name may have.
pub const MAX_TENANT_NAME: usize = 128;

/// Checks a tenant name: trimmed, 1 to 128 characters, no control characters.
///
/// # Errors
/// `InvalidArgument` on `name`.
pub fn validate_tenant_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_TENANT_NAME
        || name.chars().any(char::is_control)
    {
        return Err(DomainError::invalid(
            "name",
            format!("must be 1 to {MAX_TENANT_NAME} characters without control characters"),
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
impl Tenant {
    /// A tenant for the domain's unit tests: a fresh id, region US, no
    /// extra free-mail domains and no shared addresses.
    pub(crate) fn for_tests() -> Tenant {
        Tenant {
            id: TenantId::from_uuid(uuid::Uuid::now_v7()),
            name: "Acme".into(),
            default_region: Region::parse("US").expect("US is a region"),
            free_mail_domains: Vec::new(),
            shared_addresses: Vec::new(),
            version: 1,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        }
    }
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
    fn an_oversized_shared_list_is_refused_before_its_addresses_are_read() {
        let inputs = vec![
            (
                IdentityKind::Email,
                "not an email".to_owned(),
                AddressUse::Shared
            );
            MAX_SHARED_ADDRESSES + 1
        ];
        let region = Region::parse("US").unwrap();
        only_the_count(
            normalize_shared(&inputs, region, "shared_addresses").unwrap_err(),
            "shared_addresses",
        );
    }

    #[test]
    fn shared_addresses_are_normalised_sorted_and_named_when_bad() {
        let region = Region::parse("US").unwrap();
        let listed = normalize_shared(
            &[
                (
                    IdentityKind::Phone,
                    "(650) 253-0000".into(),
                    AddressUse::Shared,
                ),
                (
                    IdentityKind::Email,
                    " Test@Test.com ".into(),
                    AddressUse::Blocked,
                ),
                (
                    IdentityKind::Email,
                    "test@test.com".into(),
                    AddressUse::Shared,
                ),
            ],
            region,
            "settings.shared_addresses",
        )
        .unwrap();
        let keys: Vec<(&str, &str, AddressUse)> = listed
            .iter()
            .map(|s| (s.key.kind.as_str(), s.key.value.as_str(), s.usage))
            .collect();
        assert_eq!(
            keys,
            [
                ("email", "test@test.com", AddressUse::Shared),
                ("phone", "+16502530000", AddressUse::Shared),
            ]
        );
        let tenant = Tenant {
            id: TenantId::from_uuid(uuid::Uuid::nil()),
            name: "Acme".into(),
            default_region: region,
            free_mail_domains: Vec::new(),
            shared_addresses: listed,
            version: 1,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(tenant.ignores(&IdentityKey {
            kind: IdentityKind::Phone,
            value: "+16502530000".into()
        }));
        assert!(!tenant.ignores(&IdentityKey {
            kind: IdentityKind::Email,
            value: "ana@test.com".into()
        }));
        match normalize_shared(
            &[
                (IdentityKind::Email, "ok@x.com".into(), AddressUse::Shared),
                (IdentityKind::Email, "nope".into(), AddressUse::Shared),
            ],
            region,
            "settings.shared_addresses",
        ) {
            Err(DomainError::InvalidArgument(violations)) => {
                assert_eq!(violations[0].field, "settings.shared_addresses[1].value");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tenant_names() {
        assert_eq!(validate_tenant_name("  Acme ").as_deref(), Ok("Acme"));
        assert!(validate_tenant_name("   ").is_err());
        assert!(validate_tenant_name("a\nb").is_err());
        assert!(validate_tenant_name(&"x".repeat(129)).is_err());
    }
}
