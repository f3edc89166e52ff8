//! The one place storage errors become domain errors: connection trouble is
//! `Unavailable` (retryable), anything else unexpected is `Internal` with the
//! driver's text kept in the log and out of the caller's message. Outside
//! the ports (opening, pinging, closing the store) errors are [`StoreError`],
//! so no driver type leaves the crate.

use crm_domain::DomainError;
use sea_orm::DbErr;

use crate::dialect::{FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION};

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
        match error {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
                StoreError::Unavailable(error.to_string())
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

/// Maps a driver error that no caller-level rule explains.
pub(crate) fn storage(error: DbErr) -> DomainError {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
            tracing::warn!(%error, "database unavailable");
            DomainError::Unavailable
        }
        DbErr::Query(ref runtime) | DbErr::Exec(ref runtime)
            if is_connection_fault(&runtime.to_string()) =>
        {
            tracing::warn!(%error, "database unavailable");
            DomainError::Unavailable
        }
        other => {
            tracing::error!(error = %other, "unexpected storage error");
            DomainError::Internal("unexpected storage error".to_owned())
        }
    }
}

/// Whether the driver's message says the connection, not the statement, failed.
fn is_connection_fault(message: &str) -> bool {
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
