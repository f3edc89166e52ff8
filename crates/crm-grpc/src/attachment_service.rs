//! `crm.v1.AttachmentService`: authenticates the caller, reads the upload
//! stream into the attachment use case a chunk at a time, streams downloads
//! back a chunk at a time, and converts records. No rules live here.

use crm_domain::kernel;
use crm_domain::tenancy::Caller;
use std::sync::Arc;

use crm_domain::attachments::BlobReader;
use crm_domain::attachments::{Attachment, AttachmentService};
use crm_domain::{AttachmentId, DomainError};
use crm_proto::v1 as pb;
use crm_proto::v1::attachment_service_server::AttachmentService as AttachmentRpc;
use tonic::codegen::BoxStream;
use tonic::{Status, Streaming};

use crate::auth::Authenticator;
use crate::convert::attachment::{metadata_from, owner_scope, to_proto};
use crate::convert::note::owner_of;
use crate::convert::{self};
use crate::status::{ApiError, to_status};
use crate::token;

/// The gRPC face of the attachment use cases.
#[derive(Debug, Clone)]
pub struct AttachmentApi {
    attachments: AttachmentService,
    auth: Arc<Authenticator>,
}

impl AttachmentApi {
    /// Serves `attachments` to callers `auth` recognises.
    pub fn new(attachments: AttachmentService, auth: Arc<Authenticator>) -> Self {
        Self { attachments, auth }
    }
}
/// Where a download stream is.
enum Download {
    /// The record is still to be sent.
    Start(Box<Attachment>, Box<dyn BlobReader>),
    /// Chunks are being sent.
    Bytes(Box<dyn BlobReader>),
    /// The stream has ended (or failed).
    Done,
}

impl Download {
    async fn step(self) -> Option<(Result<pb::DownloadAttachmentResponse, Status>, Download)> {
        use pb::download_attachment_response::Part;
        let message = |part| pb::DownloadAttachmentResponse { part: Some(part) };
        match self {
            Download::Start(attachment, reader) => Some((
                Ok(message(Part::Attachment(to_proto(&attachment)))),
                Download::Bytes(reader),
            )),
            Download::Bytes(mut reader) => match reader.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(message(Part::Chunk(chunk))), Download::Bytes(reader))),
                Ok(None) => None,
                Err(error) => Some((Err(to_status(error)), Download::Done)),
            },
            Download::Done => None,
        }
    }
}

/// The bodies of the RPCs: each takes the authenticated caller and the
/// request message and returns a domain result; [`crate::serve!`] does the rest.
impl AttachmentApi {
    async fn upload_attachment(
        &self,
        caller: Caller,
        request: Streaming<pb::UploadAttachmentRequest>,
    ) -> Result<pb::Attachment, ApiError> {
        use pb::upload_attachment_request::Part;
        let mut stream = request;
        let metadata = match stream.message().await? {
            Some(pb::UploadAttachmentRequest {
                part: Some(Part::Metadata(metadata)),
            }) => metadata,
            _ => {
                return Err(DomainError::invalid(
                    "metadata",
                    "must be the first message of the stream",
                )
                .into());
            }
        };
        let (owner, meta) = metadata_from(metadata)?;
        let mut upload = self.attachments.begin(&caller, owner, meta).await?;
        loop {
            let failure = match stream.message().await {
                Ok(Some(pb::UploadAttachmentRequest {
                    part: Some(Part::Chunk(chunk)),
                })) => match upload.write(&chunk).await {
                    Ok(()) => continue,
                    Err(error) => ApiError::Domain(error),
                },
                Ok(Some(pb::UploadAttachmentRequest { part })) => {
                    ApiError::Domain(DomainError::invalid(
                        if part.is_some() { "metadata" } else { "part" },
                        if part.is_some() {
                            "must be sent once, in the first message"
                        } else {
                            "set chunk"
                        },
                    ))
                }
                Ok(None) => break,
                // The caller cancelled or the connection broke.
                Err(status) => {
                    tracing::info!(received = upload.received(), %status, "upload cut off");
                    ApiError::Transport(status)
                }
            };
            upload.abort().await;
            return Err(failure);
        }
        let stored = upload.finish().await?;
        Ok(to_proto(&stored))
    }

    async fn download_attachment(
        &self,
        caller: Caller,
        request: pb::DownloadAttachmentRequest,
    ) -> Result<BoxStream<pb::DownloadAttachmentResponse>, DomainError> {
        let pb::DownloadAttachmentRequest { id } = request;
        let (attachment, reader) = self
            .attachments
            .open(&caller, convert::id::<AttachmentId>(&id, "id")?)
            .await?;
        let stream = futures_util::stream::unfold(
            Download::Start(Box::new(attachment), reader),
            Download::step,
        );
        Ok(Box::pin(stream))
    }

    async fn get_attachment(
        &self,
        caller: Caller,
        request: pb::GetAttachmentRequest,
    ) -> Result<pb::Attachment, DomainError> {
        let pb::GetAttachmentRequest { id } = request;
        let found = self
            .attachments
            .get(&caller, convert::id::<AttachmentId>(&id, "id")?)
            .await?;
        Ok(to_proto(&found))
    }

    async fn list_attachments(
        &self,
        caller: Caller,
        request: pb::ListAttachmentsRequest,
    ) -> Result<pb::ListAttachmentsResponse, DomainError> {
        use pb::list_attachments_request::Owner;
        let pb::ListAttachmentsRequest {
            owner,
            page_size,
            page_token,
        } = request;
        let owner = match &owner {
            Some(Owner::ContactId(id)) => owner_of(Some(id), None, "")?,
            Some(Owner::OrganizationId(id)) => owner_of(None, Some(id), "")?,
            None => owner_of(None, None, "")?,
        };
        let size = kernel::page_size(page_size)?;
        let scope = owner_scope(owner);
        let after = token::page_after(&page_token, &scope)?.map(AttachmentId::from_uuid);
        let page = self.attachments.list(&caller, owner, after, size).await?;
        Ok(pb::ListAttachmentsResponse {
            attachments: page.items.iter().map(to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| token::page(last.as_uuid(), &scope))
                .unwrap_or_default(),
        })
    }

    async fn delete_attachment(
        &self,
        caller: Caller,
        request: pb::DeleteAttachmentRequest,
    ) -> Result<(), DomainError> {
        let pb::DeleteAttachmentRequest { id } = request;
        self.attachments
            .delete(&caller, convert::id::<AttachmentId>(&id, "id")?)
            .await?;
        Ok(())
    }
}

crate::serve! {
    impl AttachmentRpc for AttachmentApi {
        upload_attachment(Streaming<pb::UploadAttachmentRequest>) -> pb::Attachment;
        download_attachment(pb::DownloadAttachmentRequest) -> Self::DownloadAttachmentStream;
        get_attachment(pb::GetAttachmentRequest) -> pb::Attachment;
        list_attachments(pb::ListAttachmentsRequest) -> pb::ListAttachmentsResponse;
        delete_attachment(pb::DeleteAttachmentRequest) -> ();
    }
    type DownloadAttachmentStream = BoxStream<pb::DownloadAttachmentResponse>;
}
