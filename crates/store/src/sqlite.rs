//! The SQLite store: one database file in WAL mode, `synchronous=FULL`
//! (every commit is on disk when `append` returns), one transaction per
//! `append` (group commit: the engine appends all of a scheduler
//! iteration's events at once), projections updated in that same
//! transaction, and a `flock` per mission for the one writer.
//!
//! - `schema`: the header check, application ID, schema version and
//!   migrations.
//! - `create`: a new database made whole beside its name, then linked in.
//! - `lock`: the per-mission lock file.
//! - `data_version`: commits noticed for the server's live feeds.
//!
//! docs/store.md describes the schema, the pragmas and every error.

mod bind;
mod create;
mod data_version;
mod inbox;
mod lock;
mod schema;
mod slots;
mod webhooks;

pub use data_version::DataVersion;
pub use lock::{lock_dir, lock_path};
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};

use crate::encoding::{self, Created, parse_status, timestamp};
use crate::projection::{self, MissionChange};
use crate::{AgentRecordRow, Error, MissionLock, MissionRow, Result, Store};
use bind::Tx;
use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use techlead_core::state::{Event, EventRecord, MissionPlan};

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync on every commit: a commit that returned survives power loss.
    /// What the engine uses.
    #[default]
    Full,
    /// fsync at checkpoints only: a commit survives a crash of techlead but
    /// the last ones may be lost on power loss. For throwaway databases.
    Normal,
}

impl Synchronous {
    /// The value of `PRAGMA synchronous`.
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// How to open a database. `Options::default()` is what techlead uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub synchronous: Synchronous,
    /// How long a statement waits for another process's write lock before
    /// failing (readers never wait for the writer in WAL mode).
    pub busy_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// The page cache of a connection, in KiB when negative (`PRAGMA
/// cache_size`). SQLite's default, 2,000 KiB, filled up during a 10,000-task
/// run and was 1 MB of its peak RSS; appending touches only the last pages
/// of each table and index, and the store bench (`append -- 10000 10 once`
/// under callgrind) executes the same instructions with 128 KiB as with
/// 2,000, so no page it needs again is evicted. Reads of a whole log scan it
/// once and gain nothing from a larger cache either.
const CACHE_SIZE: i64 = -512;

/// A techlead database in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    synchronous: Synchronous,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the database at `path` with the default [`Options`], creating
    /// it (and its parent directories) if it does not exist.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        SqliteStore::open_with(path, Options::default())
    }

    /// Opens or creates the database at `path`. A file that is not a
    /// techlead database, or is one from a newer techlead, is refused and
    /// left untouched.
    pub fn open_with(path: &Path, options: Options) -> Result<SqliteStore> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| io_error(parent, source))?;
        }
        if !path.exists() {
            create::create(path)?;
        }
        schema::check_header(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(sql(path))?;
        conn.busy_timeout(options.busy_timeout).map_err(sql(path))?;
        // Nothing is written before this check.
        schema::check(&conn, path)?;
        let journal: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sql(path))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(Error::Database(
                format!(
                    "{} cannot use a write-ahead log (journal mode {journal})",
                    path.display()
                )
                .into(),
            ));
        }
        conn.pragma_update(None, "synchronous", options.synchronous.pragma())
            .map_err(sql(path))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql(path))?;
        conn.pragma_update(None, "cache_size", CACHE_SIZE)
            .map_err(sql(path))?;
        if !schema::is_current(&conn, path)? {
            schema::migrate(&mut conn, path)?;
        }
        conn.set_prepared_statement_cache_capacity(64);
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            synchronous: options.synchronous,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        sql(&self.path)
    }

    /// The mission's row, its first event and its tasks, in one
    /// transaction at the connection's current `synchronous`.
    fn create_mission_now(&mut self, plan: &MissionPlan, at: Timestamp) -> Result<String> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(&path))?;
        let number: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM missions WHERE name = ?1",
                [&plan.name],
                |row| row.get(0),
            )
            .map_err(sql(&path))?;
        let id = format!("{}-{number}", plan.name);
        tx.execute(
            "INSERT INTO missions (id, name, number, status, source, created_at, updated_at, last_seq, tasks)
             VALUES (?1, ?2, ?3, 'created', ?4, ?5, ?5, 0, ?6)",
            params![id, plan.name, number, plan.source, timestamp(at), plan.tasks.len() as i64],
        )
        .map_err(sql(&path))?;
        // Written from the borrowed plan: a 10,000-task plan is megabytes,
        // and the caller keeps using its own.
        let body = serde_json::to_string(&Created::MissionCreated { plan })
            .map_err(|e| sql(&path)(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        tx.execute(
            "INSERT INTO events (mission, seq, at, type, task, body)
             VALUES (?1, 1, ?2, 'mission_created', NULL, ?3)",
            params![id, timestamp(at), body],
        )
        .map_err(sql(&path))?;
        drop(body);
        projection::project_created(&mut Tx(&tx), &id, plan).map_err(sql(&path))?;
        tx.execute("UPDATE missions SET last_seq = 1 WHERE id = ?1", [&id])
            .map_err(sql(&path))?;
        tx.commit().map_err(sql(&path))?;
        Ok(id)
    }

    fn set_synchronous(&self, level: Synchronous) -> Result<()> {
        self.conn
            .pragma_update(None, "synchronous", level.pragma())
            .map_err(self.sql())
    }

    fn mission_exists(&self, mission: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM missions WHERE id = ?1")
            .and_then(|mut s| s.exists([mission]))
            .map_err(self.sql())
    }

    /// Appends inside `tx`: checks the sequence, inserts and projects every
    /// event, updates the mission row.
    fn append_in(
        tx: &rusqlite::Transaction<'_>,
        mission: &str,
        after: u64,
        events: Vec<(Timestamp, Event)>,
    ) -> rusqlite::Result<std::result::Result<Vec<EventRecord>, Error>> {
        let last: Option<i64> = tx
            .prepare_cached("SELECT last_seq FROM missions WHERE id = ?1")?
            .query_row([mission], |row| row.get(0))
            .optional()?;
        let Some(last) = last else {
            return Ok(Err(Error::NoSuchMission(mission.to_string())));
        };
        if last as u64 != after {
            return Ok(Err(Error::Conflict {
                mission: mission.to_string(),
                expected: after,
                actual: last as u64,
            }));
        }
        let mut records = Vec::with_capacity(events.len());
        let mut stored = Vec::with_capacity(events.len());
        for (i, (at, event)) in events.into_iter().enumerate() {
            let record = EventRecord {
                seq: after + 1 + i as u64,
                at,
                event,
            };
            let body = serde_json::to_string(&record.event)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            // Formatted once, for the log and the projections.
            stored.push((timestamp(at), body));
            records.push(record);
        }
        // The log first, several rows per statement: an INSERT's own cost
        // (compiling nothing, but opening cursors, checking the mission
        // exists, finishing) is paid once for up to EVENT_ROWS events.
        let rows: Vec<_> = records.iter().zip(&stored).collect();
        for chunk in rows.chunks(EVENT_ROWS) {
            let mut insert = tx.prepare_cached(insert_events(chunk.len()))?;
            insert.raw_bind_parameter(1, mission)?;
            for (row, (record, (at, body))) in chunk.iter().enumerate() {
                let first = 2 + row * 5;
                insert.raw_bind_parameter(first, record.seq as i64)?;
                insert.raw_bind_parameter(first + 1, at)?;
                insert.raw_bind_parameter(first + 2, projection::event_type(&record.event))?;
                insert.raw_bind_parameter(first + 3, projection::event_task(&record.event))?;
                insert.raw_bind_parameter(first + 4, body)?;
            }
            insert.raw_execute()?;
        }
        let mut change = MissionChange::default();
        let projected: Vec<_> = rows
            .iter()
            .map(|(record, (at, _))| (*record, at.as_str()))
            .collect();
        projection::project_all(&mut Tx(tx), mission, &projected, &mut change)?;
        if let Some(last) = records.last() {
            projection::finish(&mut Tx(tx), mission, last, &change)?;
        }
        Ok(Ok(records))
    }
}

impl Store for SqliteStore {
    fn location(&self) -> Option<PathBuf> {
        Some(self.path.clone())
    }

    /// Commits without waiting for the disk: nothing acts on a new
    /// mission before its run's first commit, which syncs the log and with
    /// it this transaction (docs/store.md, "A new mission").
    fn create_mission(&mut self, plan: &MissionPlan, at: Timestamp) -> Result<String> {
        let full = self.synchronous == Synchronous::Full;
        if full {
            self.set_synchronous(Synchronous::Normal)?;
        }
        let created = self.create_mission_now(plan, at);
        if full {
            self.set_synchronous(self.synchronous)?;
        }
        created
    }

    fn append(
        &mut self,
        mission: &str,
        after: u64,
        events: Vec<(Timestamp, Event)>,
    ) -> Result<Vec<EventRecord>> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(&path))?;
        let records = Self::append_in(&tx, mission, after, events).map_err(sql(&path))??;
        tx.commit().map_err(sql(&path))?;
        Ok(records)
    }

    fn events(&self, mission: &str, after: u64) -> Result<Vec<EventRecord>> {
        if !self.mission_exists(mission)? {
            return Err(Error::NoSuchMission(mission.to_string()));
        }
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT seq, at, body FROM events WHERE mission = ?1 AND seq > ?2 ORDER BY seq",
            )
            .map_err(self.sql())?;
        let rows = statement
            .query_map(params![mission, after as i64], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(self.sql())?;
        let mut records = Vec::new();
        for row in rows {
            let (seq, at, body) = row.map_err(self.sql())?;
            records.push(encoding::record(mission, seq as u64, &at, &body)?);
        }
        Ok(records)
    }

    fn missions(&self) -> Result<Vec<MissionRow>> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "{MISSION_ROW} ORDER BY created_at DESC, rowid DESC"
            ))
            .map_err(self.sql())?;
        let rows = statement.query_map([], mission_row).map_err(self.sql())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql())
    }

    fn find_mission(&self, id_or_name: &str) -> Result<Option<MissionRow>> {
        let by_id = self
            .conn
            .prepare_cached(&format!("{MISSION_ROW} WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id_or_name], mission_row).optional())
            .map_err(self.sql())?;
        if by_id.is_some() {
            return Ok(by_id);
        }
        self.conn
            .prepare_cached(&format!(
                "{MISSION_ROW} WHERE name = ?1 ORDER BY number DESC LIMIT 1"
            ))
            .and_then(|mut s| s.query_row([id_or_name], mission_row).optional())
            .map_err(self.sql())
    }

    fn agent_records(&self) -> Result<Vec<AgentRecordRow>> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT agent, attempts, successes, failures, total_ms FROM agent_performance ORDER BY agent",
            )
            .map_err(self.sql())?;
        let rows = statement
            .query_map([], |row| {
                Ok(AgentRecordRow {
                    agent: row.get(0)?,
                    attempts: row.get(1)?,
                    successes: row.get(2)?,
                    failures: row.get(3)?,
                    total_ms: row.get::<_, i64>(4)? as u64,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql())
    }

    fn lock(&self, mission: &str) -> Result<MissionLock> {
        if !self.mission_exists(mission)? {
            return Err(Error::NoSuchMission(mission.to_string()));
        }
        lock::acquire(&self.path, mission)
    }

    fn is_locked(&self, mission: &str) -> Result<bool> {
        if !self.mission_exists(mission)? {
            return Err(Error::NoSuchMission(mission.to_string()));
        }
        Ok(lock::is_held(&self.path, mission))
    }

    fn request_decision(
        &mut self,
        mission: &str,
        request: &crate::DecisionRequest,
        at: Timestamp,
    ) -> Result<u32> {
        if !self.mission_exists(mission)? {
            return Err(Error::NoSuchMission(mission.to_string()));
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(&path))?;
        let id = inbox::insert(&tx, mission, request, at).map_err(sql(&path))?;
        tx.commit().map_err(sql(&path))?;
        Ok(id)
    }

    fn decisions(&self, mission: &str, pending: bool) -> Result<Vec<crate::DecisionRow>> {
        inbox::list(&self.conn, mission, pending).map_err(self.sql())
    }

    fn preempt(&mut self, by: &str, agents: &[String], at: Timestamp) -> Result<()> {
        if !self.mission_exists(by)? {
            return Err(Error::NoSuchMission(by.to_string()));
        }
        let agents = serde_json::to_string(agents).expect("names serialise");
        self.conn
            .execute(
                "INSERT INTO preemptions (by_mission, agents, raised_at) VALUES (?1, ?2, ?3)",
                params![by, agents, timestamp(at)],
            )
            .map_err(self.sql())?;
        Ok(())
    }

    fn end_preemption(&mut self, by: &str, at: Timestamp) -> Result<()> {
        self.conn
            .execute(
                "UPDATE preemptions SET ended_at = ?2 WHERE by_mission = ?1 AND ended_at IS NULL",
                params![by, timestamp(at)],
            )
            .map_err(self.sql())?;
        Ok(())
    }

    fn preemptions(&self) -> Result<Vec<crate::PreemptionRow>> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT by_mission, agents, raised_at FROM preemptions
                 WHERE ended_at IS NULL ORDER BY id",
            )
            .map_err(self.sql())?;
        let rows = statement
            .query_map([], |row| {
                let agents: String = row.get(1)?;
                Ok(crate::PreemptionRow {
                    by: row.get(0)?,
                    agents: serde_json::from_str(&agents).unwrap_or_default(),
                    raised_at: column(row, 2, |s| s.parse().ok())?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.sql())
    }

    fn publish_shares(&mut self, demands: &[crate::Demand]) -> Result<()> {
        let path = self.path.clone();
        slots::publish(&mut self.conn, demands).map_err(sql(&path))
    }

    fn take_slot(&mut self, mine: &crate::Demand, now: Timestamp) -> Result<crate::Admission> {
        let path = self.path.clone();
        slots::take(&mut self.conn, &path, mine, now).map_err(sql(&path))
    }

    fn shares(&self) -> Result<Vec<crate::Demand>> {
        slots::live(&self.conn, &self.path).map_err(self.sql())
    }

    fn end_shares(&mut self, mission: &str) -> Result<()> {
        let path = self.path.clone();
        slots::end(&mut self.conn, mission).map_err(sql(&path))
    }

    fn record_delivery(&mut self, mission: &str, attempt: &crate::DeliveryTry) -> Result<()> {
        if !self.mission_exists(mission)? {
            return Err(Error::NoSuchMission(mission.to_string()));
        }
        webhooks::record(&self.conn, mission, attempt).map_err(self.sql())
    }

    fn deliveries(&self, mission: &str) -> Result<Vec<crate::DeliveryTry>> {
        webhooks::list(&self.conn, mission).map_err(self.sql())
    }
}

/// Most events one `INSERT` writes.
const EVENT_ROWS: usize = 16;

/// `INSERT INTO events` of `rows` rows (1 to [`EVENT_ROWS`]): the mission is
/// `?1`, then five parameters a row.
fn insert_events(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        (1..=EVENT_ROWS)
            .map(|rows| {
                let values: Vec<String> = (0..rows)
                    .map(|row| {
                        let p = 2 + row * 5;
                        format!(
                            "(?1, ?{}, ?{}, ?{}, ?{}, ?{})",
                            p,
                            p + 1,
                            p + 2,
                            p + 3,
                            p + 4
                        )
                    })
                    .collect();
                format!(
                    "INSERT INTO events (mission, seq, at, type, task, body) VALUES {}",
                    values.join(", ")
                )
            })
            .collect()
    });
    &all[rows.clamp(1, EVENT_ROWS) - 1]
}

const MISSION_ROW: &str =
    "SELECT id, name, status, source, created_at, updated_at, tasks, succeeded, failed, last_seq
     FROM missions";

fn mission_row(row: &Row<'_>) -> rusqlite::Result<MissionRow> {
    Ok(MissionRow {
        id: row.get(0)?,
        name: row.get(1)?,
        status: column(row, 2, parse_status)?,
        source: row.get(3)?,
        created_at: column(row, 4, |s| s.parse().ok())?,
        updated_at: column(row, 5, |s| s.parse().ok())?,
        tasks: row.get(6)?,
        succeeded: row.get(7)?,
        failed: row.get(8)?,
        last_seq: row.get::<_, i64>(9)? as u64,
    })
}

/// A text column parsed into a value, or a conversion error naming it.
fn column<T>(
    row: &Row<'_>,
    index: usize,
    parse: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("unexpected value `{text}`").into(),
        )
    })
}

/// Maps an SQLite error to the store's error for the file at `path`.
fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |error| {
        use rusqlite::ErrorCode as Code;
        match error.sqlite_error_code() {
            Some(Code::DiskFull) => Error::DiskFull {
                path: path.to_path_buf(),
            },
            Some(Code::DatabaseCorrupt | Code::NotADatabase) => Error::Corrupt {
                path: path.to_path_buf(),
                source: Box::new(error),
            },
            _ => Error::Database(Box::new(error)),
        }
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    if source.kind() == std::io::ErrorKind::StorageFull {
        Error::DiskFull {
            path: path.to_path_buf(),
        }
    } else {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use techlead_core::state::{MissionStatus, TaskPlan};

    fn plan() -> MissionPlan {
        MissionPlan {
            name: "fill".to_string(),
            source: "fill.yaml".to_string(),
            workdir: ".".to_string(),
            max_parallel: 1,
            failure_threshold: 0.5,
            tasks: vec![TaskPlan {
                id: "a".to_string(),
                title: "A".to_string(),
                priority: techlead_core::Priority::Medium,
                agent: "builder".to_string(),
                executor: "command".to_string(),
                timeout_ms: 1,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// A full disk (here: SQLite's page limit, which fails the same way,
    /// with SQLITE_FULL) is `DiskFull`, loses the whole batch and nothing
    /// else, and the log goes on once there is room.
    #[test]
    fn a_full_disk_fails_the_whole_batch_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("full.db");
        let mut store = SqliteStore::open(&path).unwrap();
        let id = store
            .create_mission(&plan(), Timestamp::UNIX_EPOCH)
            .unwrap();
        let start = [(
            Timestamp::UNIX_EPOCH,
            Event::RunStarted {
                run: 1,
                pid: 1,
                host: "h".to_string(),
            },
        )];
        store.append(&id, 1, start.to_vec()).unwrap();
        fill_up(&store, 2);
        let big: Vec<(Timestamp, Event)> = (0..200)
            .map(|i| {
                (
                    Timestamp::UNIX_EPOCH,
                    Event::DispatchPaused {
                        reason: format!("{i} {}", "x".repeat(1_000)),
                    },
                )
            })
            .collect();
        let error = store.append(&id, 2, big.clone()).unwrap_err();
        assert!(matches!(error, Error::DiskFull { .. }), "{error:?}");
        assert!(error.hint().is_some());
        assert_eq!(store.events(&id, 0).unwrap().len(), 2);
        let row = store.find_mission(&id).unwrap().unwrap();
        assert_eq!((row.last_seq, row.status), (2, MissionStatus::Running));

        store
            .conn
            .pragma_update(None, "max_page_count", 1_000_000)
            .unwrap();
        assert_eq!(store.append(&id, 2, big).unwrap().len(), 200);
        let row = store.find_mission(&id).unwrap().unwrap();
        assert_eq!((row.last_seq, row.status), (202, MissionStatus::Paused));
    }

    /// Lets the file grow by `spare` pages only (SQLite's page limit fails
    /// the way a full disk does, with SQLITE_FULL).
    fn fill_up(store: &SqliteStore, spare: i64) {
        let pages: i64 = store
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .unwrap();
        store
            .conn
            .pragma_update(None, "max_page_count", pages + spare)
            .unwrap();
    }

    fn synchronous(store: &SqliteStore) -> i64 {
        store
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap()
    }

    /// A new mission commits without an fsync of its own (the run's first
    /// commit syncs it); every commit after it is synced again, whether
    /// the creation worked or failed.
    #[test]
    fn creating_a_mission_leaves_the_commits_after_it_synced() {
        const FULL: i64 = 2;
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("sync.db")).unwrap();
        assert_eq!(synchronous(&store), FULL);
        store
            .create_mission(&plan(), Timestamp::UNIX_EPOCH)
            .unwrap();
        assert_eq!(synchronous(&store), FULL);

        fill_up(&store, 0);
        let mut big = plan();
        big.tasks = (0..500)
            .map(|i| TaskPlan {
                id: format!("t{i}"),
                title: "x".repeat(200),
                ..big.tasks[0].clone()
            })
            .collect();
        let error = store
            .create_mission(&big, Timestamp::UNIX_EPOCH)
            .unwrap_err();
        assert!(matches!(error, Error::DiskFull { .. }), "{error:?}");
        assert_eq!(synchronous(&store), FULL);
    }

    /// A store opened for throwaway use keeps its level.
    #[test]
    fn a_normal_store_stays_normal_after_creating_a_mission() {
        const NORMAL: i64 = 1;
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            synchronous: Synchronous::Normal,
            ..Options::default()
        };
        let mut store = SqliteStore::open_with(&dir.path().join("n.db"), options).unwrap();
        store
            .create_mission(&plan(), Timestamp::UNIX_EPOCH)
            .unwrap();
        assert_eq!(synchronous(&store), NORMAL);
    }

    #[test]
    fn lock_files_have_one_plain_name_per_mission() {
        let db = Path::new("/data/techlead.db");
        assert_eq!(
            lock_path(db, "ship-1"),
            Path::new("/data/techlead.db.locks/ship-1.lock")
        );
        assert_eq!(
            lock_path(db, "../etc/x y%-1"),
            Path::new("/data/techlead.db.locks/%2E.%2Fetc%2Fx%20y%25-1.lock")
        );
        assert_ne!(lock_path(db, "a/b-1"), lock_path(db, "a_b-1"));
    }
}
