//! `crm.v1.AttachmentService`: authenticates the caller, reads the upload
//! stream into the attachment use case a chunk at a time, streams downloads
//! back a chunk at a time, and converts records. No rules live here.

use crm_domain::kernel;
use std::sync::Arc;

use crm_domain::attachments::BlobReader;
use crm_domain::attachments::{Attachment, AttachmentService, NewAttachment, Sha256};
use crm_domain::kernel::RecordRef;
use crm_domain::{AttachmentId, DomainError};
use crm_proto::v1 as pb;
use crm_proto::v1::attachment_service_server::AttachmentService as AttachmentRpc;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::Authenticator;
use crate::convert::timestamp;
use crate::note_service::owner_of;
use crate::page_token;
use crate::status::to_status;

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

fn attachment_id(text: &str, field: &str) -> Result<AttachmentId, Status> {
    if text.is_empty() {
        return Err(to_status(DomainError::invalid(field, "is required")));
    }
    AttachmentId::parse(text).ok_or_else(|| {
        to_status(DomainError::invalid(
            field,
            "is not an attachment id (a UUID)",
        ))
    })
}

fn to_proto(attachment: &Attachment) -> pb::Attachment {
    let Attachment {
        id,
        tenant_id: _,
        owner,
        file_name,
        content_type,
        size,
        sha256,
        uploaded_by,
        create_time,
    } = attachment;
    pb::Attachment {
        id: id.to_string(),
        owner: Some(match owner {
            RecordRef::Contact(id) => pb::attachment::Owner::ContactId(id.to_string()),
            RecordRef::Organization(id) => pb::attachment::Owner::OrganizationId(id.to_string()),
        }),
        file_name: file_name.clone(),
        content_type: content_type.clone(),
        size: *size,
        sha256: sha256.to_hex(),
        uploaded_by: uploaded_by.clone(),
        create_time: Some(timestamp(*create_time)),
    }
}

fn metadata_from(metadata: pb::AttachmentMetadata) -> Result<(RecordRef, NewAttachment), Status> {
    let pb::AttachmentMetadata {
        owner,
        file_name,
        content_type,
        size,
        sha256,
        uploaded_by,
    } = metadata;
    let owner = match &owner {
        Some(pb::attachment_metadata::Owner::ContactId(id)) => {
            owner_of(Some(id), None, "metadata.")?
        }
        Some(pb::attachment_metadata::Owner::OrganizationId(id)) => {
            owner_of(None, Some(id), "metadata.")?
        }
        None => owner_of(None, None, "metadata.")?,
    };
    let sha256 = match sha256.trim() {
        "" => None,
        hex => Some(Sha256::parse_hex(hex).ok_or_else(|| {
            to_status(DomainError::invalid(
                "metadata.sha256",
                "must be 64 hex digits",
            ))
        })?),
    };
    Ok((
        owner,
        NewAttachment {
            file_name,
            content_type,
            size,
            sha256,
            uploaded_by,
        },
    ))
}

fn owner_scope(owner: RecordRef) -> String {
    match owner {
        RecordRef::Contact(id) => format!("attachments:contact:{id}"),
        RecordRef::Organization(id) => format!("attachments:organization:{id}"),
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

#[tonic::async_trait]
impl AttachmentRpc for AttachmentApi {
    async fn upload_attachment(
        &self,
        request: Request<Streaming<pb::UploadAttachmentRequest>>,
    ) -> Result<Response<pb::Attachment>, Status> {
        use pb::upload_attachment_request::Part;
        let caller = self.auth.authenticate(&request).await?;
        let mut stream = request.into_inner();
        let metadata = match stream.message().await? {
            Some(pb::UploadAttachmentRequest {
                part: Some(Part::Metadata(metadata)),
            }) => metadata,
            _ => {
                return Err(to_status(DomainError::invalid(
                    "metadata",
                    "must be the first message of the stream",
                )));
            }
        };
        let (owner, meta) = metadata_from(metadata)?;
        let mut upload = self
            .attachments
            .begin(&caller, owner, meta)
            .await
            .map_err(to_status)?;
        loop {
            let failure = match stream.message().await {
                Ok(Some(pb::UploadAttachmentRequest {
                    part: Some(Part::Chunk(chunk)),
                })) => match upload.write(&chunk).await {
                    Ok(()) => continue,
                    Err(error) => to_status(error),
                },
                Ok(Some(pb::UploadAttachmentRequest { part })) => to_status(DomainError::invalid(
                    if part.is_some() { "metadata" } else { "part" },
                    if part.is_some() {
                        "must be sent once, in the first message"
                    } else {
                        "set chunk"
                    },
                )),
                Ok(None) => break,
                // The caller cancelled or the connection broke.
                Err(status) => {
                    tracing::info!(received = upload.received(), %status, "upload cut off");
                    status
                }
            };
            upload.abort().await;
            return Err(failure);
        }
        let stored = upload.finish().await.map_err(to_status)?;
        Ok(Response::new(to_proto(&stored)))
    }

    type DownloadAttachmentStream = BoxStream<pb::DownloadAttachmentResponse>;

    async fn download_attachment(
        &self,
        request: Request<pb::DownloadAttachmentRequest>,
    ) -> Result<Response<Self::DownloadAttachmentStream>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::DownloadAttachmentRequest { id } = request.into_inner();
        let (attachment, reader) = self
            .attachments
            .open(&caller, attachment_id(&id, "id")?)
            .await
            .map_err(to_status)?;
        let stream = futures_util::stream::unfold(
            Download::Start(Box::new(attachment), reader),
            Download::step,
        );
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_attachment(
        &self,
        request: Request<pb::GetAttachmentRequest>,
    ) -> Result<Response<pb::Attachment>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::GetAttachmentRequest { id } = request.into_inner();
        let found = self
            .attachments
            .get(&caller, attachment_id(&id, "id")?)
            .await
            .map_err(to_status)?;
        Ok(Response::new(to_proto(&found)))
    }

    async fn list_attachments(
        &self,
        request: Request<pb::ListAttachmentsRequest>,
    ) -> Result<Response<pb::ListAttachmentsResponse>, Status> {
        use pb::list_attachments_request::Owner;
        let caller = self.auth.authenticate(&request).await?;
        let pb::ListAttachmentsRequest {
            owner,
            page_size,
            page_token,
        } = request.into_inner();
        let owner = match &owner {
            Some(Owner::ContactId(id)) => owner_of(Some(id), None, "")?,
            Some(Owner::OrganizationId(id)) => owner_of(None, Some(id), "")?,
            None => owner_of(None, None, "")?,
        };
        let size = kernel::page_size(page_size).map_err(to_status)?;
        let scope = owner_scope(owner);
        let after = page_token::decode(&page_token, &scope)
            .map_err(to_status)?
            .map(AttachmentId::from_uuid);
        let page = self
            .attachments
            .list(&caller, owner, after, size)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListAttachmentsResponse {
            attachments: page.items.iter().map(to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| page_token::encode(last.as_uuid(), &scope))
                .unwrap_or_default(),
        }))
    }

    async fn delete_attachment(
        &self,
        request: Request<pb::DeleteAttachmentRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::DeleteAttachmentRequest { id } = request.into_inner();
        self.attachments
            .delete(&caller, attachment_id(&id, "id")?)
            .await
            .map_err(to_status)?;
        Ok(Response::new(()))
    }
}
