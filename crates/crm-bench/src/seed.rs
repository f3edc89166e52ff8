//! A fresh database per run, seeded with set-based SQL: contact `i` holds
//! the email `user{i}@bench.example` and the phone `+1 650 2xx xxxx`, a
//! plan (custom field `plan`: pro when `i % 4` is 0, team when 1, else
//! free) and, every tenth, the tag `vip`.

use sea_orm::{ConnectionTrait, Database as Connect, DbBackend, Statement, Value};

use crate::Backend;

/// A database created for one run.
pub struct Database {
    pub url: String,
    backend: Backend,
    admin_url: String,
    name: String,
}

impl Database {
    /// Creates an empty database.
    pub async fn create(backend: Backend, admin_url: &str) -> Result<Database, String> {
        let name = format!("crm_bench_{}", uuid::Uuid::now_v7().simple());
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.sqlite3"));
                Ok(Database {
                    url: format!("sqlite://{}", path.display()),
                    backend,
                    admin_url: admin_url.to_owned(),
                    name: path.display().to_string(),
                })
            }
            Backend::Postgres => {
                let admin = Connect::connect(admin_url)
                    .await
                    .map_err(|error| format!("PostgreSQL unreachable at {admin_url}: {error}"))?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .map_err(|error| error.to_string())?;
                let _ = admin.close().await;
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url, |(base, _)| base);
                Ok(Database {
                    url: format!("{base}/{name}"),
                    backend,
                    admin_url: admin_url.to_owned(),
                    name,
                })
            }
        }
    }

    /// Drops it.
    pub async fn drop_database(self) {
        match self.backend {
            Backend::Sqlite => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.name));
                }
            }
            Backend::Postgres => {
                if let Ok(admin) = Connect::connect(&self.admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                            self.name
                        ))
                        .await;
                }
            }
        }
    }
}

/// Inserts `count` contacts with two identities each for `tenant`.
/// The seed's first and last names, as SQL `VALUES` rows `(n, 'Name')`:
/// ASCII only, so `lower()` folds them as the store does, and common enough
/// that a search for a first name is a common term (1 contact in 40).
const FIRST_NAMES: &str = "(0, 'Maria'), (1, 'Jose'), (2, 'Ana'), (3, 'Joao'), (4, 'Francisca'), \
    (5, 'Antonio'), (6, 'Adriana'), (7, 'Carlos'), (8, 'Juliana'), (9, 'Paulo'), (10, 'Marcia'), \
    (11, 'Pedro'), (12, 'Fernanda'), (13, 'Lucas'), (14, 'Patricia'), (15, 'Luiz'), (16, 'Aline'), \
    (17, 'Marcos'), (18, 'Sandra'), (19, 'Rafael'), (20, 'Camila'), (21, 'Daniel'), (22, 'Amanda'), \
    (23, 'Bruno'), (24, 'Bruna'), (25, 'Eduardo'), (26, 'Leticia'), (27, 'Felipe'), (28, 'Kenji'), \
    (29, 'Aiko'), (30, 'Olivia'), (31, 'Liam'), (32, 'Emma'), (33, 'Noah'), (34, 'Sofia'), \
    (35, 'Mateo'), (36, 'Chloe'), (37, 'Hugo'), (38, 'Ingrid'), (39, 'Sven')";
const LAST_NAMES: &str = "(0, 'Silva'), (1, 'Santos'), (2, 'Oliveira'), (3, 'Souza'), (4, 'Rodrigues'), \
    (5, 'Ferreira'), (6, 'Alves'), (7, 'Pereira'), (8, 'Lima'), (9, 'Gomes'), (10, 'Costa'), \
    (11, 'Ribeiro'), (12, 'Martins'), (13, 'Carvalho'), (14, 'Almeida'), (15, 'Lopes'), \
    (16, 'Soares'), (17, 'Fernandes'), (18, 'Vieira'), (19, 'Barbosa'), (20, 'Rocha'), \
    (21, 'Dias'), (22, 'Nascimento'), (23, 'Andrade'), (24, 'Moreira'), (25, 'Nunes'), \
    (26, 'Marques'), (27, 'Machado'), (28, 'Mendes'), (29, 'Freitas'), (30, 'Tanaka'), \
    (31, 'Smith'), (32, 'Johnson'), (33, 'Garcia'), (34, 'Muller'), (35, 'Dubois'), \
    (36, 'Rossi'), (37, 'Novak'), (38, 'Larsen'), (39, 'Kowalski')";

fn count_of(rows: &str) -> usize {
    rows.matches('(').count()
}

/// The names of `rows` (`(n, 'Name'), ...`), in order.
fn names_of(rows: &'static str) -> Vec<&'static str> {
    rows.split('\'').skip(1).step_by(2).collect()
}

/// The seed's first names, in the order `i % count` picks them.
pub fn first_names() -> Vec<&'static str> {
    names_of(FIRST_NAMES)
}

/// The seed's last names, in the order `(i / first names) % count` picks them.
pub fn last_names() -> Vec<&'static str> {
    names_of(LAST_NAMES)
}

pub async fn seed(
    url: &str,
    backend: Backend,
    tenant: uuid::Uuid,
    count: u64,
) -> Result<(), String> {
    let db = Connect::connect(url)
        .await
        .map_err(|error| error.to_string())?;
    let now = Value::from(time::OffsetDateTime::now_utc());
    let (db_backend, numbers, id) = match backend {
        Backend::Postgres => (
            DbBackend::Postgres,
            "SELECT i FROM generate_series(1, $2::bigint) AS i",
            "lpad(to_hex(i), 32, '0')::uuid",
        ),
        Backend::Sqlite => (
            DbBackend::Sqlite,
            "SELECT i FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) SELECT i FROM n)",
            "unhex(printf('%032x', i))",
        ),
    };
    // Every contact's plan, as the store writes a single-select value with
    // its sort key (the triggers index it): `i % 4` 0 pro, 1 team, else free.
    let plan = "'{\"plan\":{\"t\":\"single_select\",\"v\":\"' || p.column2 || '\",\"k\":[\"' || p.column2 || '\"]}}'";
    let plan = format!(
        "(SELECT {plan} FROM (VALUES (0, 'pro'), (1, 'team'), (2, 'free'), (3, 'free')) p WHERE p.column1 = i % 4)"
    );
    let statements = [
        format!(
            "INSERT INTO contacts (tenant_id, id, display_name, search_name, city, country, language, \
             avatar_url, blocked, lifecycle_stage, custom_values, create_request_id, version, create_time, update_time) \
             SELECT $1, {id}, f.column2 || ' ' || l.column2, lower(f.column2 || ' ' || l.column2), \
             '', '', '', '', false, 'prospect', {plan}, NULL, 1, $3, $3 \
             FROM ({numbers}) AS numbers \
             JOIN (VALUES {FIRST_NAMES}) f ON f.column1 = i % {first_count} \
             JOIN (VALUES {LAST_NAMES}) l ON l.column1 = (i / {first_count}) % {last_count}",
            first_count = count_of(FIRST_NAMES),
            last_count = count_of(LAST_NAMES),
        ),
        format!(
            "INSERT INTO contact_tags (tenant_id, contact_id, tag) \
             SELECT $1, {id}, 'vip' FROM ({numbers}) AS numbers WHERE i % 10 = 0 AND $3 IS NOT NULL"
        ),
        format!(
            "INSERT INTO contact_identities (tenant_id, kind, value, contact_id, raw_value, is_primary, create_time) \
             SELECT $1, 'email', 'user' || i || '@bench.example', {id}, 'user' || i || '@bench.example', true, $3 \
             FROM ({numbers}) AS numbers"
        ),
        format!(
            "INSERT INTO contact_identities (tenant_id, kind, value, contact_id, raw_value, is_primary, create_time) \
             SELECT $1, 'phone', '+1650' || (2000000 + i), {id}, '+1650' || (2000000 + i), true, $3 \
             FROM ({numbers}) AS numbers"
        ),
    ];
    for sql in statements {
        let count = i64::try_from(count).map_err(|error| error.to_string())?;
        db.execute_raw(Statement::from_sql_and_values(
            db_backend,
            sql,
            [Value::from(tenant), Value::from(count), now.clone()],
        ))
        .await
        .map_err(|error| format!("seeding failed: {error}"))?;
    }
    // PostgreSQL plans from statistics, which autovacuum would gather later;
    // gather them now. SQLite is left alone, as crmd leaves it: with STAT4
    // statistics (the bundled SQLite has them), SQLite re-plans every
    // parameterised statement on each new set of bound values, which costs
    // the hot path more than the plans gain.
    // VACUUM too: a production table has its visibility map set by
    // autovacuum, which index-only scans (the filter case's) rely on.
    if backend == Backend::Postgres {
        db.execute_unprepared("VACUUM ANALYZE")
            .await
            .map_err(|error| error.to_string())?;
    }
    let _ = db.close().await;
    Ok(())
}

/// PostgreSQL: vacuums and analyses the database, as autovacuum would in
/// time. Taking the seed into the duplicate index leaves millions of dead
/// rows (each queued contact is written, bumped and removed); without this
/// autovacuum works through them during the next cases and slows them.
pub async fn vacuum(url: &str, backend: Backend) -> Result<(), String> {
    if backend != Backend::Postgres {
        return Ok(());
    }
    let db = Connect::connect(url)
        .await
        .map_err(|error| error.to_string())?;
    db.execute_unprepared("VACUUM ANALYZE")
        .await
        .map_err(|error| error.to_string())?;
    let _ = db.close().await;
    Ok(())
}
