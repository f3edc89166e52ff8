//! `crm.v1.ConversationService`: authenticates the caller, converts the
//! request, calls the conversation use cases, converts the answer. No rules
//! live here.

use crm_domain::kernel;
use crm_domain::tenancy::Caller;
use std::sync::Arc;

use crm_domain::conversations::{ConversationFields, ConversationFilter};
use crm_domain::conversations::{
    ConversationPatch, ConversationRecord, ConversationService, ConversationSubject,
};
use crm_domain::fields::ValueChanges;
use crm_domain::identity::SenderInput;
use crm_domain::{ContactId, ConversationId, DomainError, FieldViolation};
use crm_proto::v1 as pb;
use crm_proto::v1::conversation_service_server::ConversationService as ConversationRpc;

use crate::auth::Authenticator;
use crate::convert::conversation::{
    UPDATABLE, collect, count_from, csat_from, instant, status_from, to_proto,
};
use crate::convert::{self, contact, custom_field};
use crate::token;

/// The gRPC face of the conversation use cases.
#[derive(Debug, Clone)]
pub struct ConversationApi {
    conversations: ConversationService,
    auth: Arc<Authenticator>,
}

impl ConversationApi {
    /// Serves `conversations` to callers `auth` recognises.
    pub fn new(conversations: ConversationService, auth: Arc<Authenticator>) -> Self {
        Self {
            conversations,
            auth,
        }
    }
}

/// The bodies of the RPCs: each takes the authenticated caller and the
/// request message and returns a domain result; [`crate::serve!`] does the rest.
impl ConversationApi {
    async fn record_conversation(
        &self,
        caller: Caller,
        request: pb::RecordConversationRequest,
    ) -> Result<pb::RecordConversationResponse, DomainError> {
        let pb::RecordConversationRequest {
            subject,
            conversation,
        } = request;
        let subject = match subject {
            Some(pb::record_conversation_request::Subject::ContactId(id)) => {
                ConversationSubject::Contact(convert::id::<ContactId>(&id, "contact_id")?)
            }
            Some(pb::record_conversation_request::Subject::Sender(pb::ConversationSender {
                channel,
                address,
                display_name,
            })) => ConversationSubject::Sender(SenderInput {
                channel: contact::channel_from(channel, "sender.channel")?,
                address,
                display_name,
                email: String::new(),
                phone: String::new(),
                external_id: String::new(),
            }),
            None => {
                return Err(DomainError::invalid("subject", "set contact_id or sender"));
            }
        };
        let pb::Conversation {
            id: _,
            contact_id: _,
            channel,
            source,
            source_conversation_id,
            started_at,
            ended_at,
            status,
            handled_by,
            team,
            subject: topic,
            outcome,
            message_count,
            csat_score,
            custom_fields,
            create_time: _,
            update_time: _,
            etag: _,
        } = conversation.ok_or_else(|| DomainError::invalid("conversation", "is required"))?;
        let mut violations = Vec::new();
        let channel = collect(
            contact::channel_from(channel, "conversation.channel").map_err(|error| match error {
                DomainError::InvalidArgument(mut found) => found.remove(0),
                other => FieldViolation::new("conversation.channel", other.to_string()),
            }),
            &mut violations,
        );
        let started_at = match started_at {
            Some(value) => collect(instant(value, "conversation.started_at"), &mut violations),
            None => {
                violations.push(FieldViolation::new(
                    "conversation.started_at",
                    "is required",
                ));
                None
            }
        };
        let ended_at = ended_at
            .and_then(|value| collect(instant(value, "conversation.ended_at"), &mut violations));
        let status = collect(status_from(status, "conversation.status"), &mut violations);
        let message_count = collect(
            count_from(message_count, "conversation.message_count"),
            &mut violations,
        );
        let csat = collect(
            csat_from(csat_score, "conversation.csat_score"),
            &mut violations,
        );
        let values = custom_field::values(custom_fields, "conversation", &mut violations);
        let (Some(channel), Some(started_at), Some(status), Some(message_count), Some(csat)) =
            (channel, started_at, status, message_count, csat)
        else {
            return Err(DomainError::InvalidArgument(violations));
        };
        if !violations.is_empty() {
            return Err(DomainError::InvalidArgument(violations));
        }
        let agent = handled_by.unwrap_or_default();
        let record = ConversationRecord {
            subject,
            source,
            source_id: source_conversation_id,
            fields: ConversationFields {
                channel,
                started_at,
                ended_at,
                status,
                agent_id: agent.agent_id,
                agent_name: agent.name,
                team,
                subject: topic,
                outcome,
                message_count,
                csat,
            },
            custom_fields: ValueChanges {
                replace_all: false,
                values: values
                    .into_iter()
                    .map(|(key, value)| (key, Some(value)))
                    .collect(),
            },
        };
        let (stored, created) = self.conversations.record(&caller, record).await?;
        Ok(pb::RecordConversationResponse {
            conversation: Some(to_proto(&stored)),
            created,
        })
    }

    async fn get_conversation(
        &self,
        caller: Caller,
        request: pb::GetConversationRequest,
    ) -> Result<pb::Conversation, DomainError> {
        let pb::GetConversationRequest { id } = request;
        let found = self
            .conversations
            .get(&caller, convert::id::<ConversationId>(&id, "id")?)
            .await?;
        Ok(to_proto(&found))
    }

    async fn update_conversation(
        &self,
        caller: Caller,
        request: pb::UpdateConversationRequest,
    ) -> Result<pb::Conversation, DomainError> {
        let pb::UpdateConversationRequest {
            conversation,
            update_mask,
            etag,
        } = request;
        let pb::Conversation {
            id,
            contact_id: _,
            channel: _,
            source: _,
            source_conversation_id: _,
            started_at: _,
            ended_at,
            status,
            handled_by,
            team,
            subject,
            outcome,
            message_count,
            csat_score,
            custom_fields,
            create_time: _,
            update_time: _,
            etag: _,
        } = conversation.ok_or_else(|| DomainError::invalid("conversation", "is required"))?;
        let id = convert::id::<ConversationId>(&id, "conversation.id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let (mask, custom_keys) = custom_field::split_mask(update_mask);
        let mut implied = Vec::new();
        for (field, set) in [
            ("ended_at", ended_at.is_some()),
            ("status", status != 0),
            ("handled_by", handled_by.is_some()),
            ("team", !team.is_empty()),
            ("subject", !subject.is_empty()),
            ("outcome", !outcome.is_empty()),
            ("message_count", message_count != 0),
            ("csat_score", csat_score != 0),
        ] {
            if set {
                implied.push(field);
            }
        }
        let mask_given = mask.is_some() || custom_keys.is_some();
        let mask = custom_field::parse_mask(mask, custom_keys.as_ref(), &UPDATABLE, implied)?;
        let mut violations = Vec::new();
        let custom_fields = custom_field::value_changes(
            &mask,
            custom_keys,
            mask_given,
            custom_fields,
            "conversation",
            &mut violations,
        );
        let patch = ConversationPatch {
            ended_at: if mask.has("ended_at") {
                Some(ended_at.and_then(|value| {
                    collect(instant(value, "conversation.ended_at"), &mut violations)
                }))
            } else {
                None
            },
            status: if mask.has("status") {
                collect(status_from(status, "conversation.status"), &mut violations)
            } else {
                None
            },
            agent: mask.has("handled_by").then(|| {
                let agent = handled_by.unwrap_or_default();
                (agent.agent_id, agent.name)
            }),
            team: mask.has("team").then_some(team),
            subject: mask.has("subject").then_some(subject),
            outcome: mask.has("outcome").then_some(outcome),
            message_count: if mask.has("message_count") {
                collect(
                    count_from(message_count, "conversation.message_count"),
                    &mut violations,
                )
            } else {
                None
            },
            csat: if mask.has("csat_score") {
                collect(
                    csat_from(csat_score, "conversation.csat_score"),
                    &mut violations,
                )
            } else {
                None
            },
            custom_fields,
        };
        if !violations.is_empty() {
            return Err(DomainError::InvalidArgument(violations));
        }
        let updated = self
            .conversations
            .update(&caller, id, patch, expected)
            .await
            .map_err(|error| error.scoped("conversation"))?;
        Ok(to_proto(&updated))
    }

    async fn delete_conversation(
        &self,
        caller: Caller,
        request: pb::DeleteConversationRequest,
    ) -> Result<(), DomainError> {
        let pb::DeleteConversationRequest { id, etag } = request;
        let id = convert::id::<ConversationId>(&id, "id")?;
        let expected = token::optional_version(&etag, "etag")?;
        self.conversations.delete(&caller, id, expected).await?;
        Ok(())
    }

    async fn list_contact_conversations(
        &self,
        caller: Caller,
        request: pb::ListContactConversationsRequest,
    ) -> Result<pb::ListContactConversationsResponse, DomainError> {
        let pb::ListContactConversationsRequest {
            contact_id,
            channel,
            status,
            page_size,
            page_token,
        } = request;
        let contact = convert::id::<ContactId>(&contact_id, "contact_id")?;
        let filter = ConversationFilter {
            channel: if channel == 0 {
                None
            } else {
                Some(contact::channel_from(channel, "channel")?)
            },
            status: if status == 0 {
                None
            } else {
                Some(
                    status_from(status, "status")
                        .map_err(|violation| DomainError::InvalidArgument(vec![violation]))?,
                )
            },
        };
        let size = kernel::page_size(page_size)?;
        let scope = format!("conversations:{contact}:{channel}:{status}");
        let after = token::page_after(&page_token, &scope)?.map(ConversationId::from_uuid);
        let page = self
            .conversations
            .list_for_contact(&caller, contact, filter, after, size)
            .await?;
        Ok(pb::ListContactConversationsResponse {
            conversations: page.items.iter().map(to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| token::page(last.as_uuid(), &scope))
                .unwrap_or_default(),
        })
    }
}

crate::serve! {
    impl ConversationRpc for ConversationApi {
        record_conversation(pb::RecordConversationRequest) -> pb::RecordConversationResponse;
        get_conversation(pb::GetConversationRequest) -> pb::Conversation;
        update_conversation(pb::UpdateConversationRequest) -> pb::Conversation;
        delete_conversation(pb::DeleteConversationRequest) -> ();
        list_contact_conversations(pb::ListContactConversationsRequest) -> pb::ListContactConversationsResponse;
    }
}
