//! One open connection: its statements prepared once each, transactions,
//! and the shared projections' [`Writer`] over it.

use crate::writer::{Value, Writer};
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Row, Statement};
use std::collections::HashMap;
use std::error::Error as StdError;

pub(super) struct Conn {
    pub client: Client,
    /// By the `?N` text the code writes; prepared as `$N`.
    statements: HashMap<&'static str, Statement>,
}

type Params<'a> = Vec<&'a (dyn ToSql + Sync)>;

impl Conn {
    pub fn new(client: Client) -> Conn {
        Conn {
            client,
            statements: HashMap::new(),
        }
    }

    /// `sql`, prepared on first use.
    fn statement(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&numbered(sql))?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    pub fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        self.client.query(&statement, params)
    }

    pub fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        self.client.query_opt(&statement, params)
    }

    pub fn run(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let statement = self.statement(sql)?;
        self.client.execute(&statement, params)
    }

    /// Runs `work` in a transaction: committed if it returns `Ok`, rolled
    /// back otherwise. The commit is durable when this returns (the
    /// server's `synchronous_commit`, on by default).
    pub fn transaction<T, E: From<postgres::Error>>(
        &mut self,
        work: impl FnOnce(&mut Conn) -> Result<T, E>,
    ) -> Result<T, E> {
        self.client.batch_execute("BEGIN")?;
        match work(self) {
            Ok(value) => {
                self.client.batch_execute("COMMIT")?;
                Ok(value)
            }
            Err(error) => {
                // A broken connection rolls back by itself.
                let _ = self.client.batch_execute("ROLLBACK");
                Err(error)
            }
        }
    }
}

impl Writer for Conn {
    type Error = postgres::Error;

    fn execute(&mut self, sql: &'static str, params: &[Value<'_>]) -> Result<(), Self::Error> {
        self.run(sql, &dyn_params(params))?;
        Ok(())
    }

    fn text(&mut self, sql: &'static str, params: &[Value<'_>]) -> Result<String, Self::Error> {
        let statement = self.statement(sql)?;
        Ok(self
            .client
            .query_one(&statement, &dyn_params(params))?
            .get(0))
    }
}

fn dyn_params<'a>(params: &'a [Value<'_>]) -> Params<'a> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// `?N` parameters as PostgreSQL writes them, `$N`. The shared SQL has no
/// `?` anywhere else.
fn numbered(sql: &str) -> String {
    sql.replace('?', "$")
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match *self {
            Value::Null => Ok(IsNull::Yes),
            // Every integer column is BIGINT; a parameter compared with an
            // INTEGER expression is that.
            Value::Int(n) if *ty == Type::INT4 => i32::try_from(n)?.to_sql(ty, out),
            Value::Int(n) => n.to_sql(ty, out),
            Value::Real(x) => x.to_sql(ty, out),
            Value::Text(text) => text.to_sql(ty, out),
            Value::Bool(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [
            Type::INT4,
            Type::INT8,
            Type::FLOAT8,
            Type::TEXT,
            Type::VARCHAR,
            Type::BOOL,
        ]
        .contains(ty)
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameters_are_numbered_as_postgresql_writes_them() {
        assert_eq!(
            super::numbered("UPDATE t SET a = ?3 WHERE b = ?1 AND c = ?12"),
            "UPDATE t SET a = $3 WHERE b = $1 AND c = $12"
        );
    }
}
