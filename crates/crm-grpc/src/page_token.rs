//! Opaque page tokens. A token carries the last id of the page it follows,
//! so pages stay stable while new records arrive (ids grow with time), and a
//! fingerprint of the list's filter, so a token cannot be replayed against a
//! different filter (AIP-158: INVALID_ARGUMENT).

use crm_domain::DomainError;
use uuid::Uuid;

const PREFIX: &str = "c1.";

/// FNV-1a, 64 bits: a stable fingerprint, not a secret.
fn fingerprint(scope: &str) -> u64 {
    scope.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The token that continues after `last` in a list filtered by `scope`
/// (empty when unfiltered).
pub(crate) fn encode(last: Uuid, scope: &str) -> String {
    if scope.is_empty() {
        format!("{PREFIX}{}", last.simple())
    } else {
        format!("{PREFIX}{}.{:016x}", last.simple(), fingerprint(scope))
    }
}

/// The id a token continues after; `None` for the first page.
///
/// # Errors
/// `InvalidArgument` on `page_token` for a token this server did not issue
/// or one issued for another filter.
pub(crate) fn decode(token: &str, scope: &str) -> Result<Option<Uuid>, DomainError> {
    if token.is_empty() {
        return Ok(None);
    }
    let forged = || DomainError::invalid("page_token", "is not a token from a previous page");
    let rest = token.strip_prefix(PREFIX).ok_or_else(forged)?;
    let (hex, mark) = match rest.split_once('.') {
        Some((hex, mark)) => (hex, Some(mark)),
        None => (rest, None),
    };
    let id = Uuid::try_parse(hex).map_err(|_| forged())?;
    let expected = (!scope.is_empty()).then(|| format!("{:016x}", fingerprint(scope)));
    if mark.map(str::to_owned) != expected {
        return Err(DomainError::invalid(
            "page_token",
            "was issued for a different filter; start again without a token",
        ));
    }
    Ok(Some(id))
}

/// A token that also carries one flag of the last item (for orders that
/// sort by a flag before the id, such as pinned notes).
pub(crate) fn encode_flagged(last: Uuid, flag: bool, scope: &str) -> String {
    format!("{}{}", if flag { '1' } else { '0' }, encode(last, scope))
}

/// Inverse of [`encode_flagged`].
///
/// # Errors
/// As [`decode`].
pub(crate) fn decode_flagged(
    token: &str,
    scope: &str,
) -> Result<Option<(Uuid, bool)>, DomainError> {
    if token.is_empty() {
        return Ok(None);
    }
    let (flag, rest) = match token.split_at_checked(1) {
        Some(("1", rest)) => (true, rest),
        Some(("0", rest)) => (false, rest),
        _ => {
            return Err(DomainError::invalid(
                "page_token",
                "is not a token from a previous page",
            ));
        }
    };
    match decode(rest, scope)? {
        Some(id) => Ok(Some((id, flag))),
        None => Err(DomainError::invalid(
            "page_token",
            "is not a token from a previous page",
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_round_trip_and_forgeries_are_refused() {
        let id = Uuid::now_v7();
        assert_eq!(decode(&encode(id, ""), "").unwrap(), Some(id));
        assert_eq!(decode(&encode(id, "tag:vip"), "tag:vip").unwrap(), Some(id));
        assert_eq!(decode("", "tag:vip").unwrap(), None);
        assert!(decode("garbage", "").is_err());
        assert!(decode("c1.zz", "").is_err());
    }

    #[test]
    fn flagged_tokens_round_trip() {
        let id = Uuid::now_v7();
        assert_eq!(
            decode_flagged(&encode_flagged(id, true, "s"), "s").unwrap(),
            Some((id, true))
        );
        assert_eq!(
            decode_flagged(&encode_flagged(id, false, "s"), "s").unwrap(),
            Some((id, false))
        );
        assert!(decode_flagged(&encode(id, "s"), "s").is_err());
        assert!(decode_flagged("1", "s").is_err());
    }

    #[test]
    fn a_token_is_bound_to_its_filter() {
        let id = Uuid::now_v7();
        assert!(decode(&encode(id, "tag:vip"), "tag:gold").is_err());
        assert!(decode(&encode(id, "tag:vip"), "").is_err());
        assert!(decode(&encode(id, ""), "tag:vip").is_err());
    }
}
