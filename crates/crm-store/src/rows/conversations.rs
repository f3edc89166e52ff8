//! `conversations`: a contact's conversations, unique per (tenant, source,
//! source id) so recording one again updates it.

use crm_domain::conversations::{Conversation, ConversationFields, ConversationStatus};
use crm_domain::{Channel, ContactId, ConversationId, DomainError, TenantId};
use sea_orm::FromQueryResult;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rows::custom_values::values_from_json;

/// Every column, in [`ConversationRow`] order.
pub(crate) const COLUMNS: &str = "tenant_id, id, contact_id, source, source_id, channel, started_at, \
    ended_at, status, agent_id, agent_name, team, subject, outcome, message_count, csat, \
    custom_values, version, create_time, update_time";

#[derive(Debug, FromQueryResult)]
pub(crate) struct ConversationRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub contact_id: Uuid,
    pub source: String,
    pub source_id: String,
    pub channel: String,
    pub started_at: OffsetDateTime,
    pub ended_at: Option<OffsetDateTime>,
    pub status: String,
    pub agent_id: String,
    pub agent_name: String,
    pub team: String,
    pub subject: String,
    pub outcome: String,
    pub message_count: i64,
    pub csat: Option<i32>,
    pub custom_values: String,
    pub version: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

impl ConversationRow {
    pub(crate) fn into_domain(self) -> Result<Conversation, DomainError> {
        let corrupt = |what: &str| DomainError::Internal(format!("stored {what} is invalid"));
        Ok(Conversation {
            id: ConversationId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            contact_id: ContactId::from_uuid(self.contact_id),
            source: self.source,
            source_id: self.source_id,
            fields: ConversationFields {
                channel: Channel::parse(&self.channel).ok_or_else(|| corrupt("channel"))?,
                started_at: self.started_at,
                ended_at: self.ended_at,
                status: ConversationStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
                agent_id: self.agent_id,
                agent_name: self.agent_name,
                team: self.team,
                subject: self.subject,
                outcome: self.outcome,
                message_count: u32::try_from(self.message_count).unwrap_or(u32::MAX),
                csat: self.csat.and_then(|csat| u8::try_from(csat).ok()),
            },
            custom_fields: values_from_json(&self.custom_values)?,
            version: self.version,
            create_time: self.create_time,
            update_time: self.update_time,
        })
    }
}

/// The conversation already recorded under a source id.
#[derive(Debug, FromQueryResult)]
pub(crate) struct ExistingRow {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub version: i64,
}
