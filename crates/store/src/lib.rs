//! The durable record of missions: an append-only event log per mission,
//! plus projections (missions, tasks, attempts, agent performance,
//! escalations) kept in the same transaction so that history questions are
//! plain queries. The log is the truth; projections can be rebuilt from it.
//!
//! One implementation per backend behind [`Store`], tested by the same
//! suite: `sqlite` (embedded, the default) and `postgres` (for teams and
//! several machines). [`open`] picks one by what `--db` says; `changes`
//! notices commits for whoever follows the record live.

pub mod changes;
mod encoding;
mod holder;
pub mod postgres;

mod projection;
pub mod sqlite;
mod writer;

use jiff::Timestamp;
use serde::Serialize;
use std::path::PathBuf;
pub use techlead_core::portfolio::slots::{Admission, Demand};
use techlead_core::state::{Decision, Event, EventRecord, MissionPlan, MissionStatus};
pub use techlead_core::webhook::DeliveryTry;

/// A mission as listed by `techlead missions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissionRow {
    /// `name-N`: the mission's name and its run number among same-named
    /// missions in this store.
    pub id: String,
    pub name: String,
    pub status: MissionStatus,
    pub source: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub tasks: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub last_seq: u64,
}

/// What the store holds about one agent's work so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRecordRow {
    pub agent: String,
    pub attempts: u32,
    pub successes: u32,
    pub failures: u32,
    pub total_ms: u64,
}

/// The person's decision on an escalation, for the mission's writer to
/// carry out.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRequest {
    pub escalation: u32,
    pub decision: Decision,
    pub note: Option<String>,
    /// Who decided: `cli:<user>@<host>`, `api`, ...
    pub by: String,
}

/// A decision in a mission's inbox, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionRow {
    pub id: u32,
    pub escalation: u32,
    /// `Err(action)`: an action this build does not know.
    pub decision: std::result::Result<Decision, String>,
    pub note: Option<String>,
    pub by: String,
    pub decided_at: Timestamp,
    /// The event that carried it out.
    pub applied_seq: Option<u64>,
    /// Why the mission's writer refused it.
    pub refused: Option<String>,
}

/// An emergency mission holding agents (`techlead run --emergency`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreemptionRow {
    pub by: String,
    pub agents: Vec<String>,
    pub raised_at: Timestamp,
}

/// Why a store operation failed. Every variant says what to do next
/// through [`Error::hint`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `database` is a file's path or a PostgreSQL URL without its password.
    #[error("{database} is not a techlead database")]
    Foreign { database: String },
    #[error("{path} is damaged and cannot be read")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "{database} was written by a newer techlead (schema {found}, this one knows up to {supported})"
    )]
    TooNew {
        database: String,
        found: i64,
        supported: i64,
    },
    #[error("the disk holding {path} is full")]
    DiskFull { path: PathBuf },
    #[error("mission `{mission}` is being run by another techlead ({holder})")]
    Locked { mission: String, holder: String },
    #[error("no mission `{0}` in this database")]
    NoSuchMission(String),
    #[error(
        "mission `{mission}`: expected to append after event {expected}, but the log ends at {actual}"
    )]
    Conflict {
        mission: String,
        expected: u64,
        actual: u64,
    },
    #[error("event {seq} of mission `{mission}` cannot be read")]
    BadEvent {
        mission: String,
        seq: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{url}` is not a PostgreSQL URL techlead can use: {reason}")]
    BadUrl { url: String, reason: String },
    /// `url` is shown without its password.
    #[error("cannot reach the PostgreSQL server of {url}")]
    Unreachable {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the PostgreSQL server of {url} refused to log in")]
    LoginRefused {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the PostgreSQL server of {url} has no database `{name}`")]
    NoDatabase { url: String, name: String },
    #[error("database error")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot use {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Error::Foreign { .. } => {
                "pass --db with a techlead database, or a new file or empty database to create one in"
            }
            Error::Corrupt { .. } => {
                "restore the file from a backup, or move it away to start a new database"
            }
            Error::TooNew { .. } => "upgrade techlead, or use another --db",
            Error::DiskFull { .. } => {
                "free some disk space, then `techlead resume`: nothing recorded so far is lost"
            }
            Error::Locked { .. } => {
                "wait for that run to finish, or stop it; `techlead status` shows its progress"
            }
            Error::NoSuchMission(_) => "`techlead missions` lists the missions in this database",
            Error::Conflict { .. } => {
                "another process wrote to this mission; run one techlead per mission"
            }
            Error::BadEvent { .. } => {
                "the database was edited by hand or written by an incompatible version"
            }
            Error::BadUrl { .. } => {
                "write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE; a Unix socket's \
                 directory goes in the host, percent-encoded (%2Frun%2Fpostgresql), or in \
                 ?host=/run/postgresql"
            }
            Error::Unreachable { .. } => {
                "start the server, or check the host and port in --db; \
                 `pg_isready -d URL` says whether it answers"
            }
            Error::LoginRefused { .. } => {
                "check the user and password in --db; the server's pg_hba.conf says how each \
                 user must log in"
            }
            Error::NoDatabase { .. } => {
                "create it (`createdb NAME`, or CREATE DATABASE NAME as its owner), or name \
                 another in --db"
            }
            Error::Database(_) | Error::Io { .. } => return None,
        })
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The durable record. One writer per mission (see [`Store::lock`]); any
/// number of readers.
pub trait Store: Send {
    /// Records a new mission with `MissionCreated { plan }` as event 1 and
    /// returns its ID (`name-N`).
    fn create_mission(&mut self, plan: &MissionPlan, at: Timestamp) -> Result<String>;

    /// Appends `events` after event `after` (the caller's last known seq),
    /// in one transaction, durable when this returns; returns the records.
    /// Fails with [`Error::Conflict`] if the log has moved on.
    fn append(
        &mut self,
        mission: &str,
        after: u64,
        events: Vec<(Timestamp, Event)>,
    ) -> Result<Vec<EventRecord>>;

    /// Events of `mission` with seq greater than `after`, in order.
    fn events(&self, mission: &str, after: u64) -> Result<Vec<EventRecord>>;

    /// Every mission, newest first.
    fn missions(&self) -> Result<Vec<MissionRow>>;

    /// A mission by ID, or the newest mission with that name.
    fn find_mission(&self, id_or_name: &str) -> Result<Option<MissionRow>>;

    /// Per-agent totals over every mission.
    fn agent_records(&self) -> Result<Vec<AgentRecordRow>>;

    /// Takes the single-writer lock of `mission`, held until the guard is
    /// dropped or the process dies.
    fn lock(&self, mission: &str) -> Result<MissionLock>;

    /// Whether a writer holds `mission`'s lock now, looked at without
    /// taking it (`techlead watch` follows a run until it lets go).
    fn is_locked(&self, mission: &str) -> Result<bool>;

    /// Puts the person's decision on an escalation of `mission` in its
    /// inbox, durable when this returns, for the mission's writer to carry
    /// out or refuse (at once if a run holds the mission, else at the next
    /// `resume`); returns its number.
    fn request_decision(
        &mut self,
        mission: &str,
        request: &DecisionRequest,
        at: Timestamp,
    ) -> Result<u32>;

    /// The decisions in `mission`'s inbox, oldest first; with `pending`,
    /// only those its writer has not carried out or refused yet.
    fn decisions(&self, mission: &str, pending: bool) -> Result<Vec<DecisionRow>>;

    /// Records that emergency mission `by` needs `agents`: the writers of
    /// other missions suspend their non-critical work on them until
    /// [`Store::end_preemption`] (or until no run holds `by`).
    fn preempt(&mut self, by: &str, agents: &[String], at: Timestamp) -> Result<()>;

    /// The emergency mission `by` is over.
    fn end_preemption(&mut self, by: &str, at: Timestamp) -> Result<()>;

    /// The emergencies not ended, oldest first.
    fn preemptions(&self) -> Result<Vec<PreemptionRow>>;

    /// Publishes what a mission's run holds and waits for of the agents in
    /// `demands` (one row per agent, replacing its earlier one), for the
    /// other missions sharing them (`core::portfolio::slots`). Not the
    /// record: rows of a run that is no longer alive are ignored.
    fn publish_shares(&mut self, demands: &[Demand]) -> Result<()>;

    /// Asks for a slot of `mine.agent` for `mine.mission`: reads the other
    /// live missions' rows for the agent, decides with
    /// `core::portfolio::slots::admit`, and records `mine` (with the slot
    /// taken when admitted) in one transaction, so that two missions
    /// never take the same slot.
    fn take_slot(&mut self, mine: &Demand, now: Timestamp) -> Result<Admission>;

    /// Every published row of a run that is alive, by agent and mission.
    fn shares(&self) -> Result<Vec<Demand>>;

    /// `mission`'s run ends: its rows go.
    fn end_shares(&mut self, mission: &str) -> Result<()>;

    /// Records one try to deliver an event of `mission` to a webhook,
    /// durable when this returns (written by the mission's one writer
    /// process, from its delivery task).
    fn record_delivery(&mut self, mission: &str, attempt: &DeliveryTry) -> Result<()>;

    /// Every recorded webhook delivery try of `mission`, by webhook, event
    /// and try.
    fn deliveries(&self, mission: &str) -> Result<Vec<DeliveryTry>>;

    /// Where the store keeps its record, as `--db` takes it (a file, or a
    /// PostgreSQL URL with its password): agents are told it
    /// (`TECHLEAD_DB`) so that `techlead mcp` can read the mission.
    fn location(&self) -> Option<std::path::PathBuf> {
        None
    }
}

/// Proof that this process is the mission's one writer.
pub struct MissionLock {
    pub(crate) _release: Box<dyn Send>,
}

/// Opens the database `db` names: a `postgres://` or `postgresql://` URL
/// is a PostgreSQL database, anything else the path of a SQLite file.
/// Either is created (the schema in PostgreSQL, the file in SQLite) or
/// brought up to date.
pub fn open(db: impl AsRef<std::ffi::OsStr>) -> Result<Box<dyn Store>> {
    let db = db.as_ref();
    match db.to_str().filter(|db| postgres::is_postgres_url(db)) {
        Some(url) => Ok(Box::new(postgres::PgStore::open(url)?)),
        None => Ok(Box::new(sqlite::SqliteStore::open(std::path::Path::new(
            db,
        ))?)),
    }
}

/// A store chosen at run time (see [`open`]) is a store.
impl<S: Store + ?Sized> Store for Box<S> {
    fn create_mission(&mut self, plan: &MissionPlan, at: Timestamp) -> Result<String> {
        (**self).create_mission(plan, at)
    }
    fn append(
        &mut self,
        mission: &str,
        after: u64,
        events: Vec<(Timestamp, Event)>,
    ) -> Result<Vec<EventRecord>> {
        (**self).append(mission, after, events)
    }
    fn events(&self, mission: &str, after: u64) -> Result<Vec<EventRecord>> {
        (**self).events(mission, after)
    }
    fn missions(&self) -> Result<Vec<MissionRow>> {
        (**self).missions()
    }
    fn find_mission(&self, id_or_name: &str) -> Result<Option<MissionRow>> {
        (**self).find_mission(id_or_name)
    }
    fn agent_records(&self) -> Result<Vec<AgentRecordRow>> {
        (**self).agent_records()
    }
    fn lock(&self, mission: &str) -> Result<MissionLock> {
        (**self).lock(mission)
    }
    fn is_locked(&self, mission: &str) -> Result<bool> {
        (**self).is_locked(mission)
    }
    fn request_decision(
        &mut self,
        mission: &str,
        request: &DecisionRequest,
        at: Timestamp,
    ) -> Result<u32> {
        (**self).request_decision(mission, request, at)
    }
    fn decisions(&self, mission: &str, pending: bool) -> Result<Vec<DecisionRow>> {
        (**self).decisions(mission, pending)
    }
    fn preempt(&mut self, by: &str, agents: &[String], at: Timestamp) -> Result<()> {
        (**self).preempt(by, agents, at)
    }
    fn end_preemption(&mut self, by: &str, at: Timestamp) -> Result<()> {
        (**self).end_preemption(by, at)
    }
    fn preemptions(&self) -> Result<Vec<PreemptionRow>> {
        (**self).preemptions()
    }
    fn publish_shares(&mut self, demands: &[Demand]) -> Result<()> {
        (**self).publish_shares(demands)
    }
    fn take_slot(&mut self, mine: &Demand, now: Timestamp) -> Result<Admission> {
        (**self).take_slot(mine, now)
    }
    fn shares(&self) -> Result<Vec<Demand>> {
        (**self).shares()
    }
    fn end_shares(&mut self, mission: &str) -> Result<()> {
        (**self).end_shares(mission)
    }
    fn record_delivery(&mut self, mission: &str, attempt: &DeliveryTry) -> Result<()> {
        (**self).record_delivery(mission, attempt)
    }
    fn deliveries(&self, mission: &str) -> Result<Vec<DeliveryTry>> {
        (**self).deliveries(mission)
    }
    fn location(&self) -> Option<PathBuf> {
        (**self).location()
    }
}
