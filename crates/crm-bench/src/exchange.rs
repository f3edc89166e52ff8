//! The exchange cases: exporting the whole seeded tenant as CSV, then
//! importing a file as large as the seed, upserting by email (every other
//! row updates a seeded contact, the rest create new ones, each with a
//! custom value and a tag). Throughput is rows over the server's own time
//! (the export's stream, the job's start to end); the peak resident memory
//! of each is read from VmHWM, reset before it.

use std::time::{Duration, Instant};

use crm_proto::v1 as pb;
use crm_proto::v1::export_service_client::ExportServiceClient;
use crm_proto::v1::import_service_client::ImportServiceClient;

use crate::files::request;
use crate::load;
use crate::server::Crmd;

/// Bytes per upload message.
const CHUNK: usize = 1 << 20;

/// What one exchange case measured.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Rows moved.
    pub rows: u64,
    /// The server's time for them.
    pub elapsed: Duration,
    /// The upload's time (imports only).
    pub upload: Duration,
    /// The server's peak resident memory during the case, KiB.
    pub peak_kib: u64,
    /// What the rows did (imports only): created, updated, unchanged,
    /// duplicates, invalid.
    pub outcome: [i64; 5],
}

impl Exchange {
    /// Rows per second.
    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(0.001)
    }
}

/// Exports every contact, reading the stream as fast as it comes.
pub async fn export(crmd: &Crmd, key: &str) -> Result<Exchange, String> {
    let channel = load::channel(&crmd.endpoint).await?;
    crmd.reset_peak_rss();
    let started = Instant::now();
    let mut stream = ExportServiceClient::new(channel)
        .max_decoding_message_size(64 << 20)
        .export_contacts(request(pb::ExportContactsRequest::default(), key)?)
        .await
        .map_err(|status| format!("export: {}", status.message()))?
        .into_inner();
    let mut rows = 0;
    while let Some(chunk) = stream
        .message()
        .await
        .map_err(|status| format!("export: {}", status.message()))?
    {
        rows = u64::try_from(chunk.rows_written).unwrap_or(rows);
    }
    Ok(Exchange {
        rows,
        elapsed: started.elapsed(),
        upload: Duration::ZERO,
        peak_kib: crmd.peak_rss_kib(),
        outcome: [0; 5],
    })
}

/// The import file: `rows` rows of email, name, city, plan and tags.
fn file(rows: usize) -> Vec<u8> {
    let mut text = String::with_capacity(rows * 80);
    text.push_str("email,display_name,city,Plan,tags\n");
    for row in 0..rows {
        let email = if row % 2 == 0 {
            format!("user{row}@bench.example")
        } else {
            format!("import{row}@bench.example")
        };
        let plan = ["free", "pro", "team"][row % 3];
        text.push_str(&format!(
            "{email},Imported {row},City {},{plan},imported;batch-{}\n",
            row % 97,
            row % 10
        ));
    }
    text.into_bytes()
}

/// Imports a file of `rows` rows and follows the job to its end.
pub async fn import(crmd: &Crmd, key: &str, rows: usize) -> Result<Exchange, String> {
    let bytes = file(rows);
    let channel = load::channel(&crmd.endpoint).await?;
    let mut client = ImportServiceClient::new(channel);
    crmd.reset_peak_rss();
    let options = pb::ImportContactsRequest {
        part: Some(pb::import_contacts_request::Part::Options(
            pb::ImportOptions {
                file_name: "bench.csv".into(),
                ..Default::default()
            },
        )),
    };
    let messages: Vec<pb::ImportContactsRequest> = std::iter::once(options)
        .chain(bytes.chunks(CHUNK).map(|chunk| pb::ImportContactsRequest {
            part: Some(pb::import_contacts_request::Part::Csv(chunk.to_vec())),
        }))
        .collect();
    drop(bytes);
    let started = Instant::now();
    let job = client
        .import_contacts(request(tokio_stream::iter(messages), key)?)
        .await
        .map_err(|status| format!("import: {}", status.message()))?
        .into_inner();
    let upload = started.elapsed();
    let mut watch = client
        .watch_import_job(request(
            pb::WatchImportJobRequest { id: job.id.clone() },
            key,
        )?)
        .await
        .map_err(|status| format!("watch: {}", status.message()))?
        .into_inner();
    let mut last = job;
    while let Some(job) = watch
        .message()
        .await
        .map_err(|status| format!("watch: {}", status.message()))?
    {
        last = job;
    }
    if last.state != pb::ImportJobState::Succeeded as i32 {
        return Err(format!("import ended {:?}: {}", last.state, last.error));
    }
    let seconds = |time: &Option<prost_types::Timestamp>| {
        time.as_ref()
            .map(|time| time.seconds as f64 + f64::from(time.nanos) / 1e9)
            .unwrap_or_default()
    };
    let elapsed = (seconds(&last.end_time) - seconds(&last.start_time)).max(0.001);
    Ok(Exchange {
        rows: u64::try_from(last.rows_processed).unwrap_or(0),
        elapsed: Duration::from_secs_f64(elapsed),
        upload,
        peak_kib: crmd.peak_rss_kib(),
        outcome: [
            last.created,
            last.updated,
            last.unchanged,
            last.duplicates,
            last.invalid,
        ],
    })
}
