//! One database for one test, on either backend: a SQLite file in a
//! temporary directory, or a fresh database on the throwaway PostgreSQL
//! server (crates/testdb). `both!` writes a test once and runs it on each.

use techlead_store::Store;

/// Defines `mod $name` with a test per backend, `sqlite` and `postgres`,
/// running `$body` with `$db: &Fixture`. The PostgreSQL one says it skipped
/// when no server can be started (fails when one is required).
macro_rules! both {
    ($(#[$meta:meta])* fn $name:ident($db:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($db: &$crate::support::Fixture) $body

            #[test]
            fn sqlite() {
                body(&$crate::support::Fixture::sqlite());
            }

            #[test]
            fn postgres() {
                if let Some(db) = $crate::support::Fixture::postgres() {
                    body(&db);
                }
            }
        }
    };
}
pub(crate) use both;

pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database for one test.
pub struct Fixture {
    pub backend: Backend,
    /// The file path or URL, as `--db` takes it.
    pub location: String,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    pub fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".techlead").join("techlead.db");
        Fixture {
            backend: Backend::Sqlite,
            location: path.display().to_string(),
            _dir: Some(dir),
        }
    }

    pub fn postgres() -> Option<Fixture> {
        let db = techlead_testdb::database()?;
        Some(Fixture {
            backend: Backend::Postgres,
            location: db.url,
            _dir: None,
        })
    }

    /// A new handle on the database, as another `techlead` would open it.
    pub fn open(&self) -> Box<dyn Store> {
        techlead_store::open(&self.location).unwrap()
    }

    /// A plain connection to the database, for looking at its tables.
    pub fn raw(&self) -> Raw {
        match self.backend {
            Backend::Sqlite => Raw::Sqlite(rusqlite::Connection::open(&self.location).unwrap()),
            Backend::Postgres => {
                let mut client =
                    postgres::Client::connect(&self.location, postgres::NoTls).unwrap();
                client.batch_execute("SET search_path TO techlead").unwrap();
                Raw::Postgres(client)
            }
        }
    }
}

/// A plain connection. Statements use `?N` parameters, all text.
pub enum Raw {
    Sqlite(rusqlite::Connection),
    Postgres(postgres::Client),
}

impl Raw {
    /// Every row of `sql`, each as its columns' text joined by `|`, NULL
    /// as `NULL` and booleans as `1` or `0`, as SQLite has them.
    pub fn rows(&mut self, sql: &str, params: &[&str]) -> Vec<String> {
        match self {
            Raw::Sqlite(conn) => {
                let mut statement = conn.prepare(sql).unwrap();
                let width = statement.column_count();
                statement
                    .query_map(rusqlite::params_from_iter(params), |row| {
                        Ok((0..width)
                            .map(|i| sqlite_text(row.get_ref(i).unwrap()))
                            .collect::<Vec<_>>()
                            .join("|"))
                    })
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            Raw::Postgres(client) => {
                let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|p| p as _).collect();
                client
                    .query(&sql.replace('?', "$"), &params)
                    .unwrap()
                    .iter()
                    .map(|row| {
                        (0..row.len())
                            .map(|i| postgres_text(row, i))
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .collect()
            }
        }
    }

    /// Runs `sql`.
    pub fn execute(&mut self, sql: &str, params: &[&str]) {
        match self {
            Raw::Sqlite(conn) => {
                conn.execute(sql, rusqlite::params_from_iter(params))
                    .unwrap();
            }
            Raw::Postgres(client) => {
                let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|p| p as _).collect();
                client.execute(&sql.replace('?', "$"), &params).unwrap();
            }
        }
    }

    /// Runs `statements` (each with its parameters) in a transaction
    /// that is never committed: the connection goes away first, as a
    /// process that dies mid-way.
    pub fn abandon(mut self, statements: &[(&str, &[&str])]) {
        match &mut self {
            Raw::Sqlite(conn) => conn.execute_batch("BEGIN").unwrap(),
            Raw::Postgres(client) => client.batch_execute("BEGIN").unwrap(),
        }
        for (sql, params) in statements {
            self.execute(sql, params);
        }
    }
}

fn sqlite_text(value: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => "NULL".to_string(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
    }
}

fn postgres_text(row: &postgres::Row, i: usize) -> String {
    use postgres::types::Type;
    let ty = row.columns()[i].type_().clone();
    let text = if ty == Type::INT8 {
        row.get::<_, Option<i64>>(i).map(|n| n.to_string())
    } else if ty == Type::INT4 {
        row.get::<_, Option<i32>>(i).map(|n| n.to_string())
    } else if ty == Type::FLOAT8 {
        row.get::<_, Option<f64>>(i).map(|x| x.to_string())
    } else if ty == Type::BOOL {
        row.get::<_, Option<bool>>(i)
            .map(|b| u8::from(b).to_string())
    } else {
        row.get::<_, Option<String>>(i)
    };
    text.unwrap_or_else(|| "NULL".to_string())
}
pub mod mission;
