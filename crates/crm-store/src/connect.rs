//! Opening the database: URL parsing, pool tuning, SQLite file creation,
//! and migrations at start-up (serialised across replicas where the dialect
//! says so), and the store that hands out the repositories.

use std::sync::Arc;
use std::time::Duration;

use crm_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use crate::attachments::SeaAttachmentRepository;
use crate::contacts::SeaContactRepository;
use crate::conversations::SeaConversationRepository;
use crate::creates::Creates;
use crate::dialect::{Backend, sqlite_path};
use crate::error::StoreError;
use crate::fields::SeaCustomFieldRepository;
use crate::lookups::Lookups;
use crate::merge::SeaMergeRepository;
use crate::notes::SeaNoteRepository;
use crate::organizations::SeaOrganizationRepository;
use crate::pools::{Bounded, Limit, Pools};
use crate::tenancy::SeaTenantRepository;
use crate::tiers::SeaTierRepository;
use crate::write::Writer;

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
    /// No connection could be opened: `target` says where it was tried
    /// (never with the password), `reason` what the driver said.
    #[error("cannot connect to {target}: {reason}")]
    Unreachable {
        /// Where the connection was tried.
        target: String,
        /// The driver's reason.
        reason: String,
    },
    /// A migration failed, or the database failed once connected.
    #[error("cannot open the database: {0}")]
    Database(#[from] StoreError),
    /// The database records its migrations as applied, yet tables are
    /// missing: it was changed outside `crmd`.
    #[error(
        "the database lacks the tables {missing} although it records its migrations as \
         applied; it was changed outside crmd: restore it, or point the database URL at an \
         empty database to start afresh"
    )]
    MissingTables {
        /// The missing tables, comma-separated.
        missing: String,
    },
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections in the pool.
    pub max_connections: u32,
    /// Most address look-up statements the hot path runs at once; look-ups
    /// arriving while all are busy share the next one (see `lookups`).
    pub lookup_statements: usize,
    /// How long one statement may run or wait for a lock, and (with a
    /// second more) how long a statement or a write transaction waits for
    /// an answer before the store takes the database for unavailable.
    pub statement_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        // Measured: 8 to 16 connections beat 4 on a 2-core machine.
        Self {
            max_connections: 16,
            lookup_statements: default_lookup_statements(),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

/// One look-up statement in flight per core, at least two: enough to keep
/// the database busy, few enough that a burst shares statements.
fn default_lookup_statements() -> usize {
    std::thread::available_parallelism().map_or(2, |cores| cores.get().max(2))
}

/// An open, migrated database and the repositories over it.
#[derive(Debug, Clone)]
pub struct Store {
    pools: Pools,
}

/// Statements slower than this are logged at WARN.
const SLOW_STATEMENT: Duration = Duration::from_millis(250);

impl Store {
    /// Opens `url` (`sqlite://path` or `postgres://...`), creating the SQLite
    /// file and its directory if missing, and applies pending migrations.
    ///
    /// # Errors
    /// [`ConnectError`] when the URL is unsupported, the file cannot be
    /// created, the server refuses, or a migration fails.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Store, ConnectError> {
        let backend =
            Backend::of_url(url).ok_or_else(|| ConnectError::UnsupportedUrl(url.to_owned()))?;
        if backend.is_a_local_file() {
            create_parent_directory(url)?;
        }
        // Migrations run over one dedicated connection that is closed before
        // the pool opens, so no pooled connection can ever hold a view of the
        // schema from half-way through a migration (seen on SQLite under load
        // as "ON CONFLICT clause does not match any PRIMARY KEY").
        let driver = StoreError::from_driver;
        let unreachable = |reason: String| ConnectError::Unreachable {
            target: backend.describe(url),
            reason,
        };
        backend.probe(url).await.map_err(unreachable)?;
        let migrator = connect_migrator(url, backend)
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        migrate(&migrator, backend).await.map_err(driver)?;
        let missing = missing_tables(&migrator, backend).await.map_err(driver)?;
        if missing.is_empty() {
            crate::search::fill_search_names(&migrator, backend)
                .await
                .map_err(driver)?;
            crate::filters::fill_value_keys(&migrator, backend)
                .await
                .map_err(driver)?;
        }
        if backend == Backend::Postgres {
            warn_without_autovacuum(&migrator).await;
        }
        migrator.close().await.map_err(driver)?;
        if !missing.is_empty() {
            return Err(ConnectError::MissingTables {
                missing: missing.join(", "),
            });
        }
        let limit = Limit {
            statement: options.statement_timeout,
        };
        let wait = Some(options.statement_timeout);
        let db = Database::connect(connect_options(url, backend, options.max_connections, wait))
            .await
            .map_err(driver)?;
        let inline = crate::inline::InlineReader::for_url(url, backend).map(Arc::new);
        let inline_writer = inline
            .as_ref()
            .map(|reader| Arc::new(crate::inline::InlineWriter::beside(reader)));
        let writer = Writer::new(
            if backend.writes_through_one_connection() {
                Database::connect(connect_options(url, backend, 1, wait))
                    .await
                    .map_err(driver)?
            } else {
                db.clone()
            },
            limit,
            inline_writer.is_some(),
        );
        Ok(Store {
            pools: Pools {
                db: Bounded {
                    connection: db,
                    limit,
                },
                writer,
                backend,
                lookups: Arc::new(Lookups::new(options.lookup_statements)),
                inline,
                inline_writer,
                creates: Arc::new(Creates::new()),
            },
        })
    }

    /// Which backend this store talks to.
    pub fn backend(&self) -> Backend {
        self.pools.backend
    }

    /// The search repository.
    pub fn search(&self) -> Arc<crate::search::SeaSearchRepository> {
        Arc::new(crate::search::SeaSearchRepository {
            pools: self.pools.clone(),
        })
    }

    /// The contact repository.
    pub fn contacts(&self) -> Arc<SeaContactRepository> {
        Arc::new(SeaContactRepository {
            pools: self.pools.clone(),
        })
    }

    /// The custom-field and layout repository.
    pub fn custom_fields(&self) -> Arc<SeaCustomFieldRepository> {
        Arc::new(SeaCustomFieldRepository {
            pools: self.pools.clone(),
        })
    }

    /// The conversation repository.
    pub fn conversations(&self) -> Arc<SeaConversationRepository> {
        Arc::new(SeaConversationRepository {
            pools: self.pools.clone(),
        })
    }

    /// The attachment repository.
    pub fn attachments(&self) -> Arc<SeaAttachmentRepository> {
        Arc::new(SeaAttachmentRepository {
            pools: self.pools.clone(),
        })
    }

    /// The merge repository.
    pub fn merges(&self) -> Arc<SeaMergeRepository> {
        Arc::new(SeaMergeRepository {
            pools: self.pools.clone(),
        })
    }

    /// The standing duplicate index.
    pub fn duplicates(&self) -> Arc<crate::SeaDuplicateIndex> {
        Arc::new(crate::SeaDuplicateIndex {
            pools: self.pools.clone(),
            examined: Arc::default(),
        })
    }

    /// The import-job repository.
    pub fn imports(&self) -> Arc<crate::SeaImportRepository> {
        Arc::new(crate::SeaImportRepository {
            pools: self.pools.clone(),
        })
    }

    /// The segment repository.
    pub fn segments(&self) -> Arc<crate::SeaSegmentRepository> {
        Arc::new(crate::SeaSegmentRepository {
            pools: self.pools.clone(),
        })
    }

    /// The note repository.
    pub fn notes(&self) -> Arc<SeaNoteRepository> {
        Arc::new(SeaNoteRepository {
            pools: self.pools.clone(),
        })
    }

    /// The organization repository.
    pub fn organizations(&self) -> Arc<SeaOrganizationRepository> {
        Arc::new(SeaOrganizationRepository {
            pools: self.pools.clone(),
        })
    }

    /// The tier repository.
    pub fn tiers(&self) -> Arc<SeaTierRepository> {
        Arc::new(SeaTierRepository {
            pools: self.pools.clone(),
        })
    }

    /// The tenant repository.
    pub fn tenants(&self) -> Arc<SeaTenantRepository> {
        Arc::new(SeaTenantRepository {
            pools: self.pools.clone(),
        })
    }

    /// Every table with a foreign key to `contacts`, sorted: what hangs off
    /// a contact, read from the schema itself (the merge's list of child
    /// records is checked against it).
    ///
    /// # Errors
    /// [`StoreError`] when the database fails.
    pub async fn tables_referencing_contacts(&self) -> Result<Vec<String>, StoreError> {
        #[derive(sea_orm::FromQueryResult)]
        struct Name {
            name: String,
        }
        let rows = self
            .pools
            .db
            .query_all_raw(
                self.pools
                    .backend
                    .tables_referencing_contacts()
                    .build(self.pools.backend.db_backend()),
            )
            .await
            .map_err(StoreError::from_driver)?;
        rows.iter()
            .map(|row| {
                use sea_orm::FromQueryResult;
                Name::from_query_result(row, "")
                    .map(|name| name.name)
                    .map_err(StoreError::from_driver)
            })
            .collect()
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// [`StoreError`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let db = &self.pools.db;
        db.limit
            .bound(db.connection.ping())
            .await
            .map_err(StoreError::from_driver)
    }

    /// Closes the pools.
    ///
    /// # Errors
    /// [`StoreError`] when closing fails.
    pub async fn close(self) -> Result<(), StoreError> {
        if self.pools.backend.writes_through_one_connection() {
            self.pools
                .writer
                .close()
                .await
                .map_err(StoreError::from_driver)?;
        }
        self.pools
            .db
            .connection
            .close()
            .await
            .map_err(StoreError::from_driver)
    }
}

/// The pool's settings; `wait` bounds each statement (see
/// `Backend::configure`).
/// Logs a warning when the PostgreSQL server runs without autovacuum. Its
/// ANALYZE is what makes connections re-plan the statements they prepared
/// while a table was small; without it, a statement planned on an empty
/// `conversations` table scans it whole for as long as the connection
/// lives, and writes to a busy contact slow down as its history grows (seen
/// on the development machine, whose server has it off).
async fn warn_without_autovacuum(db: &DatabaseConnection) {
    let statement = sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        "SELECT current_setting('autovacuum') AS setting",
    );
    let setting = match db.query_one_raw(statement).await {
        Ok(Some(row)) => row.try_get::<String>("", "setting").ok(),
        _ => None,
    };
    if setting.as_deref() == Some("off") {
        tracing::warn!(
            "autovacuum is off on this PostgreSQL server: statements planned while a table \
             was small are never re-planned as it grows; turn autovacuum on, or run \
             VACUUM ANALYZE regularly"
        );
    }
}

fn connect_options(
    url: &str,
    backend: Backend,
    max_connections: u32,
    wait: Option<Duration>,
) -> ConnectOptions {
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
    backend.configure(&mut connect, wait);
    connect
}

/// Opens the one connection migrations run over. On a fresh SQLite file,
/// processes starting together race to switch it into WAL mode, and that
/// switch takes a lock SQLite's busy handler does not wait for: the loser
/// gets "database is locked" at once. It is tried again, briefly, until the
/// file is in WAL mode (after which the switch is a no-op) or the migration
/// lock's wait is over.
async fn connect_migrator(url: &str, backend: Backend) -> Result<DatabaseConnection, DbErr> {
    let deadline = tokio::time::Instant::now() + crate::dialect::MIGRATION_LOCK_WAIT;
    let mut pause = Duration::from_millis(5);
    loop {
        match Database::connect(connect_options(url, backend, 1, None)).await {
            Err(error)
                if backend == Backend::Sqlite
                    && error.to_string().contains("database is locked")
                    && tokio::time::Instant::now() + pause < deadline =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            outcome => return outcome,
        }
    }
}

/// Applies pending migrations in one transaction that excludes every other
/// process migrating the same database (see `Backend::migration_lock`), so
/// servers and `crmd tenant` commands starting together on a fresh database
/// migrate it once: the first applies them, the others wait and find them
/// applied.
async fn migrate(db: &DatabaseConnection, backend: Backend) -> Result<(), DbErr> {
    let transaction = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    if let Some(lock) = backend.migration_lock() {
        transaction
            .execute_raw(lock.build(backend.db_backend()))
            .await?;
    }
    Migrator::up(&transaction, None).await?;
    transaction.commit().await
}

/// Every table the store reads or writes.
const TABLES: [&str; 22] = [
    "attachment_blobs",
    "attachments",
    "contact_identities",
    "contact_merges",
    "contact_tags",
    "contact_values",
    "contacts",
    "conversations",
    "custom_fields",
    "import_chunks",
    "import_errors",
    "import_jobs",
    "layout_sections",
    "layout_tabs",
    "merged_contacts",
    "not_duplicates",
    "notes",
    "organization_domains",
    "organizations",
    "segments",
    "tenants",
    "tiers",
];

/// The tables of [`TABLES`] the migrated database lacks: none, unless it
/// was changed behind the migrations' back (tables dropped, a partial
/// restore), which would otherwise fail every call that reaches them.
async fn missing_tables(db: &DatabaseConnection, backend: Backend) -> Result<Vec<String>, DbErr> {
    #[derive(sea_orm::FromQueryResult)]
    struct Name {
        name: String,
    }
    let rows = db
        .query_all_raw(backend.tables().build(backend.db_backend()))
        .await?;
    let mut present = Vec::with_capacity(rows.len());
    for row in &rows {
        use sea_orm::FromQueryResult;
        present.push(Name::from_query_result(row, "")?.name);
    }
    Ok(TABLES
        .iter()
        .filter(|table| !present.iter().any(|name| name == *table))
        .map(|table| (*table).to_owned())
        .collect())
}

fn create_parent_directory(url: &str) -> Result<(), ConnectError> {
    let path = sqlite_path(url);
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
