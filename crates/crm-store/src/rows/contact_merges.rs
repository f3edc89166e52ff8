//! `contact_merges`: the record of each merge, with the field winners and
//! the counts of what moved as JSON.

use crm_domain::merge::{ContactChild, FieldWinner, MergeRecord, Overruled};
use crm_domain::{ContactId, DomainError, MergeId, TenantId};
use sea_orm::FromQueryResult;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

/// Every column, in [`MergeRow`] order.
pub(crate) const COLUMNS: &str =
    "tenant_id, id, survivor_id, duplicate_ids, merged_by, winners, moved, create_time";

#[derive(Debug, FromQueryResult)]
pub(crate) struct MergeRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub survivor_id: Uuid,
    pub duplicate_ids: String,
    pub merged_by: String,
    pub winners: String,
    pub moved: String,
    pub create_time: OffsetDateTime,
}

fn corrupt(what: &str) -> DomainError {
    DomainError::Internal(format!("stored merge record has an invalid {what}"))
}

fn contact_id(value: &Value, what: &str) -> Result<ContactId, DomainError> {
    value
        .as_str()
        .and_then(ContactId::parse)
        .ok_or_else(|| corrupt(what))
}

fn text(value: &Value, what: &str) -> Result<String, DomainError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| corrupt(what))
}

pub(crate) fn winners_json(winners: &[FieldWinner]) -> String {
    Value::Array(
        winners
            .iter()
            .map(|winner| {
                json!({
                    "field": winner.field,
                    "source": winner.source.to_string(),
                    "value": winner.value,
                    "overruled": winner.overruled.iter().map(|lost| json!({
                        "source": lost.source.to_string(),
                        "value": lost.value,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
    .to_string()
}

fn winners_from_json(text_value: &str) -> Result<Vec<FieldWinner>, DomainError> {
    let parsed: Value = serde_json::from_str(text_value).map_err(|_| corrupt("winners"))?;
    let items = parsed.as_array().ok_or_else(|| corrupt("winners"))?;
    items
        .iter()
        .map(|item| {
            let overruled = item["overruled"]
                .as_array()
                .ok_or_else(|| corrupt("winners"))?
                .iter()
                .map(|lost| {
                    Ok(Overruled {
                        source: contact_id(&lost["source"], "winners")?,
                        value: text(&lost["value"], "winners")?,
                    })
                })
                .collect::<Result<Vec<_>, DomainError>>()?;
            Ok(FieldWinner {
                field: text(&item["field"], "winners")?,
                source: contact_id(&item["source"], "winners")?,
                value: text(&item["value"], "winners")?,
                overruled,
            })
        })
        .collect()
}

pub(crate) fn moved_json(moved: &[(ContactChild, u64)]) -> String {
    Value::Object(
        moved
            .iter()
            .map(|(child, count)| (child.as_str().to_owned(), json!(count)))
            .collect(),
    )
    .to_string()
}

fn moved_from_json(text_value: &str) -> Result<Vec<(ContactChild, u64)>, DomainError> {
    let parsed: Value = serde_json::from_str(text_value).map_err(|_| corrupt("moved"))?;
    let counts = parsed.as_object().ok_or_else(|| corrupt("moved"))?;
    // Kinds added after the merge moved nothing.
    Ok(ContactChild::ALL
        .into_iter()
        .map(|child| {
            let count = counts
                .get(child.as_str())
                .and_then(Value::as_u64)
                .unwrap_or(0);
            (child, count)
        })
        .collect())
}

impl MergeRow {
    pub(crate) fn into_domain(self) -> Result<MergeRecord, DomainError> {
        let duplicates: Value =
            serde_json::from_str(&self.duplicate_ids).map_err(|_| corrupt("duplicate list"))?;
        let duplicate_ids = duplicates
            .as_array()
            .ok_or_else(|| corrupt("duplicate list"))?
            .iter()
            .map(|id| contact_id(id, "duplicate list"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MergeRecord {
            id: MergeId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            survivor_id: ContactId::from_uuid(self.survivor_id),
            duplicate_ids,
            merged_by: self.merged_by,
            winners: winners_from_json(&self.winners)?,
            moved: moved_from_json(&self.moved)?,
            create_time: self.create_time,
        })
    }
}
