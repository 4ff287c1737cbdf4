//! The database's identity and shape: the header check that refuses
//! foreign files before SQLite touches them, the application ID and schema
//! version in the SQLite header, and the numbered migrations that bring an
//! older techlead database up to date in one transaction.

use super::sql;
use crate::{Error, Result};
use rusqlite::{Connection, TransactionBehavior};
use std::io::Read;
use std::path::Path;

/// `PRAGMA application_id` of every techlead database: "TLED".
pub const APPLICATION_ID: i32 = 0x544C_4544;

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migration `n` (1-based) takes a database from version `n - 1` to `n`.
/// Append only: a released migration never changes.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4];

/// Version 1: the event log and its projections.
const V1: &str = "
CREATE TABLE missions (
    id          TEXT PRIMARY KEY,           -- name-N
    name        TEXT NOT NULL,
    number      INTEGER NOT NULL,           -- the N of name-N
    status      TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    last_seq    INTEGER NOT NULL,
    tasks       INTEGER NOT NULL,
    succeeded   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name, number)
) STRICT;

CREATE TABLE events (
    mission TEXT NOT NULL REFERENCES missions (id),
    seq     INTEGER NOT NULL,
    at      TEXT NOT NULL,
    type    TEXT NOT NULL,
    task    TEXT,
    body    TEXT NOT NULL,                  -- the Event as JSON
    PRIMARY KEY (mission, seq)
) STRICT;

CREATE TABLE tasks (
    mission     TEXT NOT NULL REFERENCES missions (id),
    id          TEXT NOT NULL,
    position    INTEGER NOT NULL,           -- index in the plan
    title       TEXT NOT NULL,
    phase       INTEGER,
    priority    TEXT NOT NULL,
    agent       TEXT NOT NULL,              -- of the current or next attempt
    executor    TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    blocked_by  TEXT,
    summary     TEXT,
    PRIMARY KEY (mission, id)
) STRICT;

CREATE TABLE attempts (
    mission      TEXT NOT NULL REFERENCES missions (id),
    task         TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    agent        TEXT NOT NULL,
    executor     TEXT NOT NULL,
    dir          TEXT NOT NULL,
    queued_at    TEXT NOT NULL,             -- claimed its slot
    started_at   TEXT,                      -- took the slot; NULL if it never did
    finished_at  TEXT,
    outcome      TEXT,                      -- succeeded, failed, timed_out, cancelled, interrupted, rate_limited, needs_person
    exit_code    INTEGER,
    signal       INTEGER,
    message      TEXT,
    duration_ms  INTEGER,
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd           REAL NOT NULL DEFAULT 0,
    turns              INTEGER NOT NULL DEFAULT 0,
    model              TEXT,                -- as the agent reported it
    PRIMARY KEY (mission, task, attempt)
) STRICT;

CREATE INDEX attempts_by_agent ON attempts (agent);

CREATE VIEW agent_performance AS
SELECT agent,
       COUNT(*)                                   AS attempts,
       SUM(outcome = 'succeeded')                 AS successes,
       SUM(outcome IN ('failed', 'timed_out'))    AS failures,
       SUM(COALESCE(duration_ms, 0))              AS total_ms
FROM attempts
WHERE outcome IS NOT NULL
GROUP BY agent;

CREATE TABLE gates (
    mission    TEXT NOT NULL REFERENCES missions (id),
    seq        INTEGER NOT NULL,            -- the event that recorded it
    phase      INTEGER NOT NULL,
    gate       TEXT NOT NULL,
    passed     INTEGER NOT NULL,
    exit_code  INTEGER,
    log        TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (mission, seq)
) STRICT;

CREATE TABLE escalations (
    mission      TEXT NOT NULL REFERENCES missions (id),
    id           INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    message      TEXT NOT NULL,
    tasks        TEXT NOT NULL,             -- JSON array of task IDs
    options      TEXT NOT NULL,             -- JSON array
    raised_at    TEXT NOT NULL,
    resolved_at  TEXT,
    PRIMARY KEY (mission, id)
) STRICT;
";

/// Version 2: no index of attempts by agent. Every attempt paid for it
/// (an index entry written, one more page in its commit's WAL frames) and
/// nothing gained: `agent_performance` reads every finished attempt, which
/// a scan and a sort do faster than a walk of the index (95 against 155 ms
/// over 200,000 attempts).
const V2: &str = "
DROP INDEX attempts_by_agent;
";

/// Version 3: what other processes ask of a running mission, and what
/// techlead told the outside world.
///
/// `decisions` is the person's inbox to a mission: `techlead decide` and
/// the server write a row; only the mission's one writer reads it and
/// turns it into events (`applied_seq`), or refuses it (`refused`), so the
/// event log keeps a single writer.
///
/// `webhook_deliveries` records every try to deliver a mission's event to
/// a webhook, so that a delivery is never lost nor repeated after it
/// succeeded, across crashes and resumes.
const V3: &str = "
CREATE TABLE decisions (
    mission      TEXT NOT NULL REFERENCES missions (id),
    id           INTEGER NOT NULL,          -- 1-based within the mission
    escalation   INTEGER NOT NULL,
    action       TEXT NOT NULL,             -- retry, skip, reassign, abort, ...
    argument     TEXT,                      -- the agent of a reassign, the text of an answer
    note         TEXT,
    decided_by   TEXT NOT NULL,
    decided_at   TEXT NOT NULL,
    applied_seq  INTEGER,                   -- the event that carried it out
    refused      TEXT,                      -- why it could not be
    PRIMARY KEY (mission, id)
) STRICT;

CREATE TABLE preemptions (
    id           INTEGER PRIMARY KEY,
    by_mission   TEXT NOT NULL REFERENCES missions (id),
    agents       TEXT NOT NULL,             -- JSON array of agent names
    raised_at    TEXT NOT NULL,
    ended_at     TEXT                       -- NULL while the emergency runs
) STRICT;

ALTER TABLE escalations ADD COLUMN resolution TEXT;   -- the decision, as said
ALTER TABLE escalations ADD COLUMN resolved_by TEXT;

CREATE TABLE webhook_deliveries (
    mission      TEXT NOT NULL REFERENCES missions (id),
    hook         TEXT NOT NULL,             -- the webhook's name in the plan
    seq          INTEGER NOT NULL,          -- the event delivered
    try          INTEGER NOT NULL,          -- 1-based
    at           TEXT NOT NULL,
    status       INTEGER,                   -- the HTTP status, if any came
    error        TEXT,                      -- why the try failed
    duration_ms  INTEGER NOT NULL,
    delivered    INTEGER NOT NULL,          -- 1 when the receiver took it
    PRIMARY KEY (mission, hook, seq, try)
) STRICT;
";

/// Version 4: what each mission's run holds and waits for of each agent
/// with a `max_parallel`, so that missions sharing an agent share its
/// slots (`core::portfolio::slots`). Rows of a run that is no longer
/// alive (no one holds its mission's lock) are ignored.
const V4: &str = "
CREATE TABLE agent_shares (
    mission       TEXT NOT NULL REFERENCES missions (id),
    agent         TEXT NOT NULL,
    priority      INTEGER NOT NULL,          -- the mission's; higher goes first
    share         INTEGER NOT NULL,          -- its weight among equal priorities
    slots         INTEGER NOT NULL,          -- the agent's max_parallel as the mission recorded it
    held          INTEGER NOT NULL,          -- attempts of the mission running on the agent
    waiting       INTEGER NOT NULL,          -- tasks that could start but for other missions
    waiting_since TEXT,                      -- since when it waits without a slot
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (agent, mission)
) STRICT;
";

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Refuses a file that exists, is not empty and is not SQLite at all,
/// before SQLite opens it (so it is never touched).
pub(super) fn check_header(path: &Path) -> Result<()> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(super::io_error(path, source)),
    };
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(Error::Foreign {
            database: path.display().to_string(),
        });
    }
    let mut header = Vec::with_capacity(SQLITE_HEADER.len());
    (&mut file)
        .take(SQLITE_HEADER.len() as u64)
        .read_to_end(&mut header)
        .map_err(|source| super::io_error(path, source))?;
    if header.is_empty() || header == SQLITE_HEADER {
        Ok(())
    } else {
        Err(Error::Foreign {
            database: path.display().to_string(),
        })
    }
}

/// What the header of an opened SQLite file says it is.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// No tables and no application ID: a new file.
    Empty,
    Techlead {
        version: i64,
    },
    Foreign,
}

fn kind(conn: &Connection, path: &Path) -> Result<Kind> {
    let application_id: i32 = conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(sql(path))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql(path))?;
    let objects: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'",
            [],
            |row| row.get(0),
        )
        .map_err(sql(path))?;
    Ok(match application_id {
        APPLICATION_ID if version >= 1 => Kind::Techlead { version },
        0 if objects == 0 && version == 0 => Kind::Empty,
        _ => Kind::Foreign,
    })
}

/// Refuses what is not a techlead database, or one newer than this build,
/// without writing anything.
pub(super) fn check(conn: &Connection, path: &Path) -> Result<()> {
    match kind(conn, path)? {
        Kind::Foreign => Err(Error::Foreign {
            database: path.display().to_string(),
        }),
        Kind::Techlead { version } if version > SCHEMA_VERSION => Err(too_new(path, version)),
        Kind::Empty | Kind::Techlead { .. } => Ok(()),
    }
}

/// Creates the schema, or brings an older one up to date, in one
/// transaction: a failure leaves the file as it was.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql(path))?;
    // Looked at again under the write lock: another process may have
    // created or migrated the file since `check`.
    let from = match kind(&tx, path)? {
        Kind::Empty => 0,
        Kind::Techlead { version } if version > SCHEMA_VERSION => {
            return Err(too_new(path, version));
        }
        Kind::Techlead { version } => version,
        Kind::Foreign => {
            return Err(Error::Foreign {
                database: path.display().to_string(),
            });
        }
    };
    if from == SCHEMA_VERSION {
        return Ok(());
    }
    for migration in &MIGRATIONS[from as usize..] {
        tx.execute_batch(migration).map_err(sql(path))?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(sql(path))?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(sql(path))?;
    tx.commit().map_err(sql(path))
}

/// Whether the file is at the current schema version.
pub(super) fn is_current(conn: &Connection, path: &Path) -> Result<bool> {
    Ok(kind(conn, path)?
        == Kind::Techlead {
            version: SCHEMA_VERSION,
        })
}

fn too_new(path: &Path, found: i64) -> Error {
    Error::TooNew {
        database: path.display().to_string(),
        found,
        supported: SCHEMA_VERSION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 1 file, as techlead wrote them, with an attempt in it.
    fn version_1(path: &Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(V1).unwrap();
        conn.execute_batch(
            "INSERT INTO missions (id, name, number, status, source, created_at, updated_at, last_seq, tasks)
             VALUES ('m-1', 'm', 1, 'running', 'm.yaml', 't', 't', 2, 1);
             INSERT INTO attempts (mission, task, attempt, agent, executor, dir, queued_at, outcome)
             VALUES ('m-1', 'a', 1, 'builder', 'command', 'runs/m-1/a/1', 't', 'succeeded');",
        )
        .unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
    }

    #[test]
    fn version_1_loses_the_index_of_attempts_by_agent_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        version_1(&path);
        let store = crate::sqlite::SqliteStore::open(&path).unwrap();
        drop(store);
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let indexes: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'attempts_by_agent'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0);
        let (agent, successes): (String, i64) = conn
            .query_row(
                "SELECT agent, successes FROM agent_performance",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!((agent.as_str(), successes), ("builder", 1));
    }
}
