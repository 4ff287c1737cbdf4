//! The shared projections' statements on an SQLite transaction: each
//! statement compiled once per connection (`prepare_cached`).

use crate::writer::{Value, Writer};
use rusqlite::types::{ToSql, ToSqlOutput};
use rusqlite::{Transaction, params_from_iter};

impl ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Value::Null => ToSqlOutput::from(rusqlite::types::Null),
            Value::Int(n) => ToSqlOutput::from(n),
            Value::Real(x) => ToSqlOutput::from(x),
            Value::Text(text) => ToSqlOutput::from(text),
            Value::Bool(b) => ToSqlOutput::from(b),
        })
    }
}

/// An SQLite transaction as a [`Writer`].
pub(super) struct Tx<'a, 'conn>(pub &'a Transaction<'conn>);

impl Writer for Tx<'_, '_> {
    type Error = rusqlite::Error;

    fn execute(&mut self, sql: &'static str, params: &[Value<'_>]) -> rusqlite::Result<()> {
        self.0
            .prepare_cached(sql)?
            .execute(params_from_iter(params))?;
        Ok(())
    }

    fn text(&mut self, sql: &'static str, params: &[Value<'_>]) -> rusqlite::Result<String> {
        self.0
            .prepare_cached(sql)?
            .query_row(params_from_iter(params), |row| row.get(0))
    }
}
