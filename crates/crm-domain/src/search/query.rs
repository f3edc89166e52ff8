//! What a search box's text asks for: the folded name text, the address
//! text, the digits a phone number written any way carries, and the exact
//! addresses it may be.

use crate::identity::{self, IdentityKey, IdentityKind, Region};
use crate::kernel::DomainError;

/// Longest query, in bytes (checked before anything else is done with it).
pub const MAX_QUERY_BYTES: usize = 200;

/// Fewest characters an infix search takes: the trigram indexes need
/// three. Shorter queries match name prefixes and exact addresses only.
pub const MIN_INFIX_CHARS: usize = 3;

pub use crate::kernel::fold;

/// What a query looks like, which decides where it is looked for: an
/// address goes to the address indexes only, so a query that shares its
/// common part with a million addresses ("@gmail.com", "+1650") never
/// walks their trigrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Holds an `@` after its first character: an email, whole or in part.
    Email,
    /// Only digits and `+ - ( ) . /` and spaces, three digits or more.
    Phone,
    /// One word with a dot that reads as a domain (`acme.com`,
    /// `ana.silva`): an email domain, an organization's domain, or a part
    /// of an address or a name.
    Domain,
    /// Anything else: names, parts of addresses, external ids.
    Text,
}

/// Refuses a query longer than [`MAX_QUERY_BYTES`]: the check an adapter
/// makes before it does anything with the query (a page token is bound to
/// it), and the first thing [`SearchQuery::parse`] does.
///
/// # Errors
/// `InvalidArgument` on `query`.
pub fn check_length(raw: &str) -> Result<(), DomainError> {
    if raw.len() > MAX_QUERY_BYTES {
        return Err(DomainError::invalid(
            "query",
            format!("must be at most {MAX_QUERY_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// A parsed search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// What the query looks like.
    pub shape: Shape,
    /// The query as an email domain (`acme.com`, `@acme.com`), when it reads
    /// as one.
    pub domain: Option<String>,
    /// The query as names are held ([`fold`]); never empty.
    pub name: String,
    /// The query as addresses are held: trimmed and lower-cased, punctuation
    /// kept (`ana.silva@`, `acme.com`).
    pub address: String,
    /// The digits of a query written like a phone number (only digits and
    /// `+ - ( ) . /` and spaces, at least [`MIN_INFIX_CHARS`] digits), with
    /// leading zeros (a trunk or international prefix) dropped, so
    /// "11 98765", "+55 11 98765-4321" and "(011) 98765-4321" all find
    /// +5511987654321.
    pub digits: Option<String>,
    /// Every address the whole query is, read as each kind (a phone number
    /// in the tenant's region): an exact match ranks first.
    pub exact: Vec<IdentityKey>,
}

impl SearchQuery {
    /// Parses a query for a tenant whose national phone numbers are read in
    /// `region`.
    ///
    /// # Errors
    /// `InvalidArgument` on `query` when it is empty, longer than
    /// [`MAX_QUERY_BYTES`], or holds nothing to search by.
    pub fn parse(raw: &str, region: Region) -> Result<Self, DomainError> {
        check_length(raw)?;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(DomainError::invalid("query", "must not be empty"));
        }
        let name = fold(trimmed);
        if name.is_empty() {
            return Err(DomainError::invalid(
                "query",
                "must hold at least one letter or digit",
            ));
        }
        let address = trimmed.to_lowercase();
        let phone_like = trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().//".contains(c));
        let digits = phone_like
            .then(|| {
                let all: String = trimmed.chars().filter(char::is_ascii_digit).collect();
                all.trim_start_matches('0').to_owned()
            })
            .filter(|digits| digits.len() >= MIN_INFIX_CHARS);
        let mut exact: Vec<IdentityKey> = IdentityKind::ALL
            .iter()
            .filter_map(|kind| identity::normalize(*kind, trimmed, region).ok())
            .map(|address| IdentityKey {
                kind: address.kind,
                value: address.value,
            })
            .collect();
        exact.dedup();
        let one_word = !trimmed.contains(char::is_whitespace);
        let at = trimmed.find('@');
        let domain = (one_word && trimmed.contains('.') && at.is_none_or(|at| at == 0))
            .then(|| identity::normalize_domain(trimmed).ok())
            .flatten();
        let shape = if digits.is_some() {
            Shape::Phone
        } else if at.is_some_and(|at| at > 0) {
            Shape::Email
        } else if domain.is_some() {
            Shape::Domain
        } else {
            Shape::Text
        };
        Ok(Self {
            shape,
            domain,
            name,
            address,
            digits,
            exact,
        })
    }

    /// Whether the query is long enough for infix (trigram) matching;
    /// shorter ones match name prefixes and exact addresses only.
    pub fn infix(&self) -> bool {
        self.name.chars().count() >= MIN_INFIX_CHARS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Region {
        Region::parse("BR").unwrap_or_else(|_| unreachable!("BR is a region"))
    }

    #[test]
    fn folding_drops_accents_case_and_punctuation() {
        assert_eq!(fold("José  O'Brien"), "jose o brien");
        assert_eq!(fold("ÁNA-Maria"), "ana maria");
        assert_eq!(fold("  "), "");
        assert_eq!(fold("Zoë Ünal"), "zoe unal");
    }

    #[test]
    fn a_phone_written_any_way_gives_the_same_digits() {
        for written in ["11 98765", "(011) 98765", "+55 11 98765", "0055 11 98765"] {
            let query = SearchQuery::parse(written, region()).unwrap_or_else(|e| panic!("{e}"));
            let digits = query.digits.unwrap_or_default();
            assert!(
                "5511987654321".contains(&digits),
                "{written}: {digits} is not in the number"
            );
        }
        let whole =
            SearchQuery::parse("+55 11 98765-4321", region()).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            whole
                .exact
                .iter()
                .any(|key| key.kind == IdentityKind::Phone && key.value == "+5511987654321")
        );
        let national =
            SearchQuery::parse("(11) 98765-4321", region()).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            national
                .exact
                .iter()
                .any(|key| key.value == "+5511987654321")
        );
        assert_eq!(
            SearchQuery::parse("ana 12", region()).map(|q| q.digits),
            Ok(None),
            "letters make it no phone"
        );
        assert_eq!(
            SearchQuery::parse("12", region()).map(|q| q.digits),
            Ok(None),
            "too few digits"
        );
    }

    #[test]
    fn an_email_is_an_exact_address_and_an_address_text() {
        let query =
            SearchQuery::parse(" Ana@Example.COM ", region()).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            query
                .exact
                .iter()
                .any(|key| key.kind == IdentityKind::Email && key.value == "ana@example.com")
        );
        assert_eq!(query.address, "ana@example.com");
        assert_eq!(query.name, "ana example com");
        assert!(query.infix());
        assert_eq!(query.shape, Shape::Email);
        let shape = |text: &str| SearchQuery::parse(text, region()).map(|q| (q.shape, q.domain));
        assert_eq!(
            shape("acme.com"),
            Ok((Shape::Domain, Some("acme.com".into())))
        );
        assert_eq!(
            shape("@Acme.com"),
            Ok((Shape::Domain, Some("acme.com".into())))
        );
        assert_eq!(shape("ana.silva@"), Ok((Shape::Email, None)));
        assert_eq!(shape("11 98765").map(|s| s.0), Ok(Shape::Phone));
        assert_eq!(shape("ana silva"), Ok((Shape::Text, None)));
        assert_eq!(shape("crm-0042"), Ok((Shape::Text, None)));
    }

    #[test]
    fn bad_queries_name_the_field() {
        for bad in ["", "   ", "--", &"x".repeat(MAX_QUERY_BYTES + 1)] {
            match SearchQuery::parse(bad, region()) {
                Err(DomainError::InvalidArgument(found)) => {
                    assert_eq!(found[0].field, "query", "{bad:?}");
                    assert!(found[0].description.len() < 100);
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let short = SearchQuery::parse("an", region()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!short.infix());
    }
}
