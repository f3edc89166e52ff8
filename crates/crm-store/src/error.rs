//! The one place storage errors become domain errors: connection trouble (a
//! database unreachable, gone away, or silent past the statement timeout)
//! is `Unavailable` (retryable), a transaction the database undid for
//! another's sake (a deadlock) is `Contention` (retryable), anything else
//! unexpected is `Internal` with the driver's text kept in the log and out
//! of the caller's message. Outside
//! the ports (opening, pinging, closing the store) errors are [`StoreError`],
//! so no driver type leaves the crate.

use crm_domain::DomainError;
use sea_orm::{DbErr, RuntimeErr};

use crate::dialect::{
    FOREIGN_KEY_VIOLATION, TRANSACTION_UNDONE, UNIQUE_VIOLATION, is_unavailable_code,
};

/// Why an operation on the store itself (not through a port) failed. The
/// driver's text is kept for the operator; no driver type is exposed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or the connection broke.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database answered with an error.
    #[error("the database failed: {0}")]
    Database(String),
}

impl StoreError {
    pub(crate) fn from_driver(error: DbErr) -> StoreError {
        if is_connection_fault(&error) {
            StoreError::Unavailable(error.to_string())
        } else {
            StoreError::Database(error.to_string())
        }
    }
}

/// Maps a driver error that no caller-level rule explains.
pub(crate) fn storage(error: DbErr) -> DomainError {
    // The database undid this transaction because its rows crossed
    // another's: the write may be retried.
    if sqlstate(&error).is_some_and(|code| TRANSACTION_UNDONE.contains(&code.as_str())) {
        tracing::warn!(%error, "transaction undone by the database for another's sake");
        return DomainError::Contention("rows another write held");
    }
    if is_connection_fault(&error) {
        tracing::warn!(%error, "database unavailable");
        DomainError::Unavailable
    } else {
        tracing::error!(%error, "unexpected storage error");
        DomainError::Internal("unexpected storage error".to_owned())
    }
}

/// The error of a statement or transaction abandoned after `limit` without
/// an answer: the database is taken for unavailable.
pub(crate) fn no_answer(limit: std::time::Duration) -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(format!(
        "no answer from the database within {limit:?}"
    )))
}

/// Whether the error says the database could not be reached, went away or
/// did not answer in time, rather than that it refused the statement: the
/// call may succeed if retried. The driver's own error kinds decide first
/// (an I/O error on a dropped connection reads "expected to read 5 bytes"),
/// then the database's code, then, for errors without either, the text.
fn is_connection_fault(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(inner)) | DbErr::Exec(RuntimeErr::SqlxError(inner)) => {
            match inner.as_ref() {
                sea_orm::sqlx::Error::Io(_)
                | sea_orm::sqlx::Error::Tls(_)
                | sea_orm::sqlx::Error::Protocol(_)
                | sea_orm::sqlx::Error::PoolTimedOut
                | sea_orm::sqlx::Error::PoolClosed
                | sea_orm::sqlx::Error::WorkerCrashed => true,
                sea_orm::sqlx::Error::Database(database) => database
                    .code()
                    .is_some_and(|code| is_unavailable_code(&code)),
                other => mentions_a_connection_fault(&other.to_string()),
            }
        }
        DbErr::Query(runtime) | DbErr::Exec(runtime) => {
            mentions_a_connection_fault(&runtime.to_string())
        }
        _ => false,
    }
}

/// Whether the driver's message says the connection, not the statement, failed.
fn mentions_a_connection_fault(message: &str) -> bool {
    const MARKERS: [&str; 6] = [
        "connection refused",
        "connection reset",
        "broken pipe",
        "pool timed out",
        "database is locked",
        "terminating connection",
    ];
    let message = message.to_ascii_lowercase();
    MARKERS.iter().any(|marker| message.contains(marker))
}

/// The SQLSTATE of a database error, when the driver reports one.
pub(crate) fn sqlstate(error: &DbErr) -> Option<String> {
    match error {
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(inner))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(inner)) => match inner.as_ref() {
            sea_orm::sqlx::Error::Database(database) => {
                database.code().map(|code| code.into_owned())
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether the error is a unique-constraint violation.
pub(crate) fn is_unique_violation(error: &DbErr) -> bool {
    sqlstate(error).is_some_and(|code| UNIQUE_VIOLATION.contains(&code.as_str()))
}

/// Whether the error is a foreign-key violation.
pub(crate) fn is_foreign_key_violation(error: &DbErr) -> bool {
    sqlstate(error).is_some_and(|code| FOREIGN_KEY_VIOLATION.contains(&code.as_str()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crm_domain::DomainError;
    use sea_orm::{ConnectionTrait, TransactionTrait};

    use super::storage;
    use crate::testing::{TestBackend, TestDatabase};
    use crate::{Store, StoreOptions};

    /// Two transactions that lock two rows in opposite orders: PostgreSQL
    /// undoes one of them (deadlock_detected), which is contention to
    /// retry, never an internal error. SQLite has one writer and cannot
    /// deadlock.
    #[tokio::test]
    async fn a_deadlock_is_contention_to_retry() {
        let database = TestDatabase::create(TestBackend::Postgres).await;
        let store = Store::connect(&database.url, &StoreOptions::default())
            .await
            .unwrap();
        let connection = &store.search().pools.db.connection;
        connection
            .execute_unprepared(
                "CREATE TABLE crossed (id int PRIMARY KEY, v int NOT NULL); \
                 INSERT INTO crossed VALUES (1, 0), (2, 0)",
            )
            .await
            .unwrap();
        let (one, two) = (
            connection.begin().await.unwrap(),
            connection.begin().await.unwrap(),
        );
        one.execute_unprepared("UPDATE crossed SET v = 1 WHERE id = 1")
            .await
            .unwrap();
        two.execute_unprepared("UPDATE crossed SET v = 2 WHERE id = 2")
            .await
            .unwrap();
        let (first, second) = tokio::join!(
            one.execute_unprepared("UPDATE crossed SET v = 1 WHERE id = 2"),
            two.execute_unprepared("UPDATE crossed SET v = 2 WHERE id = 1"),
        );
        let undone = match (first, second) {
            (Err(error), Ok(_)) | (Ok(_), Err(error)) => error,
            other => panic!("one of the two is undone, got {other:?}"),
        };
        assert!(
            matches!(storage(undone), DomainError::Contention(_)),
            "a deadlock is contention"
        );
        drop((one, two));
        store.close().await.unwrap();
        database.drop_database().await;
    }
}
