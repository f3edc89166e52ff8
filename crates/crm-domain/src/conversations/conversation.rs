//! Conversations: one interaction with a contact on one channel, recorded by
//! the system that handled it (helpdesk, phone system, chat widget) under
//! that system's own id, so recording it again updates it. The contact's
//! engagement figures are derived from its conversations and kept current
//! by every write.

use time::OffsetDateTime;

use crate::fields::CustomValues;
use crate::identity::Channel;
use crate::kernel::{ContactId, ConversationId, TenantId};
use crate::kernel::{DomainError, FieldViolation};

/// Longest source name or source conversation id, in characters.
pub const MAX_SOURCE_CHARS: usize = 200;
/// Longest short text (agent id and name, team, outcome), in characters.
pub const MAX_SHORT_CHARS: usize = 200;
/// Longest subject or summary, in characters.
pub const MAX_SUBJECT_CHARS: usize = 2000;

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConversationStatus {
    /// Waiting on the team.
    #[default]
    Open,
    /// Waiting on the customer or a third party.
    Pending,
    /// Solved.
    Resolved,
    /// Closed for good.
    Closed,
}

impl ConversationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Pending => "pending",
            ConversationStatus::Resolved => "resolved",
            ConversationStatus::Closed => "closed",
        }
    }

    /// Inverse of [`ConversationStatus::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [
            ConversationStatus::Open,
            ConversationStatus::Pending,
            ConversationStatus::Resolved,
            ConversationStatus::Closed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// What a recording system writes about a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationFields {
    /// The channel it happened on.
    pub channel: Channel,
    /// When it started.
    pub started_at: OffsetDateTime,
    /// When it ended, if it has.
    pub ended_at: Option<OffsetDateTime>,
    /// Where it stands.
    pub status: ConversationStatus,
    /// The agent who handled it: id and name (either may be empty).
    pub agent_id: String,
    /// The agent's name.
    pub agent_name: String,
    /// The team that handled it.
    pub team: String,
    /// Subject or summary.
    pub subject: String,
    /// How it ended ("refund issued").
    pub outcome: String,
    /// Messages exchanged.
    pub message_count: u32,
    /// Customer satisfaction, 1 to 5, if rated.
    pub csat: Option<u8>,
}

/// A stored conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Its id.
    pub id: ConversationId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The contact it was with.
    pub contact_id: ContactId,
    /// The system that recorded it ("helpdesk", "pbx"); may be empty.
    pub source: String,
    /// That system's id for it: unique per tenant and source.
    pub source_id: String,
    /// What the source wrote.
    pub fields: ConversationFields,
    /// Custom-field values.
    pub custom_fields: CustomValues,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// When it was first recorded.
    pub create_time: OffsetDateTime,
    /// When it last changed.
    pub update_time: OffsetDateTime,
}

impl Conversation {}

/// Which conversations a list returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConversationFilter {
    /// Only this channel.
    pub channel: Option<Channel>,
    /// Only this status.
    pub status: Option<ConversationStatus>,
}

fn short(text: &str, field: &str, max: usize, violations: &mut Vec<FieldViolation>) -> String {
    let text = text.trim();
    if text.chars().count() > max || text.chars().any(char::is_control) {
        violations.push(FieldViolation::new(
            field,
            format!("must be at most {max} characters without control characters"),
        ));
    }
    text.to_owned()
}

/// Validates what a source wrote. Paths are relative to the conversation
/// (`handled_by.name`).
///
/// # Errors
/// `InvalidArgument` listing every bad field.
pub fn validate(fields: ConversationFields) -> Result<ConversationFields, DomainError> {
    let mut violations = Vec::new();
    if let Some(ended) = fields.ended_at
        && ended < fields.started_at
    {
        violations.push(FieldViolation::new(
            "ended_at",
            "must not be before started_at",
        ));
    }
    if let Some(csat) = fields.csat
        && !(1..=5).contains(&csat)
    {
        violations.push(FieldViolation::new("csat_score", "must be 1 to 5"));
    }
    let agent_id = short(
        &fields.agent_id,
        "handled_by.agent_id",
        MAX_SHORT_CHARS,
        &mut violations,
    );
    let agent_name = short(
        &fields.agent_name,
        "handled_by.name",
        MAX_SHORT_CHARS,
        &mut violations,
    );
    let team = short(&fields.team, "team", MAX_SHORT_CHARS, &mut violations);
    let outcome = short(&fields.outcome, "outcome", MAX_SHORT_CHARS, &mut violations);
    let subject = fields.subject.trim().to_owned();
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        violations.push(FieldViolation::new(
            "subject",
            format!("must be at most {MAX_SUBJECT_CHARS} characters"),
        ));
    }
    if violations.is_empty() {
        Ok(ConversationFields {
            agent_id,
            agent_name,
            team,
            outcome,
            subject,
            ..fields
        })
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

/// Checks a source name and the source's conversation id.
///
/// # Errors
/// `InvalidArgument` on the offending field.
pub fn validate_source(source: &str, source_id: &str) -> Result<(), DomainError> {
    let mut violations = Vec::new();
    if source.chars().count() > MAX_SOURCE_CHARS || source.chars().any(char::is_control) {
        violations.push(FieldViolation::new(
            "source",
            format!("must be at most {MAX_SOURCE_CHARS} characters without control characters"),
        ));
    }
    if source_id.is_empty()
        || source_id.chars().count() > MAX_SOURCE_CHARS
        || source_id.chars().any(char::is_control)
    {
        violations.push(FieldViolation::new(
            "source_conversation_id",
            format!("must be 1 to {MAX_SOURCE_CHARS} characters without control characters"),
        ));
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

/// A contact's engagement figures counted from scratch over its whole
/// history: the definition the store's incremental figures must always
/// equal (a contract check compares the two after random writes).
pub fn engagement_of<'a>(
    history: impl IntoIterator<Item = &'a ConversationFields>,
) -> crate::contacts::Engagement {
    let mut figures = crate::contacts::Engagement::default();
    for fields in history {
        figures.conversation_count += 1;
        figures.message_count += u64::from(fields.message_count);
        if let Some(csat) = fields.csat {
            figures.csat_sum += u64::from(csat);
            figures.csat_count += 1;
        }
        let started = fields.started_at;
        figures.first_contact = Some(figures.first_contact.map_or(started, |t| t.min(started)));
        figures.last_contact = Some(figures.last_contact.map_or(started, |t| t.max(started)));
        if !figures.channels.contains(&fields.channel) {
            figures.channels.push(fields.channel);
        }
    }
    figures.channels.sort_by_key(|channel| channel.as_str());
    figures
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::contacts::Engagement;

    fn fields() -> ConversationFields {
        ConversationFields {
            channel: Channel::Email,
            started_at: OffsetDateTime::UNIX_EPOCH + time::Duration::hours(2),
            ended_at: None,
            status: ConversationStatus::Open,
            agent_id: " a-1 ".into(),
            agent_name: String::new(),
            team: String::new(),
            subject: String::new(),
            outcome: String::new(),
            message_count: 3,
            csat: Some(5),
        }
    }

    #[test]
    fn conversations_are_checked_field_by_field() {
        assert_eq!(validate(fields()).unwrap().agent_id, "a-1");
        let bad = ConversationFields {
            ended_at: Some(OffsetDateTime::UNIX_EPOCH),
            csat: Some(6),
            team: "x\u{7}y".into(),
            ..fields()
        };
        let DomainError::InvalidArgument(violations) = validate(bad).unwrap_err() else {
            panic!("expected invalid argument");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(paths, ["ended_at", "csat_score", "team"]);
        assert!(validate_source("helpdesk", "T-1").is_ok());
        assert!(validate_source("helpdesk", "").is_err());
    }

    #[test]
    fn counted_figures_combine_like_one_history() {
        let at = |minute: i64, channel: Channel, csat: Option<u8>| ConversationFields {
            channel,
            started_at: OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(minute),
            ended_at: None,
            status: ConversationStatus::Open,
            agent_id: String::new(),
            agent_name: String::new(),
            team: String::new(),
            subject: String::new(),
            outcome: String::new(),
            message_count: 3,
            csat,
        };
        let ana = [at(5, Channel::Sms, Some(4)), at(1, Channel::Email, None)];
        let bia = [
            at(9, Channel::Email, Some(2)),
            at(0, Channel::Whatsapp, None),
        ];
        let both: Vec<_> = ana.iter().chain(&bia).collect();
        let combined = engagement_of(&ana).combined(&engagement_of(&bia));
        assert_eq!(combined, engagement_of(both));
        assert_eq!(combined.conversation_count, 4);
        assert_eq!(combined.message_count, 12);
        assert_eq!((combined.csat_sum, combined.csat_count), (6, 2));
        assert_eq!(combined.first_contact, Some(bia[1].started_at));
        assert_eq!(combined.last_contact, Some(bia[0].started_at));
        assert_eq!(
            combined.channels,
            [Channel::Email, Channel::Sms, Channel::Whatsapp]
        );
        assert_eq!(engagement_of([]), Engagement::default());
    }

    #[test]
    fn engagement_averages_only_given_ratings() {
        let mut engagement = Engagement::default();
        assert_eq!(engagement.average_csat(), None);
        engagement.csat_sum = 9;
        engagement.csat_count = 2;
        assert_eq!(engagement.average_csat(), Some(4.5));
        assert_eq!(
            ConversationStatus::parse("resolved"),
            Some(ConversationStatus::Resolved)
        );
    }
}
