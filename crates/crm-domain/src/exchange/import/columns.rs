//! Placing a file's columns: each header name goes where the mapping says,
//! else where its name says (an export's own headers, a custom field's key
//! or display name, common names such as "E-mail" or "Full name"). A column
//! nothing claims is refused by name, never silently dropped.

use std::collections::HashSet;

use crate::exchange::import::{ColumnTarget, ImportOptions, StandardField};
use crate::fields::FieldDefinition;
use crate::identity::IdentityKind;
use crate::kernel::{DomainError, FieldViolation, echo};

/// Header names an import reads past without a mapping: an export's
/// read-only columns and the columns an error file adds.
pub const READ_PAST: [&str; 6] = [
    "id",
    "organization_id",
    "create_time",
    "update_time",
    "import_line",
    "import_error",
];

/// Where each column of a file goes, in header order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportColumns {
    /// The header as written.
    pub header: Vec<String>,
    /// Where each column goes.
    pub targets: Vec<ColumnTarget>,
}

impl ImportColumns {
    /// The header name of the first column that goes to `target`.
    pub fn name_of(&self, target: &ColumnTarget) -> Option<&str> {
        self.targets
            .iter()
            .position(|placed| placed == target)
            .map(|index| self.header[index].as_str())
    }
}

/// A header name as names are compared: trimmed, lower case, with spaces
/// and hyphens as underscores.
fn comparable(name: &str) -> String {
    name.trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect()
}

/// Where a column goes by its name alone.
fn by_name(name: &str, definitions: &[FieldDefinition]) -> Option<ColumnTarget> {
    let key = comparable(name);
    if READ_PAST.contains(&key.as_str()) {
        return Some(ColumnTarget::Ignore);
    }
    if let Some(custom) = key.strip_prefix("custom_fields.") {
        return definitions
            .iter()
            .find(|definition| definition.key == custom)
            .map(|definition| ColumnTarget::Custom(definition.key.clone()));
    }
    let standard = match key.as_str() {
        "name" | "full_name" | "contact_name" | "contact" => Some(StandardField::DisplayName),
        "stage" | "lifecycle" => Some(StandardField::LifecycleStage),
        "locale" => Some(StandardField::Language),
        _ => StandardField::ALL
            .into_iter()
            .find(|field| field.as_str() == key),
    };
    if let Some(field) = standard {
        return Some(ColumnTarget::Field(field));
    }
    let kind = match key.as_str() {
        "e_mail" | "email_address" | "mail" => Some(IdentityKind::Email),
        "phone_number" | "mobile" | "mobile_phone" | "telephone" | "tel" => {
            Some(IdentityKind::Phone)
        }
        _ => IdentityKind::parse(&key),
    };
    if let Some(kind) = kind {
        return Some(ColumnTarget::Identity(kind));
    }
    if key == "tags" || key == "labels" {
        return Some(ColumnTarget::Tags);
    }
    definitions
        .iter()
        .find(|definition| {
            definition.key == key || comparable(&definition.spec.display_name) == key
        })
        .map(|definition| ColumnTarget::Custom(definition.key.clone()))
}

/// Whether two columns may go to `target` (addresses and tags add up; a
/// field holds one value).
fn repeatable(target: &ColumnTarget) -> bool {
    matches!(
        target,
        ColumnTarget::Identity(_)
            | ColumnTarget::Tags
            | ColumnTarget::Tag(_)
            | ColumnTarget::Ignore
    )
}

/// Places every column of `header`. Paths are those of an
/// `ImportContacts` request: `options.mapping[i]...`, `options.dedup_key`,
/// and `csv` for the header itself.
///
/// # Errors
/// `InvalidArgument` listing every column nothing claims, every mapping
/// that names no column or no field, a field two columns fill, and a
/// missing dedup-key column.
pub fn place_columns(
    header: Vec<String>,
    options: &ImportOptions,
    definitions: &[FieldDefinition],
) -> Result<ImportColumns, DomainError> {
    let mut violations = Vec::new();
    for (index, mapping) in options.mapping.iter().enumerate() {
        if let ColumnTarget::Custom(key) = &mapping.target
            && !definitions.iter().any(|definition| &definition.key == key)
        {
            violations.push(FieldViolation::new(
                format!("options.mapping[{index}].target"),
                format!("no custom field of contacts has the key {key:?}"),
            ));
        }
        if !header.iter().any(|name| {
            name.trim().eq_ignore_ascii_case(&mapping.column)
                || comparable(name) == comparable(&mapping.column)
        }) {
            violations.push(FieldViolation::new(
                format!("options.mapping[{index}].column"),
                format!("the header has no column {:?}", echo(&mapping.column)),
            ));
        }
    }
    let mut targets = Vec::with_capacity(header.len());
    let mut placed = HashSet::new();
    for (index, name) in header.iter().enumerate() {
        let mapped = options
            .mapping
            .iter()
            .find(|mapping| comparable(&mapping.column) == comparable(name))
            .map(|mapping| mapping.target.clone());
        let target = match mapped.or_else(|| by_name(name, definitions)) {
            Some(target) => target,
            None => {
                violations.push(FieldViolation::new(
                    "csv",
                    format!(
                        "column {} {:?} matches no field; map it to a field or to ignore \
                         (options.mapping)",
                        index + 1,
                        echo(name)
                    ),
                ));
                ColumnTarget::Ignore
            }
        };
        if !repeatable(&target) && !placed.insert(target.clone()) {
            violations.push(FieldViolation::new(
                "csv",
                format!(
                    "column {} {:?} fills {} again; map one of them elsewhere or to ignore",
                    index + 1,
                    echo(name),
                    target.as_text()
                ),
            ));
        }
        targets.push(target);
    }
    let key = options.dedup_key.kind();
    if !targets.contains(&ColumnTarget::Identity(key)) {
        violations.push(FieldViolation::new(
            "options.dedup_key",
            format!(
                "rows are matched by {}, and no column holds one",
                key.as_str()
            ),
        ));
    }
    if violations.is_empty() {
        Ok(ImportColumns { header, targets })
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::exchange::import::fixtures::definition;
    use crate::exchange::import::{ColumnMapping, DedupKey};
    use crate::fields::FieldType;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn columns_are_placed_by_export_names_common_names_and_field_labels() {
        let plan = definition("plan", "Plan", FieldType::SingleSelect);
        let placed = place_columns(
            header(&[
                "id",
                "Full Name",
                "E-mail",
                "phone",
                "custom_fields.plan",
                "Tags",
                "import_error",
            ]),
            &ImportOptions::default(),
            std::slice::from_ref(&plan),
        )
        .unwrap();
        assert_eq!(
            placed.targets,
            [
                ColumnTarget::Ignore,
                ColumnTarget::Field(StandardField::DisplayName),
                ColumnTarget::Identity(IdentityKind::Email),
                ColumnTarget::Identity(IdentityKind::Phone),
                ColumnTarget::Custom("plan".to_owned()),
                ColumnTarget::Tags,
                ColumnTarget::Ignore,
            ]
        );
        let by_label = place_columns(
            header(&["email", " plan "]),
            &ImportOptions::default(),
            &[plan],
        )
        .unwrap();
        assert_eq!(by_label.targets[1], ColumnTarget::Custom("plan".to_owned()));
    }

    #[test]
    fn an_unclaimed_column_a_bad_mapping_and_a_missing_key_are_each_named() {
        let options = ImportOptions {
            dedup_key: DedupKey::ExternalId,
            mapping: vec![
                ColumnMapping {
                    column: "Nick".to_owned(),
                    target: ColumnTarget::Custom("nickname".to_owned()),
                },
                ColumnMapping {
                    column: "Surname".to_owned(),
                    target: ColumnTarget::Ignore,
                },
            ],
            ..ImportOptions::default()
        };
        let DomainError::InvalidArgument(violations) = place_columns(
            header(&["email", "Nick", "Shoe size", "name", "Name"]),
            &options,
            &[],
        )
        .unwrap_err() else {
            panic!("not an invalid argument");
        };
        let found: Vec<_> = violations
            .iter()
            .map(|v| (v.field.as_str(), v.description.as_str()))
            .collect();
        assert_eq!(found.len(), 5, "{found:#?}");
        assert_eq!(found[0].0, "options.mapping[0].target");
        assert_eq!(found[1].0, "options.mapping[1].column");
        assert!(found[2].1.contains("column 3 \"Shoe size\""), "{found:#?}");
        assert!(
            found[3].1.contains("fills display_name again"),
            "{found:#?}"
        );
        assert_eq!(found[4].0, "options.dedup_key");
    }
}
