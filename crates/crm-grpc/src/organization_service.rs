//! `crm.v1.OrganizationService`: authenticates the caller, converts the
//! request, calls the organization use cases (and, for membership, the
//! contact use cases), converts the answer. No rules live here.

use crm_domain::kernel;
use crm_domain::tenancy::Caller;
use std::sync::Arc;

use crm_domain::contacts::ContactFilter;
use crm_domain::contacts::ContactService;
use crm_domain::organizations::OrganizationService;
use crm_domain::{ContactId, DomainError, OrganizationId};
use crm_proto::v1 as pb;
use crm_proto::v1::organization_service_server::OrganizationService as OrganizationRpc;

use crate::auth::Authenticator;
use crate::convert::{self, contact, organization};
use crate::token;

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

/// The bodies of the RPCs: each takes the authenticated caller and the
/// request message and returns a domain result; [`crate::serve!`] does the rest.
impl OrganizationApi {
    async fn create_organization(
        &self,
        caller: Caller,
        request: pb::CreateOrganizationRequest,
    ) -> Result<pb::Organization, DomainError> {
        let pb::CreateOrganizationRequest {
            organization: given,
        } = request;
        let draft = organization::draft(convert::required(given, "organization")?)?;
        let created = self
            .organizations
            .create(&caller, draft)
            .await
            .map_err(|error| error.scoped("organization"))?;
        Ok(organization::to_proto(&created))
    }

    async fn get_organization(
        &self,
        caller: Caller,
        request: pb::GetOrganizationRequest,
    ) -> Result<pb::Organization, DomainError> {
        let pb::GetOrganizationRequest { id } = request;
        let id = convert::id::<OrganizationId>(&id, "id")?;
        let found = self.organizations.get(&caller, id).await?;
        Ok(organization::to_proto(&found))
    }

    async fn list_organizations(
        &self,
        caller: Caller,
        request: pb::ListOrganizationsRequest,
    ) -> Result<pb::ListOrganizationsResponse, DomainError> {
        let pb::ListOrganizationsRequest {
            page_size,
            page_token,
        } = request;
        let size = kernel::page_size(page_size)?;
        let scope = "organizations";
        let after = token::page_after(&page_token, scope)?.map(OrganizationId::from_uuid);
        let page = self.organizations.list(&caller, after, size).await?;
        Ok(pb::ListOrganizationsResponse {
            organizations: page.items.iter().map(organization::to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| token::page(last.as_uuid(), scope))
                .unwrap_or_default(),
        })
    }

    async fn update_organization(
        &self,
        caller: Caller,
        request: pb::UpdateOrganizationRequest,
    ) -> Result<pb::Organization, DomainError> {
        let pb::UpdateOrganizationRequest {
            organization: given,
            update_mask,
            etag,
        } = request;
        let given = convert::required(given, "organization")?;
        let id = convert::id::<OrganizationId>(&given.id, "organization.id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let patch = organization::patch(given, update_mask)?;
        let updated = self
            .organizations
            .update(&caller, id, patch, expected)
            .await
            .map_err(|error| error.scoped("organization"))?;
        Ok(organization::to_proto(&updated))
    }

    async fn delete_organization(
        &self,
        caller: Caller,
        request: pb::DeleteOrganizationRequest,
    ) -> Result<(), DomainError> {
        let pb::DeleteOrganizationRequest { id, etag } = request;
        let id = convert::id::<OrganizationId>(&id, "id")?;
        let expected = token::optional_version(&etag, "etag")?;
        self.organizations.delete(&caller, id, expected).await?;
        Ok(())
    }

    async fn add_organization_member(
        &self,
        caller: Caller,
        request: pb::AddOrganizationMemberRequest,
    ) -> Result<pb::Contact, DomainError> {
        let pb::AddOrganizationMemberRequest {
            organization_id,
            contact_id,
            etag,
        } = request;
        let org = convert::id::<OrganizationId>(&organization_id, "organization_id")?;
        let id = convert::id::<ContactId>(&contact_id, "contact_id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let updated = self
            .contacts
            .join_organization(&caller, id, org, expected)
            .await?;
        Ok(contact::to_proto(&updated))
    }

    async fn remove_organization_member(
        &self,
        caller: Caller,
        request: pb::RemoveOrganizationMemberRequest,
    ) -> Result<pb::Contact, DomainError> {
        let pb::RemoveOrganizationMemberRequest {
            organization_id,
            contact_id,
            etag,
        } = request;
        let org = convert::id::<OrganizationId>(&organization_id, "organization_id")?;
        let id = convert::id::<ContactId>(&contact_id, "contact_id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let updated = self
            .contacts
            .leave_organization(&caller, id, org, expected)
            .await?;
        Ok(contact::to_proto(&updated))
    }

    async fn list_organization_members(
        &self,
        caller: Caller,
        request: pb::ListOrganizationMembersRequest,
    ) -> Result<pb::ListOrganizationMembersResponse, DomainError> {
        let pb::ListOrganizationMembersRequest {
            organization_id,
            page_size,
            page_token,
        } = request;
        let org = convert::id::<OrganizationId>(&organization_id, "organization_id")?;
        let size = kernel::page_size(page_size)?;
        // An unknown organization is NOT_FOUND, not an empty list.
        self.organizations.get(&caller, org).await?;
        let scope = format!("members:{org}");
        let after = token::contact_page_after(&page_token, &scope)?;
        let filter = ContactFilter {
            organization: Some(org),
            ..ContactFilter::default()
        };
        let page = self.contacts.list(&caller, &filter, after, size).await?;
        Ok(pb::ListOrganizationMembersResponse {
            contacts: page.items.iter().map(contact::to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| token::contact_page(&last, &scope))
                .unwrap_or_default(),
        })
    }
}

crate::serve! {
    impl OrganizationRpc for OrganizationApi {
        create_organization(pb::CreateOrganizationRequest) -> pb::Organization;
        get_organization(pb::GetOrganizationRequest) -> pb::Organization;
        list_organizations(pb::ListOrganizationsRequest) -> pb::ListOrganizationsResponse;
        update_organization(pb::UpdateOrganizationRequest) -> pb::Organization;
        delete_organization(pb::DeleteOrganizationRequest) -> ();
        add_organization_member(pb::AddOrganizationMemberRequest) -> pb::Contact;
        remove_organization_member(pb::RemoveOrganizationMemberRequest) -> pb::Contact;
        list_organization_members(pb::ListOrganizationMembersRequest) -> pb::ListOrganizationMembersResponse;
    }
}
