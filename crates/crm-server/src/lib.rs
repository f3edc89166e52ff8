//! The composition root: opens the store, wires the domain use cases to it,
//! and serves them over gRPC with health checking and reflection. `crmd`
//! (src/main.rs) is a thin command line over this library; the end-to-end
//! tests start the same server through it.

pub mod client;
mod connections;
mod duplicates;
mod health;
mod imports;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crm_domain::attachments::AttachmentService;
pub use crm_domain::attachments::BlobStore;
use crm_domain::contacts::ContactService;
use crm_domain::conversations::ConversationService;
use crm_domain::exchange::ExchangeService;
use crm_domain::exchange::import::{ImportPorts, ImportService};
use crm_domain::fields::CustomFieldService;
use crm_domain::kernel::{SystemClock, UuidV7Ids};
use crm_domain::merge::MergeService;
use crm_domain::notes::NoteService;
use crm_domain::organizations::OrganizationService;
use crm_domain::routing::RoutingService;
use crm_domain::search::SearchService;
use crm_domain::segments::SegmentService;
use crm_domain::tenancy::Tenant;
use crm_domain::tenancy::TenantService;
use crm_domain::tiers::TierService;
use crm_domain::{DomainError, TenantId};
use crm_grpc::{
    AttachmentApi, Authenticator, ContactApi, ConversationApi, CustomFieldApi, ExportApi,
    ImportApi, MergeApi, NoteApi, OrganizationApi, SegmentApi, TenantApi, TierApi,
    generate_api_key, hash_api_key,
};
use crm_proto::v1::attachment_service_server::AttachmentServiceServer;
use crm_proto::v1::contact_service_server::ContactServiceServer;
use crm_proto::v1::conversation_service_server::ConversationServiceServer;
use crm_proto::v1::custom_field_service_server::CustomFieldServiceServer;
use crm_proto::v1::export_service_server::ExportServiceServer;
use crm_proto::v1::import_service_server::ImportServiceServer;
use crm_proto::v1::merge_service_server::MergeServiceServer;
use crm_proto::v1::note_service_server::NoteServiceServer;
use crm_proto::v1::organization_service_server::OrganizationServiceServer;
use crm_proto::v1::segment_service_server::SegmentServiceServer;
use crm_proto::v1::tenant_service_server::TenantServiceServer;
use crm_proto::v1::tier_service_server::TierServiceServer;
pub use crm_store::{ConnectError, Store, StoreOptions};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::connections::Connections;

/// The default SQLite database: a file under ./data, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/crm.sqlite3";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// The default attachment store: a directory beside the default database.
pub const DEFAULT_ATTACHMENT_STORE: &str = "data/attachments";
/// Staged uploads older than this are taken for abandoned by the sweep.
pub const STAGED_UPLOAD_TTL: Duration = Duration::from_secs(3600);

/// Where attachment bytes go, and the limits on them.
#[derive(Clone)]
pub struct AttachmentOptions {
    /// The blob store (see `crm_blob::open`).
    pub blobs: Arc<dyn BlobStore>,
    /// The largest file accepted, in bytes.
    pub max_bytes: u64,
    /// How often the server removes bytes no attachment holds any more.
    pub sweep_every: Duration,
}

impl std::fmt::Debug for AttachmentOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentOptions")
            .field("max_bytes", &self.max_bytes)
            .field("sweep_every", &self.sweep_every)
            .finish_non_exhaustive()
    }
}

impl AttachmentOptions {
    /// The defaults over `blobs`: 25 MiB files, a sweep every ten minutes.
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        Self {
            blobs,
            max_bytes: crm_domain::attachments::DEFAULT_MAX_BYTES,
            sweep_every: Duration::from_secs(600),
        }
    }
}

/// How the server behaves around its calls.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How long a shutdown waits for calls and streams still open before it
    /// closes their connections.
    pub shutdown_grace: Duration,
    /// How often the database is checked for the health service.
    pub health_check_every: Duration,
}

impl Default for ServeOptions {
    /// Thirty seconds for a shutdown, a database check every five.
    fn default() -> Self {
        Self {
            shutdown_grace: Duration::from_secs(30),
            health_check_every: Duration::from_secs(5),
        }
    }
}

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Reflection could not read the descriptor sets.
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The transport failed.
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// The wired application: the store and the use cases over it.
#[derive(Debug, Clone)]
pub struct App {
    store: Store,
    contacts: ContactService,
    tenants: TenantService,
    tiers: TierService,
    routing: RoutingService,
    fields: CustomFieldService,
    organizations: OrganizationService,
    notes: NoteService,
    conversations: ConversationService,
    attachments: AttachmentService,
    merges: MergeService,
    search: SearchService,
    segments: SegmentService,
    exchange: ExchangeService,
    imports: ImportService,
    bell: Arc<imports::Bell>,
    sweep_every: Duration,
}

/// How imports run.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// The largest file an upload takes, in bytes.
    pub max_bytes: u64,
    /// How long a worker holds a job without renewing; a job whose worker
    /// died resumes this long after its last batch.
    pub lease: Duration,
}

impl Default for ImportOptions {
    /// 1 GiB files, a 30-second lease.
    fn default() -> Self {
        Self {
            max_bytes: crm_domain::exchange::import::DEFAULT_MAX_IMPORT_BYTES,
            lease: crm_domain::exchange::import::DEFAULT_LEASE,
        }
    }
}

impl App {
    /// Opens (and migrates) the database at `database_url` and wires the
    /// use cases, with attachment bytes in `attachments.blobs`.
    ///
    /// # Errors
    /// [`ConnectError`] when the database cannot be opened or migrated.
    pub async fn open(
        database_url: &str,
        options: &StoreOptions,
        attachments: AttachmentOptions,
    ) -> Result<App, ConnectError> {
        let store = Store::connect(database_url, options).await?;
        let clock = Arc::new(SystemClock);
        let ids = Arc::new(UuidV7Ids);
        let contacts = ContactService::new(
            store.contacts(),
            store.tiers(),
            store.custom_fields(),
            store.organizations(),
            clock.clone(),
            ids.clone(),
        );
        let organizations = OrganizationService::new(
            store.organizations(),
            store.custom_fields(),
            clock.clone(),
            ids.clone(),
        );
        let fields = CustomFieldService::new(store.custom_fields(), clock.clone(), ids.clone());
        let tiers = TierService::new(store.tiers(), clock.clone(), ids.clone());
        let routing = RoutingService::new(store.contacts());
        let notes = NoteService::new(store.notes(), clock.clone(), ids.clone());
        let conversations = ConversationService::new(
            store.conversations(),
            store.custom_fields(),
            contacts.clone(),
            clock.clone(),
            ids.clone(),
        );
        let sweep_every = attachments.sweep_every;
        let attachments = AttachmentService::new(
            store.attachments(),
            attachments.blobs,
            clock.clone(),
            ids.clone(),
            attachments.max_bytes,
        );
        let merges = MergeService::new(
            store.contacts(),
            store.merges(),
            store.duplicates(),
            clock.clone(),
            ids.clone(),
        );
        let segments = SegmentService::new(
            store.segments(),
            store.tiers(),
            contacts.clone(),
            clock.clone(),
            ids.clone(),
        );
        let exchange = ExchangeService::new(contacts.clone(), store.custom_fields());
        let bell = Arc::new(imports::Bell::default());
        let imports = import_service(&store, ImportOptions::default(), bell.clone());
        let tenants = TenantService::new(store.tenants(), clock, ids);
        let search = SearchService::new(store.search());
        Ok(App {
            store,
            contacts,
            tenants,
            tiers,
            routing,
            fields,
            organizations,
            notes,
            conversations,
            attachments,
            merges,
            search,
            segments,
            exchange,
            imports,
            bell,
            sweep_every,
        })
    }

    /// The app with imports run as `options` says.
    pub fn with_imports(self, options: ImportOptions) -> App {
        let imports = import_service(&self.store, options, self.bell.clone());
        App { imports, ..self }
    }

    /// Removes attachment bytes that no record holds any more (their records
    /// went with a deleted contact or organization, or a crash cut an
    /// upload short) and staged uploads abandoned for an hour. The server
    /// runs this every `sweep_every`; returns how many it removed.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn sweep_attachments(&self) -> Result<u64, DomainError> {
        self.attachments.sweep(STAGED_UPLOAD_TTL).await
    }

    /// Creates a tenant and returns it with its API key, which is stored
    /// only as a hash and cannot be shown again.
    ///
    /// # Errors
    /// `InvalidArgument` for a bad name or region; storage errors.
    pub async fn create_tenant(
        &self,
        name: &str,
        default_region: &str,
    ) -> Result<(Tenant, String), DomainError> {
        create_with_key(&self.tenants, name, default_region).await
    }

    /// The store, for operators' commands and tests.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves the API on `listener` until `shutdown` completes, then lets
    /// calls in flight finish, with the [`ServeOptions`] defaults.
    ///
    /// # Errors
    /// [`ServeError`] when reflection cannot be built or the transport fails.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        self.serve_with(listener, shutdown, &ServeOptions::default())
            .await
    }

    /// Serves the API on `listener` until `shutdown` completes. Then it
    /// stops accepting and lets calls in flight finish for at most
    /// `options.shutdown_grace`, after which it closes the connections still
    /// open (an idle stream would otherwise keep it alive) and returns.
    ///
    /// # Errors
    /// [`ServeError`] when reflection cannot be built or the transport fails.
    pub async fn serve_with(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
        options: &ServeOptions,
    ) -> Result<(), ServeError> {
        let auth = Arc::new(Authenticator::new(self.tenants.clone()));
        let (health, health_service) = tonic_health::server::health_reporter();
        let services = served_services();
        for service in &services {
            health
                .set_service_status(*service, tonic_health::ServingStatus::Serving)
                .await;
        }
        let health_checks = tokio::spawn(health::follow_the_database(
            self.store.clone(),
            health,
            services,
            options.health_check_every,
        ));
        let sweeper = tokio::spawn(sweep_forever(self.clone()));
        let importer = tokio::spawn(imports::work(self.imports.clone(), self.bell.clone()));
        let indexer = tokio::spawn(duplicates::work(self.merges.clone()));
        let connections = Connections::default();
        let (signalled, was_signalled) = tokio::sync::oneshot::channel();
        // The google.rpc error details are registered too, so grpcurl can show
        // BadRequest, ResourceInfo and ErrorInfo instead of raw bytes.
        let descriptors = [
            crm_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_types::pb::FILE_DESCRIPTOR_SET,
        ];
        let reflection_v1 = descriptors
            .iter()
            .fold(
                tonic_reflection::server::Builder::configure(),
                |builder, set| builder.register_encoded_file_descriptor_set(set),
            )
            .build_v1()?;
        // grpcurl 1.8 and other older tools only speak v1alpha.
        let reflection_v1alpha = descriptors
            .iter()
            .fold(
                tonic_reflection::server::Builder::configure(),
                |builder, set| builder.register_encoded_file_descriptor_set(set),
            )
            .build_v1alpha()?;
        let served = tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(ContactServiceServer::new(ContactApi::new(
                self.contacts.clone(),
                self.merges.clone(),
                self.search,
                auth.clone(),
            )))
            .add_service(MergeServiceServer::new(MergeApi::new(
                self.merges,
                auth.clone(),
            )))
            .add_service(CustomFieldServiceServer::new(CustomFieldApi::new(
                self.fields,
                auth.clone(),
            )))
            .add_service(NoteServiceServer::new(NoteApi::new(
                self.notes,
                auth.clone(),
            )))
            .add_service(AttachmentServiceServer::new(AttachmentApi::new(
                self.attachments,
                auth.clone(),
            )))
            .add_service(ConversationServiceServer::new(ConversationApi::new(
                self.conversations,
                auth.clone(),
            )))
            .add_service(OrganizationServiceServer::new(OrganizationApi::new(
                self.organizations,
                self.contacts.clone(),
                auth.clone(),
            )))
            .add_service(TierServiceServer::new(TierApi::new(
                self.tiers,
                self.routing,
                self.contacts,
                auth.clone(),
            )))
            .add_service(SegmentServiceServer::new(SegmentApi::new(
                self.segments,
                auth.clone(),
            )))
            .add_service(ExportServiceServer::new(ExportApi::new(
                self.exchange,
                auth.clone(),
            )))
            .add_service(ImportServiceServer::new(ImportApi::new(
                self.imports,
                auth.clone(),
            )))
            .add_service(TenantServiceServer::new(TenantApi::new(auth)))
            .serve_with_incoming_shutdown(
                connections.track(TcpListenerStream::new(listener)),
                async move {
                    shutdown.await;
                    let _ = signalled.send(());
                },
            );
        tokio::pin!(served);
        let served = tokio::select! {
            served = &mut served => served,
            () = deadline(was_signalled, options.shutdown_grace) => {
                let closed = connections.close_all();
                tracing::warn!(
                    connections = closed,
                    grace = ?options.shutdown_grace,
                    "shutdown deadline passed: closing the connections still open"
                );
                served.await
            }
        };
        sweeper.abort();
        importer.abort();
        indexer.abort();
        health_checks.abort();
        served?;
        Ok(())
    }
}

/// The name of every `crm.v1` service the server serves, as health knows it.
fn served_services() -> Vec<&'static str> {
    use tonic::server::NamedService;
    vec![
        <ContactServiceServer<ContactApi> as NamedService>::NAME,
        <TenantServiceServer<TenantApi> as NamedService>::NAME,
        <TierServiceServer<TierApi> as NamedService>::NAME,
        <CustomFieldServiceServer<CustomFieldApi> as NamedService>::NAME,
        <OrganizationServiceServer<OrganizationApi> as NamedService>::NAME,
        <NoteServiceServer<NoteApi> as NamedService>::NAME,
        <ConversationServiceServer<ConversationApi> as NamedService>::NAME,
        <AttachmentServiceServer<AttachmentApi> as NamedService>::NAME,
        <MergeServiceServer<MergeApi> as NamedService>::NAME,
        <SegmentServiceServer<SegmentApi> as NamedService>::NAME,
        <ExportServiceServer<ExportApi> as NamedService>::NAME,
        <ImportServiceServer<ImportApi> as NamedService>::NAME,
    ]
}

/// Completes `grace` after `signalled` fires; never, if it never does.
async fn deadline(signalled: tokio::sync::oneshot::Receiver<()>, grace: Duration) {
    match signalled.await {
        Ok(()) => tokio::time::sleep(grace).await,
        Err(_) => std::future::pending().await,
    }
}

/// The import use cases over `store`, ringing `bell` as jobs are queued.
fn import_service(
    store: &Store,
    options: ImportOptions,
    bell: Arc<imports::Bell>,
) -> ImportService {
    let ports = ImportPorts {
        imports: store.imports(),
        contacts: store.contacts(),
        fields: store.custom_fields(),
        tiers: store.tiers(),
        organizations: store.organizations(),
        tenants: store.tenants(),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
    };
    ImportService::new(ports, options.max_bytes, options.lease).with_bell(bell)
}

/// Creates a tenant with a new API key, stored only as its hash; returns
/// the key, which cannot be shown again.
async fn create_with_key(
    tenants: &TenantService,
    name: &str,
    default_region: &str,
) -> Result<(Tenant, String), DomainError> {
    let key = generate_api_key();
    let tenant = tenants
        .create(name, default_region, &hash_api_key(&key))
        .await?;
    Ok((tenant, key))
}

/// The operator's tenant commands (`crmd tenant ...`) over the store alone:
/// no server and no attachment store.
#[derive(Debug, Clone)]
pub struct TenantAdmin {
    store: Store,
    tenants: TenantService,
}

impl TenantAdmin {
    /// Opens (and migrates) the database at `database_url`.
    ///
    /// # Errors
    /// [`ConnectError`] when the database cannot be opened or migrated.
    pub async fn open(
        database_url: &str,
        options: &StoreOptions,
    ) -> Result<TenantAdmin, ConnectError> {
        let store = Store::connect(database_url, options).await?;
        let tenants =
            TenantService::new(store.tenants(), Arc::new(SystemClock), Arc::new(UuidV7Ids));
        Ok(TenantAdmin { store, tenants })
    }

    /// Creates a tenant and returns it with its API key, which is stored
    /// only as a hash and cannot be shown again.
    ///
    /// # Errors
    /// `InvalidArgument` for a bad name or region; `AlreadyExists` for a
    /// name a tenant has; storage errors.
    pub async fn create(
        &self,
        name: &str,
        default_region: &str,
    ) -> Result<(Tenant, String), DomainError> {
        create_with_key(&self.tenants, name, default_region).await
    }

    /// Every tenant, oldest first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list(&self) -> Result<Vec<Tenant>, DomainError> {
        self.tenants.list().await
    }

    /// Gives tenant `id` a new API key and returns the tenant with it; the
    /// old key stops working (on a running server once its authentication
    /// cache lets go of it, within [`crm_grpc::auth::CACHE_TTL`]).
    ///
    /// # Errors
    /// `NotFound`; storage errors.
    pub async fn rotate_key(&self, id: TenantId) -> Result<(Tenant, String), DomainError> {
        let key = generate_api_key();
        let tenant = self.tenants.replace_key(id, &hash_api_key(&key)).await?;
        Ok((tenant, key))
    }

    /// Closes the store.
    ///
    /// # Errors
    /// When closing fails.
    pub async fn close(self) -> Result<(), crm_store::StoreError> {
        self.store.close().await
    }
}

/// Runs the attachment sweep every `sweep_every` (the first one a period
/// after start), logging what it removed.
async fn sweep_forever(app: App) {
    let first = tokio::time::Instant::now() + app.sweep_every;
    let mut ticks = tokio::time::interval_at(first, app.sweep_every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match app.sweep_attachments().await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "attachment sweep removed unheld bytes"),
            Err(error) => tracing::warn!(%error, "attachment sweep failed"),
        }
        match app.imports.sweep_uploads(STAGED_UPLOAD_TTL).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "import sweep removed abandoned uploads"),
            Err(error) => tracing::warn!(%error, "import sweep failed"),
        }
    }
}
