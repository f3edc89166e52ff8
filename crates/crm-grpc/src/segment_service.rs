//! `crm.v1.SegmentService`: authenticates the caller, converts the request,
//! calls the segment use cases, converts the answer. No rules live here.

use std::sync::Arc;

use crm_domain::DomainError;
use crm_domain::contacts::ContactOrder;
use crm_domain::kernel::{self, SegmentId};
use crm_domain::segments::{Segment, SegmentFields, SegmentPatch, SegmentService, Visibility};
use crm_domain::tenancy::Caller;
use crm_proto::v1 as pb;
use crm_proto::v1::segment_service_server::SegmentService as SegmentRpc;

use crate::auth::Authenticator;
use crate::convert::{self, contact, mask::Mask, timestamp};
use crate::token;

/// The paths an UpdateSegment mask may name.
const UPDATABLE: [&str; 3] = ["display_name", "filter", "visibility"];

/// The gRPC face of the segment use cases.
#[derive(Debug, Clone)]
pub struct SegmentApi {
    segments: SegmentService,
    auth: Arc<Authenticator>,
}

impl SegmentApi {
    /// Serves `segments` to callers `auth` recognises.
    pub fn new(segments: SegmentService, auth: Arc<Authenticator>) -> Self {
        Self { segments, auth }
    }
}

fn visibility_from(value: i32) -> Result<Visibility, DomainError> {
    match pb::SegmentVisibility::try_from(value) {
        Ok(pb::SegmentVisibility::Unspecified | pb::SegmentVisibility::Private) => {
            Ok(Visibility::Private)
        }
        Ok(pb::SegmentVisibility::Shared) => Ok(Visibility::Shared),
        Err(_) => Err(DomainError::invalid(
            "segment.visibility",
            format!("{value} is not a SegmentVisibility"),
        )),
    }
}

fn to_proto(segment: &Segment) -> pb::Segment {
    pb::Segment {
        id: segment.id.to_string(),
        display_name: segment.fields.display_name.clone(),
        filter: segment.fields.filter.clone(),
        visibility: match segment.fields.visibility {
            Visibility::Private => pb::SegmentVisibility::Private,
            Visibility::Shared => pb::SegmentVisibility::Shared,
        } as i32,
        owner: segment.owner.clone(),
        create_time: Some(timestamp(segment.create_time)),
        update_time: Some(timestamp(segment.update_time)),
        etag: token::etag(segment.version),
    }
}

/// The bodies of the RPCs: each takes the authenticated caller and the
/// request message and returns a domain result; [`crate::serve!`] does the rest.
impl SegmentApi {
    async fn create_segment(
        &self,
        caller: Caller,
        request: pb::CreateSegmentRequest,
    ) -> Result<pb::Segment, DomainError> {
        let pb::Segment {
            display_name,
            filter,
            visibility,
            ..
        } = convert::required(request.segment, "segment")?;
        let fields = SegmentFields {
            display_name,
            filter,
            visibility: visibility_from(visibility)?,
        };
        let created = self
            .segments
            .create(&caller, fields)
            .await
            .map_err(|error| error.scoped("segment"))?;
        Ok(to_proto(&created))
    }

    async fn get_segment(
        &self,
        caller: Caller,
        request: pb::GetSegmentRequest,
    ) -> Result<pb::Segment, DomainError> {
        let id = convert::id::<SegmentId>(&request.id, "id")?;
        Ok(to_proto(&self.segments.get(&caller, id).await?))
    }

    async fn list_segments(
        &self,
        caller: Caller,
        request: pb::ListSegmentsRequest,
    ) -> Result<pb::ListSegmentsResponse, DomainError> {
        let size = kernel::page_size(request.page_size)?;
        let scope = "segments";
        let after = token::page_after(&request.page_token, scope)?.map(SegmentId::from_uuid);
        let page = self.segments.list(&caller, after, size).await?;
        Ok(pb::ListSegmentsResponse {
            segments: page.items.iter().map(to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| token::page(last.as_uuid(), scope))
                .unwrap_or_default(),
        })
    }

    async fn update_segment(
        &self,
        caller: Caller,
        request: pb::UpdateSegmentRequest,
    ) -> Result<pb::Segment, DomainError> {
        let pb::UpdateSegmentRequest {
            segment,
            update_mask,
            etag,
        } = request;
        let pb::Segment {
            id,
            display_name,
            filter,
            visibility,
            ..
        } = convert::required(segment, "segment")?;
        let id = convert::id::<SegmentId>(&id, "segment.id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let mut implied = Vec::new();
        for (field, set) in [
            ("display_name", !display_name.is_empty()),
            ("filter", !filter.is_empty()),
            ("visibility", visibility != 0),
        ] {
            if set {
                implied.push(field);
            }
        }
        let mask = Mask::parse(update_mask, &UPDATABLE, implied)?;
        let patch = SegmentPatch {
            display_name: mask.has("display_name").then_some(display_name),
            filter: mask.has("filter").then_some(filter),
            visibility: if mask.has("visibility") {
                Some(visibility_from(visibility)?)
            } else {
                None
            },
        };
        let updated = self
            .segments
            .update(&caller, id, patch, expected)
            .await
            .map_err(|error| error.scoped("segment"))?;
        Ok(to_proto(&updated))
    }

    async fn delete_segment(
        &self,
        caller: Caller,
        request: pb::DeleteSegmentRequest,
    ) -> Result<(), DomainError> {
        let id = convert::id::<SegmentId>(&request.id, "id")?;
        let expected = token::optional_version(&request.etag, "etag")?;
        self.segments.delete(&caller, id, expected).await
    }

    async fn list_segment_contacts(
        &self,
        caller: Caller,
        request: pb::ListSegmentContactsRequest,
    ) -> Result<pb::ListSegmentContactsResponse, DomainError> {
        let pb::ListSegmentContactsRequest {
            id,
            page_size,
            page_token,
            order_by,
        } = request;
        let id = convert::id::<SegmentId>(&id, "id")?;
        let size = kernel::page_size(page_size)?;
        let order = ContactOrder::parse(&order_by)?;
        let scope = format!("segment:{id}|order:{order_by}");
        let after = token::contact_page_after(&page_token, &scope)?;
        let page = self
            .segments
            .contacts(&caller, id, order, after, size)
            .await?;
        Ok(pb::ListSegmentContactsResponse {
            contacts: page.items.iter().map(contact::to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| token::contact_page(&last, &scope))
                .unwrap_or_default(),
        })
    }

    async fn count_segment_contacts(
        &self,
        caller: Caller,
        request: pb::CountSegmentContactsRequest,
    ) -> Result<pb::CountContactsResponse, DomainError> {
        let id = convert::id::<SegmentId>(&request.id, "id")?;
        let (count, capped) = self.segments.count(&caller, id).await?;
        Ok(pb::CountContactsResponse {
            count: i64::try_from(count).unwrap_or(i64::MAX),
            count_is_lower_bound: capped,
        })
    }
}

crate::serve! {
    impl SegmentRpc for SegmentApi {
        create_segment(pb::CreateSegmentRequest) -> pb::Segment;
        get_segment(pb::GetSegmentRequest) -> pb::Segment;
        list_segments(pb::ListSegmentsRequest) -> pb::ListSegmentsResponse;
        update_segment(pb::UpdateSegmentRequest) -> pb::Segment;
        delete_segment(pb::DeleteSegmentRequest) -> ();
        list_segment_contacts(pb::ListSegmentContactsRequest) -> pb::ListSegmentContactsResponse;
        count_segment_contacts(pb::CountSegmentContactsRequest) -> pb::CountContactsResponse;
    }
}
