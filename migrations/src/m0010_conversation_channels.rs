//! An index on each contact's conversations by channel, so a write that
//! takes a conversation off a channel learns with one probe whether the
//! contact still uses that channel (its `channels_used` is kept
//! incrementally; see `crm-store`'s conversations module).

use sea_orm_migration::prelude::*;

use crate::execute_all;

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0010_conversation_channels"
    }
}

/// The same DDL on both backends.
const DDL: &str = r#"
CREATE INDEX IF NOT EXISTS conversations_by_contact_channel ON conversations (tenant_id, contact_id, channel);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all(manager, DDL).await
    }
}
