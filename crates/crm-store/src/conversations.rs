//! `ConversationRepository` on sea-orm. Every write locks the contact rows it
//! touches (where the dialect locks rows; see `Backend::locks_rows`), then
//! moves those contacts' engagement figures by what the write changed, in the
//! same transaction ([`shift_engagement`]): counts and sums by deltas, first
//! and last contact read back from the `(tenant, contact, started_at)` index,
//! and a channel dropped only when no conversation of the contact uses it
//! any more (one probe of the `(tenant, contact, channel)` index). No write
//! reads the contact's whole history, so a contact with 20,000 conversations
//! costs what one with 20 does, and the figures always equal a recount
//! (`conversations::engagement_of`; a contract check compares them).

use async_trait::async_trait;
use crm_domain::contacts::Engagement;
use crm_domain::conversations::ConversationRepository;
use crm_domain::conversations::{Conversation, ConversationFilter};
use crm_domain::{Channel, ContactId, ConversationId, DomainError, Entity, TenantId};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use uuid::Uuid;

use crate::error::{is_unique_violation, storage};
use crate::pools::Pools;
use crate::rows::contacts::{ENGAGEMENT_COLUMNS, EngagementRow, channels};
use crate::rows::conversations::{COLUMNS, ConversationRow, ExistingRow};
use crate::rows::custom_values::values_to_json;
use crate::rows::{Count, Text};
use crate::sql::Sql;

/// Conversations in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SeaConversationRepository {
    pub(crate) pools: Pools,
}

fn not_found(id: ConversationId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::Conversation,
        id: id.to_string(),
    }
}

fn stale(id: ConversationId) -> DomainError {
    DomainError::Stale {
        entity: Entity::Conversation,
        id: id.to_string(),
    }
}

impl SeaConversationRepository {
    async fn select<C: ConnectionTrait>(
        &self,
        connection: &C,
        sql: Sql,
    ) -> Result<Vec<Conversation>, DomainError> {
        sql.fetch(connection, ConversationRow::into_domain).await
    }

    async fn read<C: ConnectionTrait>(
        &self,
        connection: &C,
        tenant: TenantId,
        id: ConversationId,
    ) -> Result<Option<Conversation>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM conversations WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(id.as_uuid());
        Ok(self.select(connection, sql).await?.into_iter().next())
    }

    /// Locks the contacts (in id order, so writers cannot deadlock) and
    /// returns how many exist.
    async fn lock_contacts(
        &self,
        transaction: &DatabaseTransaction,
        tenant: TenantId,
        contacts: &[ContactId],
    ) -> Result<usize, DomainError> {
        let mut ids: Vec<Uuid> = contacts.iter().map(ContactId::as_uuid).collect();
        ids.sort();
        ids.dedup();
        let mut sql =
            Sql::new("SELECT count(*) AS n FROM (SELECT id FROM contacts WHERE tenant_id = ");
        sql.bind(tenant.as_uuid())
            .push(" AND id IN ")
            .ids(ids)
            .push(" ORDER BY id")
            .push(self.pools.backend.for_update())
            .push(") locked");
        let counted = sql
            .fetch_optional::<_, Count>(transaction)
            .await?
            .map_or(0, |row| row.n);
        Ok(usize::try_from(counted).unwrap_or(0))
    }

    fn push_fields(sql: &mut Sql, conversation: &Conversation) {
        let fields = &conversation.fields;
        sql.push("contact_id = ")
            .bind(conversation.contact_id.as_uuid())
            .push(", channel = ")
            .bind(fields.channel.as_str())
            .push(", started_at = ")
            .bind(fields.started_at)
            .push(", ended_at = ")
            .bind(fields.ended_at)
            .push(", status = ")
            .bind(fields.status.as_str())
            .push(", agent_id = ")
            .bind(fields.agent_id.clone())
            .push(", agent_name = ")
            .bind(fields.agent_name.clone())
            .push(", team = ")
            .bind(fields.team.clone())
            .push(", subject = ")
            .bind(fields.subject.clone())
            .push(", outcome = ")
            .bind(fields.outcome.clone())
            .push(", message_count = ")
            .bind(i64::from(fields.message_count))
            .push(", csat = ")
            .bind(fields.csat.map(i32::from))
            .push(", custom_values = ")
            .bind(values_to_json(&conversation.custom_fields))
            .push(", update_time = ")
            .bind(conversation.update_time);
    }
}

/// What one conversation adds to its contact's engagement figures.
#[derive(Debug, Clone, Copy)]
struct Share {
    contact: ContactId,
    channel: Channel,
    messages: i64,
    csat: Option<i64>,
}

impl Share {
    fn of(conversation: &Conversation) -> Self {
        Self {
            contact: conversation.contact_id,
            channel: conversation.fields.channel,
            messages: i64::from(conversation.fields.message_count),
            csat: conversation.fields.csat.map(i64::from),
        }
    }

    /// `(conversations, messages, csat sum, csat count)` it adds.
    fn figures(self) -> [i64; 4] {
        [
            1,
            self.messages,
            self.csat.unwrap_or(0),
            i64::from(self.csat.is_some()),
        ]
    }
}

/// Moves the engagement figures of the contacts a write touched: `gone` is
/// what the conversation contributed before the write (none for a new one),
/// `now` what it contributes after (none for a delete). Runs after the
/// conversation row is written, in the same transaction, with the contacts'
/// rows locked.
async fn shift_engagement(
    transaction: &DatabaseTransaction,
    tenant: TenantId,
    gone: Option<Share>,
    now: Option<Share>,
) -> Result<(), DomainError> {
    let mut touched: Vec<ContactId> = gone.iter().chain(&now).map(|share| share.contact).collect();
    touched.dedup();
    for contact in touched {
        let mut delta = [0_i64; 4];
        for (share, sign) in [(gone, -1), (now, 1)] {
            if let Some(share) = share.filter(|share| share.contact == contact) {
                for (total, figure) in delta.iter_mut().zip(share.figures()) {
                    *total += sign * figure;
                }
            }
        }
        let channels = shifted_channels(transaction, tenant, contact, gone, now).await?;
        let [conversations, messages, csat_sum, csat_count] = delta;
        let mut sql = Sql::new("UPDATE contacts SET conversation_count = conversation_count + ");
        sql.bind(conversations)
            .push(", message_count = message_count + ")
            .bind(messages)
            .push(", csat_sum = csat_sum + ")
            .bind(csat_sum)
            .push(", csat_count = csat_count + ")
            .bind(csat_count);
        for (column, direction) in [("first_contact_time", "ASC"), ("last_contact_time", "DESC")] {
            // One step down the (tenant, contact, started_at) index.
            sql.push(", ")
                .push(column)
                .push(" = (SELECT started_at FROM conversations WHERE tenant_id = ")
                .bind(tenant.as_uuid())
                .push(" AND contact_id = ")
                .bind(contact.as_uuid())
                .push(" ORDER BY started_at ")
                .push(direction)
                .push(" LIMIT 1)");
        }
        if let Some(channels) = channels {
            sql.push(", channels_used = ").bind(channels);
        }
        sql.push(" WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND id = ")
            .bind(contact.as_uuid());
        sql.execute(transaction).await?;
    }
    Ok(())
}

/// The contact's new `channels_used`, or `None` when it stays as it is: the
/// channel `now` uses joins; the channel `gone` used leaves only when no
/// conversation of the contact still uses it.
async fn shifted_channels(
    transaction: &DatabaseTransaction,
    tenant: TenantId,
    contact: ContactId,
    gone: Option<Share>,
    now: Option<Share>,
) -> Result<Option<String>, DomainError> {
    let joins = now
        .filter(|share| share.contact == contact)
        .map(|share| share.channel);
    let leaves = gone
        .filter(|share| share.contact == contact && Some(share.channel) != joins)
        .map(|share| share.channel);
    let leaves = match leaves {
        Some(channel) => {
            let mut probe = Sql::new(
                "SELECT count(*) AS n FROM (SELECT 1 AS one FROM conversations WHERE tenant_id = ",
            );
            probe
                .bind(tenant.as_uuid())
                .push(" AND contact_id = ")
                .bind(contact.as_uuid())
                .push(" AND channel = ")
                .bind(channel.as_str())
                .push(" LIMIT 1) used");
            let still_used = probe
                .fetch_optional::<_, Count>(transaction)
                .await?
                .is_some_and(|row| row.n > 0);
            (!still_used).then_some(channel)
        }
        None => None,
    };
    if joins.is_none() && leaves.is_none() {
        return Ok(None);
    }
    let mut sql = Sql::new("SELECT channels_used AS text FROM contacts WHERE tenant_id = ");
    sql.bind(tenant.as_uuid())
        .push(" AND id = ")
        .bind(contact.as_uuid());
    let stored = sql
        .fetch_optional::<_, Text>(transaction)
        .await?
        .map(|row| row.text)
        .unwrap_or_else(|| "[]".to_owned());
    let mut channels = channels(&stored)?;
    let before = channels.clone();
    channels.retain(|channel| Some(*channel) != leaves);
    if let Some(channel) = joins
        && !channels.contains(&channel)
    {
        channels.push(channel);
        channels.sort_by_key(|channel| channel.as_str());
    }
    if channels == before {
        return Ok(None);
    }
    channels_json(&channels).map(Some)
}

/// The `channels_used` column for `channels`: a JSON array of their names.
fn channels_json(channels: &[Channel]) -> Result<String, DomainError> {
    let names: Vec<&str> = channels.iter().map(|channel| channel.as_str()).collect();
    serde_json::to_string(&names)
        .map_err(|error| DomainError::Internal(format!("channels do not serialise: {error}")))
}

/// Moves the survivor's figures by its duplicates' (a merge), with every
/// row locked: the figures combine exactly (`Engagement::combined`), so the
/// survivor's history is never recounted.
pub(crate) async fn absorb_engagement(
    transaction: &DatabaseTransaction,
    tenant: TenantId,
    survivor: ContactId,
    duplicates: &[ContactId],
) -> Result<(), DomainError> {
    let mut sql = Sql::new("SELECT ");
    sql.push(ENGAGEMENT_COLUMNS)
        .push(" FROM contacts WHERE tenant_id = ")
        .bind(tenant.as_uuid())
        .push(" AND id IN ")
        .ids(duplicates.iter().chain([&survivor]).map(ContactId::as_uuid));
    let combined = sql
        .fetch(transaction, EngagementRow::into_domain)
        .await?
        .into_iter()
        .fold(Engagement::default(), |total, figures| {
            total.combined(&figures)
        });
    let channels = channels_json(&combined.channels)?;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut sql = Sql::new("UPDATE contacts SET conversation_count = ");
    sql.bind(count(combined.conversation_count))
        .push(", message_count = ")
        .bind(count(combined.message_count))
        .push(", first_contact_time = ")
        .bind(combined.first_contact)
        .push(", last_contact_time = ")
        .bind(combined.last_contact)
        .push(", csat_sum = ")
        .bind(count(combined.csat_sum))
        .push(", csat_count = ")
        .bind(count(combined.csat_count))
        .push(", channels_used = ")
        .bind(channels)
        .push(" WHERE tenant_id = ")
        .bind(tenant.as_uuid())
        .push(" AND id = ")
        .bind(survivor.as_uuid());
    sql.execute(transaction).await?;
    Ok(())
}

#[async_trait]
impl ConversationRepository for SeaConversationRepository {
    async fn record(
        &self,
        conversation: &Conversation,
    ) -> Result<(Conversation, bool), DomainError> {
        let tenant = conversation.tenant_id;
        self.pools
            .writer
            .transaction(async |transaction| {
                let mut sql = Sql::new(
                    "SELECT id, contact_id, version FROM conversations WHERE tenant_id = ",
                );
                sql.bind(tenant.as_uuid())
                    .push(" AND source = ")
                    .bind(conversation.source.clone())
                    .push(" AND source_id = ")
                    .bind(conversation.source_id.clone());
                let existing: Option<ExistingRow> = sql.fetch_optional(transaction).await?;
                let mut contacts = vec![conversation.contact_id];
                if let Some(existing) = &existing {
                    contacts.push(ContactId::from_uuid(existing.contact_id));
                }
                contacts.dedup();
                // The recorded conversation's old contact exists (the foreign
                // key says so); a missing one is the contact named now.
                if self.lock_contacts(transaction, tenant, &contacts).await? < contacts.len() {
                    return Err(DomainError::contact_not_found(conversation.contact_id));
                }
                // The row as it stands under the lock: what it contributed
                // so far. A writer that moved it since we looked locked other
                // contacts than ours; try again from the start.
                let before = match &existing {
                    Some(existing) => {
                        let id = ConversationId::from_uuid(existing.id);
                        match self.read(transaction, tenant, id).await? {
                            Some(row) if row.version == existing.version => Some(row),
                            _ => return Err(DomainError::Contention("conversation")),
                        }
                    }
                    None => None,
                };
                let (stored_id, created) = match &existing {
                    Some(existing) => {
                        let mut sql = Sql::new("UPDATE conversations SET ");
                        Self::push_fields(&mut sql, conversation);
                        sql.push(", version = ")
                            .bind(existing.version + 1)
                            .push(" WHERE tenant_id = ")
                            .bind(tenant.as_uuid())
                            .push(" AND id = ")
                            .bind(existing.id);
                        sql.execute(transaction).await?;
                        (ConversationId::from_uuid(existing.id), false)
                    }
                    None => {
                        let fields = &conversation.fields;
                        let mut sql = Sql::new("INSERT INTO conversations (");
                        sql.push(COLUMNS)
                            .push(") VALUES (")
                            .bind(tenant.as_uuid())
                            .push(", ")
                            .bind(conversation.id.as_uuid())
                            .push(", ")
                            .bind(conversation.contact_id.as_uuid())
                            .push(", ")
                            .bind(conversation.source.clone())
                            .push(", ")
                            .bind(conversation.source_id.clone())
                            .push(", ")
                            .bind(fields.channel.as_str())
                            .push(", ")
                            .bind(fields.started_at)
                            .push(", ")
                            .bind(fields.ended_at)
                            .push(", ")
                            .bind(fields.status.as_str())
                            .push(", ")
                            .bind(fields.agent_id.clone())
                            .push(", ")
                            .bind(fields.agent_name.clone())
                            .push(", ")
                            .bind(fields.team.clone())
                            .push(", ")
                            .bind(fields.subject.clone())
                            .push(", ")
                            .bind(fields.outcome.clone())
                            .push(", ")
                            .bind(i64::from(fields.message_count))
                            .push(", ")
                            .bind(fields.csat.map(i32::from))
                            .push(", ")
                            .bind(values_to_json(&conversation.custom_fields))
                            .push(", ")
                            .bind(conversation.version)
                            .push(", ")
                            .bind(conversation.create_time)
                            .push(", ")
                            .bind(conversation.update_time)
                            .push(")");
                        match sql.try_execute(transaction).await {
                            Ok(_) => {}
                            // Recorded by another writer at the same instant.
                            Err(error) if is_unique_violation(&error) => {
                                return Err(DomainError::Contention("conversation source id"));
                            }
                            Err(error) => return Err(storage(error)),
                        }
                        (conversation.id, true)
                    }
                };
                shift_engagement(
                    transaction,
                    tenant,
                    before.as_ref().map(Share::of),
                    Some(Share::of(conversation)),
                )
                .await?;
                let stored = self
                    .read(transaction, tenant, stored_id)
                    .await?
                    .ok_or_else(|| not_found(stored_id))?;
                Ok((stored, created))
            })
            .await
    }

    async fn get(
        &self,
        tenant: TenantId,
        id: ConversationId,
    ) -> Result<Option<Conversation>, DomainError> {
        self.read(&self.pools.db, tenant, id).await
    }

    async fn update(
        &self,
        conversation: &Conversation,
        expected_version: i64,
    ) -> Result<Conversation, DomainError> {
        let tenant = conversation.tenant_id;
        let id = conversation.id;
        self.pools
            .writer
            .transaction(async |transaction| {
                self.lock_contacts(transaction, tenant, &[conversation.contact_id])
                    .await?;
                let before = match self.read(transaction, tenant, id).await? {
                    Some(row) if row.version == expected_version => row,
                    Some(_) => return Err(stale(id)),
                    None => return Err(not_found(id)),
                };
                let mut sql = Sql::new("UPDATE conversations SET ");
                Self::push_fields(&mut sql, conversation);
                sql.push(", version = ")
                    .bind(expected_version + 1)
                    .push(" WHERE tenant_id = ")
                    .bind(tenant.as_uuid())
                    .push(" AND id = ")
                    .bind(id.as_uuid())
                    .push(" AND version = ")
                    .bind(expected_version);
                if sql.execute(transaction).await? == 0 {
                    return Err(match self.read(transaction, tenant, id).await? {
                        Some(_) => stale(id),
                        None => not_found(id),
                    });
                }
                shift_engagement(
                    transaction,
                    tenant,
                    Some(Share::of(&before)),
                    Some(Share::of(conversation)),
                )
                .await?;
                self.read(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(id))
            })
            .await
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: ConversationId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError> {
        self.pools
            .writer
            .transaction(async |transaction| {
                let current = self
                    .read(transaction, tenant, id)
                    .await?
                    .ok_or_else(|| not_found(id))?;
                if expected_version.is_some_and(|version| version != current.version) {
                    return Err(stale(id));
                }
                self.lock_contacts(transaction, tenant, &[current.contact_id])
                    .await?;
                let mut sql = Sql::new("DELETE FROM conversations WHERE tenant_id = ");
                sql.bind(tenant.as_uuid())
                    .push(" AND id = ")
                    .bind(id.as_uuid())
                    .push(" AND version = ")
                    .bind(current.version);
                if sql.execute(transaction).await? == 0 {
                    return Err(stale(id));
                }
                shift_engagement(transaction, tenant, Some(Share::of(&current)), None).await
            })
            .await
    }

    async fn list_for_contact(
        &self,
        tenant: TenantId,
        contact: ContactId,
        filter: ConversationFilter,
        after: Option<ConversationId>,
        limit: u32,
    ) -> Result<Vec<Conversation>, DomainError> {
        let mut sql = Sql::new("SELECT ");
        sql.push(COLUMNS)
            .push(" FROM conversations WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND contact_id = ")
            .bind(contact.as_uuid());
        if let Some(channel) = filter.channel {
            sql.push(" AND channel = ").bind(channel.as_str());
        }
        if let Some(status) = filter.status {
            sql.push(" AND status = ").bind(status.as_str());
        }
        if let Some(after) = after {
            // Row-value comparison against the cursor row: newer start, or
            // the same start and a greater id, came before it.
            sql.push(" AND (started_at, id) < (SELECT started_at, id FROM conversations WHERE tenant_id = ")
                .bind(tenant.as_uuid())
                .push(" AND id = ")
                .bind(after.as_uuid())
                .push(")");
        }
        sql.push(" ORDER BY started_at DESC, id DESC LIMIT ")
            .bind(i64::from(limit));
        self.select(&self.pools.db, sql).await
    }
}
