//! The `simulate` executor on tokio's paused clock: nothing really sleeps,
//! and elapsed times are the simulated ones, to the millisecond.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use techlead_core::state::{Event, MissionPlan, MissionStatus, Resolve};
use techlead_engine::executor::simulate::{
    FAILURE_RATE_VARIABLE, SCALE_VARIABLE, SEED_VARIABLE, SimulateConfig, SimulateExecutor,
};
use techlead_engine::executor::{AttemptSpec, ExecEvent, Executor, Outcome};
use techlead_engine::mission::{Mission, Settings, observer};
use techlead_store::Store;
use techlead_store::sqlite::SqliteStore;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const LONG: Duration = Duration::from_secs(24 * 3600);

fn spec(dir: &Path, task: &str, attempt: u32, timeout: Duration) -> AttemptSpec {
    AttemptSpec {
        mission_id: "rehearsal-1".into(),
        task_id: task.into(),
        task_title: format!("Title of {task}"),
        attempt,
        agent: "backend-dev".into(),
        command: None,
        prompt: "Build the thing.\n".repeat(10),
        workdir: dir.to_path_buf(),
        attempt_dir: dir.join("runs").join(task).join(attempt.to_string()),
        timeout,
        env: Vec::new(),
        agent_prompt: String::new(),
        model: None,
        tools: None,
        resume_session: None,
        budget_usd: None,
        estimate_hours: None,
    }
}

struct Ran {
    outcome: Outcome,
    events: Vec<ExecEvent>,
    elapsed: Duration,
}

impl Ran {
    fn succeeded(&self) -> bool {
        matches!(self.outcome, Outcome::Succeeded { .. })
    }
}

async fn run(executor: &SimulateExecutor, spec: AttemptSpec) -> Ran {
    run_with(executor, spec, CancellationToken::new()).await
}

async fn run_with(
    executor: &SimulateExecutor,
    spec: AttemptSpec,
    cancel: CancellationToken,
) -> Ran {
    let (events, mut received) = mpsc::unbounded_channel();
    let start = Instant::now();
    let outcome = executor.run(spec, events, cancel).await;
    let elapsed = start.elapsed();
    let mut events = Vec::new();
    while let Ok(event) = received.try_recv() {
        events.push(event);
    }
    Ran {
        outcome,
        events,
        elapsed,
    }
}

/// Outcome and duration (in ms) of attempts 1 to 3 of tasks T0 to T19.
async fn rehearse(config: SimulateConfig) -> Vec<(bool, u128)> {
    let dir = tempfile::tempdir().unwrap();
    let executor = SimulateExecutor::new(config);
    let mut results = Vec::new();
    for task in 0..20 {
        for attempt in 1..=3 {
            let ran = run(
                &executor,
                spec(dir.path(), &format!("T{task}"), attempt, LONG),
            )
            .await;
            results.push((ran.succeeded(), ran.elapsed.as_millis()));
        }
    }
    results
}

/// Asserts `elapsed` is `expected` to the millisecond (tokio's timer
/// rounds deadlines up to whole milliseconds).
fn assert_about(elapsed: Duration, expected: Duration) {
    let gap = elapsed.abs_diff(expected);
    assert!(
        gap <= Duration::from_millis(2),
        "took {elapsed:?}, expected {expected:?}"
    );
}

fn base() -> SimulateConfig {
    SimulateConfig::default()
        .with_failure_rate(0.5)
        .with_seed(7)
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_replays_the_same_rehearsal() {
    let first = rehearse(base()).await;
    let second = rehearse(base()).await;
    assert_eq!(first, second);
    // And the draws do vary: durations differ, some fail, some succeed.
    let mut durations: Vec<u128> = first.iter().map(|(_, ms)| *ms).collect();
    durations.sort();
    durations.dedup();
    assert!(durations.len() > 30, "{durations:?}");
    assert!(first.iter().any(|(ok, _)| *ok));
    assert!(first.iter().any(|(ok, _)| !*ok));
}

#[tokio::test(start_paused = true)]
async fn another_seed_gives_another_rehearsal() {
    let first = rehearse(base()).await;
    let other = rehearse(base().with_seed(8)).await;
    assert_ne!(first, other);
    let durations = |r: &[(bool, u128)]| r.iter().map(|(_, ms)| *ms).collect::<Vec<_>>();
    let outcomes = |r: &[(bool, u128)]| r.iter().map(|(ok, _)| *ok).collect::<Vec<_>>();
    assert_ne!(durations(&first), durations(&other));
    assert_ne!(outcomes(&first), outcomes(&other));
}

#[tokio::test(start_paused = true)]
async fn the_mission_id_does_not_change_the_draw() {
    // A mission gets a new ID each time it runs; its rehearsal must not.
    let dir = tempfile::tempdir().unwrap();
    let executor = SimulateExecutor::new(base());
    let mut other = spec(dir.path(), "API", 2, LONG);
    other.mission_id = "rehearsal-2".into();
    let a = run(&executor, spec(dir.path(), "API", 2, LONG)).await;
    let b = run(&executor, other).await;
    assert_eq!(a.outcome, b.outcome);
    assert_eq!(a.elapsed, b.elapsed);
}

#[tokio::test(start_paused = true)]
async fn failure_rate_zero_never_fails_and_one_always_fails() {
    let none = rehearse(base().with_failure_rate(0.0)).await;
    assert!(none.iter().all(|(ok, _)| *ok), "{none:?}");
    let all = rehearse(base().with_failure_rate(1.0)).await;
    assert!(all.iter().all(|(ok, _)| !*ok), "{all:?}");
}

#[tokio::test(start_paused = true)]
async fn a_retry_can_succeed_where_the_first_attempt_failed() {
    let results = rehearse(base()).await;
    // Three attempts per task, in order.
    let recovered = results
        .chunks(3)
        .filter(|attempts| !attempts[0].0 && attempts[1].0)
        .count();
    assert!(recovered > 0, "{results:?}");
}

#[tokio::test(start_paused = true)]
async fn a_success_reports_everything_as_simulation() {
    let dir = tempfile::tempdir().unwrap();
    let executor = SimulateExecutor::new(base().with_failure_rate(0.0).with_estimate("API", 2.0));
    let spec = spec(dir.path(), "API", 1, LONG);
    let attempt_dir = spec.attempt_dir.clone();
    let ran = run(&executor, spec).await;

    let Outcome::Succeeded {
        summary: Some(summary),
    } = &ran.outcome
    else {
        panic!("{:?}", ran.outcome);
    };
    assert!(summary.starts_with("SIMULATION"), "{summary}");
    assert_eq!(ran.events[0], ExecEvent::Started { pid: None });
    let percents: Vec<u8> = ran
        .events
        .iter()
        .filter_map(|event| match event {
            ExecEvent::Progress { percent, .. } => *percent,
            _ => None,
        })
        .collect();
    assert_eq!(percents, [25, 50, 75]);
    assert_all_say_simulation(&ran.events);
    assert!(
        ran.events
            .iter()
            .any(|event| matches!(event, ExecEvent::Summary(text) if text == summary))
    );

    // One log line per report and one for the end, each marked; nothing
    // but the log among the attempt's files.
    let log = fs::read_to_string(format!("{}.output.log", attempt_dir.display())).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), ran.events.len() + 1, "{log}");
    assert!(
        lines.iter().all(|line| line.starts_with("SIMULATION")),
        "{log}"
    );
    let files: Vec<_> = fs::read_dir(attempt_dir.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(files, ["1.output.log"]);
}

#[tokio::test(start_paused = true)]
async fn a_failure_says_simulation_and_stops_part_way() {
    let dir = tempfile::tempdir().unwrap();
    let executor = SimulateExecutor::new(base().with_failure_rate(1.0));
    let draw = executor.config().draw("DB", 1);
    let fails_at = draw
        .fails_at
        .expect("a failure rate of 1 fails every attempt");
    let spec = spec(dir.path(), "DB", 1, LONG);
    let log_path = spec.log_path();
    let ran = run(&executor, spec).await;

    let Outcome::Failed { message, .. } = &ran.outcome else {
        panic!("{:?}", ran.outcome);
    };
    assert!(message.starts_with("SIMULATION"), "{message}");
    assert_all_say_simulation(&ran.events);
    assert!(
        !ran.events
            .iter()
            .any(|e| matches!(e, ExecEvent::Summary(_)))
    );
    // It took its share of the drawn duration, and reported only the
    // milestones before it.
    assert_about(ran.elapsed, draw.duration.mul_f64(fails_at));
    let progress = ran
        .events
        .iter()
        .filter(|e| matches!(e, ExecEvent::Progress { .. }))
        .count();
    assert_eq!(progress, (fails_at / 0.25).ceil() as usize - 1);
    let log = fs::read_to_string(log_path).unwrap();
    assert!(
        log.lines().all(|line| line.starts_with("SIMULATION")),
        "{log}"
    );
    assert!(log.contains("seeded failure"), "{log}");
}

fn assert_all_say_simulation(events: &[ExecEvent]) {
    let mut usage = 0;
    for event in events {
        match event {
            ExecEvent::Started { pid } => assert_eq!(*pid, None),
            ExecEvent::Progress { message, .. } => {
                assert!(message.starts_with("SIMULATION: "), "{message}")
            }
            ExecEvent::Summary(text) => assert!(text.starts_with("SIMULATION: "), "{text}"),
            ExecEvent::Usage(used) => {
                usage += 1;
                assert_eq!(used.model.as_deref(), Some("simulation"));
                assert_eq!(used.cost_usd, 0.0);
                assert!(used.input_tokens > 0 && used.turns > 0, "{used:?}");
            }
            other => panic!("unexpected report {other:?}"),
        }
    }
    assert_eq!(usage, 1, "{events:?}");
}

#[tokio::test(start_paused = true)]
async fn durations_follow_the_estimate_and_the_scale() {
    let dir = tempfile::tempdir().unwrap();
    let config = base().with_failure_rate(0.0);
    let one = SimulateExecutor::new(config.clone().with_estimate("T", 1.0));
    let four = SimulateExecutor::new(config.clone().with_estimate("T", 4.0));
    let fast = SimulateExecutor::new(config.clone().with_estimate("T", 4.0).with_scale(0.5));
    let unestimated = SimulateExecutor::new(config.clone());

    let a = run(&one, spec(dir.path(), "T", 1, LONG)).await;
    let b = run(&four, spec(dir.path(), "T", 1, LONG)).await;
    let c = run(&fast, spec(dir.path(), "T", 1, LONG)).await;
    let d = run(&unestimated, spec(dir.path(), "T", 1, LONG)).await;
    // The same draw around a four times larger estimate, at a scale of 1 s
    // and then 0.5 s per estimated hour.
    assert_about(b.elapsed, a.elapsed * 4);
    assert_about(c.elapsed, a.elapsed * 2);
    // No estimate counts as 1 h, as the planner counts it.
    assert_eq!(d.elapsed, a.elapsed);
    assert_about(a.elapsed, one.config().draw("T", 1).duration);
    // An estimate given with the attempt wins over the configured one.
    assert_eq!(
        one.config().draw_with("T", 1, Some(4.0)),
        four.config().draw("T", 1)
    );

    // Across many attempts the estimate is the median.
    let draws: Vec<f64> = (1..=401)
        .map(|n| four.config().draw("T", n).hours)
        .collect();
    let below = draws.iter().filter(|&&hours| hours < 4.0).count();
    assert!(
        (150..=250).contains(&below),
        "{below} of 401 below the estimate"
    );
    assert!(draws.iter().all(|&hours| hours > 0.0));
}

#[tokio::test(start_paused = true)]
async fn usage_grows_with_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let executor = SimulateExecutor::new(
        base()
            .with_failure_rate(0.0)
            .with_estimate("SMALL", 0.5)
            .with_estimate("BIG", 8.0),
    );
    let usage = |ran: &Ran| {
        ran.events
            .iter()
            .find_map(|event| match event {
                ExecEvent::Usage(usage) => Some(usage.clone()),
                _ => None,
            })
            .expect("usage is reported")
    };
    let small = usage(&run(&executor, spec(dir.path(), "SMALL", 1, LONG)).await);
    let big = usage(&run(&executor, spec(dir.path(), "BIG", 1, LONG)).await);
    assert!(big.input_tokens > small.input_tokens);
    assert!(big.output_tokens > small.output_tokens);
    assert!(big.turns > small.turns);
    assert_eq!((small.cost_usd, big.cost_usd), (0.0, 0.0));
}

#[tokio::test(start_paused = true)]
async fn cancelling_stops_the_attempt_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let executor = SimulateExecutor::new(base().with_failure_rate(0.0).with_estimate("T", 100.0));
    let cancel = CancellationToken::new();
    let spec = spec(dir.path(), "T", 1, LONG);
    let log_path = spec.log_path();
    let run = tokio::spawn({
        let executor = executor.clone();
        let cancel = cancel.clone();
        async move { run_with(&executor, spec, cancel).await }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    cancel.cancel();
    let ran = run.await.unwrap();
    assert_eq!(ran.outcome, Outcome::Cancelled);
    assert_about(ran.elapsed, Duration::from_secs(3));
    assert_all_say_simulation(&ran.events);
    let log = fs::read_to_string(log_path).unwrap();
    assert!(
        log.lines().all(|line| line.starts_with("SIMULATION")),
        "{log}"
    );
    assert!(log.lines().last().unwrap().contains("cancelled"), "{log}");
}

#[tokio::test(start_paused = true)]
async fn an_attempt_cancelled_before_it_starts_ends_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let executor = SimulateExecutor::new(base());
    let cancel = CancellationToken::new();
    cancel.cancel();
    let ran = run_with(&executor, spec(dir.path(), "T", 1, LONG), cancel).await;
    assert_eq!(ran.outcome, Outcome::Cancelled);
    assert_eq!(ran.elapsed, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_longer_than_its_timeout_times_out_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let executor = SimulateExecutor::new(base().with_failure_rate(0.0).with_estimate("T", 50.0));
    assert!(executor.config().draw("T", 1).duration > Duration::from_secs(10));
    let spec = spec(dir.path(), "T", 1, Duration::from_secs(2));
    let log_path = spec.log_path();
    let ran = run(&executor, spec).await;
    assert_eq!(ran.outcome, Outcome::TimedOut);
    assert_about(ran.elapsed, Duration::from_secs(2));
    assert_all_say_simulation(&ran.events);
    let log = fs::read_to_string(log_path).unwrap();
    assert!(
        log.lines().all(|line| line.starts_with("SIMULATION")),
        "{log}"
    );
    assert!(log.contains("timeout"), "{log}");
}

#[tokio::test(start_paused = true)]
async fn a_scale_of_zero_rehearses_instantly() {
    let dir = tempfile::tempdir().unwrap();
    let executor = SimulateExecutor::new(base().with_failure_rate(0.0).with_scale(0.0));
    let ran = run(&executor, spec(dir.path(), "T", 1, LONG)).await;
    assert!(ran.succeeded());
    assert_eq!(ran.elapsed, Duration::ZERO);
    assert_all_say_simulation(&ran.events);
}

#[test]
fn the_environment_overrides_the_defaults() {
    let defaults = SimulateConfig::from_lookup(|_| None).unwrap();
    assert_eq!(defaults, SimulateConfig::default());
    assert_eq!(defaults.scale(), 1.0);
    assert_eq!(defaults.failure_rate(), 0.1);

    let config = SimulateConfig::from_lookup(|name| {
        Some(
            match name {
                SCALE_VARIABLE => "0.25",
                SEED_VARIABLE => "99",
                FAILURE_RATE_VARIABLE => "0",
                _ => return None,
            }
            .to_string(),
        )
    })
    .unwrap();
    assert_eq!(config.scale(), 0.25);
    assert_eq!(config.seed(), 99);
    assert_eq!(config.failure_rate(), 0.0);

    for (variable, value) in [
        (SCALE_VARIABLE, "fast"),
        (SCALE_VARIABLE, "-1"),
        (SEED_VARIABLE, "-3"),
        (FAILURE_RATE_VARIABLE, "1.5"),
    ] {
        let error = SimulateConfig::from_lookup(|name| (name == variable).then(|| value.into()))
            .unwrap_err();
        assert!(error.contains(variable) && error.contains(value), "{error}");
    }
}

/// The example rehearsal, planned as `techlead run` plans it, run by the
/// mission actor on a real store with the simulate executor: what the
/// record says happened, attempt by attempt.
async fn rehearse_the_example(seed: u64) -> (MissionStatus, Vec<(String, u32, String)>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rehearsal");
    let text = fs::read_to_string(root.join("mission.yaml")).unwrap();
    let parsed = techlead_core::spec::parse(&text);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let mission = parsed.mission.unwrap();
    assert!(techlead_core::spec::validate(&mission, None).is_empty());
    let dir = tempfile::tempdir().unwrap();
    let library = techlead_core::agents::Library::builder().build();
    let plan = MissionPlan::resolve(
        mission,
        Resolve {
            library: &library,
            history: &Default::default(),
            source: "mission.yaml".into(),
            source_hash: "0".into(),
            workdir: dir.path().display().to_string(),
            repository: None,
        },
    )
    .unwrap();
    assert!(plan.tasks.iter().all(|task| task.executor == "simulate"));
    let config = SimulateConfig::default()
        .with_seed(seed)
        .with_failure_rate(0.3)
        .with_estimates(
            plan.tasks
                .iter()
                .map(|t| (t.id.clone(), t.detail.estimate_hours)),
        );
    let db = dir.path().join("techlead.db");
    let id = SqliteStore::open(&db)
        .unwrap()
        .create_mission(&plan, jiff::Timestamp::now())
        .unwrap();
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        executors: vec![Arc::new(SimulateExecutor::new(config))],
        gate_grace: Duration::from_secs(1),
        workers: None,
    };
    let mission = Mission::open(
        SqliteStore::open(&db).unwrap(),
        &id,
        settings,
        observer(|_, _, _| {}),
    )
    .unwrap();
    let status = mission.run().await.unwrap();

    let mut attempts = Vec::new();
    for record in SqliteStore::open(&db).unwrap().events(&id, 0).unwrap() {
        match record.event {
            Event::AttemptFinished {
                task,
                attempt,
                outcome,
                ..
            } => attempts.push((task, attempt, format!("{outcome:?}"))),
            Event::AttemptUsage { usage, .. } => {
                assert_eq!(usage.model.as_deref(), Some("simulation"));
                assert_eq!(usage.cost_usd, 0.0);
            }
            _ => {}
        }
    }
    // Every attempt logged, every line marked.
    for (task, attempt, _) in &attempts {
        let log = dir
            .path()
            .join(format!("runs/{id}/{task}.{attempt}.output.log"));
        let log = fs::read_to_string(&log).unwrap();
        assert!(
            log.lines().all(|line| line.starts_with("SIMULATION")),
            "{log}"
        );
    }
    (status, attempts)
}

#[tokio::test(start_paused = true)]
async fn the_example_rehearsal_runs_end_to_end_and_replays() {
    let (status, attempts) = rehearse_the_example(3).await;
    assert!(attempts.len() >= 8, "{attempts:?}");
    assert!(
        matches!(status, MissionStatus::Succeeded | MissionStatus::Failed),
        "{status:?}"
    );
    let (again, replayed) = rehearse_the_example(3).await;
    assert_eq!((status, &attempts), (again, &replayed));
}
