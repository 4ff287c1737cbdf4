//! The `command` executor against real child processes.
//!
//! The tests use `sh -c` as the program to script children; the executor
//! itself never adds a shell. Durations in assertions are hang guards or
//! lower bounds the child cannot beat, never the thing being measured.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use techlead_engine::executor::command::CommandExecutor;
use techlead_engine::executor::{AttemptSpec, ExecEvent, Executor, Outcome};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

/// A generous bound for "this must not hang".
const HANG_GUARD: Duration = Duration::from_secs(20);
const GRACE: Duration = Duration::from_millis(200);

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("techlead-command-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(path.join("work")).expect("scratch directory");
        Scratch(path)
    }

    fn workdir(&self) -> PathBuf {
        self.0.join("work")
    }

    /// The stem of the attempt's files.
    fn attempt_dir(&self) -> PathBuf {
        self.0.join("attempts").join("t1.1")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn spec(scratch: &Scratch, argv: &[&str]) -> AttemptSpec {
    AttemptSpec {
        mission_id: "m-42".into(),
        task_id: "t1".into(),
        task_title: "Wire the API".into(),
        attempt: 3,
        agent: "backend-dev".into(),
        command: Some(argv.iter().map(|s| s.to_string()).collect()),
        prompt: "Build the thing.\nIt's \"quoted\" and has $(no shell).\n".into(),
        workdir: scratch.workdir(),
        attempt_dir: scratch.attempt_dir(),
        timeout: Duration::from_secs(60),
        env: vec![("EXTRA_VAR".into(), "extra value".into())],
        agent_prompt: String::new(),
        model: None,
        tools: None,
        resume_session: None,
        budget_usd: None,
        estimate_hours: None,
    }
}

fn sh(script: &str) -> Vec<&str> {
    vec!["sh", "-c", script]
}

fn executor() -> CommandExecutor {
    CommandExecutor::new()
        .with_grace(GRACE)
        .with_drain(Duration::from_millis(200))
}

struct Run {
    outcome: Outcome,
    events: Vec<ExecEvent>,
    elapsed: Duration,
}

async fn run_with(executor: &CommandExecutor, spec: AttemptSpec) -> Run {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let start = Instant::now();
    let outcome = timeout(HANG_GUARD, executor.run(spec, tx, CancellationToken::new()))
        .await
        .expect("the attempt hung");
    let elapsed = start.elapsed();
    let mut events = Vec::new();
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    Run {
        outcome,
        events,
        elapsed,
    }
}

async fn run(spec: AttemptSpec) -> Run {
    run_with(&executor(), spec).await
}

fn log(spec: &AttemptSpec) -> String {
    fs::read_to_string(spec.log_path()).expect("the log file")
}

fn started_pid(events: &[ExecEvent]) -> i32 {
    match events.first() {
        Some(ExecEvent::Started { pid: Some(pid) }) => *pid as i32,
        other => panic!("the first event should be Started with a pid, got {other:?}"),
    }
}

/// Processes of group `pgid` that are still alive (zombies waiting for
/// their reaper count as gone: they run nothing and hold no pipe).
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
        // pid (comm) state ppid pgrp ...; comm may contain spaces.
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

/// Waits (bounded) until group `pgid` has no live process. SIGKILL is
/// delivered asynchronously, so the last members may take a moment to die.
async fn assert_group_gone(pgid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = live_members(pgid);
        if live.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process group {pgid} still has live members {live:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn success_reports_in_order_and_logs_everything() {
    let scratch = Scratch::new();
    let spec = spec(
        &scratch,
        &sh("echo hello; \
             echo '::progress 10 reading the code'; \
             echo oops >&2; \
             echo '::progress wiring'; \
             echo '::artifact src/api.rs'; \
             echo '::decision use axum'; \
             echo '::xyz not a report'; \
             echo '::summary first'; \
             echo '::summary the API is wired'"),
    );
    let result = run(spec.clone()).await;
    assert_eq!(
        result.outcome,
        Outcome::Succeeded {
            summary: Some("the API is wired".into())
        }
    );
    started_pid(&result.events);
    assert_eq!(
        result.events[1..],
        [
            ExecEvent::Progress {
                percent: Some(10),
                message: "reading the code".into()
            },
            ExecEvent::Progress {
                percent: None,
                message: "wiring".into()
            },
            ExecEvent::Artifact("src/api.rs".into()),
            ExecEvent::Decision("use axum".into()),
            ExecEvent::Summary("first".into()),
            ExecEvent::Summary("the API is wired".into()),
        ]
    );
    let log = log(&spec);
    for line in [
        "hello\n",
        "oops\n",
        "::progress 10 reading the code\n",
        "::xyz not a report\n",
        "::summary the API is wired\n",
    ] {
        assert!(log.contains(line), "{line:?} missing from the log:\n{log}");
    }
}

#[tokio::test]
async fn the_child_sees_its_environment_and_workdir() {
    let scratch = Scratch::new();
    let spec = spec(
        &scratch,
        &sh("echo \"mission=$TECHLEAD_MISSION\"; \
             echo \"task=$TECHLEAD_TASK\"; \
             echo \"title=$TECHLEAD_TASK_TITLE\"; \
             echo \"attempt=$TECHLEAD_ATTEMPT\"; \
             echo \"agent=$TECHLEAD_AGENT\"; \
             echo \"workdir=$TECHLEAD_WORKDIR\"; \
             echo \"result=$TECHLEAD_RESULT\"; \
             echo \"prompt=$TECHLEAD_PROMPT_FILE\"; \
             echo \"extra=$EXTRA_VAR\"; \
             echo \"path=${PATH:+set}\"; \
             echo \"pwd=$(pwd -P)\""),
    );
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    let log = log(&spec);
    let workdir = fs::canonicalize(&spec.workdir).unwrap();
    for line in [
        "mission=m-42".to_owned(),
        "task=t1".to_owned(),
        "title=Wire the API".to_owned(),
        "attempt=3".to_owned(),
        "agent=backend-dev".to_owned(),
        format!("workdir={}", spec.workdir.display()),
        format!("result={}", spec.result_path().display()),
        format!("prompt={}", spec.prompt_path().display()),
        "extra=extra value".to_owned(),
        "path=set".to_owned(),
        format!("pwd={}", workdir.display()),
    ] {
        assert!(
            log.lines().any(|l| l == line),
            "{line:?} missing from the log:\n{log}"
        );
    }
}

#[tokio::test]
async fn the_inherited_environment_passes_and_the_spec_overrides_it() {
    // The test's own environment, as techlead's: HOME is inherited, PATH is
    // changed by the task and used to find the program, and a variable
    // given twice takes its last value.
    let scratch = Scratch::new();
    let bin = scratch.0.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let tool = bin.join("only-here");
    fs::write(
        &tool,
        "#!/bin/sh\necho \"tool ran, home=$HOME, twice=$TWICE\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    let mut spec = spec(&scratch, &["only-here"]);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    spec.env = vec![
        ("PATH".into(), path),
        ("TWICE".into(), "first".into()),
        ("TWICE".into(), "second".into()),
    ];
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    let home = std::env::var("HOME").unwrap_or_default();
    assert_eq!(log(&spec), format!("tool ran, home={home}, twice=second\n"));

    // Without the task's PATH the same program is not found.
    let mut spec = spec.clone();
    spec.env.clear();
    spec.attempt_dir = scratch.0.join("attempts").join("t1.2");
    match run(spec).await.outcome {
        Outcome::Failed { message, .. } => assert!(
            message.contains("cannot start `only-here`") && message.contains("PATH"),
            "{message}"
        ),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn the_child_gets_sigpipe_at_its_default_and_no_blocked_signals() {
    // Rust ignores SIGPIPE; a child must not inherit that, or `yes | head`
    // would end with a write error instead of quietly.
    let scratch = Scratch::new();
    let spec = spec(
        &scratch,
        &sh("yes | head -n 1; grep -E '^(SigIgn|SigBlk)' /proc/self/status"),
    );
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    let log = log(&spec);
    assert!(log.starts_with("y\n"), "{log}");
    assert!(!log.contains("Broken pipe"), "{log}");
    let mask = |name: &str| {
        let line = log.lines().find(|l| l.starts_with(name)).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(mask("SigBlk:"), 0, "{log}");
    assert_eq!(
        mask("SigIgn:") & (1 << (13 - 1)),
        0,
        "SIGPIPE ignored: {log}"
    );
}

/// The same, seen by the program itself rather than through a shell
/// (which may set its own mask): techlead blocks every signal while it
/// starts a child, and none of that reaches the program, which ignores
/// exactly what techlead's caller made it ignore (SIGPIPE aside).
#[tokio::test]
async fn the_program_itself_starts_with_no_blocked_signal_and_only_inherited_ignores() {
    const SIGPIPE: u64 = 1 << (13 - 1);
    let mask = |status: &str, name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).expect(name);
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    let own = fs::read_to_string("/proc/self/status").unwrap();
    let scratch = Scratch::new();
    let spec = spec(
        &scratch,
        &["grep", "-E", "^(SigBlk|SigIgn)", "/proc/self/status"],
    );
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    let log = log(&spec);
    assert_eq!(mask(&log, "SigBlk:"), 0, "{log}");
    assert_eq!(
        mask(&log, "SigIgn:"),
        mask(&own, "SigIgn:") & !SIGPIPE,
        "the program's {log} against techlead's {own}"
    );
}

#[tokio::test]
async fn the_prompt_is_on_stdin_and_in_the_file() {
    let scratch = Scratch::new();
    let spec = spec(&scratch, &["cat"]);
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    assert_eq!(log(&spec), spec.prompt);
    assert_eq!(fs::read_to_string(spec.prompt_path()).unwrap(), spec.prompt);
}

#[tokio::test]
async fn stdin_is_exactly_the_prompt_and_cannot_be_written() {
    let scratch = Scratch::new();
    // `cat` copies stdin to the log; then a write to stdin must fail.
    let mut spec = spec(
        &scratch,
        &sh("cat; if (printf x >&0) 2>/dev/null; then echo writable >&2; fi"),
    );
    // No final newline, multi-byte characters, a NUL-free but odd tail.
    spec.prompt = "première ligne\n\tindented ∑\r\nlast line without newline".into();
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    assert_eq!(log(&spec), spec.prompt);
    assert_eq!(fs::read_to_string(spec.prompt_path()).unwrap(), spec.prompt);
}

#[tokio::test]
async fn an_empty_prompt_is_an_empty_stdin() {
    let scratch = Scratch::new();
    let mut spec = spec(&scratch, &sh("echo \"read $(wc -c) bytes\""));
    spec.prompt = String::new();
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    assert_eq!(log(&spec).trim(), "read 0 bytes");
}

#[tokio::test]
async fn a_program_that_prints_nothing_leaves_no_log_file() {
    let scratch = Scratch::new();
    let spec = spec(&scratch, &["true"]);
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    assert!(spec.prompt_path().exists());
    assert!(
        !spec.log_path().exists(),
        "no output, no note: no output.log"
    );
}

#[tokio::test]
async fn a_silent_program_still_gets_a_log_for_techleads_notes() {
    let scratch = Scratch::new();
    let mut spec = spec(&scratch, &["sleep", "30"]);
    spec.timeout = Duration::from_millis(200);
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::TimedOut);
    let log = log(&spec);
    assert!(
        log.starts_with("techlead: the attempt ran past its timeout of 0.2 s"),
        "{log}"
    );
}

#[tokio::test]
async fn a_first_attempt_makes_every_missing_directory() {
    let scratch = Scratch::new();
    let mut spec = spec(&scratch, &sh("echo ran"));
    spec.attempt = 1;
    spec.attempt_dir = scratch.0.join("runs").join("m-42").join("t1.1");
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    assert_eq!(log(&spec), "ran\n");
    // A later attempt beside it, in the directory made above.
    spec.attempt = 2;
    spec.attempt_dir = scratch.0.join("runs").join("m-42").join("t1.2");
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    assert_eq!(log(&spec), "ran\n");
    // One file per attempt that printed nothing more than a line: the
    // prompt and the log, side by side, and no directory of its own.
    let mut files: Vec<String> = fs::read_dir(scratch.0.join("runs").join("m-42"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "t1.1.output.log",
            "t1.1.prompt.md",
            "t1.2.output.log",
            "t1.2.prompt.md"
        ]
    );
}

#[tokio::test]
async fn a_directory_for_the_files_that_is_a_file_is_a_clear_failure() {
    let scratch = Scratch::new();
    let spec = spec(&scratch, &["true"]);
    fs::write(spec.files_dir(), "not a directory").unwrap();
    match run(spec.clone()).await.outcome {
        Outcome::Failed { message, .. } => assert!(
            message.contains("cannot write the prompt file"),
            "{message}"
        ),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn prompt_text_is_never_interpreted_by_a_shell() {
    let scratch = Scratch::new();
    let marker = scratch.0.join("pwned");
    let mut spec = spec(&scratch, &["cat", "-"]);
    spec.prompt = format!("$(touch {0}) `touch {0}`; touch {0}\n", marker.display());
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    assert_eq!(log(&spec), spec.prompt);
    assert!(!marker.exists());
}

#[tokio::test]
async fn a_child_that_does_not_read_stdin_is_fine_even_with_a_huge_prompt() {
    let scratch = Scratch::new();
    let mut spec = spec(&scratch, &["true"]);
    spec.prompt = "x".repeat(4 * 1024 * 1024);
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    assert_eq!(
        fs::metadata(spec.prompt_path()).unwrap().len(),
        4 * 1024 * 1024
    );
}

#[tokio::test]
async fn a_non_zero_exit_fails_with_its_code_and_last_words() {
    let scratch = Scratch::new();
    let spec = spec(&scratch, &sh("echo 'cannot find Cargo.toml' >&2; exit 3"));
    let result = run(spec).await;
    assert_eq!(
        result.outcome,
        Outcome::Failed {
            exit_code: Some(3),
            signal: None,
            message: "`sh` exited with code 3: cannot find Cargo.toml".into()
        }
    );
}

#[tokio::test]
async fn a_child_killed_by_a_signal_fails_with_the_signal() {
    let scratch = Scratch::new();
    let spec = spec(&scratch, &sh("kill -KILL $$"));
    let result = run(spec).await;
    match result.outcome {
        Outcome::Failed {
            exit_code: None,
            signal: Some(9),
            message,
        } => assert!(message.contains("signal 9 (SIGKILL)"), "{message}"),
        other => panic!("expected a failure by SIGKILL, got {other:?}"),
    }
}

/// Runs `program`, which does not exist, and checks that the attempt
/// fails before it starts with a sentence naming it.
async fn assert_not_found(program: &str) {
    let scratch = Scratch::new();
    let spec = spec(&scratch, &[program, "--flag"]);
    let result = run(spec).await;
    assert_eq!(
        result.outcome,
        Outcome::Failed {
            exit_code: None,
            signal: None,
            message: format!(
                "cannot start `{program}`: No such file or directory \
                 (is it installed and on PATH?)"
            )
        }
    );
    assert!(result.events.is_empty());
}

#[tokio::test]
async fn a_missing_program_is_a_clear_failure() {
    assert_not_found("techlead-no-such-program").await;
}

/// A path that names no file fails in the child's `execve`, which the
/// spawn reports as it would a program missing from `PATH`.
#[tokio::test]
async fn a_missing_program_path_is_a_clear_failure() {
    assert_not_found("/no/such/dir/techlead-program").await;
}

#[tokio::test]
async fn a_file_that_is_not_executable_is_a_clear_failure() {
    let scratch = Scratch::new();
    fs::write(scratch.workdir().join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    let spec = spec(&scratch, &["./run.sh"]);
    let result = run(spec).await;
    assert_eq!(
        result.outcome,
        Outcome::Failed {
            exit_code: None,
            signal: None,
            message: "cannot start `./run.sh`: Permission denied (is it executable?)".into()
        }
    );
}

#[tokio::test]
async fn a_relative_program_path_is_in_the_workdir() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    let script = scratch.workdir().join("run.sh");
    fs::write(
        &script,
        "#!/bin/sh\necho '::summary ran from the workdir'\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let spec = spec(&scratch, &["./run.sh"]);
    let result = run(spec).await;
    assert_eq!(
        result.outcome,
        Outcome::Succeeded {
            summary: Some("ran from the workdir".into())
        }
    );
}

#[tokio::test]
async fn no_command_or_an_empty_one_fails() {
    let scratch = Scratch::new();
    for command in [None, Some(vec![]), Some(vec![String::new()])] {
        let mut spec = spec(&scratch, &[]);
        spec.command = command.clone();
        match run(spec).await.outcome {
            Outcome::Failed { message, .. } => {
                assert!(message.contains("no command to run"), "{message}")
            }
            other => panic!("{command:?}: expected a failure, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_missing_workdir_is_a_clear_failure() {
    let scratch = Scratch::new();
    let mut spec = spec(&scratch, &["true"]);
    spec.workdir = scratch.0.join("nowhere");
    match run(spec).await.outcome {
        Outcome::Failed { message, .. } => assert!(
            message.contains("the working directory") && message.contains("nowhere"),
            "{message}"
        ),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn timeout_kills_a_child_that_ignores_sigterm_and_its_group() {
    let scratch = Scratch::new();
    let mut spec = spec(
        &scratch,
        &sh("trap '' TERM; sleep 30 & echo '::progress trapped'; sleep 30"),
    );
    spec.timeout = Duration::from_millis(500);
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::TimedOut);
    assert!(
        result.elapsed < Duration::from_secs(10),
        "took {:?}",
        result.elapsed
    );
    assert_group_gone(started_pid(&result.events)).await;
    assert!(log(&spec).contains("timeout"), "{}", log(&spec));
}

#[tokio::test]
async fn cancel_terminates_then_kills_after_the_grace() {
    let scratch = Scratch::new();
    let spec = spec(
        &scratch,
        &sh("trap '' TERM; sleep 30 & echo '::progress ready'; sleep 30"),
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let executor = executor();
    let attempt = tokio::spawn(executor.run(spec.clone(), tx, cancel.clone()));
    let pid = match rx.recv().await {
        Some(ExecEvent::Started { pid: Some(pid) }) => pid as i32,
        other => panic!("expected Started, got {other:?}"),
    };
    // Cancel once the trap is in place, so only SIGKILL can end it.
    let ready = timeout(HANG_GUARD, rx.recv()).await.expect("no progress");
    assert!(
        matches!(ready, Some(ExecEvent::Progress { .. })),
        "{ready:?}"
    );
    // The shell and its two sleepers, which the check below must not miss.
    assert!(live_members(pid).len() >= 2, "{:?}", live_members(pid));
    let cancelled_at = Instant::now();
    cancel.cancel();
    let outcome = timeout(HANG_GUARD, attempt)
        .await
        .expect("the attempt hung")
        .unwrap();
    assert_eq!(outcome, Outcome::Cancelled);
    // The child ignores SIGTERM, so it cannot end before the grace.
    assert!(cancelled_at.elapsed() >= GRACE);
    assert_group_gone(pid).await;
}

#[tokio::test]
async fn cancel_stops_a_cooperative_child_without_waiting_for_the_grace() {
    let scratch = Scratch::new();
    let spec = spec(&scratch, &["sleep", "30"]);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    // A grace long enough that only SIGTERM can explain a prompt end.
    let executor = executor().with_grace(Duration::from_secs(60));
    let attempt = tokio::spawn(executor.run(spec, tx, cancel.clone()));
    let pid = match rx.recv().await {
        Some(ExecEvent::Started { pid: Some(pid) }) => pid as i32,
        other => panic!("expected Started, got {other:?}"),
    };
    cancel.cancel();
    let outcome = timeout(HANG_GUARD, attempt)
        .await
        .expect("the attempt hung")
        .unwrap();
    assert_eq!(outcome, Outcome::Cancelled);
    assert_group_gone(pid).await;
}

#[tokio::test]
async fn dropping_the_attempt_kills_its_group_at_once() {
    let scratch = Scratch::new();
    let spec = spec(
        &scratch,
        &sh("trap '' TERM; sleep 30 & echo '::progress ready'; sleep 30"),
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    // A grace that would outlast the test: only SIGKILL can explain the end.
    let executor = executor().with_grace(Duration::from_secs(600));
    let attempt = tokio::spawn(executor.run(spec, tx, CancellationToken::new()));
    let pid = match rx.recv().await {
        Some(ExecEvent::Started { pid: Some(pid) }) => pid as i32,
        other => panic!("expected Started, got {other:?}"),
    };
    let ready = timeout(HANG_GUARD, rx.recv()).await.expect("no progress");
    assert!(
        matches!(ready, Some(ExecEvent::Progress { .. })),
        "{ready:?}"
    );
    attempt.abort();
    assert!(attempt.await.unwrap_err().is_cancelled());
    assert_group_gone(pid).await;
    // And the child is reaped, not left a zombie.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "process {pid} was never reaped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_grandchild_holding_stdout_open_does_not_hang_the_attempt() {
    let scratch = Scratch::new();
    let spec = spec(
        &scratch,
        &sh("sleep 30 & echo hi; echo '::summary left a sleeper'"),
    );
    let result = run(spec.clone()).await;
    assert_eq!(
        result.outcome,
        Outcome::Succeeded {
            summary: Some("left a sleeper".into())
        }
    );
    assert!(
        result.elapsed < Duration::from_secs(10),
        "took {:?}",
        result.elapsed
    );
    let log = log(&spec);
    assert!(log.starts_with("hi\n"), "{log}");
    assert!(log.contains("killed process group"), "{log}");
    assert_group_gone(started_pid(&result.events)).await;
}

#[tokio::test]
async fn a_child_that_closes_its_output_early_is_still_waited_for() {
    let scratch = Scratch::new();
    // Its output ends long before it does: the exit is watched for then.
    let spec = spec(&scratch, &sh("exec >/dev/null 2>&1; sleep 0.3; exit 3"));
    let result = run(spec).await;
    assert!(
        matches!(
            result.outcome,
            Outcome::Failed {
                exit_code: Some(3),
                ..
            }
        ),
        "{:?}",
        result.outcome
    );
    assert!(
        result.elapsed >= Duration::from_millis(300),
        "took {:?}",
        result.elapsed
    );
}

#[tokio::test]
async fn background_processes_are_killed_when_the_child_exits() {
    let scratch = Scratch::new();
    // The sleeper closes its output, so only the group kill can stop it.
    let spec = spec(
        &scratch,
        &sh("sleep 30 >/dev/null 2>&1 </dev/null & exit 0"),
    );
    let result = run(spec).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    assert_group_gone(started_pid(&result.events)).await;
}

#[tokio::test]
async fn gigabytes_of_output_use_bounded_disk() {
    let scratch = Scratch::new();
    let cap = 256 * 1024;
    let spec = spec(
        &scratch,
        &sh("yes 'a line of output that repeats' | head -c 5000000; echo; echo '::summary done'"),
    );
    let executor = executor().with_log_cap(cap, 2);
    let result = run_with(&executor, spec.clone()).await;
    assert_eq!(
        result.outcome,
        Outcome::Succeeded {
            summary: Some("done".into())
        }
    );
    let files: Vec<PathBuf> = fs::read_dir(spec.files_dir())
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("t1.1.output.log")
        })
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    let line = "a line of output that repeats\n".len() as u64;
    for file in &files {
        let size = fs::metadata(file).unwrap().len();
        assert!(size <= cap + line, "{} is {size} bytes", file.display());
    }
    let newest = log(&spec);
    assert!(newest.ends_with("::summary done\n"));
    let rotated = |n: usize| PathBuf::from(format!("{}.{n}", spec.log_path().display()));
    assert!(rotated(1).exists() && rotated(2).exists() && !rotated(3).exists());
}

#[tokio::test]
async fn a_very_long_line_is_logged_whole_and_reports_still_parse_after_it() {
    let scratch = Scratch::new();
    let spec = spec(
        &scratch,
        &sh("head -c 3000000 /dev/zero | tr '\\0' x; echo; echo '::summary after the long line'"),
    );
    let result = run(spec.clone()).await;
    assert_eq!(
        result.outcome,
        Outcome::Succeeded {
            summary: Some("after the long line".into())
        }
    );
    let log = log(&spec);
    assert_eq!(
        log.len(),
        3_000_000 + 1 + "::summary after the long line\n".len()
    );
    assert!(log.starts_with(&"x".repeat(3_000_000)));
}

fn write_result(json: &str) -> String {
    format!("cat > \"$TECHLEAD_RESULT\" <<'EOF'\n{json}\nEOF\n")
}

#[tokio::test]
async fn the_result_file_gives_the_summary_artifacts_and_decisions() {
    let scratch = Scratch::new();
    let script = format!(
        "echo '::summary from stdout'; echo '::artifact a.txt'\n{}",
        write_result(
            r#"{"status": "success", "summary": "from the file",
                "artifacts": ["a.txt", "b.txt"], "decisions": ["keep it simple"]}"#
        )
    );
    let spec = spec(&scratch, &sh(&script));
    let result = run(spec).await;
    assert_eq!(
        result.outcome,
        Outcome::Succeeded {
            summary: Some("from the file".into())
        }
    );
    assert_eq!(
        result.events[1..],
        [
            ExecEvent::Summary("from stdout".into()),
            ExecEvent::Artifact("a.txt".into()),
            ExecEvent::Artifact("b.txt".into()),
            ExecEvent::Decision("keep it simple".into()),
        ]
    );
}

#[tokio::test]
async fn a_result_file_reporting_failure_fails_a_zero_exit() {
    let scratch = Scratch::new();
    let script = write_result(r#"{"status": "failure", "message": "tests still red"}"#);
    let spec = spec(&scratch, &sh(&script));
    let result = run(spec).await;
    assert_eq!(
        result.outcome,
        Outcome::Failed {
            exit_code: Some(0),
            signal: None,
            message: "`sh` exited with code 0 but its result file reports failure: \
                      tests still red"
                .into()
        }
    );
}

#[tokio::test]
async fn a_result_file_message_explains_a_non_zero_exit() {
    let scratch = Scratch::new();
    let script = format!(
        "{}exit 2",
        write_result(r#"{"status": "failure", "message": "no network"}"#)
    );
    let result = run(spec(&scratch, &sh(&script))).await;
    assert_eq!(
        result.outcome,
        Outcome::Failed {
            exit_code: Some(2),
            signal: None,
            message: "`sh` exited with code 2: no network".into()
        }
    );
}

#[tokio::test]
async fn a_malformed_result_file_is_a_warning_in_the_log() {
    let scratch = Scratch::new();
    let script = format!(
        "echo '::summary from stdout'\n{}",
        write_result("{not json")
    );
    let spec = spec(&scratch, &sh(&script));
    let result = run(spec.clone()).await;
    assert_eq!(
        result.outcome,
        Outcome::Succeeded {
            summary: Some("from stdout".into())
        }
    );
    let log = log(&spec);
    assert!(
        log.contains("techlead: warning: the result file is not valid"),
        "{log}"
    );
}

#[tokio::test]
async fn a_stale_result_file_from_an_earlier_run_of_the_attempt_is_ignored() {
    // The same attempt run again (a gate, or a claim withdrawn and made
    // again) finds the prompt file and the result file of its last run.
    let scratch = Scratch::new();
    let spec = spec(&scratch, &["true"]);
    fs::create_dir_all(spec.files_dir()).unwrap();
    fs::write(spec.prompt_path(), "an older, longer prompt than this one").unwrap();
    fs::write(spec.result_path(), r#"{"status": "failure"}"#).unwrap();
    let result = run(spec.clone()).await;
    assert_eq!(result.outcome, Outcome::Succeeded { summary: None });
    assert!(!Path::new(&spec.result_path()).exists());
    assert_eq!(fs::read_to_string(spec.prompt_path()).unwrap(), spec.prompt);
}

#[tokio::test]
async fn many_attempts_in_parallel_each_get_their_own_outcome() {
    let scratch = Scratch::new();
    let executor = executor();
    let mut attempts = Vec::new();
    for i in 0..16u32 {
        let mut spec = spec(
            &scratch,
            &sh("echo \"::summary $TECHLEAD_ATTEMPT\"; exit $((TECHLEAD_ATTEMPT % 2))"),
        );
        spec.attempt = i;
        spec.attempt_dir = scratch.0.join(format!("attempts/t1.{i}"));
        let (tx, _rx) = mpsc::unbounded_channel();
        attempts.push(tokio::spawn(executor.run(
            spec,
            tx,
            CancellationToken::new(),
        )));
    }
    for (i, attempt) in attempts.into_iter().enumerate() {
        let outcome = timeout(HANG_GUARD, attempt).await.expect("hung").unwrap();
        if i % 2 == 0 {
            assert_eq!(
                outcome,
                Outcome::Succeeded {
                    summary: Some(i.to_string())
                }
            );
        } else {
            assert!(
                matches!(
                    outcome,
                    Outcome::Failed {
                        exit_code: Some(1),
                        ..
                    }
                ),
                "{outcome:?}"
            );
        }
    }
}
