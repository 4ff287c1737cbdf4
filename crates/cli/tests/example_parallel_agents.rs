//! The acceptance example of issue 6, run as a person runs it:
//! `examples/parallel-agents/run.sh DIR` makes a git repository of a small
//! Rust crate, and three script agents change it in parallel, each in its
//! own worktree, with the crate's real tests (`cargo test`) as gates. At the
//! end the integration branch holds all three changes and its tests pass,
//! and the person's branch is as `run.sh` committed it.
//!
//! Needs `cargo` on PATH (the gates run it); without it the test fails and
//! says so.

use crate::support;

use rustix::process::{Pid, Signal};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const INTEGRATION: &str = "techlead/parallel-agents-1/_integration";
/// The three tasks that run in parallel, and the one that follows them.
const PARALLEL: [&str; 3] = ["SENTENCES", "FREQUENCY", "DOCS"];
const TASKS: [&str; 4] = ["SENTENCES", "FREQUENCY", "DOCS", "CHANGELOG"];
/// Compiling a tiny crate a few times takes seconds; this only turns a hang
/// (or a machine under a very heavy load) into a failure.
const RUN_GUARD: Duration = Duration::from_secs(600);

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/parallel-agents")
}

/// A command with no global or system git configuration and no techlead
/// settings from the outside. (The example's gates build into each
/// checkout's own `target/`, whatever CARGO_TARGET_DIR says.)
fn command(program: &str) -> Command {
    let mut command = Command::new(program);
    command
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("NO_COLOR", "1")
        .env_remove("TECHLEAD_DB")
        .env_remove("TECHLEAD_MISSION")
        .stdin(Stdio::null());
    command
}

/// Runs `command` to the end within [`RUN_GUARD`], in a process group of
/// its own; panics if it cannot start, or kills that group and panics if it
/// hangs.
fn output(mut command: Command) -> support::Output {
    use std::os::unix::process::CommandExt;
    let what = format!("{command:?}");
    let mut child = command
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let pid = child.id();
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let read = |mut stream: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stream.read_to_string(&mut text);
            text
        })
    };
    let (out, err) = (read(Box::new(stdout)), read(Box::new(stderr)));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = rx.recv_timeout(RUN_GUARD).unwrap_or_else(|_| {
        if let Some(group) = Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process_group(group, Signal::KILL);
        }
        panic!("{what} hung for {RUN_GUARD:?}")
    });
    support::Output {
        code: support::code_of(status.expect("the command runs")),
        stdout: out.join().expect("reader"),
        stderr: err.join().expect("reader"),
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let mut git = command("git");
    git.current_dir(dir).args(args);
    let out = output(git);
    assert_eq!(out.code, 0, "git {args:?} failed: {}", out.stderr);
    out.stdout
}

fn show(repo: &Path, file: &str) -> String {
    git(repo, &["show", &format!("{INTEGRATION}:{file}")])
}

fn require_cargo() {
    let mut cargo = command("cargo");
    cargo.arg("--version");
    let found = cargo.output().is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`cargo` is not on PATH: the example's gates run `cargo test`, so this test cannot run \
         without it. PATH={:?}",
        std::env::var_os("PATH")
    );
}

/// `passed` from every `test result:` line of a cargo test output.
fn tests_passed(log: &str) -> usize {
    log.lines()
        .filter_map(|line| line.strip_prefix("test result: ok. "))
        .filter_map(|rest| rest.split(' ').next()?.parse::<usize>().ok())
        .sum()
}

#[test]
fn three_agents_change_a_real_crate_in_parallel_and_the_merged_tests_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    require_cargo();
    let repo = tmp.join("textstats");

    let started = Instant::now();
    let mut run = command("sh");
    run.arg(example().join("run.sh"))
        .arg(&repo)
        .arg("--json")
        .env("TECHLEAD", env!("CARGO_BIN_EXE_techlead"));
    let out = output(run);
    let took = started.elapsed();
    out.expect_code(0);
    eprintln!("the example ran in {took:.1?}");

    let events: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not NDJSON: {l}")))
        .collect();
    let of = |kind: &str| -> Vec<&serde_json::Value> {
        events
            .iter()
            .filter(|e| support::event_type(e) == kind)
            .map(|e| &e["event"])
            .collect()
    };

    // The three were dispatched together: all queued before any finished.
    let position = |kind: &str, task: &str| {
        events
            .iter()
            .position(|e| support::event_type(e) == kind && e["event"]["task"] == task)
            .unwrap_or_else(|| panic!("no {kind} of {task}: {}", out.stdout))
    };
    let first_finish = PARALLEL
        .iter()
        .map(|t| position("attempt_finished", t))
        .min()
        .unwrap();
    for task in PARALLEL {
        assert!(
            position("attempt_queued", task) < first_finish,
            "{task} waited for another task: {}",
            out.stdout
        );
    }

    // Every task's gate ran the crate's real tests, and they passed: the
    // log shows cargo's test results, as many tests as that task's branch
    // had (each change tested on its own).
    let data = repo.join(".techlead");
    let expected = BTreeMap::from([
        ("SENTENCES", 4),
        ("FREQUENCY", 6),
        ("DOCS", 3),
        ("CHANGELOG", 7),
    ]);
    let gates = of("task_gate_finished");
    assert_eq!(
        gates.len(),
        4,
        "one gate run per task, none failed: {gates:#?}"
    );
    for gate in &gates {
        let task = gate["task"].as_str().unwrap();
        assert_eq!(gate["gate"], "tests", "{gate}");
        assert_eq!(gate["passed"], true, "{gate}");
        let log = std::fs::read_to_string(data.join(gate["log"].as_str().unwrap())).unwrap();
        assert_eq!(
            tests_passed(&log),
            expected[task],
            "{task}'s gate log:\n{log}"
        );
    }
    let accepted = of("task_accepted");
    for task in TASKS {
        let event = accepted
            .iter()
            .find(|e| e["task"] == task)
            .unwrap_or_else(|| panic!("{task} was not accepted: {}", out.stdout));
        assert!(event["merge"].is_string(), "{task} merged nothing: {event}");
    }
    // The phase gate ran all the tests on the merged work.
    let phase = of("phase_gate_finished");
    assert_eq!(phase.len(), 1, "{phase:#?}");
    assert_eq!(phase[0]["passed"], true, "{}", phase[0]);
    let log = std::fs::read_to_string(data.join(phase[0]["log"].as_str().unwrap())).unwrap();
    assert_eq!(tests_passed(&log), 7, "the phase gate's log:\n{log}");

    let status = support::status(&repo, &data.join("techlead.db"), "parallel-agents-1");
    assert_eq!(status["status"], "succeeded", "{status:#}");
    // The definition of done: the check ran on the merged work and passed;
    // the statement waits for the person.
    let done: Vec<&str> = status["definition_of_done"]
        .as_array()
        .expect("a checklist")
        .iter()
        .map(|item| item["state"].as_str().unwrap())
        .collect();
    assert_eq!(done, ["met", "to_confirm"], "{status:#}");

    // The integration branch holds all three changes (and the changelog),
    // each merged once.
    let count = show(&repo, "src/count.rs");
    assert!(count.contains("pub fn chars"), "{count}");
    assert!(count.contains("pub fn sentences"), "{count}");
    assert!(show(&repo, "src/frequency.rs").contains("pub fn most_common"));
    assert!(show(&repo, "src/lib.rs").contains("pub mod frequency;"));
    assert!(show(&repo, "README.md").contains("## Usage"));
    assert!(show(&repo, "examples/stats.rs").contains("count::words"));
    assert!(show(&repo, "CHANGELOG.md").contains("most_common"));
    for task in TASKS {
        let merges = git(
            &repo,
            &[
                "log",
                "--format=%H",
                "--merges",
                &format!("--grep=^Techlead-Task: {task}$"),
                INTEGRATION,
            ],
        );
        assert_eq!(merges.lines().count(), 1, "merges of {task}: {merges}");
    }

    // The person's branch: run.sh's one commit, checked out, clean, with
    // the project as it was.
    assert_eq!(git(&repo, &["branch", "--show-current"]).trim(), "main");
    assert_eq!(git(&repo, &["rev-list", "--count", "main"]).trim(), "1");
    assert_eq!(
        git(&repo, &["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
    for file in ["src/count.rs", "src/lib.rs", "README.md", "Cargo.toml"] {
        let original = std::fs::read_to_string(example().join("project").join(file)).unwrap();
        let now = std::fs::read_to_string(repo.join(file)).unwrap();
        assert_eq!(now, original, "{file} changed in the person's tree");
    }
    assert!(!repo.join("src/frequency.rs").exists());
    git(&repo, &["merge-base", "--is-ancestor", "main", INTEGRATION]);

    // A checkout of the integration branch passes its tests.
    let merged = tmp.join("merged");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "--quiet",
            "--detach",
            merged.to_str().unwrap(),
            INTEGRATION,
        ],
    );
    let mut cargo = command("cargo");
    cargo
        .current_dir(&merged)
        .args(["test", "--offline", "--target-dir"])
        .arg(tmp.join("merged-target"));
    let tests = output(cargo);
    tests.expect_code(0);
    assert_eq!(tests_passed(&tests.stdout), 7, "{}", tests.stdout);
    for name in [
        "sentence_tests::counts_sentences_by_their_end_marks",
        "frequency::tests::most_frequent_first_then_alphabetical",
    ] {
        assert!(
            tests.stdout.contains(name),
            "{name} did not run:\n{}",
            tests.stdout
        );
    }
}
