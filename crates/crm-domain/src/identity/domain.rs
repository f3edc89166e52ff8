//! Email domains: the bare, lower-case ASCII form a domain is stored in, and
//! the free-mail and disposable providers whose domains say nothing about a
//! person's company (so they never auto-link, group duplicates or count as an
//! organization's domain).

use crate::kernel::{DomainError, FieldViolation};

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

/// A domain as stored: trimmed, without a leading `@` or `www.` or a
/// trailing dot, lower-cased, internationalised names in ASCII.
///
/// # Errors
/// A description of what is wrong.
pub fn normalize_domain(raw: &str) -> Result<String, String> {
    // Lower-case before removing `www.`, so `WWW.Example.com` loses it too.
    let lowered = raw.trim().to_lowercase();
    let mut trimmed = lowered.trim_start_matches('@').trim_end_matches('.');
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
            ("WWW.Example.com", Ok("example.com")),
            ("Www.WWW.example.com", Ok("example.com")),
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
    fn free_mail_providers_are_recognised() {
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
