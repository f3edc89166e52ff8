//! Every difference between SQLite and PostgreSQL, in one place. The rest of
//! the crate writes one statement for both and asks [`Backend`] for the few
//! fragments, capabilities and settings that differ; it never branches on
//! the backend itself. Each item says why the two differ.

use std::time::Duration;

use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, DbBackend};

use crate::sql::Sql;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// SQLSTATEs of a unique violation: PostgreSQL's class-23 code, SQLite's
/// extended result codes for UNIQUE (2067) and PRIMARY KEY (1555).
pub(crate) const UNIQUE_VIOLATION: [&str; 3] = ["23505", "2067", "1555"];

/// SQLSTATEs of a foreign-key violation: PostgreSQL's code, SQLite's
/// extended result code for FOREIGN KEY (787).
pub(crate) const FOREIGN_KEY_VIOLATION: [&str; 2] = ["23503", "787"];

/// SQLSTATEs of a transaction the database undid for another's sake:
/// PostgreSQL's deadlock_detected and serialization_failure (SQLite has one
/// writer and raises neither).
pub(crate) const TRANSACTION_UNDONE: [&str; 2] = ["40P01", "40001"];

/// Error codes that say the database is unavailable, not that it refused
/// the statement. PostgreSQL: class 08 (connection exception), a server
/// shutting down or starting (57P01 to 57P03), too many connections
/// (53300) and a statement cancelled, which is what `statement_timeout`
/// does (57014). SQLite: busy and locked, with their extended codes (a
/// write lock held longer than the busy timeout).
pub(crate) fn is_unavailable_code(code: &str) -> bool {
    const POSTGRES: [&str; 5] = ["57P01", "57P02", "57P03", "53300", "57014"];
    const SQLITE: [&str; 6] = ["5", "6", "261", "262", "517", "773"];
    code.starts_with("08") || POSTGRES.contains(&code) || SQLITE.contains(&code)
}

/// PostgreSQL's SQLSTATE for division by zero, which the one-statement
/// resolution raises on purpose to abort itself (see
/// [`Backend::aborts_a_statement_on_demand`]).
pub(crate) const DIVISION_BY_ZERO: &str = "22012";

/// How long start-up waits for PostgreSQL to accept one connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a process starting on SQLite waits for another one's
/// migrations (PostgreSQL's advisory lock waits without a bound).
pub(crate) const MIGRATION_LOCK_WAIT: Duration = Duration::from_secs(60);

/// Key of the advisory lock that serialises migrations across replicas.
const MIGRATION_LOCK: i64 = 0x0063_726d_6d69_6772; // "crmmigr"

/// Statements each SQLite connection keeps prepared (sqlx keeps 100).
/// A prepared statement holds its plan and buffers in SQLite's memory, per
/// connection: 16 pooled connections with 100 each held tens of MiB after a
/// run of searches and filters, which an import's peak then stood on.
const SQLITE_PREPARED: usize = 24;

impl Backend {
    /// The backend a URL names: `sqlite:` or `postgres(ql)://`.
    pub(crate) fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// The backend a connection or transaction talks to.
    pub(crate) fn of<C: ConnectionTrait>(connection: &C) -> Backend {
        match connection.get_database_backend() {
            DbBackend::Postgres => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// sea-orm's name for the backend, to build statements with.
    pub(crate) fn db_backend(self) -> DbBackend {
        match self {
            Backend::Sqlite => DbBackend::Sqlite,
            Backend::Postgres => DbBackend::Postgres,
        }
    }

    /// Where `url` points, for an operator reading an error: the SQLite
    /// file, or PostgreSQL's host and port (or socket directory), database
    /// and user. Never the password.
    pub(crate) fn describe(self, url: &str) -> String {
        match self {
            Backend::Sqlite => format!("the SQLite file {}", sqlite_path(url)),
            Backend::Postgres => match url.parse::<PgConnectOptions>() {
                Ok(options) => {
                    let host = options.get_host();
                    let place = if host.starts_with('/') {
                        format!("the Unix socket in {host} (port {})", options.get_port())
                    } else if host.contains(':') {
                        format!("[{host}]:{}", options.get_port())
                    } else {
                        format!("{host}:{}", options.get_port())
                    };
                    format!(
                        "PostgreSQL at {place} (database {}, user {})",
                        options.get_database().unwrap_or(options.get_username()),
                        options.get_username()
                    )
                }
                Err(_) => "PostgreSQL (the URL does not parse)".to_owned(),
            },
        }
    }

    /// Opens one connection to `url` and closes it again, outside any pool,
    /// so a server that refuses, a wrong password or a missing database is
    /// reported at once with the driver's reason (a pool retries a refused
    /// connection until its acquire timeout and then reports only that).
    /// SQLite has no server to ask: opening the file is the check.
    pub(crate) async fn probe(self, url: &str) -> Result<(), String> {
        use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
        match self {
            Backend::Sqlite => Ok(()),
            Backend::Postgres => {
                let options: PgConnectOptions = url
                    .parse()
                    .map_err(|error: sea_orm::sqlx::Error| error.to_string())?;
                let connection = tokio::time::timeout(PROBE_TIMEOUT, options.connect())
                    .await
                    .map_err(|_| format!("no answer within {PROBE_TIMEOUT:?}"))?
                    .map_err(|error| error.to_string())?;
                // The connection did its job; a failed goodbye changes nothing.
                let _ = connection.close().await;
                Ok(())
            }
        }
    }

    /// Whether the store lives in a local file whose directory must exist
    /// before the first connection creates it (PostgreSQL is a server).
    pub(crate) fn is_a_local_file(self) -> bool {
        self == Backend::Sqlite
    }

    /// Whether writes get a pool of their own with one connection. SQLite
    /// allows one writer at a time: queueing writers on an async acquire
    /// wakes the next the moment the last commits, instead of polling the
    /// busy handler in sleeps of 1 to 25 ms. PostgreSQL writes concurrently
    /// from the shared pool.
    pub(crate) fn writes_through_one_connection(self) -> bool {
        self == Backend::Sqlite
    }

    /// Applies the per-backend connection settings. `wait` bounds how long
    /// one statement may run or wait for a lock: PostgreSQL cancels it
    /// itself (`statement_timeout`), SQLite gives up waiting for the write
    /// lock (its busy timeout). `None` leaves PostgreSQL unbounded (for
    /// migrations, which may build indexes for longer than a call may take)
    /// and gives SQLite [`MIGRATION_LOCK_WAIT`].
    pub(crate) fn configure(self, connect: &mut ConnectOptions, wait: Option<Duration>) {
        match self {
            Backend::Sqlite => {
                connect.map_sqlx_sqlite_opts(move |opts| {
                    opts.create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        // WAL + NORMAL: a crash of the process loses nothing; a
                        // power cut may lose the last transactions before the next
                        // checkpoint, but never corrupts the file. About 40%
                        // faster than FULL. See the README.
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(wait.unwrap_or(MIGRATION_LOCK_WAIT))
                        .foreign_keys(true)
                        .statement_cache_capacity(SQLITE_PREPARED)
                });
            }
            Backend::Postgres => {
                if let Some(wait) = wait {
                    connect.statement_timeout(wait);
                }
            }
        }
    }

    /// The statement that serialises migrations across processes inside the
    /// migration's transaction, if the transaction alone does not: replicas
    /// of PostgreSQL share a server and take an advisory lock. On SQLite
    /// the migration's transaction begins IMMEDIATE, which takes the file's
    /// one write lock before the first read of `seaql_migrations`; a second
    /// process waits for it in the busy handler and then finds the
    /// migrations applied.
    pub(crate) fn migration_lock(self) -> Option<Sql> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let mut sql = Sql::new("SELECT pg_advisory_xact_lock(");
                sql.bind(MIGRATION_LOCK).push(")");
                Some(sql)
            }
        }
    }

    /// Whether a write transaction must lock rows itself to serialise
    /// writers: PostgreSQL locks per row (`FOR UPDATE`); SQLite's IMMEDIATE
    /// transaction already holds the database's one write lock.
    pub(crate) fn locks_rows(self) -> bool {
        self == Backend::Postgres
    }

    /// The clause that ends a `SELECT` locking the rows it reads, or nothing
    /// where the transaction already serialises writers (see
    /// [`Backend::locks_rows`]).
    pub(crate) fn for_update(self) -> &'static str {
        if self.locks_rows() { " FOR UPDATE" } else { "" }
    }

    /// Opening and closing of an aggregate that gives the values of one
    /// expression as a JSON array in text, `[]` over no rows: PostgreSQL's
    /// `json_agg` gives NULL over no rows and a `json` value; SQLite's
    /// `json_group_array` gives `[]` and text.
    pub(crate) fn json_array_agg(self) -> (&'static str, &'static str) {
        match self {
            Backend::Postgres => ("coalesce(json_agg(", "), '[]')::text"),
            Backend::Sqlite => ("json_group_array(", ")"),
        }
    }

    /// How a statement reads the elements of a JSON array of arrays bound as
    /// one text parameter: one row `q` per element (see [`JsonElements`]).
    /// PostgreSQL: `json_array_elements`; SQLite: the `json_each` table.
    pub(crate) fn json_elements(self) -> JsonElements {
        match self {
            Backend::Postgres => JsonElements {
                backend: self,
                from: "json_array_elements(",
                close: "::json) AS q(e)",
            },
            Backend::Sqlite => JsonElements {
                backend: self,
                from: "json_each(",
                close: ") q",
            },
        }
    }

    /// The order of a contact's identities in an aggregate over
    /// `contact_identities i`: primary first, then as added (each address of
    /// one write is stamped a microsecond after the one before), then kind
    /// and value. SQLite keeps timestamps as RFC 3339 text whose fraction
    /// has as many digits as it needs (`...:09.09441Z` for 94,410 us), so
    /// text order is not time order there: it compares the whole seconds as
    /// text and the fraction as a number (`CAST` reads the numeric prefix).
    pub(crate) fn identity_order(self) -> &'static str {
        match self {
            Backend::Postgres => "i.is_primary DESC, i.create_time, i.kind, i.value",
            Backend::Sqlite => {
                "i.is_primary DESC, substr(i.create_time, 1, 19), \
                 CAST(substr(i.create_time, 20) AS REAL), i.kind, i.value"
            }
        }
    }

    /// A JSON array of the comma-separated SQL expressions `items`, as one
    /// element of an aggregate.
    pub(crate) fn json_array_of(self, items: &str) -> String {
        match self {
            Backend::Postgres => format!("json_build_array({items})"),
            Backend::Sqlite => format!("json_array({items})"),
        }
    }

    /// The domain part of the email in `column` (`contact_identities.value`,
    /// bare or behind an alias), written exactly as the expression index
    /// `contact_identities_email_domain` is on each backend, so the planner
    /// can use it: the two have different string functions.
    pub(crate) fn email_domain_of(self, column: &str) -> String {
        match self {
            Backend::Postgres => format!("split_part({column}, '@', 2)"),
            Backend::Sqlite => format!("substr({column}, instr({column}, '@') + 1)"),
        }
    }

    /// Appends a condition: the JSON text column `column` has the top-level
    /// key `key`. PostgreSQL tests keys on `jsonb`; SQLite extracts by path.
    pub(crate) fn push_has_key(self, sql: &mut Sql, column: &str, key: &str) {
        match self {
            Backend::Postgres => {
                sql.push("jsonb_exists(")
                    .push(column)
                    .push("::jsonb, ")
                    .bind(key.to_owned())
                    .push(")");
            }
            Backend::Sqlite => {
                sql.push("json_extract(")
                    .push(column)
                    .push(", ")
                    .bind(json_path(key))
                    .push(") IS NOT NULL");
            }
        }
    }

    /// Appends the JSON text column `column` without its top-level key
    /// `key`. PostgreSQL subtracts the key from a `jsonb`; SQLite removes a path.
    pub(crate) fn push_without_key(self, sql: &mut Sql, column: &str, key: &str) {
        match self {
            Backend::Postgres => {
                sql.push("(")
                    .push(column)
                    .push("::jsonb - ")
                    .bind(key.to_owned())
                    .push(")::text");
            }
            Backend::Sqlite => {
                sql.push("json_remove(")
                    .push(column)
                    .push(", ")
                    .bind(json_path(key))
                    .push(")");
            }
        }
    }

    /// Whether one statement can insert into several tables and then abort
    /// itself, all or nothing: PostgreSQL has data-modifying CTEs (and an
    /// error, [`DIVISION_BY_ZERO`], aborts the whole statement); SQLite has
    /// no data-modifying CTEs, so it needs a transaction of several.
    pub(crate) fn aborts_a_statement_on_demand(self) -> bool {
        self == Backend::Postgres
    }

    /// Every table the connection sees (in the schemas on PostgreSQL's
    /// search path), one per row as `name`: each backend has its catalog.
    pub(crate) fn tables(self) -> Sql {
        Sql::new(match self {
            Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
            Backend::Postgres => {
                "SELECT tablename::text AS name FROM pg_tables \
                 WHERE schemaname = ANY (current_schemas(false))"
            }
        })
    }

    /// Every table with a foreign key to `contacts`, one per row as `name`,
    /// sorted: each backend exposes its catalog differently.
    pub(crate) fn tables_referencing_contacts(self) -> Sql {
        Sql::new(match self {
            Backend::Sqlite => {
                "SELECT DISTINCT m.name AS name FROM sqlite_master m, \
                 pragma_foreign_key_list(m.name) f \
                 WHERE m.type = 'table' AND f.\"table\" = 'contacts' ORDER BY m.name"
            }
            Backend::Postgres => {
                "SELECT DISTINCT c.conrelid::regclass::text AS name FROM pg_constraint c \
                 WHERE c.contype = 'f' AND c.confrelid = 'contacts'::regclass ORDER BY name"
            }
        })
    }
}

/// The file a `sqlite:` URL names (`:memory:` for none).
pub(crate) fn sqlite_path(url: &str) -> &str {
    url.trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default()
}

/// The SQLite JSON path of a top-level key.
fn json_path(key: &str) -> String {
    format!("$.\"{key}\"")
}

/// Reading a bound JSON array of arrays as rows (see
/// [`Backend::json_elements`]): `FROM {from}<parameter>{close}`, then
/// [`JsonElements::element`] for the parts of each row's element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonElements {
    backend: Backend,
    /// Opens the row source; the parameter follows.
    pub(crate) from: &'static str,
    /// Closes the row source after the parameter, naming it `q`.
    pub(crate) close: &'static str,
}

impl JsonElements {
    /// Part `index` of the current element, as SQL type `pg_type` on
    /// PostgreSQL (SQLite's values carry their own type).
    pub(crate) fn element(self, index: usize, pg_type: &str) -> String {
        match self.backend {
            Backend::Postgres => format!("(q.e->>{index})::{pg_type}"),
            Backend::Sqlite => format!("json_extract(q.value, '$[{index}]')"),
        }
    }

    /// Part `index` of the current element, a UUID written as 32 hex
    /// digits, as the backend stores UUIDs (`uuid`; a 16-byte BLOB).
    pub(crate) fn uuid(self, index: usize) -> String {
        match self.backend {
            Backend::Postgres => format!("(q.e->>{index})::uuid"),
            Backend::Sqlite => format!("unhex(json_extract(q.value, '$[{index}]'))"),
        }
    }
}
