//! Custom fields between protobuf and the domain: values (decimals as
//! strings, money as units + nanos, dates, instants), definitions, the
//! layout's tabs and sections.

use std::str::FromStr;

use crm_domain::fields::layout::{Layout, Section, Tab};
use crm_domain::fields::{
    CustomValues, FieldDefinition, FieldEntity, FieldType, FieldValue, OptionInput, Validation,
    ValueChanges,
};
use crm_domain::fields::{FieldDraft, FieldPatch};
use crm_domain::kernel::Money;
use crm_domain::{DomainError, FieldViolation, SectionId};
use crm_proto::v1 as pb;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::mask::Mask;
use super::{gather, optional_id, timestamp};

/// The paths an UpdateTab or UpdateSection mask may name.
pub(crate) const RENAMABLE: [&str; 1] = ["name"];

pub(crate) const UPDATABLE: [&str; 7] = [
    "display_name",
    "description",
    "type",
    "required",
    "default_value",
    "validation",
    "options",
];

const NANOS: i64 = 1_000_000_000;

pub(crate) fn record_type(value: i32, field: &str) -> Result<FieldEntity, DomainError> {
    match pb::RecordType::try_from(value) {
        Ok(pb::RecordType::Contact) => Ok(FieldEntity::Contact),
        Ok(pb::RecordType::Organization) => Ok(FieldEntity::Organization),
        Ok(pb::RecordType::Conversation) => Ok(FieldEntity::Conversation),
        Ok(pb::RecordType::Unspecified) => Err(DomainError::invalid(field, "is required")),
        Err(_) => Err(DomainError::invalid(
            field,
            format!("{value} is not a RecordType"),
        )),
    }
}

fn record_type_to_proto(entity: FieldEntity) -> pb::RecordType {
    match entity {
        FieldEntity::Contact => pb::RecordType::Contact,
        FieldEntity::Organization => pb::RecordType::Organization,
        FieldEntity::Conversation => pb::RecordType::Conversation,
    }
}

fn field_type(value: i32, field: &str) -> Result<FieldType, FieldViolation> {
    let kind = match pb::CustomFieldType::try_from(value) {
        Ok(pb::CustomFieldType::Text) => FieldType::Text,
        Ok(pb::CustomFieldType::MultilineText) => FieldType::MultilineText,
        Ok(pb::CustomFieldType::Number) => FieldType::Number,
        Ok(pb::CustomFieldType::Currency) => FieldType::Currency,
        Ok(pb::CustomFieldType::Percent) => FieldType::Percent,
        Ok(pb::CustomFieldType::Link) => FieldType::Link,
        Ok(pb::CustomFieldType::Email) => FieldType::Email,
        Ok(pb::CustomFieldType::Phone) => FieldType::Phone,
        Ok(pb::CustomFieldType::Date) => FieldType::Date,
        Ok(pb::CustomFieldType::DateTime) => FieldType::DateTime,
        Ok(pb::CustomFieldType::Checkbox) => FieldType::Checkbox,
        Ok(pb::CustomFieldType::SingleSelect) => FieldType::SingleSelect,
        Ok(pb::CustomFieldType::MultiSelect) => FieldType::MultiSelect,
        Ok(pb::CustomFieldType::Unspecified) => {
            return Err(FieldViolation::new(field, "is required"));
        }
        Err(_) => {
            return Err(FieldViolation::new(
                field,
                format!("{value} is not a CustomFieldType"),
            ));
        }
    };
    Ok(kind)
}

fn field_type_to_proto(kind: FieldType) -> pb::CustomFieldType {
    match kind {
        FieldType::Text => pb::CustomFieldType::Text,
        FieldType::MultilineText => pb::CustomFieldType::MultilineText,
        FieldType::Number => pb::CustomFieldType::Number,
        FieldType::Currency => pb::CustomFieldType::Currency,
        FieldType::Percent => pb::CustomFieldType::Percent,
        FieldType::Link => pb::CustomFieldType::Link,
        FieldType::Email => pb::CustomFieldType::Email,
        FieldType::Phone => pb::CustomFieldType::Phone,
        FieldType::Date => pb::CustomFieldType::Date,
        FieldType::DateTime => pb::CustomFieldType::DateTime,
        FieldType::Checkbox => pb::CustomFieldType::Checkbox,
        FieldType::SingleSelect => pb::CustomFieldType::SingleSelect,
        FieldType::MultiSelect => pb::CustomFieldType::MultiSelect,
    }
}

fn decimal(text: &str, field: &str) -> Result<Decimal, FieldViolation> {
    Decimal::from_str(text.trim())
        .map_err(|_| FieldViolation::new(field, format!("{text:?} is not a decimal number")))
}

/// A value from the API, at request path `field`.
pub(crate) fn value(
    value: pb::CustomFieldValue,
    field: &str,
) -> Result<FieldValue, FieldViolation> {
    use pb::custom_field_value::Value;
    Ok(match value.value {
        None => return Err(FieldViolation::new(field, "has no value set")),
        Some(Value::TextValue(text)) => FieldValue::Text(text),
        Some(Value::NumberValue(text)) => FieldValue::Number(decimal(&text, field)?),
        Some(Value::PercentValue(text)) => FieldValue::Percent(decimal(&text, field)?),
        Some(Value::CurrencyValue(pb::Money {
            currency_code,
            units,
            nanos,
        })) => {
            if !(-999_999_999..=999_999_999).contains(&nanos)
                || (units > 0 && nanos < 0)
                || (units < 0 && nanos > 0)
            {
                return Err(FieldViolation::new(
                    field,
                    "nanos must be within ±999,999,999 and of the sign of units",
                ));
            }
            let total = i128::from(units) * i128::from(NANOS) + i128::from(nanos);
            let amount = Decimal::try_from_i128_with_scale(total, 9)
                .map_err(|_| FieldViolation::new(field, "amount is out of range"))?
                .normalize();
            FieldValue::Currency(Money {
                amount,
                currency: currency_code,
            })
        }
        Some(Value::LinkValue(url)) => FieldValue::Link(url),
        Some(Value::EmailValue(email)) => FieldValue::Email(email),
        Some(Value::PhoneValue(phone)) => FieldValue::Phone(phone),
        Some(Value::DateValue(pb::Date { year, month, day })) => {
            let date = u8::try_from(month)
                .ok()
                .and_then(|month| time::Month::try_from(month).ok())
                .zip(u8::try_from(day).ok())
                .filter(|_| (1..=9999).contains(&year))
                .and_then(|(month, day)| time::Date::from_calendar_date(year, month, day).ok())
                .ok_or_else(|| FieldViolation::new(field, "is not a valid calendar date"))?;
            FieldValue::Date(date)
        }
        Some(Value::DateTimeValue(instant)) => {
            let nanos = i128::from(instant.seconds) * i128::from(NANOS) + i128::from(instant.nanos);
            FieldValue::DateTime(
                time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
                    .map_err(|_| FieldViolation::new(field, "is out of range"))?,
            )
        }
        Some(Value::CheckboxValue(checked)) => FieldValue::Checkbox(checked),
        Some(Value::SelectValue(key)) => FieldValue::Select(key),
        Some(Value::MultiSelectValue(pb::OptionKeys { keys })) => FieldValue::MultiSelect(keys),
    })
}

/// A value for the API.
pub(crate) fn value_to_proto(value: &FieldValue) -> pb::CustomFieldValue {
    use pb::custom_field_value::Value;
    let value = match value {
        FieldValue::Text(text) => Value::TextValue(text.clone()),
        FieldValue::Number(number) => Value::NumberValue(number.to_string()),
        FieldValue::Percent(number) => Value::PercentValue(number.to_string()),
        FieldValue::Currency(money) => {
            let units = money.amount.trunc();
            let nanos = ((money.amount - units) * Decimal::from(NANOS)).trunc();
            Value::CurrencyValue(pb::Money {
                currency_code: money.currency.clone(),
                units: units.to_i64().unwrap_or_default(),
                nanos: nanos.to_i32().unwrap_or_default(),
            })
        }
        FieldValue::Link(url) => Value::LinkValue(url.clone()),
        FieldValue::Email(email) => Value::EmailValue(email.clone()),
        FieldValue::Phone(phone) => Value::PhoneValue(phone.clone()),
        FieldValue::Date(date) => Value::DateValue(pb::Date {
            year: date.year(),
            month: i32::from(u8::from(date.month())),
            day: i32::from(date.day()),
        }),
        FieldValue::DateTime(instant) => Value::DateTimeValue(timestamp(*instant)),
        FieldValue::Checkbox(checked) => Value::CheckboxValue(*checked),
        FieldValue::Select(key) => Value::SelectValue(key.clone()),
        FieldValue::MultiSelect(keys) => {
            Value::MultiSelectValue(pb::OptionKeys { keys: keys.clone() })
        }
    };
    pb::CustomFieldValue { value: Some(value) }
}

/// Every value of a record's map, each at `custom_fields.KEY` in the
/// message at `prefix` (empty: relative to the record).
pub(crate) fn values(
    map: std::collections::HashMap<String, pb::CustomFieldValue>,
    prefix: &str,
    violations: &mut Vec<FieldViolation>,
) -> Vec<(String, FieldValue)> {
    let mut out = Vec::with_capacity(map.len());
    for (key, item) in map {
        match value(item, &format!("custom_fields.{key}")) {
            Ok(parsed) => out.push((key, parsed)),
            Err(violation) if prefix.is_empty() => violations.push(violation),
            Err(violation) => violations.push(violation.scoped(prefix)),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub(crate) fn values_to_proto(
    values: &CustomValues,
) -> std::collections::HashMap<String, pb::CustomFieldValue> {
    values
        .iter()
        .map(|(key, value)| (key.clone(), value_to_proto(value)))
        .collect()
}

/// `custom_fields.KEY` paths of an update mask, and whether they were the
/// whole mask.
pub(crate) type CustomPaths = (Vec<String>, bool);

/// Splits an update mask into its plain paths and its `custom_fields.KEY` paths.
pub(crate) fn split_mask(
    mask: Option<prost_types::FieldMask>,
) -> (Option<prost_types::FieldMask>, Option<CustomPaths>) {
    match mask {
        Some(prost_types::FieldMask { paths }) if !paths.is_empty() => {
            let (custom, plain): (Vec<String>, Vec<String>) = paths
                .into_iter()
                .partition(|path| path.starts_with("custom_fields."));
            let keys: Vec<String> = custom
                .into_iter()
                .map(|path| path["custom_fields.".len()..].to_owned())
                .collect();
            let only_custom = plain.is_empty();
            (
                (!only_custom).then_some(prost_types::FieldMask { paths: plain }),
                Some((keys, only_custom)),
            )
        }
        other => (other, None),
    }
}

/// Parses the plain part of a split mask; a mask of only `custom_fields.KEY`
/// paths changes nothing else.
pub(crate) fn parse_mask(
    plain: Option<prost_types::FieldMask>,
    custom: Option<&CustomPaths>,
    allowed: &[&str],
    implied: Vec<&str>,
) -> Result<Mask, DomainError> {
    match custom {
        Some((_, true)) => Mask::parse(None, allowed, Vec::new()),
        _ => Mask::parse(plain, allowed, implied),
    }
}

/// The value changes an update asks for: `custom_fields` in the mask
/// replaces every value, `custom_fields.KEY` sets or (absent from the map)
/// clears one, and without a mask the map's keys are set.
pub(crate) fn value_changes(
    mask: &Mask,
    custom: Option<CustomPaths>,
    mask_given: bool,
    map: std::collections::HashMap<String, pb::CustomFieldValue>,
    prefix: &str,
    violations: &mut Vec<FieldViolation>,
) -> Option<ValueChanges> {
    let implied = !mask_given && !map.is_empty();
    let given = values(map, prefix, violations);
    if mask.has("custom_fields") {
        Some(ValueChanges {
            replace_all: true,
            values: given
                .into_iter()
                .map(|(key, value)| (key, Some(value)))
                .collect(),
        })
    } else if let Some((keys, _)) = custom.filter(|(keys, _)| !keys.is_empty()) {
        Some(ValueChanges {
            replace_all: false,
            values: keys
                .into_iter()
                .map(|key| {
                    let value = given
                        .iter()
                        .find(|(given_key, _)| *given_key == key)
                        .map(|(_, value)| value.clone());
                    (key, value)
                })
                .collect(),
        })
    } else if implied {
        Some(ValueChanges {
            replace_all: false,
            values: given
                .into_iter()
                .map(|(key, value)| (key, Some(value)))
                .collect(),
        })
    } else {
        None
    }
}

fn validation(
    validation: Option<pb::CustomFieldValidation>,
    violations: &mut Vec<FieldViolation>,
) -> Validation {
    let Some(pb::CustomFieldValidation {
        pattern,
        pattern_hint,
        min,
        max,
    }) = validation
    else {
        return Validation::default();
    };
    let mut bound = |text: String, field: &str| {
        if text.is_empty() {
            return None;
        }
        decimal(&text, field)
            .map_err(|violation| violations.push(violation))
            .ok()
    };
    let min = bound(min, "field.validation.min");
    let max = bound(max, "field.validation.max");
    Validation {
        pattern: (!pattern.is_empty()).then_some(pattern),
        pattern_hint,
        min,
        max,
    }
}

fn options(options: Vec<pb::SelectOption>) -> Vec<OptionInput> {
    options
        .into_iter()
        .map(
            |pb::SelectOption {
                 key,
                 label,
                 archived,
             }| OptionInput {
                key,
                label,
                archived,
            },
        )
        .collect()
}

/// The draft of a field to create.
pub(crate) fn draft(field: pb::CustomField) -> Result<FieldDraft, DomainError> {
    let pb::CustomField {
        id: _,
        record_type: entity,
        key,
        display_name,
        description,
        r#type,
        required,
        default_value,
        validation: checks,
        options: choices,
        section_id,
        position: _,
        create_time: _,
        update_time: _,
        etag: _,
    } = field;
    let mut violations = Vec::new();
    let entity = match record_type(entity, "field.record_type") {
        Ok(entity) => Some(entity),
        Err(DomainError::InvalidArgument(found)) => {
            violations.extend(found);
            None
        }
        Err(other) => return Err(other),
    };
    let kind = field_type(r#type, "field.type")
        .map_err(|violation| violations.push(violation))
        .ok();
    let default = default_value.and_then(|item| {
        value(item, "field.default_value")
            .map_err(|violation| violations.push(violation))
            .ok()
    });
    let validation = validation(checks, &mut violations);
    let section_id = gather(
        optional_id::<SectionId>(&section_id, "field.section_id"),
        &mut violations,
    )
    .flatten();
    match (entity, kind) {
        (Some(entity), Some(field_type)) if violations.is_empty() => Ok(FieldDraft {
            entity,
            key: (!key.is_empty()).then_some(key),
            display_name,
            description,
            field_type,
            required,
            default,
            validation,
            options: options(choices),
            section_id,
        }),
        _ => Err(DomainError::InvalidArgument(violations)),
    }
}

/// The patch an update asks for.
pub(crate) fn patch(
    field: pb::CustomField,
    mask: Option<prost_types::FieldMask>,
) -> Result<FieldPatch, DomainError> {
    let pb::CustomField {
        id: _,
        record_type: _,
        key: _,
        display_name,
        description,
        r#type,
        required,
        default_value,
        validation: checks,
        options: choices,
        section_id: _,
        position: _,
        create_time: _,
        update_time: _,
        etag: _,
    } = field;
    let mut implied = Vec::new();
    for (name, set) in [
        ("display_name", !display_name.is_empty()),
        ("description", !description.is_empty()),
        ("type", r#type != 0),
        ("required", required),
        ("default_value", default_value.is_some()),
        ("validation", checks.is_some()),
        ("options", !choices.is_empty()),
    ] {
        if set {
            implied.push(name);
        }
    }
    let mask = Mask::parse(mask, &UPDATABLE, implied)?;
    let mut violations = Vec::new();
    let field_type = if mask.has("type") {
        field_type(r#type, "field.type")
            .map_err(|violation| violations.push(violation))
            .ok()
    } else {
        None
    };
    let default = if mask.has("default_value") {
        Some(default_value.and_then(|item| {
            value(item, "field.default_value")
                .map_err(|violation| violations.push(violation))
                .ok()
        }))
    } else {
        None
    };
    let checks = mask
        .has("validation")
        .then(|| validation(checks, &mut violations));
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument(violations));
    }
    Ok(FieldPatch {
        display_name: mask.has("display_name").then_some(display_name),
        description: mask.has("description").then_some(description),
        field_type,
        required: mask.has("required").then_some(required),
        default,
        validation: checks,
        options: mask.has("options").then(|| options(choices)),
    })
}

pub(crate) fn to_proto(field: &FieldDefinition) -> pb::CustomField {
    let FieldDefinition {
        id,
        tenant_id: _,
        entity,
        key,
        spec,
        section_id,
        position,
        version: _,
        create_time,
        update_time,
    } = field;
    let checks = &spec.validation;
    let has_checks = checks.pattern.is_some()
        || !checks.pattern_hint.is_empty()
        || checks.min.is_some()
        || checks.max.is_some();
    pb::CustomField {
        id: id.to_string(),
        record_type: record_type_to_proto(*entity) as i32,
        key: key.clone(),
        display_name: spec.display_name.clone(),
        description: spec.description.clone(),
        r#type: field_type_to_proto(spec.field_type) as i32,
        required: spec.required,
        default_value: spec.default.as_ref().map(value_to_proto),
        validation: has_checks.then(|| pb::CustomFieldValidation {
            pattern: checks.pattern.clone().unwrap_or_default(),
            pattern_hint: checks.pattern_hint.clone(),
            min: checks.min.map(|min| min.to_string()).unwrap_or_default(),
            max: checks.max.map(|max| max.to_string()).unwrap_or_default(),
        }),
        options: spec
            .options
            .iter()
            .map(|option| pb::SelectOption {
                key: option.key.clone(),
                label: option.label.clone(),
                archived: option.archived,
            })
            .collect(),
        section_id: section_id.map(|id| id.to_string()).unwrap_or_default(),
        position: i32::try_from(*position).unwrap_or(i32::MAX),
        create_time: Some(timestamp(*create_time)),
        update_time: Some(timestamp(*update_time)),
        etag: crate::token::etag(field.version),
    }
}

pub(crate) fn tab_to_proto(tab: &Tab) -> pb::Tab {
    let Tab {
        id,
        tenant_id: _,
        entity,
        name,
        position,
        version,
        create_time,
        update_time,
    } = tab;
    pb::Tab {
        id: id.to_string(),
        record_type: record_type_to_proto(*entity) as i32,
        name: name.clone(),
        position: i32::try_from(*position).unwrap_or(i32::MAX),
        create_time: Some(timestamp(*create_time)),
        update_time: Some(timestamp(*update_time)),
        etag: crate::token::etag(*version),
    }
}

pub(crate) fn section_to_proto(section: &Section) -> pb::Section {
    let Section {
        id,
        tenant_id: _,
        tab_id,
        name,
        position,
        version,
        create_time,
        update_time,
    } = section;
    pb::Section {
        id: id.to_string(),
        tab_id: tab_id.to_string(),
        name: name.clone(),
        position: i32::try_from(*position).unwrap_or(i32::MAX),
        create_time: Some(timestamp(*create_time)),
        update_time: Some(timestamp(*update_time)),
        etag: crate::token::etag(*version),
    }
}

pub(crate) fn layout_to_proto(layout: &Layout) -> pb::Layout {
    pb::Layout {
        record_type: record_type_to_proto(layout.entity) as i32,
        tabs: layout
            .tabs
            .iter()
            .map(|view| pb::LayoutTab {
                tab: Some(tab_to_proto(&view.tab)),
                sections: view
                    .sections
                    .iter()
                    .map(|section| pb::LayoutSection {
                        section: Some(section_to_proto(&section.section)),
                        fields: section.fields.iter().map(to_proto).collect(),
                    })
                    .collect(),
            })
            .collect(),
        unplaced_fields: layout.unplaced.iter().map(to_proto).collect(),
    }
}

/// The new name of a tab or section update: only `name` may be in the mask.
pub(crate) fn new_name(
    name: String,
    mask: Option<prost_types::FieldMask>,
    prefix: &str,
) -> Result<String, DomainError> {
    let mask = Mask::parse(mask, &RENAMABLE, vec!["name"])?;
    if !mask.has("name") {
        return Err(DomainError::invalid(
            "update_mask",
            format!("only {prefix}.name can change"),
        ));
    }
    Ok(name)
}

pub(crate) fn tabs(tabs: &[Tab]) -> Vec<pb::Tab> {
    tabs.iter().map(tab_to_proto).collect()
}

pub(crate) fn sections(sections: &[Section]) -> Vec<pb::Section> {
    sections.iter().map(section_to_proto).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn money_round_trips_through_units_and_nanos() {
        for (units, nanos, text) in [
            (12, 500_000_000, "12.5"),
            (-3, -10, "-3.00000001"),
            (0, 0, "0"),
        ] {
            let proto = pb::CustomFieldValue {
                value: Some(pb::custom_field_value::Value::CurrencyValue(pb::Money {
                    currency_code: "USD".into(),
                    units,
                    nanos,
                })),
            };
            let parsed = value(proto.clone(), "v").unwrap();
            let FieldValue::Currency(money) = &parsed else {
                panic!("not money");
            };
            assert_eq!(money.amount.to_string(), text);
            assert_eq!(value_to_proto(&parsed), proto);
        }
        let mixed = pb::CustomFieldValue {
            value: Some(pb::custom_field_value::Value::CurrencyValue(pb::Money {
                currency_code: "USD".into(),
                units: 1,
                nanos: -1,
            })),
        };
        assert!(value(mixed, "v").is_err());
    }
}
