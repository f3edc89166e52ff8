//! Autovacuum, where the PostgreSQL server under the bench runs without it.
//!
//! Production PostgreSQL runs autovacuum: its ANALYZE refreshes a growing
//! table's statistics and, by doing so, drops the plans that connections
//! cached while the table was small. A server with `autovacuum = off` (this
//! development machine's) keeps those plans forever: a prepared statement
//! planned generically while `conversations` was empty scans it whole for
//! the rest of the run, and a case's last writes cost more than its first
//! for that reason alone. So while the bench runs on such a server, this
//! task does what autovacuum would, with the server's own naptime and
//! thresholds (`autovacuum_naptime`, `autovacuum_vacuum_threshold` and
//! scale factor, the insert ones, `autovacuum_analyze_threshold` and scale
//! factor): every naptime, VACUUM the tables past a vacuum threshold and
//! ANALYZE those past the analyze threshold.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database as Connect, DatabaseConnection, Statement};

/// The emulation, stopped when dropped.
pub struct Autovacuum {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Autovacuum {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What each table needs, by the server's thresholds.
const DUE: &str = "SELECT s.relname AS name, \
     (s.n_dead_tup > current_setting('autovacuum_vacuum_threshold')::float8 \
        + current_setting('autovacuum_vacuum_scale_factor')::float8 * greatest(c.reltuples, 0) \
      OR s.n_ins_since_vacuum > current_setting('autovacuum_vacuum_insert_threshold')::float8 \
        + current_setting('autovacuum_vacuum_insert_scale_factor')::float8 * greatest(c.reltuples, 0)) \
       AS vacuum, \
     s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8 \
        + current_setting('autovacuum_analyze_scale_factor')::float8 * greatest(c.reltuples, 0) \
       AS analyze \
     FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
     WHERE s.schemaname = current_schema()";

/// Starts the emulation on the database at `url` when its server runs
/// without autovacuum; `None` when the server runs it (nothing to do).
pub async fn start(url: &str) -> Result<Option<Autovacuum>, String> {
    let db = Connect::connect(url)
        .await
        .map_err(|error| error.to_string())?;
    // `pg_settings.setting` is plain text in the setting's base unit
    // (seconds for the naptime), whatever unit the configuration used.
    let setting = |name: &'static str| {
        let db = db.clone();
        async move {
            db.query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT setting FROM pg_settings WHERE name = '{name}'"),
            ))
            .await
            .map_err(|error| error.to_string())?
            .ok_or_else(|| format!("{name}: no such setting"))?
            .try_get::<String>("", "setting")
            .map_err(|error| error.to_string())
        }
    };
    if setting("autovacuum").await? == "on" {
        let _ = db.close().await;
        return Ok(None);
    }
    let naptime = setting("autovacuum_naptime").await?;
    let seconds = naptime
        .parse::<u64>()
        .map_err(|_| format!("autovacuum_naptime {naptime:?} is not in seconds"))?
        .max(1);
    println!(
        "autovacuum is off on this server: the bench vacuums and analyses changed tables as it would (every {seconds}s, by its thresholds)"
    );
    let task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(seconds));
        // A round that outlasts the naptime starts the next one a naptime
        // later, as autovacuum's launcher would, not at once.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(error) = round(&db).await {
                eprintln!("crm-bench: autovacuum emulation: {error}");
            }
        }
    });
    Ok(Some(Autovacuum { task }))
}

async fn round(db: &DatabaseConnection) -> Result<(), String> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), DUE))
        .await
        .map_err(|error| error.to_string())?;
    for row in rows {
        let name: String = row.try_get("", "name").map_err(|e| e.to_string())?;
        let vacuum: bool = row.try_get("", "vacuum").map_err(|e| e.to_string())?;
        let analyze: bool = row.try_get("", "analyze").map_err(|e| e.to_string())?;
        let command = match (vacuum, analyze) {
            (true, true) => "VACUUM (ANALYZE)",
            (true, false) => "VACUUM",
            (false, true) => "ANALYZE",
            (false, false) => continue,
        };
        db.execute_unprepared(&format!("{command} \"{name}\""))
            .await
            .map_err(|error| format!("{command} {name}: {error}"))?;
    }
    Ok(())
}
