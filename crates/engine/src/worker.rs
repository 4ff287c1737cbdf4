//! `techlead worker`: claims attempts from the PostgreSQL work queue, runs
//! each with its local executor in its own directory, and sends what
//! happens back for the coordinator to record (docs/workers.md). A worker
//! never writes mission state.
//!
//! One loop owns the worker's claims: it claims while it has room, renews
//! every lease on one heartbeat, and stops an attempt whose lease is lost
//! (expired and given to another worker, or cancelled by the coordinator)
//! or has lapsed on its own clock (the database is out of reach, so the
//! coordinator will give the work away). Each attempt runs in a task of
//! its own (`attempt`) that sends its messages in order.

mod attempt;
mod repo;
mod spec;

pub use spec::{RepoSpec, WorkSpec, remote_ref};

use crate::executor::{Executor, report_socket};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use techlead_core::state::AttemptOutcome;
use techlead_core::work::LeaseTerms;
use techlead_store::postgres::{Claim, Lease, PgQueue, WorkKey};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Why a worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] techlead_store::Error),
    #[error("the worker's directory {path} cannot be used")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How a worker works.
pub struct Config {
    /// How it names itself in the queue (`host:pid` unless told).
    pub name: String,
    /// The executors it runs; it claims only tasks on one of them.
    pub executors: Vec<Arc<dyn Executor>>,
    /// What it offers; it claims only tasks whose labels are all here.
    pub labels: Vec<String>,
    /// Attempts at once.
    pub capacity: u32,
    pub lease: LeaseTerms,
    /// Its own directory: `work/<mission>` is where tasks of a mission
    /// without a repository run, `repos/` holds a clone per repository
    /// with the tasks' worktrees, `runs/` has the attempts' files.
    pub dir: PathBuf,
    /// The database as the worker was given it: `techlead mcp`, which
    /// agents start for their tools, reads handoffs and answers there.
    pub db: PathBuf,
}

/// What a worker did, for the person watching it.
#[derive(Debug, Clone, PartialEq)]
pub enum Activity {
    Claimed(WorkKey),
    Finished {
        key: WorkKey,
        outcome: AttemptOutcome,
        duration_ms: u64,
    },
    /// The lease was lost: the attempt was stopped and its end not
    /// recorded (another worker runs the task, or the run stopped it).
    Lost(WorkKey),
}

/// An attempt this worker holds.
struct Held {
    cancel: CancellationToken,
    renewed: Instant,
}

/// When the idle worker looks for work again: soon after it found some,
/// backing off to this while the queue stays empty.
const IDLE_POLL_MAX: Duration = Duration::from_millis(250);
const IDLE_POLL_MIN: Duration = Duration::from_millis(10);

/// Runs until `stop` is cancelled, then stops its attempts (their ends
/// are sent as cancelled, so the coordinator runs them again without
/// using a retry) and returns.
pub async fn run(
    queue: Arc<PgQueue>,
    config: Config,
    activity: mpsc::UnboundedSender<Activity>,
    stop: CancellationToken,
) -> Result<(), Error> {
    let runs = config.dir.join("runs");
    std::fs::create_dir_all(&runs).map_err(|source| Error::Dir {
        path: runs.clone(),
        source,
    })?;
    // Attempts a killed earlier worker in this directory left running.
    crate::orphans::reap(&scope(&config));
    let config = Arc::new(config);
    let reports = report_socket::Reports::new(config.dir.join(report_socket::FILE_NAME));
    let executors: Vec<String> = config
        .executors
        .iter()
        .map(|e| e.name().to_string())
        .collect();
    let started = Instant::now();
    let (done, mut ended) = mpsc::unbounded_channel::<i64>();
    let mut held: HashMap<i64, Held> = HashMap::new();
    let mut idle = IDLE_POLL_MIN;
    let mut next_claim = Instant::now();
    let heartbeat = Duration::from_millis(config.lease.heartbeat_ms());
    let mut next_beat = Instant::now() + heartbeat;
    loop {
        if stop.is_cancelled() {
            for h in held.values() {
                h.cancel.cancel();
            }
            if held.is_empty() {
                return Ok(());
            }
        }
        let room = config.capacity.saturating_sub(held.len() as u32);
        if room > 0 && !stop.is_cancelled() && Instant::now() >= next_claim {
            let claims = claim(&queue, &config, &executors, room).await;
            idle = match claims.is_empty() {
                true => (idle * 2).min(IDLE_POLL_MAX),
                false => IDLE_POLL_MIN,
            };
            next_claim = Instant::now()
                + if claims.is_empty() {
                    idle
                } else {
                    Duration::ZERO
                };
            for claim in claims {
                let _ = activity.send(Activity::Claimed(claim.key.clone()));
                held.insert(
                    claim.token,
                    start(&queue, &config, &reports, claim, &activity, &done),
                );
            }
        }
        if Instant::now() >= next_beat {
            beat(&queue, &config, &mut held, started).await;
            next_beat = Instant::now() + heartbeat;
        }
        let wake = match room > 0 && !stop.is_cancelled() {
            true => next_claim.min(next_beat),
            false => next_beat,
        };
        tokio::select! {
            Some(token) = ended.recv() => { held.remove(&token); }
            () = tokio::time::sleep_until(wake.into()) => {}
            () = stop.cancelled(), if !stop.is_cancelled() => {}
        }
    }
}

/// The mark on this worker's attempts' processes, so that the next worker
/// in the same directory kills what a killed one left behind.
fn scope(config: &Config) -> String {
    crate::orphans::scope(&config.dir, "worker")
}

async fn claim(
    queue: &Arc<PgQueue>,
    config: &Arc<Config>,
    executors: &[String],
    room: u32,
) -> Vec<Claim> {
    let (queue, config, executors) = (queue.clone(), config.clone(), executors.to_vec());
    let claimed = tokio::task::spawn_blocking(move || {
        queue.claim(
            &config.name,
            &executors,
            &config.labels,
            config.lease.ttl_ms,
            room,
        )
    })
    .await;
    // A database out of reach: try again at the next poll.
    claimed.ok().and_then(Result::ok).unwrap_or_default()
}

fn start(
    queue: &Arc<PgQueue>,
    config: &Arc<Config>,
    reports: &Arc<report_socket::Reports>,
    claim: Claim,
    activity: &mpsc::UnboundedSender<Activity>,
    done: &mpsc::UnboundedSender<i64>,
) -> Held {
    let cancel = CancellationToken::new();
    let held = Held {
        cancel: cancel.clone(),
        renewed: Instant::now(),
    };
    let run = attempt::Run {
        queue: queue.clone(),
        config: config.clone(),
        scope: scope(config),
        activity: activity.clone(),
        reports: reports.clone(),
    };
    let done = done.clone();
    tokio::spawn(async move {
        let token = claim.token;
        run.attempt(claim, cancel).await;
        let _ = done.send(token);
    });
    held
}

/// Renews every lease; stops the attempts whose lease is lost, whose
/// coordinator asks them to stop, or that lapsed while the database was
/// out of reach.
async fn beat(
    queue: &Arc<PgQueue>,
    config: &Arc<Config>,
    held: &mut HashMap<i64, Held>,
    started: Instant,
) {
    if held.is_empty() {
        return;
    }
    let tokens: Vec<i64> = held.keys().copied().collect();
    let (q, ttl) = (queue.clone(), config.lease.ttl_ms);
    let answer = tokio::task::spawn_blocking(move || q.heartbeat(tokens, ttl)).await;
    let at = |instant: Instant| instant.duration_since(started).as_millis() as u64;
    match answer.ok().and_then(Result::ok) {
        Some(leases) => {
            for (token, lease) in leases {
                let Some(h) = held.get_mut(&token) else {
                    continue;
                };
                match lease {
                    Lease::Held { cancel } => {
                        h.renewed = Instant::now();
                        if cancel {
                            h.cancel.cancel();
                        }
                    }
                    Lease::Lost => h.cancel.cancel(),
                }
            }
        }
        None => {
            let now = at(Instant::now());
            for h in held.values() {
                if config.lease.lapsed(at(h.renewed), now) {
                    h.cancel.cancel();
                }
            }
        }
    }
}
