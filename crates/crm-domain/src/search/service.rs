//! The search use case: parse the query, let the store's capped sources find
//! candidates, rank them, read the page's contacts and say what matched.

use std::collections::HashMap;
use std::sync::Arc;

use crate::contacts::Contact;
use crate::kernel::DomainError;
use crate::search::{CANDIDATES_PER_SOURCE, Match, SearchQuery, SearchRepository, matches, rank};
use crate::tenancy::Caller;

/// One result: the contact and what of it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The contact, as a read gives it.
    pub contact: Contact,
    /// What matched, each field once.
    pub matches: Vec<Match>,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    /// This page's results, best first.
    pub hits: Vec<SearchHit>,
    /// Where the next page starts in the ranked results; `None` on the last.
    pub next_offset: Option<usize>,
    /// How many results the query has in all (within the caps).
    pub total: usize,
    /// Whether a source stopped at its cap: more contacts match than are
    /// listed, and a more precise query finds them.
    pub capped: bool,
}

/// Search use cases.
#[derive(Clone)]
pub struct SearchService {
    search: Arc<dyn SearchRepository>,
}

impl std::fmt::Debug for SearchService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchService").finish_non_exhaustive()
    }
}

impl SearchService {
    /// Wires the use case to its port.
    pub fn new(search: Arc<dyn SearchRepository>) -> Self {
        Self { search }
    }

    /// The page of `page_size` results of `query` that starts at `offset`
    /// of the ranked results: exact addresses first, then names starting
    /// with the query, then everything else that holds it; equal ranks by
    /// folded name, then id. Read-after-write: the indexes are written with
    /// the contact, so a contact is found the moment its write returns.
    ///
    /// # Errors
    /// `InvalidArgument` on `query` (see [`SearchQuery::parse`]);
    /// `Unavailable`; `Internal`.
    pub async fn search_contacts(
        &self,
        caller: &Caller,
        query: &str,
        page_size: u32,
        offset: usize,
    ) -> Result<SearchPage, DomainError> {
        let tenant = caller.tenant();
        let query = SearchQuery::parse(query, tenant.default_region)?;
        let found = self
            .search
            .candidates(tenant.id, &query, CANDIDATES_PER_SOURCE)
            .await?;
        let ranked = rank(&query, found.found);
        let size = usize::try_from(page_size).unwrap_or(usize::MAX);
        let page: Vec<_> = ranked.iter().skip(offset).take(size).collect();
        let ids: Vec<_> = page.iter().map(|ranked| ranked.id).collect();
        let mut contacts: HashMap<_, _> = if ids.is_empty() {
            HashMap::new()
        } else {
            self.search
                .contacts(tenant.id, &ids)
                .await?
                .into_iter()
                .map(|contact| (contact.id, contact))
                .collect()
        };
        let hits = page
            .iter()
            .filter_map(|ranked| {
                let contact = contacts.remove(&ranked.id)?;
                let matches = matches(&query, &contact, ranked.by_organization);
                (!matches.is_empty()).then_some(SearchHit { contact, matches })
            })
            .collect();
        let end = offset.saturating_add(size);
        Ok(SearchPage {
            hits,
            next_offset: (end < ranked.len()).then_some(end),
            total: ranked.len(),
            capped: found.capped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityKind;
    use crate::search::{
        Candidate, Candidates, MatchKind, MatchedField, MockSearchRepository, Source, fold,
    };

    fn contact(tenant: &crate::tenancy::Tenant, name: &str, emails: &[&str]) -> Contact {
        Contact {
            id: crate::kernel::ContactId::from_uuid(uuid::Uuid::now_v7()),
            tenant_id: tenant.id,
            fields: crate::contacts::ContactFields {
                display_name: name.into(),
                ..Default::default()
            },
            identities: emails
                .iter()
                .map(|address| crate::identity::ContactIdentity {
                    kind: IdentityKind::Email,
                    value: (*address).into(),
                    raw: (*address).into(),
                    primary: true,
                })
                .collect(),
            tags: Vec::new(),
            custom_fields: Default::default(),
            engagement: crate::contacts::Engagement::default(),
            tier: None,
            version: 1,
            create_time: time::OffsetDateTime::UNIX_EPOCH,
            update_time: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn a_page_is_read_in_rank_order_and_says_what_matched() {
        let tenant = crate::tenancy::Tenant::for_tests();
        let caller = Caller::tenant_key(tenant.clone());
        let ana = contact(&tenant, "Ana Silva", &["ana@silva.com"]);
        let silvio = contact(&tenant, "Sílvio Reis", &[]);
        let found = vec![
            Candidate {
                id: ana.id,
                name: fold("Ana Silva"),
                source: Source::AddressInfix,
            },
            Candidate {
                id: ana.id,
                name: fold("Ana Silva"),
                source: Source::NameInfix,
            },
            Candidate {
                id: silvio.id,
                name: fold("Sílvio Reis"),
                source: Source::NamePrefix,
            },
        ];
        let mut repository = MockSearchRepository::new();
        repository
            .expect_candidates()
            .returning(move |_, query, cap| {
                assert_eq!(query.name, "silv");
                assert_eq!(cap, CANDIDATES_PER_SOURCE);
                Ok(Candidates {
                    found: found.clone(),
                    capped: false,
                })
            });
        let (first, second) = (ana.clone(), silvio.clone());
        repository
            .expect_contacts()
            .times(2)
            .returning(move |_, ids| {
                Ok([first.clone(), second.clone()]
                    .into_iter()
                    .filter(|contact| ids.contains(&contact.id))
                    .collect())
            });
        let service = SearchService::new(Arc::new(repository));
        let page = service
            .search_contacts(&caller, "SILV", 1, 0)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.total, 2);
        assert_eq!(page.next_offset, Some(1));
        assert_eq!(page.hits.len(), 1);
        assert_eq!(
            page.hits[0].contact.id, ana.id,
            "ana silva sorts before silvio reis"
        );
        assert_eq!(
            page.hits[0].matches,
            [
                Match {
                    field: MatchedField::Name,
                    kind: MatchKind::Prefix
                },
                Match {
                    field: MatchedField::Email,
                    kind: MatchKind::Infix
                },
            ]
        );
        let next = service
            .search_contacts(&caller, "silv", 1, 1)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next.hits[0].contact.id, silvio.id);
        assert_eq!(next.next_offset, None);
    }
}
