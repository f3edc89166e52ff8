//! SQLite's in-line reader: the hot path's look-ups, other small reads,
//! and whole unfiltered pages.
//!
//! sqlx runs every SQLite connection on a thread of its own: a statement
//! goes to that thread and each row comes back from it, two or more
//! hand-offs between threads per look-up. On two busy cores those
//! hand-offs, and the futex calls behind them, cost more than the read
//! itself (sqlx's connection threads took 42% of `crmd`'s CPU at 16
//! callers). The look-up is a few index probes that SQLite answers from
//! its page cache in tens of microseconds, so this reader runs it on the
//! calling task's own thread, over connections of its own opened read-only
//! on the same file. A whole page (an export's, an unfiltered list's) is
//! read the same way on a blocking thread: one hand-off per page, not per
//! row. A read in WAL mode never waits for the writer; a read that does
//! meet a lock (a checkpoint restarting the log) waits at most
//! [`BUSY_WAIT`] and then goes to the pool instead, where waiting is
//! bounded and off this thread.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crm_domain::DomainError;
use rusqlite::types::{Value as Param, ValueRef};
use rusqlite::{Connection, OpenFlags};
use sea_orm::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::dialect::{Backend, sqlite_path};

/// How long an in-line read waits for a lock before it gives the read to
/// the pool.
const BUSY_WAIT: Duration = Duration::from_millis(50);

/// Statements each connection keeps prepared.
const PREPARED: usize = 8;

/// Idle connections kept for the next read; more are closed as they end.
const MAX_IDLE: usize = 8;

/// Connections of the store's own on one SQLite file, each used by one
/// piece of work at a time on the caller's thread, opened on first use and
/// kept idle for the next (at most `max_idle`).
struct Connections {
    path: String,
    writable: bool,
    max_idle: usize,
    idle: Mutex<Vec<Connection>>,
}

impl Connections {
    fn new(path: &str, writable: bool, max_idle: usize) -> Self {
        Self {
            path: path.to_owned(),
            writable,
            max_idle,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A connection that waits at most [`BUSY_WAIT`] for a lock; a
    /// writable one set up as `Backend::configure` sets up sqlx's (the
    /// journal mode, WAL, is the file's own).
    fn open(&self) -> Result<Connection, InlineError> {
        let access = if self.writable {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        };
        let connection = Connection::open_with_flags(
            &self.path,
            access | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        connection.busy_timeout(BUSY_WAIT)?;
        if self.writable {
            connection.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        }
        connection.set_prepared_statement_cache_capacity(PREPARED);
        Ok(connection)
    }

    /// Runs `work` on an idle connection (opened if none is), on this
    /// thread. A connection whose work failed is closed, not kept (closing
    /// rolls back a transaction it left open).
    fn with_connection<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, InlineError>,
    ) -> Result<T, InlineError> {
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let connection = match taken {
            Some(connection) => connection,
            None => self.open()?,
        };
        let done = work(&connection);
        if done.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < self.max_idle {
                idle.push(connection);
            }
        }
        done
    }
}

/// Connections opened read-only on one SQLite file, each used by one read
/// at a time on the caller's thread.
pub(crate) struct InlineReader {
    connections: Connections,
}

impl std::fmt::Debug for InlineReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineReader")
            .field("path", &self.connections.path)
            .finish_non_exhaustive()
    }
}

/// Why an in-line read did not answer.
#[derive(Debug)]
pub(crate) enum InlineError {
    /// A lock held it up: run the read on the pool instead.
    Busy,
    /// Anything else, as the caller reports it.
    Failed(DomainError),
}

impl From<rusqlite::Error> for InlineError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                InlineError::Busy
            }
            Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::SystemIoFailure) => {
                InlineError::Failed(DomainError::Unavailable)
            }
            _ => InlineError::Failed(DomainError::Internal(format!("sqlite in-line: {error}"))),
        }
    }
}

impl InlineReader {
    /// A reader of the database at `url` when it is a SQLite file
    /// (connections open on first use); `None` for PostgreSQL and for an
    /// in-memory SQLite database, which no other connection can open.
    pub(crate) fn for_url(url: &str, backend: Backend) -> Option<Self> {
        let path = sqlite_path(url);
        (backend == Backend::Sqlite
            && !path.is_empty()
            && !path.starts_with(':')
            && !url.contains("mode=memory"))
        .then(|| Self {
            connections: Connections::new(path, false, MAX_IDLE),
        })
    }

    /// Runs `work` on an idle connection (opened if none is), on this
    /// thread. A connection whose work failed is closed, not kept.
    pub(crate) fn with_connection<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, InlineError>,
    ) -> Result<T, InlineError> {
        self.connections.with_connection(work)
    }
}

/// SQLite's in-line writer: one read-write connection of the store's own,
/// for the hot path's new senders (see `creates`). sqlx's write connection
/// runs on a thread of its own, and a batch of new senders there is three
/// round trips to it (BEGIN, the inserts, COMMIT), each two hand-offs
/// between threads on two busy cores while every other new sender waits for
/// the one writer. This writer runs the whole transaction on one blocking
/// thread in one hand-off. It writes only in its turn (`Writer::turn`), so
/// it never meets the sqlx writer at SQLite's write lock.
pub(crate) struct InlineWriter {
    /// One connection: writes take turns anyway.
    connections: Connections,
    /// Transactions a lock held up, which went to the pool.
    busy: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for InlineWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineWriter")
            .field("path", &self.connections.path)
            .finish_non_exhaustive()
    }
}

impl InlineWriter {
    /// A writer of the database `reader` reads. In its turn only another
    /// process or a checkpoint can hold the lock it needs: it waits for that
    /// at most [`BUSY_WAIT`], as the in-line reads do, and then its caller
    /// writes through the pool instead, where waiting is bounded and off
    /// this thread.
    pub(crate) fn beside(reader: &InlineReader) -> Self {
        Self {
            connections: Connections::new(&reader.connections.path, true, 1),
            busy: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many transactions a lock has held up.
    #[cfg(test)]
    pub(crate) fn busy(&self) -> u64 {
        self.busy.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `work` in one IMMEDIATE transaction on this thread: commits
    /// when it returns `Ok`, rolls back otherwise (the connection is closed).
    pub(crate) fn transaction<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, InlineError>,
    ) -> Result<T, InlineError> {
        let done = self.connections.with_connection(|connection| {
            connection.execute_batch("BEGIN IMMEDIATE")?;
            let value = work(connection)?;
            connection.execute_batch("COMMIT")?;
            Ok(value)
        });
        if matches!(done, Err(InlineError::Busy)) {
            self.busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        done
    }
}

/// Runs a statement built for SQLite on `connection` and turns each row
/// into a `T` by `read`.
pub(crate) fn run<T>(
    connection: &Connection,
    statement: &sea_orm::Statement,
    read: impl Fn(&rusqlite::Row<'_>) -> Result<T, DomainError>,
) -> Result<Vec<T>, InlineError> {
    let params = statement
        .values
        .as_ref()
        .map_or(&[][..], |values| values.0.as_slice())
        .iter()
        .map(param)
        .collect::<Result<Vec<_>, _>>()
        .map_err(InlineError::Failed)?;
    let mut prepared = connection.prepare_cached(&statement.sql)?;
    let mut rows = prepared.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read(row).map_err(InlineError::Failed)?);
    }
    Ok(out)
}

/// A bound value as SQLite takes it, in the shape sea-orm's SQLite driver
/// writes it (a UUID as its 16 bytes, a time as RFC 3339 text): the kinds
/// the in-line reads and writes bind;
/// any other is refused as an internal error, never guessed at.
fn param(value: &Value) -> Result<Param, DomainError> {
    Ok(match value {
        Value::String(Some(text)) => Param::Text(text.clone()),
        Value::BigInt(Some(n)) => Param::Integer(*n),
        Value::Int(Some(n)) => Param::Integer(i64::from(*n)),
        Value::Bool(Some(b)) => Param::Integer(i64::from(*b)),
        Value::Uuid(Some(id)) => Param::Blob(id.as_bytes().to_vec()),
        // As sqlx writes it: RFC 3339 text.
        Value::TimeDateTimeWithTimeZone(Some(moment)) => Param::Text(
            moment
                .format(&Rfc3339)
                .map_err(|error| DomainError::Internal(format!("a time to bind: {error}")))?,
        ),
        Value::String(None)
        | Value::BigInt(None)
        | Value::Int(None)
        | Value::Bool(None)
        | Value::Uuid(None)
        | Value::TimeDateTimeWithTimeZone(None) => Param::Null,
        other => {
            return Err(DomainError::Internal(format!(
                "in-line read cannot bind {other:?}"
            )));
        }
    })
}

/// A row shape the in-line reader can fill (see `rows::positional_row!`).
pub(crate) trait InlineRow: Sized {
    /// The row from its columns in order, starting at `first`.
    fn from_inline(row: &rusqlite::Row<'_>, first: usize) -> Result<Self, DomainError>;
}

/// A column value read from an in-line row, as sqlx would decode it.
pub(crate) trait InlineValue: Sized {
    /// The value, or `None` when the column holds something else.
    fn from_inline(value: ValueRef<'_>) -> Option<Self>;
}

impl InlineValue for i64 {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        value.as_i64().ok()
    }
}

impl InlineValue for i32 {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        i32::try_from(value.as_i64().ok()?).ok()
    }
}

impl InlineValue for bool {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        Some(value.as_i64().ok()? != 0)
    }
}

impl InlineValue for String {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        value.as_str().ok().map(str::to_owned)
    }
}

impl InlineValue for Uuid {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        match value {
            ValueRef::Blob(bytes) => Uuid::from_slice(bytes).ok(),
            ValueRef::Text(text) => Uuid::try_parse_ascii(text).ok(),
            _ => None,
        }
    }
}

impl InlineValue for OffsetDateTime {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        match value {
            ValueRef::Text(text) => time_from_text(std::str::from_utf8(text).ok()?),
            ValueRef::Integer(seconds) => OffsetDateTime::from_unix_timestamp(seconds).ok(),
            _ => None,
        }
    }
}

impl<T: InlineValue> InlineValue for Option<T> {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        match value {
            ValueRef::Null => Some(None),
            value => T::from_inline(value).map(Some),
        }
    }
}

/// A stored time: RFC 3339 as the store writes it, or SQLite's own
/// `YYYY-MM-DD HH:MM:SS[.SSS]` (from `strftime`), read as UTC.
fn time_from_text(text: &str) -> Option<OffsetDateTime> {
    if let Ok(time) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(time);
    }
    let with_fraction = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]"
    );
    let whole = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(text, &with_fraction)
        .or_else(|_| time::PrimitiveDateTime::parse(text, &whole))
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// Column `index` of `row` as a `T`; an error naming `column` when it is
/// not one.
pub(crate) fn column<T: InlineValue>(
    row: &rusqlite::Row<'_>,
    index: usize,
    column: &str,
) -> Result<T, DomainError> {
    row.get_ref(index)
        .ok()
        .and_then(T::from_inline)
        .ok_or_else(|| DomainError::Internal(format!("stored {column} is invalid")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Times read back as the store and SQLite's `strftime` write them.
    #[test]
    fn stored_times_read_in_each_written_form() {
        let at = time::macros::datetime!(2026-12-07 18:30:09.09441 UTC);
        assert_eq!(time_from_text("2026-12-07T18:30:09.09441Z"), Some(at));
        assert_eq!(time_from_text("2026-12-07 18:30:09.09441"), Some(at));
        assert_eq!(
            time_from_text("2026-12-07 18:30:09"),
            Some(time::macros::datetime!(2026-12-07 18:30:09 UTC))
        );
        assert_eq!(time_from_text("yesterday"), None);
        assert_eq!(
            Option::<OffsetDateTime>::from_inline(ValueRef::Null),
            Some(None)
        );
        assert_eq!(i32::from_inline(ValueRef::Integer(1 << 40)), None);
    }
}
