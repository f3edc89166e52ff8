//! An attachment's record and its metadata rules: file name, media type,
//! size and SHA-256 checksum; the bytes are the blob store's (see `service.rs`).

use std::fmt;

use sha2::Digest;
use time::OffsetDateTime;

use crate::kernel::RecordRef;
use crate::kernel::{AttachmentId, TenantId};
use crate::kernel::{DomainError, FieldViolation};

/// The largest attachment when the operator configures none: 25 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 25 * 1024 * 1024;

/// The largest chunk of an upload, in bytes: 3 MiB, so a chunk and its
/// framing fit well inside gRPC's default message limit of 4 MiB, which
/// the server keeps (a 4 MiB chunk would exceed it).
pub const MAX_CHUNK_BYTES: usize = 3 * 1024 * 1024;

/// Longest file name, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// Longest content type, in characters.
pub const MAX_CONTENT_TYPE_CHARS: usize = 127;

/// Longest uploader, in characters.
pub const MAX_UPLOADED_BY_CHARS: usize = 200;

/// The content type of a file whose type the caller does not give.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    /// Wraps the 32 digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(sha2::Sha256::digest(data).into())
    }

    /// The 32 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex digits (either case); `None` otherwise.
    pub fn parse_hex(text: &str) -> Option<Self> {
        let text = text.as_bytes();
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let digit = |c: u8| char::from(c).to_digit(16);
            *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
        }
        Some(Self(bytes))
    }

    /// The 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        use fmt::Write;
        self.0.iter().fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.to_hex())
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Where one tenant's copy of some bytes is stored: content-addressed, and
/// scoped to the tenant so no two tenants ever share (or can reach) a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobKey {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The bytes' SHA-256.
    pub sha256: Sha256,
}

impl BlobKey {
    /// The key as a relative path: `TENANT/AB/ABCDEF...` (the first two hex
    /// digits fan the blobs out over 256 directories).
    pub fn path(&self) -> String {
        let hex = self.sha256.to_hex();
        format!("{}/{}/{hex}", self.tenant_id, &hex[..2])
    }
}

/// What a caller says about a file before sending it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewAttachment {
    /// The file's name, without directories.
    pub file_name: String,
    /// Its media type (`type/subtype`); empty means `application/octet-stream`.
    pub content_type: String,
    /// How many bytes will follow.
    pub size: u64,
    /// The SHA-256 the caller computed, checked against the bytes if given.
    pub sha256: Option<Sha256>,
    /// Who uploads it (an agent id or name); may be empty.
    pub uploaded_by: String,
}

/// A stored attachment's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its id (UUIDv7: newer attachments have greater ids).
    pub id: AttachmentId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The record it is on.
    pub owner: RecordRef,
    /// The file's name.
    pub file_name: String,
    /// Its media type, lower-cased.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, computed by the server while they streamed.
    pub sha256: Sha256,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When it was stored.
    pub create_time: OffsetDateTime,
}

impl Attachment {
    /// Where its bytes are.
    pub fn blob_key(&self) -> BlobKey {
        BlobKey {
            tenant_id: self.tenant_id,
            sha256: self.sha256,
        }
    }
}

/// Validates and normalises what a caller says about a file, against the
/// size limit.
///
/// # Errors
/// `TooLarge` when the declared size is over `max_bytes`; otherwise
/// `InvalidArgument` listing every bad field.
pub fn validate(meta: NewAttachment, max_bytes: u64) -> Result<NewAttachment, DomainError> {
    if meta.size > max_bytes {
        return Err(DomainError::TooLarge {
            field: "metadata.size".to_owned(),
            limit: max_bytes,
        });
    }
    let mut violations = Vec::new();
    let file_name = meta.file_name.trim().to_owned();
    if file_name.is_empty()
        || file_name.chars().count() > MAX_FILE_NAME_CHARS
        || file_name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
        || file_name == "."
        || file_name == ".."
    {
        violations.push(FieldViolation::new(
            "metadata.file_name",
            format!(
                "must be 1 to {MAX_FILE_NAME_CHARS} characters, without directories or control characters"
            ),
        ));
    }
    let content_type = match meta.content_type.trim() {
        "" => DEFAULT_CONTENT_TYPE.to_owned(),
        given => given.to_ascii_lowercase(),
    };
    if !is_media_type(&content_type) {
        violations.push(FieldViolation::new(
            "metadata.content_type",
            format!(
                "must be a media type such as text/plain, at most {MAX_CONTENT_TYPE_CHARS} characters"
            ),
        ));
    }
    let uploaded_by = meta.uploaded_by.trim().to_owned();
    if uploaded_by.chars().count() > MAX_UPLOADED_BY_CHARS
        || uploaded_by.chars().any(char::is_control)
    {
        violations.push(FieldViolation::new(
            "metadata.uploaded_by",
            format!(
                "must be at most {MAX_UPLOADED_BY_CHARS} characters without control characters"
            ),
        ));
    }
    if violations.is_empty() {
        Ok(NewAttachment {
            file_name,
            content_type,
            uploaded_by,
            ..meta
        })
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

/// `type/subtype`, each an RFC 6838 restricted name, optionally followed by
/// `;` parameters in printable ASCII.
fn is_media_type(text: &str) -> bool {
    let restricted = |name: &str| {
        !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let (essence, parameters) = text.split_once(';').unwrap_or((text, ""));
    text.len() <= MAX_CONTENT_TYPE_CHARS
        && essence
            .trim_end()
            .split_once('/')
            .is_some_and(|(kind, subtype)| restricted(kind) && restricted(subtype))
        && parameters.bytes().all(|b| (0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn meta(size: u64) -> NewAttachment {
        NewAttachment {
            file_name: " contract.pdf ".into(),
            content_type: "Application/PDF".into(),
            size,
            ..NewAttachment::default()
        }
    }

    #[test]
    fn metadata_is_normalised_and_checked() {
        let ok = validate(meta(10), 100).unwrap();
        assert_eq!(ok.file_name, "contract.pdf");
        assert_eq!(ok.content_type, "application/pdf");
        let untyped = validate(
            NewAttachment {
                content_type: String::new(),
                ..meta(1)
            },
            100,
        )
        .unwrap();
        assert_eq!(untyped.content_type, DEFAULT_CONTENT_TYPE);
        assert_eq!(
            validate(meta(101), 100),
            Err(DomainError::TooLarge {
                field: "metadata.size".into(),
                limit: 100
            })
        );
        let DomainError::InvalidArgument(violations) = validate(
            NewAttachment {
                file_name: "../etc/passwd".into(),
                content_type: "pdf".into(),
                uploaded_by: "a\u{7}".into(),
                ..meta(1)
            },
            100,
        )
        .unwrap_err() else {
            panic!("expected invalid argument");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            paths,
            [
                "metadata.file_name",
                "metadata.content_type",
                "metadata.uploaded_by"
            ]
        );
        assert!(is_media_type("text/plain; charset=utf-8"));
        assert!(is_media_type(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        ));
        assert!(!is_media_type("text/"));
        assert!(!is_media_type("text plain/x"));
    }

    #[test]
    fn digests_round_trip_through_hex() {
        let digest = Sha256::of(b"abc");
        assert_eq!(
            digest.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Sha256::parse_hex(&digest.to_hex().to_uppercase()),
            Some(digest)
        );
        assert_eq!(Sha256::parse_hex("ba78"), None);
        assert_eq!(Sha256::parse_hex(&"g".repeat(64)), None);
        let key = BlobKey {
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            sha256: digest,
        };
        assert_eq!(
            key.path(),
            format!(
                "00000000-0000-0000-0000-000000000000/ba/{}",
                digest.to_hex()
            )
        );
    }
}
