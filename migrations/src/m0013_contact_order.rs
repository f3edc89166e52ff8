//! The index that serves `ListContacts(order_by: "create_time")`: the
//! tenant's contacts by creation time, the id breaking ties, so every page
//! of that order is one index range. (`display_name` order reads the
//! search prefix index; `update_time` has no index on purpose: every write
//! changes it, and indexing it would make every contact update rewrite an
//! index entry.)

use sea_orm_migration::prelude::*;

use crate::execute_all;

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0013_contact_order"
    }
}

const BOTH: &str = r#"
CREATE INDEX IF NOT EXISTS contacts_by_create_time ON contacts (tenant_id, create_time, id);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all(manager, BOTH).await
    }
}
