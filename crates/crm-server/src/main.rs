//! `crmd`: serves the contact ledger over gRPC, or, with `tenant`, creates,
//! lists and re-keys tenants. The database flags apply to every command;
//! the serving flags only to serving (`crmd` alone, or `crmd serve`).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use crm_domain::TenantId;
use crm_domain::tenancy::Tenant;
use crm_server::{
    App, AttachmentOptions, DEFAULT_ATTACHMENT_STORE, DEFAULT_DATABASE_URL, DEFAULT_LISTEN,
    ServeOptions, StoreOptions, TenantAdmin,
};
use tracing_subscriber::EnvFilter;

/// Serves the contact ledger, a multi-tenant CRM, over gRPC.
#[derive(Debug, Parser)]
#[command(
    name = "crmd",
    version,
    about = "Serve the contact ledger, a multi-tenant CRM, over gRPC; manage its tenants.",
    long_about = "Serve the contact ledger, a multi-tenant CRM, over gRPC; manage its tenants.\n\n\
        With no command, crmd serves the crm.v1 services (with gRPC health and reflection) \
        over a SQLite file or a PostgreSQL database, which it creates and migrates as needed. \
        Callers authenticate with a tenant's API key: create a tenant first with \
        `crmd tenant create NAME`, which prints its key once.\n\n\
        Every flag can also be set by the environment variable shown beside it."
)]
struct Cli {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Where the data lives: every command reads it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Database")]
struct DatabaseArgs {
    /// Database: sqlite://PATH (created on first start) or
    /// postgres://USER[:PASS]@HOST[:PORT]/DB.
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
    /// Most address look-up statements ResolveSender runs at once; look-ups
    /// arriving while all are busy share the next statement. 0 means one
    /// per core (at least two).
    #[arg(
        long,
        env = "CRM_DB_LOOKUP_STATEMENTS",
        default_value_t = 0,
        value_parser = clap::value_parser!(u32).range(0..=1024),
        global = true
    )]
    db_lookup_statements: u32,
}

/// How the server serves: only serving reads these.
#[derive(Debug, Args)]
#[command(next_help_heading = "Serving")]
struct ServeArgs {
    /// Address to serve gRPC on: HOST:PORT, where HOST is an IP address
    /// ([::1] for IPv6) or a name such as localhost.
    #[arg(long, env = "CRM_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: String,
    /// Where attachment bytes go: a directory (or file://PATH),
    /// s3://BUCKET[/PREFIX] configured by the AWS_* variables, or memory://.
    #[arg(long, env = "CRM_ATTACHMENT_STORE", default_value = DEFAULT_ATTACHMENT_STORE)]
    attachment_store: String,
    /// The largest attachment accepted, in bytes (default 25 MiB).
    #[arg(long, env = "CRM_MAX_ATTACHMENT_BYTES", default_value_t = crm_domain::attachments::DEFAULT_MAX_BYTES)]
    max_attachment_bytes: u64,
    /// Seconds between sweeps for attachment bytes no record holds (1 to a year).
    #[arg(
        long,
        env = "CRM_ATTACHMENT_SWEEP_SECONDS",
        default_value_t = 600,
        value_parser = clap::value_parser!(u64).range(1..=31_536_000)
    )]
    attachment_sweep_seconds: u64,
    /// The largest file an import takes, in bytes (default 1 GiB).
    #[arg(long, env = "CRM_MAX_IMPORT_BYTES", default_value_t = crm_domain::exchange::import::DEFAULT_MAX_IMPORT_BYTES)]
    max_import_bytes: u64,
    /// Seconds an import worker holds its job between batches; a job whose
    /// server died resumes this long after its last batch (1 to an hour).
    #[arg(
        long,
        env = "CRM_IMPORT_LEASE_SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    import_lease_seconds: u64,
    /// Seconds a shutdown (SIGINT or SIGTERM) waits for calls and streams
    /// still open before it closes their connections and exits (0 to an hour).
    #[arg(
        long,
        env = "CRM_SHUTDOWN_GRACE_SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(0..=3600)
    )]
    shutdown_grace_seconds: u64,
    /// Seconds between checks of the database; health reports NOT_SERVING
    /// from a failed check until one succeeds (1 to an hour).
    #[arg(
        long,
        env = "CRM_HEALTH_CHECK_SECONDS",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    health_check_seconds: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (what crmd does with no command).
    Serve(ServeArgs),
    /// Create, list and re-key tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Export contacts as CSV from a running server (see ExportService):
    /// every column, to a file or stdout, with progress on stderr.
    Export(ExportArgs),
    /// Import contacts from a CSV file into a running server (see
    /// ImportService): uploads it, then follows the job to its end with
    /// progress on stderr, and prints what each row did.
    Import(ImportArgs),
}

/// A running server and the key to it: client commands read them.
#[derive(Debug, Args)]
struct RemoteArgs {
    /// The server, as http://HOST:PORT.
    #[arg(long, env = "CRM_ADDRESS", default_value = "http://127.0.0.1:50051")]
    address: String,
    /// A tenant API key (`crmd tenant create` prints one).
    #[arg(long, env = "CRM_API_KEY", hide_env_values = true)]
    api_key: String,
}

#[derive(Debug, Args)]
struct ExportArgs {
    #[command(flatten)]
    remote: RemoteArgs,
    /// Only the contacts this ListContacts filter selects (AIP-160).
    #[arg(long, default_value = "")]
    filter: String,
    /// The CSV file to write; stdout when absent or `-`.
    #[arg(long, short)]
    output: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
struct ImportArgs {
    #[command(flatten)]
    remote: RemoteArgs,
    /// The CSV file (`-` for stdin).
    file: std::path::PathBuf,
    /// Place a column: COLUMN=TARGET, TARGET a standard field
    /// (display_name, city, country, language, avatar_url, lifecycle_stage,
    /// blocked, tier), custom_fields.KEY, an address kind (email, phone,
    /// external_id, ...), tags, tag:NAME or ignore. Repeat for more
    /// columns; the others are placed by name.
    #[arg(long = "map", value_name = "COLUMN=TARGET", value_parser = crm_server::client::mapping)]
    mapping: Vec<crm_proto::v1::ColumnMapping>,
    /// The address rows find their contact by.
    #[arg(long, default_value = "email", value_parser = ["email", "phone", "external_id"])]
    dedup_key: String,
    /// upsert (create or update), create_only or update_only.
    #[arg(long, default_value = "upsert", value_parser = ["upsert", "create_only", "update_only"])]
    mode: String,
    /// A tag every imported row adds; repeat for more.
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// The file's encoding.
    #[arg(long, default_value = "utf-8", value_parser = ["utf-8", "windows-1252"])]
    encoding: String,
    /// The separator: `,`, `;` or `tab`; detected from the header when absent.
    #[arg(long, value_parser = [",", ";", "tab"])]
    separator: Option<String>,
    /// Write the refused rows here (CSV, ready to fix and import again).
    #[arg(long)]
    errors: Option<std::path::PathBuf>,
    /// Return once the file is uploaded, without following the job.
    #[arg(long)]
    no_wait: bool,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant and print its API key (shown once, stored hashed).
    /// A name a tenant already has is refused, ignoring case.
    Create {
        /// The tenant's name.
        name: String,
        /// ISO 3166-1 alpha-2 region for reading national phone numbers.
        #[arg(long, default_value = "US")]
        default_region: String,
    },
    /// List every tenant, oldest first: id, name, default region, creation time.
    List,
    /// Give a tenant a new API key and print it; the old key stops working
    /// (on running servers within 5 seconds).
    RotateKey {
        /// The tenant's id, as `tenant list` shows it.
        tenant_id: uuid::Uuid,
    },
}

/// Parses the command line. The serving flags belong either before any
/// command (`crmd --listen ...`) or after `serve`; given before `serve`
/// they would be silently overridden, so that is refused.
fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    if matches!(cli.command, Some(Command::Serve(_))) {
        let serving = ServeArgs::augment_args(clap::Command::new("serve"));
        for flag in serving.get_arguments() {
            if matches.value_source(flag.get_id().as_str())
                == Some(clap::parser::ValueSource::CommandLine)
            {
                return Err(command.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "--{} goes after `serve`: crmd serve --{} ...",
                        flag.get_id(),
                        flag.get_id()
                    ),
                ));
            }
        }
    }
    Ok(cli)
}

#[tokio::main]
async fn main() -> ExitCode {
    // Colour only for a person at a terminal, never in a file or a pipe
    // (and never with NO_COLOR set, https://no-color.org).
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("CRM_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
    let cli = match parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("crmd: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let store = StoreOptions {
        max_connections: cli.database.db_max_connections,
        statement_timeout: Duration::from_millis(cli.database.db_statement_timeout_ms),
        ..StoreOptions::default()
    };
    let store = match cli.database.db_lookup_statements {
        0 => store,
        n => StoreOptions {
            lookup_statements: usize::try_from(n).unwrap_or(usize::MAX),
            ..store
        },
    };
    match cli.command {
        Some(Command::Export(args)) => export(args).await,
        Some(Command::Import(args)) => import(args).await,
        None => serve(&cli.database.database_url, &store, cli.serve).await,
        Some(Command::Serve(serving)) => serve(&cli.database.database_url, &store, serving).await,
        Some(Command::Tenant { command }) => {
            let admin = TenantAdmin::open(&cli.database.database_url, &store)
                .await
                .map_err(|error| error.to_string())?;
            let done = tenant(&admin, command).await;
            // The command's outcome matters more than a failed goodbye.
            let _ = admin.close().await;
            done
        }
    }
}

async fn export(args: ExportArgs) -> Result<(), String> {
    let remote = crm_server::client::Remote {
        address: args.remote.address,
        key: args.remote.api_key,
    };
    let terminal = std::io::stderr().is_terminal();
    let written = match args.output.filter(|path| path.as_os_str() != "-") {
        Some(path) => {
            let file = std::fs::File::create(&path)
                .map_err(|error| format!("cannot create {}: {error}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            crm_server::client::export(&remote, &args.filter, &mut out, terminal).await?
        }
        None => {
            let mut out = std::io::stdout().lock();
            crm_server::client::export(&remote, &args.filter, &mut out, terminal).await?
        }
    };
    tracing::debug!(written, "exported");
    Ok(())
}

async fn import(args: ImportArgs) -> Result<(), String> {
    use crm_proto::v1 as pb;
    let remote = crm_server::client::Remote {
        address: args.remote.address,
        key: args.remote.api_key,
    };
    let (file, size, name): (Box<dyn std::io::Read + Send>, u64, String) =
        if args.file.as_os_str() == "-" {
            (Box::new(std::io::stdin()), 0, String::new())
        } else {
            let file = std::fs::File::open(&args.file)
                .map_err(|error| format!("cannot open {}: {error}", args.file.display()))?;
            let size = file.metadata().map(|meta| meta.len()).unwrap_or(0);
            let name = args
                .file
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            (Box::new(file), size, name)
        };
    let options = pb::ImportOptions {
        file_name: name,
        mapping: args.mapping,
        dedup_key: match args.dedup_key.as_str() {
            "phone" => pb::DedupKey::Phone,
            "external_id" => pb::DedupKey::ExternalId,
            _ => pb::DedupKey::Email,
        } as i32,
        mode: match args.mode.as_str() {
            "create_only" => pb::ImportMode::CreateOnly,
            "update_only" => pb::ImportMode::UpdateOnly,
            _ => pb::ImportMode::Upsert,
        } as i32,
        default_tags: args.tags,
        encoding: match args.encoding.as_str() {
            "windows-1252" => pb::FileEncoding::Windows1252,
            _ => pb::FileEncoding::Utf8,
        } as i32,
        separator: match args.separator.as_deref() {
            Some("tab") => "\t".to_owned(),
            Some(other) => other.to_owned(),
            None => String::new(),
        },
    };
    let request = crm_server::client::ImportRequest {
        options,
        errors: args.errors,
        no_wait: args.no_wait,
    };
    let terminal = std::io::stderr().is_terminal();
    let job = crm_server::client::import(&remote, file, size, request, terminal).await?;
    println!("{}", crm_server::client::summary(&job));
    match pb::ImportJobState::try_from(job.state) {
        Ok(pb::ImportJobState::Failed | pb::ImportJobState::Cancelled) => {
            Err(format!("import {} did not finish", job.id))
        }
        _ => Ok(()),
    }
}

async fn serve(database_url: &str, store: &StoreOptions, args: ServeArgs) -> Result<(), String> {
    // Bound first: a wrong address is reported before the database is touched.
    let listener = bind(&args.listen).await?;
    let blobs = crm_blob::open(&args.attachment_store).map_err(|error| error.to_string())?;
    let attachments = AttachmentOptions {
        max_bytes: args.max_attachment_bytes,
        sweep_every: Duration::from_secs(args.attachment_sweep_seconds),
        ..AttachmentOptions::new(blobs)
    };
    let app = App::open(database_url, store, attachments)
        .await
        .map_err(|error| error.to_string())?
        .with_imports(crm_server::ImportOptions {
            max_bytes: args.max_import_bytes,
            lease: Duration::from_secs(args.import_lease_seconds),
        });
    let listen = listener
        .local_addr()
        .map_err(|error| format!("cannot listen on {}: {error}", args.listen))?;
    let shutdown = shutdown_signal()?;
    tracing::info!(%listen, database = %redact(database_url), "serving crm.v1");
    let serving = ServeOptions {
        shutdown_grace: Duration::from_secs(args.shutdown_grace_seconds),
        health_check_every: Duration::from_secs(args.health_check_seconds),
    };
    app.serve_with(listener, shutdown, &serving)
        .await
        .map_err(|error| error.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

async fn tenant(admin: &TenantAdmin, command: TenantCommand) -> Result<(), String> {
    match command {
        TenantCommand::Create {
            name,
            default_region,
        } => {
            let (tenant, key) = admin
                .create(&name, &default_region)
                .await
                .map_err(|error| error.to_string())?;
            print_key(&tenant, &key);
        }
        TenantCommand::List => {
            let tenants = admin.list().await.map_err(|error| error.to_string())?;
            println!("tenant_id\tname\tdefault_region\tcreate_time");
            for tenant in tenants {
                let created = tenant
                    .create_time
                    .format(&time::format_description::well_known::Rfc3339)
                    .map_err(|error| error.to_string())?;
                println!(
                    "{}\t{}\t{}\t{created}",
                    tenant.id,
                    tenant.name,
                    tenant.default_region.as_str()
                );
            }
        }
        TenantCommand::RotateKey { tenant_id } => {
            let (tenant, key) = admin
                .rotate_key(TenantId::from_uuid(tenant_id))
                .await
                .map_err(|error| error.to_string())?;
            print_key(&tenant, &key);
            eprintln!(
                "The old key no longer works (running servers may accept it for up to {} seconds).",
                crm_grpc::auth::CACHE_TTL.as_secs()
            );
        }
    }
    Ok(())
}

fn print_key(tenant: &Tenant, key: &str) {
    println!("tenant_id: {}", tenant.id);
    println!("name: {}", tenant.name);
    println!("default_region: {}", tenant.default_region);
    println!("api_key: {key}");
    eprintln!("Keep the API key now: it is stored hashed and cannot be shown again.");
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

/// Starts listening for SIGINT and SIGTERM at once, before the server says
/// it is serving (a supervisor may stop it the moment it is ready), and
/// returns what completes on the first of them, so calls in flight can
/// finish.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl Future<Output = ()>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|error| format!("cannot listen for {name}: {error}"))
    };
    let mut interrupt = listen(SignalKind::interrupt(), "SIGINT")?;
    let mut terminate = listen(SignalKind::terminate(), "SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
        }
    })
}

/// Completes on Ctrl-C, so calls in flight can finish.
#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl Future<Output = ()>, String> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C: shutting down");
        }
    })
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn help(path: &[&str]) -> String {
        let mut command = Cli::command();
        // Building propagates the global flags into the subcommands.
        command.build();
        let mut current = &mut command;
        for name in path {
            current = current.find_subcommand_mut(name).unwrap();
        }
        current.render_long_help().to_string()
    }

    #[test]
    fn the_help_opens_with_what_crmd_does_for_its_user() {
        let help = help(&[]);
        let first = help.lines().next().unwrap();
        assert_eq!(
            first,
            "Serve the contact ledger, a multi-tenant CRM, over gRPC; manage its tenants."
        );
        assert!(!help.contains("Composition root"), "{help}");
        assert!(help.contains("crmd tenant create NAME"), "{help}");
    }

    #[test]
    fn tenant_commands_list_the_database_flags_and_no_serving_flag() {
        for path in [
            &["tenant"][..],
            &["tenant", "create"],
            &["tenant", "list"],
            &["tenant", "rotate-key"],
        ] {
            let help = help(path);
            assert!(help.contains("--database-url"), "{path:?}: {help}");
            for serving in [
                "--listen",
                "--attachment-store",
                "--max-attachment-bytes",
                "--attachment-sweep-seconds",
                "--shutdown-grace-seconds",
                "--health-check-seconds",
            ] {
                assert!(!help.contains(serving), "{path:?} lists {serving}: {help}");
            }
        }
        let serve = help(&["serve"]);
        assert!(
            serve.contains("--listen") && serve.contains("--database-url"),
            "{serve}"
        );
    }

    #[test]
    fn serving_flags_go_before_any_command_or_after_serve() {
        let bare = parse([
            "crmd",
            "--listen",
            "127.0.0.1:1",
            "--database-url",
            "sqlite://x",
        ])
        .unwrap();
        assert!(bare.command.is_none());
        assert_eq!(bare.serve.listen, "127.0.0.1:1");
        let serve = parse(["crmd", "serve", "--listen", "127.0.0.1:2"]).unwrap();
        let Some(Command::Serve(args)) = serve.command else {
            panic!("{serve:?}");
        };
        assert_eq!(args.listen, "127.0.0.1:2");
        let misplaced = parse(["crmd", "--listen", "127.0.0.1:3", "serve"]).unwrap_err();
        assert!(
            misplaced
                .to_string()
                .contains("--listen goes after `serve`"),
            "{misplaced}"
        );
        // The database flags go anywhere, as the bench and scripts write them.
        let early = parse(["crmd", "--database-url", "sqlite://y", "tenant", "list"]).unwrap();
        assert_eq!(early.database.database_url, "sqlite://y");
        let late = parse(["crmd", "tenant", "list", "--database-url", "sqlite://z"]).unwrap();
        assert_eq!(late.database.database_url, "sqlite://z");
        assert!(parse(["crmd", "tenant", "list", "--listen", "127.0.0.1:4"]).is_err());
    }
}
