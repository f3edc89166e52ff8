//! Adapters for the domain's `BlobStore` port, where attachment bytes live:
//!
//! - [`FsBlobStore`], the default: a directory (under the data directory),
//!   content-addressed, each upload written to a temporary name and renamed
//!   into place;
//! - [`ObjectBlobStore`]: an S3-compatible object store through the
//!   `object_store` crate, for deployments with several servers.
//!
//! [`open`] picks one from the configured location.

use std::sync::Arc;

use crm_domain::DomainError;
use crm_domain::attachments::BlobKey;
use crm_domain::attachments::BlobStore;

mod fs;
mod object;

pub use fs::FsBlobStore;
pub use object::ObjectBlobStore;
pub use object_store;

/// Largest chunk a reader returns: 64 KiB, well inside gRPC's message limit.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Why a blob store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BlobConfigError {
    /// The directory could not be created.
    #[error("cannot create the attachment directory {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The object store's configuration was refused.
    #[error("cannot configure the object store {url}: {source}")]
    ObjectStore {
        /// The configured location.
        url: String,
        /// What `object_store` said.
        source: object_store::Error,
    },
    /// The location is none of the supported forms.
    #[error(
        "unsupported attachment store {0:?}: use a directory, file://PATH, s3://BUCKET[/PREFIX] or memory://"
    )]
    Unsupported(String),
}

/// Opens the blob store at `location`:
///
/// - a directory path or `file://PATH`: [`FsBlobStore`] (created if missing);
/// - `s3://BUCKET[/PREFIX]`: [`ObjectBlobStore`] on S3 or an S3-compatible
///   server, configured from the standard `AWS_*` environment variables
///   (`AWS_ENDPOINT` and `AWS_ALLOW_HTTP` for MinIO and the like,
///   `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`);
/// - `memory://`: an in-process object store, lost at exit (for trials).
///
/// # Errors
/// [`BlobConfigError`] when the location is unsupported or unusable.
pub fn open(location: &str) -> Result<Arc<dyn BlobStore>, BlobConfigError> {
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(BlobConfigError::Unsupported(location.to_owned()));
        }
        // reqwest is built without a default TLS provider (ring is ours);
        // installing twice is harmless, so the outcome is ignored.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|source| BlobConfigError::ObjectStore {
                url: location.to_owned(),
                source,
            })?;
        return Ok(Arc::new(ObjectBlobStore::new(Arc::new(store), prefix)));
    }
    if location == "memory://" {
        return Ok(Arc::new(ObjectBlobStore::new(
            Arc::new(object_store::memory::InMemory::new()),
            "",
        )));
    }
    if location.contains("://") && !location.starts_with("file://") {
        return Err(BlobConfigError::Unsupported(location.to_owned()));
    }
    let path = location.trim_start_matches("file://");
    if path.is_empty() {
        return Err(BlobConfigError::Unsupported(location.to_owned()));
    }
    FsBlobStore::open(path)
        .map(|store| Arc::new(store) as Arc<dyn BlobStore>)
        .map_err(|source| BlobConfigError::Directory {
            path: path.to_owned(),
            source,
        })
}

/// The error for bytes a record points at but the store does not have.
fn missing(key: &BlobKey) -> DomainError {
    tracing::error!(key = %key.path(), "attachment bytes are missing from the blob store");
    DomainError::Internal("the attachment's bytes are missing".to_owned())
}

/// The error for a store that failed an operation; the cause is logged.
fn unavailable(action: &str, error: &dyn std::fmt::Display) -> DomainError {
    tracing::warn!(%error, "blob store: cannot {action}");
    DomainError::Unavailable
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn locations_pick_an_adapter_or_say_why_not() {
        let directory = std::env::temp_dir().join(format!("crm-blob-{}", uuid::Uuid::new_v4()));
        let location = format!("file://{}", directory.display());
        assert!(open(&location).is_ok());
        assert!(directory.join("staging").is_dir());
        std::fs::remove_dir_all(&directory).unwrap();
        assert!(open("memory://").is_ok());
        assert!(matches!(
            open("ftp://files"),
            Err(BlobConfigError::Unsupported(_))
        ));
        assert!(matches!(
            open("s3://"),
            Err(BlobConfigError::Unsupported(_))
        ));
        // A bucket with every setting from the environment builds without
        // contacting anything.
        assert!(open("s3://attachments/crm").is_ok());
    }
}
