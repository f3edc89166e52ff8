//! `spawn()`: the real server on port 0 over a fresh database of either
//! backend, with a tenant and its API key, and clients that send the key.
//! The server's blob store is watched ([`blobs`]), so tests await the
//! stored objects they expect rather than sleeping.

mod blobs;
pub mod proxy;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use crm_blob::object_store::ObjectStore;
use crm_proto::v1 as pb;
use crm_proto::v1::attachment_service_client::AttachmentServiceClient;
use crm_proto::v1::contact_service_client::ContactServiceClient;
use crm_proto::v1::conversation_service_client::ConversationServiceClient;
use crm_proto::v1::custom_field_service_client::CustomFieldServiceClient;
use crm_proto::v1::export_service_client::ExportServiceClient;
use crm_proto::v1::import_service_client::ImportServiceClient;
use crm_proto::v1::merge_service_client::MergeServiceClient;
use crm_proto::v1::note_service_client::NoteServiceClient;
use crm_proto::v1::organization_service_client::OrganizationServiceClient;
use crm_proto::v1::segment_service_client::SegmentServiceClient;
use crm_proto::v1::tenant_service_client::TenantServiceClient;
use crm_proto::v1::tier_service_client::TierServiceClient;
use crm_server::{App, AttachmentOptions, ImportOptions, ServeOptions, StoreOptions};
use crm_store::testing::{TestBackend, TestDatabase};
use tokio::sync::oneshot;
use tonic::transport::Channel;

use crate::fixtures::all_pages;

pub use crm_store::testing::BOTH;

/// The largest import file a test server takes: a file past it is refused
/// without sending a gigabyte.
pub const MAX_IMPORT_BYTES: u64 = 16 << 20;

/// A running server over its own database.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The API key of the tenant created at start.
    pub key: String,
    /// The database URL, to start a second server on the same database.
    pub database_url: String,
    /// The backend under test.
    pub backend: TestBackend,
    app: App,
    blobs: Blobs,
    blob_watch: blobs::Watch,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    database: Option<TestDatabase>,
}

/// Starts a server over a fresh database of `backend`, with one tenant
/// (default region US) whose key is `server.key`.
pub async fn spawn(backend: TestBackend) -> TestServer {
    let database = TestDatabase::create(backend).await;
    let mut server = start(
        &database.url,
        backend,
        &StoreOptions::default(),
        ServeOptions::default(),
        "Test tenant",
    )
    .await;
    server.database = Some(database);
    server
}

/// Where a test server keeps attachment bytes, seen from outside: the
/// SQLite runs use the filesystem store, the PostgreSQL runs an in-memory
/// object store, so every attachment test covers both adapters.
pub enum Blobs {
    /// A fresh directory, removed at stop.
    Directory(crm_blob::FsBlobStore, std::path::PathBuf),
    /// An in-memory object store.
    Memory(std::sync::Arc<crm_blob::object_store::memory::InMemory>),
}

impl Blobs {
    fn for_backend(backend: TestBackend) -> Blobs {
        match backend {
            TestBackend::Sqlite => {
                let root = std::env::temp_dir()
                    .join(format!("crm-e2e-blobs-{}", uuid::Uuid::new_v4().simple()));
                Blobs::Directory(crm_blob::FsBlobStore::open(&root).unwrap(), root)
            }
            TestBackend::Postgres => Blobs::Memory(std::sync::Arc::new(
                crm_blob::object_store::memory::InMemory::new(),
            )),
        }
    }

    fn port(&self) -> std::sync::Arc<dyn crm_server::BlobStore> {
        match self {
            Blobs::Directory(store, _) => std::sync::Arc::new(store.clone()),
            Blobs::Memory(memory) => std::sync::Arc::new(crm_blob::ObjectBlobStore::new(
                memory.clone(),
                "attachments",
            )),
        }
    }

    /// Every stored or staged object, by path.
    pub async fn objects(&self) -> Vec<String> {
        match self {
            Blobs::Directory(store, _) => store
                .files()
                .unwrap()
                .into_iter()
                .map(|path| path.display().to_string())
                .collect(),
            Blobs::Memory(memory) => {
                use tokio_stream::StreamExt;
                let mut listing = memory.list(None);
                let mut paths = Vec::new();
                while let Some(meta) = listing.next().await {
                    paths.push(meta.unwrap().location.to_string());
                }
                paths
            }
        }
    }
}

/// Starts another server over an existing database (as a second replica),
/// with a tenant of its own (tenant names are unique).
pub async fn serve(database_url: &str, backend: TestBackend) -> TestServer {
    start(
        database_url,
        backend,
        &StoreOptions::default(),
        ServeOptions::default(),
        &format!("Replica tenant {}", uuid::Uuid::new_v4().simple()),
    )
    .await
}

/// Starts a server over a fresh PostgreSQL database that it reaches through
/// a [`proxy::Proxy`] the test can cut or stall, with these options.
pub async fn spawn_behind_proxy(
    store: &StoreOptions,
    serving: ServeOptions,
) -> (TestServer, proxy::Proxy) {
    let database = TestDatabase::create(TestBackend::Postgres).await;
    let (proxy, url) = proxy::Proxy::in_front_of(&database.url).await;
    let mut server = start(&url, TestBackend::Postgres, store, serving, "Test tenant").await;
    server.database = Some(database);
    (server, proxy)
}

/// A server over `database_url` with these options, and a tenant named
/// `tenant` whose key is the server's.
async fn start(
    database_url: &str,
    backend: TestBackend,
    store: &StoreOptions,
    serving: ServeOptions,
    tenant: &str,
) -> TestServer {
    let blobs = Blobs::for_backend(backend);
    let blob_watch = blobs::Watch::new();
    let observed = blobs::Observed::new(blobs.port(), blob_watch.clone());
    let app = App::open(
        database_url,
        store,
        AttachmentOptions::new(std::sync::Arc::new(observed)),
    )
    .await
    .unwrap_or_else(|error| panic!("{backend:?}: {error}"))
    .with_imports(ImportOptions {
        max_bytes: MAX_IMPORT_BYTES,
        ..ImportOptions::default()
    });
    let (_, key) = app.create_tenant(tenant, "US").await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let app_serving = app.clone();
    let task = tokio::spawn(async move {
        app_serving
            .serve_with(
                listener,
                async {
                    let _ = stopped.await;
                },
                &serving,
            )
            .await
            .expect("server failed");
    });
    TestServer {
        addr,
        key,
        database_url: database_url.to_owned(),
        backend,
        app,
        blobs,
        blob_watch,
        stop: Some(stop),
        task: Some(task),
        database: None,
    }
}

impl TestServer {
    /// A channel to the server.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// A ContactService client.
    pub async fn contacts(&self) -> ContactServiceClient<Channel> {
        ContactServiceClient::new(self.channel().await)
    }

    /// An AttachmentService client.
    pub async fn attachments(&self) -> AttachmentServiceClient<Channel> {
        AttachmentServiceClient::new(self.channel().await)
    }

    /// Every attachment object the server has stored or staged.
    pub async fn stored_blobs(&self) -> Vec<String> {
        self.blobs.objects().await
    }

    /// Whether staged uploads show up in [`TestServer::stored_blobs`] (files
    /// do; an object store's multipart uploads do not until completed).
    pub fn staging_is_visible(&self) -> bool {
        matches!(self.blobs, Blobs::Directory(..))
    }

    /// Waits until the server holds exactly `count` blob objects (staged
    /// ones included where [`TestServer::staging_is_visible`]).
    pub async fn await_blobs(&self, count: usize) {
        self.await_blob_state(&format!("{count} stored objects"), |_, objects| {
            objects.len() == count
        })
        .await;
    }

    /// Waits until the uploads the server is staging hold at least `bytes`.
    pub async fn await_staged_bytes(&self, bytes: u64) {
        self.await_blob_state(&format!("{bytes} staged bytes"), |activity, _| {
            activity.staged_bytes >= bytes
        })
        .await;
    }

    /// Re-checks `done` on the blob store's activity and objects after
    /// every change the server makes to the store, until it holds. The
    /// timeout only bounds a failing test.
    async fn await_blob_state(
        &self,
        expected: &str,
        mut done: impl FnMut(&blobs::Activity, &[String]) -> bool,
    ) {
        const FAILURE_BOUND: Duration = Duration::from_secs(10);
        let mut changes = self.blob_watch.subscribe();
        let waited = tokio::time::timeout(FAILURE_BOUND, async {
            loop {
                // Marked seen before the store is read, so a change made
                // while it is read still wakes the next `changed()`.
                let activity = *changes.borrow_and_update();
                if done(&activity, &self.stored_blobs().await) {
                    return;
                }
                changes
                    .changed()
                    .await
                    .expect("the blob store's watch outlives the server");
            }
        })
        .await;
        if waited.is_err() {
            panic!(
                "expected {expected} within {FAILURE_BOUND:?}; found {:?} and {:?}",
                self.stored_blobs().await,
                *changes.borrow()
            );
        }
    }

    /// Runs the server's attachment sweep now.
    pub async fn sweep_attachments(&self) -> u64 {
        self.app.sweep_attachments().await.unwrap()
    }

    /// A TenantService client.
    pub async fn tenants(&self) -> TenantServiceClient<Channel> {
        TenantServiceClient::new(self.channel().await)
    }

    /// A ConversationService client.
    pub async fn conversations(&self) -> ConversationServiceClient<Channel> {
        ConversationServiceClient::new(self.channel().await)
    }

    /// A CustomFieldService client.
    pub async fn fields(&self) -> CustomFieldServiceClient<Channel> {
        CustomFieldServiceClient::new(self.channel().await)
    }

    /// A MergeService client.
    pub async fn merges(&self) -> MergeServiceClient<Channel> {
        MergeServiceClient::new(self.channel().await)
    }

    /// A NoteService client.
    pub async fn notes(&self) -> NoteServiceClient<Channel> {
        NoteServiceClient::new(self.channel().await)
    }

    /// An ExportService client.
    pub async fn exports(&self) -> ExportServiceClient<Channel> {
        ExportServiceClient::new(self.channel().await)
    }

    /// An ImportService client.
    pub async fn imports(&self) -> ImportServiceClient<Channel> {
        ImportServiceClient::new(self.channel().await)
    }

    /// A SegmentService client.
    pub async fn segments(&self) -> SegmentServiceClient<Channel> {
        SegmentServiceClient::new(self.channel().await)
    }

    /// An OrganizationService client.
    pub async fn organizations(&self) -> OrganizationServiceClient<Channel> {
        OrganizationServiceClient::new(self.channel().await)
    }

    /// A TierService client.
    pub async fn tiers(&self) -> TierServiceClient<Channel> {
        TierServiceClient::new(self.channel().await)
    }

    /// `message` with this server's tenant key attached.
    pub fn req<T>(&self, message: T) -> tonic::Request<T> {
        with_key(message, &self.key)
    }

    /// Creates another tenant and returns its key.
    pub async fn new_tenant(&self, region: &str) -> String {
        self.app
            .create_tenant(
                &format!("Other tenant {}", uuid::Uuid::new_v4().simple()),
                region,
            )
            .await
            .unwrap()
            .1
    }

    /// Stops the server and drops its database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let _ = self.app.store().clone().close().await;
        if let Some(database) = self.database.take() {
            database.drop_database().await;
        }
        if let Blobs::Directory(_, root) = &self.blobs {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

/// `message` with `key` as its bearer credential.
pub fn with_key<T>(message: T, key: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    request
}

/// Runs `check` against a fresh server on each backend, stopping the server
/// and dropping its database even when the check panics.
pub async fn on_both<F, Fut>(check: F)
where
    F: Fn(std::sync::Arc<TestServer>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for backend in BOTH {
        let server = std::sync::Arc::new(spawn(backend).await);
        let outcome = tokio::spawn(check(server.clone())).await;
        if let Ok(server) = std::sync::Arc::try_unwrap(server) {
            server.stop().await;
        }
        if let Err(error) = outcome {
            panic!("{backend:?}: {error}");
        }
    }
}

impl TestServer {
    /// Creates `contact` in this server's tenant, panicking on failure.
    pub async fn create(&self, contact: pb::Contact) -> pb::Contact {
        self.create_with_key(contact, &self.key).await
    }

    /// Creates `contact` in the tenant of `key`, panicking on failure.
    pub async fn create_with_key(&self, contact: pb::Contact, key: &str) -> pb::Contact {
        self.contacts()
            .await
            .create_contact(with_key(
                pb::CreateContactRequest {
                    contact: Some(contact),
                    request_id: String::new(),
                },
                key,
            ))
            .await
            .unwrap_or_else(|status| panic!("create failed: {status:?}"))
            .into_inner()
    }

    /// Resolves a sender in this server's tenant, panicking on failure.
    pub async fn resolve(&self, request: pb::ResolveSenderRequest) -> pb::ResolveSenderResponse {
        self.resolve_with_key(request, &self.key).await
    }

    /// Resolves a sender in the tenant of `key`, panicking on failure.
    pub async fn resolve_with_key(
        &self,
        request: pb::ResolveSenderRequest,
        key: &str,
    ) -> pb::ResolveSenderResponse {
        self.contacts()
            .await
            .resolve_sender(with_key(request, key))
            .await
            .unwrap_or_else(|status| panic!("resolve failed: {status:?}"))
            .into_inner()
    }

    /// Gets a contact of this server's tenant, panicking on failure.
    pub async fn get(&self, id: &str) -> pb::Contact {
        self.contacts()
            .await
            .get_contact(self.req(pb::GetContactRequest { id: id.into() }))
            .await
            .unwrap_or_else(|status| panic!("get failed: {status:?}"))
            .into_inner()
    }

    /// Every contact of this server's tenant, paging through the list.
    pub async fn list_all(&self) -> Vec<pb::Contact> {
        self.list_all_with_key(&self.key).await
    }

    /// Every contact of the tenant of `key`, paging through the list.
    pub async fn list_all_with_key(&self, key: &str) -> Vec<pb::Contact> {
        let client = self.contacts().await;
        all_pages(|page_token| {
            let mut client = client.clone();
            let request = with_key(
                pb::ListContactsRequest {
                    page_size: 1000,
                    page_token,
                    ..Default::default()
                },
                key,
            );
            async move {
                let page = client
                    .list_contacts(request)
                    .await
                    .unwrap_or_else(|status| panic!("list failed: {status:?}"))
                    .into_inner();
                (page.contacts, page.next_page_token)
            }
        })
        .await
    }
}
