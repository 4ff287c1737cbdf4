//! The crash test (issue 4; STYLE point 10): the real `techlead` binary is
//! killed with SIGKILL at many points of a mission of a few hundred real
//! child processes, `techlead resume` (itself killed at times) picks it up
//! again until it finishes, and the record and the work are checked:
//!
//! - every task succeeded, with exactly one successful attempt recorded;
//! - every other attempt is recorded `interrupted` (nothing fails here, so
//!   only a kill ends an attempt without success), none is left open;
//! - a task that durably succeeded never ran again: no proof line comes from
//!   an attempt numbered after the successful one, and the successful
//!   attempt's line is there;
//! - at most one proof line per (task, attempt), every line from a recorded
//!   attempt, and a task's lines in attempt order (so no process of a dead
//!   run wrote after the run that replaced it started its attempt);
//! - every event techlead printed before it was killed is in the record,
//!   unchanged (durable before shown);
//! - the mission's two phases are each closed by a gate with exactly one
//!   recorded verdict, and no task of phase 2 started before the gate of
//!   phase 1 passed, even when a kill cut a gate off (it runs again).
//!
//! Each task appends `"$TECHLEAD_TASK $TECHLEAD_ATTEMPT"` to `proof` in the
//! mission's directory. A run killed while a task's process had already
//! appended its line, but before the end was recorded, makes that task run
//! again under a new attempt number: at-least-once, allowed, and told apart
//! by the attempt number.
//!
//! Kill points are chosen by a seeded xorshift and counted in NDJSON events
//! read from `--json` before the SIGKILL (mostly: after 1-6 task successes
//! and 0-3 more events; now and then: during take-over; when a phase
//! completes: once its gate has started), so they spread over
//! the whole mission without sleeps, and the number of runs stays bounded
//! however slow the machine. `TECHLEAD_CRASH_SEED=<n>` replays another seed.

use crate::support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::Instant;
use support::{Running, XorShift};
use techlead_core::state::{AttemptOutcome, Event, EventRecord, MissionStatus};
use techlead_store::Store;
use techlead_store::sqlite::SqliteStore;

const LAYERS: usize = 10;
const WIDTH: usize = 30;
const PHASES: usize = 2;
const PHASE_TASKS: u64 = (LAYERS / PHASES * WIDTH) as u64;
/// Kill points required over the whole test (issue 4 asks for 50).
const MIN_KILLS: u32 = 50;
/// A killed run has seen 1 to this many tasks succeed...
const MAX_SUCCESSES_BEFORE_KILL: u64 = 6;
/// ...and then up to this many more events of any kind.
const MAX_EXTRA_EVENTS: u64 = 3;

/// Where to SIGKILL a run, counted in the events it printed: reproducible
/// from the seed and spread over the whole mission however fast or loaded
/// the machine is.
enum KillPoint {
    /// After this many events of any kind: during take-over (0: at once,
    /// perhaps before it opened the database).
    Early { events: u64 },
    /// After the `successes`-th task success, then `extra` events more:
    /// every such run moves the mission on, so the test ends after a
    /// bounded number of runs.
    After { successes: u64, extra: u64 },
    /// After the `successes`-th task success, which completes a phase,
    /// once its gate has started (`gates` is the count of gate runs
    /// before): a kill that cuts a gate off.
    InGate { successes: u64, gates: usize },
}

/// How many times gates started so far (each appends a line to `gates`).
fn gate_runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("gates"))
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

/// Reads events until the kill point; true if the stream ended first (the
/// run finished by itself).
fn read_until(run: &mut Running, dir: &Path, point: &KillPoint) -> bool {
    let (need_successes, need_extra) = match *point {
        KillPoint::Early { events } => (0, events),
        KillPoint::After { successes, extra } => (successes, extra),
        KillPoint::InGate { successes, .. } => (successes, 0),
    };
    let (mut successes, mut extra) = (0, 0);
    while successes < need_successes || extra < need_extra {
        let Some(line) = run.next_line() else {
            return true;
        };
        if successes < need_successes {
            let event: serde_json::Value = serde_json::from_str(&line).unwrap();
            if support::event_type(&event) == "attempt_finished"
                && event["event"]["outcome"]["kind"] == "succeeded"
            {
                successes += 1;
            }
        } else {
            extra += 1;
        }
    }
    if let KillPoint::InGate { gates, .. } = *point {
        support::wait_until("the gate to start", || gate_runs(dir) > gates);
    }
    false
}

#[derive(Default)]
struct Totals {
    missions: u32,
    runs: u32,
    /// SIGKILLs that landed after at least one event was printed.
    kills: u32,
    /// SIGKILLs sent right after start, before any event was read.
    startup_kills: u32,
    interrupted_attempts: u32,
    reruns_with_proof: u32,
    gate_runs: u32,
    /// Resumes refused because a killed run still seemed to hold the
    /// mission's lock (must stay 0; see `refused_by_a_dead_run`).
    dead_holder_refusals: u32,
}

// A guard for a bug this test found (timing-dependent, seen under heavy
// load): techlead SIGKILLed while a thread had just forked a child that
// had not reached `exec` yet; the child shares the mission's `flock` until
// its `exec` closes the descriptor, so an immediate `resume` was refused
// naming the dead pid. The store now waits (up to 3 s) for a lock whose
// holder is a dead process of this host; a refusal naming a killed run is
// a failure again, counted and asserted below.

/// Whether `stderr` is the lock refusal naming a techlead this test killed.
fn refused_by_a_dead_run(stderr: &str, killed: &[u32]) -> bool {
    stderr.contains("is being run by another techlead")
        && killed
            .iter()
            .any(|pid| stderr.contains(&format!("(pid {pid} on ")))
}

/// Whether nobody holds the mission's lock: taken and released at once.
fn lock_is_free(db: &Path, mission: &str) -> bool {
    let Ok(file) = std::fs::File::open(techlead_store::sqlite::lock_path(db, mission)) else {
        return true;
    };
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok()
}

/// The phase (0-based) of task `L<layer>-<i>`.
fn phase_of(task: &str) -> usize {
    let layer: usize = task[1..task.find('-').unwrap()].parse().unwrap();
    layer / (LAYERS / PHASES)
}

#[test]
fn sigkill_at_random_points_loses_nothing_and_repeats_no_finished_task() {
    let seed = std::env::var("TECHLEAD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7EC4_1EAD_u64);
    eprintln!("crash test seed {seed} (TECHLEAD_CRASH_SEED replays another)");
    let mut rng = XorShift::new(seed);
    let mut totals = Totals::default();
    let started = Instant::now();
    while totals.kills < MIN_KILLS {
        assert!(
            totals.missions < 5,
            "only {} kill points after {} missions",
            totals.kills,
            totals.missions
        );
        crash_one_mission(&mut rng, &mut totals);
    }
    eprintln!(
        "crash test: {} missions of {} tasks, {} runs, {} kill points after an event \
         + {} at start-up, {} attempts interrupted ({} of them had already written \
         their proof line and ran again), {} gate runs for {} gates, {} resumes refused by \
         the lock of a killed run, {:.1} s",
        totals.missions,
        LAYERS * WIDTH,
        totals.runs,
        totals.kills,
        totals.startup_kills,
        totals.interrupted_attempts,
        totals.reruns_with_proof,
        totals.gate_runs,
        totals.missions as usize * PHASES,
        totals.dead_holder_refusals,
        started.elapsed().as_secs_f64()
    );
    assert!(
        totals.interrupted_attempts > 0,
        "no kill cut off a running attempt"
    );
    assert_eq!(
        totals.dead_holder_refusals, 0,
        "a resume was refused by the lock of a killed run"
    );
}

/// A layered DAG in two phases (layers 0-4, then 5-9), each closed by a
/// gate: each task of layer n depends on two random tasks of layer n-1.
/// Tasks write their proof line at once, then linger a little, or linger
/// first, so that kills find children in every state; gates append their
/// name to `gates` and linger too.
fn mission_yaml(name: &str, rng: &mut XorShift) -> String {
    let mut text = format!(
        "mission:\n  name: {name}\n  objective: survive SIGKILL\n  defaults:\n    \
         executor: command\n    retries: 0\n    max_parallel: {}\nphases:\n",
        rng.range(4, 8)
    );
    let proof = r#"echo "$TECHLEAD_TASK $TECHLEAD_ATTEMPT" >> proof"#;
    for layer in 0..LAYERS {
        if layer % (LAYERS / PHASES) == 0 {
            let phase = layer / (LAYERS / PHASES) + 1;
            text.push_str(&format!(
                "  - name: phase {phase}\n    gates: ['echo \"$TECHLEAD_TASK\" >> gates; sleep 0.3']\n    tasks:\n"
            ));
        }
        for i in 0..WIDTH {
            text.push_str(&format!(
                "      - id: L{layer}-{i}\n        title: layer {layer} task {i}\n"
            ));
            if layer > 0 {
                let a = rng.range(0, WIDTH as u64 - 1);
                let b = rng.range(0, WIDTH as u64 - 1);
                let deps: BTreeSet<String> = [a, b]
                    .iter()
                    .map(|d| format!("L{}-{d}", layer - 1))
                    .collect();
                let deps: Vec<String> = deps.into_iter().collect();
                text.push_str(&format!("        depends_on: [{}]\n", deps.join(", ")));
            }
            let script = match rng.range(0, 2) {
                0 => proof.to_string(),
                1 => format!("{proof}; sleep 0.02"),
                _ => format!("sleep 0.02; {proof}"),
            };
            text.push_str(&format!("        command: [sh, -c, '{script}']\n"));
        }
    }
    text
}

fn crash_one_mission(rng: &mut XorShift, totals: &mut Totals) {
    totals.missions += 1;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let name = support::unique_name("crash");
    std::fs::write(dir.join("mission.yaml"), mission_yaml(&name, rng)).unwrap();
    let db = dir.join("db").join("techlead.db");
    let db_arg = db.to_str().unwrap().to_string();

    let mut id: Option<String> = None;
    let mut printed: Vec<String> = Vec::new();
    // Tasks recorded as succeeded so far.
    let mut done: u64 = 0;
    // The techlead processes this test killed.
    let mut killed: Vec<u32> = Vec::new();
    loop {
        let args: Vec<&str> = match &id {
            None => vec!["run", "mission.yaml", "--json", "--db", &db_arg],
            Some(id) => vec!["resume", id, "--json", "--db", &db_arg],
        };
        let successes = rng.range(1, MAX_SUCCESSES_BEFORE_KILL);
        let extra = rng.range(0, MAX_EXTRA_EVENTS);
        let next_gate = (done / PHASE_TASKS + 1) * PHASE_TASKS;
        let point = if id.is_some() && rng.one_in(10) {
            KillPoint::Early {
                events: rng.range(0, 2),
            }
        } else if done + successes >= next_gate && next_gate <= (LAYERS * WIDTH) as u64 {
            KillPoint::InGate {
                successes: next_gate - done,
                gates: gate_runs(dir),
            }
        } else {
            KillPoint::After { successes, extra }
        };
        totals.runs += 1;
        let mut run = Running::start(dir, &args);
        let pid = run.pid();
        let ended = read_until(&mut run, dir, &point);
        let (lines, code) = if ended {
            let (code, lines, stderr) = run.finish();
            if let (Some(id), true) = (&id, refused_by_a_dead_run(&stderr, &killed)) {
                totals.dead_holder_refusals += 1;
                support::wait_until("the killed run's lock to be released", || {
                    lock_is_free(&db, id)
                });
                continue;
            }
            assert_eq!(code, 0, "techlead {args:?} failed:\n{stderr}");
            (lines, code)
        } else {
            killed.push(pid);
            let (code, lines) = run.kill();
            (lines, code)
        };
        if code == 128 + 9 {
            if matches!(point, KillPoint::Early { events: 0 }) {
                totals.startup_kills += 1;
            } else {
                totals.kills += 1;
            }
        } else {
            assert_eq!(code, 0, "techlead {args:?} ended with {code}");
        }
        if id.is_none() {
            let first: serde_json::Value =
                serde_json::from_str(lines.first().expect("the first run printed an event"))
                    .unwrap();
            id = Some(first["mission"].as_str().unwrap().to_string());
        }
        printed.extend(lines);
        let id = id.as_deref().unwrap();
        let row = SqliteStore::open(&db)
            .unwrap()
            .find_mission(id)
            .unwrap()
            .unwrap();
        done = u64::from(row.succeeded);
        let status = row.status;
        if status.is_finished() {
            assert_eq!(status, MissionStatus::Succeeded);
            break;
        }
        assert_eq!(code, 128 + 9, "techlead stopped early with {status:?}");
    }
    check(dir, &db, id.as_deref().unwrap(), &printed, totals);
}

fn check(dir: &Path, db: &Path, id: &str, printed: &[String], totals: &mut Totals) {
    let store = SqliteStore::open(db).unwrap();
    let records = store.events(id, 0).unwrap();
    check_printed_events_are_durable(&records, printed);

    // The raw log, not only the fold: every attempt start and end, every
    // gate's verdict.
    let mut started: BTreeSet<(String, u32)> = BTreeSet::new();
    let mut finished: BTreeMap<(String, u32), AttemptOutcome> = BTreeMap::new();
    let mut verdicts: Vec<(usize, bool)> = Vec::new();
    for record in &records {
        match &record.event {
            Event::AttemptWithdrawn { task, attempt } => {
                assert!(
                    started.remove(&(task.clone(), *attempt)),
                    "attempt {attempt} of {task} withdrawn but never claimed"
                );
            }
            Event::AttemptStarted { task, attempt } => {
                assert!(
                    started.contains(&(task.clone(), *attempt)),
                    "attempt {attempt} of {task} started without a claim"
                );
            }
            Event::AttemptQueued { task, attempt, .. } => {
                assert!(
                    started.insert((task.clone(), *attempt)),
                    "attempt {attempt} of {task} claimed twice"
                );
                // A phase starts only once the gate before it passed.
                let phase = phase_of(task);
                assert!(
                    verdicts.iter().filter(|(_, passed)| *passed).count() >= phase,
                    "{task} (phase {}) started before the gate of phase {phase} passed",
                    phase + 1
                );
            }
            Event::PhaseGateFinished { phase, passed, .. } => verdicts.push((*phase, *passed)),
            Event::AttemptFinished {
                task,
                attempt,
                outcome,
                ..
            } => {
                let key = (task.clone(), *attempt);
                assert!(started.contains(&key), "{key:?} finished but never started");
                let earlier = finished.insert(key.clone(), outcome.clone());
                assert!(earlier.is_none(), "{key:?} finished twice");
            }
            _ => {}
        }
    }
    assert_eq!(
        started,
        finished.keys().cloned().collect(),
        "attempts left open"
    );
    // One verdict per gate, each passed, in phase order (a gate cut off by
    // a kill has none, and runs again).
    assert_eq!(
        verdicts,
        (0..PHASES).map(|p| (p, true)).collect::<Vec<_>>(),
        "gate verdicts"
    );
    let gates = std::fs::read_to_string(dir.join("gates")).unwrap();
    for phase in 1..=PHASES {
        assert!(
            gates.lines().any(|l| l == format!("phase-{phase}")),
            "the gate of phase {phase} never ran: {gates:?}"
        );
    }
    totals.gate_runs += gates.lines().count() as u32;

    let mut succeeded: HashMap<String, u32> = HashMap::new();
    for ((task, attempt), outcome) in &finished {
        match outcome {
            AttemptOutcome::Succeeded { .. } => {
                let twice = succeeded.insert(task.clone(), *attempt);
                assert!(twice.is_none(), "{task} has two successful attempts");
            }
            AttemptOutcome::Interrupted => totals.interrupted_attempts += 1,
            other => panic!("attempt {attempt} of {task} ended {other:?}, not by a kill"),
        }
    }
    assert_eq!(succeeded.len(), LAYERS * WIDTH, "tasks without success");

    // What `techlead status --json` says agrees.
    let status = support::status(dir, db, id);
    assert_eq!(status["status"], "succeeded");
    for task in status["tasks"].as_array().unwrap() {
        let name = task["id"].as_str().unwrap();
        assert_eq!(task["status"], "succeeded", "{task:#}");
        let outcomes = support::outcomes(task);
        let wins = outcomes
            .iter()
            .filter(|o| o.as_deref() == Some("succeeded"))
            .count();
        assert_eq!(wins, 1, "{name}: {outcomes:?}");
        assert_eq!(
            outcomes.last().unwrap().as_deref(),
            Some("succeeded"),
            "{name}"
        );
        assert!(
            outcomes[..outcomes.len() - 1]
                .iter()
                .all(|o| o.as_deref() == Some("interrupted")),
            "{name}: {outcomes:?}"
        );
        let attempts = task["attempts"].as_array().unwrap();
        let number = attempts.last().unwrap()["number"].as_u64().unwrap() as u32;
        assert_eq!(succeeded[name], number, "{name}");
    }

    // The work itself, from the proof file.
    let proof = std::fs::read_to_string(dir.join("proof")).unwrap();
    let mut lines_of: HashMap<String, Vec<u32>> = HashMap::new();
    for line in proof.lines() {
        let (task, attempt) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("bad proof line {line:?}"));
        let attempt: u32 = attempt.parse().unwrap();
        assert!(
            started.contains(&(task.to_string(), attempt)),
            "proof from attempt {attempt} of {task}, which was never recorded"
        );
        lines_of.entry(task.to_string()).or_default().push(attempt);
    }
    for (task, won) in &succeeded {
        let lines = lines_of.get(task).map(Vec::as_slice).unwrap_or_default();
        assert!(
            lines.windows(2).all(|w| w[0] < w[1]),
            "{task}: proof lines {lines:?} repeat an attempt or are out of order"
        );
        assert!(
            lines.contains(won),
            "{task}: its successful attempt {won} left no proof ({lines:?})"
        );
        assert!(
            lines.iter().all(|a| a <= won),
            "{task} ran again after attempt {won} succeeded: {lines:?}"
        );
        totals.reruns_with_proof += lines.iter().filter(|a| *a < won).count() as u32;
    }
    assert!(
        support::processes_of(id).is_empty(),
        "processes of {id} left running"
    );
}

/// Every event a run printed before it died is in the record as printed.
fn check_printed_events_are_durable(records: &[EventRecord], printed: &[String]) {
    let by_seq: HashMap<u64, &EventRecord> = records.iter().map(|r| (r.seq, r)).collect();
    for line in printed {
        // A line cut in half by the kill is not an event that was shown.
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let seq = value["seq"].as_u64().unwrap();
        let record = by_seq
            .get(&seq)
            .unwrap_or_else(|| panic!("printed event {seq} is not in the record: {line}"));
        let stored = serde_json::to_value(record).unwrap();
        assert_eq!(stored["event"], value["event"], "event {seq} changed");
        assert_eq!(stored["at"], value["at"], "event {seq} changed");
    }
}
