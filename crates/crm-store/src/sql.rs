//! Small helpers for building statements: numbered placeholders and the
//! identity-key filter that the hot path and the writes share.

use crm_domain::{DomainError, IdentityKey};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, Value};

use crate::error::storage;

/// `text` with every `$N` placeholder written `?`.
fn positional(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// A statement under construction: SQL text plus values, `$N` placeholders.
#[derive(Debug)]
pub(crate) struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            values: Vec::new(),
        }
    }

    /// Appends literal SQL.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(crate) fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
        self
    }

    /// Appends `($a, $b, ...)`, one placeholder per id: the list of an `IN`.
    pub(crate) fn ids(&mut self, ids: impl IntoIterator<Item = uuid::Uuid>) -> &mut Self {
        self.push("(");
        for (index, id) in ids.into_iter().enumerate() {
            if index > 0 {
                self.push(", ");
            }
            self.bind(id);
        }
        self.push(")")
    }

    /// Appends `(alias.kind, alias.value) IN (VALUES ($a, $b), ...)`: a
    /// filter on any number of keys that stays one expression, whatever the
    /// count (a chain of `OR`s grows SQLite's expression tree past its depth
    /// limit of 1000). Only the parameter limit bounds it: 2 per key, so up
    /// to 16,383 keys on SQLite (32,766 parameters), more on PostgreSQL.
    /// `keys` must not be empty.
    pub(crate) fn key_values(&mut self, alias: &str, keys: &[IdentityKey]) -> &mut Self {
        self.push("(")
            .push(alias)
            .push(".kind, ")
            .push(alias)
            .push(".value) IN ")
            .key_table(keys)
    }

    /// Appends `(VALUES ($a, $b), ...)`: the keys as a table whose columns
    /// are `column1` (kind) and `column2` (value) on both backends, to join
    /// by index (`FROM <table> k CROSS JOIN contact_identities m WHERE
    /// m.kind = k.column1 ...`). Bounded only by the parameter limit, as
    /// [`Sql::key_values`]. `keys` must not be empty.
    pub(crate) fn key_table(&mut self, keys: &[IdentityKey]) -> &mut Self {
        self.push("(VALUES ");
        for (index, key) in keys.iter().enumerate() {
            if index > 0 {
                self.push(", ");
            }
            self.push("(")
                .bind(key.kind.as_str())
                .push(", ")
                .bind(key.value.clone())
                .push(")");
        }
        self.push(")")
    }

    /// Runs the statement and turns each row, read as `R`, into a domain
    /// value with `into`.
    pub(crate) async fn fetch<C, R, T>(
        self,
        connection: &C,
        into: impl Fn(R) -> Result<T, DomainError>,
    ) -> Result<Vec<T>, DomainError>
    where
        C: ConnectionTrait,
        R: FromQueryResult,
    {
        let backend = connection.get_database_backend();
        connection
            .query_all_raw(self.build(backend))
            .await
            .map_err(storage)?
            .iter()
            .map(|row| {
                R::from_query_result(row, "")
                    .map_err(storage)
                    .and_then(&into)
            })
            .collect()
    }

    /// Runs the statement and reads its first row, if any, as `R`.
    pub(crate) async fn fetch_optional<C, R>(self, connection: &C) -> Result<Option<R>, DomainError>
    where
        C: ConnectionTrait,
        R: FromQueryResult,
    {
        let backend = connection.get_database_backend();
        connection
            .query_one_raw(self.build(backend))
            .await
            .map_err(storage)?
            .map(|row| R::from_query_result(&row, "").map_err(storage))
            .transpose()
    }

    /// Runs the statement and returns how many rows it changed.
    pub(crate) async fn execute<C: ConnectionTrait>(
        self,
        connection: &C,
    ) -> Result<u64, DomainError> {
        self.try_execute(connection).await.map_err(storage)
    }

    /// Runs the statement and returns how many rows it changed, or the
    /// driver's error for a caller that gives some errors a meaning (a
    /// unique or foreign-key violation).
    pub(crate) async fn try_execute<C: ConnectionTrait>(
        self,
        connection: &C,
    ) -> Result<u64, DbErr> {
        let backend = connection.get_database_backend();
        connection
            .execute_raw(self.build(backend))
            .await
            .map(|result| result.rows_affected())
    }

    /// The statement for `backend`. SQLite gets plain `?` placeholders:
    /// the driver binds a `$N` by looking its name up in a list SQLite walks
    /// from the start, so a statement of n named parameters costs n² steps
    /// to bind (82% of a 500-row insert's time, measured), and `?` costs
    /// nothing. The rewrite holds because [`Sql::bind`] only ever appends,
    /// so the k-th placeholder in the text is `$k`.
    pub(crate) fn build(self, backend: DbBackend) -> Statement {
        let text = match backend {
            DbBackend::Sqlite => positional(&self.text),
            _ => self.text,
        };
        Statement::from_sql_and_values(backend, text, self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_statements_bind_by_position() {
        let mut sql = Sql::new("SELECT ");
        sql.bind(1_i64)
            .push(", json_extract(x, '$.a'), ")
            .bind(2_i64);
        for _ in 0..10 {
            sql.push(", ").bind(3_i64);
        }
        let sqlite = sql.build(DbBackend::Sqlite).sql;
        assert!(sqlite.starts_with("SELECT ?, json_extract(x, '$.a'), ?, ?"));
        assert!(!sqlite.contains("$1"), "{sqlite}");
        let mut sql = Sql::new("SELECT ");
        sql.bind(1_i64).push(", ").bind(2_i64);
        assert_eq!(sql.build(DbBackend::Postgres).sql, "SELECT $1, $2");
    }
}
