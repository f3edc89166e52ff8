//! Start-up passes that bring rows written before a migration up to date
//! (a folded name, keyed custom values): a batch per transaction until the
//! pass's partial index finds none, so a database with none left costs one
//! probe of an empty index.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, TransactionTrait};

use crate::dialect::Backend;
use crate::sql::Sql;

/// How many rows one batch re-writes.
const BATCH: i64 = 500;

/// Reads up to [`BATCH`] rows with `select` (a `SELECT ... WHERE <pending>`
/// without its limit), writes each with the statement `update` makes of it,
/// commits, and goes on until `select` finds none. Returns how many rows it
/// wrote.
///
/// # Errors
/// The driver's, and `update`'s.
pub(crate) async fn in_batches<R: FromQueryResult>(
    db: &DatabaseConnection,
    backend: Backend,
    select: &str,
    update: impl Fn(R) -> Result<Sql, DbErr>,
) -> Result<u64, DbErr> {
    let mut written = 0;
    loop {
        let mut batch = Sql::new(select);
        batch.push(" LIMIT ").bind(BATCH);
        let rows = db.query_all_raw(batch.build(backend.db_backend())).await?;
        if rows.is_empty() {
            return Ok(written);
        }
        let transaction = db.begin().await?;
        for row in rows {
            let statement = update(R::from_query_result(&row, "")?)?;
            transaction
                .execute_raw(statement.build(backend.db_backend()))
                .await?;
            written += 1;
        }
        transaction.commit().await?;
    }
}
