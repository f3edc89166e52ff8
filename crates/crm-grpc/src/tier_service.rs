//! `crm.v1.TierService`: authenticates the caller, converts the request,
//! calls the tier use cases (or, for SetContactTier, the contact use case),
//! converts the answer. No rules live here.

use std::sync::Arc;

use crm_domain::contacts::ContactService;
use crm_domain::routing::RoutingService;
use crm_domain::tenancy::Caller;
use crm_domain::tiers::{OnDelete, TierService};
use crm_domain::{ContactId, DomainError, TierId};
use crm_proto::v1 as pb;
use crm_proto::v1::tier_service_server::TierService as TierRpc;

use crate::auth::Authenticator;
use crate::convert::{self, contact, routing, tier};
use crate::token;

/// The gRPC face of the tier use cases.
#[derive(Debug, Clone)]
pub struct TierApi {
    tiers: TierService,
    routing: RoutingService,
    contacts: ContactService,
    auth: Arc<Authenticator>,
}

impl TierApi {
    /// Serves `tiers`, queue order by tier through `routing`, and contact
    /// tier changes through `contacts` to callers `auth` recognises.
    pub fn new(
        tiers: TierService,
        routing: RoutingService,
        contacts: ContactService,
        auth: Arc<Authenticator>,
    ) -> Self {
        Self {
            tiers,
            routing,
            contacts,
            auth,
        }
    }
}

/// The bodies of the RPCs: each takes the authenticated caller and the
/// request message and returns a domain result; [`crate::serve!`] does the rest.
impl TierApi {
    async fn create_tier(
        &self,
        caller: Caller,
        request: pb::CreateTierRequest,
    ) -> Result<pb::Tier, DomainError> {
        let pb::CreateTierRequest { tier: created } = request;
        let created = created.ok_or_else(|| DomainError::invalid("tier", "is required"))?;
        let fields = tier::fields(created)?;
        // The domain reports paths inside the tier; the request holds it in `tier`.
        let stored = self
            .tiers
            .create(&caller, fields)
            .await
            .map_err(|error| error.scoped("tier"))?;
        Ok(tier::to_proto(&stored))
    }

    async fn get_tier(
        &self,
        caller: Caller,
        request: pb::GetTierRequest,
    ) -> Result<pb::Tier, DomainError> {
        let pb::GetTierRequest { id } = request;
        let id = convert::id::<TierId>(&id, "id")?;
        let found = self.tiers.get(&caller, id).await?;
        Ok(tier::to_proto(&found))
    }

    async fn list_tiers(
        &self,
        caller: Caller,
        request: pb::ListTiersRequest,
    ) -> Result<pb::ListTiersResponse, DomainError> {
        let pb::ListTiersRequest {} = request;
        let tiers = self.tiers.list(&caller).await?;
        Ok(pb::ListTiersResponse {
            tiers: tiers.iter().map(tier::to_proto).collect(),
        })
    }

    async fn update_tier(
        &self,
        caller: Caller,
        request: pb::UpdateTierRequest,
    ) -> Result<pb::Tier, DomainError> {
        let pb::UpdateTierRequest {
            tier: changes,
            update_mask,
            etag,
        } = request;
        let changes = changes.ok_or_else(|| DomainError::invalid("tier", "is required"))?;
        let id = convert::id::<TierId>(&changes.id, "tier.id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let patch = tier::patch(changes, update_mask)?;
        let updated = self
            .tiers
            .update(&caller, id, patch, expected)
            .await
            .map_err(|error| error.scoped("tier"))?;
        Ok(tier::to_proto(&updated))
    }

    async fn delete_tier(
        &self,
        caller: Caller,
        request: pb::DeleteTierRequest,
    ) -> Result<(), DomainError> {
        let pb::DeleteTierRequest {
            id,
            etag,
            move_to_tier_id,
            clear_contacts,
        } = request;
        let id = convert::id::<TierId>(&id, "id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let on_delete = match (
            convert::optional_id::<TierId>(&move_to_tier_id, "move_to_tier_id")?,
            clear_contacts,
        ) {
            (Some(_), true) => {
                return Err(DomainError::invalid(
                    "clear_contacts",
                    "cannot be set together with move_to_tier_id",
                ));
            }
            (Some(target), false) => OnDelete::MoveTo(target),
            (None, true) => OnDelete::Clear,
            (None, false) => OnDelete::Refuse,
        };
        self.tiers.delete(&caller, id, expected, on_delete).await?;
        Ok(())
    }

    async fn reorder_tiers(
        &self,
        caller: Caller,
        request: pb::ReorderTiersRequest,
    ) -> Result<pb::ReorderTiersResponse, DomainError> {
        let pb::ReorderTiersRequest { tier_ids } = request;
        let order = convert::ids::<TierId>(&tier_ids, "tier_ids", crm_domain::tiers::MAX_TIERS)?;
        let tiers = self.tiers.reorder(&caller, &order).await?;
        Ok(pb::ReorderTiersResponse {
            tiers: tiers.iter().map(tier::to_proto).collect(),
        })
    }

    async fn set_contact_tier(
        &self,
        caller: Caller,
        request: pb::SetContactTierRequest,
    ) -> Result<pb::Contact, DomainError> {
        let pb::SetContactTierRequest {
            contact_id,
            tier_id,
            etag,
        } = request;
        let id = convert::id::<ContactId>(&contact_id, "contact_id")?;
        let tier_id = convert::optional_id::<TierId>(&tier_id, "tier_id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let updated = self
            .contacts
            .set_tier(&caller, id, tier_id, expected)
            .await?;
        Ok(contact::to_proto(&updated))
    }

    async fn get_routing_priority(
        &self,
        caller: Caller,
        request: pb::GetRoutingPriorityRequest,
    ) -> Result<pb::GetRoutingPriorityResponse, DomainError> {
        let pb::GetRoutingPriorityRequest { subjects } = request;
        let subjects = routing::subjects(subjects)?;
        let entries = self.routing.routing_priority(&caller, subjects).await?;
        Ok(pb::GetRoutingPriorityResponse {
            entries: entries.iter().map(routing::entry_to_proto).collect(),
        })
    }
}

crate::serve! {
    impl TierRpc for TierApi {
        create_tier(pb::CreateTierRequest) -> pb::Tier;
        get_tier(pb::GetTierRequest) -> pb::Tier;
        list_tiers(pb::ListTiersRequest) -> pb::ListTiersResponse;
        update_tier(pb::UpdateTierRequest) -> pb::Tier;
        delete_tier(pb::DeleteTierRequest) -> ();
        reorder_tiers(pb::ReorderTiersRequest) -> pb::ReorderTiersResponse;
        set_contact_tier(pb::SetContactTierRequest) -> pb::Contact;
        get_routing_priority(pb::GetRoutingPriorityRequest) -> pb::GetRoutingPriorityResponse;
    }
}
