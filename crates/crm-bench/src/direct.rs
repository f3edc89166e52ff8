//! The ceiling: the same lookup-or-create done directly in SQL over one
//! sqlx pool (16 connections, no ping on acquire), measured in the same run
//! as the service: a look-up and, for a new sender, on PostgreSQL one
//! statement that creates it (or finds it, had it been created meanwhile),
//! on SQLite, which has no data-modifying CTEs, one IMMEDIATE transaction.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::{self, Row};

use crate::Backend;
use crate::load::{self, Call, Measurement, Run, Sender};

/// A sender's look-up, on both backends.
const LOOKUP: &str =
    "SELECT contact_id FROM contact_identities WHERE tenant_id = $1 AND kind = $2 AND value = $3";

/// A new sender on PostgreSQL: the contact and its address in one statement
/// (a sender created meanwhile is found instead).
const POSTGRES_RESOLVE: &str = "\
WITH found AS (
    SELECT contact_id FROM contact_identities WHERE tenant_id = $1 AND kind = $2 AND value = $3
), new_contact AS (
    INSERT INTO contacts (tenant_id, id, display_name, city, country, language, avatar_url, blocked,
        lifecycle_stage, version, create_time, update_time)
    SELECT $1, $4, $3, '', '', '', '', false, 'prospect', 1, now(), now()
    WHERE NOT EXISTS (SELECT 1 FROM found)
    RETURNING id
), new_identity AS (
    INSERT INTO contact_identities (tenant_id, kind, value, contact_id, raw_value, is_primary, create_time)
    SELECT $1, $2, $3, id, $3, true, now() FROM new_contact
    ON CONFLICT DO NOTHING
    RETURNING contact_id
)
SELECT contact_id FROM found UNION ALL SELECT contact_id FROM new_identity";

/// Drives the direct-SQL resolve at the run's concurrency.
pub async fn drive(
    url: &str,
    backend: Backend,
    tenant: uuid::Uuid,
    run: &Run,
) -> Result<Measurement, String> {
    match backend {
        Backend::Postgres => {
            let pool = Arc::new(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(16)
                    .test_before_acquire(false)
                    .connect(url)
                    .await
                    .map_err(|error| error.to_string())?,
            );
            let measured = load::drive(run, |_| {
                let pool = pool.clone();
                async move {
                    Ok(move |sender: Sender| {
                        let pool = pool.clone();
                        Box::pin(async move {
                            let (kind, value) = sender.key();
                            // A known sender is one plain look-up, as in the
                            // service. The create statement's inserts would
                            // fire the statement triggers even when they
                            // insert nothing (about half the statement's
                            // cost), which no sender that is known pays.
                            let found = sqlx::query(LOOKUP)
                                .bind(tenant)
                                .bind(kind)
                                .bind(&value)
                                .fetch_optional(pool.as_ref())
                                .await
                                .map_err(|error| error.to_string())?;
                            if found.is_some() {
                                return Ok(());
                            }
                            let row = sqlx::query(POSTGRES_RESOLVE)
                                .bind(tenant)
                                .bind(kind)
                                .bind(value)
                                .bind(uuid::Uuid::now_v7())
                                .fetch_optional(pool.as_ref())
                                .await
                                .map_err(|error| error.to_string())?;
                            row.map(|_| ()).ok_or_else(|| "no contact".to_owned())
                        }) as Call
                    })
                }
            })
            .await;
            pool.close().await;
            measured
        }
        Backend::Sqlite => {
            let options = url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .map_err(|error| error.to_string())?
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10));
            let pool = Arc::new(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(16)
                    .test_before_acquire(false)
                    .connect_with(options)
                    .await
                    .map_err(|error| error.to_string())?,
            );
            let measured = load::drive(run, |_| {
                let pool = pool.clone();
                async move {
                    Ok(move |sender: Sender| {
                        let pool = pool.clone();
                        Box::pin(async move { sqlite_resolve(&pool, tenant, &sender).await })
                            as Call
                    })
                }
            })
            .await;
            pool.close().await;
            measured
        }
    }
}

async fn sqlite_resolve(
    pool: &sqlx::SqlitePool,
    tenant: uuid::Uuid,
    sender: &Sender,
) -> Result<(), String> {
    let (kind, value) = sender.key();
    let found = sqlx::query(LOOKUP)
        .bind(tenant)
        .bind(kind)
        .bind(&value)
        .fetch_optional(pool)
        .await
        .map_err(|error| error.to_string())?;
    if let Some(row) = found {
        let _: uuid::Uuid = row.try_get(0).map_err(|error| error.to_string())?;
        return Ok(());
    }
    let mut connection = pool.acquire().await.map_err(|error| error.to_string())?;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *connection)
        .await
        .map_err(|error| error.to_string())?;
    let id = uuid::Uuid::now_v7();
    let now = time::OffsetDateTime::now_utc();
    let outcome = async {
        sqlx::query(
            "INSERT INTO contacts (tenant_id, id, display_name, city, country, language, avatar_url, blocked, \
             lifecycle_stage, version, create_time, update_time) VALUES ($1, $2, $3, '', '', '', '', 0, 'prospect', 1, $4, $4)",
        )
        .bind(tenant)
        .bind(id)
        .bind(&value)
        .bind(now)
        .execute(&mut *connection)
        .await?;
        sqlx::query(
            "INSERT INTO contact_identities (tenant_id, kind, value, contact_id, raw_value, is_primary, create_time) \
             VALUES ($1, $2, $3, $4, $3, 1, $5) ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(kind)
        .bind(&value)
        .bind(id)
        .bind(now)
        .execute(&mut *connection)
        .await
    }
    .await;
    let finish = if outcome.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    sqlx::query(finish)
        .execute(&mut *connection)
        .await
        .map_err(|error| error.to_string())?;
    outcome.map(|_| ()).map_err(|error| error.to_string())
}
