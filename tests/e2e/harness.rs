//! `spawn()`: the real server on port 0 over a fresh database of either
//! backend, with a tenant and its API key, and clients that send the key.

use std::future::Future;
use std::net::SocketAddr;

use crm_proto::v1::contact_service_client::ContactServiceClient;
use crm_proto::v1::tenant_service_client::TenantServiceClient;
use crm_server::{App, StoreOptions};
use crm_store::testing::{TestBackend, TestDatabase};
use tokio::sync::oneshot;
use tonic::transport::Channel;

pub use crm_store::testing::BOTH;

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
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    database: Option<TestDatabase>,
}

/// Starts a server over a fresh database of `backend`, with one tenant
/// (default region US) whose key is `server.key`.
pub async fn spawn(backend: TestBackend) -> TestServer {
    let database = TestDatabase::create(backend).await;
    let mut server = serve(&database.url, backend).await;
    server.database = Some(database);
    server
}

/// Starts another server over an existing database (as a second replica).
pub async fn serve(database_url: &str, backend: TestBackend) -> TestServer {
    let app = App::open(database_url, &StoreOptions::default())
        .await
        .unwrap_or_else(|error| panic!("{backend:?}: {error}"));
    let (_, key) = app.create_tenant("Test tenant", "US").await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = app.clone();
    let task = tokio::spawn(async move {
        serving
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("server failed");
    });
    TestServer {
        addr,
        key,
        database_url: database_url.to_owned(),
        backend,
        app,
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

    /// A TenantService client.
    pub async fn tenants(&self) -> TenantServiceClient<Channel> {
        TenantServiceClient::new(self.channel().await)
    }

    /// `message` with this server's tenant key attached.
    pub fn req<T>(&self, message: T) -> tonic::Request<T> {
        with_key(message, &self.key)
    }

    /// Creates another tenant and returns its key.
    pub async fn new_tenant(&self, region: &str) -> String {
        self.app
            .create_tenant("Other tenant", region)
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

/// The field paths of a status's BadRequest violations.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|v| v.field.clone())
                .collect()
        })
        .unwrap_or_default()
}
