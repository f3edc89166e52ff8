//! `crm.v1.TierService`: authenticates the caller, converts the request,
//! calls the tier use cases (or, for SetContactTier, the contact use case),
//! converts the answer. No rules live here.

use std::sync::Arc;

use crm_domain::contacts::ContactService;
use crm_domain::identity::SenderInput;
use crm_domain::routing::{RoutingService, RoutingSubject};
use crm_domain::tiers::{OnDelete, TierService};
use crm_domain::{DomainError, FieldViolation};
use crm_proto::v1 as pb;
use crm_proto::v1::tier_service_server::TierService as TierRpc;
use tonic::{Request, Response, Status};

use crate::auth::Authenticator;
use crate::convert::{self, contact, tier};
use crate::status::to_status;

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

fn subject(index: usize, subject: pb::RoutingSubject) -> Result<RoutingSubject, FieldViolation> {
    match subject.subject {
        Some(pb::routing_subject::Subject::ContactId(id)) => {
            let field = format!("subjects[{index}].contact_id");
            convert::contact_id(&id, &field)
                .map(RoutingSubject::Contact)
                .map_err(|_| FieldViolation::new(field, "is not a contact id (a UUID)"))
        }
        Some(pb::routing_subject::Subject::Sender(pb::RoutingSender { channel, address })) => {
            let request = pb::ResolveSenderRequest {
                channel,
                address,
                ..pb::ResolveSenderRequest::default()
            };
            contact::sender(request)
                .map(|input| {
                    RoutingSubject::Sender(SenderInput {
                        display_name: String::new(),
                        ..input
                    })
                })
                .map_err(|error| match error {
                    DomainError::InvalidArgument(found) => FieldViolation::new(
                        format!(
                            "subjects[{index}].sender.{}",
                            found.first().map_or("channel", |v| v.field.as_str())
                        ),
                        found
                            .first()
                            .map_or_else(String::new, |v| v.description.clone()),
                    ),
                    other => FieldViolation::new(format!("subjects[{index}]"), other.to_string()),
                })
        }
        None => Err(FieldViolation::new(
            format!("subjects[{index}]"),
            "set contact_id or sender",
        )),
    }
}

#[tonic::async_trait]
impl TierRpc for TierApi {
    async fn create_tier(
        &self,
        request: Request<pb::CreateTierRequest>,
    ) -> Result<Response<pb::Tier>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::CreateTierRequest { tier: created } = request.into_inner();
        let created =
            created.ok_or_else(|| to_status(DomainError::invalid("tier", "is required")))?;
        let fields = tier::fields(created).map_err(to_status)?;
        let stored = self
            .tiers
            .create(&caller, fields)
            .await
            .map_err(to_status)?;
        Ok(Response::new(tier::to_proto(&stored)))
    }

    async fn get_tier(
        &self,
        request: Request<pb::GetTierRequest>,
    ) -> Result<Response<pb::Tier>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::GetTierRequest { id } = request.into_inner();
        let id = tier::tier_id(&id, "id").map_err(to_status)?;
        let found = self.tiers.get(&caller, id).await.map_err(to_status)?;
        Ok(Response::new(tier::to_proto(&found)))
    }

    async fn list_tiers(
        &self,
        request: Request<pb::ListTiersRequest>,
    ) -> Result<Response<pb::ListTiersResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::ListTiersRequest {} = request.into_inner();
        let tiers = self.tiers.list(&caller).await.map_err(to_status)?;
        Ok(Response::new(pb::ListTiersResponse {
            tiers: tiers.iter().map(tier::to_proto).collect(),
        }))
    }

    async fn update_tier(
        &self,
        request: Request<pb::UpdateTierRequest>,
    ) -> Result<Response<pb::Tier>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::UpdateTierRequest {
            tier: changes,
            update_mask,
            etag,
        } = request.into_inner();
        let changes =
            changes.ok_or_else(|| to_status(DomainError::invalid("tier", "is required")))?;
        let id = tier::tier_id(&changes.id, "tier.id").map_err(to_status)?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        let patch = tier::patch(changes, update_mask).map_err(to_status)?;
        let updated = self
            .tiers
            .update(&caller, id, patch, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(tier::to_proto(&updated)))
    }

    async fn delete_tier(
        &self,
        request: Request<pb::DeleteTierRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::DeleteTierRequest {
            id,
            etag,
            move_to_tier_id,
            clear_contacts,
        } = request.into_inner();
        let id = tier::tier_id(&id, "id").map_err(to_status)?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        let on_delete = match (
            tier::optional_tier_id(&move_to_tier_id, "move_to_tier_id").map_err(to_status)?,
            clear_contacts,
        ) {
            (Some(_), true) => {
                return Err(to_status(DomainError::invalid(
                    "clear_contacts",
                    "cannot be set together with move_to_tier_id",
                )));
            }
            (Some(target), false) => OnDelete::MoveTo(target),
            (None, true) => OnDelete::Clear,
            (None, false) => OnDelete::Refuse,
        };
        self.tiers
            .delete(&caller, id, expected, on_delete)
            .await
            .map_err(to_status)?;
        Ok(Response::new(()))
    }

    async fn reorder_tiers(
        &self,
        request: Request<pb::ReorderTiersRequest>,
    ) -> Result<Response<pb::ReorderTiersResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::ReorderTiersRequest { tier_ids } = request.into_inner();
        let mut order = Vec::with_capacity(tier_ids.len());
        let mut violations = Vec::new();
        for (index, id) in tier_ids.iter().enumerate() {
            match tier::tier_id(id, &format!("tier_ids[{index}]")) {
                Ok(id) => order.push(id),
                Err(DomainError::InvalidArgument(found)) => violations.extend(found),
                Err(other) => return Err(to_status(other)),
            }
        }
        if !violations.is_empty() {
            return Err(to_status(DomainError::InvalidArgument(violations)));
        }
        let tiers = self
            .tiers
            .reorder(&caller, &order)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ReorderTiersResponse {
            tiers: tiers.iter().map(tier::to_proto).collect(),
        }))
    }

    async fn set_contact_tier(
        &self,
        request: Request<pb::SetContactTierRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::SetContactTierRequest {
            contact_id,
            tier_id,
            etag,
        } = request.into_inner();
        let id = convert::contact_id(&contact_id, "contact_id").map_err(to_status)?;
        let tier_id = tier::optional_tier_id(&tier_id, "tier_id").map_err(to_status)?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        let updated = self
            .contacts
            .set_tier(&caller, id, tier_id, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(contact::to_proto(&updated)))
    }

    async fn get_routing_priority(
        &self,
        request: Request<pb::GetRoutingPriorityRequest>,
    ) -> Result<Response<pb::GetRoutingPriorityResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::GetRoutingPriorityRequest { subjects } = request.into_inner();
        let mut parsed = Vec::with_capacity(subjects.len());
        let mut violations = Vec::new();
        for (index, item) in subjects.into_iter().enumerate() {
            match subject(index, item) {
                Ok(item) => parsed.push(item),
                Err(violation) => violations.push(violation),
            }
        }
        if !violations.is_empty() {
            return Err(to_status(DomainError::InvalidArgument(violations)));
        }
        let entries = self
            .routing
            .routing_priority(&caller, parsed)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GetRoutingPriorityResponse {
            entries: entries
                .iter()
                .map(|entry| pb::RoutingEntry {
                    subject_index: i32::try_from(entry.index).unwrap_or(i32::MAX),
                    contact_id: entry.contact.map(|id| id.to_string()).unwrap_or_default(),
                    tier: entry.tier.as_ref().map(tier::summary),
                })
                .collect(),
        }))
    }
}
