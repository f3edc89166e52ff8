//! Conversations between protobuf and the domain.

use crate::convert::{contact, custom_field, timestamp};
use crm_domain::FieldViolation;
use crm_domain::conversations::{Conversation, ConversationStatus};
use crm_proto::v1 as pb;

/// The paths an UpdateConversation mask may name.
pub(crate) const UPDATABLE: [&str; 9] = [
    "ended_at",
    "status",
    "handled_by",
    "team",
    "subject",
    "outcome",
    "message_count",
    "csat_score",
    "custom_fields",
];

pub(crate) fn instant(
    value: prost_types::Timestamp,
    field: &str,
) -> Result<time::OffsetDateTime, FieldViolation> {
    time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(value.seconds) * 1_000_000_000 + i128::from(value.nanos),
    )
    .map_err(|_| FieldViolation::new(field, "is out of range"))
}

pub(crate) fn status_from(value: i32, field: &str) -> Result<ConversationStatus, FieldViolation> {
    match pb::ConversationStatus::try_from(value) {
        Ok(pb::ConversationStatus::Unspecified | pb::ConversationStatus::Open) => {
            Ok(ConversationStatus::Open)
        }
        Ok(pb::ConversationStatus::Pending) => Ok(ConversationStatus::Pending),
        Ok(pb::ConversationStatus::Resolved) => Ok(ConversationStatus::Resolved),
        Ok(pb::ConversationStatus::Closed) => Ok(ConversationStatus::Closed),
        Err(_) => Err(FieldViolation::new(
            field,
            format!("{value} is not a ConversationStatus"),
        )),
    }
}

pub(crate) fn csat_from(value: i32, field: &str) -> Result<Option<u8>, FieldViolation> {
    match value {
        0 => Ok(None),
        1..=5 => Ok(u8::try_from(value).ok()),
        _ => Err(FieldViolation::new(field, "must be 1 to 5, or 0 for none")),
    }
}

pub(crate) fn count_from(value: i32, field: &str) -> Result<u32, FieldViolation> {
    u32::try_from(value).map_err(|_| FieldViolation::new(field, "must not be negative"))
}

pub(crate) fn collect<T>(
    result: Result<T, FieldViolation>,
    violations: &mut Vec<FieldViolation>,
) -> Option<T> {
    result.map_err(|violation| violations.push(violation)).ok()
}

pub(crate) fn to_proto(conversation: &Conversation) -> pb::Conversation {
    let Conversation {
        id,
        tenant_id: _,
        contact_id,
        source,
        source_id,
        fields,
        custom_fields,
        version: _,
        create_time,
        update_time,
    } = conversation;
    pb::Conversation {
        id: id.to_string(),
        contact_id: contact_id.to_string(),
        channel: contact::channel_to_proto(fields.channel) as i32,
        source: source.clone(),
        source_conversation_id: source_id.clone(),
        started_at: Some(timestamp(fields.started_at)),
        ended_at: fields.ended_at.map(timestamp),
        status: match fields.status {
            ConversationStatus::Open => pb::ConversationStatus::Open,
            ConversationStatus::Pending => pb::ConversationStatus::Pending,
            ConversationStatus::Resolved => pb::ConversationStatus::Resolved,
            ConversationStatus::Closed => pb::ConversationStatus::Closed,
        } as i32,
        handled_by: (!fields.agent_id.is_empty() || !fields.agent_name.is_empty()).then(|| {
            pb::Agent {
                agent_id: fields.agent_id.clone(),
                name: fields.agent_name.clone(),
            }
        }),
        team: fields.team.clone(),
        subject: fields.subject.clone(),
        outcome: fields.outcome.clone(),
        message_count: i32::try_from(fields.message_count).unwrap_or(i32::MAX),
        csat_score: fields.csat.map(i32::from).unwrap_or_default(),
        custom_fields: custom_field::values_to_proto(custom_fields),
        create_time: Some(timestamp(*create_time)),
        update_time: Some(timestamp(*update_time)),
        etag: crate::token::etag(conversation.version),
    }
}
