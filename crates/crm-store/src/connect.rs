//! Opening the database: URL parsing, pool tuning per backend, SQLite file
//! creation, and migrations at start-up (serialised across replicas on
//! PostgreSQL by an advisory lock).

use std::sync::Arc;
use std::time::Duration;

use crm_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, TransactionTrait,
};

use crate::attachments::SeaAttachmentRepository;
use crate::contacts::SeaContactRepository;
use crate::conversations::SeaConversationRepository;
use crate::custom_fields::SeaCustomFieldRepository;
use crate::merges::SeaMergeRepository;
use crate::notes::SeaNoteRepository;
use crate::organizations::SeaOrganizationRepository;
use crate::tenants::SeaTenantRepository;
use crate::tiers::SeaTierRepository;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database url {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// The directory for the SQLite file could not be created.
    #[error("cannot create the database directory {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The database refused the connection or a migration failed.
    #[error("cannot open the database: {0}")]
    Database(#[from] sea_orm::DbErr),
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections in the pool.
    pub max_connections: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        // Measured: 8 to 16 connections beat 4 on a 2-core machine.
        Self {
            max_connections: 16,
        }
    }
}

/// An open, migrated database and the repositories over it.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Where write transactions run: on SQLite a pool of one connection, so
    /// writers queue on an async acquire and are woken the moment the last
    /// one commits, instead of polling SQLite's busy handler in sleeps of
    /// 1 to 25 ms; on PostgreSQL the same pool as reads.
    writer: DatabaseConnection,
    backend: Backend,
}

/// Statements slower than this are logged at WARN.
const SLOW_STATEMENT: Duration = Duration::from_millis(250);

/// Key of the advisory lock that serialises migrations across replicas.
const MIGRATION_LOCK: i64 = 0x0063_726d_6d69_6772; // "crmmigr"

impl Store {
    /// Opens `url` (`sqlite://path` or `postgres://...`), creating the SQLite
    /// file and its directory if missing, and applies pending migrations.
    ///
    /// # Errors
    /// [`ConnectError`] when the URL is unsupported, the file cannot be
    /// created, the server refuses, or a migration fails.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Store, ConnectError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(ConnectError::UnsupportedUrl(url.to_owned()));
        };
        if backend == Backend::Sqlite {
            create_parent_directory(url)?;
        }
        // Migrations run over one dedicated connection that is closed before
        // the pool opens, so no pooled connection can ever hold a view of the
        // schema from half-way through a migration (seen on SQLite under load
        // as "ON CONFLICT clause does not match any PRIMARY KEY").
        let migrator = Database::connect(connect_options(url, backend, 1)).await?;
        migrate(&migrator, backend).await?;
        migrator.close().await?;
        let db = Database::connect(connect_options(url, backend, options.max_connections)).await?;
        let writer = match backend {
            Backend::Sqlite => Database::connect(connect_options(url, backend, 1)).await?,
            Backend::Postgres => db.clone(),
        };
        Ok(Store {
            db,
            writer,
            backend,
        })
    }

    /// Which backend this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The contact repository.
    pub fn contacts(&self) -> Arc<SeaContactRepository> {
        Arc::new(SeaContactRepository::new(
            self.db.clone(),
            self.writer.clone(),
        ))
    }

    /// The custom-field and layout repository.
    pub fn custom_fields(&self) -> Arc<SeaCustomFieldRepository> {
        Arc::new(SeaCustomFieldRepository::new(
            self.db.clone(),
            self.writer.clone(),
        ))
    }

    /// The conversation repository.
    pub fn conversations(&self) -> Arc<SeaConversationRepository> {
        Arc::new(SeaConversationRepository::new(
            self.db.clone(),
            self.writer.clone(),
        ))
    }

    /// The attachment repository.
    pub fn attachments(&self) -> Arc<SeaAttachmentRepository> {
        Arc::new(SeaAttachmentRepository::new(
            self.db.clone(),
            self.writer.clone(),
        ))
    }

    /// The merge repository.
    pub fn merges(&self) -> Arc<SeaMergeRepository> {
        Arc::new(SeaMergeRepository::new(
            self.db.clone(),
            self.writer.clone(),
        ))
    }

    /// The note repository.
    pub fn notes(&self) -> Arc<SeaNoteRepository> {
        Arc::new(SeaNoteRepository::new(self.db.clone(), self.writer.clone()))
    }

    /// The organization repository.
    pub fn organizations(&self) -> Arc<SeaOrganizationRepository> {
        Arc::new(SeaOrganizationRepository::new(
            self.db.clone(),
            self.writer.clone(),
        ))
    }

    /// The tier repository.
    pub fn tiers(&self) -> Arc<SeaTierRepository> {
        Arc::new(SeaTierRepository::new(self.db.clone(), self.writer.clone()))
    }

    /// The tenant repository.
    pub fn tenants(&self) -> Arc<SeaTenantRepository> {
        Arc::new(SeaTenantRepository::new(self.db.clone()))
    }

    /// Every table with a foreign key to `contacts`, sorted: what hangs off
    /// a contact, read from the schema itself (the merge's list of child
    /// records is checked against it).
    ///
    /// # Errors
    /// The driver's error.
    pub async fn tables_referencing_contacts(&self) -> Result<Vec<String>, sea_orm::DbErr> {
        #[derive(sea_orm::FromQueryResult)]
        struct Name {
            name: String,
        }
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT DISTINCT m.name AS name FROM sqlite_master m, \
                 pragma_foreign_key_list(m.name) f \
                 WHERE m.type = 'table' AND f.\"table\" = 'contacts' ORDER BY m.name"
            }
            Backend::Postgres => {
                "SELECT DISTINCT c.conrelid::regclass::text AS name FROM pg_constraint c \
                 WHERE c.contype = 'f' AND c.confrelid = 'contacts'::regclass ORDER BY name"
            }
        };
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(sea_orm::Statement::from_string(backend, sql))
            .await?;
        rows.iter()
            .map(|row| {
                use sea_orm::FromQueryResult;
                Name::from_query_result(row, "").map(|name| name.name)
            })
            .collect()
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// The driver's error when it does not.
    pub async fn ping(&self) -> Result<(), sea_orm::DbErr> {
        self.db.ping().await
    }

    /// Closes the pool.
    ///
    /// # Errors
    /// The driver's error when closing fails.
    pub async fn close(self) -> Result<(), sea_orm::DbErr> {
        if self.backend == Backend::Sqlite {
            self.writer.close().await?;
        }
        self.db.close().await
    }
}

fn connect_options(url: &str, backend: Backend, max_connections: u32) -> ConnectOptions {
    let mut connect = ConnectOptions::new(url);
    connect
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        // Statements are not logged one by one; slow ones are, at WARN.
        .sqlx_logging(true)
        .sqlx_logging_level(log::LevelFilter::Trace)
        .sqlx_slow_statements_logging_settings(log::LevelFilter::Warn, SLOW_STATEMENT)
        // A ping on every acquire costs about 20% of throughput; a broken
        // connection surfaces as an error on first use and is replaced.
        .test_before_acquire(false);
    if backend == Backend::Sqlite {
        connect.map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // WAL + NORMAL: a crash of the process loses nothing; a power
                // cut may lose the last transactions before the next
                // checkpoint, but never corrupts the file. About 40% faster
                // than FULL. See the README.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    }
    connect
}

async fn migrate(db: &DatabaseConnection, backend: Backend) -> Result<(), sea_orm::DbErr> {
    match backend {
        Backend::Sqlite => Migrator::up(db, None).await,
        Backend::Postgres => {
            let transaction = db.begin().await?;
            transaction
                .execute_raw(sea_orm::Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_advisory_xact_lock($1)",
                    [MIGRATION_LOCK.into()],
                ))
                .await?;
            Migrator::up(&transaction, None).await?;
            transaction.commit().await
        }
    }
}

fn create_parent_directory(url: &str) -> Result<(), ConnectError> {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match std::path::Path::new(path).parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            std::fs::create_dir_all(parent).map_err(|source| ConnectError::Directory {
                path: parent.display().to_string(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Begins a write transaction on `writer`: IMMEDIATE on SQLite, so the
/// transaction holds the write lock from its first statement and never has
/// to upgrade a read lock half-way (which SQLite answers with SQLITE_BUSY).
pub(crate) async fn begin_write(
    writer: &DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, crm_domain::DomainError> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    writer
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await
        .map_err(crate::error::storage)
}

/// Commits a write transaction when `outcome` is a success, rolls it back
/// otherwise, and passes the outcome on.
pub(crate) async fn finish<T>(
    transaction: sea_orm::DatabaseTransaction,
    outcome: Result<T, crm_domain::DomainError>,
) -> Result<T, crm_domain::DomainError> {
    match outcome {
        Ok(value) => {
            transaction.commit().await.map_err(crate::error::storage)?;
            Ok(value)
        }
        Err(error) => {
            transaction
                .rollback()
                .await
                .map_err(crate::error::storage)?;
            Err(error)
        }
    }
}
