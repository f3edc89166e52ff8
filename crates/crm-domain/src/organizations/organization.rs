//! Organizations: the companies contacts belong to. An organization owns
//! email domains (unique per tenant); a contact with no organization that
//! gains an email at one of them is linked automatically, and an
//! organization that gains a domain picks up the unaffiliated contacts
//! there. Free-mail and disposable providers never auto-link. A link made by
//! hand, or a contact taken out of an organization by hand, is never
//! changed automatically.

use crate::identity::{is_free_mail, normalize_domain};
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

impl Organization {}

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

/// Validates and normalises what a caller wrote. Paths are relative to the
/// organization (`domains[1]`). A free-mail or disposable domain (the
/// tenant's `extra_free_mail` included) is refused unless the organization
/// already owns it (`owned`): it would link no one, and says nothing about a
/// company.
///
/// # Errors
/// `InvalidArgument` listing every bad field.
pub fn validate(
    fields: OrganizationFields,
    owned: &[String],
    extra_free_mail: &[String],
) -> Result<OrganizationFields, DomainError> {
    // The count first: a list over the limit is not looked at.
    DomainError::check_count("domains", fields.domains.len(), MAX_DOMAINS, "domains")?;
    let mut violations = Vec::new();
    let name = fields.name.trim().to_owned();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        violations.push(FieldViolation::new(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters without control characters"),
        ));
    }
    let description = fields.description.trim().to_owned();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        violations.push(FieldViolation::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    let mut domains = Vec::with_capacity(fields.domains.len());
    for (index, raw) in fields.domains.iter().enumerate() {
        match normalize_domain(raw) {
            Ok(domain) if domains.contains(&domain) => violations.push(FieldViolation::new(
                format!("domains[{index}]"),
                "is listed twice",
            )),
            Ok(domain) if !owned.contains(&domain) && is_free_mail(&domain, extra_free_mail) => {
                violations.push(FieldViolation::new(
                    format!("domains[{index}]"),
                    format!(
                        "{domain} belongs to a free-mail or disposable provider, \
                         so it cannot be an organization's domain"
                    ),
                ))
            }
            Ok(domain) => domains.push(domain),
            Err(problem) => {
                violations.push(FieldViolation::new(format!("domains[{index}]"), problem))
            }
        }
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
    fn an_oversized_domain_list_is_refused_before_its_domains_are_read() {
        let fields = OrganizationFields {
            name: "Acme".into(),
            domains: vec!["acme.com".into(); 10_000],
            description: String::new(),
        };
        only_the_count(validate(fields, &[], &[]).unwrap_err(), "domains");
    }

    #[test]
    fn free_mail_never_auto_links() {
        let extra = vec!["isp.example".to_owned()];
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
        let valid = validate(fields, &[], &[]).unwrap();
        assert_eq!(valid.name, "Acme");
        assert_eq!(valid.domains, ["acme.com", "acme.io"]);
        let bad = OrganizationFields {
            name: String::new(),
            domains: vec!["acme.com".into(), "Acme.com".into(), "nope".into()],
            description: String::new(),
        };
        let DomainError::InvalidArgument(violations) = validate(bad, &[], &[]).unwrap_err() else {
            panic!("expected invalid argument");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(paths, ["name", "domains[1]", "domains[2]"]);
        assert_eq!(Affiliation::Detached.organization(), None);
    }

    #[test]
    fn free_mail_domains_are_refused_unless_already_owned() {
        let fields = |domains: &[&str]| OrganizationFields {
            name: "Acme".into(),
            domains: domains.iter().map(|&domain| domain.to_owned()).collect(),
            description: String::new(),
        };
        let extra = vec!["isp.example".to_owned()];
        let refused = validate(
            fields(&[
                "acme.com",
                "Mail.Yahoo.co.jp",
                "hotmail.co.uk",
                "mx.isp.example",
                "mailinator.com",
            ]),
            &[],
            &extra,
        )
        .unwrap_err();
        let DomainError::InvalidArgument(violations) = refused else {
            panic!("expected invalid argument");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            paths,
            ["domains[1]", "domains[2]", "domains[3]", "domains[4]"]
        );
        assert!(violations[0].description.contains("mail.yahoo.co.jp"));
        // A brand name as a first label is a company's own domain.
        let valid = validate(fields(&["live.acme-events.com"]), &[], &extra).unwrap();
        assert_eq!(valid.domains, ["live.acme-events.com"]);
        // A domain owned before it became free mail stays editable.
        let kept = validate(
            fields(&["acme.com", "isp.example"]),
            &["isp.example".to_owned()],
            &extra,
        )
        .unwrap();
        assert_eq!(kept.domains, ["acme.com", "isp.example"]);
    }

    #[test]
    fn subdomains_of_free_mail_never_auto_link() {
        assert_eq!(
            auto_link_domains(["kenji@mail.yahoo.co.jp", "ana@live.acme-events.com"], &[]),
            ["live.acme-events.com"]
        );
    }
}
