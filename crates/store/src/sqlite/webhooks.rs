//! The `webhook_deliveries` table: one row per try to deliver an event to
//! a webhook, written by the mission's run as each try ends, read at
//! resume (what is still owed) and by `techlead status` and `techlead
//! webhooks`.

use super::column;
use crate::encoding::timestamp;
use rusqlite::{Connection, params};
use techlead_core::webhook::DeliveryTry;

pub(super) fn record(conn: &Connection, mission: &str, t: &DeliveryTry) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO webhook_deliveries
             (mission, hook, seq, try, at, status, error, duration_ms, delivered)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        mission,
        t.hook,
        t.seq as i64,
        t.number,
        timestamp(t.at),
        t.status,
        t.error,
        t.duration_ms as i64,
        t.delivered,
    ])?;
    Ok(())
}

pub(super) fn list(conn: &Connection, mission: &str) -> rusqlite::Result<Vec<DeliveryTry>> {
    let mut statement = conn.prepare_cached(
        "SELECT hook, seq, try, at, status, error, duration_ms, delivered
         FROM webhook_deliveries WHERE mission = ?1 ORDER BY hook, seq, try",
    )?;
    let rows = statement.query_map([mission], |row| {
        Ok(DeliveryTry {
            hook: row.get(0)?,
            seq: row.get::<_, i64>(1)? as u64,
            number: row.get(2)?,
            at: column(row, 3, |s| s.parse().ok())?,
            status: row.get(4)?,
            error: row.get(5)?,
            duration_ms: row.get::<_, i64>(6)? as u64,
            delivered: row.get(7)?,
        })
    })?;
    rows.collect()
}
