//! One data row of a file, read into what it says about a contact: the
//! fields it sets (an empty cell sets nothing), its addresses (normalised
//! as ResolveSender reads them, with the tenant's region), its tags and
//! its custom values (each checked against its field). A row that cannot
//! be read is refused with its line, its column and the reason.

use std::str::FromStr;

use rust_decimal::Decimal;

use crate::contacts::{ContactFields, LifecycleStage, validate_fields};
use crate::exchange::LIST_SEPARATOR;
use crate::exchange::import::{ColumnTarget, ImportColumns, RawRecord, StandardField};
use crate::fields::{FieldDefinition, FieldSpec, FieldType, FieldValue, validate_value};
use crate::identity::{self, ContactIdentity, IdentityKey, IdentityKind, MAX_IDENTITIES, Region};
use crate::kernel::tag::{self, MAX_TAGS};
use crate::kernel::{Money, TierId, echo};
use crate::tiers::Tier;

/// The standard fields a row sets; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowFields {
    /// `display_name`.
    pub display_name: Option<String>,
    /// `city`.
    pub city: Option<String>,
    /// `country`.
    pub country: Option<String>,
    /// `language`.
    pub language: Option<String>,
    /// `avatar_url`.
    pub avatar_url: Option<String>,
    /// `blocked`.
    pub blocked: Option<bool>,
    /// `lifecycle_stage`.
    pub lifecycle_stage: Option<LifecycleStage>,
    /// `tier`, found by name.
    pub tier: Option<TierId>,
}

impl RowFields {
    /// `fields` with what this row sets written over them.
    pub fn over(&self, fields: &ContactFields) -> ContactFields {
        let mut fields = fields.clone();
        let set = |target: &mut String, value: &Option<String>| {
            if let Some(value) = value {
                target.clone_from(value);
            }
        };
        set(&mut fields.display_name, &self.display_name);
        set(&mut fields.city, &self.city);
        set(&mut fields.country, &self.country);
        set(&mut fields.language, &self.language);
        set(&mut fields.avatar_url, &self.avatar_url);
        if let Some(blocked) = self.blocked {
            fields.blocked = blocked;
        }
        if let Some(stage) = self.lifecycle_stage {
            fields.lifecycle_stage = stage;
        }
        if let Some(tier) = self.tier {
            fields.tier_id = Some(tier);
        }
        fields
    }
}

/// A data row, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// The line it starts on.
    pub line: u64,
    /// The standard fields it sets.
    pub fields: RowFields,
    /// Its addresses, normalised, without repeats; the first of each kind
    /// primary.
    pub identities: Vec<ContactIdentity>,
    /// Its tags (the import's default tags included), normalised.
    pub tags: Vec<String>,
    /// The custom values it sets, checked.
    pub custom: Vec<(String, FieldValue)>,
    /// The row as written, for the error file should it be refused later.
    pub record: Vec<String>,
}

impl ImportRow {
    /// The address of `kind` it is matched by.
    pub fn key_of(&self, kind: IdentityKind) -> Option<IdentityKey> {
        self.identities
            .iter()
            .find(|identity| identity.kind == kind)
            .map(ContactIdentity::key)
    }
}

/// A refused row: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The line it starts on.
    pub line: u64,
    /// The header name of the column at fault; empty for the row as a
    /// whole.
    pub column: String,
    /// Why, in words.
    pub reason: String,
    /// The row as written.
    pub record: Vec<String>,
}

/// What reading a row needs besides the row.
#[derive(Debug, Clone, Copy)]
pub struct RowContext<'a> {
    /// Where the columns go.
    pub columns: &'a ImportColumns,
    /// The tenant's custom fields of contacts.
    pub definitions: &'a [FieldDefinition],
    /// The tenant's tiers.
    pub tiers: &'a [Tier],
    /// How national phone numbers are read.
    pub region: Region,
    /// Tags every row adds.
    pub default_tags: &'a [String],
}

/// Whether a cell means yes (for `blocked`, checkboxes and `tag:NAME`).
fn yes_or_no(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "x" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// The items of a many-valued cell.
fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split(LIST_SEPARATOR)
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// A cell read as a value of a custom field (the inverse of the export's
/// `value_text`), checked against the field.
///
/// # Errors
/// Why it is not one, in words.
pub fn value_from_text(spec: &FieldSpec, text: &str, region: Region) -> Result<FieldValue, String> {
    let text = text.trim();
    let number = |text: &str| {
        Decimal::from_str(text.trim()).map_err(|_| format!("takes a number, not {:?}", echo(text)))
    };
    let option = |text: &str| {
        spec.options
            .iter()
            .find(|option| option.key == text || option.label.eq_ignore_ascii_case(text))
            .map(|option| option.key.clone())
            .ok_or_else(|| format!("has no option {:?}", echo(text)))
    };
    let value = match spec.field_type {
        FieldType::Text | FieldType::MultilineText => FieldValue::Text(text.to_owned()),
        FieldType::Number => FieldValue::Number(number(text)?),
        FieldType::Percent => FieldValue::Percent(number(text.trim_end_matches('%'))?),
        FieldType::Currency => {
            let (amount, code) = text.rsplit_once(' ').ok_or_else(|| {
                format!("takes AMOUNT CODE (\"12.50 BRL\"), not {:?}", echo(text))
            })?;
            FieldValue::Currency(Money {
                amount: number(amount)?,
                currency: code.trim().to_uppercase(),
            })
        }
        FieldType::Link => FieldValue::Link(text.to_owned()),
        FieldType::Email => FieldValue::Email(text.to_owned()),
        FieldType::Phone => FieldValue::Phone(text.to_owned()),
        FieldType::Date => FieldValue::Date(
            crate::contacts::parse_date(text)
                .ok_or_else(|| format!("takes a date (2027-01-31), not {:?}", echo(text)))?,
        ),
        FieldType::DateTime => FieldValue::DateTime(
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    format!(
                        "takes an RFC 3339 time (2027-01-31T09:00:00Z), not {:?}",
                        echo(text)
                    )
                })?,
        ),
        FieldType::Checkbox => FieldValue::Checkbox(
            yes_or_no(text).ok_or_else(|| format!("takes true or false, not {:?}", echo(text)))?,
        ),
        FieldType::SingleSelect => FieldValue::Select(option(text)?),
        FieldType::MultiSelect => {
            FieldValue::MultiSelect(items(text).map(option).collect::<Result<_, _>>()?)
        }
    };
    validate_value(spec, value, region)
}

/// Reads one data row.
///
/// # Errors
/// The first problem found, as a [`RowError`].
pub fn read_row(record: &RawRecord<'_>, context: RowContext<'_>) -> Result<ImportRow, RowError> {
    let columns = context.columns;
    let refuse = |column: &str, reason: String| RowError {
        line: record.line,
        column: column.to_owned(),
        reason,
        record: record.lossy(),
    };
    if record.len() != columns.header.len() {
        return Err(refuse(
            "",
            format!(
                "has {} columns; the header has {}",
                record.len(),
                columns.header.len()
            ),
        ));
    }
    let mut fields = RowFields::default();
    let mut identities: Vec<ContactIdentity> = Vec::new();
    let mut tags: Vec<String> = context.default_tags.to_vec();
    let mut custom = Vec::new();
    let mut texts = Vec::with_capacity(record.len());
    for (index, target) in columns.targets.iter().enumerate() {
        let name = columns.header[index].as_str();
        let Some(text) = record.text(index) else {
            return Err(refuse(
                name,
                "is not valid UTF-8 (set the encoding if the file is Windows-1252)".to_owned(),
            ));
        };
        let cell = text.trim();
        if cell.is_empty() || *target == ColumnTarget::Ignore {
            texts.push(text);
            continue;
        }
        match target {
            ColumnTarget::Field(field) => {
                let owned = Some(cell.to_owned());
                match field {
                    StandardField::DisplayName => fields.display_name = owned,
                    StandardField::City => fields.city = owned,
                    StandardField::Country => fields.country = owned,
                    StandardField::Language => fields.language = owned,
                    StandardField::AvatarUrl => fields.avatar_url = owned,
                    StandardField::Blocked => {
                        fields.blocked = Some(yes_or_no(cell).ok_or_else(|| {
                            refuse(name, format!("takes true or false, not {:?}", echo(cell)))
                        })?);
                    }
                    StandardField::LifecycleStage => {
                        let stage = cell.to_lowercase().replace([' ', '-'], "_");
                        fields.lifecycle_stage =
                            Some(LifecycleStage::parse(&stage).ok_or_else(|| {
                                refuse(
                                    name,
                                    format!(
                                        "is no lifecycle stage (prospect, customer, active, \
                                         at_risk, churned, vip): {:?}",
                                        echo(cell)
                                    ),
                                )
                            })?);
                    }
                    StandardField::Tier => {
                        let tier = context
                            .tiers
                            .iter()
                            .find(|tier| tier.fields.name.eq_ignore_ascii_case(cell))
                            .ok_or_else(|| {
                                refuse(name, format!("no tier is named {:?}", echo(cell)))
                            })?;
                        fields.tier = Some(tier.id);
                    }
                }
            }
            ColumnTarget::Identity(kind) => {
                for address in items(cell) {
                    let normalized = identity::normalize(*kind, address, context.region)
                        .map_err(|error| refuse(name, format!("{error}: {:?}", echo(address))))?;
                    if !identities
                        .iter()
                        .any(|held| held.kind == normalized.kind && held.value == normalized.value)
                    {
                        let primary = !identities.iter().any(|held| held.kind == normalized.kind);
                        identities.push(ContactIdentity {
                            kind: normalized.kind,
                            value: normalized.value,
                            raw: normalized.raw,
                            primary,
                        });
                    }
                }
                if identities.len() > MAX_IDENTITIES {
                    return Err(refuse(
                        name,
                        format!("a contact may hold at most {MAX_IDENTITIES} addresses"),
                    ));
                }
            }
            ColumnTarget::Tags => {
                for raw in items(cell) {
                    tags.push(tag::normalize_tag(raw).map_err(|problem| {
                        refuse(name, format!("tag {:?} {problem}", echo(raw)))
                    })?);
                }
            }
            ColumnTarget::Tag(tag) => {
                if yes_or_no(cell) != Some(false) {
                    tags.push(tag.clone());
                }
            }
            ColumnTarget::Custom(key) => {
                let definition = context
                    .definitions
                    .iter()
                    .find(|definition| &definition.key == key)
                    .ok_or_else(|| {
                        refuse(name, format!("custom field {key:?} no longer exists"))
                    })?;
                let value = value_from_text(&definition.spec, cell, context.region)
                    .map_err(|problem| refuse(name, problem))?;
                custom.push((key.clone(), value));
            }
            ColumnTarget::Ignore => {}
        }
        texts.push(text);
    }
    tags.sort();
    tags.dedup();
    if tags.len() > MAX_TAGS {
        return Err(refuse(
            "",
            format!("a contact may hold at most {MAX_TAGS} tags"),
        ));
    }
    // Field rules (country, language, URL, lengths) are the contact's own.
    let checked = validate_fields(fields.over(&ContactFields::default()));
    if let Err(crate::DomainError::InvalidArgument(violations)) = checked
        && let Some(violation) = violations.first()
    {
        let column = StandardField::ALL
            .into_iter()
            .find(|field| field.as_str() == violation.field)
            .and_then(|field| columns.name_of(&ColumnTarget::Field(field)))
            .unwrap_or("");
        return Err(refuse(column, violation.description.clone()));
    }
    let trim = |value: &mut Option<String>| {
        if let Some(text) = value {
            *text = text.trim().to_owned();
        }
    };
    trim(&mut fields.display_name);
    trim(&mut fields.city);
    if let Some(country) = &mut fields.country {
        *country = country.to_ascii_uppercase();
    }
    Ok(ImportRow {
        line: record.line,
        fields,
        identities,
        tags,
        custom,
        record: texts,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::exchange::import::fixtures::{definition, tier};
    use crate::exchange::import::{CsvReader, Encoding, ImportOptions, place_columns};
    use crate::fields::SelectOption;

    fn read(file: &str, definitions: &[FieldDefinition]) -> Vec<Result<ImportRow, RowError>> {
        let mut reader = CsvReader::new(b',', Encoding::Utf8);
        reader.push(file.as_bytes());
        reader.end();
        let header = reader.next_record().unwrap().unwrap().lossy();
        let columns = place_columns(header, &ImportOptions::default(), definitions).unwrap();
        let tiers = [tier("Gold")];
        let context = RowContext {
            columns: &columns,
            definitions,
            tiers: &tiers,
            region: Region::parse("BR").unwrap(),
            default_tags: &["imported".to_owned()],
        };
        let mut rows = Vec::new();
        while let Some(record) = reader.next_record().unwrap() {
            rows.push(read_row(&record, context));
        }
        rows
    }

    #[test]
    fn a_row_sets_only_its_filled_cells_and_reads_phones_with_the_region() {
        let mut plan = definition("plan", "Plan", FieldType::SingleSelect);
        plan.spec.options = vec![SelectOption {
            key: "pro".to_owned(),
            label: "Pro".to_owned(),
            archived: false,
        }];
        let rows = read(
            "name,email,phone,tier,tags,plan,city\n\
             Ana,Ana@Example.com;ana@work.example,(11) 98765-4321,gold,VIP; Beta ,PRO,\n",
            &[plan],
        );
        let row = rows[0].as_ref().unwrap();
        assert_eq!(row.fields.display_name.as_deref(), Some("Ana"));
        assert_eq!(row.fields.city, None);
        let values: Vec<_> = row
            .identities
            .iter()
            .map(|i| (i.value.as_str(), i.primary))
            .collect();
        assert_eq!(
            values,
            [
                ("ana@example.com", true),
                ("ana@work.example", false),
                ("+5511987654321", true)
            ]
        );
        assert_eq!(row.tags, ["beta", "imported", "vip"]);
        assert_eq!(
            row.custom,
            [("plan".to_owned(), FieldValue::Select("pro".to_owned()))]
        );
        assert!(row.fields.tier.is_some());
    }

    #[test]
    fn a_bad_cell_refuses_its_row_naming_line_column_and_reason() {
        let rows = read(
            "email,country,tier\n\
             a@example.com,Brazil,\n\
             not-an-email,,\n\
             c@example.com,,Platinum\n\
             d@example.com\n",
            &[],
        );
        let errors: Vec<_> = rows
            .iter()
            .map(|row| {
                let error = row.as_ref().unwrap_err();
                (error.line, error.column.as_str())
            })
            .collect();
        assert_eq!(errors, [(2, "country"), (3, "email"), (4, "tier"), (5, "")]);
        let ragged = rows[3].as_ref().unwrap_err();
        assert_eq!(ragged.reason, "has 1 columns; the header has 3");
        assert_eq!(ragged.record, ["d@example.com"]);
    }

    #[test]
    fn custom_values_read_back_what_the_export_writes() {
        let spec = |field_type| definition("x", "X", field_type).spec;
        let region = Region::parse("US").unwrap();
        let cases = [
            (FieldType::Number, "12.50"),
            (FieldType::Currency, "12.50 BRL"),
            (FieldType::Date, "2027-01-31"),
            (FieldType::DateTime, "2027-01-31T09:00:00Z"),
            (FieldType::Checkbox, "true"),
            (FieldType::Text, "anything"),
        ];
        for (field_type, text) in cases {
            let value = value_from_text(&spec(field_type), text, region).unwrap();
            assert_eq!(crate::exchange::value_text(&value), text, "{field_type:?}");
        }
        assert!(value_from_text(&spec(FieldType::Number), "twelve", region).is_err());
    }
}
