//! `crmd` as an operator runs it: the built binary as a process of its own
//! over a fresh SQLite file, watched through its log and spoken to through
//! gRPC. Waits are on events (a log line, the process's exit, a stream's
//! message); [`FAILURE_BOUND`] only bounds a failing test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crm_proto::v1 as pb;
use crm_proto::v1::tenant_service_client::TenantServiceClient;
use tokio::sync::mpsc;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const CRMD: &str = env!("CARGO_BIN_EXE_crmd");

/// How long a test waits for what should happen at once before it fails.
const FAILURE_BOUND: Duration = Duration::from_secs(30);

/// A directory of its own for one test's database and attachments, removed
/// when the test ends.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("crmd-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    /// `crmd` over this directory's database and attachment store (given
    /// by environment, which every subcommand reads), logging at INFO.
    fn crmd(&self) -> Command {
        let mut command = Command::new(CRMD);
        command
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", self.dir.join("crm.sqlite3").display()),
            )
            .env("CRM_ATTACHMENT_STORE", self.dir.join("attachments"))
            .env("CRM_LOG", "info")
            .env_remove("NO_COLOR");
        command
    }

    /// Runs `crmd` with `args` to its end: (success, stdout, stderr).
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let output = self.crmd().args(args).output().unwrap();
        (
            output.status.success(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    }

    /// Runs `crmd` with `args`, which must succeed, and returns its stdout.
    fn succeed(&self, args: &[&str]) -> String {
        let (succeeded, stdout, stderr) = self.run(args);
        assert!(succeeded, "crmd {args:?} failed: {stderr}");
        stdout
    }

    /// Starts `crmd` serving on a free port with `args`, and waits until it
    /// logs where it listens.
    async fn serve(&self, args: &[&str]) -> Running {
        self.serve_on("127.0.0.1:0", args).await
    }

    /// [`Scratch::serve`] on `listen`.
    async fn serve_on(&self, listen: &str, args: &[&str]) -> Running {
        let mut child = self
            .crmd()
            .args(["--listen", listen])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (lines, log) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running = Running {
            child,
            log,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let line = running.await_log("serving crm.v1").await;
        running.addr = field(&line, "listen")
            .parse()
            .unwrap_or_else(|_| panic!("no address in {line:?}"));
        running
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The value of `name=` in a log line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
}

/// A serving `crmd`.
struct Running {
    child: Child,
    log: mpsc::UnboundedReceiver<String>,
    addr: SocketAddr,
}

impl Running {
    /// Waits for the next log line that contains `text`, and returns it.
    async fn await_log(&mut self, text: &str) -> String {
        let mut seen = Vec::new();
        let found = tokio::time::timeout(FAILURE_BOUND, async {
            while let Some(line) = self.log.recv().await {
                if line.contains(text) {
                    return Some(line);
                }
                seen.push(line);
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("crmd logged no {text:?}; it logged {seen:#?}"),
        }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// Sends SIGTERM, as a process supervisor stops a server.
    fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Waits for the process to exit.
    async fn exit(mut self) -> ExitStatus {
        let waiting = tokio::task::spawn_blocking(move || {
            let status = self.child.wait();
            (self, status)
        });
        match tokio::time::timeout(FAILURE_BOUND, waiting).await {
            Ok(joined) => joined.unwrap().1.unwrap(),
            Err(_) => panic!("crmd did not exit within {FAILURE_BOUND:?}"),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that failed half-way leaves no server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_an_idle_stream_open_exits_after_the_grace() {
    let scratch = Scratch::new();
    let mut crmd = scratch.serve(&["--shutdown-grace-seconds", "1"]).await;
    let mut health = HealthClient::new(crmd.channel().await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);

    crmd.terminate();
    crmd.await_log("shutdown deadline passed").await;
    assert!(crmd.exit().await.success());
    let after = tokio::time::timeout(FAILURE_BOUND, watch.message())
        .await
        .expect("the stream stays open after crmd exited");
    assert!(
        !matches!(after, Ok(Some(_))),
        "the stream went on: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_nothing_open_exits_without_waiting_out_the_grace() {
    let scratch = Scratch::new();
    // An hour's grace: the test ends long before it unless the server
    // leaves as soon as nothing is open.
    let mut crmd = scratch.serve(&["--shutdown-grace-seconds", "3600"]).await;
    let mut health = HealthClient::new(crmd.channel().await);
    let checked = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.status, ServingStatus::Serving as i32);
    drop(health);

    crmd.terminate();
    crmd.await_log("stopped").await;
    assert!(crmd.exit().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listen_address_may_name_its_host() {
    let scratch = Scratch::new();
    let crmd = scratch.serve_on("localhost:0", &[]).await;
    assert!(crmd.addr.ip().is_loopback(), "{}", crmd.addr);
    let mut health = HealthClient::new(crmd.channel().await);
    let checked = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.status, ServingStatus::Serving as i32);
}

#[test]
fn a_listen_address_without_a_port_is_refused_with_how_to_write_one() {
    let scratch = Scratch::new();
    let output = scratch
        .crmd()
        .args(["--listen", "localhost"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot listen on \"localhost\"") && stderr.contains("HOST:PORT"),
        "{stderr}"
    );
}

#[test]
fn a_refused_database_port_is_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = Command::new(CRMD)
        .env(
            "DATABASE_URL",
            format!("postgres://crm:secret@127.0.0.1:{port}/crm"),
        )
        .env("CRM_ATTACHMENT_STORE", "memory://")
        .args(["tenant", "create", "Acme"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot connect to PostgreSQL at 127.0.0.1:{port} (database crm, user crm)"
        )) && stderr.to_lowercase().contains("refused")
            && !stderr.contains("secret"),
        "{stderr}"
    );
}

/// The value of `name: ` in `crmd tenant create` or `rotate-key` output.
fn printed<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no {name} in {stdout:?}"))
}

#[test]
fn log_lines_written_to_a_pipe_carry_no_colour_codes() {
    let scratch = Scratch::new();
    // Not a terminal, and no NO_COLOR: a fresh database logs its migrations.
    let (succeeded, _, stderr) = scratch.run(&["tenant", "create", "Acme"]);
    assert!(succeeded, "{stderr}");
    assert!(stderr.contains(" INFO "), "{stderr}");
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_created_once_by_name_listed_and_given_new_keys() {
    let scratch = Scratch::new();
    let acme = scratch.succeed(&["tenant", "create", "Acme", "--default-region", "GB"]);
    let acme_id = printed(&acme, "tenant_id").to_owned();
    let first_key = printed(&acme, "api_key").to_owned();

    let (succeeded, _, stderr) = scratch.run(&["tenant", "create", " acme "]);
    assert!(!succeeded);
    assert!(
        stderr.contains(&format!(
            "name \"acme\" is already used by tenant {acme_id}"
        )),
        "{stderr}"
    );
    let beta = scratch.succeed(&["tenant", "create", "Beta"]);
    let beta_id = printed(&beta, "tenant_id").to_owned();

    let listed = scratch.succeed(&["tenant", "list"]);
    let rows: Vec<Vec<&str>> = listed
        .lines()
        .map(|line| line.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 3, "{listed}");
    assert_eq!(
        rows[0],
        ["tenant_id", "name", "default_region", "create_time"]
    );
    assert_eq!(rows[1][..3], [acme_id.as_str(), "Acme", "GB"]);
    assert_eq!(rows[2][..3], [beta_id.as_str(), "Beta", "US"]);
    assert!(rows[1][3].ends_with('Z'), "{listed}");

    let rotated = scratch.succeed(&["tenant", "rotate-key", &acme_id]);
    assert_eq!(printed(&rotated, "tenant_id"), acme_id);
    let second_key = printed(&rotated, "api_key").to_owned();
    assert_ne!(second_key, first_key);
    let (succeeded, _, stderr) = scratch.run(&[
        "tenant",
        "rotate-key",
        "0190c6d5-7a6e-7cc3-9d2e-3f1b2a4c5d6e",
    ]);
    assert!(!succeeded);
    assert!(stderr.contains("not found"), "{stderr}");

    // A fresh server knows only the new key.
    let crmd = scratch.serve(&[]).await;
    let mut tenants = TenantServiceClient::new(crmd.channel().await);
    let settings = |key: &str| {
        let mut request = tonic::Request::new(pb::GetTenantSettingsRequest {});
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
        request
    };
    let refused = tenants
        .get_tenant_settings(settings(&first_key))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let read = tenants
        .get_tenant_settings(settings(&second_key))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.tenant_id, acme_id);
    assert_eq!(read.name, "Acme");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crmd_export_writes_a_running_servers_contacts_to_a_file_with_progress() {
    use crm_proto::v1::contact_service_client::ContactServiceClient;
    let scratch = Scratch::new();
    let created = scratch.succeed(&["tenant", "create", "Acme"]);
    let key = printed(&created, "api_key").to_owned();
    let crmd = scratch.serve(&[]).await;
    let mut contacts = ContactServiceClient::new(crmd.channel().await);
    for address in ["ana@acme.com", "bo@acme.com"] {
        let request = pb::ResolveSenderRequest {
            channel: pb::Channel::Email as i32,
            address: address.into(),
            ..Default::default()
        };
        contacts.resolve_sender(keyed(request, &key)).await.unwrap();
    }
    let address = format!("http://{}", crmd.addr);
    let file = scratch.dir.join("contacts.csv");
    let output = scratch
        .crmd()
        .args(["export", "--address", &address, "--output"])
        .arg(&file)
        .env("CRM_API_KEY", &key)
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    // Not a terminal: a plain progress line, no bar.
    assert!(stderr.contains("export: 2 of 2 rows"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    let csv = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("id,display_name,"), "{csv}");
    assert!(
        csv.contains("ana@acme.com") && csv.contains("bo@acme.com"),
        "{csv}"
    );

    // To stdout, with a filter; a wrong key is refused in words.
    let output = scratch
        .crmd()
        .args([
            "export",
            "--address",
            &address,
            "--filter",
            "display_name = nobody",
        ])
        .env("CRM_API_KEY", &key)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stdout).unwrap().lines().count(), 1);
    let (succeeded, _, stderr) =
        scratch.run(&["export", "--address", &address, "--api-key", "crm_wrong"]);
    assert!(!succeeded);
    assert!(stderr.contains("export refused"), "{stderr}");
}

/// `message` carrying `key`.
fn keyed<T>(message: T, key: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crmd_import_uploads_a_file_follows_it_and_writes_its_error_file() {
    let scratch = Scratch::new();
    let created = scratch.succeed(&["tenant", "create", "Acme"]);
    let key = printed(&created, "api_key").to_owned();
    let crmd = scratch.serve(&[]).await;
    let address = format!("http://{}", crmd.addr);
    let file = scratch.dir.join("people.csv");
    std::fs::write(
        &file,
        "Name\tE-mail\tFavourite\nAna\tana@acme.com\tblue\nBo\tnot an email\tred\n",
    )
    .unwrap();
    let errors = scratch.dir.join("refused.csv");
    let output = scratch
        .crmd()
        .args(["import", "--address", &address, "--map", "Favourite=ignore"])
        .args(["--tag", "moved-in", "--errors"])
        .arg(&errors)
        .arg(&file)
        .env("CRM_API_KEY", &key)
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stderr}");
    // Not a terminal: plain progress lines, no bar.
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(
        stderr.contains(&format!("upload: {size} of {size} bytes")),
        "{stderr}"
    );
    assert!(stderr.contains("import: 2 of 2 rows"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    assert!(
        stdout.contains(
            "succeeded: 2 of 2 rows: 1 created, 0 updated, 0 unchanged, 0 duplicates, 1 invalid"
        ),
        "{stdout}"
    );
    let refused = std::fs::read_to_string(&errors).unwrap();
    let lines: Vec<&str> = refused.lines().collect();
    assert_eq!(lines[0], "Name,E-mail,Favourite,import_line,import_error");
    assert!(
        lines[1].starts_with("Bo,not an email,red,3,\"E-mail: invalid email address"),
        "{refused}"
    );

    // A column nothing places is refused in words, naming it.
    std::fs::write(&file, "email,Shoe size\na@b.com,42\n").unwrap();
    let (succeeded, _, stderr) = scratch.run(&[
        "import",
        "--address",
        &address,
        "--api-key",
        &key,
        file.to_str().unwrap(),
    ]);
    assert!(!succeeded);
    assert!(
        stderr.contains("import refused") && stderr.contains("Shoe size"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_cut_off_by_a_killed_server_resumes_after_a_restart() {
    use crm_proto::v1::export_service_client::ExportServiceClient;
    use crm_proto::v1::import_service_client::ImportServiceClient;
    const ROWS: usize = 30_000;
    let scratch = Scratch::new();
    let created = scratch.succeed(&["tenant", "create", "Acme"]);
    let key = printed(&created, "api_key").to_owned();
    let lease = ["--import-lease-seconds", "1"];
    let crmd = scratch.serve(&lease).await;
    let file = scratch.dir.join("many.csv");
    let mut text = String::from("email,display_name\n");
    for n in 0..ROWS {
        text.push_str(&format!("person{n}@bulk.example,Person {n}\n"));
    }
    std::fs::write(&file, text).unwrap();
    let address = format!("http://{}", crmd.addr);
    let output = scratch
        .crmd()
        .args(["import", "--no-wait", "--address", &address])
        .arg(&file)
        .env("CRM_API_KEY", &key)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let id = stdout
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no job id in {stdout:?}"))
        .to_owned();

    // Killed (SIGKILL, no goodbye) once the first batches are in.
    let mut imports = ImportServiceClient::new(crmd.channel().await);
    let mut watch = imports
        .watch_import_job(keyed(pb::WatchImportJobRequest { id: id.clone() }, &key))
        .await
        .unwrap()
        .into_inner();
    let cut_at = loop {
        let job = tokio::time::timeout(FAILURE_BOUND, watch.message())
            .await
            .expect("the job moves")
            .unwrap()
            .expect("the job is watched to its end");
        if job.rows_processed > 0 {
            break job;
        }
    };
    drop(crmd);
    let cut_rows = usize::try_from(cut_at.rows_processed).unwrap();
    assert!(cut_rows < ROWS, "the job ended before the kill: {cut_at:?}");

    let crmd = scratch.serve(&lease).await;
    let mut imports = ImportServiceClient::new(crmd.channel().await);
    let mut watch = imports
        .watch_import_job(keyed(pb::WatchImportJobRequest { id: id.clone() }, &key))
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(job) = tokio::time::timeout(FAILURE_BOUND, watch.message())
        .await
        .expect("the job resumes")
        .unwrap()
    {
        assert!(
            job.rows_processed >= cut_at.rows_processed,
            "it goes on from its last batch: {job:?}"
        );
        last = Some(job);
    }
    let job = last.unwrap();
    assert_eq!(job.state, pb::ImportJobState::Succeeded as i32, "{job:?}");
    let rows = i64::try_from(ROWS).unwrap();
    assert_eq!(
        (job.rows_total, job.rows_processed, job.created),
        (rows, rows, rows)
    );
    // An export counts exactly: every row is one contact, none twice.
    let first = ExportServiceClient::new(crmd.channel().await)
        .export_contacts(keyed(pb::ExportContactsRequest::default(), &key))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.total, rows);
}
