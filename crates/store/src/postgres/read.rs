//! Rows read back into the store's types.

use super::Failure;
use crate::encoding::parse_status;
use crate::{AgentRecordRow, DecisionRow, Error, MissionRow, PreemptionRow};
use jiff::Timestamp;
use postgres::Row;
use techlead_core::state::Decision;
use techlead_core::webhook::DeliveryTry;

/// The columns [`mission`] reads, then `$tail`.
macro_rules! mission_row {
    ($tail:literal $(,)?) => {
        concat!(
            "SELECT id, name, status, source, created_at, updated_at, tasks, succeeded, failed,
                    last_seq
             FROM missions",
            $tail
        )
    };
}
pub(super) use mission_row;

pub(super) fn mission(row: &Row) -> Result<MissionRow, Failure> {
    Ok(MissionRow {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        status: parsed(row, 2, parse_status)?,
        source: row.try_get(3)?,
        created_at: time(row, 4)?,
        updated_at: time(row, 5)?,
        tasks: row.try_get::<_, i64>(6)? as u32,
        succeeded: row.try_get::<_, i64>(7)? as u32,
        failed: row.try_get::<_, i64>(8)? as u32,
        last_seq: row.try_get::<_, i64>(9)? as u64,
    })
}

pub(super) fn agent_record(row: &Row) -> Result<AgentRecordRow, Failure> {
    Ok(AgentRecordRow {
        agent: row.try_get(0)?,
        attempts: row.try_get::<_, i64>(1)? as u32,
        successes: row.try_get::<_, i64>(2)? as u32,
        failures: row.try_get::<_, i64>(3)? as u32,
        total_ms: row.try_get::<_, i64>(4)? as u64,
    })
}

/// The columns [`decision`] reads, then `$tail`.
macro_rules! decision_row {
    ($tail:literal $(,)?) => {
        concat!(
            "SELECT id, escalation, action, argument, note, decided_by, decided_at, applied_seq,
                    refused
             FROM decisions",
            $tail
        )
    };
}
pub(super) use decision_row;

pub(super) fn decision(row: &Row) -> Result<DecisionRow, Failure> {
    let action: String = row.try_get(2)?;
    let argument: Option<String> = row.try_get(3)?;
    Ok(DecisionRow {
        id: row.try_get::<_, i64>(0)? as u32,
        escalation: row.try_get::<_, i64>(1)? as u32,
        // A row this build cannot read is shown for what it says; the
        // writer refuses it.
        decision: Decision::parse(&action, argument.as_deref()).map_err(|_| action.clone()),
        note: row.try_get(4)?,
        by: row.try_get(5)?,
        decided_at: time(row, 6)?,
        applied_seq: row.try_get::<_, Option<i64>>(7)?.map(|s| s as u64),
        refused: row.try_get(8)?,
    })
}

pub(super) fn preemption(row: &Row) -> Result<PreemptionRow, Failure> {
    let agents: String = row.try_get(1)?;
    Ok(PreemptionRow {
        by: row.try_get(0)?,
        agents: serde_json::from_str(&agents).unwrap_or_default(),
        raised_at: time(row, 2)?,
    })
}

pub(super) fn delivery(row: &Row) -> Result<DeliveryTry, Failure> {
    Ok(DeliveryTry {
        hook: row.try_get(0)?,
        seq: row.try_get::<_, i64>(1)? as u64,
        number: row.try_get::<_, i64>(2)? as u32,
        at: time(row, 3)?,
        status: row.try_get::<_, Option<i64>>(4)?.map(|s| s as u16),
        error: row.try_get(5)?,
        duration_ms: row.try_get::<_, i64>(6)? as u64,
        delivered: row.try_get(7)?,
    })
}

pub(super) fn time(row: &Row, index: usize) -> Result<Timestamp, Failure> {
    parsed(row, index, |s| s.parse().ok())
}

/// A text column parsed into a value, or an error naming the column.
fn parsed<T>(row: &Row, index: usize, parse: impl Fn(&str) -> Option<T>) -> Result<T, Failure> {
    let text: String = row.try_get(index)?;
    parse(&text).ok_or_else(|| {
        let column = row.columns()[index].name();
        Failure::Store(Error::Database(
            format!("unexpected value `{text}` in column {column}").into(),
        ))
    })
}
