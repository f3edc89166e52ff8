//! `crmd`: serves the contact ledger over gRPC, or, with `tenant create`,
//! creates a tenant and prints its API key once.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use crm_server::{
    App, AttachmentOptions, DEFAULT_ATTACHMENT_STORE, DEFAULT_DATABASE_URL, DEFAULT_LISTEN,
    ServeOptions, StoreOptions,
};
use tracing_subscriber::EnvFilter;

/// The contact ledger's gRPC server.
#[derive(Debug, Parser)]
#[command(name = "crmd", version, about)]
struct Cli {
    /// Address to serve gRPC on: HOST:PORT, where HOST is an IP address
    /// ([::1] for IPv6) or a name such as localhost.
    #[arg(long, env = "CRM_LISTEN", default_value = DEFAULT_LISTEN, global = true)]
    listen: String,
    /// Database: sqlite://PATH (created on first start) or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    database_url: String,
    /// Most database connections in the pool.
    #[arg(
        long,
        env = "CRM_DB_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    db_max_connections: u32,
    /// Milliseconds one database statement may run or wait for a lock; a
    /// statement or write transaction with no answer a second later is
    /// abandoned. Either ends the call in UNAVAILABLE.
    #[arg(
        long,
        env = "CRM_DB_STATEMENT_TIMEOUT_MS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..=3_600_000),
        global = true
    )]
    db_statement_timeout_ms: u64,
    /// Where attachment bytes go: a directory (or file://PATH),
    /// s3://BUCKET[/PREFIX] configured by the AWS_* variables, or memory://.
    #[arg(long, env = "CRM_ATTACHMENT_STORE", default_value = DEFAULT_ATTACHMENT_STORE, global = true)]
    attachment_store: String,
    /// The largest attachment accepted, in bytes (default 25 MiB).
    #[arg(long, env = "CRM_MAX_ATTACHMENT_BYTES", default_value_t = crm_domain::attachments::DEFAULT_MAX_BYTES, global = true)]
    max_attachment_bytes: u64,
    /// Seconds between sweeps for attachment bytes no record holds (1 to a year).
    #[arg(
        long,
        env = "CRM_ATTACHMENT_SWEEP_SECONDS",
        default_value_t = 600,
        value_parser = clap::value_parser!(u64).range(1..=31_536_000),
        global = true
    )]
    attachment_sweep_seconds: u64,
    /// Seconds a shutdown (SIGINT or SIGTERM) waits for calls and streams
    /// still open before it closes their connections and exits (0 to an hour).
    #[arg(
        long,
        env = "CRM_SHUTDOWN_GRACE_SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(0..=3600),
        global = true
    )]
    shutdown_grace_seconds: u64,
    /// Seconds between checks of the database; health reports NOT_SERVING
    /// from a failed check until one succeeds (1 to an hour).
    #[arg(
        long,
        env = "CRM_HEALTH_CHECK_SECONDS",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    health_check_seconds: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (what `crmd` does with no subcommand).
    Serve,
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant and print its API key (shown once, stored hashed).
    Create {
        /// The tenant's name.
        name: String,
        /// ISO 3166-1 alpha-2 region for reading national phone numbers.
        #[arg(long, default_value = "US")]
        default_region: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("CRM_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("crmd: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let options = StoreOptions {
        max_connections: cli.db_max_connections,
        statement_timeout: std::time::Duration::from_millis(cli.db_statement_timeout_ms),
    };
    let blobs = crm_blob::open(&cli.attachment_store).map_err(|error| error.to_string())?;
    let attachments = AttachmentOptions {
        max_bytes: cli.max_attachment_bytes,
        sweep_every: std::time::Duration::from_secs(cli.attachment_sweep_seconds),
        ..AttachmentOptions::new(blobs)
    };
    let app = App::open(&cli.database_url, &options, attachments)
        .await
        .map_err(|error| error.to_string())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = bind(&cli.listen).await?;
            let listen = listener
                .local_addr()
                .map_err(|error| format!("cannot listen on {}: {error}", cli.listen))?;
            tracing::info!(%listen, database = %redact(&cli.database_url), "serving crm.v1");
            let serving = ServeOptions {
                shutdown_grace: std::time::Duration::from_secs(cli.shutdown_grace_seconds),
                health_check_every: std::time::Duration::from_secs(cli.health_check_seconds),
            };
            app.serve_with(listener, shutdown_signal(), &serving)
                .await
                .map_err(|error| error.to_string())?;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Tenant {
            command:
                TenantCommand::Create {
                    name,
                    default_region,
                },
        } => {
            let (tenant, key) = app
                .create_tenant(&name, &default_region)
                .await
                .map_err(|error| error.to_string())?;
            println!("tenant_id: {}", tenant.id);
            println!("name: {}", tenant.name);
            println!("default_region: {}", tenant.default_region);
            println!("api_key: {key}");
            eprintln!("Keep the API key now: it is stored hashed and cannot be shown again.");
            Ok(())
        }
    }
}

/// Listens on `listen` (HOST:PORT, the host an address or a name): on the
/// first address the name resolves to that can be bound.
async fn bind(listen: &str) -> Result<tokio::net::TcpListener, String> {
    const HOW: &str = "write HOST:PORT, such as 127.0.0.1:50051, [::1]:50051, \
                       0.0.0.0:50051 or localhost:50051";
    let addresses = tokio::net::lookup_host(listen)
        .await
        .map_err(|error| format!("cannot listen on {listen:?}: {error}; {HOW}"))?;
    let mut refused = Vec::new();
    for address in addresses {
        match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => return Ok(listener),
            Err(error) => refused.push(format!("{address}: {error}")),
        }
    }
    Err(if refused.is_empty() {
        format!("cannot listen on {listen:?}: the name has no address; {HOW}")
    } else {
        format!("cannot listen on {listen:?}: {}", refused.join("; "))
    })
}

/// Completes on SIGINT or SIGTERM, so calls in flight can finish.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}

/// The database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
