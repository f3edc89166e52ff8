//! Starting the release `crmd` as its own process, creating the bench
//! tenant through its command line, and reading its memory from /proc.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// The bench tenant.
#[derive(Debug, Clone)]
pub struct BenchTenant {
    pub id: uuid::Uuid,
    pub key: String,
}

/// Runs `crmd tenant create` (which also applies the migrations).
pub fn create_tenant(crmd: &str, database_url: &str) -> Result<BenchTenant, String> {
    let output = Command::new(crmd)
        .args([
            "--database-url",
            database_url,
            "tenant",
            "create",
            "Bench",
            "--default-region",
            "US",
        ])
        .env("CRM_LOG", "warn")
        .output()
        .map_err(|error| format!("cannot run {crmd}: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "crmd tenant create failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
            .map(str::to_owned)
            .ok_or_else(|| format!("crmd printed no {name}"))
    };
    let id = uuid::Uuid::parse_str(&field("tenant_id:")?).map_err(|error| error.to_string())?;
    Ok(BenchTenant {
        id,
        key: field("api_key:")?,
    })
}

/// A running `crmd`.
pub struct Crmd {
    child: Child,
    pub endpoint: String,
}

impl Crmd {
    /// Starts `crmd` on a free port and waits until health says SERVING.
    pub async fn start(crmd: &str, database_url: &str) -> Result<Crmd, String> {
        Self::start_with(crmd, database_url, &[]).await
    }

    /// [`Crmd::start`] with more command-line flags.
    pub async fn start_with(
        crmd: &str,
        database_url: &str,
        extra: &[&str],
    ) -> Result<Crmd, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| error.to_string())?
            .port();
        let child = Command::new(crmd)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                database_url,
            ])
            .args(extra)
            .env("CRM_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start {crmd}: {error}"))?;
        let crmd = Crmd {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(channel) = tonic::transport::Channel::from_shared(crmd.endpoint.clone())
                .map_err(|error| error.to_string())?
                .connect()
                .await
            {
                let mut health = HealthClient::new(channel);
                if health
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .is_ok()
                {
                    return Ok(crmd);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("crmd did not become healthy within 30s".to_owned())
    }

    fn status_field(&self, name: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| {
                status.lines().find_map(|line| {
                    line.strip_prefix(name)
                        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                })
            })
            .unwrap_or(0)
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_field("VmRSS:")
    }

    /// Peak resident memory since start, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_field("VmHWM:")
    }

    /// Resets the peak resident memory (VmHWM) to the current one, so the
    /// next [`Crmd::peak_rss_kib`] covers only what follows.
    pub fn reset_peak_rss(&self) {
        // "5" resets the peak RSS (Linux 4.0 and later); without it the
        // peak covers the process's whole life, which only overstates.
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }

    /// Stops the server with SIGTERM (graceful) and reaps it.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Crmd {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}
