//! `not_duplicates`: pairs of contacts operators marked as different people.

use sea_orm::FromQueryResult;
use uuid::Uuid;

/// One marked pair, smaller id first.
#[derive(Debug, FromQueryResult)]
pub(crate) struct PairRow {
    pub contact_a: Uuid,
    pub contact_b: Uuid,
}
