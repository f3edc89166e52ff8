//! Opening the store, on SQLite and on PostgreSQL: processes that start
//! together on one fresh database, start-up failures that say what failed,
//! and the time bound on a statement the database holds up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crm_domain::DomainError;
use crm_domain::tenancy::{Tenant, TenantRepository};
use crm_domain::{Region, TenantId};
use crm_store::testing::{BOTH, TestBackend, TestDatabase};
use crm_store::{ConnectError, Store, StoreOptions};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

/// How many stores open one fresh database at once, as `crmd` and two
/// `crmd tenant create` started together do.
const STARTING_TOGETHER: usize = 6;

/// Every store opened at once on a fresh database migrates it or waits for
/// the one that does; none fails half-way.
async fn stores_opened_together_on_a_fresh_database_all_open(backend: TestBackend) {
    // Several rounds, each on a fresh database: the race is in the first
    // moments of a database's life.
    for _ in 0..3 {
        let database = TestDatabase::create(backend).await;
        let opening: Vec<_> = (0..STARTING_TOGETHER)
            .map(|_| {
                let url = database.url.clone();
                tokio::spawn(async move { Store::connect(&url, &StoreOptions::default()).await })
            })
            .collect();
        let mut stores = Vec::new();
        let mut failures = Vec::new();
        for opened in opening {
            match opened.await.unwrap() {
                Ok(store) => stores.push(store),
                Err(error) => failures.push(error.to_string()),
            }
        }
        let tables = match stores.first() {
            Some(store) => store.tables_referencing_contacts().await.unwrap(),
            None => Vec::new(),
        };
        for store in stores {
            store.close().await.unwrap();
        }
        database.drop_database().await;
        assert!(failures.is_empty(), "{backend:?}: {failures:#?}");
        assert!(
            tables.contains(&"contact_identities".to_owned()),
            "{tables:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_opened_together_on_a_fresh_sqlite_file_all_open() {
    stores_opened_together_on_a_fresh_database_all_open(BOTH[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_opened_together_on_a_fresh_postgres_database_all_open() {
    stores_opened_together_on_a_fresh_database_all_open(BOTH[1]).await;
}

/// One connection of its own to `url`, outside any store.
async fn one_connection(url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url);
    options.max_connections(1).min_connections(1);
    Database::connect(options).await.unwrap()
}

/// A database whose migrations are recorded but whose tables were dropped
/// (a partial restore, a hand-made change) is refused at start-up, naming
/// what is missing, instead of failing every call later.
async fn a_migrated_database_without_its_tables_is_refused_at_start_up(backend: TestBackend) {
    let database = TestDatabase::create(backend).await;
    Store::connect(&database.url, &StoreOptions::default())
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    let admin = one_connection(&database.url).await;
    if backend == TestBackend::Sqlite {
        admin
            .execute_unprepared("PRAGMA foreign_keys = OFF")
            .await
            .unwrap();
    }
    for table in ["contacts", "tenants"] {
        let cascade = if backend == TestBackend::Postgres {
            " CASCADE"
        } else {
            ""
        };
        admin
            .execute_unprepared(&format!("DROP TABLE {table}{cascade}"))
            .await
            .unwrap();
    }
    admin.close().await.unwrap();
    let opened = Store::connect(&database.url, &StoreOptions::default()).await;
    database.drop_database().await;
    let error = match opened {
        Ok(_) => panic!("{backend:?}: a database without its tables was opened"),
        Err(error) => error,
    };
    assert!(
        matches!(error, ConnectError::MissingTables { .. }),
        "{backend:?}: {error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("contacts, tenants") && !message.contains("notes"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_sqlite_file_without_its_tables_is_refused_at_start_up() {
    a_migrated_database_without_its_tables_is_refused_at_start_up(BOTH[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_postgres_database_without_its_tables_is_refused_at_start_up() {
    a_migrated_database_without_its_tables_is_refused_at_start_up(BOTH[1]).await;
}

/// A write held up behind another session's lock ends as `Unavailable`
/// once the statement timeout has passed, instead of waiting as long as
/// the lock is held.
async fn a_write_held_up_by_a_lock_ends_unavailable_after_the_statement_timeout(
    backend: TestBackend,
) {
    const TIMEOUT: Duration = Duration::from_millis(200);
    // Far above the timeout, far below the lock's 10 s that SQLite waited
    // for before the timeout was the store's to set.
    const FAILURE_BOUND: Duration = Duration::from_secs(5);
    let database = TestDatabase::create(backend).await;
    let store = Store::connect(
        &database.url,
        &StoreOptions {
            statement_timeout: TIMEOUT,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    let tenants = store.tenants();
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let tenant = Tenant {
        id: TenantId::from_uuid(uuid::Uuid::now_v7()),
        name: "Acme".into(),
        default_region: Region::parse("US").unwrap(),
        free_mail_domains: Vec::new(),
        shared_addresses: Vec::new(),
        version: 1,
        create_time: now,
        update_time: now,
    };
    tenants.create(&tenant, "hash").await.unwrap();

    let holder = one_connection(&database.url).await;
    let lock = match backend {
        TestBackend::Sqlite => "BEGIN IMMEDIATE",
        TestBackend::Postgres => "BEGIN; LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE",
    };
    holder.execute_unprepared(lock).await.unwrap();
    let changed = Tenant {
        default_region: Region::parse("GB").unwrap(),
        ..tenant.clone()
    };
    let started = Instant::now();
    let held_up = tokio::time::timeout(FAILURE_BOUND, tenants.update(&changed, 1)).await;
    let waited = started.elapsed();
    holder.execute_unprepared("ROLLBACK").await.unwrap();
    holder.close().await.unwrap();
    let updated = tenants.update(&changed, 1).await;
    store.close().await.unwrap();
    database.drop_database().await;

    match held_up {
        Ok(Err(DomainError::Unavailable)) => {}
        Ok(other) => panic!("{backend:?}: expected Unavailable, got {other:?}"),
        Err(_) => panic!("{backend:?}: the write still waited after {waited:?}"),
    }
    assert!(waited >= TIMEOUT, "{backend:?}: gave up after {waited:?}");
    assert_eq!(updated.unwrap().version, 2, "{backend:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_write_held_up_by_a_lock_ends_unavailable_after_the_statement_timeout() {
    a_write_held_up_by_a_lock_ends_unavailable_after_the_statement_timeout(BOTH[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_write_held_up_by_a_lock_ends_unavailable_after_the_statement_timeout() {
    a_write_held_up_by_a_lock_ends_unavailable_after_the_statement_timeout(BOTH[1]).await;
}

/// A PostgreSQL port nobody listens on is reported at once, naming the host
/// and port that refused, instead of a pool's timeout ten seconds later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_postgres_port_is_named_at_once() {
    // Well below the pool's ten-second acquire timeout.
    const FAILURE_BOUND: Duration = Duration::from_secs(5);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres:secret@127.0.0.1:{port}/crm");
    let opened = tokio::time::timeout(
        FAILURE_BOUND,
        Store::connect(&url, &StoreOptions::default()),
    )
    .await
    .expect("start-up waited instead of reporting the refusal");
    let message = match opened {
        Ok(_) => panic!("a port nobody listens on was opened"),
        Err(error) => error.to_string(),
    };
    assert!(
        message.contains(&format!("PostgreSQL at 127.0.0.1:{port}"))
            && message.contains("database crm, user postgres")
            && message.to_lowercase().contains("refused")
            && !message.contains("secret"),
        "{message}"
    );
}
