//! Throwaway databases for tests: a fresh SQLite file, or a fresh PostgreSQL
//! database created on the server named by `CRM_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and dropped afterwards.
//! A test that cannot reach PostgreSQL fails and says how to start one; it
//! never passes silently.

use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

/// The server tests create their PostgreSQL databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("CRM_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Which backend a test database is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    /// A SQLite file in the temp directory.
    Sqlite,
    /// A database on the test PostgreSQL server.
    Postgres,
}

/// Both backends, for tests that must pass on each.
pub const BOTH: [TestBackend; 2] = [TestBackend::Sqlite, TestBackend::Postgres];

/// A fresh, empty database; call [`TestDatabase::drop_database`] when done.
#[derive(Debug)]
pub struct TestDatabase {
    /// URL to open it with.
    pub url: String,
    /// Its backend.
    pub backend: TestBackend,
    name: String,
}

impl TestDatabase {
    /// Creates a fresh database of `backend`.
    ///
    /// # Panics
    /// When PostgreSQL cannot be reached or refuses to create a database:
    /// the message says how to start one.
    pub async fn create(backend: TestBackend) -> TestDatabase {
        let name = format!("crm_test_{}", Uuid::now_v7().simple());
        match backend {
            TestBackend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.sqlite3"));
                TestDatabase {
                    url: format!("sqlite://{}", path.display()),
                    backend,
                    name: path.display().to_string(),
                }
            }
            TestBackend::Postgres => {
                let admin_url = postgres_admin_url();
                let admin = match Database::connect(&admin_url).await {
                    Ok(admin) => admin,
                    Err(error) => panic!(
                        "PostgreSQL is unreachable at {admin_url} ({error}). Store and end-to-end \
                         tests need it: start it with `pg_ctlcluster --skip-systemctl-redirect \
                         $(ls /etc/postgresql) main start`, or point CRM_TEST_DATABASE_URL at one."
                    ),
                };
                if let Err(error) = admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                {
                    panic!("cannot create test database {name} on {admin_url}: {error}");
                }
                let _ = admin.close().await;
                TestDatabase {
                    url: replace_database(&admin_url, &name),
                    backend,
                    name,
                }
            }
        }
    }

    /// Removes the database (best effort: a leftover is harmless).
    pub async fn drop_database(self) {
        match self.backend {
            TestBackend::Sqlite => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.name));
                }
            }
            TestBackend::Postgres => {
                if let Ok(admin) = Database::connect(&postgres_admin_url()).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                            self.name
                        ))
                        .await;
                    let _ = admin.close().await;
                }
            }
        }
    }
}

/// `url` with its database name replaced by `name`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |index| index + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// A fresh tenant (region US) in `store`, for the store's own unit tests.
#[cfg(test)]
pub(crate) async fn tenant(store: &crate::Store) -> crm_domain::tenancy::Tenant {
    use crm_domain::tenancy::{Tenant, TenantRepository};
    let now = crm_domain::testing::contract::fixtures::now();
    let tenant = Tenant {
        id: crm_domain::TenantId::from_uuid(Uuid::now_v7()),
        name: "Acme".into(),
        default_region: crm_domain::Region::parse("US").expect("a region"),
        free_mail_domains: Vec::new(),
        shared_addresses: Vec::new(),
        version: 1,
        create_time: now,
        update_time: now,
    };
    store
        .tenants()
        .create(&tenant, &format!("hash-{}", tenant.id))
        .await
        .expect("a tenant");
    tenant
}

/// Writes contact `id` of `tenant` straight into `contacts`, as the
/// store's own unit tests set up rows no use case writes (values without
/// sort keys, many contacts at once): named "C", with `blocked` and the
/// stored `custom_values` JSON.
#[cfg(test)]
pub(crate) async fn insert_contact_row(
    store: &crate::Store,
    tenant: crm_domain::TenantId,
    id: u128,
    blocked: bool,
    custom_values: &str,
) {
    use sea_orm::{ConnectionTrait, Statement};
    let now = match store.backend() {
        crate::Backend::Postgres => "now()",
        crate::Backend::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now')",
    };
    store
        .search()
        .pools
        .db
        .execute_raw(Statement::from_sql_and_values(
            store.backend().db_backend(),
            format!(
                "INSERT INTO contacts (tenant_id, id, display_name, city, country, \
                 language, avatar_url, blocked, lifecycle_stage, custom_values, \
                 version, create_time, update_time) VALUES ($1, $2, 'C', '', '', \
                 '', '', $3, 'prospect', $4, 1, {now}, {now})"
            ),
            [
                tenant.as_uuid().into(),
                Uuid::from_u128(id).into(),
                blocked.into(),
                custom_values.into(),
            ],
        ))
        .await
        .expect("a contact row");
}

/// A fresh database on `backend`, the store opened on it and a fresh
/// tenant: the start of most of the store's own unit tests.
#[cfg(test)]
pub(crate) async fn opened(
    backend: TestBackend,
) -> (TestDatabase, crate::Store, crm_domain::TenantId) {
    let database = TestDatabase::create(backend).await;
    let store = crate::Store::connect(&database.url, &crate::StoreOptions::default())
        .await
        .expect("a store");
    let tenant = tenant(&store).await.id;
    (database, store, tenant)
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(replace_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(
            replace_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
