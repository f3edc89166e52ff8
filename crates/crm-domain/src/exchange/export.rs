//! The export layout: the header and one row of text per contact.

use crate::contacts::Contact;
use crate::fields::{FieldDefinition, FieldValue};
use crate::identity::IdentityKind;

/// Joins the items of a many-valued column (tags, addresses, options).
pub const LIST_SEPARATOR: &str = ";";

/// The standard columns, before the identities and custom fields.
pub const STANDARD_COLUMNS: [&str; 13] = [
    "id",
    "display_name",
    "city",
    "country",
    "language",
    "avatar_url",
    "lifecycle_stage",
    "blocked",
    "tier",
    "organization_id",
    "tags",
    "create_time",
    "update_time",
];

/// The columns of an export: the standard ones, one per identity kind
/// (`email`, `phone`, ...: every address of that kind, primary first), then
/// one per custom field of contacts (`custom_fields.KEY`), in the
/// definitions' order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportLayout {
    custom_keys: Vec<String>,
}

impl ExportLayout {
    /// The layout for these custom-field definitions of contacts.
    pub fn new(definitions: &[FieldDefinition]) -> Self {
        Self {
            custom_keys: definitions
                .iter()
                .map(|definition| definition.key.clone())
                .collect(),
        }
    }

    /// The header row.
    pub fn header(&self) -> Vec<String> {
        STANDARD_COLUMNS
            .iter()
            .map(|column| (*column).to_owned())
            .chain(
                IdentityKind::ALL
                    .iter()
                    .map(|kind| kind.as_str().to_owned()),
            )
            .chain(
                self.custom_keys
                    .iter()
                    .map(|key| format!("custom_fields.{key}")),
            )
            .collect()
    }

    /// One contact as a row, in [`ExportLayout::header`] order.
    pub fn row(&self, contact: &Contact) -> Vec<String> {
        let fields = &contact.fields;
        let rfc3339 = |time: time::OffsetDateTime| {
            time.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        let mut row = vec![
            contact.id.to_string(),
            fields.display_name.clone(),
            fields.city.clone(),
            fields.country.clone(),
            fields.language.clone(),
            fields.avatar_url.clone(),
            fields.lifecycle_stage.as_str().to_owned(),
            fields.blocked.to_string(),
            contact
                .tier
                .as_ref()
                .map(|tier| tier.name.clone())
                .unwrap_or_default(),
            fields
                .affiliation
                .organization()
                .map(|id| id.to_string())
                .unwrap_or_default(),
            contact.tags.join(LIST_SEPARATOR),
            rfc3339(contact.create_time),
            rfc3339(contact.update_time),
        ];
        for kind in IdentityKind::ALL {
            let mut held: Vec<_> = contact.identities_of(kind).collect();
            held.sort_by_key(|identity| !identity.primary);
            row.push(
                held.iter()
                    .map(|identity| identity.value.as_str())
                    .collect::<Vec<_>>()
                    .join(LIST_SEPARATOR),
            );
        }
        for key in &self.custom_keys {
            row.push(
                contact
                    .custom_fields
                    .get(key)
                    .map(value_text)
                    .unwrap_or_default(),
            );
        }
        row
    }
}

/// A custom value as the text an import reads back: decimals as written,
/// money as `AMOUNT CODE`, dates `YYYY-MM-DD`, instants RFC 3339, options by
/// key (several joined by [`LIST_SEPARATOR`]).
pub fn value_text(value: &FieldValue) -> String {
    match value {
        FieldValue::Text(text)
        | FieldValue::Link(text)
        | FieldValue::Email(text)
        | FieldValue::Phone(text)
        | FieldValue::Select(text) => text.clone(),
        FieldValue::Number(number) | FieldValue::Percent(number) => number.to_string(),
        FieldValue::Currency(money) => format!("{} {}", money.amount, money.currency),
        FieldValue::Date(date) => crate::fields::sort_key::date_key(*date),
        FieldValue::DateTime(instant) => instant
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        FieldValue::Checkbox(checked) => checked.to_string(),
        FieldValue::MultiSelect(keys) => keys.join(LIST_SEPARATOR),
    }
}
