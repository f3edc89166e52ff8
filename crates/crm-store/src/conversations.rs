//! `ConversationRepository` on sea-orm. Every write locks the contact rows it
//! touches (where the dialect locks rows; see `Backend::locks_rows`), then
//! recomputes those contacts' engagement figures from their conversations in
//! the same transaction, so the figures on a contact are always those of
//! its history and no read scans it.

use async_trait::async_trait;
use crm_domain::conversations::ConversationRepository;
use crm_domain::conversations::{Conversation, ConversationFilter};
use crm_domain::{ContactId, ConversationId, DomainError, Entity, TenantId};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use uuid::Uuid;

use crate::dialect::Backend;
use crate::error::{is_unique_violation, storage};
use crate::pools::Pools;
use crate::rows::Count;
use crate::rows::conversations::{COLUMNS, ConversationRow, ExistingRow};
use crate::rows::custom_values::values_to_json;
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

    /// Recomputes a contact's engagement figures from its conversations.
    async fn recompute(
        &self,
        transaction: &DatabaseTransaction,
        tenant: TenantId,
        contact: ContactId,
    ) -> Result<(), DomainError> {
        recompute_engagement(transaction, tenant, contact).await
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

/// Recomputes a contact's engagement figures from its conversations, in
/// the caller's transaction (which should hold the contact's row lock).
pub(crate) async fn recompute_engagement(
    transaction: &DatabaseTransaction,
    tenant: TenantId,
    contact: ContactId,
) -> Result<(), DomainError> {
    let (json_array_open, json_array_close) = Backend::of(transaction).json_array_agg();
    let of_contact = |sql: &mut Sql| {
        sql.push(" FROM conversations WHERE tenant_id = ")
            .bind(tenant.as_uuid())
            .push(" AND contact_id = ")
            .bind(contact.as_uuid())
            .push(")");
    };
    let mut sql = Sql::new("UPDATE contacts SET conversation_count = (SELECT count(*)");
    of_contact(&mut sql);
    sql.push(", message_count = (SELECT coalesce(sum(message_count), 0)");
    of_contact(&mut sql);
    sql.push(", first_contact_time = (SELECT min(started_at)");
    of_contact(&mut sql);
    sql.push(", last_contact_time = (SELECT max(started_at)");
    of_contact(&mut sql);
    sql.push(", csat_sum = (SELECT coalesce(sum(csat), 0)");
    of_contact(&mut sql);
    sql.push(", csat_count = (SELECT count(csat)");
    of_contact(&mut sql);
    sql.push(", channels_used = (SELECT ")
        .push(json_array_open)
        .push("DISTINCT channel")
        .push(json_array_close);
    of_contact(&mut sql);
    sql.push(" WHERE tenant_id = ")
        .bind(tenant.as_uuid())
        .push(" AND id = ")
        .bind(contact.as_uuid());
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
                for contact in &contacts {
                    self.recompute(transaction, tenant, *contact).await?;
                }
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
                self.recompute(transaction, tenant, conversation.contact_id)
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
                self.recompute(transaction, tenant, current.contact_id)
                    .await
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
