//! `layout_tabs`: the tabs of a record type's form, ordered by position.

use crm_domain::fields::FieldEntity;
use crm_domain::fields::layout::Tab;
use crm_domain::{DomainError, TabId, TenantId};
use sea_orm::FromQueryResult;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rows::custom_values::corrupt;

/// Every column of `layout_tabs`, in [`TabRow`] order.
pub(crate) const TAB_COLUMNS: &str =
    "tenant_id, id, entity, name, position, version, create_time, update_time";

/// One row of `layout_tabs`.
#[derive(Debug, FromQueryResult)]
pub(crate) struct TabRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub entity: String,
    pub name: String,
    pub position: i32,
    pub version: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

impl TabRow {
    pub(crate) fn into_domain(self) -> Result<Tab, DomainError> {
        Ok(Tab {
            id: TabId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            entity: FieldEntity::parse(&self.entity).ok_or_else(|| corrupt("entity"))?,
            name: self.name,
            position: u32::try_from(self.position).unwrap_or(0),
            version: self.version,
            create_time: self.create_time,
            update_time: self.update_time,
        })
    }
}
