//! The one write path. Every write of every repository goes through a
//! [`Writer`], the only holder of the write connection:
//!
//! - [`Writer::transaction`] opens a write transaction (IMMEDIATE on SQLite,
//!   so it holds the write lock from its first statement and never has to
//!   upgrade a read lock half-way, which SQLite answers with SQLITE_BUSY),
//!   runs the work, commits when the work succeeds and rolls back when it
//!   fails, so no repository commits or rolls back by hand;
//! - [`Writer::statement`] runs a write of exactly one statement, which the
//!   database runs as a transaction of its own; it exists so the hot path
//!   (a new sender, one round trip on PostgreSQL) and single-row writes do
//!   not pay two more round trips for `BEGIN` and `COMMIT`.
//!
//! Both are bounded in time by the store's [`Limit`]: a transaction as a
//! whole (acquiring the write connection included), a statement alone.
//!
//! The change feed will append its events here, inside the same
//! transaction as the write they describe, so an event is visible exactly
//! when its write is: `transaction` appends them before it commits, and a
//! one-statement write that must emit one either carries it in the same
//! statement (a data-modifying CTE on PostgreSQL) or becomes a `transaction`.

use crm_domain::DomainError;
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use crate::error::{no_answer, storage};
use crate::pools::Limit;
use crate::sql::Sql;

/// What a transaction's work returns to end without its effect: `Undone`
/// when nothing failed but the write must not stay (an address lost to a
/// race, a name found taken), so the caller answers after the rollback, as
/// it knows why; `Failed` for an error.
#[derive(Debug)]
pub(crate) enum Abort {
    Undone,
    Failed(DomainError),
}

impl From<DomainError> for Abort {
    fn from(error: DomainError) -> Self {
        Abort::Failed(error)
    }
}

/// The write connection, and the only way to write through it.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    /// On SQLite a pool of one connection (see
    /// `Backend::writes_through_one_connection`); on PostgreSQL the shared pool.
    connection: DatabaseConnection,
    limit: Limit,
    /// On SQLite, the turn to write: held by every write through
    /// `connection` and by the in-line writer's (see `inline::InlineWriter`),
    /// so the two never meet SQLite's write lock at once, whose busy
    /// handler would put the loser to sleep.
    turn: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
}

/// The turn to write on SQLite, held until dropped (see [`Writer::turn`]).
pub(crate) type WriteTurn = Option<tokio::sync::OwnedMutexGuard<()>>;

impl Writer {
    /// A writer over `connection`; `taking_turns` when something beside it
    /// writes the same database in this process (SQLite's in-line writer).
    pub(crate) fn new(connection: DatabaseConnection, limit: Limit, taking_turns: bool) -> Self {
        Self {
            connection,
            limit,
            turn: taking_turns.then(|| std::sync::Arc::new(tokio::sync::Mutex::new(()))),
        }
    }

    /// Waits for the turn to write, for a writer beside this one, at most
    /// as long as a transaction may take; `None` when writes take no turns.
    ///
    /// # Errors
    /// No turn within that time, as a database that gives no answer.
    pub(crate) async fn turn(&self) -> Result<WriteTurn, DbErr> {
        let Some(turn) = &self.turn else {
            return Ok(None);
        };
        let answer = self.limit.answer();
        tokio::time::timeout(answer, turn.clone().lock_owned())
            .await
            .map(Some)
            .map_err(|_| no_answer(answer))
    }

    /// Runs `work` in one write transaction: commits when it returns `Ok`,
    /// rolls back when it returns `Err`, and passes its outcome on. A
    /// failure to begin, commit or roll back is a storage error.
    ///
    /// `E` is [`DomainError`], or [`Abort`] for work that may end without
    /// its effect although nothing failed.
    pub(crate) async fn transaction<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&DatabaseTransaction) -> Result<T, E>,
        E: From<DomainError>,
    {
        // Dropped on the deadline, an open transaction rolls back.
        let answer = self.limit.answer();
        match tokio::time::timeout(answer, self.run(work)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(storage(no_answer(answer)).into()),
        }
    }

    async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&DatabaseTransaction) -> Result<T, E>,
        E: From<DomainError>,
    {
        let _turn = self.turn().await.map_err(storage)?;
        let transaction = self
            .connection
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
            .map_err(storage)?;
        match work(&transaction).await {
            Ok(value) => {
                transaction.commit().await.map_err(storage)?;
                Ok(value)
            }
            Err(error) => {
                transaction.rollback().await.map_err(storage)?;
                Err(error)
            }
        }
    }

    /// Runs a write of one statement and returns how many rows it changed,
    /// or the driver's error for a caller that gives some errors a meaning.
    pub(crate) async fn statement(&self, sql: Sql) -> Result<u64, DbErr> {
        self.limit
            .bound(async {
                let _turn = self.turn().await?;
                sql.try_execute(&self.connection).await
            })
            .await
    }

    /// Closes the write pool when it is not the shared one.
    pub(crate) async fn close(self) -> Result<(), DbErr> {
        self.connection.close().await
    }
}
