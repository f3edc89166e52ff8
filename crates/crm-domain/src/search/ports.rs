//! What the search use case needs from storage.

use async_trait::async_trait;

use crate::contacts::Contact;
use crate::kernel::{ContactId, DomainError, TenantId};
use crate::search::{Candidate, SearchQuery};

/// Most candidates one source of a search yields (the store caps each
/// source before it orders anything, so a common term never costs a walk
/// of the tenant). A search lists at most this many matches per source.
pub const CANDIDATES_PER_SOURCE: usize = 1000;

/// What the sources of a search found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Candidates {
    /// Every contact found, once per source that found it, in no order.
    pub found: Vec<Candidate>,
    /// Whether a source stopped at its cap (more contacts match).
    pub capped: bool,
    /// Whether sources that apply to the query were left out (asked for
    /// [`SourceScope::Leading`]): more contacts may match, ranked after
    /// those found.
    pub partial: bool,
    /// How many contacts the sources counted, which may be more than they
    /// listed (the leading name-prefix source counts up to the cap but
    /// lists only what the page needs): at least this many match.
    pub counted: usize,
}

/// Which sources of a query run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceScope {
    /// Only those whose matches rank first: exact addresses and names by
    /// prefix, both read from btrees. Enough for a page they fill, since
    /// every other source's matches rank after theirs. The name-prefix
    /// source lists only its first `wanted` names (by name, then id), and
    /// counts the rest up to the cap.
    Leading {
        /// How many results the page needs, counted from the first.
        wanted: usize,
    },
    /// Every source that applies to the query.
    All,
}

/// Storage behind contact search.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait SearchRepository: Send + Sync {
    /// The contacts of `tenant` each source of `query` finds, at most
    /// `cap` per source, in one round trip: exact addresses (by the unique
    /// address index); names by prefix (in name order); and, when the query
    /// is long enough for it, names, addresses and phone digits by infix
    /// and organizations by name or domain (by trigram indexes). Contacts
    /// that were merged away are gone, so never found. `scope` says which
    /// of those sources run.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn candidates(
        &self,
        tenant: TenantId,
        query: &SearchQuery,
        cap: usize,
        scope: SourceScope,
    ) -> Result<Candidates, DomainError>;

    /// The contacts of `tenant` among `ids` that exist, in no order.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn contacts(
        &self,
        tenant: TenantId,
        ids: &[ContactId],
    ) -> Result<Vec<Contact>, DomainError>;
}
