//! The layout of a record form: tabs hold sections, sections hold custom
//! fields, each in order. Fields not placed in any section are listed apart.
//! Moving a field changes where it is shown, never its values.

use time::OffsetDateTime;

use crate::fields::{FieldDefinition, FieldEntity};
use crate::kernel::{DomainError, FieldViolation};
use crate::kernel::{SectionId, TabId, TenantId};

/// Longest tab or section name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Most tabs per entity, and sections per tab.
pub const MAX_ITEMS: usize = 100;

/// A tab of a record form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tab {
    /// Its id.
    pub id: TabId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The record type whose form it belongs to.
    pub entity: FieldEntity,
    /// Shown name.
    pub name: String,
    /// Order among the entity's tabs, from 0.
    pub position: u32,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// When it was created.
    pub create_time: OffsetDateTime,
    /// When it last changed.
    pub update_time: OffsetDateTime,
}

/// A section of a tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Its id.
    pub id: SectionId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The tab it is in.
    pub tab_id: TabId,
    /// Shown name.
    pub name: String,
    /// Order within its tab, from 0.
    pub position: u32,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// When it was created.
    pub create_time: OffsetDateTime,
    /// When it last changed.
    pub update_time: OffsetDateTime,
}

/// A section with its fields, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionView {
    /// The section.
    pub section: Section,
    /// Its fields.
    pub fields: Vec<FieldDefinition>,
}

/// A tab with its sections, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabView {
    /// The tab.
    pub tab: Tab,
    /// Its sections.
    pub sections: Vec<SectionView>,
}

/// A whole record form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The record type.
    pub entity: FieldEntity,
    /// Tabs in order.
    pub tabs: Vec<TabView>,
    /// Fields in no section, in order.
    pub unplaced: Vec<FieldDefinition>,
}

/// A form's parts as stored, before [`assemble`] nests them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayoutParts {
    /// Every tab of the entity.
    pub tabs: Vec<Tab>,
    /// Every section of those tabs.
    pub sections: Vec<Section>,
    /// Every field definition of the entity.
    pub fields: Vec<FieldDefinition>,
}

/// Assembles a layout from its parts, each ordered by position (then id, so
/// the result is deterministic).
pub fn assemble(
    entity: FieldEntity,
    mut tabs: Vec<Tab>,
    mut sections: Vec<Section>,
    mut fields: Vec<FieldDefinition>,
) -> Layout {
    tabs.sort_by_key(|tab| (tab.position, tab.id));
    sections.sort_by_key(|section| (section.position, section.id));
    fields.sort_by_key(|field| (field.position, field.id));
    let mut unplaced = Vec::new();
    let mut by_section: Vec<(SectionId, Vec<FieldDefinition>)> = Vec::new();
    for field in fields {
        match field.section_id {
            Some(section) if sections.iter().any(|s| s.id == section) => {
                match by_section.iter_mut().find(|(id, _)| *id == section) {
                    Some((_, list)) => list.push(field),
                    None => by_section.push((section, vec![field])),
                }
            }
            _ => unplaced.push(field),
        }
    }
    let tabs = tabs
        .into_iter()
        .map(|tab| {
            let sections = sections
                .iter()
                .filter(|section| section.tab_id == tab.id)
                .map(|section| SectionView {
                    section: section.clone(),
                    fields: by_section
                        .iter()
                        .find(|(id, _)| *id == section.id)
                        .map(|(_, fields)| fields.clone())
                        .unwrap_or_default(),
                })
                .collect();
            TabView { tab, sections }
        })
        .collect();
    Layout {
        entity,
        tabs,
        unplaced,
    }
}

/// A trimmed tab or section name.
///
/// # Errors
/// `InvalidArgument` on `name` when empty, too long or with control characters.
pub fn validate_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(DomainError::invalid(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters without control characters"),
        ));
    }
    Ok(name.to_owned())
}

/// Checks that `order` lists every id of `current` exactly once.
///
/// # Errors
/// `InvalidArgument` on `field`.
pub fn check_order<T: PartialEq + Copy + std::fmt::Display>(
    current: &[T],
    order: &[T],
    field: &str,
) -> Result<(), DomainError> {
    let mut violations = Vec::new();
    for (index, id) in order.iter().enumerate() {
        if !current.contains(id) {
            violations.push(FieldViolation::new(
                format!("{field}[{index}]"),
                format!("{id} is not in this list"),
            ));
        } else if order[..index].contains(id) {
            violations.push(FieldViolation::new(
                format!("{field}[{index}]"),
                "is listed twice",
            ));
        }
    }
    if violations.is_empty() && order.len() != current.len() {
        violations.push(FieldViolation::new(
            field,
            "must list every item exactly once",
        ));
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use uuid::Uuid;

    use super::*;
    use crate::fields::{FieldSpec, FieldType, Validation};
    use crate::kernel::FieldId;

    fn tab(position: u32) -> Tab {
        Tab {
            id: TabId::from_uuid(Uuid::now_v7()),
            tenant_id: TenantId::from_uuid(Uuid::nil()),
            entity: FieldEntity::Contact,
            name: format!("tab {position}"),
            position,
            version: 1,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn section(tab: &Tab, position: u32) -> Section {
        Section {
            id: SectionId::from_uuid(Uuid::now_v7()),
            tenant_id: tab.tenant_id,
            tab_id: tab.id,
            name: format!("section {position}"),
            position,
            version: 1,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn field(key: &str, section: Option<SectionId>, position: u32) -> FieldDefinition {
        FieldDefinition {
            id: FieldId::from_uuid(Uuid::now_v7()),
            tenant_id: TenantId::from_uuid(Uuid::nil()),
            entity: FieldEntity::Contact,
            key: key.into(),
            spec: FieldSpec {
                display_name: key.into(),
                description: String::new(),
                field_type: FieldType::Text,
                required: false,
                default: None,
                validation: Validation::default(),
                options: Vec::new(),
            },
            section_id: section,
            position,
            version: 1,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        }
    }

    type Shape = Vec<(String, Vec<(String, Vec<String>)>)>;

    #[test]
    fn a_layout_nests_and_orders_its_parts() {
        let (overview, billing) = (tab(0), tab(1));
        let (details, preferences) = (section(&overview, 0), section(&overview, 1));
        let invoices = section(&billing, 0);
        let layout = assemble(
            FieldEntity::Contact,
            vec![billing.clone(), overview.clone()],
            vec![preferences.clone(), invoices.clone(), details.clone()],
            vec![
                field("industry", Some(details.id), 1),
                field("account_id", Some(details.id), 0),
                field("vat", Some(invoices.id), 0),
                field("loose", None, 0),
                field("orphan", Some(SectionId::from_uuid(Uuid::now_v7())), 0),
            ],
        );
        let shape: Shape = layout
            .tabs
            .iter()
            .map(|t| {
                (
                    t.tab.name.clone(),
                    t.sections
                        .iter()
                        .map(|s| {
                            (
                                s.section.name.clone(),
                                s.fields.iter().map(|f| f.key.clone()).collect(),
                            )
                        })
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                (
                    "tab 0".to_owned(),
                    vec![
                        (
                            "section 0".to_owned(),
                            vec!["account_id".to_owned(), "industry".to_owned()]
                        ),
                        ("section 1".to_owned(), vec![]),
                    ]
                ),
                (
                    "tab 1".to_owned(),
                    vec![("section 0".to_owned(), vec!["vat".to_owned()])]
                ),
            ]
        );
        let unplaced: Vec<&str> = layout.unplaced.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(unplaced, ["loose", "orphan"]);
    }

    #[test]
    fn orders_must_list_everything_once() {
        assert!(check_order(&[1, 2, 3], &[3, 1, 2], "ids").is_ok());
        assert!(check_order(&[1, 2, 3], &[3, 1], "ids").is_err());
        assert!(check_order(&[1, 2], &[1, 1], "ids").is_err());
        assert!(check_order(&[1, 2], &[1, 2, 9], "ids").is_err());
        assert_eq!(validate_name("  Billing ").unwrap(), "Billing");
        assert!(validate_name(" ").is_err());
    }
}
