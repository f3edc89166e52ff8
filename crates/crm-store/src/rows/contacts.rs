//! `contacts`: the describing fields of a contact and its version. Read
//! with its identities (see `contact_identities`), its tier and its tags
//! (`contact_tags`), one row per contact (see [`push_contact_columns`]).

use crm_domain::contacts::Engagement;
use crm_domain::contacts::{Contact, ContactFields, LifecycleStage};
use crm_domain::identity::ContactIdentity;
use crm_domain::organizations::Affiliation;
use crm_domain::tiers::TierBadge;
use crm_domain::{Channel, ContactId, DomainError, IdentityKind, OrganizationId, TenantId, TierId};
use sea_orm::FromQueryResult;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::dialect::Backend;
use crate::sql::Sql;

/// Appends the columns of a contact read, one row per contact: the
/// contact's columns, its tier's (with `t` the tier alias, see
/// [`TIER_JOIN`]), and its tags and identities each aggregated into one JSON
/// array by a correlated subquery on their primary key (`c` is the contact
/// alias). Identities come primary first, then in the order they were added
/// (see `contact_identity::insert_ignoring_held`), then by kind and value,
/// the same on every backend. Nothing of the contact repeats per identity.
pub(crate) fn push_contact_columns(sql: &mut Sql, backend: Backend) {
    let (json_array_open, json_array_close) = backend.json_array_agg();
    sql.push(CONTACT_COLUMNS)
        .push(", (SELECT ")
        .push(json_array_open)
        .push("g.tag")
        .push(json_array_close)
        .push(
            " FROM contact_tags g \
             WHERE g.tenant_id = c.tenant_id AND g.contact_id = c.id) AS tags_json, (SELECT ",
        )
        .push(json_array_open)
        .push(&backend.json_array_of("i.kind, i.value, i.raw_value, i.is_primary"))
        .push(" ORDER BY ")
        .push(backend.identity_order())
        .push(json_array_close)
        .push(
            " FROM contact_identities i \
             WHERE i.tenant_id = c.tenant_id AND i.contact_id = c.id) AS identities_json",
        );
}

/// The contact's own columns and its tier's, without its tags and
/// identities (empty arrays in their place): for a page whose tags and
/// identities are read apart, by [`IdentityRow`] and [`TagRow`].
pub(crate) fn push_contact_columns_alone(sql: &mut Sql) {
    sql.push(CONTACT_COLUMNS)
        .push(", '[]' AS tags_json, '[]' AS identities_json");
}

const CONTACT_COLUMNS: &str = "c.tenant_id, c.id, c.display_name, c.city, c.country, \
     c.language, c.avatar_url, c.blocked, c.lifecycle_stage, c.tier_id, c.version, \
     c.create_time, c.update_time, c.custom_values, c.organization_id, c.organization_link, c.conversation_count, \
     c.message_count, c.first_contact_time, c.last_contact_time, c.csat_sum, c.csat_count, \
     c.channels_used, \
     t.name AS tier_name, t.color AS tier_color, t.priority_rank AS tier_rank, \
     t.first_response_seconds AS tier_first_response, \
     t.resolution_seconds AS tier_resolution";

crate::rows::positional_row! {
    /// One identity of a contact, read apart from the contact (see
    /// [`push_contact_columns_alone`]).
    IdentityRow {
        contact_id: Uuid,
        kind: String,
        value: String,
        raw_value: String,
        is_primary: bool,
    }
}

impl IdentityRow {
    /// The identity as the domain holds it.
    pub(crate) fn into_domain(self) -> Result<ContactIdentity, DomainError> {
        identity_of(self.kind, self.value, self.raw_value, self.is_primary)
    }
}

crate::rows::positional_row! {
    /// One tag of a contact, read apart from the contact.
    TagRow {
        contact_id: Uuid,
        tag: String,
    }
}

/// The join that brings in the contact's tier as `t`.
pub(crate) const TIER_JOIN: &str =
    " LEFT JOIN tiers t ON t.tenant_id = c.tenant_id AND t.id = c.tier_id";

crate::rows::positional_row! {
    /// One row of a contact read (see [`push_contact_columns`]): read by
    /// position, as every contact read selects its columns in this order.
    /// By name, 30 columns cost a third of an export's CPU in `crmd` (a
    /// name look-up per column, and a formatted error for each NULL that
    /// sea-orm turns into `None`).
    ContactRow {
        tenant_id: Uuid,
        id: Uuid,
        display_name: String,
        city: String,
        country: String,
        language: String,
        avatar_url: String,
        blocked: bool,
        lifecycle_stage: String,
        tier_id: Option<Uuid>,
        version: i64,
        create_time: OffsetDateTime,
        update_time: OffsetDateTime,
        custom_values: String,
        organization_id: Option<Uuid>,
        organization_link: Option<String>,
        conversation_count: i64,
        message_count: i64,
        first_contact_time: Option<OffsetDateTime>,
        last_contact_time: Option<OffsetDateTime>,
        csat_sum: i64,
        csat_count: i64,
        channels_used: String,
        tier_name: Option<String>,
        tier_color: Option<String>,
        tier_rank: Option<i32>,
        tier_first_response: Option<i64>,
        tier_resolution: Option<i64>,
        tags_json: String,
        identities_json: String,
    }
}

/// The engagement columns of `contacts`, as [`EngagementRow`] reads them.
pub(crate) const ENGAGEMENT_COLUMNS: &str = "conversation_count, message_count, \
     first_contact_time, last_contact_time, csat_sum, csat_count, channels_used";

/// A contact's engagement figures.
#[derive(Debug, FromQueryResult)]
pub(crate) struct EngagementRow {
    pub conversation_count: i64,
    pub message_count: i64,
    pub first_contact_time: Option<OffsetDateTime>,
    pub last_contact_time: Option<OffsetDateTime>,
    pub csat_sum: i64,
    pub csat_count: i64,
    pub channels_used: String,
}

impl EngagementRow {
    /// The figures as the domain holds them.
    pub(crate) fn into_domain(self) -> Result<Engagement, DomainError> {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(Engagement {
            conversation_count: count(self.conversation_count),
            message_count: count(self.message_count),
            first_contact: self.first_contact_time,
            last_contact: self.last_contact_time,
            csat_sum: count(self.csat_sum),
            csat_count: count(self.csat_count),
            channels: channels(&self.channels_used)?,
        })
    }
}

/// A contact's id and version, as a merge locks it.
#[derive(Debug, FromQueryResult)]
pub(crate) struct VersionRow {
    pub id: Uuid,
    pub version: i64,
}

/// A contact's id and its left-joined tier.
#[derive(Debug, FromQueryResult)]
pub(crate) struct TierOfRow {
    pub id: Uuid,
    pub tier_id: Option<Uuid>,
    pub tier_name: Option<String>,
    pub tier_color: Option<String>,
    pub tier_rank: Option<i32>,
    pub tier_first_response: Option<i64>,
    pub tier_resolution: Option<i64>,
}

/// Turns contact rows into contacts, keeping the order in which each
/// contact first appears and dropping a contact that comes back twice (a
/// contact matched by two keys of the hot path's read).
pub(crate) fn fold(rows: Vec<ContactRow>) -> Result<Vec<Contact>, DomainError> {
    let mut contacts: Vec<Contact> = Vec::with_capacity(rows.len());
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    for row in rows {
        if seen.insert(row.id) {
            contacts.push(row.into_domain()?);
        }
    }
    Ok(contacts)
}

impl ContactRow {
    /// The contact as the domain holds it.
    fn into_domain(self) -> Result<Contact, DomainError> {
        let row = self;
        let stage = LifecycleStage::parse(&row.lifecycle_stage).ok_or_else(|| {
            DomainError::Internal(format!("stored stage {:?} is invalid", row.lifecycle_stage))
        })?;
        let mut tags: Vec<String> = serde_json::from_str(&row.tags_json)
            .map_err(|error| DomainError::Internal(format!("stored tags: {error}")))?;
        tags.sort();
        let tier_id = row.tier_id.map(TierId::from_uuid);
        let tier = tier_badge(
            tier_id,
            row.tier_name,
            row.tier_color,
            row.tier_rank,
            row.tier_first_response,
            row.tier_resolution,
        );
        let identities = identities(&row.identities_json)?;
        let engagement = EngagementRow {
            conversation_count: row.conversation_count,
            message_count: row.message_count,
            first_contact_time: row.first_contact_time,
            last_contact_time: row.last_contact_time,
            csat_sum: row.csat_sum,
            csat_count: row.csat_count,
            channels_used: row.channels_used,
        }
        .into_domain()?;
        Ok(Contact {
            id: ContactId::from_uuid(row.id),
            tenant_id: TenantId::from_uuid(row.tenant_id),
            fields: ContactFields {
                display_name: row.display_name,
                city: row.city,
                country: row.country,
                language: row.language,
                avatar_url: row.avatar_url,
                blocked: row.blocked,
                lifecycle_stage: stage,
                tier_id,
                affiliation: affiliation(row.organization_id, row.organization_link.as_deref())?,
            },
            identities,
            tags,
            tier,
            custom_fields: crate::rows::custom_values::values_from_json(&row.custom_values)?,
            engagement,
            version: row.version,
            create_time: row.create_time,
            update_time: row.update_time,
        })
    }
}

/// The aggregated identities column: a JSON array of `[kind, value, raw,
/// primary]`, already in order. `primary` is a JSON boolean on PostgreSQL
/// and 0 or 1 on SQLite, which has no boolean type.
fn identities(text: &str) -> Result<Vec<ContactIdentity>, DomainError> {
    let invalid = || DomainError::Internal("stored identities are invalid".to_owned());
    let items: Vec<(String, String, String, serde_json::Value)> =
        serde_json::from_str(text).map_err(|_| invalid())?;
    items
        .into_iter()
        .map(|(kind, value, raw, primary)| {
            let primary = match primary {
                serde_json::Value::Bool(primary) => primary,
                serde_json::Value::Number(n) => n.as_i64().is_some_and(|n| n != 0),
                _ => return Err(invalid()),
            };
            identity_of(kind, value, raw, primary)
        })
        .collect()
}

fn identity_of(
    kind: String,
    value: String,
    raw: String,
    primary: bool,
) -> Result<ContactIdentity, DomainError> {
    let kind = IdentityKind::parse(&kind).ok_or_else(|| {
        DomainError::Internal(format!("stored identity kind {kind:?} is invalid"))
    })?;
    Ok(ContactIdentity {
        kind,
        value,
        raw,
        primary,
    })
}

/// The channels-used column: a JSON array of channel names.
pub(crate) fn channels(text: &str) -> Result<Vec<Channel>, DomainError> {
    let names: Vec<String> = serde_json::from_str(text)
        .map_err(|_| DomainError::Internal("stored channels are invalid".to_owned()))?;
    let mut channels = names
        .iter()
        .map(|name| {
            Channel::parse(name)
                .ok_or_else(|| DomainError::Internal(format!("stored channel {name:?} is invalid")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    channels.sort_by_key(|channel| channel.as_str());
    channels.dedup();
    Ok(channels)
}

/// A contact's affiliation from its two columns.
pub(crate) fn affiliation(
    organization: Option<Uuid>,
    link: Option<&str>,
) -> Result<Affiliation, DomainError> {
    match (organization.map(OrganizationId::from_uuid), link) {
        (None, None) => Ok(Affiliation::None),
        (Some(id), Some("auto")) => Ok(Affiliation::Auto(id)),
        (Some(id), Some("manual")) => Ok(Affiliation::Manual(id)),
        (None, Some("detached")) => Ok(Affiliation::Detached),
        (organization, link) => Err(DomainError::Internal(format!(
            "stored affiliation {organization:?}/{link:?} is invalid"
        ))),
    }
}

/// The two columns of an affiliation.
pub(crate) fn affiliation_columns(
    affiliation: Affiliation,
) -> (Option<Uuid>, Option<&'static str>) {
    match affiliation {
        Affiliation::None => (None, None),
        Affiliation::Auto(id) => (Some(id.as_uuid()), Some("auto")),
        Affiliation::Manual(id) => (Some(id.as_uuid()), Some("manual")),
        Affiliation::Detached => (None, Some("detached")),
    }
}

/// The badge of a left-joined tier; `None` when the contact has no tier or
/// the tier is gone.
pub(crate) fn tier_badge(
    id: Option<TierId>,
    name: Option<String>,
    color: Option<String>,
    rank: Option<i32>,
    first_response: Option<i64>,
    resolution: Option<i64>,
) -> Option<TierBadge> {
    let (id, name, color, rank) = (id?, name?, color?, rank?);
    Some(TierBadge {
        id,
        name,
        color,
        rank: u32::try_from(rank).unwrap_or(u32::MAX),
        sla: crate::rows::tiers::sla(first_response, resolution),
    })
}

/// Puts a freshly written contact's identities in the order a read returns
/// them: primary first, then in the order written (a stable sort).
pub(crate) fn canonical(mut contact: Contact) -> Contact {
    contact.identities.sort_by_key(|identity| !identity.primary);
    contact
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use sea_orm::{ConnectionTrait, FromQueryResult, Statement};

    use super::*;
    use crate::testing::BOTH;

    /// A contact row reads the same by position (its columns in order,
    /// after others or not) as by name (its columns in another order).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_contact_row_reads_the_same_by_position_and_by_name() {
        for backend in BOTH {
            let (database, store, tenant) = crate::testing::opened(backend).await;
            crate::testing::insert_contact_row(&store, tenant, 7, true, "{}").await;
            let db = &store.search().pools.db;
            let read = |columns: String| {
                let sql =
                    format!("SELECT {columns} FROM contacts c{TIER_JOIN} WHERE c.tenant_id = $1");
                let statement = Statement::from_sql_and_values(
                    store.backend().db_backend(),
                    sql,
                    [tenant.as_uuid().into()],
                );
                async move {
                    let rows = db.query_all_raw(statement).await.unwrap();
                    format!("{:?}", ContactRow::from_query_result(&rows[0], "").unwrap())
                }
            };
            let mut in_order = Sql::new("");
            push_contact_columns_alone(&mut in_order);
            let in_order = in_order.build(store.backend().db_backend()).sql;
            let mut reversed: Vec<&str> = in_order.split(", ").collect();
            reversed.reverse();
            let reversed = reversed.join(", ");
            let by_position = read(format!("42 AS probe, {in_order}")).await;
            assert!(by_position.contains("display_name: \"C\""), "{by_position}");
            assert!(by_position.contains("blocked: true"), "{by_position}");
            assert_eq!(by_position, read(in_order).await, "{backend:?}");
            assert_eq!(by_position, read(reversed).await, "{backend:?}");
            let _ = store.close().await;
            database.drop_database().await;
        }
    }
}
