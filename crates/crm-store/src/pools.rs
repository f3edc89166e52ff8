//! The connections every repository holds: the read pool, the [`Writer`]
//! (the one write path) and the backend, whose dialect the repository asks
//! for what differs. One value, cloned into each repository by the store.
//!
//! Every statement is bounded in time. The database bounds it itself where
//! it can (PostgreSQL's `statement_timeout`, SQLite's busy timeout; see
//! `Backend::configure`); [`Bounded`] and the [`Writer`] abandon, a little
//! later, what gets no answer at all (a database stopped or cut off
//! mid-statement), so no call waits on a silent database until its
//! caller's deadline.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};

use crate::dialect::Backend;
use crate::error::no_answer;
use crate::write::Writer;

/// A repository's connections.
#[derive(Debug, Clone)]
pub(crate) struct Pools {
    /// Reads outside a write run here.
    pub(crate) db: Bounded,
    /// Every write runs here.
    pub(crate) writer: Writer,
    /// Which database both talk to.
    pub(crate) backend: Backend,
    /// The hot path's coalescing reader over `db`, shared by every clone.
    pub(crate) lookups: std::sync::Arc<crate::lookups::Lookups>,
    /// SQLite's in-line reader (see `inline`), when the database is a
    /// SQLite file: the hot path's look-ups and whole pages read by it.
    pub(crate) inline: Option<std::sync::Arc<crate::inline::InlineReader>>,
    /// SQLite's in-line writer beside it, for the hot path's new senders
    /// (see `creates`); it writes in the [`Writer`]'s turn.
    pub(crate) inline_writer: Option<std::sync::Arc<crate::inline::InlineWriter>>,
    /// SQLite's coalescing creator of new senders over `writer`, shared by
    /// every clone.
    pub(crate) creates: std::sync::Arc<crate::creates::Creates>,
}

impl Pools {
    /// Runs a small read (a few index probes) and turns each row into a `T`
    /// by `into`: on SQLite in-line on this thread (see `inline`), and
    /// through the read pool on PostgreSQL or when a lock holds the in-line
    /// read up.
    ///
    /// # Errors
    /// What `into` returns; the driver's, as `storage` maps them.
    pub(crate) async fn fetch_small<R, T>(
        &self,
        sql: crate::sql::Sql,
        into: impl Fn(R) -> Result<T, crm_domain::DomainError>,
    ) -> Result<Vec<T>, crm_domain::DomainError>
    where
        R: sea_orm::FromQueryResult + crate::inline::InlineRow,
    {
        let statement = sql.build(self.backend.db_backend());
        if let Some(reader) = &self.inline {
            match reader.with_connection(|connection| {
                crate::inline::run(connection, &statement, |row| R::from_inline(row, 0))
            }) {
                Ok(rows) => return rows.into_iter().map(into).collect(),
                Err(crate::inline::InlineError::Busy) => {}
                Err(crate::inline::InlineError::Failed(error)) => return Err(error),
            }
        }
        self.db
            .query_all_raw(statement)
            .await
            .map_err(crate::error::storage)?
            .iter()
            .map(|row| {
                R::from_query_result(row, "")
                    .map_err(crate::error::storage)
                    .and_then(&into)
            })
            .collect()
    }
}

/// How long a statement may take, and how long one that gets no answer at
/// all is waited for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    /// What the database is told to enforce itself.
    pub(crate) statement: Duration,
}

impl Limit {
    /// How long the store waits for an answer before it gives up on the
    /// database: the statement's own limit and a second for the database's
    /// cancellation to arrive, which leaves the connection usable.
    pub(crate) fn answer(self) -> Duration {
        self.statement + Duration::from_secs(1)
    }

    /// Runs `work`, failing it as unavailable when no answer comes in time.
    pub(crate) async fn bound<T>(
        self,
        work: impl Future<Output = Result<T, DbErr>>,
    ) -> Result<T, DbErr> {
        match tokio::time::timeout(self.answer(), work).await {
            Ok(done) => done,
            Err(_) => Err(no_answer(self.answer())),
        }
    }
}

/// The read pool, with every statement bounded by a [`Limit`].
#[derive(Debug, Clone)]
pub(crate) struct Bounded {
    pub(crate) connection: DatabaseConnection,
    pub(crate) limit: Limit,
}

impl Bounded {
    /// Runs `statement` with planner `settings` (`SET LOCAL ...`) on
    /// PostgreSQL, in a read transaction so they end with it: two more
    /// round trips for a plan the caller pins. SQLite runs it as it is.
    ///
    /// # Errors
    /// The driver's.
    pub(crate) async fn query_pinned(
        &self,
        backend: crate::dialect::Backend,
        settings: &str,
        statement: Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        match backend {
            crate::dialect::Backend::Postgres => {
                self.limit
                    .bound(async {
                        let transaction =
                            sea_orm::TransactionTrait::begin(&self.connection).await?;
                        transaction.execute_unprepared(settings).await?;
                        let rows = transaction.query_all_raw(statement).await?;
                        transaction.commit().await?;
                        Ok(rows)
                    })
                    .await
            }
            crate::dialect::Backend::Sqlite => self.query_all_raw(statement).await,
        }
    }
}

#[async_trait]
impl ConnectionTrait for Bounded {
    fn get_database_backend(&self) -> DbBackend {
        self.connection.get_database_backend()
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        self.limit
            .bound(self.connection.execute_raw(statement))
            .await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.limit
            .bound(self.connection.execute_unprepared(sql))
            .await
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.limit
            .bound(self.connection.query_one_raw(statement))
            .await
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.limit
            .bound(self.connection.query_all_raw(statement))
            .await
    }

    fn support_returning(&self) -> bool {
        self.connection.support_returning()
    }
}
