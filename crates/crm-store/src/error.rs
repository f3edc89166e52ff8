//! The one place storage errors become domain errors: connection trouble is
//! `Unavailable` (retryable), anything else unexpected is `Internal` with the
//! driver's text kept in the log and out of the caller's message.

use crm_domain::DomainError;
use sea_orm::DbErr;

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

/// Whether the error is a unique-constraint violation (PostgreSQL 23505,
/// SQLite's extended codes for UNIQUE and PRIMARY KEY).
pub(crate) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(sqlstate(error).as_deref(), Some("23505" | "2067" | "1555"))
}

/// Whether the error is a foreign-key violation (PostgreSQL 23503, SQLite's
/// extended code for FOREIGN KEY).
pub(crate) fn is_foreign_key_violation(error: &DbErr) -> bool {
    matches!(sqlstate(error).as_deref(), Some("23503" | "787"))
}
