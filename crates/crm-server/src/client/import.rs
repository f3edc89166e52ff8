//! `crmd import FILE`: uploads a CSV file (progress in bytes), then
//! watches the job it started (progress in rows) to its end, and writes
//! the refused rows to an error file when asked.

use std::io::{Read, Write};

use crm_proto::v1 as pb;
use crm_proto::v1::import_service_client::ImportServiceClient;

use super::{Progress, Remote};

/// Bytes sent per message.
const CHUNK: usize = 64 * 1024;

/// What `crmd import` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    /// The options, as the server takes them.
    pub options: pb::ImportOptions,
    /// Where to write the refused rows, if anywhere.
    pub errors: Option<std::path::PathBuf>,
    /// Return once the file is uploaded, without watching the job.
    pub no_wait: bool,
}

/// A `COLUMN=TARGET` mapping flag.
///
/// # Errors
/// A flag without `=`.
pub fn mapping(text: &str) -> Result<pb::ColumnMapping, String> {
    let (column, target) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("{text:?} is not COLUMN=TARGET"))?;
    Ok(pb::ColumnMapping {
        column: column.to_owned(),
        target: target.to_owned(),
    })
}

/// The job's outcome in one line.
pub fn summary(job: &pb::ImportJob) -> String {
    let state = pb::ImportJobState::try_from(job.state)
        .map(|state| {
            state
                .as_str_name()
                .trim_start_matches("IMPORT_JOB_STATE_")
                .to_lowercase()
        })
        .unwrap_or_default();
    let mut line = format!(
        "import {} {state}: {} of {} rows: {} created, {} updated, {} unchanged, {} duplicates, {} invalid",
        job.id,
        job.rows_processed,
        job.rows_total,
        job.created,
        job.updated,
        job.unchanged,
        job.duplicates,
        job.invalid
    );
    if !job.error.is_empty() {
        line.push_str(&format!(" ({})", job.error));
    }
    line
}

/// Uploads `file` (`size` bytes) and, unless told not to, watches the job
/// to its end; returns it as it ended.
///
/// # Errors
/// What went wrong, in words: the file unreadable, the server unreachable,
/// the upload refused (the status message names the field), the error file
/// not writable.
pub async fn import(
    remote: &Remote,
    mut file: impl Read + Send + 'static,
    size: u64,
    request: ImportRequest,
    terminal: bool,
) -> Result<pb::ImportJob, String> {
    let channel = remote.connect().await?;
    let mut client = ImportServiceClient::new(channel);
    let (sender, receiver) = tokio::sync::mpsc::channel::<pb::ImportContactsRequest>(4);
    let options = pb::ImportContactsRequest {
        part: Some(pb::import_contacts_request::Part::Options(request.options)),
    };
    let reading = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let send = |message| {
            sender
                .blocking_send(message)
                .map_err(|_| "the server stopped taking the file".to_owned())
        };
        send(options)?;
        let mut progress = Progress::new("upload", "bytes", size, terminal);
        let mut sent = 0u64;
        let mut buffer = vec![0; CHUNK];
        loop {
            let read = file
                .read(&mut buffer)
                .map_err(|error| format!("cannot read the file: {error}"))?;
            if read == 0 {
                break;
            }
            send(pb::ImportContactsRequest {
                part: Some(pb::import_contacts_request::Part::Csv(
                    buffer[..read].to_vec(),
                )),
            })?;
            sent += read as u64;
            progress.set(sent);
        }
        progress.finish(sent);
        Ok(())
    });
    let uploaded = client
        .import_contacts(remote.request(tokio_stream::wrappers::ReceiverStream::new(receiver))?)
        .await;
    let read = reading
        .await
        .map_err(|error| format!("the upload stopped: {error}"))?;
    let job = match uploaded {
        Ok(job) => job.into_inner(),
        Err(status) => return Err(format!("import refused: {}", status.message())),
    };
    read?;
    if request.no_wait {
        return Ok(job);
    }
    let mut watch = client
        .watch_import_job(remote.request(pb::WatchImportJobRequest { id: job.id.clone() })?)
        .await
        .map_err(|status| format!("cannot watch import {}: {}", job.id, status.message()))?
        .into_inner();
    let total = u64::try_from(job.rows_total).unwrap_or(0);
    let mut progress = Progress::new("import", "rows", total, terminal);
    let mut last = job;
    loop {
        match watch.message().await {
            Ok(Some(job)) => {
                progress.set(u64::try_from(job.rows_processed).unwrap_or(0));
                last = job;
            }
            Ok(None) => break,
            Err(status) => {
                return Err(format!("watching import {}: {}", last.id, status.message()));
            }
        }
    }
    progress.finish(u64::try_from(last.rows_processed).unwrap_or(0));
    if let Some(path) = &request.errors
        && last.invalid > 0
    {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|error| format!("cannot create {}: {error}", path.display()))?,
        );
        let mut errors = client
            .get_import_errors(remote.request(pb::GetImportErrorsRequest {
                id: last.id.clone(),
            })?)
            .await
            .map_err(|status| format!("cannot read the refused rows: {}", status.message()))?
            .into_inner();
        while let Some(chunk) = errors
            .message()
            .await
            .map_err(|status| format!("reading the refused rows: {}", status.message()))?
        {
            out.write_all(&chunk.csv)
                .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        }
        out.flush()
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    }
    Ok(last)
}
