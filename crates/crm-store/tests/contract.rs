//! The store against the domain's contract suite: every check of every
//! repository port (`crm_domain::testing::contract`), once on SQLite and
//! once on PostgreSQL, one test per (backend, port, check), each on a fresh
//! database; plus the checks only this adapter can make (its schema, and
//! real parallelism, which needs a spawning runtime).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crm_domain::tenancy::Caller;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use crm_blob::FsBlobStore;
use crm_domain::Channel;
use crm_domain::attachments::{AttachmentRepository, BlobStore};
use crm_domain::contacts::{ContactFilter, ContactRepository, ContactService};
use crm_domain::conversations::ConversationRepository;
use crm_domain::fields::CustomFieldRepository;
use crm_domain::identity::SenderInput;
use crm_domain::kernel::{SystemClock, UuidV7Ids};
use crm_domain::merge::MergeRepository;
use crm_domain::merge::index::DuplicateIndex;
use crm_domain::notes::NoteRepository;
use crm_domain::organizations::OrganizationRepository;
use crm_domain::tenancy::TenantRepository;
use crm_domain::testing::contract::{World, fixtures};
use crm_domain::tiers::TierRepository;
use crm_store::testing::{TestBackend, TestDatabase};
use crm_store::{Store, StoreOptions};
use uuid::Uuid;

/// A fresh database of one backend, migrated, and a blob directory.
struct StoreWorld {
    store: Store,
    blobs: FsBlobStore,
    blob_root: PathBuf,
    database: Mutex<Option<TestDatabase>>,
}

impl StoreWorld {
    async fn create(backend: TestBackend) -> StoreWorld {
        let database = TestDatabase::create(backend).await;
        let store = Store::connect(&database.url, &StoreOptions::default())
            .await
            .unwrap_or_else(|error| panic!("{backend:?}: {error}"));
        let blob_root = std::env::temp_dir().join(format!("crm_blobs_{}", Uuid::now_v7().simple()));
        let blobs = FsBlobStore::open(&blob_root).unwrap();
        StoreWorld {
            store,
            blobs,
            blob_root,
            database: Mutex::new(Some(database)),
        }
    }
}

#[async_trait]
impl World for StoreWorld {
    fn contacts(&self) -> Arc<dyn ContactRepository> {
        self.store.contacts()
    }

    fn tenants(&self) -> Arc<dyn TenantRepository> {
        self.store.tenants()
    }

    fn tiers(&self) -> Arc<dyn TierRepository> {
        self.store.tiers()
    }

    fn custom_fields(&self) -> Arc<dyn CustomFieldRepository> {
        self.store.custom_fields()
    }

    fn organizations(&self) -> Arc<dyn OrganizationRepository> {
        self.store.organizations()
    }

    fn notes(&self) -> Arc<dyn NoteRepository> {
        self.store.notes()
    }

    fn conversations(&self) -> Arc<dyn ConversationRepository> {
        self.store.conversations()
    }

    fn merges(&self) -> Arc<dyn MergeRepository> {
        self.store.merges()
    }

    fn duplicates(&self) -> Arc<dyn DuplicateIndex> {
        self.store.duplicates()
    }

    fn attachments(&self) -> Arc<dyn AttachmentRepository> {
        self.store.attachments()
    }

    fn blobs(&self) -> Arc<dyn BlobStore> {
        Arc::new(self.blobs.clone())
    }

    async fn destroy(&self) {
        let _ = self.store.clone().close().await;
        let database = self.database.lock().unwrap().take();
        if let Some(database) = database {
            database.drop_database().await;
        }
        let _ = std::fs::remove_dir_all(&self.blob_root);
    }
}

/// Runs a store-specific check on a fresh world, destroying it afterwards
/// even when the check panics.
async fn on_fresh_world<F, Fut>(backend: TestBackend, check: F)
where
    F: FnOnce(Arc<StoreWorld>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let world = Arc::new(StoreWorld::create(backend).await);
    let outcome = tokio::spawn(check(world.clone())).await;
    world.destroy().await;
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

/// The merge moves every kind of record in `ContactChild::ALL`; a table
/// that references contacts but is missing from that list fails here, so a
/// new kind of child record cannot be forgotten by the merge.
async fn the_merge_knows_every_table_that_hangs_off_a_contact(backend: TestBackend) {
    on_fresh_world(backend, |world| async move {
        let mut listed: Vec<String> = crm_domain::merge::ContactChild::ALL
            .iter()
            .map(|child| child.table().to_owned())
            .collect();
        listed.sort();
        assert_eq!(
            world.store.tables_referencing_contacts().await.unwrap(),
            listed
        );
    })
    .await;
}

/// Store-specific because it needs real parallelism: 32 spawned
/// resolutions of one new sender race on the database's constraints.
async fn concurrent_resolution_of_one_new_sender_creates_one_contact(backend: TestBackend) {
    on_fresh_world(backend, |world| async move {
        let tenant = fixtures::tenant(world.as_ref()).await;
        let store = &world.store;
        let service = ContactService::new(
            store.contacts(),
            store.tiers(),
            store.custom_fields(),
            store.organizations(),
            Arc::new(SystemClock),
            Arc::new(UuidV7Ids),
        );
        let mut calls = Vec::new();
        for _ in 0..32 {
            let service = service.clone();
            let tenant = tenant.clone();
            calls.push(tokio::spawn(async move {
                service
                    .resolve_sender(
                        &Caller::tenant_key(tenant),
                        SenderInput {
                            channel: Channel::Whatsapp,
                            address: "5511987654321".into(),
                            display_name: "Ana".into(),
                            email: "ana@example.com".into(),
                            phone: String::new(),
                            external_id: String::new(),
                        },
                    )
                    .await
                    .unwrap()
            }));
        }
        let mut ids = Vec::new();
        let mut creations = 0;
        for call in calls {
            let resolution = call.await.unwrap();
            creations += usize::from(resolution.created);
            ids.push(resolution.contact.id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "every call returns the same contact");
        assert_eq!(creations, 1, "exactly one call created it");
        let listed = store
            .contacts()
            .list(tenant.id, &ContactFilter::default(), None, 100)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].identities.len(), 2);
    })
    .await;
}

/// Expands the store-specific checks for one backend.
macro_rules! store_checks {
    ($backend:expr; $($check:ident),* $(,)?) => {
        mod store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    crate::$check($backend).await;
                }
            )*
        }
    };
}

mod sqlite {
    crm_domain::contract_suite!(crate::StoreWorld::create(crate::TestBackend::Sqlite));
    store_checks!(crate::TestBackend::Sqlite;
        the_merge_knows_every_table_that_hangs_off_a_contact,
        concurrent_resolution_of_one_new_sender_creates_one_contact,
    );
}

mod postgres {
    crm_domain::contract_suite!(crate::StoreWorld::create(crate::TestBackend::Postgres));
    store_checks!(crate::TestBackend::Postgres;
        the_merge_knows_every_table_that_hangs_off_a_contact,
        concurrent_resolution_of_one_new_sender_creates_one_contact,
    );
}
