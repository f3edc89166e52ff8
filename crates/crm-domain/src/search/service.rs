//! The search use case: parse the query, let the store's capped sources find
//! candidates, rank them, read the page's contacts and say what matched.

use std::collections::HashMap;
use std::sync::Arc;

use crate::contacts::Contact;
use crate::kernel::DomainError;
use crate::search::{
    CANDIDATES_PER_SOURCE, Match, SearchQuery, SearchRepository, SourceScope, matches, rank,
};
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
    /// Where the next page starts in the ranked results; `None` on the
    /// last. A page the leading sources filled always has one, since the
    /// sources that were not run may find more.
    pub next_offset: Option<usize>,
    /// How many results the query has in all (within the caps).
    pub total: usize,
    /// Whether `total` is a lower bound: a source stopped at its cap, or
    /// the sources whose matches rank last were not run because better
    /// matches filled the page. More contacts may match than are counted.
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
    /// with the query, then names with a later word starting with it, then
    /// everything else that holds it; equal ranks by folded name, then id.
    /// Read-after-write: the indexes are written with the contact, so a
    /// contact is found the moment its write returns.
    ///
    /// The leading sources (exact addresses, name prefixes: btree reads)
    /// run first; when their matches fill the page, the rest (trigram
    /// reads, whose matches all rank after them) do not run, and the total
    /// is then a lower bound.
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
        let size = usize::try_from(page_size).unwrap_or(usize::MAX);
        let leading = self
            .search
            .candidates(
                tenant.id,
                &query,
                CANDIDATES_PER_SOURCE,
                SourceScope::Leading {
                    wanted: offset.saturating_add(size),
                },
            )
            .await?;
        // `skipped`: sources were left out, so more may follow the page.
        let (ranked, total, capped, skipped) = {
            let (partial, capped, counted) = (leading.partial, leading.capped, leading.counted);
            let ranked = rank(&query, leading.found);
            if ranked.len() >= offset.saturating_add(size) {
                // The page is full: counted, not listed, matches are past it.
                let total = ranked.len().max(counted);
                let more = partial || total > ranked.len();
                (ranked, total, capped || partial, more)
            } else if !partial && counted <= ranked.len() {
                let total = ranked.len();
                (ranked, total, capped, false)
            } else {
                let found = self
                    .search
                    .candidates(tenant.id, &query, CANDIDATES_PER_SOURCE, SourceScope::All)
                    .await?;
                let ranked = rank(&query, found.found);
                let total = ranked.len();
                (ranked, total, found.capped, false)
            }
        };
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
            next_offset: (end < total || skipped).then_some(end),
            total,
            capped,
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
        let leading = vec![Candidate {
            id: silvio.id,
            name: fold("Sílvio Reis"),
            source: Source::NamePrefix,
        }];
        let mut all = leading.clone();
        all.extend([
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
        ]);
        let mut repository = MockSearchRepository::new();
        let scopes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let asked = scopes.clone();
        repository
            .expect_candidates()
            .returning(move |_, query, cap, scope| {
                assert_eq!(query.name, "silv");
                assert_eq!(cap, CANDIDATES_PER_SOURCE);
                asked.lock().unwrap_or_else(|e| e.into_inner()).push(scope);
                Ok(match scope {
                    SourceScope::Leading { .. } => Candidates {
                        found: leading.clone(),
                        capped: false,
                        partial: true,
                        counted: 1,
                    },
                    SourceScope::All => Candidates {
                        found: all.clone(),
                        capped: false,
                        partial: false,
                        counted: 2,
                    },
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

        // The name prefix fills a page of one: the infix sources never run,
        // and the total is a lower bound.
        let page = service
            .search_contacts(&caller, "SILV", 1, 0)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            *scopes.lock().unwrap_or_else(|e| e.into_inner()),
            [SourceScope::Leading { wanted: 1 }]
        );
        assert_eq!((page.total, page.capped), (1, true));
        assert_eq!(page.next_offset, Some(1), "more may follow");
        assert_eq!(page.hits.len(), 1);
        assert_eq!(
            page.hits[0].contact.id, silvio.id,
            "a name that starts with the query ranks before a later word that does"
        );
        assert_eq!(
            page.hits[0].matches,
            [Match {
                field: MatchedField::Name,
                kind: MatchKind::Prefix
            }]
        );

        // The next page is past what the leading sources found: every
        // source runs, and the total is exact.
        let next = service
            .search_contacts(&caller, "silv", 1, 1)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            *scopes.lock().unwrap_or_else(|e| e.into_inner()),
            [
                SourceScope::Leading { wanted: 1 },
                SourceScope::Leading { wanted: 2 },
                SourceScope::All
            ]
        );
        assert_eq!((next.total, next.capped), (2, false));
        assert_eq!(next.hits[0].contact.id, ana.id);
        assert_eq!(next.next_offset, None);
        assert_eq!(
            next.hits[0].matches,
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
    }
}
