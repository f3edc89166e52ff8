//! Record versions and their etag text. Every mutable record carries a version
//! that each write bumps; callers send it back as an etag so nothing is
//! overwritten unseen.

use crate::kernel::DomainError;

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn etags_round_trip() {
        assert_eq!(version_from_etag(&etag_for(7), "etag"), Ok(7));
        assert!(version_from_etag("7", "etag").is_err());
        assert!(version_from_etag("W/\"-1\"", "etag").is_err());
    }
}
