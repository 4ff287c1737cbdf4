//! The `gemini` executor against the fake `gemini`.
//!
//! Durations here are hang guards, never what is measured: a test that needs
//! the fake to be mid-run waits for an event.

use crate::support;

use serde_json::json;
use std::fs;
use std::time::Duration;
use support::{HANG_GUARD, Scratch, assert_group_gone, flag, last_usage, progress, run_attempt};
use techlead_engine::executor::gemini::GeminiExecutor;
use techlead_engine::executor::{AttemptSpec, ExecEvent, Outcome};
use tokio_util::sync::CancellationToken;

fn executor() -> GeminiExecutor {
    GeminiExecutor::new()
        .with_program(env!("CARGO_BIN_EXE_gemini"))
        .with_grace(Duration::from_millis(200))
        .with_drain(Duration::from_millis(200))
}

async fn run_with(executor: GeminiExecutor, spec: AttemptSpec) -> (Outcome, Vec<ExecEvent>) {
    run_attempt(&executor, spec, CancellationToken::new(), HANG_GUARD).await
}

async fn run(spec: AttemptSpec) -> (Outcome, Vec<ExecEvent>) {
    run_with(executor(), spec).await
}

#[tokio::test]
async fn success_reports_session_progress_and_usage() {
    let scratch = Scratch::new("gemini");
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
    let usage = last_usage(&events);
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
    let scratch = Scratch::new("gemini");
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
        last_usage(&events).model.as_deref(),
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
    let scratch = Scratch::new("gemini");
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
    let scratch = Scratch::new("gemini");
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
    let scratch = Scratch::new("gemini");
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
    let scratch = Scratch::new("gemini");
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
        let scratch = Scratch::new("gemini");
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
    let scratch = Scratch::new("gemini");
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
    let scratch = Scratch::new("gemini");
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
    let scratch = Scratch::new("gemini");
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
    let scratch = Scratch::new("gemini");
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

/// Starts an attempt that spawns a background sleeper, waits until the
/// fake is mid-run, cancels it, and returns the outcome and the group.
async fn cancel_mid_run(sigterm: &str, grace: Duration) -> (Outcome, i32, Duration) {
    let scratch = Scratch::new("gemini");
    let spec = scratch.spec(Some(json!({
        "sigterm": sigterm,
        "steps": [
            {"step": "spawn", "argv": ["sleep", "30"]},
            {"step": "text", "text": "working\n"},
            {"step": "sleep", "ms": 30000}
        ]
    })));
    support::cancel_mid_run(&executor().with_grace(grace), spec).await
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
    let scratch = Scratch::new("gemini");
    let mut spec = scratch.spec(Some(json!([{"step": "sleep", "ms": 30000}])));
    spec.timeout = Duration::from_millis(300);
    let (outcome, _) = run(spec).await;
    assert_eq!(outcome, Outcome::TimedOut);
}
