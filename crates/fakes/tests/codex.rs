//! The `codex` executor against the fake `codex`.
//!
//! Durations here are hang guards, never what is measured: a test that needs
//! the fake to be mid-run waits for an event.

use crate::support;

use serde_json::json;
use std::fs;
use std::time::Duration;
use support::{HANG_GUARD, Scratch, assert_group_gone, flag, last_usage, progress, run_attempt};
use techlead_engine::executor::codex::CodexExecutor;
use techlead_engine::executor::{AttemptSpec, ExecEvent, Outcome};
use tokio_util::sync::CancellationToken;

fn executor() -> CodexExecutor {
    CodexExecutor::new()
        .with_program(env!("CARGO_BIN_EXE_codex"))
        .with_grace(Duration::from_millis(200))
        .with_drain(Duration::from_millis(200))
}

async fn run_with(executor: CodexExecutor, spec: AttemptSpec) -> (Outcome, Vec<ExecEvent>) {
    run_attempt(&executor, spec, CancellationToken::new(), HANG_GUARD).await
}

async fn run(spec: AttemptSpec) -> (Outcome, Vec<ExecEvent>) {
    run_with(executor(), spec).await
}

#[tokio::test]
async fn success_reports_thread_progress_and_usage() {
    let scratch = Scratch::new("codex");
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
        matches!(events.get(1), Some(ExecEvent::Session(id)) if id.len() == 36 && id.as_bytes()[14] == b'7'),
        "{events:?}"
    );
    assert_eq!(
        progress(&events),
        [
            "running `bash -lc ls`",
            "changing out/T1.md",
            "Done: wrote out/T1.md."
        ]
    );
    let usage = last_usage(&events);
    // Two paid steps of 1000 input (800 cached) and 50 output.
    assert_eq!(usage.input_tokens, 400);
    assert_eq!(usage.cache_read_tokens, 1600);
    assert_eq!(usage.output_tokens, 100);
    assert_eq!((usage.turns, usage.tool_uses), (1, 2));
    // The agent worked in the workdir, fed the prompt on stdin.
    assert_eq!(
        fs::read_to_string(spec.workdir.join("out/T1.md")).unwrap(),
        "Build the thing.\n"
    );
    assert_eq!(
        fs::read_to_string(spec.prompt_path()).unwrap(),
        "Build the thing.\n"
    );
    let log = fs::read_to_string(spec.log_path()).unwrap();
    assert!(log.contains(r#""type":"turn.completed""#), "{log}");
    let call = &scratch.calls()[0];
    assert_eq!(call["stdin"], "Build the thing.\n");
    assert_eq!(call["cwd"], spec.workdir.display().to_string());
    let argv = scratch.argv();
    assert_eq!(argv[..2], ["exec", "--json"]);
    assert_eq!(flag(&argv, "--sandbox"), Some("workspace-write"));
    assert_eq!(flag(&argv, "-C"), Some(spec.workdir.to_str().unwrap()));
    assert!(argv.contains(&"--skip-git-repo-check".to_owned()));
    assert_eq!(argv.last().map(String::as_str), Some("-"));
    assert!(!argv.contains(&"-m".to_owned()) && !argv.contains(&"resume".to_owned()));
}

#[tokio::test]
async fn settings_model_and_resume_become_flags() {
    let scratch = Scratch::new("codex");
    let mut spec = scratch.spec(Some(json!([{"step": "message", "text": "again"}])));
    spec.model = Some("gpt-5-codex".into());
    spec.resume_session = Some("0199a213-81c0-7800-8aa1-bbab2a035a53".into());
    spec.agent_prompt = "You are a careful backend developer.".into();
    let (outcome, events) =
        run_with(executor().with_sandbox("danger-full-access"), spec.clone()).await;
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    let argv = scratch.argv();
    assert_eq!(flag(&argv, "--sandbox"), Some("danger-full-access"));
    assert_eq!(flag(&argv, "-m"), Some("gpt-5-codex"));
    assert_eq!(
        argv[argv.len() - 3..],
        ["resume", "0199a213-81c0-7800-8aa1-bbab2a035a53", "-"]
    );
    assert!(events.contains(&ExecEvent::Session(
        "0199a213-81c0-7800-8aa1-bbab2a035a53".into()
    )));
    // A resumed thread's usage is its running total, reported as is.
    let usage = last_usage(&events);
    assert_eq!((usage.input_tokens, usage.cache_read_tokens), (400, 1600));
    assert_eq!(usage.model.as_deref(), Some("gpt-5-codex"));
    // The agent's instructions lead the prompt, which prompt.md holds.
    let prompt = fs::read_to_string(spec.prompt_path()).unwrap();
    assert!(
        prompt.starts_with("You are a careful backend developer.")
            && prompt.ends_with("Build the thing.\n"),
        "{prompt}"
    );
    assert_eq!(scratch.calls()[0]["stdin"], prompt);
}

#[tokio::test]
async fn the_first_item_shape_is_read() {
    let scratch = Scratch::new("codex");
    let mut scenario = json!({"shape": "first", "steps": []});
    scenario["steps"] = json!([
        {"step": "reasoning", "text": "hmm"},
        {"step": "command", "command": "cargo test", "output": "ok"},
        {"step": "message", "text": "All tests pass."}
    ]);
    let spec = scratch.spec(Some(scenario));
    let (outcome, events) = run(spec.clone()).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            summary: Some("All tests pass.".into())
        }
    );
    assert_eq!(
        progress(&events),
        ["running `cargo test`", "All tests pass."]
    );
    let log = fs::read_to_string(spec.log_path()).unwrap();
    assert!(log.contains(r#""item_type":"assistant_message""#), "{log}");
    assert!(!log.contains("ignored a line"), "{log}");
}

#[tokio::test]
async fn a_429_turn_failure_is_rate_limited() {
    let scratch = Scratch::new("codex");
    let message = "exceeded retry limit, last status: 429 Too Many Requests";
    let spec = scratch.spec(Some(json!([
        {"step": "message", "text": "Starting."},
        {"step": "error", "message": "Reconnecting... 1/5 (unexpected status 429 Too Many Requests)"},
        {"step": "fail", "message": message}
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
            .any(|p| p.starts_with("error: Reconnecting... 1/5"))
    );
}

#[tokio::test]
async fn a_usage_limit_is_rate_limited() {
    let scratch = Scratch::new("codex");
    let spec = scratch.spec(Some(json!([
        {"step": "fail", "message": "You've hit your usage limit. Try again later."}
    ])));
    let (outcome, _) = run(spec).await;
    assert!(
        matches!(outcome, Outcome::RateLimited { until: None, .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_401_needs_a_person() {
    let scratch = Scratch::new("codex");
    let message = "unexpected status 401 Unauthorized: Incorrect API key provided";
    let spec = scratch.spec(Some(json!([{"step": "fail", "message": message}])));
    let (outcome, _) = run(spec).await;
    assert_eq!(
        outcome,
        Outcome::NeedsPerson {
            message: message.into()
        }
    );
}

#[tokio::test]
async fn no_quota_needs_a_person() {
    let scratch = Scratch::new("codex");
    let spec = scratch.spec(Some(json!([{"step": "fail",
        "message": "Quota exceeded. Check your plan and billing details."}])));
    let (outcome, _) = run(spec).await;
    assert!(
        matches!(outcome, Outcome::NeedsPerson { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn an_ordinary_turn_failure_fails_with_its_exit_code() {
    let scratch = Scratch::new("codex");
    let spec = scratch.spec(Some(json!([
        {"step": "fail", "message": "stream disconnected before completion", "code": 101}
    ])));
    let (outcome, _) = run(spec).await;
    assert_eq!(
        outcome,
        Outcome::Failed {
            exit_code: Some(101),
            signal: None,
            message: "Codex turn failed: stream disconnected before completion".into()
        }
    );
}

#[tokio::test]
async fn unknown_lines_are_ignored() {
    let scratch = Scratch::new("codex");
    let spec = scratch.spec(Some(json!([
        {"step": "line", "text": "{\"type\":\"brand.new\",\"x\":1}"},
        {"step": "line", "text": "{\"type\":\"item.completed\",\"item\":{\"id\":\"x\",\"type\":\"hologram\"}}"},
        {"step": "line", "text": "not JSON at all"},
        {"step": "warning", "message": "model rerouted"},
        {"step": "todo", "items": [["plan", true], ["build", false]]},
        {"step": "stderr", "text": "a warning on stderr"},
        {"step": "message", "text": "fine"}
    ])));
    let (outcome, events) = run(spec.clone()).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            summary: Some("fine".into())
        }
    );
    assert!(events.contains(&ExecEvent::Progress {
        percent: Some(50),
        message: "1 of 2 steps done".into()
    }));
    let log = fs::read_to_string(spec.log_path()).unwrap();
    assert!(log.contains("not JSON at all"), "{log}");
    assert!(log.contains("a warning on stderr"), "{log}");
    assert!(log.contains("unknown event type `brand.new`"), "{log}");
    assert!(log.contains("unknown item type `hologram`"), "{log}");
}

#[tokio::test]
async fn several_turns_count_and_report_usage_each_time() {
    let scratch = Scratch::new("codex");
    let spec = scratch.spec(Some(json!([
        {"step": "message", "text": "one"},
        {"step": "turn"},
        {"step": "message", "text": "two"}
    ])));
    let (outcome, events) = run(spec).await;
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    let usages: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ExecEvent::Usage(usage) => Some((usage.turns, usage.output_tokens)),
            _ => None,
        })
        .collect();
    assert_eq!(usages, [(1, 50), (2, 100)]);
}

#[tokio::test]
async fn exit_without_a_turn_fails_with_the_last_stderr_line() {
    let scratch = Scratch::new("codex");
    let spec = scratch.spec(Some(json!([
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
    let scratch = Scratch::new("codex");
    let (outcome, _) = run_with(
        executor().with_program("/nonexistent/codex"),
        scratch.spec(None),
    )
    .await;
    let Outcome::Failed { message, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(
        message.contains("cannot start `/nonexistent/codex`"),
        "{message}"
    );
    assert!(message.contains("TECHLEAD_CODEX"), "{message}");
}

/// Starts an attempt that spawns a background sleeper, waits until the
/// fake is mid-run, cancels it, and returns the outcome and the group.
async fn cancel_mid_run(sigterm: &str, grace: Duration) -> (Outcome, i32, Duration) {
    let scratch = Scratch::new("codex");
    let spec = scratch.spec(Some(json!({
        "sigterm": sigterm,
        "steps": [
            {"step": "spawn", "argv": ["sleep", "30"]},
            {"step": "message", "text": "working"},
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
    let scratch = Scratch::new("codex");
    let mut spec = scratch.spec(Some(json!([{"step": "sleep", "ms": 30000}])));
    spec.timeout = Duration::from_millis(300);
    let (outcome, _) = run(spec).await;
    assert_eq!(outcome, Outcome::TimedOut);
}
