//! Plumbing shared by the executor tests: scratch directories, attempt
//! specs, running an executor and collecting its events, reading what the
//! fakes logged, and watching process groups.
//!
//! Durations here are hang guards, never what is measured.

use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use techlead_core::state::Usage;
use techlead_engine::executor::{AttemptSpec, ExecEvent, Executor, Outcome};
use techlead_fakes::{FakeApi, Scenario};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

pub const HANG_GUARD: Duration = Duration::from_secs(20);

/// A scratch directory for one attempt of a fake CLI (`claude`, `codex`,
/// `gemini`), removed when dropped. It holds the workdir, the attempt
/// directory, the scenario and the fake's argv log.
pub struct Scratch {
    dir: PathBuf,
    /// The fake's variables: `FAKE_<PREFIX>_ARGV_LOG`, `FAKE_<PREFIX>_SCENARIO`.
    prefix: String,
}

impl Scratch {
    pub fn new(fake: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("techlead-{fake}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(path.join("work")).expect("scratch directory");
        Scratch {
            dir: path,
            prefix: fake.to_uppercase(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A spec that plays `scenario` (steps, or a whole scenario object;
    /// none: the fake's default).
    pub fn spec(&self, scenario: Option<Value>) -> AttemptSpec {
        let prefix = &self.prefix;
        let mut env = vec![(
            format!("FAKE_{prefix}_ARGV_LOG"),
            self.path("argv.jsonl").display().to_string(),
        )];
        if let Some(scenario) = scenario {
            let scenario = if scenario.is_array() {
                json!({ "steps": scenario })
            } else {
                scenario
            };
            let path = self.path("scenario.json");
            fs::write(&path, scenario.to_string()).unwrap();
            env.push((
                format!("FAKE_{prefix}_SCENARIO"),
                path.display().to_string(),
            ));
        }
        AttemptSpec {
            mission_id: "m-1".into(),
            task_id: "T1".into(),
            task_title: "Wire the API".into(),
            attempt: 1,
            agent: "backend-dev".into(),
            command: None,
            prompt: "Build the thing.\n".into(),
            workdir: self.path("work"),
            attempt_dir: self.path("attempts/T1.1"),
            timeout: Duration::from_secs(60),
            env,
            agent_prompt: String::new(),
            model: None,
            tools: None,
            resume_session: None,
            budget_usd: None,
            estimate_hours: None,
        }
    }

    /// Every call of the fake: argv, cwd, stdin.
    pub fn calls(&self) -> Vec<Value> {
        fs::read_to_string(self.path("argv.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The argv of every call of the fake.
    pub fn argvs(&self) -> Vec<Vec<String>> {
        self.calls()
            .into_iter()
            .map(|call| serde_json::from_value(call["argv"].clone()).unwrap())
            .collect()
    }

    /// The argv of the first call of the fake.
    pub fn argv(&self) -> Vec<String> {
        serde_json::from_value(self.calls()[0]["argv"].clone()).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs one attempt to its end within `guard`, with the events it reported.
pub async fn run_attempt(
    executor: &impl Executor,
    spec: AttemptSpec,
    cancel: CancellationToken,
    guard: Duration,
) -> (Outcome, Vec<ExecEvent>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let outcome = timeout(guard, executor.run(spec, tx, cancel))
        .await
        .expect("the attempt hung");
    let mut events = Vec::new();
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    (outcome, events)
}

/// The value after flag `name` in `argv`.
pub fn flag<'a>(argv: &'a [String], name: &str) -> Option<&'a str> {
    let at = argv.iter().position(|arg| arg == name)?;
    argv.get(at + 1).map(String::as_str)
}

/// The messages of the progress reports.
pub fn progress(events: &[ExecEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|event| match event {
            ExecEvent::Progress { message, .. } => Some(message.as_str()),
            _ => None,
        })
        .collect()
}

/// The last usage reported.
pub fn last_usage(events: &[ExecEvent]) -> Usage {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            ExecEvent::Usage(usage) => Some(usage.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no usage: {events:?}"))
}

/// Live processes of group `pgid` (zombies count as gone).
pub fn live_members(pgid: i32) -> Vec<i32> {
    let mut live = Vec::new();
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(after) = stat.rfind(')').map(|at| &stat[at + 2..]) else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        if fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z" {
            live.push(pid);
        }
    }
    live
}

pub async fn assert_group_gone(pgid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = live_members(pgid);
        if live.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "group {pgid} still has {live:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts `spec` (one that spawns a background sleeper, reports progress,
/// then holds on), waits until the fake is mid-run, cancels it, and
/// returns the outcome, the group and how long the cancel took.
pub async fn cancel_mid_run(
    executor: &impl Executor,
    spec: AttemptSpec,
) -> (Outcome, i32, Duration) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let attempt = tokio::spawn(executor.run(spec, tx, cancel.clone()));
    let pid = match rx.recv().await {
        Some(ExecEvent::Started { pid: Some(pid) }) => pid as i32,
        other => panic!("expected Started, got {other:?}"),
    };
    loop {
        match timeout(HANG_GUARD, rx.recv()).await.expect("no progress") {
            Some(ExecEvent::Progress { .. }) => break,
            Some(_) => continue,
            None => panic!("ended early"),
        }
    }
    assert!(live_members(pid).len() >= 2, "{:?}", live_members(pid));
    let at = Instant::now();
    cancel.cancel();
    let outcome = timeout(HANG_GUARD, attempt).await.expect("hung").unwrap();
    (outcome, pid, at.elapsed())
}

/// A spec for an API executor, working in `dir`.
pub fn api_spec(dir: &Path) -> AttemptSpec {
    AttemptSpec {
        mission_id: "m1".into(),
        task_id: "PLAN".into(),
        task_title: "Plan the work".into(),
        attempt: 1,
        agent: "planner".into(),
        command: None,
        prompt: "Write a plan for the refactor.".into(),
        workdir: dir.to_path_buf(),
        attempt_dir: dir.join("attempt-1"),
        timeout: Duration::from_secs(30),
        env: Vec::new(),
        agent_prompt: "You are a careful planner.".into(),
        model: None,
        tools: None,
        resume_session: None,
        budget_usd: None,
        estimate_hours: None,
    }
}

/// How long an API attempt may take before it counts as hung.
pub const API_GUARD: Duration = Duration::from_secs(30);

/// Queues `scenario` on `fake` and runs one attempt of `executor` against
/// it in a fresh directory, which is returned so that it outlives the checks.
pub async fn run_api_scenario(
    fake: &FakeApi,
    executor: &impl Executor,
    scenario: Scenario,
) -> (Outcome, Vec<ExecEvent>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    fake.push(scenario);
    let (outcome, events) = run_attempt(
        executor,
        api_spec(dir.path()),
        CancellationToken::new(),
        API_GUARD,
    )
    .await;
    (outcome, events, dir)
}
