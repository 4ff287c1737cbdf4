//! The database's identity and shape. Everything techlead keeps is in the
//! schema `techlead` of the database the URL names (so that it can share a
//! database with other programs), with `techlead.schema_version` saying
//! whose it is and at which version. Numbered migrations bring an older
//! schema up to date in one transaction, under a transaction-scoped
//! advisory lock so that two techleads opening at once migrate once.
//!
//! The numbering is PostgreSQL's own: version 1 here is the whole of
//! SQLite's versions 1 to 3.

use super::conn::Conn;
use super::url::Target;
use crate::{Error, Result};

/// The schema techlead's tables live in.
pub const SCHEMA: &str = "techlead";

/// The first key of every advisory lock techlead takes ("TLED", the SQLite
/// application ID); the second is a mission's `lock_id`, or one of these.
pub const LOCK_CLASS: i32 = 0x544C_4544;
/// Second key of the lock that serialises migrations.
const MIGRATION_LOCK: i32 = 0;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migration `n` (1-based) takes the schema from version `n - 1` to `n`.
/// Append only: a released migration never changes.
const MIGRATIONS: &[&str] = &[V1, super::work::V2, super::slots::V3];

/// Version 1: SQLite's tables, with BIGINT for every integer, BOOLEAN for
/// flags, and times as the same fixed-width text (nanoseconds, which
/// `timestamptz` would cut to microseconds). Bodies are the event's JSON
/// as text, byte for byte what was written.
const V1: &str = "
CREATE TABLE schema_version (
    application_id BIGINT NOT NULL,
    version        BIGINT NOT NULL
);

CREATE TABLE missions (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    number      BIGINT NOT NULL,
    status      TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    last_seq    BIGINT NOT NULL,
    tasks       BIGINT NOT NULL,
    succeeded   BIGINT NOT NULL DEFAULT 0,
    failed      BIGINT NOT NULL DEFAULT 0,
    -- The second key of the mission's advisory lock; also creation order.
    lock_id     INTEGER GENERATED ALWAYS AS IDENTITY UNIQUE,
    UNIQUE (name, number)
);

CREATE TABLE events (
    mission TEXT NOT NULL REFERENCES missions (id),
    seq     BIGINT NOT NULL,
    at      TEXT NOT NULL,
    type    TEXT NOT NULL,
    task    TEXT,
    body    TEXT NOT NULL,
    PRIMARY KEY (mission, seq)
);

CREATE TABLE tasks (
    mission     TEXT NOT NULL REFERENCES missions (id),
    id          TEXT NOT NULL,
    position    BIGINT NOT NULL,
    title       TEXT NOT NULL,
    phase       BIGINT,
    priority    TEXT NOT NULL,
    agent       TEXT NOT NULL,
    executor    TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    blocked_by  TEXT,
    summary     TEXT,
    PRIMARY KEY (mission, id)
);

CREATE TABLE attempts (
    mission      TEXT NOT NULL REFERENCES missions (id),
    task         TEXT NOT NULL,
    attempt      BIGINT NOT NULL,
    agent        TEXT NOT NULL,
    executor     TEXT NOT NULL,
    dir          TEXT NOT NULL,
    queued_at    TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    outcome      TEXT,
    exit_code    BIGINT,
    signal       BIGINT,
    message      TEXT,
    duration_ms  BIGINT,
    input_tokens       BIGINT NOT NULL DEFAULT 0,
    output_tokens      BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens  BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd           DOUBLE PRECISION NOT NULL DEFAULT 0,
    turns              BIGINT NOT NULL DEFAULT 0,
    model              TEXT,
    PRIMARY KEY (mission, task, attempt)
);

CREATE VIEW agent_performance AS
SELECT agent,
       COUNT(*)                                                  AS attempts,
       COUNT(*) FILTER (WHERE outcome = 'succeeded')             AS successes,
       COUNT(*) FILTER (WHERE outcome IN ('failed', 'timed_out')) AS failures,
       SUM(COALESCE(duration_ms, 0))::BIGINT                     AS total_ms
FROM attempts
WHERE outcome IS NOT NULL
GROUP BY agent;

CREATE TABLE gates (
    mission    TEXT NOT NULL REFERENCES missions (id),
    seq        BIGINT NOT NULL,
    phase      BIGINT NOT NULL,
    gate       TEXT NOT NULL,
    passed     BOOLEAN NOT NULL,
    exit_code  BIGINT,
    log        TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (mission, seq)
);

CREATE TABLE escalations (
    mission      TEXT NOT NULL REFERENCES missions (id),
    id           BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    message      TEXT NOT NULL,
    tasks        TEXT NOT NULL,
    options      TEXT NOT NULL,
    raised_at    TEXT NOT NULL,
    resolved_at  TEXT,
    resolution   TEXT,
    resolved_by  TEXT,
    PRIMARY KEY (mission, id)
);

CREATE TABLE decisions (
    mission      TEXT NOT NULL REFERENCES missions (id),
    id           BIGINT NOT NULL,
    escalation   BIGINT NOT NULL,
    action       TEXT NOT NULL,
    argument     TEXT,
    note         TEXT,
    decided_by   TEXT NOT NULL,
    decided_at   TEXT NOT NULL,
    applied_seq  BIGINT,
    refused      TEXT,
    PRIMARY KEY (mission, id)
);

CREATE TABLE preemptions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    by_mission   TEXT NOT NULL REFERENCES missions (id),
    agents       TEXT NOT NULL,
    raised_at    TEXT NOT NULL,
    ended_at     TEXT
);

CREATE TABLE webhook_deliveries (
    mission      TEXT NOT NULL REFERENCES missions (id),
    hook         TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    try          BIGINT NOT NULL,
    at           TEXT NOT NULL,
    status       BIGINT,
    error        TEXT,
    duration_ms  BIGINT NOT NULL,
    delivered    BOOLEAN NOT NULL,
    PRIMARY KEY (mission, hook, seq, try)
);
";

/// What the schema `techlead` of the database is.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// No such schema, or an empty one.
    Empty,
    Techlead {
        version: i64,
    },
    /// Tables that are not techlead's.
    Foreign,
}

fn kind(conn: &mut Conn) -> std::result::Result<Kind, postgres::Error> {
    let objects: i64 = conn
        .client
        .query_one(
            "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1",
            &[&SCHEMA],
        )?
        .get(0);
    if objects == 0 {
        return Ok(Kind::Empty);
    }
    let has_version: bool = conn
        .client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    if !has_version {
        return Ok(Kind::Foreign);
    }
    let row = conn
        .client
        .query_opt("SELECT application_id, version FROM schema_version", &[])?;
    Ok(match row {
        Some(row) if row.get::<_, i64>(0) == i64::from(LOCK_CLASS) => Kind::Techlead {
            version: row.get(1),
        },
        _ => Kind::Foreign,
    })
}

/// Refuses what is not a techlead schema, or one newer than this build;
/// creates or migrates the rest. Nothing is written to a refused database.
pub(super) fn prepare(conn: &mut Conn, target: &Target) -> Result<()> {
    conn.client
        .batch_execute(&format!("SET search_path TO {SCHEMA}"))
        .map_err(|e| target.error(e))?;
    match kind(conn).map_err(|e| target.error(e))? {
        Kind::Techlead { version } if version == SCHEMA_VERSION => Ok(()),
        other => {
            refuse(other, target)?;
            migrate(conn, target)
        }
    }
}

fn refuse(kind: Kind, target: &Target) -> Result<()> {
    match kind {
        Kind::Foreign => Err(Error::Foreign {
            database: format!("{} (schema {SCHEMA})", target.shown),
        }),
        Kind::Techlead { version } if version > SCHEMA_VERSION => Err(Error::TooNew {
            database: target.shown.clone(),
            found: version,
            supported: SCHEMA_VERSION,
        }),
        Kind::Empty | Kind::Techlead { .. } => Ok(()),
    }
}

/// Creates the schema or brings it up to date, in one transaction.
fn migrate(conn: &mut Conn, target: &Target) -> Result<()> {
    conn.transaction(|conn| {
        conn.client.execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[&LOCK_CLASS, &MIGRATION_LOCK],
        )?;
        // Looked at again under the lock: another techlead may have
        // created or migrated it meanwhile.
        let from = match kind(conn)? {
            Kind::Empty => 0,
            Kind::Techlead { version } if version <= SCHEMA_VERSION => version,
            other => return Ok(Err(other)),
        };
        if from == 0 {
            conn.client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))?;
        }
        for migration in &MIGRATIONS[from as usize..] {
            conn.client.batch_execute(migration)?;
        }
        conn.client.execute("DELETE FROM schema_version", &[])?;
        conn.client.execute(
            "INSERT INTO schema_version (application_id, version) VALUES ($1, $2)",
            &[&i64::from(LOCK_CLASS), &SCHEMA_VERSION],
        )?;
        Ok::<_, postgres::Error>(Ok(()))
    })
    .map_err(|e| target.error(e))?
    .or_else(|kind| refuse(kind, target))
}
