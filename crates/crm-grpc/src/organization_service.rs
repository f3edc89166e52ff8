//! `crm.v1.OrganizationService`: authenticates the caller, converts the
//! request, calls the organization use cases (and, for membership, the
//! contact use cases), converts the answer. No rules live here.

use crm_domain::kernel;
use std::sync::Arc;

use crm_domain::contacts::ContactFilter;
use crm_domain::contacts::ContactService;
use crm_domain::organizations::OrganizationService;
use crm_domain::{ContactId, DomainError, OrganizationId};
use crm_proto::v1 as pb;
use crm_proto::v1::organization_service_server::OrganizationService as OrganizationRpc;
use tonic::{Request, Response, Status};

use crate::auth::Authenticator;
use crate::convert::{self, contact, organization};
use crate::page_token;
use crate::status::to_status;

/// The gRPC face of the organization use cases.
#[derive(Debug, Clone)]
pub struct OrganizationApi {
    organizations: OrganizationService,
    contacts: ContactService,
    auth: Arc<Authenticator>,
}

impl OrganizationApi {
    /// Serves `organizations` (and memberships through `contacts`) to
    /// callers `auth` recognises.
    pub fn new(
        organizations: OrganizationService,
        contacts: ContactService,
        auth: Arc<Authenticator>,
    ) -> Self {
        Self {
            organizations,
            contacts,
            auth,
        }
    }
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, Status> {
    value.ok_or_else(|| to_status(DomainError::invalid(field, "is required")))
}

#[tonic::async_trait]
impl OrganizationRpc for OrganizationApi {
    async fn create_organization(
        &self,
        request: Request<pb::CreateOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::CreateOrganizationRequest {
            organization: given,
        } = request.into_inner();
        let draft = organization::draft(required(given, "organization")?).map_err(to_status)?;
        let created = self
            .organizations
            .create(&caller, draft)
            .await
            .map_err(to_status)?;
        Ok(Response::new(organization::to_proto(&created)))
    }

    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::GetOrganizationRequest { id } = request.into_inner();
        let id = organization::id(&id, "id").map_err(to_status)?;
        let found = self
            .organizations
            .get(&caller, id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(organization::to_proto(&found)))
    }

    async fn list_organizations(
        &self,
        request: Request<pb::ListOrganizationsRequest>,
    ) -> Result<Response<pb::ListOrganizationsResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::ListOrganizationsRequest {
            page_size,
            page_token,
        } = request.into_inner();
        let size = kernel::page_size(page_size).map_err(to_status)?;
        let scope = "organizations";
        let after = page_token::decode(&page_token, scope)
            .map_err(to_status)?
            .map(OrganizationId::from_uuid);
        let page = self
            .organizations
            .list(&caller, after, size)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListOrganizationsResponse {
            organizations: page.items.iter().map(organization::to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| page_token::encode(last.as_uuid(), scope))
                .unwrap_or_default(),
        }))
    }

    async fn update_organization(
        &self,
        request: Request<pb::UpdateOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::UpdateOrganizationRequest {
            organization: given,
            update_mask,
            etag,
        } = request.into_inner();
        let given = required(given, "organization")?;
        let id = organization::id(&given.id, "organization.id").map_err(to_status)?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        let patch = organization::patch(given, update_mask).map_err(to_status)?;
        let updated = self
            .organizations
            .update(&caller, id, patch, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(organization::to_proto(&updated)))
    }

    async fn delete_organization(
        &self,
        request: Request<pb::DeleteOrganizationRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::DeleteOrganizationRequest { id, etag } = request.into_inner();
        let id = organization::id(&id, "id").map_err(to_status)?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        self.organizations
            .delete(&caller, id, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(()))
    }

    async fn add_organization_member(
        &self,
        request: Request<pb::AddOrganizationMemberRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::AddOrganizationMemberRequest {
            organization_id,
            contact_id,
            etag,
        } = request.into_inner();
        let org = organization::id(&organization_id, "organization_id").map_err(to_status)?;
        let id = convert::contact_id(&contact_id, "contact_id").map_err(to_status)?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        let updated = self
            .contacts
            .join_organization(&caller, id, org, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(contact::to_proto(&updated)))
    }

    async fn remove_organization_member(
        &self,
        request: Request<pb::RemoveOrganizationMemberRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::RemoveOrganizationMemberRequest {
            organization_id,
            contact_id,
            etag,
        } = request.into_inner();
        let org = organization::id(&organization_id, "organization_id").map_err(to_status)?;
        let id = convert::contact_id(&contact_id, "contact_id").map_err(to_status)?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        let updated = self
            .contacts
            .leave_organization(&caller, id, org, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(contact::to_proto(&updated)))
    }

    async fn list_organization_members(
        &self,
        request: Request<pb::ListOrganizationMembersRequest>,
    ) -> Result<Response<pb::ListOrganizationMembersResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::ListOrganizationMembersRequest {
            organization_id,
            page_size,
            page_token,
        } = request.into_inner();
        let org = organization::id(&organization_id, "organization_id").map_err(to_status)?;
        let size = kernel::page_size(page_size).map_err(to_status)?;
        // An unknown organization is NOT_FOUND, not an empty list.
        self.organizations
            .get(&caller, org)
            .await
            .map_err(to_status)?;
        let scope = format!("members:{org}");
        let after = page_token::decode(&page_token, &scope)
            .map_err(to_status)?
            .map(ContactId::from_uuid);
        let filter = ContactFilter {
            organization: Some(org),
            ..ContactFilter::default()
        };
        let page = self
            .contacts
            .list(&caller, &filter, after, size)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListOrganizationMembersResponse {
            contacts: page.items.iter().map(contact::to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| page_token::encode(last.as_uuid(), &scope))
                .unwrap_or_default(),
        }))
    }
}
