//! `crmd export` and `crmd import`: clients of a running server, as an
//! operator runs them. Progress goes to stderr: a bar with rows/s and an
//! ETA on a terminal, plain lines (at most one every few seconds, and the
//! last) otherwise.

use std::io::Write;
use std::time::{Duration, Instant};

use crm_proto::v1 as pb;
use crm_proto::v1::export_service_client::ExportServiceClient;

mod import;
pub use import::{ImportRequest, import, mapping, summary};

/// How often plain progress lines are written, at most.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// Where a client command finds the server.
#[derive(Debug, Clone)]
pub struct Remote {
    /// `http://HOST:PORT`.
    pub address: String,
    /// A tenant API key.
    pub key: String,
}

impl Remote {
    /// A channel to the server.
    ///
    /// # Errors
    /// A bad address, or a server that cannot be reached.
    pub async fn connect(&self) -> Result<tonic::transport::Channel, String> {
        tonic::transport::Endpoint::from_shared(self.address.clone())
            .map_err(|_| {
                format!(
                    "{:?} is not a server address (http://HOST:PORT)",
                    self.address
                )
            })?
            .connect()
            .await
            .map_err(|error| format!("cannot reach {}: {error}", self.address))
    }

    /// `message` as a request carrying the API key.
    ///
    /// # Errors
    /// A key that cannot be sent as a header.
    pub fn request<T>(&self, message: T) -> Result<tonic::Request<T>, String> {
        let mut request = tonic::Request::new(message);
        let bearer = format!("Bearer {}", self.key)
            .parse()
            .map_err(|_| "the API key is not readable text".to_owned())?;
        request.metadata_mut().insert("authorization", bearer);
        Ok(request)
    }
}

/// Progress of a long job: an indicatif bar on a terminal, plain lines
/// otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    what: &'static str,
    unit: &'static str,
    started: Instant,
    last_line: Instant,
    total: u64,
}

impl Progress {
    /// Progress over `total` of `unit` (rows, bytes); a bar when `terminal`.
    pub fn new(what: &'static str, unit: &'static str, total: u64, terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new(total);
            let style = indicatif::ProgressStyle::with_template(&format!(
                "{{msg}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {unit} ({{per_sec}}, ETA {{eta}})"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(what);
            bar
        });
        Self {
            bar,
            what,
            unit,
            started: Instant::now(),
            last_line: Instant::now(),
            total,
        }
    }

    /// `done` rows so far.
    pub fn set(&mut self, done: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None => {
                if self.last_line.elapsed() >= LINE_EVERY {
                    self.last_line = Instant::now();
                    eprintln!("{}", self.line(done));
                }
            }
        }
    }

    /// The job ended at `done` rows.
    pub fn finish(self, done: u64) {
        match self.bar {
            Some(bar) => bar.finish(),
            None => eprintln!("{}", self.line(done)),
        }
    }

    fn line(&self, done: u64) -> String {
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        format!(
            "{}: {done} of {} {unit} ({:.0} {unit}/s)",
            self.what,
            self.total,
            done as f64 / seconds,
            unit = self.unit,
        )
    }
}

/// Streams the export of the contacts `filter` selects into `out`,
/// showing progress; returns how many rows it wrote.
///
/// # Errors
/// What went wrong, in words: the server unreachable, the call refused
/// (its status message), the output not writable.
pub async fn export(
    remote: &Remote,
    filter: &str,
    out: &mut dyn Write,
    terminal: bool,
) -> Result<u64, String> {
    let channel = remote.connect().await?;
    let request = remote.request(pb::ExportContactsRequest {
        filter: filter.to_owned(),
    })?;
    let mut stream = ExportServiceClient::new(channel)
        .export_contacts(request)
        .await
        .map_err(|status| format!("export refused: {}", status.message()))?
        .into_inner();
    let mut progress: Option<Progress> = None;
    let mut written = 0;
    loop {
        let chunk = match stream.message().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(status) => return Err(format!("export failed: {}", status.message())),
        };
        let progress = progress.get_or_insert_with(|| {
            Progress::new(
                "export",
                "rows",
                u64::try_from(chunk.total).unwrap_or(0),
                terminal,
            )
        });
        out.write_all(&chunk.csv)
            .map_err(|error| format!("cannot write the export: {error}"))?;
        written = u64::try_from(chunk.rows_written).unwrap_or(written);
        progress.set(written);
    }
    out.flush()
        .map_err(|error| format!("cannot write the export: {error}"))?;
    if let Some(progress) = progress {
        progress.finish(written);
    }
    Ok(written)
}
