//! Every text this API hands out for a caller to send back: etags, page
//! tokens and the merge preview token. The domain knows versions and
//! cursors; their wire forms live here, at the edge, in one place. The
//! formats are fixed (tokens minted by an earlier build still parse):
//!
//! - etag `W/"VERSION"`;
//! - page token `c1.ID_HEX[.FILTER_FNV64_HEX]`, after the record `ID`, bound
//!   to the list's filter so it cannot be replayed against another
//!   (AIP-158: INVALID_ARGUMENT), and `0c1...`/`1c1...` when the order sorts
//!   by a flag before the id (pinned notes);
//! - ordered contact list token `k1.KEY.` and a page token, after the
//!   last contact's sort key and id;
//! - duplicate-group page token `g1.SCORE_IN_HUNDREDTHS.FIRST_ID_HEX`;
//! - merge preview token `m1.ID_HEX-VERSION...`, survivor first, binding a
//!   merge to the version of every contact the preview read.

use crm_domain::contacts::{ContactCursor, SortKey};
use crm_domain::merge::GroupCursor;
use crm_domain::{ContactId, DomainError};
use uuid::Uuid;

/// The etag of a record at a version. Opaque to callers.
pub(crate) fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The version an etag names.
///
/// # Errors
/// `InvalidArgument` on `field` when the etag was not issued by this server.
pub(crate) fn version(etag: &str, field: &str) -> Result<i64, DomainError> {
    etag.strip_prefix("W/\"")
        .and_then(|rest| rest.strip_suffix('"'))
        .and_then(|number| number.parse::<i64>().ok())
        .filter(|version| *version > 0)
        .ok_or_else(|| DomainError::invalid(field, "is not an etag this server issued"))
}

/// The version an optional etag names; `None` when it is empty.
///
/// # Errors
/// As [`version`].
pub(crate) fn optional_version(etag: &str, field: &str) -> Result<Option<i64>, DomainError> {
    if etag.is_empty() {
        Ok(None)
    } else {
        version(etag, field).map(Some)
    }
}

/// The prefix of a page token.
const PREFIX: &str = "c1.";

/// FNV-1a, 64 bits: a stable fingerprint, not a secret.
fn fingerprint(scope: &str) -> u64 {
    scope.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The token that continues after `last` in a list filtered by `scope`
/// (empty when unfiltered).
pub(crate) fn page(last: Uuid, scope: &str) -> String {
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
pub(crate) fn page_after(token: &str, scope: &str) -> Result<Option<Uuid>, DomainError> {
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
pub(crate) fn flagged_page(last: Uuid, flag: bool, scope: &str) -> String {
    format!("{}{}", if flag { '1' } else { '0' }, page(last, scope))
}

/// Inverse of [`flagged_page`].
///
/// # Errors
/// As [`page_after`].
pub(crate) fn flagged_page_after(
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
    match page_after(rest, scope)? {
        Some(id) => Ok(Some((id, flag))),
        None => Err(DomainError::invalid(
            "page_token",
            "is not a token from a previous page",
        )),
    }
}

/// The token that continues a contact list after `cursor`: `c1...` (as
/// [`page`]) in id order; `k1.KEY.` then the [`page`] token of the id when
/// the order sorts by a field first, `KEY` being `t` and the folded name's
/// bytes in hex, or `n` and a time in Unix nanoseconds.
pub(crate) fn contact_page(cursor: &ContactCursor, scope: &str) -> String {
    let id = page(cursor.id.as_uuid(), scope);
    match &cursor.key {
        None => id,
        Some(SortKey::Text(text)) => {
            let hex: String = text.bytes().map(|byte| format!("{byte:02x}")).collect();
            format!("k1.t{hex}.{id}")
        }
        Some(SortKey::Time(time)) => format!("k1.n{}.{id}", time.unix_timestamp_nanos()),
    }
}

/// Inverse of [`contact_page`]; `None` for the first page.
///
/// # Errors
/// As [`page_after`].
pub(crate) fn contact_page_after(
    token: &str,
    scope: &str,
) -> Result<Option<ContactCursor>, DomainError> {
    let forged = || DomainError::invalid("page_token", "is not a token from a previous page");
    let Some(rest) = token.strip_prefix("k1.") else {
        return Ok(
            page_after(token, scope)?.map(|id| ContactCursor::after(ContactId::from_uuid(id)))
        );
    };
    let (key, id) = rest.split_once('.').ok_or_else(forged)?;
    let key = if let Some(hex) = key.strip_prefix('t') {
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|at| {
                hex.get(at..at + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(forged)?;
        SortKey::Text(String::from_utf8(bytes).map_err(|_| forged())?)
    } else if let Some(nanos) = key.strip_prefix('n') {
        let nanos = nanos.parse::<i128>().map_err(|_| forged())?;
        SortKey::Time(time::OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| forged())?)
    } else {
        return Err(forged());
    };
    let id = page_after(id, scope)?.ok_or_else(forged)?;
    Ok(Some(ContactCursor {
        key: Some(key),
        id: ContactId::from_uuid(id),
    }))
}

/// The token of the search page that starts at `offset` of the ranked
/// results of `query`: `s1.OFFSET.QUERY_FNV64_HEX`.
pub(crate) fn search_page(offset: usize, query: &str) -> String {
    format!("s1.{offset}.{:016x}", fingerprint(query))
}

/// Where a search page token starts; 0 for the first page.
///
/// # Errors
/// `InvalidArgument` on `page_token` for a token this server did not issue
/// or one issued for another query.
pub(crate) fn search_offset(token: &str, query: &str) -> Result<usize, DomainError> {
    if token.is_empty() {
        return Ok(0);
    }
    let forged = || DomainError::invalid("page_token", "is not a token from a previous page");
    let rest = token.strip_prefix("s1.").ok_or_else(forged)?;
    let (offset, mark) = rest.split_once('.').ok_or_else(forged)?;
    let offset = offset.parse::<usize>().map_err(|_| forged())?;
    if mark != format!("{:016x}", fingerprint(query)) {
        return Err(DomainError::invalid(
            "page_token",
            "was issued for a different query; start again without a token",
        ));
    }
    Ok(offset)
}

/// The token of the duplicate-group page after `cursor`.
pub(crate) fn group_page(cursor: GroupCursor) -> String {
    // Scores are in [0, 1]; hundredths are all a cursor needs.
    #[allow(clippy::cast_possible_truncation)]
    let hundredths = (cursor.score * 100.0).round() as i64;
    format!("g1.{hundredths}.{}", cursor.first.as_uuid().simple())
}

/// The cursor a duplicate-group token continues after; `None` for the first
/// page.
///
/// # Errors
/// `InvalidArgument` on `page_token` for a token this server did not issue.
pub(crate) fn group_page_after(token: &str) -> Result<Option<GroupCursor>, DomainError> {
    if token.is_empty() {
        return Ok(None);
    }
    let forged = || DomainError::invalid("page_token", "is not a token from a previous page");
    let mut parts = token.split('.');
    if parts.next() != Some("g1") {
        return Err(forged());
    }
    let hundredths: i64 = parts
        .next()
        .and_then(|part| part.parse().ok())
        .ok_or_else(forged)?;
    let first = parts
        .next()
        .and_then(|part| Uuid::try_parse(part).ok())
        .ok_or_else(forged)?;
    if parts.next().is_some() {
        return Err(forged());
    }
    #[allow(clippy::cast_precision_loss)]
    let score = hundredths as f64 / 100.0;
    Ok(Some(GroupCursor {
        score,
        first: ContactId::from_uuid(first),
    }))
}

/// The prefix of a merge preview token.
const MERGE_PREFIX: &str = "m1";

/// The token binding a merge to the versions its preview read, survivor
/// first.
pub(crate) fn merge_preview(versions: &[(ContactId, i64)]) -> String {
    let mut token = MERGE_PREFIX.to_owned();
    for (id, version) in versions {
        token.push('.');
        token.push_str(&id.as_uuid().simple().to_string());
        token.push('-');
        token.push_str(&version.to_string());
    }
    token
}

/// The versions a merge preview token binds, checked against the request's
/// ids (survivor first).
///
/// # Errors
/// `InvalidArgument` on `preview_token` for a token this server did not
/// issue or one issued for other contacts.
pub(crate) fn merge_versions(token: &str, ids: &[ContactId]) -> Result<Vec<i64>, DomainError> {
    let forged = || {
        DomainError::invalid(
            "preview_token",
            "is not a token PreviewMergeContacts issued",
        )
    };
    let mut parts = token.split('.');
    if parts.next() != Some(MERGE_PREFIX) {
        return Err(forged());
    }
    let mut bound = Vec::new();
    for part in parts {
        let (id, version) = part.split_once('-').ok_or_else(forged)?;
        let id = Uuid::try_parse(id).map_err(|_| forged())?;
        let version: i64 = version.parse().map_err(|_| forged())?;
        bound.push((ContactId::from_uuid(id), version));
    }
    if bound.iter().map(|(id, _)| *id).ne(ids.iter().copied()) {
        return Err(DomainError::invalid(
            "preview_token",
            "was issued for another merge: preview these contacts, in this order",
        ));
    }
    Ok(bound.into_iter().map(|(_, version)| version).collect())
}

/// The versions a merge's etags name, survivor first.
///
/// # Errors
/// `InvalidArgument` on `duplicate_etags` when there is not one etag per
/// duplicate, or on the etag that this server did not issue.
pub(crate) fn merge_etag_versions(
    survivor: &str,
    duplicates: &[String],
    duplicate_count: usize,
) -> Result<Vec<i64>, DomainError> {
    if duplicates.len() != duplicate_count {
        return Err(DomainError::invalid(
            "duplicate_etags",
            "give one etag per duplicate, in the order of duplicate_ids",
        ));
    }
    let mut versions = vec![version(survivor, "survivor_etag")?];
    for (index, etag) in duplicates.iter().enumerate() {
        versions.push(version(etag, &format!("duplicate_etags[{index}]"))?);
    }
    Ok(versions)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_round_trip_and_forgeries_are_refused() {
        let id = Uuid::now_v7();
        assert_eq!(page_after(&page(id, ""), "").unwrap(), Some(id));
        assert_eq!(
            page_after(&page(id, "tag:vip"), "tag:vip").unwrap(),
            Some(id)
        );
        assert_eq!(page_after("", "tag:vip").unwrap(), None);
        assert!(page_after("garbage", "").is_err());
        assert!(page_after("c1.zz", "").is_err());
    }

    #[test]
    fn flagged_tokens_round_trip() {
        let id = Uuid::now_v7();
        assert_eq!(
            flagged_page_after(&flagged_page(id, true, "s"), "s").unwrap(),
            Some((id, true))
        );
        assert_eq!(
            flagged_page_after(&flagged_page(id, false, "s"), "s").unwrap(),
            Some((id, false))
        );
        assert!(flagged_page_after(&page(id, "s"), "s").is_err());
        assert!(flagged_page_after("1", "s").is_err());
    }

    #[test]
    fn a_token_is_bound_to_its_filter() {
        let id = Uuid::now_v7();
        assert!(page_after(&page(id, "tag:vip"), "tag:gold").is_err());
        assert!(page_after(&page(id, "tag:vip"), "").is_err());
        assert!(page_after(&page(id, ""), "tag:vip").is_err());
    }

    #[test]
    fn an_ordered_token_carries_the_sort_key_and_the_id() {
        let id = ContactId::from_uuid(Uuid::now_v7());
        for key in [
            None,
            Some(SortKey::Text("josé.silva".into())),
            Some(SortKey::Time(
                time::OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789)
                    .unwrap_or_else(|e| panic!("{e}")),
            )),
        ] {
            let cursor = ContactCursor { key, id };
            let token = contact_page(&cursor, "order:x");
            assert_eq!(contact_page_after(&token, "order:x"), Ok(Some(cursor)));
            assert!(contact_page_after(&token, "order:y").is_err());
        }
        for forged in ["k1.tzz.c1.00", "k1.x1.c1.00", "k1.n1", "k1.t61"] {
            assert!(contact_page_after(forged, "").is_err(), "{forged}");
        }
    }
}

#[cfg(test)]
mod edge_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn id(n: u128) -> ContactId {
        ContactId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn etags_round_trip() {
        assert_eq!(etag(7), "W/\"7\"");
        assert_eq!(version(&etag(7), "etag"), Ok(7));
        assert!(version("7", "etag").is_err());
        assert!(version("W/\"-1\"", "etag").is_err());
        assert_eq!(optional_version("", "etag"), Ok(None));
    }

    #[test]
    fn group_tokens_round_trip_and_keep_their_format() {
        let cursor = GroupCursor {
            score: 0.75,
            first: id(1),
        };
        let token = group_page(cursor);
        assert_eq!(token, "g1.75.00000000000000000000000000000001");
        assert_eq!(group_page_after(&token).unwrap(), Some(cursor));
        for forged in ["g1", "g1.x.00", "g2.75.00000000000000000000000000000001"] {
            assert!(group_page_after(forged).is_err(), "{forged}");
        }
    }

    #[test]
    fn a_merge_token_binds_the_ids_in_order_and_their_versions() {
        let token = merge_preview(&[(id(1), 4), (id(2), 9)]);
        assert_eq!(
            token,
            "m1.00000000000000000000000000000001-4.00000000000000000000000000000002-9"
        );
        assert_eq!(merge_versions(&token, &[id(1), id(2)]).unwrap(), [4, 9]);
        for ids in [vec![id(2), id(1)], vec![id(1)], vec![id(1), id(2), id(3)]] {
            match merge_versions(&token, &ids) {
                Err(DomainError::InvalidArgument(violations)) => {
                    assert_eq!(violations[0].field, "preview_token");
                }
                other => panic!("{other:?}"),
            }
        }
        for forged in ["", "m1", "x1.00", "m1.zz-1", &format!("{token}x")] {
            assert!(merge_versions(forged, &[id(1), id(2)]).is_err(), "{forged}");
        }
    }

    #[test]
    fn merge_etags_must_match_the_duplicates_one_for_one() {
        let field = |result: Result<Vec<i64>, DomainError>| match result {
            Err(DomainError::InvalidArgument(violations)) => violations[0].field.clone(),
            other => panic!("{other:?}"),
        };
        let etags = |list: &[&str]| list.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            merge_etag_versions(&etag(2), &etags(&["W/\"5\"", "W/\"7\""]), 2).unwrap(),
            [2, 5, 7]
        );
        assert_eq!(
            field(merge_etag_versions(&etag(2), &etags(&["W/\"5\""]), 2)),
            "duplicate_etags"
        );
        assert_eq!(
            field(merge_etag_versions(&etag(2), &etags(&["W/\"5\"", "7"]), 2)),
            "duplicate_etags[1]"
        );
    }
}
