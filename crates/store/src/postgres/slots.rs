//! The `agent_shares` table on PostgreSQL: what each mission's run holds
//! and waits for of each agent with a `max_parallel` (as in SQLite,
//! `sqlite::slots`). A run is alive while a session holds its mission's
//! advisory lock; rows of the others are ignored. Slots are taken under
//! a table lock that only takers contend for, and committed without
//! waiting for the WAL flush: these rows coordinate live processes, they
//! are not the record.

use super::conn::Conn;
use super::read;
use super::schema::LOCK_CLASS;
use super::{Failure, Job};
use crate::encoding::timestamp;
use jiff::Timestamp;
use postgres::Row;
use techlead_core::portfolio::slots::{self, Admission, Demand};

/// Version 3: the table.
pub(super) const V3: &str = "
CREATE TABLE agent_shares (
    mission       TEXT NOT NULL REFERENCES missions (id),
    agent         TEXT NOT NULL,
    priority      BIGINT NOT NULL,
    share         BIGINT NOT NULL,
    slots         BIGINT NOT NULL,
    held          BIGINT NOT NULL,
    waiting       BIGINT NOT NULL,
    waiting_since TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (agent, mission)
);
";

/// The rows of live runs, then `$tail` (`?1`: the lock class). Advisory
/// locks are per database and `pg_locks` shows the whole server's: only
/// this database's count (another database's missions have the same
/// `lock_id`s).
macro_rules! live_rows {
    ($tail:literal $(,)?) => {
        concat!(
            "SELECT s.mission, s.agent, s.priority, s.share, s.slots, s.held, s.waiting,
                    s.waiting_since, s.updated_at
             FROM agent_shares s JOIN missions m ON m.id = s.mission
             WHERE EXISTS (SELECT 1 FROM pg_locks l
                           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                             AND l.database = (SELECT oid FROM pg_database
                                               WHERE datname = current_database())
                             AND l.classid::bigint = ?1 AND l.objid::bigint = m.lock_id)",
            $tail
        )
    };
}

fn demand(row: &Row) -> Result<Demand, Failure> {
    let since: Option<String> = row.try_get(7)?;
    let number = |i: usize| -> Result<i64, Failure> { Ok(row.try_get::<_, i64>(i)?) };
    Ok(Demand {
        mission: row.try_get(0)?,
        agent: row.try_get(1)?,
        priority: number(2)? as i32,
        share: number(3)? as u32,
        slots: number(4)? as u32,
        held: number(5)? as u32,
        waiting: number(6)? as u32,
        waiting_since: since.and_then(|s| s.parse().ok()),
        updated_at: read::time(row, 8)?,
    })
}

fn upsert(conn: &mut Conn, d: &Demand) -> Result<(), postgres::Error> {
    conn.run(
        "INSERT INTO agent_shares
             (mission, agent, priority, share, slots, held, waiting, waiting_since, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (agent, mission) DO UPDATE SET
             priority = ?3, share = ?4, slots = ?5, held = ?6, waiting = ?7,
             waiting_since = ?8, updated_at = ?9",
        &[
            &d.mission,
            &d.agent,
            &i64::from(d.priority),
            &i64::from(d.share),
            &i64::from(d.slots),
            &i64::from(d.held),
            &i64::from(d.waiting),
            &d.waiting_since.map(timestamp),
            &timestamp(d.updated_at),
        ],
    )?;
    Ok(())
}

/// `work` in a transaction whose commit does not wait for the WAL flush.
fn unsynced<T>(conn: &mut Conn, work: impl FnOnce(&mut Conn) -> Job<T>) -> Job<T> {
    conn.transaction(|conn| {
        conn.client
            .batch_execute("SET LOCAL synchronous_commit TO OFF")?;
        work(conn)
    })
}

pub(super) fn publish(conn: &mut Conn, demands: &[Demand]) -> Job<()> {
    unsynced(conn, |conn| {
        for d in demands {
            upsert(conn, d)?;
        }
        Ok(())
    })
}

/// Asks for a slot: the table locked against other takers (readers go on),
/// the live missions' rows read, the decision taken and `mine` written.
pub(super) fn take(conn: &mut Conn, mine: &Demand, now: Timestamp) -> Job<Admission> {
    unsynced(conn, |conn| {
        conn.client
            .batch_execute("LOCK TABLE agent_shares IN SHARE ROW EXCLUSIVE MODE")?;
        let others: Vec<Demand> = conn
            .query(
                live_rows!(" AND s.agent = ?2 AND s.mission <> ?3"),
                &[&i64::from(LOCK_CLASS), &mine.agent, &mine.mission],
            )?
            .iter()
            .map(demand)
            .collect::<Result<_, _>>()?;
        let admission = slots::admit(mine, &others, now);
        upsert(conn, &slots::after(mine, &admission, now))?;
        Ok(admission)
    })
}

pub(super) fn live(conn: &mut Conn) -> Job<Vec<Demand>> {
    conn.query(
        live_rows!(" ORDER BY s.agent, s.mission"),
        &[&i64::from(LOCK_CLASS)],
    )?
    .iter()
    .map(demand)
    .collect()
}

pub(super) fn end(conn: &mut Conn, mission: &str) -> Job<()> {
    conn.run("DELETE FROM agent_shares WHERE mission = ?1", &[&mission])?;
    Ok(())
}
