//! `custom_fields`: a tenant's field definitions, their spec stored as
//! JSON columns (validation, options, default value).

use std::str::FromStr;

use crm_domain::fields::{
    FieldDefinition, FieldEntity, FieldSpec, FieldType, FieldValue, SelectOption, Validation,
};
use crm_domain::{DomainError, FieldId, SectionId, TenantId};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rows::custom_values::{corrupt, value_from_json, value_to_json};

/// Every column of `custom_fields`, in [`FieldRow`] order.
pub(crate) const FIELD_COLUMNS: &str = "tenant_id, id, entity, key, display_name, description, \
    field_type, required, default_value, validation, options, section_id, position, version, \
    create_time, update_time";

crate::rows::positional_row! {
    /// One row of `custom_fields`, its columns as [`FIELD_COLUMNS`] lists
    /// them.
    FieldRow {
        tenant_id: Uuid,
        id: Uuid,
        entity: String,
        key: String,
        display_name: String,
        description: String,
        field_type: String,
        required: bool,
        default_value: Option<String>,
        validation: String,
        options: String,
        section_id: Option<Uuid>,
        position: i32,
        version: i64,
        create_time: OffsetDateTime,
        update_time: OffsetDateTime,
    }
}

impl FieldRow {
    pub(crate) fn into_domain(self) -> Result<FieldDefinition, DomainError> {
        let validation: Value =
            serde_json::from_str(&self.validation).map_err(|_| corrupt("validation"))?;
        let bound = |key: &str| {
            validation
                .get(key)
                .and_then(Value::as_str)
                .map(|text| Decimal::from_str(text).map_err(|_| corrupt("bound")))
                .transpose()
        };
        let options: Vec<Value> =
            serde_json::from_str(&self.options).map_err(|_| corrupt("options"))?;
        let options = options
            .iter()
            .map(|option| {
                Ok(SelectOption {
                    key: option
                        .get("k")
                        .and_then(Value::as_str)
                        .ok_or_else(|| corrupt("option"))?
                        .to_owned(),
                    label: option
                        .get("l")
                        .and_then(Value::as_str)
                        .ok_or_else(|| corrupt("option"))?
                        .to_owned(),
                    archived: option.get("a").and_then(Value::as_bool).unwrap_or(false),
                })
            })
            .collect::<Result<_, DomainError>>()?;
        let default = self
            .default_value
            .as_deref()
            .map(|text| {
                serde_json::from_str::<Value>(text)
                    .map_err(|_| corrupt("default"))
                    .and_then(|value| value_from_json(&value))
            })
            .transpose()?;
        Ok(FieldDefinition {
            id: FieldId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            entity: FieldEntity::parse(&self.entity).ok_or_else(|| corrupt("entity"))?,
            key: self.key,
            spec: FieldSpec {
                display_name: self.display_name,
                description: self.description,
                field_type: FieldType::parse(&self.field_type)
                    .ok_or_else(|| corrupt("field type"))?,
                required: self.required,
                default,
                validation: Validation {
                    pattern: validation
                        .get("pattern")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    pattern_hint: validation
                        .get("hint")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    min: bound("min")?,
                    max: bound("max")?,
                },
                options,
            },
            section_id: self.section_id.map(SectionId::from_uuid),
            position: u32::try_from(self.position).unwrap_or(0),
            version: self.version,
            create_time: self.create_time,
            update_time: self.update_time,
        })
    }
}

/// The `validation` column of a spec.
pub(crate) fn validation_json(validation: &Validation) -> String {
    json!({
        "pattern": validation.pattern,
        "hint": validation.pattern_hint,
        "min": validation.min.map(|min| min.to_string()),
        "max": validation.max.map(|max| max.to_string()),
    })
    .to_string()
}

/// The `options` column of a spec.
pub(crate) fn options_json(options: &[SelectOption]) -> String {
    Value::Array(
        options
            .iter()
            .map(|option| json!({"k": option.key, "l": option.label, "a": option.archived}))
            .collect(),
    )
    .to_string()
}

/// The `default_value` column of a spec.
pub(crate) fn default_json(default: Option<&FieldValue>) -> Option<String> {
    default.map(|value| value_to_json(value).to_string())
}
