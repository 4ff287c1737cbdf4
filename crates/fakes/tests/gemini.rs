//! The `gemini` executor against the fake `gemini`.
//!
//! Durations here are hang guards, never what is measured: a test that needs
//! the fake to be mid-run waits for an event.

use serde_json::{Value, json};
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use techlead_engine::executor::gemini::GeminiExecutor;
use techlead_engine::executor::{AttemptSpec, ExecEvent, Executor, Outcome};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

const HANG_GUARD: Duration = Duration::from_secs(20);

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("techlead-gemini-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(path.join("work")).expect("scratch directory");
        Scratch(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A spec that plays `scenario` (steps, or a whole scenario object;
    /// none: the fake's default).
    fn spec(&self, scenario: Option<Value>) -> AttemptSpec {
        let mut env = vec![(
            "FAKE_GEMINI_ARGV_LOG".to_owned(),
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
            env.push(("FAKE_GEMINI_SCENARIO".into(), path.display().to_string()));
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
            attempt_dir: self.path("attempts/T1/1"),
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
    fn calls(&self) -> Vec<Value> {
        fs::read_to_string(self.path("argv.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn argv(&self) -> Vec<String> {
        serde_json::from_value(self.calls()[0]["argv"].clone()).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn executor() -> GeminiExecutor {
    GeminiExecutor::new()
        .with_program(env!("CARGO_BIN_EXE_gemini"))
        .with_grace(Duration::from_millis(200))
        .with_drain(Duration::from_millis(200))
}

async fn run_with(executor: GeminiExecutor, spec: AttemptSpec) -> (Outcome, Vec<ExecEvent>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let outcome = timeout(HANG_GUARD, executor.run(spec, tx, CancellationToken::new()))
        .await
        .expect("the attempt hung");
    let mut events = Vec::new();
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    (outcome, events)
}

async fn run(spec: AttemptSpec) -> (Outcome, Vec<ExecEvent>) {
    run_with(executor(), spec).await
}

fn flag<'a>(argv: &'a [String], name: &str) -> Option<&'a str> {
    let at = argv.iter().position(|arg| arg == name)?;
    argv.get(at + 1).map(String::as_str)
}

fn progress(events: &[ExecEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|event| match event {
            ExecEvent::Progress { message, .. } => Some(message.as_str()),
            _ => None,
        })
        .collect()
}

/// The last usage reported (a macro, so that the type need not be named).
macro_rules! last_usage {
    ($events:expr) => {
        match $events
            .iter()
            .rev()
            .find(|e| matches!(e, ExecEvent::Usage(_)))
        {
            Some(ExecEvent::Usage(usage)) => usage.clone(),
            _ => panic!("no usage: {:?}", $events),
        }
    };
}

#[tokio::test]
async fn success_reports_session_progress_and_usage() {
    let scratch = Scratch::new();
    let spec = scratch.spec(None);
    let (outcome, events) = run(spec.clone()).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            summary: Some("Done: wrote out/T1.md.".into())
        }
    );
    assert!(matches!(
        events.first(),
        Some(ExecEvent::Started { pid: Some(_) })
    ));
    assert!(
        matches!(events.get(1), Some(ExecEvent::Session(id)) if id.len() == 36),
        "{events:?}"
    );
    assert_eq!(
        progress(&events),
        [
            "Reading the task and planning the change.",
            "using write_file",
            "Done: wrote out/T1.md."
        ]
    );
    let usage = last_usage!(events);
    // Three paid steps of 2000 input (1500 cached) and 40 output.
    assert_eq!(usage.input_tokens, 1500);
    assert_eq!(usage.cache_read_tokens, 4500);
    assert_eq!(usage.output_tokens, 120);
    assert_eq!((usage.turns, usage.tool_uses), (2, 1));
    assert_eq!(usage.model.as_deref(), Some("gemini-2.5-pro"));
    assert_eq!(
        fs::read_to_string(spec.workdir.join("out/T1.md")).unwrap(),
        "Build the thing.\n"
    );
    assert_eq!(
        fs::read_to_string(spec.prompt_path()).unwrap(),
        "Build the thing.\n"
    );
    let log = fs::read_to_string(spec.log_path()).unwrap();
    assert!(log.contains(r#""type":"result""#), "{log}");
    let call = &scratch.calls()[0];
    assert_eq!(call["cwd"], spec.workdir.display().to_string());
    assert_eq!(call["stdin"], "");
    let argv = scratch.argv();
    assert_eq!(flag(&argv, "-p"), Some("Build the thing.\n"));
    assert_eq!(flag(&argv, "-o"), Some("stream-json"));
    assert_eq!(flag(&argv, "--approval-mode"), Some("yolo"));
    assert!(!argv.contains(&"-m".to_owned()) && !argv.contains(&"--resume".to_owned()));
}

#[tokio::test]
async fn model_resume_and_approval_mode_become_flags() {
    let scratch = Scratch::new();
    let mut spec = scratch.spec(Some(json!([{"step": "text", "text": "again"}])));
    spec.model = Some("flash".into());
    spec.resume_session = Some("e06b-earlier".into());
    spec.agent_prompt = "You are a careful backend developer.".into();
    let (outcome, events) =
        run_with(executor().with_approval_mode("auto_edit"), spec.clone()).await;
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    let argv = scratch.argv();
    assert_eq!(flag(&argv, "-m"), Some("flash"));
    assert_eq!(flag(&argv, "--resume"), Some("e06b-earlier"));
    assert_eq!(flag(&argv, "--approval-mode"), Some("auto_edit"));
    assert!(events.contains(&ExecEvent::Session("e06b-earlier".into())));
    assert_eq!(
        last_usage!(events).model.as_deref(),
        Some("gemini-2.5-flash")
    );
    let prompt = fs::read_to_string(spec.prompt_path()).unwrap();
    assert!(
        prompt.starts_with("You are a careful backend developer."),
        "{prompt}"
    );
    assert_eq!(flag(&argv, "-p"), Some(prompt.as_str()));
}

#[tokio::test]
async fn a_prompt_too_long_for_argv_goes_on_stdin() {
    let scratch = Scratch::new();
    let mut spec = scratch.spec(Some(json!([{"step": "text", "text": "read it"}])));
    spec.prompt = "x".repeat(GeminiExecutor::ARGUMENT_MAX + 1);
    let (outcome, _) = run(spec.clone()).await;
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    let call = &scratch.calls()[0];
    assert_eq!(
        call["stdin"].as_str().map(str::len),
        Some(spec.prompt.len())
    );
    assert_eq!(flag(&scratch.argv(), "-p"), Some(""));
}

#[tokio::test]
async fn a_429_is_rate_limited() {
    let scratch = Scratch::new();
    let message = "[API Error: 429 RESOURCE_EXHAUSTED: Quota exceeded for quota metric 'Generate Content API requests per minute']";
    let spec = scratch.spec(Some(json!([
        {"step": "text", "text": "Starting."},
        {"step": "warning", "message": "Attempt 1 failed with status 429. Retrying with backoff..."},
        {"step": "fail", "message": message, "type": "ApiError", "code": 1}
    ])));
    let (outcome, events) = run(spec).await;
    assert_eq!(
        outcome,
        Outcome::RateLimited {
            until: None,
            message: message.into()
        }
    );
    assert!(
        progress(&events)
            .iter()
            .any(|p| p.starts_with("warning: Attempt 1 failed"))
    );
}

#[tokio::test]
async fn exit_41_needs_a_person() {
    let scratch = Scratch::new();
    let spec = scratch.spec(Some(json!([
        {"step": "stderr", "text": "Please set an Auth method in your settings.json"},
        {"step": "exit", "code": 41}
    ])));
    let (outcome, _) = run(spec).await;
    assert_eq!(
        outcome,
        Outcome::NeedsPerson {
            message: "Gemini CLI could not authenticate (exit 41): \
                      Please set an Auth method in your settings.json"
                .into()
        }
    );
}

#[tokio::test]
async fn an_invalid_api_key_needs_a_person() {
    let scratch = Scratch::new();
    let spec = scratch.spec(Some(json!([{"step": "fail", "type": "ApiError",
        "message": "API key not valid. Please pass a valid API key.", "code": 1}])));
    let (outcome, _) = run(spec).await;
    assert!(
        matches!(outcome, Outcome::NeedsPerson { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn exit_codes_say_how_it_failed() {
    for (code, words) in [
        (
            53,
            "reached its turn limit (exit 53): Reached max session turns",
        ),
        (
            54,
            "stopped on a fatal tool error (exit 54): Reached max session turns",
        ),
    ] {
        let scratch = Scratch::new();
        let spec = scratch.spec(Some(json!([{"step": "fail",
            "message": "Reached max session turns", "code": code}])));
        let (outcome, _) = run(spec).await;
        assert_eq!(
            outcome,
            Outcome::Failed {
                exit_code: Some(code),
                signal: None,
                message: format!("Gemini CLI {words}")
            }
        );
    }
}

#[tokio::test]
async fn tools_refused_in_default_mode_are_reported_but_do_not_fail() {
    let scratch = Scratch::new();
    let spec = scratch.spec(None);
    let (outcome, _) = run_with(executor().with_approval_mode("default"), spec.clone()).await;
    // Nobody approved the write, so no file; the run itself still ends well.
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    assert!(!spec.workdir.join("out/T1.md").exists());
    let log = fs::read_to_string(spec.log_path()).unwrap();
    assert!(log.contains("requires user approval"), "{log}");
}

#[tokio::test]
async fn unknown_lines_are_ignored() {
    let scratch = Scratch::new();
    let spec = scratch.spec(Some(json!([
        {"step": "line", "text": "{\"type\":\"thought\",\"content\":\"x\"}"},
        {"step": "line", "text": "Loaded cached credentials."},
        {"step": "stderr", "text": "a warning on stderr"},
        {"step": "text", "text": "fine"}
    ])));
    let (outcome, _) = run(spec.clone()).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            summary: Some("fine".into())
        }
    );
    let log = fs::read_to_string(spec.log_path()).unwrap();
    assert!(log.contains("Loaded cached credentials."), "{log}");
    assert!(log.contains("a warning on stderr"), "{log}");
    assert!(log.contains("unknown event type `thought`"), "{log}");
}

#[tokio::test]
async fn exit_without_a_result_fails_with_the_last_stderr_line() {
    let scratch = Scratch::new();
    let spec = scratch.spec(Some(json!([
        {"step": "text", "text": "working"},
        {"step": "stderr", "text": "something broke"},
        {"step": "exit", "code": 3}
    ])));
    let (outcome, _) = run(spec).await;
    let Outcome::Failed {
        exit_code, message, ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(exit_code, Some(3));
    assert!(
        message.ends_with("exited with code 3 without a result: something broke"),
        "{message}"
    );
}

#[tokio::test]
async fn a_missing_program_fails_clearly() {
    let scratch = Scratch::new();
    let (outcome, _) = run_with(
        executor().with_program("/nonexistent/gemini"),
        scratch.spec(None),
    )
    .await;
    let Outcome::Failed { message, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(
        message.contains("cannot start `/nonexistent/gemini`"),
        "{message}"
    );
    assert!(message.contains("TECHLEAD_GEMINI"), "{message}");
}

/// Live processes of group `pgid` (zombies count as gone).
fn live_members(pgid: i32) -> Vec<i32> {
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

async fn assert_group_gone(pgid: i32) {
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

/// Starts an attempt that spawns a background sleeper, waits until the
/// fake is mid-run, cancels it, and returns the outcome and the group.
async fn cancel_mid_run(sigterm: &str, grace: Duration) -> (Outcome, i32, Duration) {
    let scratch = Scratch::new();
    let spec = scratch.spec(Some(json!({
        "sigterm": sigterm,
        "steps": [
            {"step": "spawn", "argv": ["sleep", "30"]},
            {"step": "text", "text": "working\n"},
            {"step": "sleep", "ms": 30000}
        ]
    })));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let attempt = tokio::spawn(executor().with_grace(grace).run(spec, tx, cancel.clone()));
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

#[tokio::test]
async fn cancel_sends_sigterm_and_the_group_goes() {
    let (outcome, pid, elapsed) = cancel_mid_run("exit", Duration::from_secs(60)).await;
    assert_eq!(outcome, Outcome::Cancelled);
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    assert_group_gone(pid).await;
}

#[tokio::test]
async fn cancel_kills_a_fake_that_ignores_sigterm_after_the_grace() {
    let grace = Duration::from_millis(200);
    let (outcome, pid, elapsed) = cancel_mid_run("ignore", grace).await;
    assert_eq!(outcome, Outcome::Cancelled);
    assert!(elapsed >= grace, "{elapsed:?}");
    assert_group_gone(pid).await;
}

#[tokio::test]
async fn timeout_stops_the_attempt() {
    let scratch = Scratch::new();
    let mut spec = scratch.spec(Some(json!([{"step": "sleep", "ms": 30000}])));
    spec.timeout = Duration::from_millis(300);
    let (outcome, _) = run(spec).await;
    assert_eq!(outcome, Outcome::TimedOut);
}
