//! `tiers`: a tenant's customer tiers. Auto-tags are kept as a JSON array
//! of normalised tags; SLA targets as whole seconds.

use crm_domain::tiers::{SlaPolicy, Tier, TierFields};
use crm_domain::{DomainError, TenantId, TierId};
use sea_orm::FromQueryResult;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Every column, in [`TierRow`] order.
pub(crate) const COLUMNS: &str = "tenant_id, id, name, color, priority_rank, \
    first_response_seconds, resolution_seconds, auto_tags, version, create_time, update_time";

/// One row of `tiers`.
#[derive(Debug, FromQueryResult)]
pub(crate) struct TierRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub color: String,
    pub priority_rank: i32,
    pub first_response_seconds: Option<i64>,
    pub resolution_seconds: Option<i64>,
    pub auto_tags: String,
    pub version: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

impl TierRow {
    pub(crate) fn into_domain(self) -> Result<Tier, DomainError> {
        let auto_tags: Vec<String> = serde_json::from_str(&self.auto_tags)
            .map_err(|error| DomainError::Internal(format!("stored auto-tags: {error}")))?;
        Ok(Tier {
            id: TierId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            fields: TierFields {
                name: self.name,
                color: self.color,
                sla: sla(self.first_response_seconds, self.resolution_seconds),
                auto_tags,
            },
            rank: u32::try_from(self.priority_rank).unwrap_or(u32::MAX),
            version: self.version,
            create_time: self.create_time,
            update_time: self.update_time,
        })
    }
}

/// The SLA policy of stored seconds.
pub(crate) fn sla(first_response: Option<i64>, resolution: Option<i64>) -> SlaPolicy {
    SlaPolicy {
        first_response: first_response.map(Duration::seconds),
        resolution: resolution.map(Duration::seconds),
    }
}

/// Whole seconds of a target, as stored.
pub(crate) fn seconds(target: Option<Duration>) -> Option<i64> {
    target.map(|target| target.whole_seconds())
}

/// The auto-tags column value.
pub(crate) fn tags_json(tags: &[String]) -> String {
    serde_json::Value::from(tags.to_vec()).to_string()
}

/// A tenant's number of tiers and its highest rank number.
#[derive(Debug, FromQueryResult)]
pub(crate) struct RankCount {
    pub n: i64,
    pub top: i64,
}
