//! The PostgreSQL store: the same event log and projections as SQLite in
//! the schema `techlead` of the database `--db postgres://...` names, for
//! teams and for several machines. One transaction per `append` (durable
//! when it returns), projections in it, seq numbers without gaps (the
//! mission's row is locked `FOR UPDATE` while its events are appended),
//! and the one-writer lock as a session-level advisory lock.
//!
//! - `session`: the connection on a thread of its own (safe to call from
//!   inside a tokio runtime).
//! - `conn`: prepared statements, transactions, the shared projections'
//!   writer.
//! - `url`: parsing and showing the URL; connection errors with hints.
//! - `schema`: the schema version and migrations.
//! - `lock`: the advisory lock on a session of its own.
//! - `read`: rows into the store's types.
//! - `slots`: what each mission's run holds and waits for of shared
//!   agents (`core::portfolio::slots`).
//! - `listen`: commits noticed for the server's live feeds (`LISTEN`).
//! - `work`: the work queue between a coordinator and its workers
//!   (`PgQueue`, docs/workers.md).
//!
//! docs/postgres.md says how to use it and how it differs from SQLite.

mod conn;
mod link;
mod listen;
mod lock;
mod read;
mod schema;
mod session;
mod slots;
mod url;
mod work;
mod write;

pub use listen::{CHANNEL, CHECK, Listener};
pub use schema::{LOCK_CLASS, SCHEMA, SCHEMA_VERSION};
pub use url::{is_postgres_url, redact};
pub use work::{Claim, Lease, NewWork, PgQueue, Polled, WorkKey, WorkMessage, WorkState};

use crate::encoding::{self, Created, timestamp};
use crate::{
    AgentRecordRow, DecisionRequest, DecisionRow, Error, MissionLock, MissionRow, PreemptionRow,
    Result, Store,
};
use conn::Conn;
use jiff::Timestamp;
use link::Link;
use techlead_core::state::{Event, EventRecord, MissionPlan};
use techlead_core::webhook::DeliveryTry;

/// Why a job on the connection failed: the server's error (mapped with
/// the URL by [`PgStore::call`]), or the store's own.
enum Failure {
    Pg(postgres::Error),
    Store(Error),
}

impl From<postgres::Error> for Failure {
    fn from(error: postgres::Error) -> Self {
        Failure::Pg(error)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Store(error)
    }
}

type Job<T> = std::result::Result<T, Failure>;

/// A techlead database on a PostgreSQL server.
pub struct PgStore {
    link: Link,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.link.target.shown)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database `url` names, creating techlead's schema
    /// in it or bringing it up to date. A schema that is not techlead's, or
    /// is from a newer techlead, is refused and left untouched.
    pub fn open(url: &str) -> Result<PgStore> {
        Ok(PgStore {
            link: Link::open(url, "techlead-postgres")?,
        })
    }

    /// The URL without its password.
    pub fn shown_url(&self) -> &str {
        &self.link.target.shown
    }

    /// Runs `job` on the connection's thread.
    fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Conn) -> Job<T> + Send + 'static,
    ) -> Result<T> {
        self.link.call(job)
    }

    fn lock_id(&self, mission: &str) -> Result<i32> {
        let id = mission.to_string();
        self.call(move |conn| {
            let row = conn.query_opt("SELECT lock_id FROM missions WHERE id = ?1", &[&id])?;
            row.map(|row| row.get(0))
                .ok_or_else(|| Failure::Store(Error::NoSuchMission(id)))
        })
    }
}

impl Store for PgStore {
    fn location(&self) -> Option<std::path::PathBuf> {
        Some(self.link.target.url.clone().into())
    }

    fn create_mission(&mut self, plan: &MissionPlan, at: Timestamp) -> Result<String> {
        // Written here from the borrowed plan; the job needs only the
        // tasks' rows, which it takes from a copy.
        let body = serde_json::to_string(&Created::MissionCreated { plan })
            .map_err(|e| Error::Database(Box::new(e)))?;
        let plan = plan.clone();
        self.call(move |conn| conn.transaction(|conn| write::create(conn, &plan, at, &body)))
    }

    fn append(
        &mut self,
        mission: &str,
        after: u64,
        events: Vec<(Timestamp, Event)>,
    ) -> Result<Vec<EventRecord>> {
        let mission = mission.to_string();
        self.call(move |conn| {
            let records = conn.transaction(|conn| write::append(conn, &mission, after, events))?;
            if !records.is_empty() {
                write::announce(conn, &mission);
            }
            Ok(records)
        })
    }

    fn events(&self, mission: &str, after: u64) -> Result<Vec<EventRecord>> {
        self.lock_id(mission)?;
        let mission = mission.to_string();
        self.call(move |conn| {
            let rows = conn.query(
                "SELECT seq, at, body FROM events WHERE mission = ?1 AND seq > ?2 ORDER BY seq",
                &[&mission, &(after as i64)],
            )?;
            rows.iter()
                .map(|row| {
                    let (seq, at, body): (i64, &str, &str) = (row.get(0), row.get(1), row.get(2));
                    Ok(encoding::record(&mission, seq as u64, at, body)?)
                })
                .collect()
        })
    }

    fn missions(&self) -> Result<Vec<MissionRow>> {
        self.call(|conn| {
            let sql = read::mission_row!(" ORDER BY created_at DESC, lock_id DESC");
            conn.query(sql, &[])?.iter().map(read::mission).collect()
        })
    }

    fn find_mission(&self, id_or_name: &str) -> Result<Option<MissionRow>> {
        let key = id_or_name.to_string();
        self.call(move |conn| {
            let by_id = read::mission_row!(" WHERE id = ?1");
            let by_name = read::mission_row!(" WHERE name = ?1 ORDER BY number DESC LIMIT 1");
            let row = match conn.query_opt(by_id, &[&key])? {
                Some(row) => Some(row),
                None => conn.query_opt(by_name, &[&key])?,
            };
            row.as_ref().map(read::mission).transpose()
        })
    }

    fn agent_records(&self) -> Result<Vec<AgentRecordRow>> {
        self.call(|conn| {
            conn.query(
                "SELECT agent, attempts, successes, failures, total_ms FROM agent_performance
                 ORDER BY agent",
                &[],
            )?
            .iter()
            .map(read::agent_record)
            .collect()
        })
    }

    fn lock(&self, mission: &str) -> Result<MissionLock> {
        let key = self.lock_id(mission)?;
        lock::acquire(&self.link.target, mission, key)
    }

    fn is_locked(&self, mission: &str) -> Result<bool> {
        let key = self.lock_id(mission)?;
        self.call(move |conn| {
            let held = conn.query(
                // pg_locks is the whole server's; advisory locks are per
                // database, and another database has the same lock IDs.
                "SELECT EXISTS (SELECT 1 FROM pg_locks
                 WHERE locktype = 'advisory' AND granted AND objsubid = 2
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND classid::bigint = ?1 AND objid::bigint = ?2)",
                &[&i64::from(LOCK_CLASS), &i64::from(key)],
            )?;
            Ok(held[0].get(0))
        })
    }

    fn request_decision(
        &mut self,
        mission: &str,
        request: &DecisionRequest,
        at: Timestamp,
    ) -> Result<u32> {
        let (mission, request) = (mission.to_string(), request.clone());
        self.call(move |conn| conn.transaction(|conn| write::decide(conn, &mission, &request, at)))
    }

    fn decisions(&self, mission: &str, pending: bool) -> Result<Vec<DecisionRow>> {
        let mission = mission.to_string();
        self.call(move |conn| {
            let sql = if pending {
                read::decision_row!(
                    " WHERE mission = ?1 AND applied_seq IS NULL AND refused IS NULL ORDER BY id",
                )
            } else {
                read::decision_row!(" WHERE mission = ?1 ORDER BY id")
            };
            conn.query(sql, &[&mission])?
                .iter()
                .map(read::decision)
                .collect()
        })
    }

    fn preempt(&mut self, by: &str, agents: &[String], at: Timestamp) -> Result<()> {
        self.lock_id(by)?;
        let by = by.to_string();
        let agents = serde_json::to_string(agents).expect("names serialise");
        self.call(move |conn| {
            conn.run(
                "INSERT INTO preemptions (by_mission, agents, raised_at) VALUES (?1, ?2, ?3)",
                &[&by, &agents, &timestamp(at)],
            )?;
            Ok(())
        })
    }

    fn end_preemption(&mut self, by: &str, at: Timestamp) -> Result<()> {
        let by = by.to_string();
        self.call(move |conn| {
            conn.run(
                "UPDATE preemptions SET ended_at = ?2 WHERE by_mission = ?1 AND ended_at IS NULL",
                &[&by, &timestamp(at)],
            )?;
            Ok(())
        })
    }

    fn preemptions(&self) -> Result<Vec<PreemptionRow>> {
        self.call(|conn| {
            conn.query(
                "SELECT by_mission, agents, raised_at FROM preemptions
                 WHERE ended_at IS NULL ORDER BY id",
                &[],
            )?
            .iter()
            .map(read::preemption)
            .collect()
        })
    }

    fn publish_shares(&mut self, demands: &[crate::Demand]) -> Result<()> {
        let demands = demands.to_vec();
        self.call(move |conn| slots::publish(conn, &demands))
    }

    fn take_slot(&mut self, mine: &crate::Demand, now: Timestamp) -> Result<crate::Admission> {
        let mine = mine.clone();
        self.call(move |conn| slots::take(conn, &mine, now))
    }

    fn shares(&self) -> Result<Vec<crate::Demand>> {
        self.call(slots::live)
    }

    fn end_shares(&mut self, mission: &str) -> Result<()> {
        let mission = mission.to_string();
        self.call(move |conn| slots::end(conn, &mission))
    }

    fn record_delivery(&mut self, mission: &str, attempt: &DeliveryTry) -> Result<()> {
        self.lock_id(mission)?;
        let (mission, t) = (mission.to_string(), attempt.clone());
        self.call(move |conn| {
            conn.run(
                "INSERT INTO webhook_deliveries
                     (mission, hook, seq, try, at, status, error, duration_ms, delivered)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                &[
                    &mission,
                    &t.hook,
                    &(t.seq as i64),
                    &i64::from(t.number),
                    &timestamp(t.at),
                    &t.status.map(i64::from),
                    &t.error,
                    &(t.duration_ms as i64),
                    &t.delivered,
                ],
            )?;
            Ok(())
        })
    }

    fn deliveries(&self, mission: &str) -> Result<Vec<DeliveryTry>> {
        let mission = mission.to_string();
        self.call(move |conn| {
            conn.query(
                "SELECT hook, seq, try, at, status, error, duration_ms, delivered
                 FROM webhook_deliveries WHERE mission = ?1 ORDER BY hook, seq, try",
                &[&mission],
            )?
            .iter()
            .map(read::delivery)
            .collect()
        })
    }
}
