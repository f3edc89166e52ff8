//! Tenants: the isolation boundary of the ledger. A tenant is created by an
//! operator, authenticates with an API key (stored hashed), and carries the
//! settings that shape how its data is read, such as the default region for
//! national-format phone numbers.

use time::OffsetDateTime;

use crate::error::DomainError;
use crate::identity::Region;
use crate::ids::TenantId;

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
    /// Optimistic-concurrency version of the settings.
    pub version: i64,
    /// When it was created.
    pub create_time: OffsetDateTime,
    /// When its settings last changed.
    pub update_time: OffsetDateTime,
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
mod tests {
    use super::*;

    #[test]
    fn tenant_names() {
        assert_eq!(validate_tenant_name("  Acme ").as_deref(), Ok("Acme"));
        assert!(validate_tenant_name("   ").is_err());
        assert!(validate_tenant_name("a\nb").is_err());
        assert!(validate_tenant_name(&"x".repeat(129)).is_err());
    }
}
