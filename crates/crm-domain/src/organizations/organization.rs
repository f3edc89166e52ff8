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
/// organization (`domains[1]`).
///
/// # Errors
/// `InvalidArgument` listing every bad field.
pub fn validate(fields: OrganizationFields) -> Result<OrganizationFields, DomainError> {
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
            Ok(domain) => domains.push(domain),
            Err(problem) => {
                violations.push(FieldViolation::new(format!("domains[{index}]"), problem))
            }
        }
    }
    if domains.len() > MAX_DOMAINS {
        violations.push(FieldViolation::new(
            "domains",
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

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
        let valid = validate(fields).unwrap();
        assert_eq!(valid.name, "Acme");
        assert_eq!(valid.domains, ["acme.com", "acme.io"]);
        let bad = OrganizationFields {
            name: String::new(),
            domains: vec!["acme.com".into(), "Acme.com".into(), "nope".into()],
            description: String::new(),
        };
        let DomainError::InvalidArgument(violations) = validate(bad).unwrap_err() else {
            panic!("expected invalid argument");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(paths, ["name", "domains[1]", "domains[2]"]);
        assert_eq!(Affiliation::Detached.organization(), None);
    }
}
