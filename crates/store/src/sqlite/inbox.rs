//! The `decisions` table: the person's inbox to a mission. `techlead
//! decide` and the server put a row in; only the mission's one writer
//! reads the pending rows and carries each out (`EscalationResolved`) or
//! refuses it (`DecisionRefused`), whose projections mark the row. So the
//! event log keeps its single writer, and a decision made while no run
//! holds the mission waits for the next `resume`.

use super::column;
use crate::encoding::timestamp;
use crate::{DecisionRequest, DecisionRow};
use jiff::Timestamp;
use rusqlite::{Connection, Row, Transaction, params};
use techlead_core::state::Decision;

pub(super) fn insert(
    tx: &Transaction<'_>,
    mission: &str,
    request: &DecisionRequest,
    at: Timestamp,
) -> rusqlite::Result<u32> {
    let id: u32 = tx.query_row(
        "SELECT COALESCE(MAX(id), 0) + 1 FROM decisions WHERE mission = ?1",
        [mission],
        |row| row.get(0),
    )?;
    let argument = request.decision.argument();
    tx.prepare_cached(
        "INSERT INTO decisions
             (mission, id, escalation, action, argument, note, decided_by, decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        mission,
        id,
        request.escalation,
        request.decision.action(),
        argument,
        request.note,
        request.by,
        timestamp(at),
    ])?;
    Ok(id)
}

pub(super) fn list(
    conn: &Connection,
    mission: &str,
    pending: bool,
) -> rusqlite::Result<Vec<DecisionRow>> {
    let sql = if pending {
        "SELECT id, escalation, action, argument, note, decided_by, decided_at, applied_seq, refused
         FROM decisions WHERE mission = ?1 AND applied_seq IS NULL AND refused IS NULL ORDER BY id"
    } else {
        "SELECT id, escalation, action, argument, note, decided_by, decided_at, applied_seq, refused
         FROM decisions WHERE mission = ?1 ORDER BY id"
    };
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map([mission], row)?;
    rows.collect()
}

fn row(row: &Row<'_>) -> rusqlite::Result<DecisionRow> {
    let action: String = row.get(2)?;
    let argument: Option<String> = row.get(3)?;
    Ok(DecisionRow {
        id: row.get(0)?,
        escalation: row.get(1)?,
        // A row this build cannot read is shown for what it says; the
        // writer refuses it.
        decision: Decision::parse(&action, argument.as_deref()).map_err(|_| action.clone()),
        note: row.get(4)?,
        by: row.get(5)?,
        decided_at: column(row, 6, |s| s.parse().ok())?,
        applied_seq: row.get::<_, Option<i64>>(7)?.map(|s| s as u64),
        refused: row.get(8)?,
    })
}
