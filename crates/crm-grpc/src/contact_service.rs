//! `crm.v1.ContactService`: authenticates the caller, converts the request,
//! calls the contact use case, converts the answer. No rules live here.

use crm_domain::contacts;
use crm_domain::kernel;
use std::sync::Arc;

use crm_domain::contacts::ContactFilter;
use crm_domain::contacts::ContactService;
use crm_domain::identity::IdentityInput;
use crm_domain::merge::MergeService;
use crm_domain::{ContactId, DomainError};
use crm_proto::v1 as pb;
use crm_proto::v1::contact_service_server::ContactService as ContactRpc;
use tonic::{Request, Response, Status};

use crate::auth::Authenticator;
use crate::convert::{self, contact};
use crate::page_token;
use crate::status::to_status;

/// The gRPC face of the contact use cases.
#[derive(Debug, Clone)]
pub struct ContactApi {
    contacts: ContactService,
    merges: MergeService,
    auth: Arc<Authenticator>,
}

impl ContactApi {
    /// Serves `contacts` to callers `auth` recognises; reads follow merges
    /// through `merges`.
    pub fn new(contacts: ContactService, merges: MergeService, auth: Arc<Authenticator>) -> Self {
        Self {
            contacts,
            merges,
            auth,
        }
    }
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, Status> {
    value.ok_or_else(|| to_status(crm_domain::DomainError::invalid(field, "is required")))
}

fn identity_input(identity: Option<pb::Identity>, primary: bool) -> Result<IdentityInput, Status> {
    let pb::Identity {
        kind,
        value,
        normalized_value: _,
    } = required(identity, "identity")?;
    let kind = contact::identity_kind(kind, "identity.kind").map_err(|violation| {
        to_status(crm_domain::DomainError::InvalidArgument(vec![violation]))
    })?;
    Ok(IdentityInput {
        kind,
        raw: value,
        primary,
        field: "identity.value".to_owned(),
    })
}

#[tonic::async_trait]
impl ContactRpc for ContactApi {
    async fn create_contact(
        &self,
        request: Request<pb::CreateContactRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::CreateContactRequest {
            contact,
            request_id,
        } = request.into_inner();
        let (draft, mut violations) = contact::draft(required(contact, "contact")?);
        if !violations.is_empty() {
            violations.extend(contacts::draft_violations(
                &draft,
                caller.tenant().default_region,
            ));
            return Err(to_status(DomainError::InvalidArgument(violations)));
        }
        let request_id = (!request_id.is_empty()).then_some(request_id);
        let created = self
            .contacts
            .create(&caller, draft, request_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(contact::to_proto(&created)))
    }

    async fn get_contact(
        &self,
        request: Request<pb::GetContactRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::GetContactRequest { id } = request.into_inner();
        let id = convert::contact_id(&id, "id").map_err(to_status)?;
        let found = self
            .merges
            .get_contact(&caller, id)
            .await
            .map_err(to_status)?;
        let mut reply = contact::to_proto(&found.contact);
        reply.redirected_from = found
            .redirected_from
            .map(|id| id.to_string())
            .unwrap_or_default();
        Ok(Response::new(reply))
    }

    async fn list_contacts(
        &self,
        request: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::ListContactsRequest {
            page_size,
            page_token,
            tag,
        } = request.into_inner();
        let size = kernel::page_size(page_size).map_err(to_status)?;
        let filter = ContactFilter {
            organization: None,
            tag: if tag.is_empty() {
                None
            } else {
                Some(
                    crm_domain::kernel::tag::normalize_tag(&tag)
                        .map_err(|problem| to_status(DomainError::invalid("tag", problem)))?,
                )
            },
        };
        let scope = filter
            .tag
            .as_ref()
            .map(|tag| format!("tag:{tag}"))
            .unwrap_or_default();
        let after = page_token::decode(&page_token, &scope)
            .map_err(to_status)?
            .map(ContactId::from_uuid);
        let page = self
            .contacts
            .list(&caller, &filter, after, size)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListContactsResponse {
            contacts: page.items.iter().map(contact::to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| page_token::encode(last.as_uuid(), &scope))
                .unwrap_or_default(),
        }))
    }

    async fn update_contact(
        &self,
        request: Request<pb::UpdateContactRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::UpdateContactRequest {
            contact: changes,
            update_mask,
            etag,
        } = request.into_inner();
        let changes = required(changes, "contact")?;
        let id = convert::contact_id(&changes.id, "contact.id").map_err(to_status)?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        let (patch, mut violations) = contact::patch(changes, update_mask).map_err(to_status)?;
        if !violations.is_empty() {
            violations.extend(contacts::patch_violations(
                &patch,
                caller.tenant().default_region,
            ));
            return Err(to_status(DomainError::InvalidArgument(violations)));
        }
        let updated = self
            .contacts
            .update(&caller, id, patch, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(contact::to_proto(&updated)))
    }

    async fn delete_contact(
        &self,
        request: Request<pb::DeleteContactRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::DeleteContactRequest { id, etag } = request.into_inner();
        let id = convert::contact_id(&id, "id").map_err(to_status)?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        self.contacts
            .delete(&caller, id, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(()))
    }

    async fn resolve_sender(
        &self,
        request: Request<pb::ResolveSenderRequest>,
    ) -> Result<Response<pb::ResolveSenderResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let input = contact::sender(request.into_inner()).map_err(to_status)?;
        let resolution = self
            .contacts
            .resolve_sender(&caller, input)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ResolveSenderResponse {
            contact: Some(contact::to_proto(&resolution.contact)),
            created: resolution.created,
            matched_by: contact::matched_by(resolution.matched_by) as i32,
        }))
    }

    async fn add_identity(
        &self,
        request: Request<pb::AddIdentityRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::AddIdentityRequest {
            contact_id,
            identity,
            primary,
            etag,
        } = request.into_inner();
        let id = convert::contact_id(&contact_id, "contact_id").map_err(to_status)?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        let input = identity_input(identity, primary)?;
        let updated = self
            .contacts
            .add_identity(&caller, id, input, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(contact::to_proto(&updated)))
    }

    async fn remove_identity(
        &self,
        request: Request<pb::RemoveIdentityRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::RemoveIdentityRequest {
            contact_id,
            identity,
            etag,
        } = request.into_inner();
        let id = convert::contact_id(&contact_id, "contact_id").map_err(to_status)?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        let input = identity_input(identity, false)?;
        let updated = self
            .contacts
            .remove_identity(&caller, id, input, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(contact::to_proto(&updated)))
    }

    async fn add_contact_tags(
        &self,
        request: Request<pb::AddContactTagsRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::AddContactTagsRequest {
            contact_id,
            tags,
            etag,
        } = request.into_inner();
        let id = convert::contact_id(&contact_id, "contact_id").map_err(to_status)?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        if tags.is_empty() {
            return Err(to_status(DomainError::invalid("tags", "is required")));
        }
        let updated = self
            .contacts
            .add_tags(&caller, id, &tags, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(contact::to_proto(&updated)))
    }

    async fn remove_contact_tags(
        &self,
        request: Request<pb::RemoveContactTagsRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::RemoveContactTagsRequest {
            contact_id,
            tags,
            etag,
        } = request.into_inner();
        let id = convert::contact_id(&contact_id, "contact_id").map_err(to_status)?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        if tags.is_empty() {
            return Err(to_status(DomainError::invalid("tags", "is required")));
        }
        let updated = self
            .contacts
            .remove_tags(&caller, id, &tags, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(contact::to_proto(&updated)))
    }
}
