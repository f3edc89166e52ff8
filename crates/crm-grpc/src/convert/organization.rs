//! Organizations between protobuf and the domain.

use crm_domain::DomainError;
use crm_domain::fields::ValueChanges;
use crm_domain::organizations::{Organization, OrganizationFields};
use crm_domain::organizations::{OrganizationDraft, OrganizationPatch};
use crm_proto::v1 as pb;

use super::{custom_field, timestamp};

pub(crate) const UPDATABLE: [&str; 4] = ["name", "domains", "description", "custom_fields"];

pub(crate) fn draft(organization: pb::Organization) -> Result<OrganizationDraft, DomainError> {
    let pb::Organization {
        id: _,
        name,
        domains,
        description,
        custom_fields,
        member_count: _,
        create_time: _,
        update_time: _,
        etag: _,
    } = organization;
    let mut violations = Vec::new();
    let values = custom_field::values(custom_fields, "organization", &mut violations);
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument(violations));
    }
    Ok(OrganizationDraft {
        fields: OrganizationFields {
            name,
            domains,
            description,
        },
        custom_fields: ValueChanges {
            replace_all: false,
            values: values
                .into_iter()
                .map(|(key, value)| (key, Some(value)))
                .collect(),
        },
    })
}

pub(crate) fn patch(
    organization: pb::Organization,
    mask: Option<prost_types::FieldMask>,
) -> Result<OrganizationPatch, DomainError> {
    let pb::Organization {
        id: _,
        name,
        domains,
        description,
        custom_fields,
        member_count: _,
        create_time: _,
        update_time: _,
        etag: _,
    } = organization;
    let (mask, custom_keys) = custom_field::split_mask(mask);
    let mut implied = Vec::new();
    for (field, set) in [
        ("name", !name.is_empty()),
        ("domains", !domains.is_empty()),
        ("description", !description.is_empty()),
    ] {
        if set {
            implied.push(field);
        }
    }
    let mask_given = mask.is_some() || custom_keys.is_some();
    let mask = custom_field::parse_mask(mask, custom_keys.as_ref(), &UPDATABLE, implied)?;
    let mut violations = Vec::new();
    let custom_fields = custom_field::value_changes(
        &mask,
        custom_keys,
        mask_given,
        custom_fields,
        "organization",
        &mut violations,
    );
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument(violations));
    }
    Ok(OrganizationPatch {
        name: mask.has("name").then_some(name),
        domains: mask.has("domains").then_some(domains),
        description: mask.has("description").then_some(description),
        custom_fields,
    })
}

pub(crate) fn to_proto(organization: &Organization) -> pb::Organization {
    let Organization {
        id,
        tenant_id: _,
        fields,
        custom_fields,
        member_count,
        version: _,
        create_time,
        update_time,
    } = organization;
    pb::Organization {
        id: id.to_string(),
        name: fields.name.clone(),
        domains: fields.domains.clone(),
        description: fields.description.clone(),
        custom_fields: custom_field::values_to_proto(custom_fields),
        member_count: i64::try_from(*member_count).unwrap_or(i64::MAX),
        create_time: Some(timestamp(*create_time)),
        update_time: Some(timestamp(*update_time)),
        etag: crate::token::etag(organization.version),
    }
}
