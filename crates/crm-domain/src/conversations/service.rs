//! Conversation use cases: recording a conversation (for a contact by id or
//! by sender address, resolved exactly as ResolveSender does), changing and
//! deleting it, and listing a contact's history.

use crate::conversations;
use std::sync::Arc;

use crate::contacts::ContactService;
use crate::conversations::ConversationRepository;
use crate::conversations::{
    Conversation, ConversationFields, ConversationFilter, ConversationStatus,
};
use crate::fields::CustomFieldRepository;
use crate::fields::{CustomValues, FieldEntity, ValueChanges};
use crate::identity::SenderInput;
use crate::kernel::Page;
use crate::kernel::{Attempt, retry, stale_unless_expected};
use crate::kernel::{Clock, IdGenerator};
use crate::kernel::{ContactId, ConversationId};
use crate::kernel::{DomainError, Entity};
use crate::tenancy::{Caller, Tenant};

/// Whom a recorded conversation was with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationSubject {
    /// A contact by id.
    Contact(ContactId),
    /// Whoever sent from this address, found or created as ResolveSender does.
    Sender(SenderInput),
}

/// A conversation as a source system records it. Errors name paths in its
/// two parts: `sender.address` for the sender, `conversation.ended_at` for
/// the conversation itself (the adapter passes them on as they are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRecord {
    /// Whom it was with.
    pub subject: ConversationSubject,
    /// The recording system.
    pub source: String,
    /// That system's id for it.
    pub source_id: String,
    /// What it says about it.
    pub fields: ConversationFields,
    /// Custom-field values.
    pub custom_fields: ValueChanges,
}

/// Changes to a conversation; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConversationPatch {
    /// New end time (`Some(None)` clears it).
    pub ended_at: Option<Option<time::OffsetDateTime>>,
    /// New status.
    pub status: Option<ConversationStatus>,
    /// New agent id and name.
    pub agent: Option<(String, String)>,
    /// New team.
    pub team: Option<String>,
    /// New subject.
    pub subject: Option<String>,
    /// New outcome.
    pub outcome: Option<String>,
    /// New message count.
    pub message_count: Option<u32>,
    /// New CSAT (`Some(None)` clears it).
    pub csat: Option<Option<u8>>,
    /// Custom-field values to set or clear.
    pub custom_fields: Option<ValueChanges>,
}

/// Conversation use cases.
#[derive(Clone)]
pub struct ConversationService {
    conversations: Arc<dyn ConversationRepository>,
    fields: Arc<dyn CustomFieldRepository>,
    contacts: ContactService,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for ConversationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationService")
            .finish_non_exhaustive()
    }
}

fn not_found(id: ConversationId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::Conversation,
        id: id.to_string(),
    }
}

impl ConversationService {
    /// Wires the use cases to their ports.
    pub fn new(
        conversations: Arc<dyn ConversationRepository>,
        fields: Arc<dyn CustomFieldRepository>,
        contacts: ContactService,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            conversations,
            fields,
            contacts,
            clock,
            ids,
        }
    }

    async fn values(
        &self,
        tenant: &Tenant,
        current: &CustomValues,
        changes: &ValueChanges,
        creating: bool,
    ) -> Result<CustomValues, DomainError> {
        crate::fields::apply_record_values(
            self.fields.as_ref(),
            tenant,
            FieldEntity::Conversation,
            current,
            changes,
            creating,
        )
        .await
    }

    /// Records a conversation: creates it, or updates the one recorded
    /// before with the same source and source id. Returns it and whether
    /// this call created it.
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound` (contact); `Contention`; `Unavailable`;
    /// `Internal`.
    pub async fn record(
        &self,
        caller: &Caller,
        record: ConversationRecord,
    ) -> Result<(Conversation, bool), DomainError> {
        let tenant = caller.tenant();
        let in_conversation = |error: DomainError| error.scoped("conversation");
        conversations::validate_source(&record.source, &record.source_id)
            .map_err(in_conversation)?;
        let fields = conversations::validate(record.fields).map_err(in_conversation)?;
        let custom_fields = self
            .values(tenant, &CustomValues::new(), &record.custom_fields, true)
            .await
            .map_err(in_conversation)?;
        let contact_id = match record.subject {
            ConversationSubject::Contact(id) => id,
            ConversationSubject::Sender(sender) => {
                self.contacts
                    .resolve_sender(caller, sender)
                    .await
                    .map_err(|error| error.scoped("sender"))?
                    .contact
                    .id
            }
        };
        let custom_fields = &custom_fields;
        let fields = &fields;
        let (source, source_id) = (&record.source, &record.source_id);
        let result = retry("conversation", || async move {
            let now = self.clock.now();
            let conversation = Conversation {
                id: ConversationId::from_uuid(self.ids.new_id()),
                tenant_id: tenant.id,
                contact_id,
                source: source.clone(),
                source_id: source_id.clone(),
                fields: fields.clone(),
                custom_fields: custom_fields.clone(),
                version: 1,
                create_time: now,
                update_time: now,
            };
            Attempt::again_if(self.conversations.record(&conversation).await, |error| {
                matches!(error, DomainError::Contention(_))
            })
        })
        .await;
        // A contact id that was merged away names the survivor.
        self.contacts.settle(tenant.id, result).await
    }

    /// Reads one conversation.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn get(
        &self,
        caller: &Caller,
        id: ConversationId,
    ) -> Result<Conversation, DomainError> {
        let tenant = caller.tenant();
        self.conversations
            .get(tenant.id, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Applies a patch at `expected_version` (if given; else on the latest).
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `Contention`; `Unavailable`;
    /// `Internal`.
    pub async fn update(
        &self,
        caller: &Caller,
        id: ConversationId,
        patch: ConversationPatch,
        expected_version: Option<i64>,
    ) -> Result<Conversation, DomainError> {
        let tenant = caller.tenant();
        let patch = &patch;
        retry("conversation", || async move {
            let current = self.get(caller, id).await?;
            if expected_version.is_some_and(|version| version != current.version) {
                return Err(DomainError::Stale {
                    entity: Entity::Conversation,
                    id: id.to_string(),
                });
            }
            let mut fields = current.fields.clone();
            if let Some(ended_at) = patch.ended_at {
                fields.ended_at = ended_at;
            }
            if let Some(status) = patch.status {
                fields.status = status;
            }
            if let Some((agent_id, agent_name)) = &patch.agent {
                fields.agent_id.clone_from(agent_id);
                fields.agent_name.clone_from(agent_name);
            }
            for (target, value) in [
                (&mut fields.team, &patch.team),
                (&mut fields.subject, &patch.subject),
                (&mut fields.outcome, &patch.outcome),
            ] {
                if let Some(value) = value {
                    target.clone_from(value);
                }
            }
            if let Some(count) = patch.message_count {
                fields.message_count = count;
            }
            if let Some(csat) = patch.csat {
                fields.csat = csat;
            }
            let fields = conversations::validate(fields)?;
            let custom_fields = match &patch.custom_fields {
                Some(changes) => {
                    self.values(tenant, &current.custom_fields, changes, false)
                        .await?
                }
                None => current.custom_fields.clone(),
            };
            let updated = Conversation {
                fields,
                custom_fields,
                update_time: self.clock.now(),
                ..current.clone()
            };
            Attempt::again_if(
                self.conversations.update(&updated, current.version).await,
                stale_unless_expected(expected_version),
            )
        })
        .await
    }

    /// Deletes a conversation; its contact's figures follow.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    pub async fn delete(
        &self,
        caller: &Caller,
        id: ConversationId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError> {
        let tenant = caller.tenant();
        self.conversations
            .delete(tenant.id, id, expected_version)
            .await
    }

    /// A contact's conversations across channels, newest first.
    ///
    /// # Errors
    /// `NotFound` (contact); `Unavailable`; `Internal`.
    pub async fn list_for_contact(
        &self,
        caller: &Caller,
        contact: ContactId,
        filter: ConversationFilter,
        after: Option<ConversationId>,
        page_size: u32,
    ) -> Result<Page<Conversation, ConversationId>, DomainError> {
        let tenant = caller.tenant();
        // An unknown contact is NOT_FOUND, not an empty history.
        self.contacts.get(caller, contact).await?;
        let items = self
            .conversations
            .list_for_contact(
                tenant.id,
                contact,
                filter,
                after,
                crate::kernel::overfetch(page_size),
            )
            .await?;
        Ok(Page::from_overfetch(items, page_size, |conversation| {
            conversation.id
        }))
    }
}
