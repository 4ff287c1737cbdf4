//! The `claude-code` executor against the fake `claude`.
//!
//! Durations here are hang guards, never what is measured: a test that needs
//! the fake to be mid-run waits for an event, and a fake that must hold on
//! waits for a file the test creates.

use crate::support;

use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{HANG_GUARD, Scratch, assert_group_gone, flag, last_usage, progress, run_attempt};
use techlead_engine::executor::claude_code::ClaudeCodeExecutor;
use techlead_engine::executor::{AttemptSpec, ExecEvent, Executor, Outcome};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

fn executor() -> ClaudeCodeExecutor {
    ClaudeCodeExecutor::new()
        .with_program(env!("CARGO_BIN_EXE_claude"))
        .with_grace(Duration::from_millis(200))
        .with_drain(Duration::from_millis(200))
}

async fn run_with(executor: ClaudeCodeExecutor, spec: AttemptSpec) -> (Outcome, Vec<ExecEvent>) {
    run_attempt(&executor, spec, CancellationToken::new(), HANG_GUARD).await
}

async fn run(spec: AttemptSpec) -> (Outcome, Vec<ExecEvent>) {
    run_with(executor(), spec).await
}

#[tokio::test]
async fn success_reports_session_progress_usage_and_cost() {
    let scratch = Scratch::new("claude");
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
            "using Write",
            "Wrote out/T1.md."
        ]
    );
    let usage = last_usage(&events);
    assert_eq!(usage.turns, 3);
    assert_eq!(usage.tool_uses, 1);
    assert_eq!(usage.input_tokens, 300);
    assert_eq!(usage.output_tokens, 60);
    assert_eq!(usage.cache_read_tokens, 3000);
    assert_eq!(usage.cache_write_tokens, 150);
    assert!((usage.cost_usd - 0.0075).abs() < 1e-9, "{}", usage.cost_usd);
    assert_eq!(usage.model.as_deref(), Some("claude-sonnet-5"));
    // The agent worked in the workdir; prompt and log are in the attempt dir.
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
    // The flags, always: headless, stream-json with --verbose.
    let argv = &scratch.argvs()[0];
    assert_eq!(
        argv[..4],
        ["-p", "--output-format", "stream-json", "--verbose"]
    );
    assert_eq!(flag(argv, "--permission-mode"), Some("acceptEdits"));
    for absent in [
        "--resume",
        "--allowedTools",
        "--append-system-prompt",
        "--model",
        "--max-turns",
    ] {
        assert!(!argv.iter().any(|arg| arg == absent), "{argv:?}");
    }
}

#[tokio::test]
async fn agent_settings_become_flags() {
    let scratch = Scratch::new("claude");
    let mut spec = scratch.spec(None);
    spec.agent_prompt = "You are a careful backend developer.".into();
    spec.model = Some("opus".into());
    spec.tools = Some(vec![
        "Read".into(),
        "Bash(git diff *)".into(),
        "Edit".into(),
    ]);
    spec.resume_session = Some("3f0c-earlier".into());
    spec.budget_usd = Some(2.5);
    let executor = executor()
        .with_max_turns(Some(7))
        .with_permission_mode("dontAsk");
    let (outcome, events) = run_with(executor, spec).await;
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    let argv = &scratch.argvs()[0];
    assert_eq!(
        flag(argv, "--append-system-prompt"),
        Some("You are a careful backend developer.")
    );
    assert_eq!(flag(argv, "--model"), Some("opus"));
    assert_eq!(
        flag(argv, "--allowedTools"),
        Some("Read,Bash(git diff *),Edit")
    );
    assert_eq!(flag(argv, "--resume"), Some("3f0c-earlier"));
    assert_eq!(flag(argv, "--max-budget-usd"), Some("2.5"));
    assert_eq!(flag(argv, "--max-turns"), Some("7"));
    assert_eq!(flag(argv, "--permission-mode"), Some("dontAsk"));
    // The fake resumes the session it was given.
    assert!(events.contains(&ExecEvent::Session("3f0c-earlier".into())));
}

#[tokio::test]
async fn is_error_401_needs_a_person() {
    let scratch = Scratch::new("claude");
    let spec = scratch.spec(Some(json!([
        {"step": "api_error", "status": 401, "text": "Invalid API key · Please run /login"}
    ])));
    let (outcome, _) = run(spec).await;
    assert_eq!(
        outcome,
        Outcome::NeedsPerson {
            message: "Invalid API key · Please run /login".into()
        }
    );
}

#[tokio::test]
async fn is_error_429_with_a_reset_time_is_rate_limited() {
    let scratch = Scratch::new("claude");
    let text = "You've hit your session limit · resets 4:50pm (Europe/London)";
    let spec = scratch.spec(Some(json!([
        {"step": "text", "text": "Starting."},
        {"step": "api_error", "status": 429, "text": text}
    ])));
    let before = jiff::Timestamp::now();
    let (outcome, _) = run(spec).await;
    let Outcome::RateLimited {
        until: Some(until),
        message,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(message, text);
    assert!(until > before, "{until}");
    assert!(
        until.duration_since(before) <= jiff::SignedDuration::from_hours(25),
        "{until}"
    );
}

#[tokio::test]
async fn is_error_529_is_rate_limited() {
    let scratch = Scratch::new("claude");
    let spec = scratch.spec(Some(json!([
        {"step": "api_retry", "error_status": 529, "error": "overloaded"},
        {"step": "api_error", "status": 529, "text": "API Error: Repeated 529 Overloaded errors"}
    ])));
    let (outcome, events) = run(spec).await;
    assert!(
        matches!(outcome, Outcome::RateLimited { until: None, .. }),
        "{outcome:?}"
    );
    assert!(
        progress(&events)[0].contains("overloaded (HTTP 529)"),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_rejected_rate_limit_event_gives_the_reset() {
    let scratch = Scratch::new("claude");
    let spec = scratch.spec(Some(json!([
        {"step": "rate_limit", "status": "rejected", "resets_at": 4102444800_i64},
        {"step": "api_error", "status": null, "text": "Claude usage limit reached."}
    ])));
    let (outcome, _) = run(spec).await;
    assert_eq!(
        outcome,
        Outcome::RateLimited {
            until: Some(jiff::Timestamp::from_second(4102444800).unwrap()),
            message: "Claude usage limit reached.".into()
        }
    );
}

#[tokio::test]
async fn error_max_turns_fails() {
    let scratch = Scratch::new("claude");
    let spec = scratch.spec(Some(json!([
        {"step": "text", "text": "one"},
        {"step": "text", "text": "two"},
        {"step": "text", "text": "three"},
        {"step": "result"}
    ])));
    // The fake honours --max-turns as the real CLI does.
    let (outcome, _) = run_with(executor().with_max_turns(Some(2)), spec).await;
    let Outcome::Failed {
        exit_code, message, ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(exit_code, Some(1));
    assert!(
        message.contains("Reached maximum number of turns (2)"),
        "{message}"
    );
}

#[tokio::test]
async fn the_fakes_refusal_without_verbose_is_a_failure_with_its_message() {
    // We always pass --verbose (checked above); here the fake is run through
    // a wrapper that drops it, to see the refusal mapped.
    let scratch = Scratch::new("claude");
    let wrapper = scratch.path("no-verbose.sh");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nfor a; do shift; [ \"$a\" = --verbose ] || set -- \"$@\" \"$a\"; done\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_claude")
        ),
    )
    .unwrap();
    let spec = scratch.spec(None);
    let executor = executor().with_program(wrapper_command(&wrapper));
    let (outcome, _) = run_with(executor, spec).await;
    assert_eq!(
        outcome,
        Outcome::Failed {
            exit_code: Some(1),
            signal: None,
            message: format!(
                "`{}` exited with code 1 without a result: \
                 Error: When using --print, --output-format=stream-json requires --verbose",
                wrapper.display()
            )
        }
    );
    let argv = &scratch.argvs()[0];
    assert!(!argv.iter().any(|arg| arg == "--verbose"), "{argv:?}");
}

/// Makes the wrapper executable and returns its path.
fn wrapper_command(path: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_owned()
}

#[tokio::test]
async fn unknown_lines_are_ignored() {
    let scratch = Scratch::new("claude");
    let spec = scratch.spec(Some(json!([
        {"step": "line", "text": "{\"type\":\"brand_new_thing\",\"x\":1}"},
        {"step": "line", "text": "{\"type\":\"system\",\"subtype\":\"hook_started\"}"},
        {"step": "line", "text": "not JSON at all"},
        {"step": "rate_limit", "status": "allowed_warning"},
        {"step": "stderr", "text": "a warning on stderr"},
        {"step": "result", "text": "fine"}
    ])));
    let (outcome, _) = run(spec.clone()).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            summary: Some("fine".into())
        }
    );
    let log = fs::read_to_string(spec.log_path()).unwrap();
    assert!(log.contains("not JSON at all"), "{log}");
    assert!(log.contains("a warning on stderr"), "{log}");
    assert!(log.contains("unknown line type `brand_new_thing`"), "{log}");
}

#[tokio::test]
async fn a_slow_stream_reports_progress_before_the_end() {
    let scratch = Scratch::new("claude");
    let gate = scratch.path("go");
    let spec = scratch.spec(Some(json!([
        {"step": "text", "text": "first step done"},
        {"step": "wait_file", "path": gate.display().to_string()},
        {"step": "result", "text": "all done"}
    ])));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let attempt = tokio::spawn(executor().run(spec, tx, CancellationToken::new()));
    // The progress arrives while the fake is still waiting for the gate.
    loop {
        match timeout(HANG_GUARD, rx.recv()).await.expect("no progress") {
            Some(ExecEvent::Progress { message, .. }) => {
                assert_eq!(message, "first step done");
                break;
            }
            Some(_) => continue,
            None => panic!("the attempt ended without progress"),
        }
    }
    assert!(!attempt.is_finished());
    fs::write(&gate, "").unwrap();
    let outcome = timeout(HANG_GUARD, attempt).await.expect("hung").unwrap();
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            summary: Some("all done".into())
        }
    );
}

/// Starts an attempt that spawns a background sleeper, waits until the
/// fake is mid-run, cancels it, and returns the outcome and the group.
async fn cancel_mid_run(sigterm: &str, grace: Duration) -> (Outcome, i32, Duration) {
    let scratch = Scratch::new("claude");
    let spec = scratch.spec(Some(json!({
        "sigterm": sigterm,
        "steps": [
            {"step": "spawn", "argv": ["sleep", "30"]},
            {"step": "text", "text": "working"},
            {"step": "sleep", "ms": 30000},
            {"step": "result"}
        ]
    })));
    support::cancel_mid_run(&executor().with_grace(grace), spec).await
}

#[tokio::test]
async fn cancel_sends_sigterm_and_the_group_goes() {
    // The fake exits 143 on SIGTERM, like the real CLI: no grace needed.
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
    let scratch = Scratch::new("claude");
    let mut spec = scratch.spec(Some(
        json!([{"step": "sleep", "ms": 30000}, {"step": "result"}]),
    ));
    spec.timeout = Duration::from_millis(300);
    let (outcome, _) = run(spec).await;
    assert_eq!(outcome, Outcome::TimedOut);
}

#[tokio::test]
async fn exit_without_a_result_fails_with_the_last_stderr_line() {
    let scratch = Scratch::new("claude");
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
    let scratch = Scratch::new("claude");
    let spec = scratch.spec(None);
    let (outcome, _) = run_with(executor().with_program("/nonexistent/claude"), spec).await;
    let Outcome::Failed { message, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(
        message.contains("cannot start `/nonexistent/claude`"),
        "{message}"
    );
}
