//! Ranking candidates and saying what matched: pure rules over what the
//! store found.

use std::collections::HashMap;

use crate::contacts::Contact;
use crate::identity::IdentityKind;
use crate::kernel::ContactId;
use crate::search::SearchQuery;

/// Where the store found a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// One of its addresses is exactly the query.
    ExactAddress,
    /// Its name starts with the query.
    NamePrefix,
    /// Its name holds the query.
    NameInfix,
    /// One of its addresses holds the query.
    AddressInfix,
    /// One of its phone numbers holds the query's digits.
    PhoneDigits,
    /// One of its emails is at the query's domain.
    EmailDomain,
    /// Its organization's name or one of its domains holds the query.
    Organization,
}

/// A contact the store found, with its folded name (the sort key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The contact.
    pub id: ContactId,
    /// Its name as [`crate::search::fold`] gives it.
    pub name: String,
    /// Where it was found.
    pub source: Source,
}

/// How well a result matches, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rank {
    /// An address or external id is exactly the query.
    Exact,
    /// The name starts with the query.
    Prefix,
    /// A later word of the name starts with the query ("silv" in "Ana
    /// Silva").
    WordPrefix,
    /// Anything else that holds the query.
    Infix,
}

/// A ranked result before its contact is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    /// The contact.
    pub id: ContactId,
    /// Its rank.
    pub rank: Rank,
    /// Whether it was found through its organization.
    pub by_organization: bool,
}

/// Whether a folded name, or a word of it, starts with the folded query.
pub fn name_has_prefix(name: &str, query: &str) -> bool {
    name.starts_with(query) || name.split(' ').any(|word| word.starts_with(query))
}

/// Orders candidates found by any number of sources: each contact once, at
/// its best rank; then by folded name, then by id, so equal names keep a
/// stable order across pages.
pub fn rank(query: &SearchQuery, candidates: Vec<Candidate>) -> Vec<Ranked> {
    let mut best: HashMap<ContactId, (Rank, String, bool)> = HashMap::new();
    for candidate in candidates {
        let rank = match candidate.source {
            Source::ExactAddress => Rank::Exact,
            _ if candidate.name.starts_with(query.name.as_str()) => Rank::Prefix,
            _ if name_has_prefix(&candidate.name, &query.name) => Rank::WordPrefix,
            _ => Rank::Infix,
        };
        let by_organization = candidate.source == Source::Organization;
        let entry = best
            .entry(candidate.id)
            .or_insert_with(|| (rank, candidate.name, by_organization));
        entry.0 = entry.0.min(rank);
        entry.2 |= by_organization;
    }
    let mut ranked: Vec<(Rank, String, ContactId, bool)> = best
        .into_iter()
        .map(|(id, (rank, name, by_organization))| (rank, name, id, by_organization))
        .collect();
    ranked.sort_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
    ranked
        .into_iter()
        .map(|(rank, _, id, by_organization)| Ranked {
            id,
            rank,
            by_organization,
        })
        .collect()
}

/// Which part of a contact matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchedField {
    /// The display name.
    Name,
    /// An email address.
    Email,
    /// A phone number.
    Phone,
    /// The external id.
    ExternalId,
    /// Another channel address (a handle, a page-scoped or visitor id).
    OtherAddress,
    /// The organization's name or domain.
    Organization,
}

/// How a field matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchKind {
    /// The whole value is the query.
    Exact,
    /// The value, or a word of a name, starts with the query.
    Prefix,
    /// The value holds the query.
    Infix,
}

/// One thing that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Match {
    /// What matched.
    pub field: MatchedField,
    /// How.
    pub kind: MatchKind,
}

fn field_of(kind: IdentityKind) -> MatchedField {
    match kind {
        IdentityKind::Email => MatchedField::Email,
        IdentityKind::Phone => MatchedField::Phone,
        IdentityKind::ExternalId => MatchedField::ExternalId,
        IdentityKind::Instagram
        | IdentityKind::Telegram
        | IdentityKind::Messenger
        | IdentityKind::Webchat
        | IdentityKind::WhatsappUserId => MatchedField::OtherAddress,
    }
}

/// What of `contact` matches `query` (each field once, at its best kind),
/// read from the contact itself; `by_organization` when the store found it
/// through its organization. Empty when nothing does any more (the contact
/// changed since it was found): such a result is dropped.
pub fn matches(query: &SearchQuery, contact: &Contact, by_organization: bool) -> Vec<Match> {
    let mut found: Vec<Match> = Vec::new();
    let name = crate::search::fold(&contact.fields.display_name);
    if name == query.name {
        found.push(Match {
            field: MatchedField::Name,
            kind: MatchKind::Exact,
        });
    } else if name_has_prefix(&name, &query.name) {
        found.push(Match {
            field: MatchedField::Name,
            kind: MatchKind::Prefix,
        });
    } else if query.infix() && name.contains(&query.name) {
        found.push(Match {
            field: MatchedField::Name,
            kind: MatchKind::Infix,
        });
    }
    for identity in &contact.identities {
        let field = field_of(identity.kind);
        let value = identity.value.to_lowercase();
        let exact = query
            .exact
            .iter()
            .any(|key| key.kind == identity.kind && key.value == identity.value);
        let kind = if exact {
            Some(MatchKind::Exact)
        } else if !query.infix() {
            None
        } else if value.starts_with(&query.address) {
            Some(MatchKind::Prefix)
        } else if value.contains(&query.address) {
            Some(MatchKind::Infix)
        } else {
            query
                .digits
                .as_ref()
                .filter(|digits| identity.kind == IdentityKind::Phone && value.contains(*digits))
                .map(|_| MatchKind::Infix)
        };
        if let Some(kind) = kind {
            found.push(Match { field, kind });
        }
    }
    if by_organization {
        found.push(Match {
            field: MatchedField::Organization,
            kind: MatchKind::Infix,
        });
    }
    found.sort_by_key(|found| (found.field, found.kind));
    found.dedup_by_key(|found| found.field);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Region;
    use crate::search::fold;

    fn query(text: &str) -> SearchQuery {
        SearchQuery::parse(text, Region::parse("BR").unwrap_or_else(|_| unreachable!()))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn candidate(n: u128, name: &str, source: Source) -> Candidate {
        Candidate {
            id: ContactId::from_uuid(uuid::Uuid::from_u128(n)),
            name: fold(name),
            source,
        }
    }

    #[test]
    fn exact_addresses_first_then_name_prefixes_then_word_prefixes_then_the_rest_each_once() {
        let ranked = rank(
            &query("silv"),
            vec![
                candidate(1, "Ana Silva", Source::NameInfix),
                candidate(2, "Joao Prata", Source::AddressInfix),
                candidate(3, "Silvia Reis", Source::NamePrefix),
                candidate(3, "Silvia Reis", Source::NameInfix),
                candidate(4, "Zé", Source::ExactAddress),
                candidate(5, "Ana Silva", Source::NameInfix),
                candidate(6, "Bruna Xsilv", Source::Organization),
            ],
        );
        let order: Vec<(u128, Rank)> = ranked
            .iter()
            .map(|r| (r.id.as_uuid().as_u128(), r.rank))
            .collect();
        assert_eq!(
            order,
            [
                (4, Rank::Exact),
                (3, Rank::Prefix),
                (1, Rank::WordPrefix),
                (5, Rank::WordPrefix),
                (6, Rank::Infix),
                (2, Rank::Infix),
            ]
        );
        assert!(ranked[4].by_organization);
        assert!(!ranked[5].by_organization);
    }
}
