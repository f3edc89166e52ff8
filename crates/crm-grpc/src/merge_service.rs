//! `crm.v1.MergeService`: authenticates the caller, converts the request,
//! calls the merge use cases, converts the answer. No rules live here.

use crm_domain::kernel;
use crm_domain::tenancy::Caller;
use std::sync::Arc;

use crm_domain::merge::{self, MergeService};
use crm_domain::{ContactId, DomainError, MergeId};
use crm_proto::v1 as pb;
use crm_proto::v1::merge_service_server::MergeService as MergeRpc;

use crate::auth::Authenticator;
use crate::convert::merge::{
    group_to_proto, ids, merge_to_proto, moved_to_proto, winners_to_proto,
};
use crate::convert::{self, contact};
use crate::token;

/// The gRPC face of the merge use cases.
#[derive(Debug, Clone)]
pub struct MergeApi {
    merges: MergeService,
    auth: Arc<Authenticator>,
}

impl MergeApi {
    /// Serves `merges` to callers `auth` recognises.
    pub fn new(merges: MergeService, auth: Arc<Authenticator>) -> Self {
        Self { merges, auth }
    }
}

/// The bodies of the RPCs: each takes the authenticated caller and the
/// request message and returns a domain result; [`crate::serve!`] does the rest.
impl MergeApi {
    async fn find_duplicate_contacts(
        &self,
        caller: Caller,
        request: pb::FindDuplicateContactsRequest,
    ) -> Result<pb::FindDuplicateContactsResponse, DomainError> {
        let pb::FindDuplicateContactsRequest {
            page_size,
            page_token,
        } = request;
        let size = kernel::page_size(page_size)?;
        let after = token::group_page_after(&page_token)?;
        let (found, waiting) = self.merges.find_duplicates(&caller, after, size).await?;
        Ok(pb::FindDuplicateContactsResponse {
            groups: found.items.iter().map(group_to_proto).collect(),
            next_page_token: found.next.map(token::group_page).unwrap_or_default(),
            pending_contacts: i64::try_from(waiting).unwrap_or(i64::MAX),
        })
    }

    async fn mark_not_duplicates(
        &self,
        caller: Caller,
        request: pb::MarkNotDuplicatesRequest,
    ) -> Result<pb::MarkNotDuplicatesResponse, DomainError> {
        let pb::MarkNotDuplicatesRequest {
            contact_ids,
            marked_by,
        } = request;
        let ids = convert::ids::<ContactId>(&contact_ids, "contact_ids", merge::MAX_MARKED)?;
        self.merges
            .mark_not_duplicates(&caller, &ids, &marked_by)
            .await?;
        Ok(pb::MarkNotDuplicatesResponse {})
    }

    async fn preview_merge_contacts(
        &self,
        caller: Caller,
        request: pb::PreviewMergeContactsRequest,
    ) -> Result<pb::PreviewMergeContactsResponse, DomainError> {
        let pb::PreviewMergeContactsRequest {
            survivor_id,
            duplicate_ids,
        } = request;
        let (survivor, duplicates) = ids(&survivor_id, &duplicate_ids)?;
        let preview = self.merges.preview(&caller, survivor, &duplicates).await?;
        Ok(pb::PreviewMergeContactsResponse {
            contact: Some(contact::to_proto(&preview.plan.merged)),
            winners: winners_to_proto(&preview.plan.winners),
            moved: moved_to_proto(&preview.moved),
            preview_token: token::merge_preview(&preview.plan.versions),
        })
    }

    async fn merge_contacts(
        &self,
        caller: Caller,
        request: pb::MergeContactsRequest,
    ) -> Result<pb::MergeContactsResponse, DomainError> {
        let pb::MergeContactsRequest {
            survivor_id,
            duplicate_ids,
            preview_token,
            survivor_etag,
            duplicate_etags,
            merged_by,
        } = request;
        let (survivor, duplicates) = ids(&survivor_id, &duplicate_ids)?;
        let by_etags = !survivor_etag.is_empty() || !duplicate_etags.is_empty();
        // The request's own checks come first, as they did when the domain
        // read the token.
        merge::check_request(survivor, &duplicates)?;
        merge::check_merged_by(&merged_by)?;
        let expected = match (preview_token.is_empty(), by_etags) {
            (false, false) => {
                let ids: Vec<ContactId> = std::iter::once(survivor)
                    .chain(duplicates.iter().copied())
                    .collect();
                token::merge_versions(&preview_token, &ids)?
            }
            (true, true) => {
                token::merge_etag_versions(&survivor_etag, &duplicate_etags, duplicates.len())?
            }
            (false, true) => {
                return Err(DomainError::invalid(
                    "preview_token",
                    "give the preview token or the etags, not both",
                ));
            }
            (true, false) => {
                return Err(DomainError::invalid(
                    "preview_token",
                    "is required (or survivor_etag and duplicate_etags): \
                     a merge applies to the versions the caller saw",
                ));
            }
        };
        let (record, merged) = self
            .merges
            .merge(&caller, survivor, &duplicates, &expected, &merged_by)
            .await?;
        Ok(pb::MergeContactsResponse {
            contact: Some(contact::to_proto(&merged)),
            merge: Some(merge_to_proto(&record)),
        })
    }

    async fn list_merges(
        &self,
        caller: Caller,
        request: pb::ListMergesRequest,
    ) -> Result<pb::ListMergesResponse, DomainError> {
        let pb::ListMergesRequest {
            contact_id,
            page_size,
            page_token,
        } = request;
        let contact = convert::id::<ContactId>(&contact_id, "contact_id")?;
        let size = kernel::page_size(page_size)?;
        let scope = format!("merges:{contact}");
        let before = token::page_after(&page_token, &scope)?.map(MergeId::from_uuid);
        let found = self.merges.list(&caller, contact, before, size).await?;
        Ok(pb::ListMergesResponse {
            merges: found.items.iter().map(merge_to_proto).collect(),
            next_page_token: found
                .next
                .map(|last| token::page(last.as_uuid(), &scope))
                .unwrap_or_default(),
        })
    }
}

crate::serve! {
    impl MergeRpc for MergeApi {
        find_duplicate_contacts(pb::FindDuplicateContactsRequest) -> pb::FindDuplicateContactsResponse;
        mark_not_duplicates(pb::MarkNotDuplicatesRequest) -> pb::MarkNotDuplicatesResponse;
        preview_merge_contacts(pb::PreviewMergeContactsRequest) -> pb::PreviewMergeContactsResponse;
        merge_contacts(pb::MergeContactsRequest) -> pb::MergeContactsResponse;
        list_merges(pb::ListMergesRequest) -> pb::ListMergesResponse;
    }
}
