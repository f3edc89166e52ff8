//! `layout_sections`: the sections of a tab, ordered by position.

use crm_domain::fields::layout::Section;
use crm_domain::{SectionId, TabId, TenantId};
use sea_orm::FromQueryResult;
use time::OffsetDateTime;
use uuid::Uuid;

/// Every column of `layout_sections`, in [`SectionRow`] order.
pub(crate) const SECTION_COLUMNS: &str =
    "tenant_id, id, tab_id, name, position, version, create_time, update_time";

/// One row of `layout_sections`.
#[derive(Debug, FromQueryResult)]
pub(crate) struct SectionRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub tab_id: Uuid,
    pub name: String,
    pub position: i32,
    pub version: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

impl SectionRow {
    pub(crate) fn into_domain(self) -> Section {
        Section {
            id: SectionId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            tab_id: TabId::from_uuid(self.tab_id),
            name: self.name,
            position: u32::try_from(self.position).unwrap_or(0),
            version: self.version,
            create_time: self.create_time,
            update_time: self.update_time,
        }
    }
}
