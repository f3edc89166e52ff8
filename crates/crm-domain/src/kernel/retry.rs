//! Optimistic concurrency's one retry loop. A use case reads, decides and
//! writes with a check that nothing changed since the read (a version, a
//! unique address, a row that must still exist). When the write loses that
//! race to another writer, the use case reads again and decides afresh, at
//! most [`ATTEMPTS`] times; then it gives up with `Contention` (ABORTED for
//! a gRPC caller, who may try again later).

use crate::kernel::DomainError;

/// How many times a use case reads, decides and writes before giving up.
/// Each lost race means another writer got there first, so the next read
/// sees its work; more than a couple in a row means heavy contention.
pub const ATTEMPTS: usize = 5;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T> {
    /// It finished, with this value.
    Done(T),
    /// It lost a race: read again and decide afresh.
    Again,
}

impl<T> Attempt<T> {
    /// Classifies a write's result: an error that `lost` calls a lost race
    /// is `Again`; any other result stands.
    ///
    /// # Errors
    /// The write's error, when it is not a lost race.
    pub fn again_if(
        result: Result<T, DomainError>,
        lost: impl FnOnce(&DomainError) -> bool,
    ) -> Result<Self, DomainError> {
        match result {
            Err(error) if lost(&error) => Ok(Attempt::Again),
            other => other.map(Attempt::Done),
        }
    }
}

/// The usual lost race of a versioned write: `Stale`, when the caller named
/// no version of its own. A caller that sent an etag must see `Stale`, since
/// the record changed from what it read.
pub fn stale_unless_expected(expected_version: Option<i64>) -> impl Fn(&DomainError) -> bool {
    move |error| matches!(error, DomainError::Stale { .. }) && expected_version.is_none()
}

/// Runs `attempt` until it is done or has lost [`ATTEMPTS`] races.
///
/// `attempt` is a closure returning an `async move` block over references
/// (`|| async move { ... }`), not an async closure: the future of an async
/// closure borrows the closure, and such futures are not known to be `Send`
/// across the gRPC handlers' await points.
///
/// # Errors
/// The first error `attempt` returns; `Contention(what)` after [`ATTEMPTS`]
/// lost races.
pub async fn retry<T, Fut>(
    what: &'static str,
    mut attempt: impl FnMut() -> Fut,
) -> Result<T, DomainError>
where
    Fut: Future<Output = Result<Attempt<T>, DomainError>>,
{
    for _ in 0..ATTEMPTS {
        if let Attempt::Done(value) = attempt().await? {
            return Ok(value);
        }
    }
    Err(DomainError::Contention(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lost_race_is_tried_again_until_the_budget_runs_out() {
        let calls = std::cell::Cell::new(0);
        let result: Result<(), _> = retry("thing", || async {
            calls.set(calls.get() + 1);
            Ok(Attempt::Again)
        })
        .await;
        assert_eq!(result, Err(DomainError::Contention("thing")));
        assert_eq!(calls.get(), ATTEMPTS);
    }

    #[tokio::test]
    async fn the_first_win_or_error_ends_the_loop() {
        let calls = std::cell::Cell::new(0);
        let won = retry("thing", || async {
            calls.set(calls.get() + 1);
            Ok(if calls.get() == 3 {
                Attempt::Done(calls.get())
            } else {
                Attempt::Again
            })
        })
        .await;
        assert_eq!(won, Ok(3));
        let failed: Result<(), _> = retry("thing", || async {
            Err(DomainError::Internal("boom".into()))
        })
        .await;
        assert_eq!(failed, Err(DomainError::Internal("boom".into())));
    }

    #[test]
    fn only_a_stale_write_without_an_etag_is_a_lost_race() {
        let stale = || {
            Err::<(), _>(DomainError::Stale {
                entity: crate::kernel::Entity::Contact,
                id: "x".into(),
            })
        };
        assert_eq!(
            Attempt::again_if(stale(), stale_unless_expected(None)),
            Ok(Attempt::Again)
        );
        assert!(Attempt::again_if(stale(), stale_unless_expected(Some(2))).is_err());
        assert_eq!(
            Attempt::again_if(Ok(7), stale_unless_expected(None)),
            Ok(Attempt::Done(7))
        );
    }
}
