//! Tiers between protobuf and the domain: fields for create, patches for
//! update, the resource and its summary for responses.

use crm_domain::tiers::TierPatch;
use crm_domain::tiers::{SlaPolicy, Tier, TierBadge, TierFields};
use crm_domain::{DomainError, FieldViolation};
use crm_proto::v1 as pb;

use super::mask::Mask;
use super::timestamp;

pub(crate) const UPDATABLE: [&str; 4] = ["name", "color", "sla_policy", "auto_tags"];

fn duration(
    value: Option<prost_types::Duration>,
    field: &str,
    violations: &mut Vec<FieldViolation>,
) -> Option<time::Duration> {
    let value = value?;
    if value.nanos != 0 {
        violations.push(FieldViolation::new(field, "must be whole seconds"));
        return None;
    }
    Some(time::Duration::seconds(value.seconds))
}

fn sla(
    policy: Option<pb::SlaPolicy>,
    prefix: &str,
    violations: &mut Vec<FieldViolation>,
) -> SlaPolicy {
    let Some(pb::SlaPolicy {
        first_response_target,
        resolution_target,
    }) = policy
    else {
        return SlaPolicy::default();
    };
    SlaPolicy {
        first_response: duration(
            first_response_target,
            &format!("{prefix}.sla_policy.first_response_target"),
            violations,
        ),
        resolution: duration(
            resolution_target,
            &format!("{prefix}.sla_policy.resolution_target"),
            violations,
        ),
    }
}

fn sla_to_proto(policy: SlaPolicy) -> Option<pb::SlaPolicy> {
    let target = |duration: Option<time::Duration>| {
        duration.map(|duration| prost_types::Duration {
            seconds: duration.whole_seconds(),
            nanos: 0,
        })
    };
    (!policy.is_empty()).then(|| pb::SlaPolicy {
        first_response_target: target(policy.first_response),
        resolution_target: target(policy.resolution),
    })
}

/// The fields of a tier to create.
pub(crate) fn fields(tier: pb::Tier) -> Result<TierFields, DomainError> {
    let pb::Tier {
        id: _,
        name,
        color,
        rank: _,
        sla_policy,
        auto_tags,
        create_time: _,
        update_time: _,
        etag: _,
    } = tier;
    let mut violations = Vec::new();
    let sla = sla(sla_policy, "tier", &mut violations);
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument(violations));
    }
    Ok(TierFields {
        name,
        color,
        sla,
        auto_tags,
    })
}

/// The patch an update asks for.
pub(crate) fn patch(
    tier: pb::Tier,
    mask: Option<prost_types::FieldMask>,
) -> Result<TierPatch, DomainError> {
    let pb::Tier {
        id: _,
        name,
        color,
        rank: _,
        sla_policy,
        auto_tags,
        create_time: _,
        update_time: _,
        etag: _,
    } = tier;
    let mut implied = Vec::new();
    for (field, set) in [
        ("name", !name.is_empty()),
        ("color", !color.is_empty()),
        ("sla_policy", sla_policy.is_some()),
        ("auto_tags", !auto_tags.is_empty()),
    ] {
        if set {
            implied.push(field);
        }
    }
    let mask = Mask::parse(mask, &UPDATABLE, implied)?;
    let mut violations = Vec::new();
    let sla = mask
        .has("sla_policy")
        .then(|| sla(sla_policy, "tier", &mut violations));
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument(violations));
    }
    Ok(TierPatch {
        name: mask.has("name").then_some(name),
        color: mask.has("color").then_some(color),
        sla,
        auto_tags: mask.has("auto_tags").then_some(auto_tags),
    })
}

pub(crate) fn to_proto(tier: &Tier) -> pb::Tier {
    let Tier {
        id,
        tenant_id: _,
        fields,
        rank,
        version: _,
        create_time,
        update_time,
    } = tier;
    pb::Tier {
        id: id.to_string(),
        name: fields.name.clone(),
        color: fields.color.clone(),
        rank: i32::try_from(*rank).unwrap_or(i32::MAX),
        sla_policy: sla_to_proto(fields.sla),
        auto_tags: fields.auto_tags.clone(),
        create_time: Some(timestamp(*create_time)),
        update_time: Some(timestamp(*update_time)),
        etag: crate::token::etag(tier.version),
    }
}

pub(crate) fn summary(badge: &TierBadge) -> pb::TierSummary {
    let TierBadge {
        id,
        name,
        color,
        rank,
        sla,
    } = badge;
    pb::TierSummary {
        id: id.to_string(),
        name: name.clone(),
        color: color.clone(),
        rank: i32::try_from(*rank).unwrap_or(i32::MAX),
        sla_policy: sla_to_proto(*sla),
    }
}
