//! What the store costs per task of a mission of `true` tasks, as the
//! engine writes it: every task's attempt queued, started and finished,
//! appended in batches of about ten events (one group commit), on a real
//! file in WAL mode.
//!
//! Run with `cargo bench -p techlead-store --bench append [-- TASKS BATCH]`
//! (defaults 2,000 and 10). It prints the time per task with
//! `synchronous=FULL` (as techlead runs) and with `NORMAL` (no fsync per
//! commit: the CPU alone), medians of 3 runs. With `once` it makes one run
//! with `NORMAL` only: run the built bench that way under
//! `valgrind --tool=callgrind` for instruction counts, or `strace -c` for
//! the WAL writes. With `postgres` it runs the same on PostgreSQL instead:
//! a throwaway server on a Unix socket with fsync on (crates/testdb), or
//! the database in `BENCH_POSTGRES_URL`.

use jiff::Timestamp;
use std::time::Instant;
use techlead_core::Priority;
use techlead_core::state::{AttemptOutcome, Event, MissionPlan, NextStep, TaskPlan};
use techlead_store::Store;
use techlead_store::sqlite::{Options, SqliteStore, Synchronous};

fn plan(tasks: usize) -> MissionPlan {
    MissionPlan {
        name: "bench".to_string(),
        objective: String::new(),
        project_type: None,
        source: "bench.yaml".to_string(),
        source_hash: String::new(),
        workdir: "/work".to_string(),
        max_parallel: 2,
        failure_threshold: 0.5,
        backoff_ms: vec![],
        launch_delay_ms: 0,
        executor_limits: vec![],
        agent_limits: vec![],
        deadline: None,
        phases: vec![],
        tasks: (0..tasks)
            .map(|i| TaskPlan {
                id: format!("T{i:05}"),
                title: "t".to_string(),
                priority: Priority::Medium,
                agent: "general-purpose".to_string(),
                executor: "command".to_string(),
                command: Some(vec!["true".to_string()]),
                timeout_ms: 3_600_000,
                retries: 2,
                ..Default::default()
            })
            .collect(),
        agents: Vec::new(),
        budget: Default::default(),
        repository: None,
        done_when: Vec::new(),
        webhooks: Vec::new(),
        emergency: false,
        standing: Default::default(),
        on_blocked: Default::default(),
        forecast: Default::default(),
    }
}

/// The events of a run, in the order the engine writes them at P = 2:
/// each task is claimed two tasks ahead of its start.
fn events(mission: &str, tasks: usize) -> Vec<Event> {
    let task = |i: usize| format!("T{i:05}");
    let queued = |i: usize| Event::AttemptQueued {
        task: task(i),
        attempt: 1,
        agent: "general-purpose".to_string(),
        executor: "command".to_string(),
        dir: format!("runs/{mission}/{}.1", task(i)),
    };
    let mut all = vec![Event::RunStarted {
        run: 1,
        pid: 1,
        host: "bench".to_string(),
    }];
    all.extend((0..tasks.min(2)).map(queued));
    for i in 0..tasks {
        all.push(Event::AttemptStarted {
            task: task(i),
            attempt: 1,
        });
        if i + 2 < tasks {
            all.push(queued(i + 2));
        }
        all.push(Event::AttemptFinished {
            task: task(i),
            attempt: 1,
            outcome: AttemptOutcome::Succeeded { summary: None },
            duration_ms: 1,
            next: NextStep::Done,
        });
    }
    all
}

fn run(tasks: usize, batch: usize, synchronous: Synchronous) -> f64 {
    let dir = tempfile::tempdir_in(std::env::var_os("BENCH_DIR").unwrap_or(".".into()))
        .expect("a scratch directory");
    let options = Options {
        synchronous,
        ..Options::default()
    };
    let mut store = SqliteStore::open_with(&dir.path().join("techlead.db"), options).unwrap();
    time(&mut store, tasks, batch)
}

/// Microseconds per task of appending a run of `tasks` to a new mission.
fn time(store: &mut dyn Store, tasks: usize, batch: usize) -> f64 {
    let id = store
        .create_mission(&plan(tasks), Timestamp::now())
        .unwrap();
    let events = events(&id, tasks);
    let start = Instant::now();
    let mut last = 1;
    for chunk in events.chunks(batch) {
        let now = Timestamp::now();
        let records = store
            .append(&id, last, chunk.iter().map(|e| (now, e.clone())).collect())
            .unwrap();
        last = records.last().unwrap().seq;
    }
    start.elapsed().as_secs_f64() * 1e6 / tasks as f64
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let tasks = numbers.first().copied().unwrap_or(2_000);
    let batch = numbers.get(1).copied().unwrap_or(10);
    if args.iter().any(|a| a == "postgres") {
        postgres(tasks, batch);
        return;
    }
    // `once`: one run with NORMAL only, for callgrind and strace.
    let once = args.iter().any(|a| a == "once");
    let modes = [("FULL", Synchronous::Full), ("NORMAL", Synchronous::Normal)];
    for (name, synchronous) in modes.into_iter().skip(usize::from(once)) {
        let runs: Vec<f64> = (0..if once { 1 } else { 3 })
            .map(|_| run(tasks, batch, synchronous))
            .collect();
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "synchronous={name}: {tasks} tasks, {batch} events per append: {:.1} µs per task (median of {})",
            sorted[sorted.len() / 2],
            sorted.len()
        );
    }
}

fn postgres(tasks: usize, batch: usize) {
    let mut runs: Vec<f64> = (0..3)
        .map(|_| {
            let url = std::env::var("BENCH_POSTGRES_URL").unwrap_or_else(|_| {
                techlead_testdb::database()
                    .expect("a PostgreSQL server")
                    .url
            });
            let mut store = techlead_store::postgres::PgStore::open(&url).unwrap();
            time(&mut store, tasks, batch)
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    println!(
        "postgres: {tasks} tasks, {batch} events per append: {:.1} µs per task (median of 3)",
        runs[1]
    );
}
