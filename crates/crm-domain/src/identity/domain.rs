//! Email domains: the bare, lower-case ASCII form a domain is stored in, and
//! the free-mail and disposable providers whose domains say nothing about a
//! person's company (so they never auto-link, group duplicates or count as an
//! organization's domain).

use std::collections::HashSet;
use std::sync::LazyLock;

use crate::kernel::{DomainError, FieldViolation};

/// The free-mail providers' domains, one a line (a vendored snapshot of a
/// maintained list; the file says where it comes from and how to refresh it).
const FREE_MAIL_LIST: &str = include_str!("free_mail_domains.txt");

/// [`FREE_MAIL_LIST`] as a set, built on first use.
static FREE_MAIL: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    FREE_MAIL_LIST
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

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

/// Whether addresses at `domain` (normalised) are free or disposable mail:
/// the domain or a parent of it is a free-mail provider's (the vendored
/// list), a disposable provider's (the `disposable-emails` crate) or one the
/// tenant added (`extra`). `mail.yahoo.co.jp` is free mail because
/// `yahoo.co.jp` is; `live.acme-events.com` is not, since no parent of it is
/// listed.
pub fn is_free_mail(domain: &str, extra: &[String]) -> bool {
    let mut candidate = domain;
    loop {
        if FREE_MAIL.contains(candidate)
            || disposable_emails::is_disposable_domain(candidate)
            || extra.iter().any(|free| free == candidate)
        {
            return true;
        }
        // Walk up to the parent, but never to a bare top-level domain.
        match candidate.split_once('.') {
            Some((_, parent)) if parent.contains('.') => candidate = parent,
            _ => return false,
        }
    }
}

/// The most free-mail domains a tenant may add.
pub const MAX_EXTRA_FREE_MAIL: usize = 1000;

/// Normalises a tenant's additions to the free-mail list.
///
/// # Errors
/// `InvalidArgument` naming each bad domain under `field`.
pub fn normalize_free_mail(raw: &[String], field: &str) -> Result<Vec<String>, DomainError> {
    DomainError::check_count(field, raw.len(), MAX_EXTRA_FREE_MAIL, "domains")?;
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
    fn an_oversized_free_mail_list_is_refused_before_its_domains_are_read() {
        let raw = vec!["not a domain".to_owned(); 5_000];
        only_the_count(
            normalize_free_mail(&raw, "extra_free_mail_domains").unwrap_err(),
            "extra_free_mail_domains",
        );
    }

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
    fn free_mail_providers_and_their_subdomains_are_recognised() {
        let none: Vec<String> = Vec::new();
        for free in [
            "gmail.com",
            "outlook.com",
            "live.com",
            "hotmail.com",
            "hotmail.co.uk",
            "hotmail.fr",
            "yahoo.com.br",
            "yahoo.co.jp",
            "mail.yahoo.co.jp",
            "eu.mail.yahoo.com",
            "icloud.com",
            "proton.me",
            "mail.proton.me",
            // Disposable providers, from the disposable list.
            "mailinator.com",
            "guerrillamail.com",
            "10minutemail.com",
        ] {
            assert!(is_free_mail(free, &none), "{free}");
        }
        for business in [
            "acme.com",
            "gmail-tools.com",
            "notgmail.com",
            "acme.com.br",
            // A first label that names a provider says nothing.
            "live.acme-events.com",
            "outlook.acme.com",
            "msn.example.org",
            "hotmail.acme.io",
            "yahoo.example.net",
            "co.jp",
        ] {
            assert!(!is_free_mail(business, &none), "{business}");
        }
        let extra = vec!["isp.example".to_owned()];
        assert!(is_free_mail("isp.example", &extra));
        assert!(is_free_mail("mx.isp.example", &extra));
        assert!(!is_free_mail("isp.example", &none));
    }

    #[test]
    fn the_free_mail_list_is_normalised_domains() {
        assert!(FREE_MAIL.len() > 4000, "{}", FREE_MAIL.len());
        // Each entry is what an email's domain normalises to: lower-case
        // ASCII, at least two labels (`www.com` is a provider of its own).
        for domain in FREE_MAIL.iter() {
            assert_eq!(idna::domain_to_ascii(domain).ok().as_deref(), Some(*domain));
            assert!(domain.contains('.'), "{domain}");
        }
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
