//! Organizations: the companies contacts belong to. An organization owns
//! email domains (unique per tenant); a contact with no organization that
//! gains an email at one of them is linked automatically, and an
//! organization that gains a domain picks up the unaffiliated contacts
//! there. Free-mail and disposable providers never auto-link. A link made by
//! hand, or a contact taken out of an organization by hand, is never
//! changed automatically.

use time::OffsetDateTime;

use crate::fields::CustomValues;
use crate::kernel::{DomainError, FieldViolation};
use crate::kernel::{OrganizationId, TenantId};

/// Longest organization name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 5000;
/// Most domains per organization.
pub const MAX_DOMAINS: usize = 50;

/// Providers whose addresses anyone can get: the domain and every subdomain
/// of it never auto-link. Tenants add their own (see `Tenant`).
pub const FREE_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "gmx.com",
    "gmx.net",
    "gmx.de",
    "web.de",
    "mail.com",
    "yandex.com",
    "yandex.ru",
    "mail.ru",
    "zoho.com",
    "fastmail.com",
    "hey.com",
    "tutanota.com",
    "tuta.io",
    "qq.com",
    "163.com",
    "126.com",
    "uol.com.br",
    "bol.com.br",
    "terra.com.br",
    "ig.com.br",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "libero.it",
    "t-online.de",
    "btinternet.com",
    "comcast.net",
    "verizon.net",
    "att.net",
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "temp-mail.org",
    "yopmail.com",
    "trashmail.com",
    "sharklasers.com",
    "dispostable.com",
];

/// Providers with a domain per country (`hotmail.co.uk`, `yahoo.com.br`):
/// any domain whose first label is one of these is free mail.
pub const FREE_MAIL_BRANDS: &[&str] = &[
    "hotmail",
    "yahoo",
    "ymail",
    "live",
    "outlook",
    "msn",
    "windowslive",
];

/// How a contact stands with organizations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Affiliation {
    /// No organization, and auto-linking may give it one.
    #[default]
    None,
    /// Linked automatically by email domain; a manual change wins.
    Auto(OrganizationId),
    /// Linked by hand; never changed automatically.
    Manual(OrganizationId),
    /// Taken out of an organization by hand: stays unaffiliated until linked
    /// by hand again.
    Detached,
}

impl Affiliation {
    /// The organization, if any.
    pub fn organization(self) -> Option<OrganizationId> {
        match self {
            Affiliation::Auto(id) | Affiliation::Manual(id) => Some(id),
            Affiliation::None | Affiliation::Detached => None,
        }
    }
}

/// What a caller writes on an organization.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrganizationFields {
    /// Shown name.
    pub name: String,
    /// Email domains it owns, normalised and sorted.
    pub domains: Vec<String>,
    /// Free text.
    pub description: String,
}

/// A stored organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Its id.
    pub id: OrganizationId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// What the caller wrote.
    pub fields: OrganizationFields,
    /// Custom-field values.
    pub custom_fields: CustomValues,
    /// Contacts linked to it (read-only).
    pub member_count: u64,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// When it was created.
    pub create_time: OffsetDateTime,
    /// When it last changed.
    pub update_time: OffsetDateTime,
}

impl Organization {
    /// The weak etag of this version.
    pub fn etag(&self) -> String {
        crate::kernel::etag_for(self.version)
    }
}

/// A domain as stored: trimmed, without a leading `@` or `www.` or a
/// trailing dot, lower-cased, internationalised names in ASCII.
///
/// # Errors
/// A description of what is wrong.
pub fn normalize_domain(raw: &str) -> Result<String, String> {
    let mut trimmed = raw.trim().trim_start_matches('@').trim_end_matches('.');
    while let Some(rest) = trimmed.strip_prefix("www.") {
        trimmed = rest;
    }
    if trimmed.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if trimmed.contains(['@', '/', ':', ' ']) {
        return Err("must be a bare domain such as \"acme.com\"".to_owned());
    }
    let ascii = idna::domain_to_ascii(trimmed)
        .map_err(|_| "is not a valid domain name".to_owned())?
        .to_ascii_lowercase();
    let labels: Vec<&str> = ascii.split('.').collect();
    let valid = labels.len() >= 2
        && ascii.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()));
    if valid {
        Ok(ascii)
    } else {
        Err("is not a valid domain name".to_owned())
    }
}

/// Whether addresses at `domain` (normalised) are free or disposable mail,
/// counting the tenant's own additions; subdomains count too.
pub fn is_free_mail(domain: &str, extra: &[String]) -> bool {
    let listed = FREE_MAIL_DOMAINS
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .any(|free| {
            domain
                .strip_suffix(free)
                .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
        });
    let brand = domain
        .split('.')
        .next()
        .is_some_and(|first| FREE_MAIL_BRANDS.contains(&first));
    listed || brand
}

/// The domains of `emails` (normalised addresses) that may auto-link: not
/// free mail, without repeats.
pub fn auto_link_domains<'a>(
    emails: impl IntoIterator<Item = &'a str>,
    extra: &[String],
) -> Vec<String> {
    let mut domains: Vec<String> = emails
        .into_iter()
        .filter_map(|email| email.rsplit_once('@').map(|(_, domain)| domain.to_owned()))
        .filter(|domain| !is_free_mail(domain, extra))
        .collect();
    domains.sort();
    domains.dedup();
    domains
}

/// Validates and normalises what a caller wrote (`prefix` is the request
/// path of the organization message).
///
/// # Errors
/// `InvalidArgument` listing every bad field.
pub fn validate(
    fields: OrganizationFields,
    prefix: &str,
) -> Result<OrganizationFields, DomainError> {
    let mut violations = Vec::new();
    let name = fields.name.trim().to_owned();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        violations.push(FieldViolation::new(
            format!("{prefix}.name"),
            format!("must be 1 to {MAX_NAME_CHARS} characters without control characters"),
        ));
    }
    let description = fields.description.trim().to_owned();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        violations.push(FieldViolation::new(
            format!("{prefix}.description"),
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    let mut domains = Vec::with_capacity(fields.domains.len());
    for (index, raw) in fields.domains.iter().enumerate() {
        match normalize_domain(raw) {
            Ok(domain) if domains.contains(&domain) => violations.push(FieldViolation::new(
                format!("{prefix}.domains[{index}]"),
                "is listed twice",
            )),
            Ok(domain) => domains.push(domain),
            Err(problem) => violations.push(FieldViolation::new(
                format!("{prefix}.domains[{index}]"),
                problem,
            )),
        }
    }
    if domains.len() > MAX_DOMAINS {
        violations.push(FieldViolation::new(
            format!("{prefix}.domains"),
            format!("may hold at most {MAX_DOMAINS} domains"),
        ));
    }
    domains.sort();
    if violations.is_empty() {
        Ok(OrganizationFields {
            name,
            domains,
            description,
        })
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

/// Normalises a tenant's additions to the free-mail list.
///
/// # Errors
/// `InvalidArgument` naming each bad domain under `field`.
pub fn normalize_free_mail(raw: &[String], field: &str) -> Result<Vec<String>, DomainError> {
    let mut violations = Vec::new();
    let mut domains = Vec::new();
    for (index, domain) in raw.iter().enumerate() {
        match normalize_domain(domain) {
            Ok(domain) => domains.push(domain),
            Err(problem) => {
                violations.push(FieldViolation::new(format!("{field}[{index}]"), problem))
            }
        }
    }
    domains.sort();
    domains.dedup();
    if domains.len() > 1000 {
        violations.push(FieldViolation::new(field, "may hold at most 1000 domains"));
    }
    if violations.is_empty() {
        Ok(domains)
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn domains_are_bare_lower_case_ascii() {
        for (raw, expected) in [
            ("Acme.COM", Ok("acme.com")),
            ("  @acme.com ", Ok("acme.com")),
            ("www.acme.com.", Ok("acme.com")),
            ("bücher.de", Ok("xn--bcher-kva.de")),
            ("eu.acme.co.uk", Ok("eu.acme.co.uk")),
            ("acme", Err("is not a valid domain name")),
            ("", Err("must not be empty")),
            (
                "https://acme.com",
                Err("must be a bare domain such as \"acme.com\""),
            ),
            (
                "a@acme.com",
                Err("must be a bare domain such as \"acme.com\""),
            ),
            ("-acme.com", Err("is not a valid domain name")),
        ] {
            assert_eq!(
                normalize_domain(raw).as_deref().map_err(String::as_str),
                expected,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn free_mail_never_auto_links() {
        let none: Vec<String> = Vec::new();
        for free in [
            "gmail.com",
            "outlook.com",
            "hotmail.com",
            "hotmail.co.uk",
            "hotmail.fr",
            "yahoo.com.br",
            "yahoo.co.jp",
            "icloud.com",
            "proton.me",
            "mail.proton.me",
            "mailinator.com",
        ] {
            assert!(is_free_mail(free, &none), "{free}");
        }
        for business in ["acme.com", "gmail-tools.com", "notgmail.com", "acme.com.br"] {
            assert!(!is_free_mail(business, &none), "{business}");
        }
        let extra = vec!["isp.example".to_owned()];
        assert!(is_free_mail("isp.example", &extra));
        assert!(is_free_mail("mx.isp.example", &extra));
        assert_eq!(
            auto_link_domains(
                [
                    "ana@acme.com",
                    "ana@gmail.com",
                    "a2@acme.com",
                    "b@isp.example"
                ],
                &extra
            ),
            ["acme.com"]
        );
    }

    #[test]
    fn organizations_are_validated_field_by_field() {
        let fields = OrganizationFields {
            name: " Acme ".into(),
            domains: vec!["ACME.com".into(), "acme.io".into()],
            description: "Rockets".into(),
        };
        let valid = validate(fields, "organization").unwrap();
        assert_eq!(valid.name, "Acme");
        assert_eq!(valid.domains, ["acme.com", "acme.io"]);
        let bad = OrganizationFields {
            name: String::new(),
            domains: vec!["acme.com".into(), "Acme.com".into(), "nope".into()],
            description: String::new(),
        };
        let DomainError::InvalidArgument(violations) = validate(bad, "organization").unwrap_err()
        else {
            panic!("expected invalid argument");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            paths,
            [
                "organization.name",
                "organization.domains[1]",
                "organization.domains[2]"
            ]
        );
        assert_eq!(Affiliation::Detached.organization(), None);
    }

    proptest! {
        #[test]
        fn normalising_a_domain_twice_changes_nothing(raw in "[a-zA-Z0-9.@ -]{0,40}") {
            if let Ok(domain) = normalize_domain(&raw) {
                prop_assert_eq!(normalize_domain(&domain), Ok(domain.clone()));
            }
        }
    }
}
