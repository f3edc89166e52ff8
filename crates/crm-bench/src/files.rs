//! The file case: one 100 MiB attachment uploaded in 1 MiB chunks and
//! downloaded again through a `crmd` of its own (the filesystem blob store,
//! the limit raised to fit), so its peak memory belongs to the transfer
//! alone. The peak is read from VmHWM, reset through /proc/PID/clear_refs
//! before each direction.

use std::time::{Duration, Instant};

use crm_proto::v1 as pb;
use crm_proto::v1::attachment_service_client::AttachmentServiceClient;
use crm_proto::v1::contact_service_client::ContactServiceClient;
use sha2::Digest;
use tokio_stream::StreamExt;

use crate::server::Crmd;

/// The file's size.
pub const FILE_MIB: usize = 100;
const CHUNK: usize = 1024 * 1024;

/// What moving the file measured.
#[derive(Debug, Clone, Copy)]
pub struct Transfer {
    /// Upload throughput, MiB/s.
    pub upload_mib_s: f64,
    /// Download throughput, MiB/s.
    pub download_mib_s: f64,
    /// The server's resident memory before the upload, KiB.
    pub idle_kib: u64,
    /// The server's peak resident memory during the upload, KiB.
    pub upload_peak_kib: u64,
    /// The server's peak resident memory during the download, KiB.
    pub download_peak_kib: u64,
}

/// Chunk `index` of the file: not compressible, and the same every time.
fn chunk(index: usize) -> Vec<u8> {
    let mut state = (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut bytes = Vec::with_capacity(CHUNK);
    while bytes.len() < CHUNK {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes
}

pub(crate) fn request<T>(message: T, key: &str) -> Result<tonic::Request<T>, String> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {key}")
            .parse()
            .map_err(|_| "bad key".to_owned())?,
    );
    Ok(request)
}

/// Starts a `crmd` for files on `database_url`, moves the file up and down,
/// checks it came back intact, and stops the server.
pub async fn drive(crmd_path: &str, database_url: &str, key: &str) -> Result<Transfer, String> {
    let store = std::env::temp_dir().join(format!("crm-bench-files-{}", uuid::Uuid::now_v7()));
    let limit = (FILE_MIB * CHUNK + CHUNK).to_string();
    let store_arg = store.display().to_string();
    let mut crmd = Crmd::start_with(
        crmd_path,
        database_url,
        &[
            "--attachment-store",
            &store_arg,
            "--max-attachment-bytes",
            &limit,
        ],
    )
    .await?;
    let outcome = transfer(&crmd, key).await;
    crmd.stop();
    let _ = std::fs::remove_dir_all(&store);
    outcome
}

async fn transfer(crmd: &Crmd, key: &str) -> Result<Transfer, String> {
    let channel = crate::load::channel(&crmd.endpoint).await?;
    let contact = ContactServiceClient::new(channel.clone())
        .create_contact(request(
            pb::CreateContactRequest {
                contact: Some(pb::Contact {
                    display_name: "File bench".into(),
                    emails: vec![pb::EmailAddress {
                        address: format!("files-{}@bench.example", uuid::Uuid::now_v7().simple()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            key,
        )?)
        .await
        .map_err(|status| format!("create contact: {status:?}"))?
        .into_inner();
    let expected = (0..FILE_MIB)
        .fold(sha2::Sha256::new(), |mut hasher, index| {
            hasher.update(chunk(index));
            hasher
        })
        .finalize();
    let expected: String = expected.iter().map(|b| format!("{b:02x}")).collect();
    let mut client =
        AttachmentServiceClient::new(channel).max_decoding_message_size(8 * 1024 * 1024);

    // Let the server settle, then measure from its idle footprint.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_kib = crmd.rss_kib();
    crmd.reset_peak_rss();
    let metadata = pb::UploadAttachmentRequest {
        part: Some(pb::upload_attachment_request::Part::Metadata(
            pb::AttachmentMetadata {
                owner: Some(pb::attachment_metadata::Owner::ContactId(contact.id)),
                file_name: "big.bin".into(),
                content_type: "application/octet-stream".into(),
                size: (FILE_MIB * CHUNK) as u64,
                ..Default::default()
            },
        )),
    };
    let chunks = (0..FILE_MIB).map(|index| pb::UploadAttachmentRequest {
        part: Some(pb::upload_attachment_request::Part::Chunk(chunk(index))),
    });
    let messages = tokio_stream::iter(std::iter::once(metadata).chain(chunks));
    let started = Instant::now();
    let stored = client
        .upload_attachment(request(messages, key)?)
        .await
        .map_err(|status| format!("upload: {status:?}"))?
        .into_inner();
    let upload_time = started.elapsed();
    let upload_peak_kib = crmd.peak_rss_kib();
    if stored.sha256 != expected {
        return Err(format!(
            "the server's checksum {} is not {expected}",
            stored.sha256
        ));
    }

    crmd.reset_peak_rss();
    let started = Instant::now();
    let mut stream = client
        .download_attachment(request(
            pb::DownloadAttachmentRequest { id: stored.id },
            key,
        )?)
        .await
        .map_err(|status| format!("download: {status:?}"))?
        .into_inner();
    let mut hasher = sha2::Sha256::new();
    let mut received = 0usize;
    while let Some(message) = stream.next().await {
        let message = message.map_err(|status| format!("download: {status:?}"))?;
        if let Some(pb::download_attachment_response::Part::Chunk(bytes)) = message.part {
            received += bytes.len();
            hasher.update(&bytes);
        }
    }
    let download_time = started.elapsed();
    let download_peak_kib = crmd.peak_rss_kib();
    let downloaded: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if received != FILE_MIB * CHUNK || downloaded != expected {
        return Err(format!(
            "downloaded {received} bytes with SHA-256 {downloaded}, not the file uploaded"
        ));
    }
    let mib_s = |time: Duration| FILE_MIB as f64 / time.as_secs_f64();
    Ok(Transfer {
        upload_mib_s: mib_s(upload_time),
        download_mib_s: mib_s(download_time),
        idle_kib,
        upload_peak_kib,
        download_peak_kib,
    })
}
