//! `crm.v1.MergeService`: authenticates the caller, converts the request,
//! calls the merge use cases, converts the answer. No rules live here.

use crm_domain::kernel;
use std::collections::HashMap;
use std::sync::Arc;

use crm_domain::merge::duplicates::{DuplicateGroup, DuplicateReason};
use crm_domain::merge::{ContactChild, FieldWinner, MergeRecord};
use crm_domain::merge::{GroupCursor, MergePrecondition, MergeService};
use crm_domain::{ContactId, DomainError, FieldViolation, MergeId};
use crm_proto::v1 as pb;
use crm_proto::v1::merge_service_server::MergeService as MergeRpc;
use tonic::{Request, Response, Status};

use crate::auth::Authenticator;
use crate::convert::{self, contact, timestamp};
use crate::page_token;
use crate::status::to_status;

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

/// The survivor and duplicate ids of a request, every bad one named.
fn ids(survivor: &str, duplicates: &[String]) -> Result<(ContactId, Vec<ContactId>), Status> {
    let mut violations: Vec<FieldViolation> = Vec::new();
    let mut violation = |error: DomainError| {
        if let DomainError::InvalidArgument(found) = error {
            violations.extend(found);
        }
    };
    let survivor = convert::contact_id(survivor, "survivor_id")
        .map_err(&mut violation)
        .ok();
    let duplicates: Vec<Option<ContactId>> = duplicates
        .iter()
        .enumerate()
        .map(|(index, id)| {
            convert::contact_id(id, &format!("duplicate_ids[{index}]"))
                .map_err(&mut violation)
                .ok()
        })
        .collect();
    match (survivor, duplicates.into_iter().collect::<Option<Vec<_>>>()) {
        (Some(survivor), Some(duplicates)) if violations.is_empty() => Ok((survivor, duplicates)),
        _ => Err(to_status(DomainError::InvalidArgument(violations))),
    }
}

fn moved_to_proto(moved: &[(ContactChild, u64)]) -> HashMap<String, i64> {
    moved
        .iter()
        .map(|(child, count)| {
            (
                child.as_str().to_owned(),
                i64::try_from(*count).unwrap_or(i64::MAX),
            )
        })
        .collect()
}

fn winners_to_proto(winners: &[FieldWinner]) -> Vec<pb::FieldWinner> {
    winners
        .iter()
        .map(|winner| pb::FieldWinner {
            field: winner.field.clone(),
            source_contact_id: winner.source.to_string(),
            value: winner.value.clone(),
            overruled: winner
                .overruled
                .iter()
                .map(|lost| pb::OverruledValue {
                    source_contact_id: lost.source.to_string(),
                    value: lost.value.clone(),
                })
                .collect(),
        })
        .collect()
}

fn merge_to_proto(record: &MergeRecord) -> pb::Merge {
    pb::Merge {
        id: record.id.to_string(),
        survivor_id: record.survivor_id.to_string(),
        duplicate_ids: record
            .duplicate_ids
            .iter()
            .map(ContactId::to_string)
            .collect(),
        merged_by: record.merged_by.clone(),
        create_time: Some(timestamp(record.create_time)),
        winners: winners_to_proto(&record.winners),
        moved: moved_to_proto(&record.moved),
    }
}

fn group_to_proto(group: &DuplicateGroup) -> pb::DuplicateGroup {
    pb::DuplicateGroup {
        contact_ids: group.contacts.iter().map(ContactId::to_string).collect(),
        evidence: group
            .evidence
            .iter()
            .map(|item| pb::DuplicateEvidence {
                reason: match item.reason {
                    DuplicateReason::AddressInField => pb::DuplicateReason::AddressInField,
                    DuplicateReason::SameNameSameOrganization => {
                        pb::DuplicateReason::SameNameSameOrganization
                    }
                    DuplicateReason::SameNameSameEmailDomain => {
                        pb::DuplicateReason::SameNameSameEmailDomain
                    }
                    DuplicateReason::SimilarNameSameOrganization => {
                        pb::DuplicateReason::SimilarNameSameOrganization
                    }
                    DuplicateReason::SimilarNameSameCity => {
                        pb::DuplicateReason::SimilarNameSameCity
                    }
                } as i32,
                detail: item.detail.clone(),
            })
            .collect(),
        score: group.score,
    }
}

/// Page tokens of duplicate groups: `g1.SCORE_IN_HUNDREDTHS.FIRST_ID`.
fn group_token(cursor: GroupCursor) -> String {
    format!(
        "g1.{}.{}",
        (cursor.score * 100.0).round() as i64,
        cursor.first.as_uuid().simple()
    )
}

fn group_cursor(token: &str) -> Result<Option<GroupCursor>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let forged = || {
        to_status(DomainError::invalid(
            "page_token",
            "is not a token from a previous page",
        ))
    };
    let mut parts = token.split('.');
    if parts.next() != Some("g1") {
        return Err(forged());
    }
    let hundredths: i64 = parts
        .next()
        .and_then(|part| part.parse().ok())
        .ok_or_else(forged)?;
    let first = parts
        .next()
        .and_then(|part| uuid::Uuid::try_parse(part).ok())
        .ok_or_else(forged)?;
    if parts.next().is_some() {
        return Err(forged());
    }
    Ok(Some(GroupCursor {
        score: hundredths as f64 / 100.0,
        first: ContactId::from_uuid(first),
    }))
}

#[tonic::async_trait]
impl MergeRpc for MergeApi {
    async fn find_duplicate_contacts(
        &self,
        request: Request<pb::FindDuplicateContactsRequest>,
    ) -> Result<Response<pb::FindDuplicateContactsResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::FindDuplicateContactsRequest {
            page_size,
            page_token,
        } = request.into_inner();
        let size = kernel::page_size(page_size).map_err(to_status)?;
        let after = group_cursor(&page_token)?;
        let found = self
            .merges
            .find_duplicates(&caller, after, size)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::FindDuplicateContactsResponse {
            groups: found.items.iter().map(group_to_proto).collect(),
            next_page_token: found.next.map(group_token).unwrap_or_default(),
        }))
    }

    async fn mark_not_duplicates(
        &self,
        request: Request<pb::MarkNotDuplicatesRequest>,
    ) -> Result<Response<pb::MarkNotDuplicatesResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::MarkNotDuplicatesRequest {
            contact_ids,
            marked_by,
        } = request.into_inner();
        let mut violations = Vec::new();
        let mut ids = Vec::with_capacity(contact_ids.len());
        for (index, id) in contact_ids.iter().enumerate() {
            match convert::contact_id(id, &format!("contact_ids[{index}]")) {
                Ok(id) => ids.push(id),
                Err(DomainError::InvalidArgument(found)) => violations.extend(found),
                Err(other) => return Err(to_status(other)),
            }
        }
        if !violations.is_empty() {
            return Err(to_status(DomainError::InvalidArgument(violations)));
        }
        self.merges
            .mark_not_duplicates(&caller, &ids, &marked_by)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::MarkNotDuplicatesResponse {}))
    }

    async fn preview_merge_contacts(
        &self,
        request: Request<pb::PreviewMergeContactsRequest>,
    ) -> Result<Response<pb::PreviewMergeContactsResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::PreviewMergeContactsRequest {
            survivor_id,
            duplicate_ids,
        } = request.into_inner();
        let (survivor, duplicates) = ids(&survivor_id, &duplicate_ids)?;
        let preview = self
            .merges
            .preview(&caller, survivor, &duplicates)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::PreviewMergeContactsResponse {
            contact: Some(contact::to_proto(&preview.plan.merged)),
            winners: winners_to_proto(&preview.plan.winners),
            moved: moved_to_proto(&preview.moved),
            preview_token: preview.token,
        }))
    }

    async fn merge_contacts(
        &self,
        request: Request<pb::MergeContactsRequest>,
    ) -> Result<Response<pb::MergeContactsResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::MergeContactsRequest {
            survivor_id,
            duplicate_ids,
            preview_token,
            survivor_etag,
            duplicate_etags,
            merged_by,
        } = request.into_inner();
        let (survivor, duplicates) = ids(&survivor_id, &duplicate_ids)?;
        let by_etags = !survivor_etag.is_empty() || !duplicate_etags.is_empty();
        let precondition = match (preview_token.is_empty(), by_etags) {
            (false, false) => MergePrecondition::Token(preview_token),
            (true, true) => MergePrecondition::Etags {
                survivor: survivor_etag,
                duplicates: duplicate_etags,
            },
            (false, true) => {
                return Err(to_status(DomainError::invalid(
                    "preview_token",
                    "give the preview token or the etags, not both",
                )));
            }
            (true, false) => {
                return Err(to_status(DomainError::invalid(
                    "preview_token",
                    "is required (or survivor_etag and duplicate_etags): \
                     a merge applies to the versions the caller saw",
                )));
            }
        };
        let (record, merged) = self
            .merges
            .merge(&caller, survivor, &duplicates, &precondition, &merged_by)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::MergeContactsResponse {
            contact: Some(contact::to_proto(&merged)),
            merge: Some(merge_to_proto(&record)),
        }))
    }

    async fn list_merges(
        &self,
        request: Request<pb::ListMergesRequest>,
    ) -> Result<Response<pb::ListMergesResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::ListMergesRequest {
            contact_id,
            page_size,
            page_token,
        } = request.into_inner();
        let contact = convert::contact_id(&contact_id, "contact_id").map_err(to_status)?;
        let size = kernel::page_size(page_size).map_err(to_status)?;
        let scope = format!("merges:{contact}");
        let before = page_token::decode(&page_token, &scope)
            .map_err(to_status)?
            .map(MergeId::from_uuid);
        let found = self
            .merges
            .list(&caller, contact, before, size)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListMergesResponse {
            merges: found.items.iter().map(merge_to_proto).collect(),
            next_page_token: found
                .next
                .map(|last| page_token::encode(last.as_uuid(), &scope))
                .unwrap_or_default(),
        }))
    }
}
