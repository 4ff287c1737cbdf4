//! The `agent_shares` table: what each mission's writer holds and waits
//! for of each agent with a `max_parallel`, so that missions sharing an
//! agent share its slots (`core::portfolio::slots`). Rows of runs that
//! are no longer alive (no one holds the mission's lock) are ignored.
//!
//! These rows coordinate live processes; they are not the record (a crash
//! ends the run that wrote them, and its rows are ignored from then on).
//! So their commits skip the fsync that the event log's need: a slot taken
//! costs a lock of the database file and a few rows, not a disk flush.

use super::{column, lock};
use crate::encoding::timestamp;
use jiff::Timestamp;
use rusqlite::{Connection, Row, TransactionBehavior, params};
use std::path::Path;
use techlead_core::portfolio::slots::{self, Admission, Demand};

const COLUMNS: &str = "SELECT mission, agent, priority, share, slots, held, waiting, waiting_since, updated_at FROM agent_shares";

fn demand(row: &Row<'_>) -> rusqlite::Result<Demand> {
    let since: Option<String> = row.get(7)?;
    Ok(Demand {
        mission: row.get(0)?,
        agent: row.get(1)?,
        priority: row.get(2)?,
        share: row.get(3)?,
        slots: row.get(4)?,
        held: row.get(5)?,
        waiting: row.get(6)?,
        waiting_since: since.and_then(|s| s.parse().ok()),
        updated_at: column(row, 8, |s| s.parse().ok())?,
    })
}

fn upsert(conn: &Connection, d: &Demand) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO agent_shares
             (mission, agent, priority, share, slots, held, waiting, waiting_since, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (agent, mission) DO UPDATE SET
             priority = ?3, share = ?4, slots = ?5, held = ?6, waiting = ?7,
             waiting_since = ?8, updated_at = ?9",
    )?
    .execute(params![
        d.mission,
        d.agent,
        d.priority,
        d.share,
        d.slots,
        d.held,
        d.waiting,
        d.waiting_since.map(timestamp),
        timestamp(d.updated_at),
    ])?;
    Ok(())
}

/// Runs `work` in an immediate transaction committed without an fsync,
/// then puts the connection's durability back.
fn unsynced<T>(
    conn: &mut Connection,
    work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let was: i64 = conn.pragma_query_value(None, "synchronous", |row| row.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let result = (|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = work(&tx)?;
        tx.commit()?;
        Ok(value)
    })();
    conn.pragma_update(None, "synchronous", was)?;
    result
}

pub(super) fn publish(conn: &mut Connection, demands: &[Demand]) -> rusqlite::Result<()> {
    unsynced(conn, |tx| demands.iter().try_for_each(|d| upsert(tx, d)))
}

/// Asks for a slot of `mine.agent`: the live missions' rows read, the
/// decision taken and `mine` written in one write transaction, so that two
/// missions asking at once are decided one after the other.
pub(super) fn take(
    conn: &mut Connection,
    db: &Path,
    mine: &Demand,
    now: Timestamp,
) -> rusqlite::Result<Admission> {
    unsynced(conn, |tx| {
        let others: Vec<Demand> = tx
            .prepare_cached(&format!("{COLUMNS} WHERE agent = ?1 AND mission <> ?2"))?
            .query_map(params![mine.agent, mine.mission], demand)?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter(|d| lock::is_held(db, &d.mission))
            .collect();
        let admission = slots::admit(mine, &others, now);
        upsert(tx, &slots::after(mine, &admission, now))?;
        Ok(admission)
    })
}

/// Every row of a run that is alive, by agent and mission.
pub(super) fn live(conn: &Connection, db: &Path) -> rusqlite::Result<Vec<Demand>> {
    let rows = conn
        .prepare_cached(&format!("{COLUMNS} ORDER BY agent, mission"))?
        .query_map([], demand)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter(|d| lock::is_held(db, &d.mission))
        .collect())
}

pub(super) fn end(conn: &mut Connection, mission: &str) -> rusqlite::Result<()> {
    unsynced(conn, |tx| {
        tx.execute("DELETE FROM agent_shares WHERE mission = ?1", [mission])?;
        Ok(())
    })
}
