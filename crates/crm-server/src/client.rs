//! `crmd export`: a client of a running server, as an operator runs it.
//! Progress goes to stderr: a bar with rows/s and an ETA on a terminal,
//! plain lines (at most one every few seconds, and the last) otherwise.

use std::io::Write;
use std::time::{Duration, Instant};

use crm_proto::v1 as pb;
use crm_proto::v1::export_service_client::ExportServiceClient;

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

/// Progress of a long job: an indicatif bar on a terminal, plain lines
/// otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    what: &'static str,
    started: Instant,
    last_line: Instant,
    total: u64,
}

impl Progress {
    /// Progress over `total` rows; a bar when `terminal`.
    pub fn new(what: &'static str, total: u64, terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new(total);
            let style = indicatif::ProgressStyle::with_template(
                "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({per_sec}, ETA {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(what);
            bar
        });
        Self {
            bar,
            what,
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
            "{}: {done} of {} rows ({:.0} rows/s)",
            self.what,
            self.total,
            done as f64 / seconds
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
    let channel = tonic::transport::Endpoint::from_shared(remote.address.clone())
        .map_err(|_| {
            format!(
                "{:?} is not a server address (http://HOST:PORT)",
                remote.address
            )
        })?
        .connect()
        .await
        .map_err(|error| format!("cannot reach {}: {error}", remote.address))?;
    let mut request = tonic::Request::new(pb::ExportContactsRequest {
        filter: filter.to_owned(),
    });
    let bearer = format!("Bearer {}", remote.key)
        .parse()
        .map_err(|_| "the API key is not readable text".to_owned())?;
    request.metadata_mut().insert("authorization", bearer);
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
            Progress::new("export", u64::try_from(chunk.total).unwrap_or(0), terminal)
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
