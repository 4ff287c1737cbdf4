//! Claim throughput of the work queue (docs/workers.md): `TASKS` queued
//! attempts, taken by 1, 4 and 16 workers on one machine, each a thread
//! with its own connection that claims one attempt, sends its end (as a
//! worker running `true` does) and claims the next. Prints tasks per
//! second and the median and p99 latency of a claim.
//!
//! Run with `cargo bench -p techlead-store --bench claims [-- TASKS]`
//! (default 2,000), on a throwaway server with fsync on (crates/testdb)
//! or the database in `BENCH_POSTGRES_URL`.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use techlead_core::state::{AttemptOutcome, MissionPlan};
use techlead_core::work::Message;
use techlead_store::Store;
use techlead_store::postgres::{NewWork, PgQueue, WorkKey};

fn main() {
    let tasks: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000);
    for workers in [1, 4, 16] {
        let url = match std::env::var("BENCH_POSTGRES_URL") {
            Ok(url) => url,
            Err(_) => match techlead_testdb::database() {
                Some(db) => db.url,
                None => return,
            },
        };
        let mission = enqueue(&url, tasks);
        let (elapsed, mut latencies) = drain(&url, workers);
        assert_eq!(latencies.len(), tasks, "every attempt claimed once");
        latencies.sort();
        let at =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        println!(
            "{workers:>2} workers: {tasks} tasks in {:.2} s, {:.0} tasks/s; claim latency median {:.2} ms, p99 {:.2} ms ({mission})",
            elapsed.as_secs_f64(),
            tasks as f64 / elapsed.as_secs_f64(),
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
        );
    }
}

/// A mission with `tasks` attempts on the queue; returns its ID.
fn enqueue(url: &str, tasks: usize) -> String {
    let mut store = techlead_store::postgres::PgStore::open(url).unwrap();
    let plan = MissionPlan {
        name: "claims".into(),
        ..serde_json::from_str::<MissionPlan>(PLAN).unwrap()
    };
    let id = store.create_mission(&plan, jiff::Timestamp::now()).unwrap();
    let queue = PgQueue::open(url).unwrap();
    let work = (0..tasks)
        .map(|i| NewWork {
            key: WorkKey {
                mission: id.clone(),
                task: format!("T{i:05}"),
                attempt: 1,
            },
            executor: "command".into(),
            labels: Vec::new(),
            spec: r#"{"command":["true"]}"#.into(),
        })
        .collect();
    queue.enqueue(work).unwrap();
    id
}

/// Runs `workers` claimers until the queue is empty.
fn drain(url: &str, workers: usize) -> (Duration, Vec<Duration>) {
    let barrier = Arc::new(Barrier::new(workers + 1));
    let end = serde_json::to_string(&Message::Finished {
        outcome: AttemptOutcome::Succeeded { summary: None },
        duration_ms: 0,
    })
    .unwrap();
    let threads: Vec<_> = (0..workers)
        .map(|w| {
            let (url, barrier, end) = (url.to_string(), barrier.clone(), end.clone());
            std::thread::spawn(move || {
                let queue = PgQueue::open(&url).unwrap();
                let (name, executors) = (format!("w{w}"), vec!["command".to_string()]);
                barrier.wait();
                let mut latencies = Vec::new();
                loop {
                    let asked = Instant::now();
                    let claims = queue.claim(&name, &executors, &[], 30_000, 1).unwrap();
                    let Some(claim) = claims.into_iter().next() else {
                        return latencies;
                    };
                    latencies.push(asked.elapsed());
                    assert!(
                        queue
                            .send(claim.token, vec![end.clone()], true, 30_000)
                            .unwrap()
                    );
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let latencies = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    (start.elapsed(), latencies)
}

/// The smallest plan the store accepts: the queue needs only its mission.
const PLAN: &str = r#"{"name":"claims","objective":"","source":"bench.yaml","source_hash":"","workdir":"/","max_parallel":16,"failure_threshold":0.5,"backoff_ms":[],"launch_delay_ms":0,"executor_limits":[],"agent_limits":[],"phases":[],"tasks":[]}"#;
