//! Contact search (see `m0011_search` for the indexes).
//!
//! One statement finds the candidates of every source, each source capped
//! before anything is ordered: a common term ("maria", "gmail") never makes
//! the planner walk a btree in order while it filters, which costs seconds
//! on a million contacts. The one ordered source, names by prefix, reads
//! the `(tenant_id, search_name)` btree in its own order. The domain then
//! ranks the candidates and one more statement reads the page's contacts.

use crm_domain::contacts::Contact;
use crm_domain::search::{
    Candidate, Candidates, SearchQuery, SearchRepository, Shape, Source, SourceScope,
};
use crm_domain::{ContactId, DomainError, TenantId};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult};
use uuid::Uuid;

use crate::dialect::Backend;
use crate::pools::Pools;
use crate::sql::Sql;

/// Most organizations whose members one search lists.
const ORGANIZATIONS_PER_SEARCH: usize = 20;

/// The search repository.
#[derive(Debug, Clone)]
pub struct SeaSearchRepository {
    pub(crate) pools: Pools,
}

#[derive(Debug, FromQueryResult)]
struct CandidateRow {
    id: Uuid,
    search_name: Option<String>,
    source: i64,
    /// How many matches the row's source counted (0: as many as it lists).
    counted: i64,
}

const SOURCES: [Source; 7] = [
    Source::ExactAddress,
    Source::NamePrefix,
    Source::NameInfix,
    Source::AddressInfix,
    Source::PhoneDigits,
    Source::Organization,
    Source::EmailDomain,
];

/// A source's number as an SQL literal of the type the row reads.
fn code(source: Source) -> String {
    let number = SOURCES
        .iter()
        .position(|known| *known == source)
        .unwrap_or(0);
    format!("CAST({number} AS BIGINT)")
}

/// `text` as a LIKE pattern that matches it anywhere (`%`, `_` and `\`
/// escaped; the statement says `ESCAPE '\'`).
fn infix_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `text` as an FTS5 phrase: with the trigram tokenizer, a substring match.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Whether `text` is long enough for a trigram index.
fn trigram_ready(text: &str) -> bool {
    text.chars().count() >= crm_domain::search::MIN_INFIX_CHARS
}

/// Appends the head of a source over `contact_identities m`, up to its
/// tenant's value: `SELECT m.contact_id AS id, <name>, <source> AS source
/// FROM ... WHERE m.tenant_id = `. On PostgreSQL the source reads each
/// candidate's name itself (a join of every candidate back to its contact
/// afterwards cost more than the sources); on SQLite the name comes from
/// one join at the end, which its planner runs faster (3 ms against 33 ms
/// for "maria si" on 100k contacts).
fn push_identity_source(sql: &mut Sql, backend: Backend, source: Source) {
    match backend {
        Backend::Postgres => sql
            .push("SELECT m.contact_id AS id, c2.search_name, ")
            .push(&code(source))
            .push(
                " AS source FROM contact_identities m CROSS JOIN contacts c2 \
                 WHERE c2.tenant_id = m.tenant_id AND c2.id = m.contact_id AND m.tenant_id = ",
            ),
        Backend::Sqlite => sql
            .push("SELECT m.contact_id AS id, NULL AS search_name, ")
            .push(&code(source))
            .push(" AS source FROM contact_identities m WHERE m.tenant_id = "),
    };
}

/// The head of a source over `contacts` itself, up to its tenant's value;
/// the name as [`push_identity_source`] reads it.
fn push_contact_source(sql: &mut Sql, backend: Backend, source: Source) {
    sql.push(match backend {
        Backend::Postgres => "SELECT id, search_name, ",
        Backend::Sqlite => "SELECT id, NULL AS search_name, ",
    })
    .push(&code(source))
    .push(" AS source FROM contacts WHERE tenant_id = ");
}

/// Appends one infix source over the identity index (PostgreSQL: trigram
/// GIN on `value`; SQLite: the FTS5 documents), limited to `phone` numbers
/// when `phones_only`.
fn push_address_infix(
    sql: &mut Sql,
    backend: Backend,
    tenant: Uuid,
    text: &str,
    source: Source,
    phones_only: bool,
) {
    match backend {
        Backend::Postgres => {
            push_identity_source(sql, backend, source);
            sql.bind(tenant);
            if phones_only {
                sql.push(" AND m.kind = 'phone' AND m.value LIKE ");
            } else {
                sql.push(" AND m.value ILIKE ");
            }
            sql.bind(infix_pattern(text)).push(" ESCAPE '\\'");
        }
        Backend::Sqlite => {
            sql.push("SELECT d.contact_id AS id, NULL AS search_name, ")
                .push(&code(source))
                .push(
                    " AS source FROM contact_search_addresses f CROSS JOIN contact_search_docs d \
                     WHERE contact_search_addresses MATCH ",
                )
                .bind(fts_phrase(text))
                .push(" AND d.rowid = f.rowid AND d.tenant_id = ")
                .bind(tenant)
                .push(if phones_only {
                    " AND d.kind = 'phone'"
                } else {
                    " AND d.kind <> ''"
                });
        }
    }
}

/// The statement that finds the candidates of the sources in `scope` (see
/// the module documentation), and whether sources that apply to the query
/// were left out; no statement when no source applies (an email that is no
/// address, too short to look for in part). Which sources apply depends
/// on the query's shape: an address goes to the address indexes only, so
/// a query that shares its common part with a million addresses never
/// walks their trigrams.
pub(crate) fn candidates_sql(
    backend: Backend,
    tenant: TenantId,
    query: &SearchQuery,
    cap: usize,
    scope: SourceScope,
) -> (Option<Sql>, bool) {
    let tenant = tenant.as_uuid();
    let mut left_out = false;
    // Whether a source that is not a leading one runs; notes it when not.
    let mut trailing = |applies: bool| {
        let run = applies && scope == SourceScope::All;
        left_out |= applies && !run;
        run
    };
    let cap = i64::try_from(cap).unwrap_or(i64::MAX);
    let mut sql = Sql::new(if backend == Backend::Postgres {
        "SELECT id, search_name, source, counted FROM ("
    } else {
        "SELECT s.id, c.search_name, s.source, s.counted FROM ("
    });
    let mut sources = Sources {
        sql: &mut sql,
        cap,
        count: 0,
    };
    let textual = matches!(query.shape, Shape::Text | Shape::Domain);
    if let (true, SourceScope::Leading { wanted }) = (textual, scope) {
        // Names by prefix, counted up to the cap but only the first
        // `wanted` (by name, then id) listed: a page of 20 needs 20 rows,
        // not the thousand a common prefix has.
        let wanted = i64::try_from(wanted).unwrap_or(i64::MAX);
        sources.open_counted();
        sources
            .sql
            .push(
                "SELECT id, search_name, CAST(1 AS BIGINT) AS source, counted FROM (\
                 SELECT p.id, p.search_name, count(*) OVER () AS counted FROM (\
                 SELECT id, search_name FROM contacts WHERE tenant_id = ",
            )
            .bind(tenant)
            .push(" AND search_name >= ")
            .bind(query.name.clone())
            .push(" AND search_name < ")
            .bind(format!("{}\u{10FFFF}", query.name))
            .push(" ORDER BY search_name LIMIT ")
            .bind(cap)
            .push(") p ORDER BY p.search_name, p.id LIMIT ")
            .bind(wanted)
            .push(") q");
        sources.close();
    } else if textual {
        // Names by prefix, in name order, so even a one-letter query lists
        // the names it starts.
        sources.open();
        push_contact_source(sources.sql, backend, Source::NamePrefix);
        sources
            .sql
            .bind(tenant)
            .push(" AND search_name >= ")
            .bind(query.name.clone())
            .push(" AND search_name < ")
            .bind(format!("{}\u{10FFFF}", query.name))
            .push(" ORDER BY search_name");
        sources.close();
    }
    if !query.exact.is_empty() {
        sources.open();
        push_identity_source(sources.sql, backend, Source::ExactAddress);
        sources
            .sql
            .bind(tenant)
            .push(" AND ")
            .key_values("m", &query.exact);
        sources.close();
    }
    if trailing(textual && query.infix() && trigram_ready(&query.name)) {
        sources.open();
        push_name_infix(sources.sql, backend, tenant, &query.name);
        sources.close();
    }
    if let Some(domain) = query.domain.as_ref().filter(|_| trailing(true)) {
        sources.open();
        push_identity_source(sources.sql, backend, Source::EmailDomain);
        sources
            .sql
            .bind(tenant)
            .push(" AND m.kind = 'email' AND ")
            .push(&backend.email_domain_of("m.value"))
            .push(" = ")
            .bind(domain.clone());
        sources.close();
    }
    let address_infix = match query.shape {
        Shape::Text | Shape::Domain => true,
        Shape::Email => query.exact.is_empty(),
        Shape::Phone => false,
    };
    if trailing(address_infix && query.infix() && trigram_ready(&query.address)) {
        sources.open();
        push_address_infix(
            sources.sql,
            backend,
            tenant,
            &query.address,
            Source::AddressInfix,
            false,
        );
        if let Some(domain) = &query.domain {
            // A domain some email is at is found by the domain index; its
            // trigrams may be common to every address on file.
            sources
                .sql
                .push(" AND NOT EXISTS (SELECT 1 FROM contact_identities x WHERE x.tenant_id = ")
                .bind(tenant)
                .push(" AND x.kind = 'email' AND ")
                .push(&backend.email_domain_of("x.value"))
                .push(" = ")
                .bind(domain.clone())
                .push(")");
        }
        sources.close();
    }
    if trailing(textual && query.infix() && trigram_ready(&query.address)) {
        sources.open();
        push_contact_source(sources.sql, backend, Source::Organization);
        sources
            .sql
            .bind(tenant)
            .push(" AND organization_id IN (SELECT o.id FROM organizations o WHERE o.tenant_id = ")
            .bind(tenant)
            .push(" AND (lower(o.name) LIKE ")
            .bind(infix_pattern(&query.address))
            .push(
                " ESCAPE '\\' OR EXISTS (SELECT 1 FROM organization_domains od \
                 WHERE od.tenant_id = o.tenant_id AND od.organization_id = o.id AND od.domain LIKE ",
            )
            .bind(infix_pattern(&query.address))
            .push(" ESCAPE '\\')) LIMIT ")
            .bind(i64::try_from(ORGANIZATIONS_PER_SEARCH).unwrap_or(i64::MAX))
            .push(")");
        sources.close();
    }
    if let Some(digits) = query
        .digits
        .as_ref()
        .filter(|digits| trailing(trigram_ready(digits)))
    {
        sources.open();
        push_address_infix(
            sources.sql,
            backend,
            tenant,
            digits,
            Source::PhoneDigits,
            true,
        );
        sources.close();
    }
    if sources.count == 0 {
        return (None, left_out);
    }
    sql.push(") s");
    if backend == Backend::Sqlite {
        sql.push(" CROSS JOIN contacts c WHERE c.tenant_id = ")
            .bind(tenant)
            .push(" AND c.id = s.id");
    }
    (Some(sql), left_out)
}

/// The capped sources of one statement, joined by `UNION ALL`.
struct Sources<'a> {
    sql: &'a mut Sql,
    cap: i64,
    count: usize,
}

impl Sources<'_> {
    /// Opens a source that lists every match it counts (`counted` 0).
    fn open(&mut self) {
        self.open_with("CAST(0 AS BIGINT) AS counted");
    }

    /// Opens a source whose rows carry its own count (`counted`).
    fn open_counted(&mut self) {
        self.open_with("counted");
    }

    /// `SELECT id, search_name, source, <counted> FROM (`, after a
    /// `UNION ALL` past the first source.
    fn open_with(&mut self, counted: &str) {
        if self.count > 0 {
            self.sql.push(" UNION ALL ");
        }
        self.sql
            .push("SELECT id, search_name, source, ")
            .push(counted)
            .push(" FROM (");
    }

    /// Closes a source with its cap.
    fn close(&mut self) {
        self.sql
            .push(" LIMIT ")
            .bind(self.cap)
            .push(&format!(") b{}", self.count));
        self.count += 1;
    }
}

/// Appends the name infix source: PostgreSQL's trigram index over
/// `search_name`, or SQLite's FTS5 documents of kind '' (names).
fn push_name_infix(sql: &mut Sql, backend: Backend, tenant: Uuid, name: &str) {
    match backend {
        Backend::Postgres => {
            push_contact_source(sql, backend, Source::NameInfix);
            sql.bind(tenant)
                .push(" AND search_name LIKE ")
                .bind(infix_pattern(name))
                .push(" ESCAPE '\\'");
        }
        Backend::Sqlite => {
            sql.push("SELECT d.contact_id AS id, NULL AS search_name, ")
                .push(&code(Source::NameInfix))
                .push(
                    " AS source FROM contact_search_names f CROSS JOIN contact_search_docs d \
                     WHERE contact_search_names MATCH ",
                )
                .bind(fts_phrase(name))
                .push(" AND d.rowid = f.rowid AND d.tenant_id = ")
                .bind(tenant)
                .push(" AND d.kind = ''");
        }
    }
}

/// The planner settings of a search statement, pinned to indexes.
/// PostgreSQL's planner, seeing a `LIMIT` over a term it estimates common,
/// prefers a sequential scan that stops at the limit, and a hash join over
/// every contact of the tenant: fast while the estimate holds, a walk of
/// the whole table when it does not (a rare term with a common trigram).
/// Turned off, the plan's cost is bounded by the caps. SQLite plans the
/// FTS5 and index look-ups by rule and needs nothing.
const NO_SCANS: &str = "SET LOCAL enable_seqscan = off";

#[async_trait::async_trait]
impl SearchRepository for SeaSearchRepository {
    async fn candidates(
        &self,
        tenant: TenantId,
        query: &SearchQuery,
        cap: usize,
        scope: SourceScope,
    ) -> Result<Candidates, DomainError> {
        let backend = self.pools.backend;
        let (sql, partial) = candidates_sql(backend, tenant, query, cap, scope);
        let Some(sql) = sql else {
            return Ok(Candidates {
                partial,
                ..Candidates::default()
            });
        };
        let statement = sql.build(backend.db_backend());
        // The leading sources read btrees in order under a limit, which the
        // planner never trades for a scan (a test reads their plan): one
        // round trip instead of the four a pinned statement costs.
        let rows = match scope {
            SourceScope::Leading { .. } => self.pools.db.query_all_raw(statement).await,
            SourceScope::All => {
                self.pools
                    .db
                    .query_pinned(backend, NO_SCANS, statement)
                    .await
            }
        }
        .map_err(crate::error::storage)?
        .iter()
        .map(|row| CandidateRow::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()
        .map_err(crate::error::storage)?;
        // Rows listed, and matches counted, per source.
        let mut per_source = [0usize; SOURCES.len()];
        let mut counted = [0usize; SOURCES.len()];
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(index) = usize::try_from(row.source)
                .ok()
                .filter(|index| *index < SOURCES.len())
            else {
                continue;
            };
            let source = &SOURCES[index];
            per_source[index] += 1;
            counted[index] = counted[index].max(usize::try_from(row.counted).unwrap_or(0));
            found.push(Candidate {
                id: ContactId::from_uuid(row.id),
                name: row.search_name.unwrap_or_default(),
                source: *source,
            });
        }
        let counted: Vec<usize> = per_source
            .iter()
            .zip(counted)
            .map(|(listed, counted)| (*listed).max(counted))
            .collect();
        Ok(Candidates {
            found,
            capped: counted.iter().any(|count| *count >= cap),
            partial,
            counted: counted.into_iter().max().unwrap_or(0),
        })
    }

    async fn contacts(
        &self,
        tenant: TenantId,
        ids: &[ContactId],
    ) -> Result<Vec<Contact>, DomainError> {
        crate::contacts::read_many(&self.pools.db, self.pools.backend, tenant, ids).await
    }
}

#[derive(Debug, FromQueryResult)]
struct PendingRow {
    tenant_id: Uuid,
    id: Uuid,
    display_name: String,
}

/// Writes the folded name of every contact written before search existed
/// (its `search_name` is NULL), found by the `contacts_search_pending`
/// partial index ([`crate::fill`]). Returns how many it wrote.
///
/// # Errors
/// The driver's.
pub(crate) async fn fill_search_names(
    db: &DatabaseConnection,
    backend: Backend,
) -> Result<u64, DbErr> {
    crate::fill::in_batches(
        db,
        backend,
        "SELECT tenant_id, id, display_name FROM contacts WHERE search_name IS NULL",
        |pending: PendingRow| {
            let mut update = Sql::new("UPDATE contacts SET search_name = ");
            update
                .bind(crm_domain::search::fold(&pending.display_name))
                .push(" WHERE tenant_id = ")
                .bind(pending.tenant_id)
                .push(" AND id = ")
                .bind(pending.id);
            Ok(update)
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crm_domain::search::{Candidates, SearchQuery, SearchRepository, Source, SourceScope};
    use crm_domain::{Region, TenantId};
    use sea_orm::{ConnectionTrait, Statement};

    use super::candidates_sql;
    use crate::testing::{BOTH, TestDatabase};
    use crate::{Store, StoreOptions};

    /// Contacts that exist: 40 first names in turn, so "maria" is a common
    /// term (1 contact in 40), each with an email; the statistics a
    /// production database would have.
    const CONTACTS: i64 = 20_000;

    async fn seed(store: &Store, tenant: uuid::Uuid) {
        let search = store.search();
        let db = &search.pools.db;
        let (numbers, id, now) = match store.backend() {
            crate::Backend::Postgres => (
                "SELECT i FROM generate_series(1, $2::bigint) AS i",
                "gen_random_uuid()",
                "now()",
            ),
            crate::Backend::Sqlite => (
                "SELECT i FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) SELECT i FROM n)",
                "randomblob(16)",
                "strftime('%Y-%m-%d %H:%M:%f', 'now')",
            ),
        };
        let names = "(0, 'Maria'), (1, 'Jose'), (2, 'Ana'), (3, 'Joao'), (4, 'Carla'), (5, 'Paulo'), \
             (6, 'Bruna'), (7, 'Lucas'), (8, 'Pedro'), (9, 'Julia')";
        for sql in [
            format!(
                "INSERT INTO contacts (tenant_id, id, display_name, search_name, city, country, language, \
                 avatar_url, blocked, lifecycle_stage, version, create_time, update_time) \
                 SELECT $1, {id}, f.column2 || ' Souza ' || i, lower(f.column2 || ' souza ' || i), \
                 '', '', '', '', false, 'prospect', 1, {now}, {now} \
                 FROM ({numbers}) AS numbers JOIN (VALUES {names}) f ON f.column1 = i % 10"
            ),
            format!(
                "INSERT INTO contact_identities (tenant_id, kind, value, contact_id, raw_value, is_primary, create_time) \
                 SELECT tenant_id, 'email', 'user' || search_name || '@gmail.com', id, '', true, {now} \
                 FROM contacts WHERE tenant_id = $1 AND $2 > 0"
            ),
        ] {
            db.execute_raw(Statement::from_sql_and_values(
                store.backend().db_backend(),
                sql,
                [tenant.into(), CONTACTS.into()],
            ))
            .await
            .unwrap();
        }
        db.execute_unprepared("ANALYZE").await.unwrap();
    }

    /// A fresh database of `backend` with a tenant and its seeded contacts.
    async fn seeded(backend: crate::testing::TestBackend) -> (TestDatabase, Store, TenantId) {
        let database = TestDatabase::create(backend).await;
        let store = Store::connect(&database.url, &StoreOptions::default())
            .await
            .unwrap();
        let tenant = crate::testing::tenant(&store).await.id;
        seed(&store, tenant.as_uuid()).await;
        (database, store, tenant)
    }

    /// How many candidates `source` found.
    fn found_by(found: &Candidates, source: Source) -> usize {
        found
            .found
            .iter()
            .filter(|candidate| candidate.source == source)
            .count()
    }

    /// The plan of the candidates statement for a common term uses an index
    /// for every source: no scan of contacts or their identities, which on a
    /// million contacts costs seconds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_common_term_is_found_through_indexes_never_a_scan() {
        for backend in BOTH {
            let (database, store, tenant) = seeded(backend).await;
            // Every source, pinned as the store runs them; the leading ones
            // (and a two-letter prefix, the commonest) as they run alone,
            // unpinned.
            let leading = SourceScope::Leading { wanted: 20 };
            for (text, scope) in [
                ("maria", SourceScope::All),
                ("maria", leading),
                ("ma", leading),
            ] {
                let query = SearchQuery::parse(text, Region::parse("US").unwrap()).unwrap();
                let sql = candidates_sql(store.backend(), tenant, &query, 1000, scope)
                    .0
                    .unwrap();
                let statement = sql.build(store.backend().db_backend());
                let explain = match store.backend() {
                    crate::Backend::Postgres => "EXPLAIN ",
                    crate::Backend::Sqlite => "EXPLAIN QUERY PLAN ",
                };
                let statement = Statement::from_sql_and_values(
                    statement.db_backend,
                    format!("{explain}{}", statement.sql),
                    statement.values.map(|values| values.0).unwrap_or_default(),
                );
                let db = &store.search().pools.db;
                let plan_rows = match scope {
                    SourceScope::All => db
                        .query_pinned(store.backend(), super::NO_SCANS, statement)
                        .await
                        .unwrap(),
                    SourceScope::Leading { .. } => db.query_all_raw(statement).await.unwrap(),
                };
                let plan: Vec<String> = plan_rows
                    .iter()
                    .map(|row| {
                        row.try_get::<String>("", "QUERY PLAN")
                            .or_else(|_| row.try_get::<String>("", "detail"))
                            .unwrap()
                    })
                    .collect();
                let text = plan.join("\n");
                // PostgreSQL: "Seq Scan on contacts c"; SQLite: "SCAN c" (a
                // SCAN of a subquery's rows or of the FTS index is fine).
                let tables = ["contacts", "contact_identities", "c", "m", "d"];
                for line in &plan {
                    let scanned = line
                        .split("Seq Scan on ")
                        .nth(1)
                        .or_else(|| line.trim_start().strip_prefix("SCAN "))
                        .and_then(|rest| rest.split_whitespace().next());
                    if let Some(table) = scanned {
                        assert!(
                            !tables.contains(&table),
                            "{backend:?} {scope:?}: a scan of {table} in\n{text}"
                        );
                    }
                }
            }
            let query = SearchQuery::parse("maria", Region::parse("US").unwrap()).unwrap();
            // And it finds them, capped: 2,000 Marias (1 in 10), 1,000 listed.
            let found = store
                .search()
                .candidates(tenant, &query, 1000, SourceScope::All)
                .await
                .unwrap();
            assert_eq!(
                found_by(&found, Source::NamePrefix),
                1000,
                "{backend:?}: capped at 1000"
            );
            assert!(found.capped);
            assert!(!found.partial);
            assert!(found_by(&found, Source::NameInfix) > 0, "{backend:?}");
            // The leading sources alone: the btree ones, and a note that the
            // trigram ones were left out.
            let leading = store
                .search()
                .candidates(tenant, &query, 1000, leading)
                .await
                .unwrap();
            assert!(leading.partial, "{backend:?}");
            // The first 20 names listed, in name then id order; 1,000
            // counted (the cap).
            assert_eq!(found_by(&leading, Source::NamePrefix), 20, "{backend:?}");
            assert_eq!(leading.found.len(), 20, "{backend:?}: only name prefixes");
            assert_eq!(
                (leading.counted, leading.capped),
                (1000, true),
                "{backend:?}"
            );
            let names = |found: &Candidates| {
                let mut names: Vec<String> = found
                    .found
                    .iter()
                    .filter(|candidate| candidate.source == Source::NamePrefix)
                    .map(|candidate| candidate.name.clone())
                    .collect();
                names.sort();
                names
            };
            assert_eq!(
                names(&leading),
                names(&found)[..20],
                "{backend:?}: the first 20 names"
            );
            let _ = store.close().await;
            database.drop_database().await;
        }
    }

    /// Contacts written before search existed get their folded name at
    /// start-up, and are found from then on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn names_written_before_search_are_filled_in_at_start_up() {
        for backend in BOTH {
            let (database, store, tenant) = seeded(backend).await;
            store
                .search()
                .pools
                .db
                .execute_unprepared(
                    "UPDATE contacts SET search_name = NULL, display_name = 'José Ünal' \
                     WHERE display_name LIKE 'Julia%'",
                )
                .await
                .unwrap();
            let _ = store.close().await;
            let store = Store::connect(&database.url, &StoreOptions::default())
                .await
                .unwrap();
            let query = SearchQuery::parse("jose unal", Region::parse("US").unwrap()).unwrap();
            let found = store
                .search()
                .candidates(tenant, &query, 5000, SourceScope::All)
                .await
                .unwrap();
            assert_eq!(found_by(&found, Source::NamePrefix), 2000, "{backend:?}");
            let _ = store.close().await;
            database.drop_database().await;
        }
    }

    /// A SQLite file whose documents were written under the one full-text
    /// index of `m0011` keeps every document across `m0020`: names in the
    /// names' index, addresses in the addresses', each found there only,
    /// and both indexes pass FTS5's integrity check.
    #[tokio::test]
    async fn documents_indexed_before_names_and_addresses_were_apart_are_found() {
        use sea_orm_migration::MigratorTrait;
        let database = TestDatabase::create(crate::testing::TestBackend::Sqlite).await;
        let db = sea_orm::Database::connect(format!("{}?mode=rwc", database.url))
            .await
            .unwrap();
        crm_migrations::Migrator::up(&db, Some(19)).await.unwrap();
        db.execute_unprepared(
            "INSERT INTO contact_search_docs (tenant_id, contact_id, kind, text) VALUES \
             (x'01', x'0a', '', 'fernanda souza'), (x'01', x'0a', 'email', 'fern@example.com'), \
             (x'01', x'0b', 'phone', '+5511987654321')",
        )
        .await
        .unwrap();
        crm_migrations::Migrator::up(&db, None).await.unwrap();
        let matches = |index: &'static str, term: &'static str| {
            let db = db.clone();
            async move {
                db.query_one_raw(Statement::from_string(
                    sea_orm::DbBackend::Sqlite,
                    format!("SELECT count(*) AS n FROM {index} WHERE {index} MATCH '\"{term}\"'"),
                ))
                .await
                .unwrap()
                .unwrap()
                .try_get::<i64>("", "n")
                .unwrap()
            }
        };
        assert_eq!(matches("contact_search_names", "erna").await, 1);
        assert_eq!(matches("contact_search_names", "fern").await, 1);
        assert_eq!(matches("contact_search_names", "example").await, 0);
        assert_eq!(matches("contact_search_addresses", "fern").await, 1);
        assert_eq!(matches("contact_search_addresses", "98765").await, 1);
        assert_eq!(matches("contact_search_addresses", "souza").await, 0);
        db.execute_unprepared("UPDATE contact_search_docs SET text = 'ana souza' WHERE kind = ''")
            .await
            .unwrap();
        db.execute_unprepared("DELETE FROM contact_search_docs WHERE kind = 'phone'")
            .await
            .unwrap();
        assert_eq!(matches("contact_search_names", "erna").await, 0);
        assert_eq!(matches("contact_search_names", "ana s").await, 1);
        assert_eq!(matches("contact_search_addresses", "98765").await, 0);
        for index in ["contact_search_names", "contact_search_addresses"] {
            db.execute_unprepared(&format!(
                "INSERT INTO {index} ({index}) VALUES ('integrity-check')"
            ))
            .await
            .unwrap();
        }
        let _ = db.close().await;
        database.drop_database().await;
    }

    /// Contacts renamed many to a statement, in id order and against it,
    /// are found by their new names and no longer by their old ones; on
    /// SQLite the full-text index still holds exactly its documents (FTS5's
    /// own integrity check), each name's document rewritten where it was.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn contacts_renamed_in_bulk_are_found_by_their_new_names_only() {
        for backend in BOTH {
            let (database, store, tenant) = seeded(backend).await;
            let db = &store.search().pools.db;
            for rename in [
                // Every Maria, one statement, in id order.
                "UPDATE contacts SET display_name = 'Quixote ' || display_name, \
                 search_name = 'quixote ' || search_name WHERE display_name LIKE 'Maria%'",
                // Every Ana, against id order.
                "UPDATE contacts SET display_name = 'Zorba', search_name = 'zorba' \
                 WHERE id IN (SELECT id FROM contacts WHERE display_name LIKE 'Ana%' \
                 ORDER BY id DESC)",
            ] {
                db.execute_unprepared(rename).await.unwrap();
            }
            let found = |text: &'static str| {
                let store = store.clone();
                async move {
                    let query = SearchQuery::parse(text, Region::parse("US").unwrap()).unwrap();
                    store
                        .search()
                        .candidates(tenant, &query, 5000, SourceScope::All)
                        .await
                        .unwrap()
                }
            };
            let quixote = found("quixote maria").await;
            assert_eq!(found_by(&quixote, Source::NamePrefix), 2000, "{backend:?}");
            let zorba = found("zorba").await;
            assert_eq!(found_by(&zorba, Source::NamePrefix), 2000, "{backend:?}");
            let ana = found("ana souza").await;
            assert_eq!(found_by(&ana, Source::NamePrefix), 0, "{backend:?}");
            assert_eq!(found_by(&ana, Source::NameInfix), 0, "{backend:?}");
            if store.backend() == crate::Backend::Sqlite {
                for index in ["contact_search_names", "contact_search_addresses"] {
                    db.execute_unprepared(&format!(
                        "INSERT INTO {index} ({index}) VALUES ('integrity-check')"
                    ))
                    .await
                    .unwrap();
                }
                let documents = db
                    .query_one_raw(Statement::from_string(
                        store.backend().db_backend(),
                        "SELECT count(*) AS n FROM contact_search_docs WHERE kind = ''",
                    ))
                    .await
                    .unwrap()
                    .unwrap()
                    .try_get::<i64>("", "n")
                    .unwrap();
                assert_eq!(documents, CONTACTS, "one name document a contact");
            }
            let _ = store.close().await;
            database.drop_database().await;
        }
    }
}
