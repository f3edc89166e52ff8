//! `CustomFieldRepository` on sea-orm: definitions, the form layout, and
//! the bulk operations on record values that deleting or retyping a field
//! needs. Positions run 0..n per list without gaps; every change to them
//! takes the tenant lock (see `ordered::lock_tenant`).

use async_trait::async_trait;
use crm_domain::fields::layout::{LayoutParts, Section, Tab};
use crm_domain::fields::{CustomFieldRepository, DefinitionsFor};
use crm_domain::fields::{FieldDefinition, FieldEntity};
use crm_domain::{DomainError, Entity, FieldId, Precondition, SectionId, TabId, TenantId};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ordered::{self, lock_tenant};
use crate::pools::Pools;
use crate::rows::custom_fields::{
    FIELD_COLUMNS, FieldRow, default_json, options_json, validation_json,
};
use crate::rows::layout_sections::{SECTION_COLUMNS, SectionRow};
use crate::rows::layout_tabs::{TAB_COLUMNS, TabRow};
use crate::rows::{Count, Id};
use crate::sql::Sql;

/// Custom fields and layouts in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaCustomFieldRepository {
    pub(crate) pools: Pools,
}

/// The table holding an entity's records and their `custom_values`.
fn records_table(entity: FieldEntity) -> &'static str {
    match entity {
        FieldEntity::Contact => "contacts",
        FieldEntity::Organization => "organizations",
        FieldEntity::Conversation => "conversations",
    }
}

fn not_found(entity: Entity, id: impl ToString) -> DomainError {
    DomainError::NotFound {
        entity,
        id: id.to_string(),
    }
}

fn stale(entity: Entity, id: impl ToString) -> DomainError {
    DomainError::Stale {
        entity,
        id: id.to_string(),
    }
}

impl SeaCustomFieldRepository {
    async fn fields<C: ConnectionTrait>(
        &self,
        connection: &C,
        sql: Sql,
    ) -> Result<Vec<FieldDefinition>, DomainError> {
        sql.fetch(connection, FieldRow::into_domain).await
    }

    async fn field<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
        id: FieldId,
    ) -> Result<Option<FieldDefinition>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(FIELD_COLUMNS)
            .push(" FROM custom_fields WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(id.as_uuid());
        Ok(self.fields(connection, sql).await?.into_iter().next())
    }

    async fn tabs<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
        entity: FieldEntity,
    ) -> Result<Vec<Tab>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(TAB_COLUMNS)
            .push(" FROM layout_tabs WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND entity = ")
            .bind(entity.as_str())
            .push(" ORDER BY position, id");
        sql.fetch(connection, TabRow::into_domain).await
    }

    async fn tab<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
        id: TabId,
    ) -> Result<Option<Tab>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(TAB_COLUMNS)
            .push(" FROM layout_tabs WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(id.as_uuid());
        sql.fetch_optional::<_, TabRow>(connection)
            .await?
            .map(TabRow::into_domain)
            .transpose()
    }

    async fn sections<C: ConnectionTrait>(
        &self,
        connection: &C,
        sql: Sql,
    ) -> Result<Vec<Section>, DomainError> {
        sql.fetch(connection, |row: SectionRow| Ok(row.into_domain()))
            .await
    }

    async fn section<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
        id: SectionId,
    ) -> Result<Option<Section>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(SECTION_COLUMNS)
            .push(" FROM layout_sections WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(id.as_uuid());
        Ok(self.sections(connection, sql).await?.into_iter().next())
    }

    async fn sections_in<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
        tab: TabId,
    ) -> Result<Vec<Section>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(SECTION_COLUMNS)
            .push(" FROM layout_sections WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND tab_id = ")
            .bind(tab.as_uuid())
            .push(" ORDER BY position, id");
        self.sections(connection, sql).await
    }

    async fn number<C: ConnectionTrait>(
        &self,
        connection: &C,
        sql: Sql,
    ) -> Result<i64, DomainError> {
        Ok(sql
            .fetch_optional::<_, Count>(connection)
            .await?
            .map_or(0, |row| row.n))
    }

    /// Whether `section` is a section of a tab of `entity`.
    async fn section_of_entity<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
        section: SectionId,
        entity: FieldEntity,
    ) -> Result<bool, DomainError> {
        let mut sql = Sql::new(
            "SELECT count(*) AS n FROM layout_sections s JOIN layout_tabs t \
             ON t.tenant_id = s.tenant_id AND t.id = s.tab_id WHERE s.tenant_id = ",
        );
        sql.bind(tenant.as_uuid())
            .push(" AND s.id = ")
            .bind(section.as_uuid())
            .push(" AND t.entity = ")
            .bind(entity.as_str());
        Ok(self.number(connection, sql).await? > 0)
    }

    /// `WHERE`-clause part: fields of one entity in one section (or none).
    fn in_section(
        sql: &mut Sql,
        tenant: TenantId,
        entity: FieldEntity,
        section: Option<SectionId>,
    ) {
        sql.push(" WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND entity = ")
            .bind(entity.as_str())
            .push(" AND section_id IS NOT DISTINCT FROM ")
            .bind(section.map(|section| section.as_uuid()));
    }

    /// Whether any record of `entity` holds a value for `key`.
    async fn values_exist<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
        entity: FieldEntity,
        key: &str,
    ) -> Result<bool, DomainError> {
        let mut sql = Sql::new("SELECT count(*) AS n FROM ");
        sql.push(records_table(entity))
            .push(" WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND ");
        self.pools
            .backend
            .push_has_key(&mut sql, "custom_values", key);
        Ok(self.number(connection, sql).await? > 0)
    }
}

/// Renames a tab or section, bumping its version.
async fn rename(
    transaction: &DatabaseTransaction,
    table: &str,
    tenant: TenantId,
    id: Uuid,
    name: &str,
    now: OffsetDateTime,
) -> Result<(), DomainError> {
    let mut sql = Sql::new("UPDATE ");
    sql.push(table)
        .push(" SET name = ")
        .bind(name.to_owned())
        .push(", version = version + 1, update_time = ")
        .bind(now)
        .push(" WHERE tenant_id = ")
        .bind(tenant.as_uuid())
        .push(" AND id = ")
        .bind(id);
    sql.execute(transaction).await?;
    Ok(())
}

#[async_trait]
impl CustomFieldRepository for SeaCustomFieldRepository {
    async fn create_field(
        &self,
        field: &FieldDefinition,
        limit: usize,
    ) -> Result<FieldDefinition, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, field.tenant_id).await?;
                let mut sql =
                    Sql::new("SELECT count(*) AS n FROM custom_fields WHERE tenant_id = ");
                sql.bind(field.tenant_id.as_uuid())
                    .push(" AND entity = ")
                    .bind(field.entity.as_str());
                if usize::try_from(self.number(transaction, sql).await?).unwrap_or(usize::MAX)
                    >= limit
                {
                    return Err(DomainError::FailedPrecondition(
                        Precondition::CustomFieldLimit { limit },
                    ));
                }
                if let Some(section) = field.section_id
                    && !self
                        .section_of_entity(transaction, field.tenant_id, section, field.entity)
                        .await?
                {
                    return Err(DomainError::invalid(
                        "section_id",
                        format!("no section {section} in this record type's layout"),
                    ));
                }
                let mut sql = Sql::new("SELECT count(*) AS n FROM custom_fields");
                Self::in_section(&mut sql, field.tenant_id, field.entity, field.section_id);
                let position = self.number(transaction, sql).await?;
                let spec = &field.spec;
                let mut sql = Sql::new("INSERT INTO custom_fields (");
                sql.push(FIELD_COLUMNS)
                    .push(") VALUES (")
                    .bind(field.tenant_id.as_uuid())
                    .push(", ")
                    .bind(field.id.as_uuid())
                    .push(", ")
                    .bind(field.entity.as_str())
                    .push(", ")
                    .bind(field.key.clone())
                    .push(", ")
                    .bind(spec.display_name.clone())
                    .push(", ")
                    .bind(spec.description.clone())
                    .push(", ")
                    .bind(spec.field_type.as_str())
                    .push(", ")
                    .bind(spec.required)
                    .push(", ")
                    .bind(default_json(spec.default.as_ref()))
                    .push(", ")
                    .bind(validation_json(&spec.validation))
                    .push(", ")
                    .bind(options_json(&spec.options))
                    .push(", ")
                    .bind(field.section_id.map(|section| section.as_uuid()))
                    .push(", ")
                    .bind(position)
                    .push(", ")
                    .bind(field.version)
                    .push(", ")
                    .bind(field.create_time)
                    .push(", ")
                    .bind(field.update_time)
                    .push(") ON CONFLICT (tenant_id, entity, key) DO NOTHING");
                if sql.execute(transaction).await? == 0 {
                    let mut sql = Sql::new("SELECT id FROM custom_fields WHERE tenant_id = ");
                    sql.bind(field.tenant_id.as_uuid())
                        .push(" AND entity = ")
                        .bind(field.entity.as_str())
                        .push(" AND key = ")
                        .bind(field.key.clone());
                    let holder: Option<Id> = sql.fetch_optional(transaction).await?;
                    return Err(DomainError::AlreadyExists {
                        entity: Entity::CustomField,
                        field: "key".to_owned(),
                        value: field.key.clone(),
                        holder: holder.map(|row| row.id.to_string()).unwrap_or_default(),
                    });
                }
                Ok(FieldDefinition {
                    position: u32::try_from(position).unwrap_or(0),
                    ..field.clone()
                })
            })
            .await
    }

    async fn get_field(
        &self,
        tenant: TenantId,
        id: FieldId,
    ) -> Result<Option<FieldDefinition>, DomainError> {
        self.field(&self.pools.db, tenant, id).await
    }

    async fn list_fields(
        &self,
        tenant: TenantId,
        entity: FieldEntity,
        after: Option<FieldId>,
        limit: u32,
    ) -> Result<Vec<FieldDefinition>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(FIELD_COLUMNS)
            .push(" FROM custom_fields WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND entity = ")
            .bind(entity.as_str());
        if let Some(after) = after {
            sql.push(" AND id > ").bind(after.as_uuid());
        }
        sql.push(" ORDER BY id LIMIT ").bind(i64::from(limit));
        self.fields(&self.pools.db, sql).await
    }

    async fn definitions_for(
        &self,
        tenant: TenantId,
        entity: FieldEntity,
        wanted: DefinitionsFor,
    ) -> Result<Vec<FieldDefinition>, DomainError> {
        let (keys, required, defaults) = match wanted {
            DefinitionsFor::Keys(keys) => (keys, false, false),
            DefinitionsFor::KeysAndRequired(keys) => (keys, true, false),
            DefinitionsFor::Create(keys) => (keys, true, true),
            DefinitionsFor::Defaults => (Vec::new(), false, true),
        };
        if keys.is_empty() && !required && !defaults {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new("SELECT ");
        sql.push(FIELD_COLUMNS)
            .push(" FROM custom_fields WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND entity = ")
            .bind(entity.as_str())
            .push(" AND (1 = 0");
        if !keys.is_empty() {
            sql.push(" OR key IN (");
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    sql.push(", ");
                }
                sql.bind(key);
            }
            sql.push(")");
        }
        if required {
            sql.push(" OR required = ").bind(true);
        }
        if defaults {
            sql.push(" OR default_value IS NOT NULL");
        }
        sql.push(")");
        // Every new sender reads its defaults: a small read, in-line on
        // SQLite.
        self.pools.fetch_small(sql, FieldRow::into_domain).await
    }

    async fn update_field(
        &self,
        field: &FieldDefinition,
        expected_version: i64,
        type_changed: bool,
    ) -> Result<FieldDefinition, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                let current = self
                    .field(transaction, field.tenant_id, field.id)
                    .await?
                    .ok_or_else(|| not_found(Entity::CustomField, field.id))?;
                if current.version != expected_version {
                    return Err(stale(Entity::CustomField, field.id));
                }
                if type_changed
                    && self
                        .values_exist(transaction, field.tenant_id, field.entity, &field.key)
                        .await?
                {
                    return Err(DomainError::FailedPrecondition(
                        Precondition::CustomFieldHasValues {
                            key: field.key.clone(),
                        },
                    ));
                }
                let spec = &field.spec;
                let mut sql = Sql::new("UPDATE custom_fields SET display_name = ");
                sql.bind(spec.display_name.clone())
                    .push(", description = ")
                    .bind(spec.description.clone())
                    .push(", field_type = ")
                    .bind(spec.field_type.as_str())
                    .push(", required = ")
                    .bind(spec.required)
                    .push(", default_value = ")
                    .bind(default_json(spec.default.as_ref()))
                    .push(", validation = ")
                    .bind(validation_json(&spec.validation))
                    .push(", options = ")
                    .bind(options_json(&spec.options))
                    .push(", version = ")
                    .bind(expected_version + 1)
                    .push(", update_time = ")
                    .bind(field.update_time)
                    .push(" WHERE tenant_id = ")
                    .bind(field.tenant_id.as_uuid())
                    .push(" AND id = ")
                    .bind(field.id.as_uuid())
                    .push(" AND version = ")
                    .bind(expected_version);
                if sql.execute(transaction).await? == 0 {
                    return Err(stale(Entity::CustomField, field.id));
                }
                self.field(transaction, field.tenant_id, field.id)
                    .await?
                    .ok_or_else(|| not_found(Entity::CustomField, field.id))
            })
            .await
    }

    async fn delete_field(
        &self,
        tenant: TenantId,
        id: FieldId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, tenant).await?;
                let field = self
                    .field(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(Entity::CustomField, id))?;
                if expected_version.is_some_and(|version| version != field.version) {
                    return Err(stale(Entity::CustomField, id));
                }
                // Strip the key from every record that holds it.
                let mut sql = Sql::new("UPDATE ");
                sql.push(records_table(field.entity))
                    .push(" SET custom_values = ");
                let backend = self.pools.backend;
                backend.push_without_key(&mut sql, "custom_values", &field.key);
                sql.push(" WHERE tenant_id = ")
                    .bind(tenant.as_uuid())
                    .push(" AND ");
                backend.push_has_key(&mut sql, "custom_values", &field.key);
                sql.execute(transaction).await?;
                let mut sql = Sql::new("DELETE FROM custom_fields WHERE tenant_id = ");
                sql.bind(tenant.as_uuid())
                    .push(" AND id = ")
                    .bind(id.as_uuid());
                sql.execute(transaction).await?;
                let mut sql = Sql::new("UPDATE custom_fields SET position = position - 1");
                Self::in_section(&mut sql, tenant, field.entity, field.section_id);
                sql.push(" AND position > ").bind(i64::from(field.position));
                sql.execute(transaction).await?;
                Ok(())
            })
            .await
    }

    async fn move_field(
        &self,
        tenant: TenantId,
        id: FieldId,
        section: Option<SectionId>,
        position: u32,
        now: OffsetDateTime,
    ) -> Result<FieldDefinition, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, tenant).await?;
                let field = self
                    .field(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(Entity::CustomField, id))?;
                if let Some(section) = section
                    && !self
                        .section_of_entity(transaction, tenant, section, field.entity)
                        .await?
                {
                    return Err(DomainError::invalid(
                        "section_id",
                        format!("no section {section} in this record type's layout"),
                    ));
                }
                // Out of the old list, closing the gap...
                let mut sql = Sql::new("UPDATE custom_fields SET position = position - 1");
                Self::in_section(&mut sql, tenant, field.entity, field.section_id);
                sql.push(" AND position > ").bind(i64::from(field.position));
                sql.execute(transaction).await?;
                // ...and into the new one, making room.
                let mut sql = Sql::new("SELECT count(*) AS n FROM custom_fields");
                Self::in_section(&mut sql, tenant, field.entity, section);
                sql.push(" AND id <> ").bind(id.as_uuid());
                let len = self.number(transaction, sql).await?;
                let position = i64::from(position).min(len);
                let mut sql = Sql::new("UPDATE custom_fields SET position = position + 1");
                Self::in_section(&mut sql, tenant, field.entity, section);
                sql.push(" AND id <> ")
                    .bind(id.as_uuid())
                    .push(" AND position >= ")
                    .bind(position);
                sql.execute(transaction).await?;
                let mut sql = Sql::new("UPDATE custom_fields SET section_id = ");
                sql.bind(section.map(|section| section.as_uuid()))
                    .push(", position = ")
                    .bind(position)
                    .push(", version = version + 1, update_time = ")
                    .bind(now)
                    .push(" WHERE tenant_id = ")
                    .bind(tenant.as_uuid())
                    .push(" AND id = ")
                    .bind(id.as_uuid());
                sql.execute(transaction).await?;
                self.field(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(Entity::CustomField, id))
            })
            .await
    }

    async fn layout(
        &self,
        tenant: TenantId,
        entity: FieldEntity,
    ) -> Result<LayoutParts, DomainError> {
        let tabs = self.tabs(&self.pools.db, tenant, entity).await?;
        let mut sql = Sql::new("SELECT ");
        sql.push(
            "s.tenant_id, s.id, s.tab_id, s.name, s.position, s.version, s.create_time, \
             s.update_time FROM layout_sections s JOIN layout_tabs t \
             ON t.tenant_id = s.tenant_id AND t.id = s.tab_id WHERE s.tenant_id = ",
        )
        .bind(tenant.as_uuid())
        .push(" AND t.entity = ")
        .bind(entity.as_str());
        let sections = self.sections(&self.pools.db, sql).await?;
        let mut sql = Sql::new("SELECT ");
        sql.push(FIELD_COLUMNS)
            .push(" FROM custom_fields WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND entity = ")
            .bind(entity.as_str());
        let fields = self.fields(&self.pools.db, sql).await?;
        Ok(LayoutParts {
            tabs,
            sections,
            fields,
        })
    }

    async fn create_tab(&self, tab: &Tab, limit: usize) -> Result<Tab, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, tab.tenant_id).await?;
                let existing = self.tabs(transaction, tab.tenant_id, tab.entity).await?;
                if existing.len() >= limit {
                    return Err(DomainError::FailedPrecondition(Precondition::TabLimit {
                        limit,
                    }));
                }
                let position = u32::try_from(existing.len()).unwrap_or(u32::MAX);
                let mut sql = Sql::new("INSERT INTO layout_tabs (");
                sql.push(TAB_COLUMNS)
                    .push(") VALUES (")
                    .bind(tab.tenant_id.as_uuid())
                    .push(", ")
                    .bind(tab.id.as_uuid())
                    .push(", ")
                    .bind(tab.entity.as_str())
                    .push(", ")
                    .bind(tab.name.clone())
                    .push(", ")
                    .bind(i64::from(position))
                    .push(", ")
                    .bind(tab.version)
                    .push(", ")
                    .bind(tab.create_time)
                    .push(", ")
                    .bind(tab.update_time)
                    .push(")");
                sql.execute(transaction).await?;
                Ok(Tab {
                    position,
                    ..tab.clone()
                })
            })
            .await
    }

    async fn rename_tab(
        &self,
        tenant: TenantId,
        id: TabId,
        name: &str,
        expected_version: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<Tab, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                let current = self
                    .tab(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(Entity::Tab, id))?;
                if expected_version.is_some_and(|version| version != current.version) {
                    return Err(stale(Entity::Tab, id));
                }
                rename(transaction, "layout_tabs", tenant, id.as_uuid(), name, now).await?;
                self.tab(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(Entity::Tab, id))
            })
            .await
    }

    async fn delete_tab(&self, tenant: TenantId, id: TabId) -> Result<(), DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, tenant).await?;
                let tab = self
                    .tab(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(Entity::Tab, id))?;
                let sections = self.sections_in(transaction, tenant, id).await?;
                if !sections.is_empty() {
                    return Err(DomainError::FailedPrecondition(Precondition::TabNotEmpty {
                        sections: sections.len(),
                    }));
                }
                let mut sql = Sql::new("DELETE FROM layout_tabs WHERE tenant_id = ");
                sql.bind(tenant.as_uuid())
                    .push(" AND id = ")
                    .bind(id.as_uuid());
                sql.execute(transaction).await?;
                let mut sql =
                    Sql::new("UPDATE layout_tabs SET position = position - 1 WHERE tenant_id = ");
                sql.bind(tenant.as_uuid())
                    .push(" AND entity = ")
                    .bind(tab.entity.as_str())
                    .push(" AND position > ")
                    .bind(i64::from(tab.position));
                sql.execute(transaction).await?;
                Ok(())
            })
            .await
    }

    async fn reorder_tabs(
        &self,
        tenant: TenantId,
        entity: FieldEntity,
        order: &[TabId],
        now: OffsetDateTime,
    ) -> Result<Vec<Tab>, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, tenant).await?;
                let current: Vec<(Uuid, i64)> = self
                    .tabs(transaction, tenant, entity)
                    .await?
                    .iter()
                    .map(|tab| (tab.id.as_uuid(), i64::from(tab.position)))
                    .collect();
                let wanted: Vec<(Uuid, i64)> = order.iter().map(TabId::as_uuid).zip(0..).collect();
                ordered::rewrite(
                    transaction,
                    "layout_tabs",
                    "position",
                    tenant,
                    &current,
                    &wanted,
                    now,
                    stale(Entity::Tab, "order"),
                )
                .await?;
                self.tabs(transaction, tenant, entity).await
            })
            .await
    }

    async fn create_section(
        &self,
        section: &Section,
        limit: usize,
    ) -> Result<Section, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, section.tenant_id).await?;
                if self
                    .tab(transaction, section.tenant_id, section.tab_id)
                    .await?
                    .is_none()
                {
                    return Err(DomainError::invalid(
                        "tab_id",
                        format!("no tab {}", section.tab_id),
                    ));
                }
                let existing = self
                    .sections_in(transaction, section.tenant_id, section.tab_id)
                    .await?;
                if existing.len() >= limit {
                    return Err(DomainError::FailedPrecondition(
                        Precondition::SectionLimit { limit },
                    ));
                }
                let position = u32::try_from(existing.len()).unwrap_or(u32::MAX);
                let mut sql = Sql::new("INSERT INTO layout_sections (");
                sql.push(SECTION_COLUMNS)
                    .push(") VALUES (")
                    .bind(section.tenant_id.as_uuid())
                    .push(", ")
                    .bind(section.id.as_uuid())
                    .push(", ")
                    .bind(section.tab_id.as_uuid())
                    .push(", ")
                    .bind(section.name.clone())
                    .push(", ")
                    .bind(i64::from(position))
                    .push(", ")
                    .bind(section.version)
                    .push(", ")
                    .bind(section.create_time)
                    .push(", ")
                    .bind(section.update_time)
                    .push(")");
                sql.execute(transaction).await?;
                Ok(Section {
                    position,
                    ..section.clone()
                })
            })
            .await
    }

    async fn rename_section(
        &self,
        tenant: TenantId,
        id: SectionId,
        name: &str,
        expected_version: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<Section, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                let current = self
                    .section(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(Entity::Section, id))?;
                if expected_version.is_some_and(|version| version != current.version) {
                    return Err(stale(Entity::Section, id));
                }
                rename(
                    transaction,
                    "layout_sections",
                    tenant,
                    id.as_uuid(),
                    name,
                    now,
                )
                .await?;
                self.section(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(Entity::Section, id))
            })
            .await
    }

    async fn delete_section(&self, tenant: TenantId, id: SectionId) -> Result<(), DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, tenant).await?;
                let section = self
                    .section(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(Entity::Section, id))?;
                let mut sql =
                    Sql::new("SELECT count(*) AS n FROM custom_fields WHERE tenant_id = ");
                sql.bind(tenant.as_uuid())
                    .push(" AND section_id = ")
                    .bind(id.as_uuid());
                let held = self.number(transaction, sql).await?;
                if held > 0 {
                    return Err(DomainError::FailedPrecondition(
                        Precondition::SectionNotEmpty { fields: held },
                    ));
                }
                let mut sql = Sql::new("DELETE FROM layout_sections WHERE tenant_id = ");
                sql.bind(tenant.as_uuid())
                    .push(" AND id = ")
                    .bind(id.as_uuid());
                sql.execute(transaction).await?;
                let mut sql = Sql::new(
                    "UPDATE layout_sections SET position = position - 1 WHERE tenant_id = ",
                );
                sql.bind(tenant.as_uuid())
                    .push(" AND tab_id = ")
                    .bind(section.tab_id.as_uuid())
                    .push(" AND position > ")
                    .bind(i64::from(section.position));
                sql.execute(transaction).await?;
                Ok(())
            })
            .await
    }

    async fn sections_of(
        &self,
        tenant: TenantId,
        tab: TabId,
    ) -> Result<Option<Vec<SectionId>>, DomainError> {
        if self.tab(&self.pools.db, tenant, tab).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(
            self.sections_in(&self.pools.db, tenant, tab)
                .await?
                .into_iter()
                .map(|section| section.id)
                .collect(),
        ))
    }

    async fn reorder_sections(
        &self,
        tenant: TenantId,
        tab: TabId,
        order: &[SectionId],
        now: OffsetDateTime,
    ) -> Result<Vec<Section>, DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                lock_tenant(transaction, tenant).await?;
                let current: Vec<(Uuid, i64)> = self
                    .sections_in(transaction, tenant, tab)
                    .await?
                    .iter()
                    .map(|section| (section.id.as_uuid(), i64::from(section.position)))
                    .collect();
                let wanted: Vec<(Uuid, i64)> =
                    order.iter().map(SectionId::as_uuid).zip(0..).collect();
                ordered::rewrite(
                    transaction,
                    "layout_sections",
                    "position",
                    tenant,
                    &current,
                    &wanted,
                    now,
                    stale(Entity::Section, "order"),
                )
                .await?;
                self.sections_in(transaction, tenant, tab).await
            })
            .await
    }
}
