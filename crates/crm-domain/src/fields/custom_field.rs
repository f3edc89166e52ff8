//! Custom fields: definitions a tenant adds to a record type (contacts and
//! organizations today; conversations and deals can follow, since every
//! definition names its entity), their typed values, and the pure rules:
//! generating stable keys, validating definitions, and validating each value
//! written against its definition.

use crate::identity;
use crate::kernel::{Money, is_currency};
use std::collections::{BTreeMap, HashSet};

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};

use crate::identity::{PhoneInput, Region};
use crate::kernel::{DomainError, FieldViolation};
use crate::kernel::{FieldId, SectionId, TenantId};

/// Most definitions per entity and tenant.
pub const MAX_FIELDS_PER_ENTITY: usize = 1000;

/// Most options of one select field.
pub const MAX_OPTIONS: usize = 500;

/// Longest key, display name and option label, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// Longest single-line text value.
pub const MAX_TEXT_CHARS: usize = 1000;

/// Longest multi-line text value.
pub const MAX_MULTILINE_CHARS: usize = 10_000;

/// Longest validation pattern.
pub const MAX_PATTERN_CHARS: usize = 500;

/// The record types custom fields can be defined on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldEntity {
    /// Contacts.
    Contact,
    /// Organizations.
    Organization,
    /// Conversations.
    Conversation,
}

impl FieldEntity {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldEntity::Contact => "contact",
            FieldEntity::Organization => "organization",
            FieldEntity::Conversation => "conversation",
        }
    }

    /// Inverse of [`FieldEntity::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [
            FieldEntity::Contact,
            FieldEntity::Organization,
            FieldEntity::Conversation,
        ]
        .into_iter()
        .find(|entity| entity.as_str() == text)
    }

    /// The entity's standard field names, which no custom key may take.
    pub fn reserved_keys(self) -> &'static [&'static str] {
        match self {
            FieldEntity::Contact => &[
                "id",
                "name",
                "display_name",
                "email",
                "emails",
                "phone",
                "phones",
                "identities",
                "external_id",
                "city",
                "country",
                "language",
                "avatar_url",
                "blocked",
                "lifecycle_stage",
                "tier",
                "tier_id",
                "tags",
                "organization",
                "organization_id",
                "custom_fields",
                "create_time",
                "update_time",
                "etag",
            ],
            FieldEntity::Conversation => &[
                "id",
                "contact_id",
                "sender",
                "channel",
                "source",
                "source_conversation_id",
                "started_at",
                "ended_at",
                "status",
                "handled_by",
                "team",
                "subject",
                "outcome",
                "message_count",
                "csat_score",
                "custom_fields",
                "create_time",
                "update_time",
                "etag",
            ],
            FieldEntity::Organization => &[
                "id",
                "name",
                "domains",
                "description",
                "member_count",
                "members",
                "custom_fields",
                "create_time",
                "update_time",
                "etag",
            ],
        }
    }
}

/// The type of a custom field, which fixes the shape of its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// One line of text.
    Text,
    /// Several lines of text.
    MultilineText,
    /// An exact decimal number.
    Number,
    /// An amount of money in an ISO 4217 currency.
    Currency,
    /// A percentage, as an exact decimal (12.5 means 12.5%).
    Percent,
    /// An http(s) URL.
    Link,
    /// An email address, normalised like an identity.
    Email,
    /// A phone number, normalised to E.164 like an identity.
    Phone,
    /// A calendar date.
    Date,
    /// An instant.
    DateTime,
    /// Yes or no.
    Checkbox,
    /// One option of a list.
    SingleSelect,
    /// Any options of a list.
    MultiSelect,
}

impl FieldType {
    /// Every type.
    pub const ALL: [FieldType; 13] = [
        FieldType::Text,
        FieldType::MultilineText,
        FieldType::Number,
        FieldType::Currency,
        FieldType::Percent,
        FieldType::Link,
        FieldType::Email,
        FieldType::Phone,
        FieldType::Date,
        FieldType::DateTime,
        FieldType::Checkbox,
        FieldType::SingleSelect,
        FieldType::MultiSelect,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::MultilineText => "multiline_text",
            FieldType::Number => "number",
            FieldType::Currency => "currency",
            FieldType::Percent => "percent",
            FieldType::Link => "link",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Date => "date",
            FieldType::DateTime => "date_time",
            FieldType::Checkbox => "checkbox",
            FieldType::SingleSelect => "single_select",
            FieldType::MultiSelect => "multi_select",
        }
    }

    /// Inverse of [`FieldType::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    fn is_select(self) -> bool {
        matches!(self, FieldType::SingleSelect | FieldType::MultiSelect)
    }

    fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Number | FieldType::Percent | FieldType::Currency
        )
    }

    fn is_text(self) -> bool {
        matches!(self, FieldType::Text | FieldType::MultilineText)
    }
}

/// A custom-field value. Which variant a field takes follows from its type
/// (text and multi-line text both take `Text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// Text or multi-line text.
    Text(String),
    /// A number.
    Number(Decimal),
    /// Money.
    Currency(Money),
    /// A percentage.
    Percent(Decimal),
    /// A URL.
    Link(String),
    /// An email address.
    Email(String),
    /// A phone number (E.164 once validated).
    Phone(String),
    /// A date.
    Date(Date),
    /// An instant.
    DateTime(OffsetDateTime),
    /// Yes or no.
    Checkbox(bool),
    /// An option key.
    Select(String),
    /// Option keys.
    MultiSelect(Vec<String>),
}

impl FieldValue {
    /// The name of the value's shape, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            FieldValue::Text(_) => "text",
            FieldValue::Number(_) => "number",
            FieldValue::Currency(_) => "currency",
            FieldValue::Percent(_) => "percent",
            FieldValue::Link(_) => "link",
            FieldValue::Email(_) => "email",
            FieldValue::Phone(_) => "phone",
            FieldValue::Date(_) => "date",
            FieldValue::DateTime(_) => "date_time",
            FieldValue::Checkbox(_) => "checkbox",
            FieldValue::Select(_) => "single_select",
            FieldValue::MultiSelect(_) => "multi_select",
        }
    }

    fn fits(&self, field_type: FieldType) -> bool {
        matches!(
            (self, field_type),
            (
                FieldValue::Text(_),
                FieldType::Text | FieldType::MultilineText
            ) | (FieldValue::Number(_), FieldType::Number)
                | (FieldValue::Currency(_), FieldType::Currency)
                | (FieldValue::Percent(_), FieldType::Percent)
                | (FieldValue::Link(_), FieldType::Link)
                | (FieldValue::Email(_), FieldType::Email)
                | (FieldValue::Phone(_), FieldType::Phone)
                | (FieldValue::Date(_), FieldType::Date)
                | (FieldValue::DateTime(_), FieldType::DateTime)
                | (FieldValue::Checkbox(_), FieldType::Checkbox)
                | (FieldValue::Select(_), FieldType::SingleSelect)
                | (FieldValue::MultiSelect(_), FieldType::MultiSelect)
        )
    }
}

/// The values of a record, by field key.
pub type CustomValues = BTreeMap<String, FieldValue>;

/// One option of a select field. Its position in the list is its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectOption {
    /// Stable key, generated from the first label; what values store.
    pub key: String,
    /// Shown label.
    pub label: String,
    /// An archived option stays valid in stored values but cannot be chosen anew.
    pub archived: bool,
}

/// How values of a field are checked beyond their type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Validation {
    /// Text only: a regular expression the whole value must match.
    pub pattern: Option<String>,
    /// Text only: what to tell a user whose value does not match.
    pub pattern_hint: String,
    /// Number, percent and currency (the amount): the smallest value allowed.
    pub min: Option<Decimal>,
    /// Number, percent and currency: the largest value allowed.
    pub max: Option<Decimal>,
}

/// A stored custom-field definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDefinition {
    /// Its id.
    pub id: FieldId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The record type it belongs to.
    pub entity: FieldEntity,
    /// Stable key values are stored and addressed by; never changes.
    pub key: String,
    /// What the caller can change.
    pub spec: FieldSpec,
    /// The section it is shown in; `None` until placed.
    pub section_id: Option<SectionId>,
    /// Its order within its section (or among unplaced fields).
    pub position: u32,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// When it was created.
    pub create_time: OffsetDateTime,
    /// When it last changed.
    pub update_time: OffsetDateTime,
}

impl FieldDefinition {}

/// The part of a definition a caller writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// Shown name.
    pub display_name: String,
    /// Help text.
    pub description: String,
    /// The type of its values.
    pub field_type: FieldType,
    /// Whether a record must have a value (checked on create, and when a
    /// write clears it).
    pub required: bool,
    /// The value a new record gets when none is given.
    pub default: Option<FieldValue>,
    /// Checks beyond the type.
    pub validation: Validation,
    /// Select types: the options, in order.
    pub options: Vec<SelectOption>,
}

/// An option as a caller writes it: an empty key adds a new option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionInput {
    /// The key of an existing option, or empty for a new one.
    pub key: String,
    /// The label.
    pub label: String,
    /// Whether it is archived.
    pub archived: bool,
}

/// A key from a display name: ASCII letters and digits, lower-cased, other
/// runs as one `_`, at most 64 characters, starting with a letter. Not unique
/// by itself: see [`unique_key`].
pub fn key_from_name(name: &str) -> String {
    let mut key = String::new();
    let mut gap = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !key.is_empty() {
                key.push('_');
            }
            gap = false;
            key.push(c.to_ascii_lowercase());
        } else {
            gap = true;
        }
    }
    if key.is_empty() {
        key.push_str("field");
    } else if key.starts_with(|c: char| c.is_ascii_digit()) {
        key.insert_str(0, "f_");
    }
    key.truncate(MAX_NAME_CHARS - 4);
    key.trim_end_matches('_').to_owned()
}

/// The first of `base`, `base_2`, `base_3`, ... that is neither reserved nor
/// in `taken`.
pub fn unique_key(base: &str, reserved: &[&str], taken: &HashSet<String>) -> String {
    let free = |key: &str| !reserved.contains(&key) && !taken.contains(key);
    if free(base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|key| free(key))
        .unwrap_or_else(|| base.to_owned())
}

/// Whether a caller-chosen key has the shape of a generated one.
pub fn is_valid_key(key: &str) -> bool {
    key.len() <= MAX_NAME_CHARS
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Resolves a caller's option list against the options a field has: keeps
/// keys of existing options, generates keys for new ones, and refuses
/// dropping an option (archive it instead) or naming an unknown key.
///
/// # Errors
/// Field violations under `prefix`, the path of the option list
/// (`options`).
pub fn resolve_options(
    current: &[SelectOption],
    inputs: &[OptionInput],
    prefix: &str,
) -> Result<Vec<SelectOption>, Vec<FieldViolation>> {
    // The count first: a list over the limit is not looked at.
    if inputs.len() > MAX_OPTIONS {
        return Err(vec![FieldViolation::new(
            prefix,
            format!(
                "holds {} options; at most {MAX_OPTIONS} are allowed",
                inputs.len()
            ),
        )]);
    }
    let mut violations = Vec::new();
    let mut taken: HashSet<String> = current.iter().map(|o| o.key.clone()).collect();
    let mut labels = HashSet::new();
    let mut out = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.iter().enumerate() {
        let label = input.label.trim().to_owned();
        if label.is_empty() || label.chars().count() > MAX_NAME_CHARS {
            violations.push(FieldViolation::new(
                format!("{prefix}[{index}].label"),
                format!("must be 1 to {MAX_NAME_CHARS} characters"),
            ));
            continue;
        }
        if !labels.insert(label.to_lowercase()) {
            violations.push(FieldViolation::new(
                format!("{prefix}[{index}].label"),
                "is listed twice",
            ));
            continue;
        }
        let key = if input.key.is_empty() {
            let key = unique_key(&key_from_name(&label), &[], &taken);
            taken.insert(key.clone());
            key
        } else if current.iter().any(|option| option.key == input.key) {
            input.key.clone()
        } else {
            violations.push(FieldViolation::new(
                format!("{prefix}[{index}].key"),
                "is not an option of this field; leave it empty to add an option",
            ));
            continue;
        };
        if out.iter().any(|option: &SelectOption| option.key == key) {
            violations.push(FieldViolation::new(
                format!("{prefix}[{index}].key"),
                "is listed twice",
            ));
            continue;
        }
        out.push(SelectOption {
            key,
            label,
            archived: input.archived,
        });
    }
    let dropped: Vec<&str> = current
        .iter()
        .filter(|option| !out.iter().any(|kept| kept.key == option.key))
        .filter(|option| !violations.iter().any(|v| v.field.contains(&option.key)))
        .map(|option| option.key.as_str())
        .collect();
    if !dropped.is_empty() && violations.is_empty() {
        violations.push(FieldViolation::new(
            prefix,
            format!(
                "options cannot be removed, since stored values may use them; archive {} instead",
                crate::kernel::some_of(dropped)
            ),
        ));
    }
    if violations.is_empty() {
        Ok(out)
    } else {
        Err(violations)
    }
}

/// Checks a definition's spec: names, type-specific validation, options,
/// and the default value. Paths are relative to the definition
/// (`validation.max`).
///
/// # Errors
/// `InvalidArgument` listing every problem.
pub fn validate_spec(spec: FieldSpec, region: Region) -> Result<FieldSpec, DomainError> {
    let mut violations = Vec::new();
    let mut spec = spec;
    spec.display_name = spec.display_name.trim().to_owned();
    if spec.display_name.is_empty() || spec.display_name.chars().count() > MAX_NAME_CHARS {
        violations.push(FieldViolation::new(
            "display_name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    spec.description = spec.description.trim().to_owned();
    if spec.description.chars().count() > MAX_DESCRIPTION_CHARS {
        violations.push(FieldViolation::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    let kind = spec.field_type;
    let validation = &mut spec.validation;
    if let Some(pattern) = &validation.pattern {
        if !kind.is_text() {
            violations.push(FieldViolation::new(
                "validation.pattern",
                "applies to text fields only",
            ));
        } else if pattern.chars().count() > MAX_PATTERN_CHARS {
            violations.push(FieldViolation::new(
                "validation.pattern",
                format!("must be at most {MAX_PATTERN_CHARS} characters"),
            ));
        } else if let Err(error) = compile(pattern) {
            violations.push(FieldViolation::new(
                "validation.pattern",
                format!("is not a valid regular expression: {error}"),
            ));
        }
    } else if !validation.pattern_hint.is_empty() {
        violations.push(FieldViolation::new(
            "validation.pattern_hint",
            "needs a pattern",
        ));
    }
    if (validation.min.is_some() || validation.max.is_some()) && !kind.is_numeric() {
        violations.push(FieldViolation::new(
            "validation",
            "min and max apply to number, percent and currency fields only",
        ));
    }
    if let (Some(min), Some(max)) = (validation.min, validation.max)
        && min > max
    {
        violations.push(FieldViolation::new(
            "validation.max",
            "must not be less than min",
        ));
    }
    if kind.is_select() {
        if spec.options.is_empty() {
            violations.push(FieldViolation::new(
                "options",
                "a select field needs at least one option",
            ));
        }
    } else if !spec.options.is_empty() {
        violations.push(FieldViolation::new(
            "options",
            "apply to select fields only",
        ));
    }
    if violations.is_empty()
        && let Some(default) = spec.default.take()
    {
        match validate_value(&spec, default, region) {
            Ok(value) => spec.default = Some(value),
            Err(problem) => violations.push(FieldViolation::new("default_value", problem)),
        }
    }
    if violations.is_empty() {
        Ok(spec)
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
}

/// Checks one value against a field's spec and returns it normalised
/// (email lower-cased, phone in E.164, currency code upper-cased, multi-select
/// keys without repeats in option order).
///
/// # Errors
/// What is wrong, in words fit for a field violation.
pub fn validate_value(
    spec: &FieldSpec,
    value: FieldValue,
    region: Region,
) -> Result<FieldValue, String> {
    if !value.fits(spec.field_type) {
        return Err(format!(
            "expects a {} value, not {}",
            spec.field_type.as_str(),
            value.kind()
        ));
    }
    let in_range = |number: Decimal| -> Result<(), String> {
        if let Some(min) = spec.validation.min
            && number < min
        {
            return Err(format!("must be at least {min}"));
        }
        if let Some(max) = spec.validation.max
            && number > max
        {
            return Err(format!("must be at most {max}"));
        }
        Ok(())
    };
    let chosen = |key: &str| -> Result<(), String> {
        match spec.options.iter().find(|option| option.key == key) {
            None => Err(format!("{key:?} is not an option of this field")),
            Some(option) if option.archived => Err(format!("option {key:?} is archived")),
            Some(_) => Ok(()),
        }
    };
    match value {
        FieldValue::Text(text) => {
            let limit = if spec.field_type == FieldType::Text {
                MAX_TEXT_CHARS
            } else {
                MAX_MULTILINE_CHARS
            };
            if text.chars().count() > limit {
                return Err(format!("must be at most {limit} characters"));
            }
            if spec.field_type == FieldType::Text && text.contains(['\n', '\r']) {
                return Err("must be one line; use a multi-line text field".to_owned());
            }
            if let Some(pattern) = &spec.validation.pattern {
                let regex = compile(pattern).map_err(|_| "has an invalid pattern".to_owned())?;
                if !regex.is_match(&text) {
                    return Err(if spec.validation.pattern_hint.is_empty() {
                        format!("must match {pattern}")
                    } else {
                        spec.validation.pattern_hint.clone()
                    });
                }
            }
            Ok(FieldValue::Text(text))
        }
        FieldValue::Number(number) => in_range(number).map(|()| FieldValue::Number(number)),
        FieldValue::Percent(number) => in_range(number).map(|()| FieldValue::Percent(number)),
        FieldValue::Currency(money) => {
            let currency = money.currency.trim().to_ascii_uppercase();
            if !is_currency(&currency) {
                return Err(format!(
                    "{:?} is not an ISO 4217 currency code",
                    money.currency
                ));
            }
            in_range(money.amount)?;
            Ok(FieldValue::Currency(Money {
                amount: money.amount,
                currency,
            }))
        }
        FieldValue::Link(url) => {
            let url = url.trim().to_owned();
            if crate::kernel::is_http_url(&url) {
                Ok(FieldValue::Link(url))
            } else {
                Err("must be an http or https URL".to_owned())
            }
        }
        FieldValue::Email(email) => identity::normalize_email(&email)
            .map(FieldValue::Email)
            .map_err(|error| error.to_string()),
        FieldValue::Phone(phone) => identity::normalize_phone(&phone, region, PhoneInput::National)
            .map(FieldValue::Phone)
            .map_err(|error| error.to_string()),
        FieldValue::Select(key) => chosen(&key).map(|()| FieldValue::Select(key)),
        FieldValue::MultiSelect(keys) => {
            for key in &keys {
                chosen(key)?;
            }
            Ok(FieldValue::MultiSelect(
                spec.options
                    .iter()
                    .filter(|option| keys.contains(&option.key))
                    .map(|option| option.key.clone())
                    .collect(),
            ))
        }
        value @ (FieldValue::Date(_) | FieldValue::DateTime(_) | FieldValue::Checkbox(_)) => {
            Ok(value)
        }
    }
}

/// Values a write sets (`Some`) or clears (`None`), by key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValueChanges {
    /// Whether the write replaces every value (keys not listed are cleared).
    pub replace_all: bool,
    /// The values written.
    pub values: Vec<(String, Option<FieldValue>)>,
}

/// Applies `changes` to `current` and checks every written value against
/// `definitions`; on a new record (`creating`), fills in defaults and
/// requires every required field. Violations are named
/// `custom_fields.{key}`, relative to the record.
///
/// # Errors
/// Every violation found: unknown key, wrong type, failed check, archived
/// option, missing required value.
pub fn apply_values(
    current: &CustomValues,
    changes: &ValueChanges,
    definitions: &[FieldDefinition],
    creating: bool,
    region: Region,
) -> Result<CustomValues, Vec<FieldViolation>> {
    let mut values = if changes.replace_all {
        CustomValues::new()
    } else {
        current.clone()
    };
    let mut violations = Vec::new();
    let path = |key: &str| format!("custom_fields.{key}");
    for (key, value) in &changes.values {
        let Some(definition) = definitions.iter().find(|d| &d.key == key) else {
            violations.push(FieldViolation::new(
                path(key),
                "is not a custom field of this record type",
            ));
            continue;
        };
        match value {
            None => {
                values.remove(key);
            }
            Some(value) => match validate_value(&definition.spec, value.clone(), region) {
                Ok(value) => {
                    values.insert(key.clone(), value);
                }
                Err(problem) => violations.push(FieldViolation::new(path(key), problem)),
            },
        }
    }
    for definition in definitions {
        let key = &definition.key;
        if creating
            && !values.contains_key(key)
            && let Some(default) = &definition.spec.default
        {
            values.insert(key.clone(), default.clone());
        }
        let touched = changes.replace_all || changes.values.iter().any(|(k, _)| k == key);
        if definition.spec.required
            && (creating || touched)
            && !values.contains_key(key)
            && !violations.iter().any(|v| v.field == path(key))
        {
            violations.push(FieldViolation::new(path(key), "is required"));
        }
    }
    if violations.is_empty() {
        Ok(values)
    } else {
        Err(violations)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::str::FromStr;

    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;

    fn region() -> Region {
        Region::parse("US").unwrap()
    }

    fn spec(field_type: FieldType) -> FieldSpec {
        FieldSpec {
            display_name: "Field".into(),
            description: String::new(),
            field_type,
            required: false,
            default: None,
            validation: Validation::default(),
            options: Vec::new(),
        }
    }

    fn option(key: &str, archived: bool) -> SelectOption {
        SelectOption {
            key: key.into(),
            label: key.to_uppercase(),
            archived,
        }
    }

    fn decimal(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn an_oversized_option_list_is_refused_before_its_options_are_read() {
        let inputs = vec![
            OptionInput {
                key: "nope".into(),
                label: String::new(),
                archived: false,
            };
            10_000
        ];
        let violations = resolve_options(&[], &inputs, "options").unwrap_err();
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "options");
    }

    #[test]
    fn keys_come_from_display_names() {
        for (name, key) in [
            ("Renewal date", "renewal_date"),
            ("  Account   ID ", "account_id"),
            ("NPS (0-10)", "nps_0_10"),
            ("2nd phone", "f_2nd_phone"),
            ("Situação", "situa_o"),
            ("名前", "field"),
            ("", "field"),
        ] {
            assert_eq!(key_from_name(name), key, "{name:?}");
            assert!(is_valid_key(&key_from_name(name)), "{name:?}");
        }
        assert!(key_from_name(&"long name ".repeat(20)).len() <= MAX_NAME_CHARS);
    }

    #[test]
    fn keys_never_take_a_standard_field_or_a_used_key() {
        let reserved = FieldEntity::Contact.reserved_keys();
        let taken: HashSet<String> = ["plan".to_owned(), "plan_2".to_owned()].into();
        assert_eq!(unique_key("plan", reserved, &taken), "plan_3");
        assert_eq!(unique_key("city", reserved, &HashSet::new()), "city_2");
        assert_eq!(unique_key("segment", reserved, &taken), "segment");
        assert!(!is_valid_key("Bad Key"));
        assert!(!is_valid_key("1st"));
        assert!(is_valid_key("account_id"));
    }

    fn check(spec: &FieldSpec, value: FieldValue, expected: Result<FieldValue, &str>) {
        assert_eq!(
            validate_value(spec, value.clone(), region()),
            expected.map_err(str::to_owned),
            "{value:?}"
        );
    }

    #[test]
    fn values_are_checked_per_type() {
        let mut text = spec(FieldType::Text);
        text.validation.pattern = Some("[A-Z]{3}-[0-9]{5}".into());
        text.validation.pattern_hint = "like ABC-12345".into();
        check(
            &text,
            FieldValue::Text("ABC-12345".into()),
            Ok(FieldValue::Text("ABC-12345".into())),
        );
        check(
            &text,
            FieldValue::Text("xABC-12345".into()),
            Err("like ABC-12345"),
        );
        check(
            &text,
            FieldValue::Text("a\nb".into()),
            Err("must be one line; use a multi-line text field"),
        );
        check(
            &text,
            FieldValue::Checkbox(true),
            Err("expects a text value, not checkbox"),
        );
        let multi = spec(FieldType::MultilineText);
        check(
            &multi,
            FieldValue::Text("a\nb".into()),
            Ok(FieldValue::Text("a\nb".into())),
        );

        let mut number = spec(FieldType::Number);
        number.validation.min = Some(decimal("0"));
        number.validation.max = Some(decimal("10"));
        check(
            &number,
            FieldValue::Number(decimal("9.5")),
            Ok(FieldValue::Number(decimal("9.5"))),
        );
        check(
            &number,
            FieldValue::Number(decimal("10.01")),
            Err("must be at most 10"),
        );
        check(
            &number,
            FieldValue::Number(decimal("-1")),
            Err("must be at least 0"),
        );
        check(
            &number,
            FieldValue::Percent(decimal("1")),
            Err("expects a number value, not percent"),
        );

        let currency = spec(FieldType::Currency);
        let money = |amount: &str, code: &str| {
            FieldValue::Currency(Money {
                amount: decimal(amount),
                currency: code.into(),
            })
        };
        check(&currency, money("12.50", "usd"), Ok(money("12.50", "USD")));
        check(
            &currency,
            money("1", "XYZ"),
            Err("\"XYZ\" is not an ISO 4217 currency code"),
        );

        let link = spec(FieldType::Link);
        check(
            &link,
            FieldValue::Link(" https://x.com/a ".into()),
            Ok(FieldValue::Link("https://x.com/a".into())),
        );
        check(
            &link,
            FieldValue::Link("ftp://x.com".into()),
            Err("must be an http or https URL"),
        );
        let email = spec(FieldType::Email);
        check(
            &email,
            FieldValue::Email("Ana@X.com".into()),
            Ok(FieldValue::Email("ana@x.com".into())),
        );
        assert!(validate_value(&email, FieldValue::Email("nope".into()), region()).is_err());
        let phone = spec(FieldType::Phone);
        check(
            &phone,
            FieldValue::Phone("(650) 253-0000".into()),
            Ok(FieldValue::Phone("+16502530000".into())),
        );

        let mut select = spec(FieldType::SingleSelect);
        select.options = vec![option("gold", false), option("legacy", true)];
        check(
            &select,
            FieldValue::Select("gold".into()),
            Ok(FieldValue::Select("gold".into())),
        );
        check(
            &select,
            FieldValue::Select("legacy".into()),
            Err("option \"legacy\" is archived"),
        );
        check(
            &select,
            FieldValue::Select("tin".into()),
            Err("\"tin\" is not an option of this field"),
        );
        let mut many = spec(FieldType::MultiSelect);
        many.options = vec![option("a", false), option("b", false), option("c", true)];
        check(
            &many,
            FieldValue::MultiSelect(vec!["b".into(), "a".into(), "b".into()]),
            Ok(FieldValue::MultiSelect(vec!["a".into(), "b".into()])),
        );
        check(
            &many,
            FieldValue::MultiSelect(vec!["c".into()]),
            Err("option \"c\" is archived"),
        );
    }

    #[test]
    fn specs_are_checked_as_a_whole() {
        let mut bad = spec(FieldType::Number);
        bad.display_name = " ".into();
        bad.validation.pattern = Some("(".into());
        bad.validation.min = Some(decimal("5"));
        bad.validation.max = Some(decimal("1"));
        bad.options = vec![option("x", false)];
        let DomainError::InvalidArgument(violations) = validate_spec(bad, region()).unwrap_err()
        else {
            panic!("expected invalid argument");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "display_name",
                "validation.pattern",
                "validation.max",
                "options"
            ]
        );
        let mut select = spec(FieldType::SingleSelect);
        assert!(validate_spec(select.clone(), region()).is_err());
        select.options = vec![option("gold", false)];
        select.default = Some(FieldValue::Select("silver".into()));
        let error = validate_spec(select, region()).unwrap_err();
        assert_eq!(
            error,
            DomainError::invalid("default_value", "\"silver\" is not an option of this field")
        );
    }

    #[test]
    fn options_keep_their_keys_and_are_archived_not_removed() {
        let current = vec![option("gold", false), option("silver", false)];
        let input = |key: &str, label: &str, archived: bool| OptionInput {
            key: key.into(),
            label: label.into(),
            archived,
        };
        let resolved = resolve_options(
            &current,
            &[
                input("silver", "Silver+", true),
                input("gold", "Gold", false),
                input("", "Platinum Plus", false),
            ],
            "options",
        )
        .unwrap();
        let keys: Vec<(&str, &str, bool)> = resolved
            .iter()
            .map(|o| (o.key.as_str(), o.label.as_str(), o.archived))
            .collect();
        assert_eq!(
            keys,
            [
                ("silver", "Silver+", true),
                ("gold", "Gold", false),
                ("platinum_plus", "Platinum Plus", false)
            ]
        );
        let dropped = resolve_options(&current, &[input("gold", "Gold", false)], "options");
        assert_eq!(dropped.unwrap_err()[0].field, "options");
        let unknown = resolve_options(&current, &[input("tin", "Tin", false)], "options");
        assert_eq!(unknown.unwrap_err()[0].field, "options[0].key");
    }

    fn definition(key: &str, spec: FieldSpec) -> FieldDefinition {
        FieldDefinition {
            id: FieldId::from_uuid(Uuid::now_v7()),
            tenant_id: TenantId::from_uuid(Uuid::nil()),
            entity: FieldEntity::Contact,
            key: key.into(),
            spec,
            section_id: None,
            position: 0,
            version: 1,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn writes_fill_defaults_on_create_and_guard_required_fields() {
        let mut plan = spec(FieldType::Text);
        plan.default = Some(FieldValue::Text("free".into()));
        let mut account = spec(FieldType::Text);
        account.required = true;
        let definitions = vec![definition("plan", plan), definition("account_id", account)];
        let set = |key: &str, value: Option<&str>| ValueChanges {
            replace_all: false,
            values: vec![(key.into(), value.map(|v| FieldValue::Text(v.into())))],
        };
        let created = apply_values(
            &CustomValues::new(),
            &set("account_id", Some("A-1")),
            &definitions,
            true,
            region(),
        )
        .unwrap();
        assert_eq!(created.get("plan"), Some(&FieldValue::Text("free".into())));
        let missing = apply_values(
            &CustomValues::new(),
            &ValueChanges::default(),
            &definitions,
            true,
            region(),
        );
        assert_eq!(missing.unwrap_err()[0].field, "custom_fields.account_id");
        // An update may leave a required field alone but not clear it.
        let untouched = apply_values(
            &CustomValues::new(),
            &set("plan", Some("pro")),
            &definitions,
            false,
            region(),
        );
        assert!(untouched.is_ok());
        let cleared = apply_values(
            &created,
            &set("account_id", None),
            &definitions,
            false,
            region(),
        );
        assert_eq!(cleared.unwrap_err()[0].description, "is required");
        let unknown = apply_values(
            &created,
            &set("nope", Some("x")),
            &definitions,
            false,
            region(),
        );
        assert_eq!(unknown.unwrap_err()[0].field, "custom_fields.nope");
    }

    proptest! {
        #[test]
        fn generated_keys_are_valid_and_stable(name in "\\PC{0,80}") {
            let key = key_from_name(&name);
            prop_assert!(is_valid_key(&key), "{key:?}");
            prop_assert_eq!(key_from_name(&key), key.clone());
        }
    }
}
