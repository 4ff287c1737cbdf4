//! The transactions that write: a new mission, an append, a decision in
//! a mission's inbox. Each runs inside [`Conn::transaction`].

use super::Job;
use super::conn::Conn;
use super::listen::CHANNEL;
use super::schema::LOCK_CLASS;
use crate::encoding::timestamp;
use crate::projection::{self, MissionChange};
use crate::{DecisionRequest, Error};
use jiff::Timestamp;
use techlead_core::state::{Event, EventRecord, MissionPlan};

/// Second key of the transaction lock that serialises mission creation
/// (the N of `name-N`); missions' own keys start at 1.
const CREATE_LOCK: i32 = -1;

pub(super) fn create(
    conn: &mut Conn,
    plan: &MissionPlan,
    at: Timestamp,
    body: &str,
) -> Job<String> {
    // Nothing acts on a new mission before its run's first commit, which
    // waits for the WAL flush and so for this one too (docs/store.md, "A
    // new mission").
    conn.client
        .batch_execute("SET LOCAL synchronous_commit TO OFF")?;
    conn.run(
        "SELECT pg_advisory_xact_lock(?1, ?2)",
        &[&LOCK_CLASS, &CREATE_LOCK],
    )?;
    let number: i64 = conn.query(
        "SELECT COALESCE(MAX(number), 0) + 1 FROM missions WHERE name = ?1",
        &[&plan.name],
    )?[0]
        .get(0);
    let id = format!("{}-{number}", plan.name);
    let at = timestamp(at);
    conn.run(
        "INSERT INTO missions
             (id, name, number, status, source, created_at, updated_at, last_seq, tasks)
         VALUES (?1, ?2, ?3, 'created', ?4, ?5, ?5, 1, ?6)",
        &[
            &id,
            &plan.name,
            &number,
            &plan.source,
            &at,
            &(plan.tasks.len() as i64),
        ],
    )?;
    conn.run(
        "INSERT INTO events (mission, seq, at, type, task, body)
         VALUES (?1, 1, ?2, 'mission_created', NULL, ?3)",
        &[&id, &at, &body],
    )?;
    projection::project_created(conn, &id, plan)?;
    Ok(id)
}

pub(super) fn append(
    conn: &mut Conn,
    mission: &str,
    after: u64,
    events: Vec<(Timestamp, Event)>,
) -> Job<Vec<EventRecord>> {
    // Locked until the commit: a second writer waits here, then sees the
    // new last seq and gets a conflict.
    let last: Option<i64> = conn
        .query_opt(
            "SELECT last_seq FROM missions WHERE id = ?1 FOR UPDATE",
            &[&mission],
        )?
        .map(|row| row.get(0));
    let Some(last) = last else {
        return Err(Error::NoSuchMission(mission.to_string()).into());
    };
    if last as u64 != after {
        return Err(Error::Conflict {
            mission: mission.to_string(),
            expected: after,
            actual: last as u64,
        }
        .into());
    }
    let records: Vec<EventRecord> = events
        .into_iter()
        .enumerate()
        .map(|(i, (at, event))| EventRecord {
            seq: after + 1 + i as u64,
            at,
            event,
        })
        .collect();
    let Some(last) = records.last() else {
        return Ok(records);
    };
    let times: Vec<String> = records.iter().map(|r| timestamp(r.at)).collect();
    insert(conn, mission, &records, &times)?;
    let mut change = MissionChange::default();
    let projected: Vec<_> = records
        .iter()
        .zip(&times)
        .map(|(record, at)| (record, at.as_str()))
        .collect();
    projection::project_all(conn, mission, &projected, &mut change)?;
    projection::finish(conn, mission, last, &change)?;
    Ok(records)
}

/// Tells the listeners (`listen::Listener`) that `mission` has new events,
/// once its append has committed. In a transaction of its own: NOTIFY
/// holds a lock on the whole database server from just before its
/// transaction commits until after, and inside the append that would make
/// every append wait for the one before it to reach the disk; alone, it
/// writes nothing to flush and holds the lock for microseconds. A
/// notification that cannot be sent is not the append's failure: the
/// listeners' check of the log finds the commit within a second.
pub(super) fn announce(conn: &mut Conn, mission: &str) {
    let _ = conn.run("SELECT pg_notify(?1, ?2)", &[&CHANNEL, &mission]);
}

/// The events into the log, in one statement whatever their number.
fn insert(conn: &mut Conn, mission: &str, records: &[EventRecord], times: &[String]) -> Job<()> {
    let bodies = records
        .iter()
        .map(|r| serde_json::to_string(&r.event))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Database(Box::new(e)))?;
    let seqs: Vec<i64> = records.iter().map(|r| r.seq as i64).collect();
    let types: Vec<&str> = records
        .iter()
        .map(|r| projection::event_type(&r.event))
        .collect();
    let tasks: Vec<Option<&str>> = records
        .iter()
        .map(|r| projection::event_task(&r.event))
        .collect();
    conn.run(
        "INSERT INTO events (mission, seq, at, type, task, body)
         SELECT ?1, * FROM unnest(?2::bigint[], ?3::text[], ?4::text[], ?5::text[], ?6::text[])",
        &[&mission, &seqs, &times, &types, &tasks, &bodies],
    )?;
    Ok(())
}

pub(super) fn decide(
    conn: &mut Conn,
    mission: &str,
    request: &DecisionRequest,
    at: Timestamp,
) -> Job<u32> {
    // The mission's row is the inbox's lock: two deciders at once get
    // numbers one after the other.
    if conn
        .query_opt(
            "SELECT 1 FROM missions WHERE id = ?1 FOR UPDATE",
            &[&mission],
        )?
        .is_none()
    {
        return Err(Error::NoSuchMission(mission.to_string()).into());
    }
    let id: i64 = conn.query(
        "SELECT COALESCE(MAX(id), 0) + 1 FROM decisions WHERE mission = ?1",
        &[&mission],
    )?[0]
        .get(0);
    conn.run(
        "INSERT INTO decisions
             (mission, id, escalation, action, argument, note, decided_by, decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &[
            &mission,
            &id,
            &i64::from(request.escalation),
            &request.decision.action(),
            &request.decision.argument(),
            &request.note,
            &request.by,
            &timestamp(at),
        ],
    )?;
    Ok(id as u32)
}
