//! What the custom-field use cases need from storage.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::fields::layout::{LayoutParts, Section, Tab};
use crate::fields::{FieldDefinition, FieldEntity};
use crate::kernel::DomainError;
use crate::kernel::{FieldId, SectionId, TabId, TenantId};

/// Which definitions a record write needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefinitionsFor {
    /// The fields with these keys (an update).
    Keys(Vec<String>),
    /// The fields with these keys and every required field (an update that
    /// replaces all values).
    KeysAndRequired(Vec<String>),
    /// The fields with these keys, every required field and every field
    /// with a default (a create).
    Create(Vec<String>),
    /// Every field with a default (a record created by sender resolution).
    Defaults,
}

/// Storage of custom-field definitions and the form layout.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait CustomFieldRepository: Send + Sync {
    /// Inserts a definition placed last in its section (its `position` is
    /// ignored) and returns it as stored.
    ///
    /// # Errors
    /// `AlreadyExists` when the key is taken for the entity;
    /// `FailedPrecondition` when the entity already has `limit` fields or the
    /// section does not exist; `Unavailable`; `Internal`.
    async fn create_field(
        &self,
        field: &FieldDefinition,
        limit: usize,
    ) -> Result<FieldDefinition, DomainError>;

    /// Reads one definition.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn get_field(
        &self,
        tenant: TenantId,
        id: FieldId,
    ) -> Result<Option<FieldDefinition>, DomainError>;

    /// Up to `limit` definitions of an entity with ids after `after`, by id.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list_fields(
        &self,
        tenant: TenantId,
        entity: FieldEntity,
        after: Option<FieldId>,
        limit: u32,
    ) -> Result<Vec<FieldDefinition>, DomainError>;

    /// The definitions a record write of `entity` needs.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn definitions_for(
        &self,
        tenant: TenantId,
        entity: FieldEntity,
        wanted: DefinitionsFor,
    ) -> Result<Vec<FieldDefinition>, DomainError>;

    /// Writes a definition's spec at `expected_version`. When its type
    /// changes, refuses while any record holds a value for it.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `FailedPrecondition` (type change with values);
    /// `Unavailable`; `Internal`.
    async fn update_field(
        &self,
        field: &FieldDefinition,
        expected_version: i64,
        type_changed: bool,
    ) -> Result<FieldDefinition, DomainError>;

    /// Deletes a definition and every stored value of it, atomically.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn delete_field(
        &self,
        tenant: TenantId,
        id: FieldId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError>;

    /// Moves a field into `section` (or out of every section) at
    /// `position` (clamped to the end), shifting the others.
    ///
    /// # Errors
    /// `NotFound` (field); `FailedPrecondition` (section missing or of
    /// another entity); `Unavailable`; `Internal`.
    async fn move_field(
        &self,
        tenant: TenantId,
        id: FieldId,
        section: Option<SectionId>,
        position: u32,
        now: OffsetDateTime,
    ) -> Result<FieldDefinition, DomainError>;

    /// Every tab, section and definition of an entity, in one read.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn layout(
        &self,
        tenant: TenantId,
        entity: FieldEntity,
    ) -> Result<LayoutParts, DomainError>;

    /// Inserts a tab, last among its entity's tabs.
    ///
    /// # Errors
    /// `FailedPrecondition` at `limit` tabs; `Unavailable`; `Internal`.
    async fn create_tab(&self, tab: &Tab, limit: usize) -> Result<Tab, DomainError>;

    /// Renames a tab at `expected_version` (if given).
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn rename_tab(
        &self,
        tenant: TenantId,
        id: TabId,
        name: &str,
        expected_version: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<Tab, DomainError>;

    /// Deletes an empty tab and closes the gap.
    ///
    /// # Errors
    /// `NotFound`; `FailedPrecondition` while it holds sections;
    /// `Unavailable`; `Internal`.
    async fn delete_tab(&self, tenant: TenantId, id: TabId) -> Result<(), DomainError>;

    /// Gives an entity's tabs the positions of `order`, which must name
    /// exactly its tabs.
    ///
    /// # Errors
    /// `Stale` when the set of tabs changed meanwhile; `Unavailable`; `Internal`.
    async fn reorder_tabs(
        &self,
        tenant: TenantId,
        entity: FieldEntity,
        order: &[TabId],
        now: OffsetDateTime,
    ) -> Result<Vec<Tab>, DomainError>;

    /// Inserts a section, last in its tab.
    ///
    /// # Errors
    /// `FailedPrecondition` when the tab is missing or full; `Unavailable`; `Internal`.
    async fn create_section(&self, section: &Section, limit: usize)
    -> Result<Section, DomainError>;

    /// Renames a section at `expected_version` (if given).
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn rename_section(
        &self,
        tenant: TenantId,
        id: SectionId,
        name: &str,
        expected_version: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<Section, DomainError>;

    /// Deletes an empty section and closes the gap.
    ///
    /// # Errors
    /// `NotFound`; `FailedPrecondition` while it holds fields; `Unavailable`; `Internal`.
    async fn delete_section(&self, tenant: TenantId, id: SectionId) -> Result<(), DomainError>;

    /// The ids of a tab's sections, in order; `None` when there is no such tab.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn sections_of(
        &self,
        tenant: TenantId,
        tab: TabId,
    ) -> Result<Option<Vec<SectionId>>, DomainError>;

    /// Gives a tab's sections the positions of `order`, which must name
    /// exactly its sections.
    ///
    /// # Errors
    /// `NotFound` (tab); `Stale` when the set changed meanwhile; `Unavailable`; `Internal`.
    async fn reorder_sections(
        &self,
        tenant: TenantId,
        tab: TabId,
        order: &[SectionId],
        now: OffsetDateTime,
    ) -> Result<Vec<Section>, DomainError>;
}
