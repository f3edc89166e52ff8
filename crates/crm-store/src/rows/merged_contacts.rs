//! `merged_contacts`: the tombstone a merged-away contact leaves, naming
//! its survivor (one hop: chains are re-pointed on each merge).

use sea_orm::FromQueryResult;
use uuid::Uuid;

/// The survivor a tombstone names.
#[derive(Debug, FromQueryResult)]
pub(crate) struct SurvivorRow {
    pub survivor_id: Uuid,
}
