//! Merges between protobuf and the domain.

use crate::convert::{self, timestamp};
use crm_domain::merge::duplicates::{DuplicateGroup, DuplicateReason};
use crm_domain::merge::{ContactChild, FieldWinner, MergeRecord};
use crm_domain::{ContactId, DomainError};
use crm_proto::v1 as pb;
use std::collections::HashMap;

/// The survivor and duplicate ids of a request, every bad one named.
pub(crate) fn ids(
    survivor: &str,
    duplicates: &[String],
) -> Result<(ContactId, Vec<ContactId>), DomainError> {
    let mut violations = Vec::new();
    let survivor = convert::gather(convert::id(survivor, "survivor_id"), &mut violations);
    let duplicates = convert::gather(
        convert::ids(
            duplicates,
            "duplicate_ids",
            crm_domain::merge::MAX_DUPLICATES,
        ),
        &mut violations,
    );
    match (survivor, duplicates) {
        (Some(survivor), Some(duplicates)) => Ok((survivor, duplicates)),
        _ => Err(DomainError::InvalidArgument(violations)),
    }
}

pub(crate) fn moved_to_proto(moved: &[(ContactChild, u64)]) -> HashMap<String, i64> {
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

pub(crate) fn winners_to_proto(winners: &[FieldWinner]) -> Vec<pb::FieldWinner> {
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

pub(crate) fn merge_to_proto(record: &MergeRecord) -> pb::Merge {
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

pub(crate) fn group_to_proto(group: &DuplicateGroup) -> pb::DuplicateGroup {
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
