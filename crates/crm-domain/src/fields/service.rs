//! Custom-field use cases: defining fields (with generated, stable keys),
//! changing and deleting them, and shaping the record form into tabs and
//! sections. Values are written with the record they belong to (see
//! `ContactService`).

use crate::fields;
use crate::fields::layout;
use std::collections::HashSet;
use std::sync::Arc;

use crate::fields::layout::{Layout, Section, Tab};
use crate::fields::{CustomFieldRepository, DefinitionsFor};
use crate::fields::{
    CustomValues, FieldDefinition, FieldEntity, FieldSpec, FieldType, FieldValue, OptionInput,
    Validation, ValueChanges,
};
use crate::kernel::Page;
use crate::kernel::{Attempt, retry, stale_unless_expected};
use crate::kernel::{Clock, IdGenerator};
use crate::kernel::{DomainError, Entity};
use crate::kernel::{FieldId, SectionId, TabId};
use crate::tenancy::{Caller, Tenant};

/// Applies a record write's custom-field values against the definitions of
/// its record type: loads the definitions the write needs (on create, also
/// the required and defaulted ones), then checks and applies the values.
/// Violations are named `{prefix}.custom_fields.KEY`.
///
/// # Errors
/// `InvalidArgument` listing every violation; `Unavailable`; `Internal`.
pub async fn apply_record_values(
    fields: &dyn CustomFieldRepository,
    tenant: &Tenant,
    entity: FieldEntity,
    current: &CustomValues,
    changes: &ValueChanges,
    creating: bool,
) -> Result<CustomValues, DomainError> {
    let keys: Vec<String> = changes.values.iter().map(|(key, _)| key.clone()).collect();
    let wanted = if creating {
        DefinitionsFor::Create(keys)
    } else if changes.replace_all {
        DefinitionsFor::KeysAndRequired(keys)
    } else {
        DefinitionsFor::Keys(keys)
    };
    let definitions = fields.definitions_for(tenant.id, entity, wanted).await?;
    fields::apply_values(
        current,
        changes,
        &definitions,
        creating,
        tenant.default_region,
    )
    .map_err(DomainError::InvalidArgument)
}

/// A new field as a caller describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDraft {
    /// The record type.
    pub entity: FieldEntity,
    /// A key of the caller's choosing; `None` generates one from the name.
    pub key: Option<String>,
    /// Shown name.
    pub display_name: String,
    /// Help text.
    pub description: String,
    /// Value type.
    pub field_type: FieldType,
    /// Whether records must have a value.
    pub required: bool,
    /// Value for new records.
    pub default: Option<FieldValue>,
    /// Checks beyond the type.
    pub validation: Validation,
    /// Select options, in order (keys empty).
    pub options: Vec<OptionInput>,
    /// The section to show it in.
    pub section_id: Option<SectionId>,
}

/// Changes to a field; `None` leaves a part as it is. The key never changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPatch {
    /// New name.
    pub display_name: Option<String>,
    /// New help text.
    pub description: Option<String>,
    /// New type: refused while any record holds a value.
    pub field_type: Option<FieldType>,
    /// New required flag.
    pub required: Option<bool>,
    /// New default; `Some(None)` removes it.
    pub default: Option<Option<FieldValue>>,
    /// New checks.
    pub validation: Option<Validation>,
    /// New option list: existing options by key, new ones with empty keys.
    pub options: Option<Vec<OptionInput>>,
}

/// Custom-field and layout use cases.
#[derive(Clone)]
pub struct CustomFieldService {
    fields: Arc<dyn CustomFieldRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for CustomFieldService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomFieldService").finish_non_exhaustive()
    }
}

fn not_found(entity: Entity, id: impl ToString) -> DomainError {
    DomainError::NotFound {
        entity,
        id: id.to_string(),
    }
}

impl CustomFieldService {
    /// Wires the use cases to their ports.
    pub fn new(
        fields: Arc<dyn CustomFieldRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { fields, clock, ids }
    }

    /// Defines a field. Without a key, one is generated from the name that
    /// clashes with no standard field and no other key of the entity.
    ///
    /// # Errors
    /// `InvalidArgument`; `AlreadyExists` for a chosen key in use;
    /// `FailedPrecondition` (too many fields, unknown section);
    /// `Unavailable`; `Internal`.
    pub async fn create_field(
        &self,
        caller: &Caller,
        draft: FieldDraft,
    ) -> Result<FieldDefinition, DomainError> {
        let tenant = caller.tenant();
        let reserved = draft.entity.reserved_keys();
        if let Some(key) = &draft.key
            && (!fields::is_valid_key(key) || reserved.contains(&key.as_str()))
        {
            return Err(DomainError::invalid(
                "key",
                "must be lower-case letters, digits and _, start with a letter, \
                 at most 64 characters, and not a standard field name",
            ));
        }
        let options = fields::resolve_options(&[], &draft.options, "options")
            .map_err(DomainError::InvalidArgument)?;
        let spec = fields::validate_spec(
            FieldSpec {
                display_name: draft.display_name,
                description: draft.description,
                field_type: draft.field_type,
                required: draft.required,
                default: draft.default,
                validation: draft.validation,
                options,
            },
            tenant.default_region,
        )?;
        let (wanted_key, entity, section_id) = (&draft.key, draft.entity, draft.section_id);
        let spec = &spec;
        retry("custom field key", || async move {
            let key = match wanted_key {
                Some(key) => key.clone(),
                None => {
                    let taken: HashSet<String> = self
                        .fields
                        .list_fields(
                            tenant.id,
                            entity,
                            None,
                            u32::try_from(fields::MAX_FIELDS_PER_ENTITY).unwrap_or(u32::MAX),
                        )
                        .await?
                        .into_iter()
                        .map(|field| field.key)
                        .collect();
                    fields::unique_key(&fields::key_from_name(&spec.display_name), reserved, &taken)
                }
            };
            let now = self.clock.now();
            let field = FieldDefinition {
                id: FieldId::from_uuid(self.ids.new_id()),
                tenant_id: tenant.id,
                entity,
                key,
                spec: spec.clone(),
                section_id,
                position: 0,
                version: 1,
                create_time: now,
                update_time: now,
            };
            // A generated key taken meanwhile: generate again.
            Attempt::again_if(
                self.fields
                    .create_field(&field, fields::MAX_FIELDS_PER_ENTITY)
                    .await,
                |error| matches!(error, DomainError::AlreadyExists { .. }) && wanted_key.is_none(),
            )
        })
        .await
    }

    /// Reads one field.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn get_field(
        &self,
        caller: &Caller,
        id: FieldId,
    ) -> Result<FieldDefinition, DomainError> {
        let tenant = caller.tenant();
        self.fields
            .get_field(tenant.id, id)
            .await?
            .ok_or_else(|| not_found(Entity::CustomField, id))
    }

    /// Lists an entity's fields by id, after a cursor.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn list_fields(
        &self,
        caller: &Caller,
        entity: FieldEntity,
        after: Option<FieldId>,
        page_size: u32,
    ) -> Result<Page<FieldDefinition, FieldId>, DomainError> {
        let tenant = caller.tenant();
        let items = self
            .fields
            .list_fields(
                tenant.id,
                entity,
                after,
                crate::kernel::overfetch(page_size),
            )
            .await?;
        Ok(Page::from_overfetch(items, page_size, |field| field.id))
    }

    /// Applies a patch. Changing the type is refused while any record holds
    /// a value; options can be archived but not removed.
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `FailedPrecondition`;
    /// `Contention`; `Unavailable`; `Internal`.
    pub async fn update_field(
        &self,
        caller: &Caller,
        id: FieldId,
        patch: FieldPatch,
        expected_version: Option<i64>,
    ) -> Result<FieldDefinition, DomainError> {
        let tenant = caller.tenant();
        let patch = &patch;
        retry("custom field", || async move {
            let current = self.get_field(caller, id).await?;
            if expected_version.is_some_and(|version| version != current.version) {
                return Err(DomainError::Stale {
                    entity: Entity::CustomField,
                    id: id.to_string(),
                });
            }
            let mut spec = current.spec.clone();
            if let Some(name) = &patch.display_name {
                spec.display_name.clone_from(name);
            }
            if let Some(description) = &patch.description {
                spec.description.clone_from(description);
            }
            if let Some(field_type) = patch.field_type {
                spec.field_type = field_type;
            }
            if let Some(required) = patch.required {
                spec.required = required;
            }
            if let Some(default) = &patch.default {
                spec.default.clone_from(default);
            }
            if let Some(validation) = &patch.validation {
                spec.validation = validation.clone();
            }
            if let Some(options) = &patch.options {
                spec.options = fields::resolve_options(&current.spec.options, options, "options")
                    .map_err(DomainError::InvalidArgument)?;
            }
            let spec = fields::validate_spec(spec, tenant.default_region)?;
            let type_changed = spec.field_type != current.spec.field_type;
            let updated = FieldDefinition {
                spec,
                update_time: self.clock.now(),
                ..current.clone()
            };
            Attempt::again_if(
                self.fields
                    .update_field(&updated, current.version, type_changed)
                    .await,
                stale_unless_expected(expected_version),
            )
        })
        .await
    }

    /// Deletes a field and every value of it.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    pub async fn delete_field(
        &self,
        caller: &Caller,
        id: FieldId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError> {
        let tenant = caller.tenant();
        self.fields
            .delete_field(tenant.id, id, expected_version)
            .await
    }

    /// Moves a field into a section (or out of all) at a position; its
    /// values stay as they are.
    ///
    /// # Errors
    /// `NotFound`; `FailedPrecondition` (section missing or of another
    /// entity); `Unavailable`; `Internal`.
    pub async fn move_field(
        &self,
        caller: &Caller,
        id: FieldId,
        section: Option<SectionId>,
        position: u32,
    ) -> Result<FieldDefinition, DomainError> {
        let tenant = caller.tenant();
        self.fields
            .move_field(tenant.id, id, section, position, self.clock.now())
            .await
    }

    /// The whole form of an entity in one read.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn layout(
        &self,
        caller: &Caller,
        entity: FieldEntity,
    ) -> Result<Layout, DomainError> {
        let tenant = caller.tenant();
        let parts = self.fields.layout(tenant.id, entity).await?;
        Ok(layout::assemble(
            entity,
            parts.tabs,
            parts.sections,
            parts.fields,
        ))
    }

    /// Adds a tab at the end of an entity's form.
    ///
    /// # Errors
    /// `InvalidArgument`; `FailedPrecondition` when full; `Unavailable`; `Internal`.
    pub async fn create_tab(
        &self,
        caller: &Caller,
        entity: FieldEntity,
        name: &str,
    ) -> Result<Tab, DomainError> {
        let tenant = caller.tenant();
        let name = layout::validate_name(name)?;
        let now = self.clock.now();
        let tab = Tab {
            id: TabId::from_uuid(self.ids.new_id()),
            tenant_id: tenant.id,
            entity,
            name,
            position: 0,
            version: 1,
            create_time: now,
            update_time: now,
        };
        self.fields.create_tab(&tab, layout::MAX_ITEMS).await
    }

    /// Renames a tab.
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `Unavailable`; `Internal`.
    pub async fn rename_tab(
        &self,
        caller: &Caller,
        id: TabId,
        name: &str,
        expected_version: Option<i64>,
    ) -> Result<Tab, DomainError> {
        let tenant = caller.tenant();
        let name = layout::validate_name(name)?;
        self.fields
            .rename_tab(tenant.id, id, &name, expected_version, self.clock.now())
            .await
    }

    /// Deletes an empty tab.
    ///
    /// # Errors
    /// `NotFound`; `FailedPrecondition` while it holds sections; `Unavailable`; `Internal`.
    pub async fn delete_tab(&self, caller: &Caller, id: TabId) -> Result<(), DomainError> {
        let tenant = caller.tenant();
        self.fields.delete_tab(tenant.id, id).await
    }

    /// Orders an entity's tabs.
    ///
    /// # Errors
    /// `InvalidArgument` on `tab_ids` unless it lists every tab once;
    /// `Contention`; `Unavailable`; `Internal`.
    pub async fn reorder_tabs(
        &self,
        caller: &Caller,
        entity: FieldEntity,
        order: &[TabId],
    ) -> Result<Vec<Tab>, DomainError> {
        let tenant = caller.tenant();
        retry("tab order", || async move {
            let parts = self.fields.layout(tenant.id, entity).await?;
            let current: Vec<TabId> = parts.tabs.iter().map(|tab| tab.id).collect();
            layout::check_order(&current, order, "tab_ids")?;
            Attempt::again_if(
                self.fields
                    .reorder_tabs(tenant.id, entity, order, self.clock.now())
                    .await,
                |error| matches!(error, DomainError::Stale { .. }),
            )
        })
        .await
    }

    /// Adds a section at the end of a tab.
    ///
    /// # Errors
    /// `InvalidArgument`; `FailedPrecondition` when the tab is missing or
    /// full; `Unavailable`; `Internal`.
    pub async fn create_section(
        &self,
        caller: &Caller,
        tab: TabId,
        name: &str,
    ) -> Result<Section, DomainError> {
        let tenant = caller.tenant();
        let name = layout::validate_name(name)?;
        let now = self.clock.now();
        let section = Section {
            id: SectionId::from_uuid(self.ids.new_id()),
            tenant_id: tenant.id,
            tab_id: tab,
            name,
            position: 0,
            version: 1,
            create_time: now,
            update_time: now,
        };
        self.fields
            .create_section(&section, layout::MAX_ITEMS)
            .await
    }

    /// Renames a section.
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `Unavailable`; `Internal`.
    pub async fn rename_section(
        &self,
        caller: &Caller,
        id: SectionId,
        name: &str,
        expected_version: Option<i64>,
    ) -> Result<Section, DomainError> {
        let tenant = caller.tenant();
        let name = layout::validate_name(name)?;
        self.fields
            .rename_section(tenant.id, id, &name, expected_version, self.clock.now())
            .await
    }

    /// Deletes an empty section.
    ///
    /// # Errors
    /// `NotFound`; `FailedPrecondition` while it holds fields; `Unavailable`; `Internal`.
    pub async fn delete_section(&self, caller: &Caller, id: SectionId) -> Result<(), DomainError> {
        let tenant = caller.tenant();
        self.fields.delete_section(tenant.id, id).await
    }

    /// Orders a tab's sections.
    ///
    /// # Errors
    /// `InvalidArgument` on `section_ids` unless it lists every section of
    /// the tab once; `NotFound`; `Contention`; `Unavailable`; `Internal`.
    pub async fn reorder_sections(
        &self,
        caller: &Caller,
        tab: TabId,
        order: &[SectionId],
    ) -> Result<Vec<Section>, DomainError> {
        let tenant = caller.tenant();
        retry("section order", || async move {
            let current = self
                .fields
                .sections_of(tenant.id, tab)
                .await?
                .ok_or_else(|| not_found(Entity::Tab, tab))?;
            layout::check_order(&current, order, "section_ids")?;
            Attempt::again_if(
                self.fields
                    .reorder_sections(tenant.id, tab, order, self.clock.now())
                    .await,
                |error| matches!(error, DomainError::Stale { .. }),
            )
        })
        .await
    }
}
