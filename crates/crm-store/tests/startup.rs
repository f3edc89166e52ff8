//! Opening the store, on SQLite and on PostgreSQL: processes that start
//! together on one fresh database, and start-up failures that say what
//! failed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crm_store::testing::{BOTH, TestBackend, TestDatabase};
use crm_store::{Store, StoreOptions};

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
