//! Opaque page tokens. A token carries the last id of the page it follows,
//! so pages stay stable while new contacts arrive (ids grow with time).

use crm_domain::{ContactId, DomainError};
use uuid::Uuid;

const PREFIX: &str = "c1.";

/// The token that continues after `last`.
pub(crate) fn encode(last: ContactId) -> String {
    format!("{PREFIX}{}", last.as_uuid().simple())
}

/// The id a token continues after; `None` for the first page.
///
/// # Errors
/// `InvalidArgument` on `page_token` for a token this server did not issue.
pub(crate) fn decode(token: &str) -> Result<Option<ContactId>, DomainError> {
    if token.is_empty() {
        return Ok(None);
    }
    token
        .strip_prefix(PREFIX)
        .and_then(|hex| Uuid::try_parse(hex).ok())
        .map(|uuid| Some(ContactId::from_uuid(uuid)))
        .ok_or_else(|| DomainError::invalid("page_token", "is not a token from a previous page"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_round_trip_and_forgeries_are_refused() {
        let id = ContactId::from_uuid(Uuid::now_v7());
        assert_eq!(decode(&encode(id)).unwrap(), Some(id));
        assert_eq!(decode("").unwrap(), None);
        assert!(decode("garbage").is_err());
        assert!(decode("c1.zz").is_err());
    }
}
