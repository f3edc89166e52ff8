//! What a caller says about an import before its bytes: how to read the
//! file, where each column goes, how rows find the contact they are, and
//! what to do when they find one or none.

use crate::identity::IdentityKind;
use crate::kernel::tag;
use crate::kernel::{DomainError, FieldViolation};

/// How the file's bytes are text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8, with or without a byte-order mark.
    #[default]
    Utf8,
    /// Windows-1252, as older spreadsheet tools save "CSV".
    Windows1252,
}

impl Encoding {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1252 => "windows-1252",
        }
    }

    /// Inverse of [`Encoding::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [Encoding::Utf8, Encoding::Windows1252]
            .into_iter()
            .find(|encoding| encoding.as_str() == text)
    }
}

/// The address a row is matched to an existing contact by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DedupKey {
    /// The row's (first) email.
    #[default]
    Email,
    /// The row's (first) phone.
    Phone,
    /// The row's external id.
    ExternalId,
}

impl DedupKey {
    /// The identity kind it reads.
    pub fn kind(self) -> IdentityKind {
        match self {
            DedupKey::Email => IdentityKind::Email,
            DedupKey::Phone => IdentityKind::Phone,
            DedupKey::ExternalId => IdentityKind::ExternalId,
        }
    }

    /// Inverse of `kind().as_str()`.
    pub fn parse(text: &str) -> Option<Self> {
        [DedupKey::Email, DedupKey::Phone, DedupKey::ExternalId]
            .into_iter()
            .find(|key| key.kind().as_str() == text)
    }
}

/// What a row does with the contact its dedup key finds, or does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportMode {
    /// Create new contacts; update the ones found.
    #[default]
    Upsert,
    /// Create new contacts; a row whose contact exists is refused.
    CreateOnly,
    /// Update the contacts found; a row whose contact does not exist is
    /// refused.
    UpdateOnly,
}

impl ImportMode {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::Upsert => "upsert",
            ImportMode::CreateOnly => "create_only",
            ImportMode::UpdateOnly => "update_only",
        }
    }

    /// Inverse of [`ImportMode::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [
            ImportMode::Upsert,
            ImportMode::CreateOnly,
            ImportMode::UpdateOnly,
        ]
        .into_iter()
        .find(|mode| mode.as_str() == text)
    }
}

/// A standard contact field a column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StandardField {
    /// `display_name`.
    DisplayName,
    /// `city`.
    City,
    /// `country` (ISO 3166-1 alpha-2).
    Country,
    /// `language` (BCP 47).
    Language,
    /// `avatar_url`.
    AvatarUrl,
    /// `lifecycle_stage` (`customer`).
    LifecycleStage,
    /// `blocked` (`true`/`false`).
    Blocked,
    /// `tier`, by the tier's name.
    Tier,
}

impl StandardField {
    /// Every standard field, in export order.
    pub const ALL: [StandardField; 8] = [
        StandardField::DisplayName,
        StandardField::City,
        StandardField::Country,
        StandardField::Language,
        StandardField::AvatarUrl,
        StandardField::LifecycleStage,
        StandardField::Blocked,
        StandardField::Tier,
    ];

    /// The name a mapping and an export header use.
    pub fn as_str(self) -> &'static str {
        match self {
            StandardField::DisplayName => "display_name",
            StandardField::City => "city",
            StandardField::Country => "country",
            StandardField::Language => "language",
            StandardField::AvatarUrl => "avatar_url",
            StandardField::LifecycleStage => "lifecycle_stage",
            StandardField::Blocked => "blocked",
            StandardField::Tier => "tier",
        }
    }
}

/// Where one column of the file goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnTarget {
    /// A standard field.
    Field(StandardField),
    /// A custom field of contacts, by key.
    Custom(String),
    /// Addresses of one kind (several joined by `;`).
    Identity(IdentityKind),
    /// Tags (several joined by `;`).
    Tags,
    /// One tag, added when the cell is set (anything but empty, `false`,
    /// `no` or `0`).
    Tag(String),
    /// Nothing: the column is read past.
    Ignore,
}

impl ColumnTarget {
    /// Reads a mapping's target: `display_name` (any standard field),
    /// `custom_fields.KEY`, an identity kind (`email`, `phone`, ...),
    /// `tags`, `tag:NAME` or `ignore`.
    ///
    /// # Errors
    /// What is wrong, in words fit for a field violation.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "ignore" {
            return Ok(ColumnTarget::Ignore);
        }
        if text == "tags" {
            return Ok(ColumnTarget::Tags);
        }
        if let Some(name) = text.strip_prefix("tag:") {
            return tag::normalize_tag(name).map(ColumnTarget::Tag);
        }
        if let Some(key) = text.strip_prefix("custom_fields.") {
            if crate::fields::is_valid_key(key) {
                return Ok(ColumnTarget::Custom(key.to_owned()));
            }
            return Err("names no valid custom-field key".to_owned());
        }
        if let Some(field) = StandardField::ALL
            .into_iter()
            .find(|field| field.as_str() == text)
        {
            return Ok(ColumnTarget::Field(field));
        }
        if let Some(kind) = IdentityKind::parse(text) {
            return Ok(ColumnTarget::Identity(kind));
        }
        Err(
            "must be a standard field (display_name, city, country, language, avatar_url, \
             lifecycle_stage, blocked, tier), custom_fields.KEY, an address kind (email, \
             phone, external_id, ...), tags, tag:NAME or ignore"
                .to_owned(),
        )
    }

    /// Inverse of [`ColumnTarget::parse`].
    pub fn as_text(&self) -> String {
        match self {
            ColumnTarget::Field(field) => field.as_str().to_owned(),
            ColumnTarget::Custom(key) => format!("custom_fields.{key}"),
            ColumnTarget::Identity(kind) => kind.as_str().to_owned(),
            ColumnTarget::Tags => "tags".to_owned(),
            ColumnTarget::Tag(name) => format!("tag:{name}"),
            ColumnTarget::Ignore => "ignore".to_owned(),
        }
    }
}

/// One mapping: the column named `column` in the header goes to `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMapping {
    /// The header's name for the column, as written (compared trimmed and
    /// case-insensitively).
    pub column: String,
    /// Where it goes.
    pub target: ColumnTarget,
}

/// Most columns a file may have.
pub const MAX_COLUMNS: usize = 500;

/// Most default tags an import may add.
pub const MAX_DEFAULT_TAGS: usize = 20;

/// Longest file name kept with a job, in characters.
pub const MAX_FILE_NAME: usize = 255;

/// How to read and apply one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportOptions {
    /// The file's name, for people (optional).
    pub file_name: String,
    /// Columns placed by hand; the others are matched by name.
    pub mapping: Vec<ColumnMapping>,
    /// The address rows find their contact by.
    pub dedup_key: DedupKey,
    /// What rows do with the contact they find, or do not.
    pub mode: ImportMode,
    /// Tags every imported row adds (normalised).
    pub default_tags: Vec<String>,
    /// How the bytes are text.
    pub encoding: Encoding,
    /// The field separator; `None` detects it from the header row
    /// (`,`, `;` or tab, whichever it holds most of).
    pub separator: Option<u8>,
}

/// The separators a file may use.
pub const SEPARATORS: [u8; 3] = [b',', b';', b'\t'];

impl ImportOptions {
    /// Checks and normalises what a caller wrote. Paths are relative to the
    /// options (`mapping[2].target`).
    ///
    /// # Errors
    /// `InvalidArgument` listing every bad field.
    pub fn validated(mut self) -> Result<Self, DomainError> {
        let mut violations = Vec::new();
        self.file_name = self.file_name.trim().to_owned();
        if self.file_name.chars().count() > MAX_FILE_NAME
            || self.file_name.chars().any(char::is_control)
        {
            violations.push(FieldViolation::new(
                "file_name",
                format!("must be at most {MAX_FILE_NAME} characters without control characters"),
            ));
        }
        if self.mapping.len() > MAX_COLUMNS {
            violations.push(FieldViolation::new(
                "mapping",
                format!("may place at most {MAX_COLUMNS} columns"),
            ));
        } else {
            let mut seen = std::collections::HashSet::new();
            for (index, mapping) in self.mapping.iter_mut().enumerate() {
                mapping.column = mapping.column.trim().to_owned();
                if mapping.column.is_empty() || mapping.column.chars().count() > 256 {
                    violations.push(FieldViolation::new(
                        format!("mapping[{index}].column"),
                        "must name a header column (1-256 characters)",
                    ));
                } else if !seen.insert(mapping.column.to_lowercase()) {
                    violations.push(FieldViolation::new(
                        format!("mapping[{index}].column"),
                        "places a column placed earlier in the mapping",
                    ));
                }
            }
        }
        if self.default_tags.len() > MAX_DEFAULT_TAGS {
            violations.push(FieldViolation::new(
                "default_tags",
                format!("may hold at most {MAX_DEFAULT_TAGS} tags"),
            ));
        } else {
            match tag::normalize_tags(&self.default_tags, "default_tags") {
                Ok(tags) => self.default_tags = tags,
                Err(DomainError::InvalidArgument(found)) => violations.extend(found),
                Err(other) => return Err(other),
            }
        }
        if let Some(separator) = self.separator
            && !SEPARATORS.contains(&separator)
        {
            violations.push(FieldViolation::new(
                "separator",
                "must be empty (detect), \",\", \";\" or a tab",
            ));
        }
        if violations.is_empty() {
            Ok(self)
        } else {
            Err(DomainError::InvalidArgument(violations))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn targets_read_back_as_written() {
        for text in [
            "display_name",
            "tier",
            "custom_fields.plan",
            "email",
            "external_id",
            "tags",
            "tag:vip",
            "ignore",
        ] {
            assert_eq!(ColumnTarget::parse(text).unwrap().as_text(), text);
        }
        assert!(ColumnTarget::parse("nickname").is_err());
        assert!(ColumnTarget::parse("custom_fields.Bad Key").is_err());
        assert!(ColumnTarget::parse("tag:").is_err());
    }

    #[test]
    fn options_are_checked_and_normalised() {
        let options = ImportOptions {
            default_tags: vec![" Imported ".to_owned()],
            mapping: vec![ColumnMapping {
                column: " E-mail ".to_owned(),
                target: ColumnTarget::Identity(IdentityKind::Email),
            }],
            ..ImportOptions::default()
        }
        .validated()
        .unwrap();
        assert_eq!(options.default_tags, ["imported"]);
        assert_eq!(options.mapping[0].column, "E-mail");

        let refused = ImportOptions {
            separator: Some(b'|'),
            mapping: vec![
                ColumnMapping {
                    column: "a".to_owned(),
                    target: ColumnTarget::Ignore,
                },
                ColumnMapping {
                    column: "A".to_owned(),
                    target: ColumnTarget::Tags,
                },
            ],
            ..ImportOptions::default()
        }
        .validated()
        .unwrap_err();
        let DomainError::InvalidArgument(violations) = refused else {
            panic!("{refused:?}");
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["mapping[1].column", "separator"]);
    }
}
