//! The work queue between a mission's coordinator and its workers
//! (docs/workers.md). PostgreSQL only: SQLite has no `SKIP LOCKED` and is
//! one machine's file.
//!
//! A row of `work` is one attempt the coordinator dispatched: `queued`,
//! then `claimed` by a worker (`FOR UPDATE SKIP LOCKED`, a fresh `token`,
//! `lease_until` on the server's clock), then `done` when the worker sent
//! its end, or `expired` (the coordinator saw the lease run out),
//! `cancelled` (never claimed, and the run stopped). A worker's messages
//! go into `work_messages` only while its row is `claimed` with its token:
//! that is the fence that makes a late report from a worker whose lease
//! expired harmless. `sent` and `read` count the messages of an attempt
//! the worker sent and the coordinator read, so each poll reads only the
//! attempts with something new (a partial index on `sent > read`).

use super::Failure;
use super::conn::Conn;
use super::link::Link;
use crate::Result;

/// Version 2 of the schema: the work queue.
pub(super) const V2: &str = "
CREATE SEQUENCE work_tokens;

CREATE TABLE work (
    mission     TEXT NOT NULL REFERENCES missions (id),
    task        TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    -- Claim order: the coordinator enqueues in dispatch order.
    seq         BIGINT GENERATED ALWAYS AS IDENTITY,
    executor    TEXT NOT NULL,
    labels      TEXT[] NOT NULL,
    spec        TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'queued',
    worker      TEXT,
    token       BIGINT UNIQUE,
    lease_until TIMESTAMPTZ,
    cancel      BOOLEAN NOT NULL DEFAULT false,
    sent        BIGINT NOT NULL DEFAULT 0,
    read        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (mission, task, attempt)
);
CREATE INDEX work_queued ON work (seq) WHERE state = 'queued';
CREATE INDEX work_leases ON work (mission) WHERE state = 'claimed';
CREATE INDEX work_unread ON work (mission) WHERE sent > read;

CREATE TABLE work_messages (
    mission TEXT NOT NULL,
    task    TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    n       BIGINT NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (mission, task, attempt, n)
);
";

/// One attempt of one task of one mission.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkKey {
    pub mission: String,
    pub task: String,
    pub attempt: u32,
}

/// An attempt for the queue.
#[derive(Debug, Clone)]
pub struct NewWork {
    pub key: WorkKey,
    pub executor: String,
    /// The labels a worker must offer, sorted.
    pub labels: Vec<String>,
    /// What the worker runs, as the engine wrote it (JSON).
    pub spec: String,
}

/// Work a worker took: it holds it while it renews the lease of `token`.
#[derive(Debug, Clone)]
pub struct Claim {
    pub key: WorkKey,
    pub token: i64,
    pub spec: String,
}

/// A message a worker sent about an attempt; `n` counts from 1 within it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkMessage {
    pub task: String,
    pub attempt: u32,
    pub n: u64,
    pub body: String,
}

/// What a coordinator's poll found: new messages, in order within each
/// attempt, and the attempts whose lease expired (after their messages).
#[derive(Debug, Default)]
pub struct Polled {
    pub messages: Vec<WorkMessage>,
    pub expired: Vec<(String, u32)>,
}

/// Where a dispatched attempt stands, for a coordinator taking over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkState {
    /// Waiting for a worker.
    Queued,
    /// A worker holds it and its lease has not run out.
    Claimed,
    /// The worker sent its end.
    Done,
}

/// A renewal's answer for one claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Still ours; `cancel` when the coordinator asks the attempt to stop.
    Held { cancel: bool },
    /// Expired and given back, or cancelled before: stop, send nothing.
    Lost,
}

/// A connection to the work queue of a techlead database on PostgreSQL.
pub struct PgQueue {
    link: Link,
}

impl std::fmt::Debug for PgQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgQueue")
            .field("url", &self.link.target.shown)
            .finish_non_exhaustive()
    }
}

type Job<T> = std::result::Result<T, Failure>;

impl PgQueue {
    /// Connects to the database `url` names, creating or migrating
    /// techlead's schema as [`super::PgStore::open`] does.
    pub fn open(url: &str) -> Result<PgQueue> {
        Ok(PgQueue {
            link: Link::open(url, "techlead-queue")?,
        })
    }

    /// The URL without its password.
    pub fn shown_url(&self) -> &str {
        &self.link.target.shown
    }

    fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Conn) -> Job<T> + Send + 'static,
    ) -> Result<T> {
        self.link.call(job)
    }

    /// Puts attempts on the queue, in this order, in one transaction. An
    /// attempt already there is left as it is (a coordinator taking over
    /// may enqueue again what its predecessor did).
    pub fn enqueue(&self, work: Vec<NewWork>) -> Result<()> {
        self.call(move |conn| {
            conn.transaction(|conn| {
                for w in &work {
                    conn.run(
                        "INSERT INTO work (mission, task, attempt, executor, labels, spec)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                        &[
                            &w.key.mission,
                            &w.key.task,
                            &i64::from(w.key.attempt),
                            &w.executor,
                            &w.labels,
                            &w.spec,
                        ],
                    )?;
                }
                Ok(())
            })
        })
    }

    /// The coordinator's look at its mission: leases that ran out are
    /// expired first (so that no message of theirs can come after), then
    /// every message not read yet is read and counted as read.
    pub fn poll(&self, mission: &str) -> Result<Polled> {
        let mission = mission.to_string();
        self.call(move |conn| conn.transaction(|conn| poll(conn, &mission)))
    }

    /// Asks the workers running these attempts to stop them. Attempts no
    /// worker claimed yet are cancelled here and returned: nobody else
    /// will report their end.
    pub fn cancel(
        &self,
        mission: &str,
        attempts: Vec<(String, u32)>,
    ) -> Result<Vec<(String, u32)>> {
        let mission = mission.to_string();
        self.call(move |conn| {
            conn.transaction(|conn| {
                let mut never_claimed = Vec::new();
                for (task, attempt) in attempts {
                    let n = i64::from(attempt);
                    let params: [&(dyn postgres::types::ToSql + Sync); 3] = [&mission, &task, &n];
                    let cancelled = conn.run(
                        "UPDATE work SET state = 'cancelled'
                         WHERE mission = ?1 AND task = ?2 AND attempt = ?3 AND state = 'queued'",
                        &params,
                    )?;
                    if cancelled > 0 {
                        never_claimed.push((task, attempt));
                    } else {
                        conn.run(
                            "UPDATE work SET cancel = true
                             WHERE mission = ?1 AND task = ?2 AND attempt = ?3",
                            &params,
                        )?;
                    }
                }
                Ok(never_claimed)
            })
        })
    }

    /// The attempts of `mission` that are still somebody's: queued,
    /// claimed under a live lease, or done with their end not read.
    pub fn live(&self, mission: &str) -> Result<Vec<(String, u32, WorkState)>> {
        let mission = mission.to_string();
        self.call(move |conn| {
            let rows = conn.query(
                "SELECT task, attempt, state FROM work
                 WHERE mission = ?1 AND (state IN ('queued', 'done')
                       OR (state = 'claimed' AND lease_until >= now()))",
                &[&mission],
            )?;
            Ok(rows
                .iter()
                .map(|row| {
                    let state = match row.get::<_, &str>(2) {
                        "queued" => WorkState::Queued,
                        "claimed" => WorkState::Claimed,
                        _ => WorkState::Done,
                    };
                    (row.get(0), row.get::<_, i64>(1) as u32, state)
                })
                .collect())
        })
    }

    /// A coordinator taking over keeps `keep` (each with how many of its
    /// messages the record already holds, which it will not read again)
    /// and expires every other attempt of the mission still queued or
    /// claimed: their workers' reports are refused from now on.
    pub fn take_over(&self, mission: &str, keep: Vec<(String, u32, u64)>) -> Result<()> {
        let mission = mission.to_string();
        let tasks: Vec<String> = keep.iter().map(|k| k.0.clone()).collect();
        let attempts: Vec<i64> = keep.iter().map(|k| i64::from(k.1)).collect();
        let read: Vec<i64> = keep.iter().map(|k| k.2 as i64).collect();
        self.call(move |conn| {
            conn.transaction(|conn| {
                conn.run(
                    "UPDATE work w SET state = 'expired'
                     WHERE mission = ?1 AND state IN ('queued', 'claimed')
                       AND NOT EXISTS (SELECT 1 FROM unnest(?2::text[], ?3::bigint[]) k(task, attempt)
                                       WHERE k.task = w.task AND k.attempt = w.attempt)",
                    &[&mission, &tasks, &attempts],
                )?;
                conn.run(
                    "UPDATE work w SET read = k.n
                     FROM unnest(?2::text[], ?3::bigint[], ?4::bigint[]) AS k(task, attempt, n)
                     WHERE w.mission = ?1 AND w.task = k.task AND w.attempt = k.attempt",
                    &[&mission, &tasks, &attempts, &read],
                )?;
                Ok(())
            })
        })
    }

    /// Forgets the mission's queue (it finished).
    pub fn purge(&self, mission: &str) -> Result<()> {
        let mission = mission.to_string();
        self.call(move |conn| {
            conn.transaction(|conn| {
                conn.run("DELETE FROM work_messages WHERE mission = ?1", &[&mission])?;
                conn.run("DELETE FROM work WHERE mission = ?1", &[&mission])?;
                Ok(())
            })
        })
    }

    /// Takes up to `max` queued attempts this worker can run (an executor
    /// it has, every label the task requires among `labels`), oldest
    /// first, skipping rows other workers are taking at this moment.
    pub fn claim(
        &self,
        worker: &str,
        executors: &[String],
        labels: &[String],
        lease_ms: u64,
        max: u32,
    ) -> Result<Vec<Claim>> {
        let (worker, executors, labels) = (worker.to_string(), executors.to_vec(), labels.to_vec());
        self.call(move |conn| {
            let rows = conn.query(
                "UPDATE work w SET state = 'claimed', worker = ?1, token = nextval('work_tokens'),
                        lease_until = now() + ?4 * interval '1 millisecond'
                 FROM (SELECT mission, task, attempt FROM work
                       WHERE state = 'queued' AND executor = ANY(?2) AND labels <@ ?3
                       ORDER BY seq LIMIT ?5 FOR UPDATE SKIP LOCKED) c
                 WHERE w.mission = c.mission AND w.task = c.task AND w.attempt = c.attempt
                 RETURNING w.mission, w.task, w.attempt, w.token, w.spec",
                &[
                    &worker,
                    &executors,
                    &labels,
                    &(lease_ms as f64),
                    &i64::from(max),
                ],
            )?;
            Ok(rows
                .iter()
                .map(|row| Claim {
                    key: WorkKey {
                        mission: row.get(0),
                        task: row.get(1),
                        attempt: row.get::<_, i64>(2) as u32,
                    },
                    token: row.get(3),
                    spec: row.get(4),
                })
                .collect())
        })
    }

    /// Renews the leases of `tokens` for `lease_ms` from now (the
    /// server's clock), and says of each whether it is still held.
    pub fn heartbeat(&self, tokens: Vec<i64>, lease_ms: u64) -> Result<Vec<(i64, Lease)>> {
        self.call(move |conn| {
            let rows = conn.query(
                "UPDATE work SET lease_until = now() + ?2 * interval '1 millisecond'
                 WHERE token = ANY(?1) AND state = 'claimed'
                 RETURNING token, cancel",
                &[&tokens, &(lease_ms as f64)],
            )?;
            Ok(tokens
                .iter()
                .map(|&token| {
                    let held = rows.iter().find(|row| row.get::<_, i64>(0) == token);
                    let lease = held.map_or(Lease::Lost, |row| Lease::Held { cancel: row.get(1) });
                    (token, lease)
                })
                .collect())
        })
    }

    /// Sends messages about the attempt held by `token`, renewing its
    /// lease; `last` when they end it (the row is `done` then). Returns
    /// `false`, writing nothing, when the lease is no longer held.
    pub fn send(&self, token: i64, bodies: Vec<String>, last: bool, lease_ms: u64) -> Result<bool> {
        self.call(move |conn| {
            conn.transaction(|conn| {
                // The row stays locked until the commit: an expiry waits
                // for these messages, or they for it.
                let row = conn.query_opt(
                    "UPDATE work SET sent = sent + ?2,
                            lease_until = now() + ?4 * interval '1 millisecond',
                            state = CASE WHEN ?3 THEN 'done' ELSE state END
                     WHERE token = ?1 AND state = 'claimed'
                     RETURNING mission, task, attempt, sent",
                    &[&token, &(bodies.len() as i64), &last, &(lease_ms as f64)],
                )?;
                let Some(row) = row else {
                    return Ok(false);
                };
                let (mission, task, attempt, sent): (String, String, i64, i64) =
                    (row.get(0), row.get(1), row.get(2), row.get(3));
                let first = sent - bodies.len() as i64 + 1;
                for (i, body) in bodies.iter().enumerate() {
                    conn.run(
                        "INSERT INTO work_messages (mission, task, attempt, n, body)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        &[&mission, &task, &attempt, &(first + i as i64), body],
                    )?;
                }
                Ok(true)
            })
        })
    }
}

fn poll(conn: &mut Conn, mission: &String) -> Job<Polled> {
    let expired = conn
        .query(
            "UPDATE work SET state = 'expired'
             WHERE mission = ?1 AND state = 'claimed' AND lease_until < now()
             RETURNING task, attempt",
            &[mission],
        )?
        .iter()
        .map(|row| (row.get(0), row.get::<_, i64>(1) as u32))
        .collect();
    let rows = conn.query(
        "SELECT m.task, m.attempt, m.n, m.body FROM work w
         JOIN work_messages m ON m.mission = w.mission AND m.task = w.task
              AND m.attempt = w.attempt AND m.n > w.read AND m.n <= w.sent
         WHERE w.mission = ?1 AND w.sent > w.read
         ORDER BY m.task, m.attempt, m.n",
        &[mission],
    )?;
    let messages: Vec<WorkMessage> = rows
        .iter()
        .map(|row| WorkMessage {
            task: row.get(0),
            attempt: row.get::<_, i64>(1) as u32,
            n: row.get::<_, i64>(2) as u64,
            body: row.get(3),
        })
        .collect();
    // The last of each attempt's run of messages is how far it was read.
    let mut tasks: Vec<&str> = Vec::new();
    let mut attempts: Vec<i64> = Vec::new();
    let mut read: Vec<i64> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let last = messages
            .get(i + 1)
            .is_none_or(|next| (next.task.as_str(), next.attempt) != (m.task.as_str(), m.attempt));
        if last {
            tasks.push(&m.task);
            attempts.push(i64::from(m.attempt));
            read.push(m.n as i64);
        }
    }
    if !tasks.is_empty() {
        conn.run(
            "UPDATE work w SET read = x.n
             FROM unnest(?2::text[], ?3::bigint[], ?4::bigint[]) AS x(task, attempt, n)
             WHERE w.mission = ?1 AND w.task = x.task AND w.attempt = x.attempt",
            &[mission, &tasks, &attempts, &read],
        )?;
    }
    Ok(Polled { messages, expired })
}
