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
    /// that were merged away are gone, so never found.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn candidates(
        &self,
        tenant: TenantId,
        query: &SearchQuery,
        cap: usize,
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
