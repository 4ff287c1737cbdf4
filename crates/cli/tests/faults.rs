//! Bad input and faults (issue 4), each with the real `techlead` binary and
//! real child processes: a clear error (exit code, the words of the message
//! and of the hint) and nothing lost (files unchanged, the record intact,
//! no process left behind, `resume` finishing the work).
//!
//! Waits are on conditions (a file a task creates, an event on the NDJSON
//! stream, the process's exit) with a deadline that only guards against
//! hangs.

use crate::support;

use rustix::process::{Pid, Signal};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{Output, Running, XorShift};
use techlead_store::sqlite::SCHEMA_VERSION;

/// A temporary directory holding one mission file and its database.
struct Fixture {
    dir: tempfile::TempDir,
    name: String,
    db: PathBuf,
}

impl Fixture {
    fn new(prefix: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state").join("techlead.db");
        Fixture {
            name: support::unique_name(prefix),
            dir,
            db,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn db(&self) -> &str {
        self.db.to_str().unwrap()
    }

    /// The ID the first run of the mission gets.
    fn id(&self) -> String {
        format!("{}-1", self.name)
    }

    /// Writes `mission.yaml`: the mission header with `defaults`, then
    /// `tasks` (YAML, already indented as list items under `tasks:`).
    fn mission(&self, defaults: &str, tasks: &str) {
        let text = format!(
            "mission:\n  name: {}\n  objective: exercise a fault\n  defaults:\n    executor: command\n{defaults}tasks:\n{tasks}",
            self.name
        );
        std::fs::write(self.path().join("mission.yaml"), text).unwrap();
    }

    /// `techlead <args> --db <db>` to the end.
    fn techlead(&self, args: &[&str]) -> Output {
        let mut args = args.to_vec();
        args.extend(["--db", self.db()]);
        support::run_to_end(self.path(), &args)
    }

    /// `techlead <args> --json --db <db>`, running.
    fn start(&self, args: &[&str]) -> Running {
        let mut args = args.to_vec();
        args.extend(["--json", "--db", self.db()]);
        Running::start(self.path(), &args)
    }

    fn status(&self) -> serde_json::Value {
        support::status(self.path(), &self.db, &self.id())
    }

    fn exists(&self, file: &str) -> bool {
        self.path().join(file).exists()
    }

    /// Waits until a task has created `file` in the mission's directory.
    fn wait_for_file(&self, file: &str) {
        support::wait_until(&format!("{file} to appear"), || self.exists(file));
    }

    /// The directory of an attempt, from the attempt's recorded `dir`.
    /// One of an attempt's files: `<its recorded stem>.<name>`.
    fn attempt_file(
        &self,
        status: &serde_json::Value,
        task: &str,
        number: usize,
        name: &str,
    ) -> PathBuf {
        let attempt = &support::task(status, task)["attempts"][number - 1];
        let stem = attempt["dir"].as_str().unwrap();
        self.db.parent().unwrap().join(format!("{stem}.{name}"))
    }
}

/// Ctrl-C, as the terminal sends it to techlead.
fn interrupt(pid: u32) {
    signal(pid, Signal::INT);
}

fn signal(pid: u32, signal: Signal) {
    let pid = Pid::from_raw(pid as i32).unwrap();
    rustix::process::kill_process(pid, signal).unwrap();
}

/// A file's bytes and the names of the files beside it, to prove that a
/// refused database was not touched.
fn snapshot(path: &Path) -> (Vec<u8>, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    (std::fs::read(path).unwrap(), names)
}

const ONE_TASK: &str = "  - id: ONLY\n    title: touch a file\n    command: [touch, ran]\n";

/// Every command that opens the database refuses `db` with `words` (the
/// message and the hint) and exit 2, leaving it and its directory as they
/// were and running nothing.
fn refused_everywhere(fx: &Fixture, db: &Path, words: &[&str]) {
    let before = snapshot(db);
    let db = db.to_str().unwrap();
    let mission = fx.id();
    for args in [
        vec!["run", "mission.yaml"],
        vec!["resume", &mission],
        vec!["status"],
        vec!["missions"],
        vec!["logs", &mission, "ONLY"],
    ] {
        let mut args = args.clone();
        args.extend(["--db", db]);
        let output = support::run_to_end(fx.path(), &args);
        output.expect_code(2).expect_stderr(words);
        assert!(output.stderr.contains("error:") && output.stderr.contains("hint:"));
        assert!(snapshot(Path::new(db)) == before, "{args:?} changed {db}");
    }
    assert!(!fx.exists("ran"), "a task ran against a refused database");
}

#[test]
fn foreign_file_as_db_is_refused_and_left_untouched() {
    let fx = Fixture::new("foreign");
    fx.mission("", ONE_TASK);
    let mut rng = XorShift::new(42);
    let bytes: Vec<u8> = (0..8192).map(|_| rng.next_u64() as u8).collect();
    let db = fx.path().join("notes.bin");
    std::fs::write(&db, &bytes).unwrap();
    refused_everywhere(
        &fx,
        &db,
        &[
            "is not a techlead database",
            "pass --db with a techlead database",
        ],
    );
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}

#[test]
fn sqlite_db_of_another_application_is_refused_and_left_untouched() {
    let fx = Fixture::new("other-app");
    fx.mission("", ONE_TASK);
    let db = fx.path().join("app.sqlite");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);
             INSERT INTO notes (text) VALUES ('keep me');",
        )
        .unwrap();
    }
    refused_everywhere(
        &fx,
        &db,
        &[
            "is not a techlead database",
            "pass --db with a techlead database",
        ],
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let text: String = conn
        .query_row("SELECT text FROM notes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(text, "keep me");
}

#[test]
fn damaged_db_is_refused_and_left_untouched() {
    let fx = Fixture::new("damaged");
    fx.mission("", ONE_TASK);
    // The SQLite magic, then noise: SQLite itself must reject it.
    let mut rng = XorShift::new(7);
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend((0..8192).map(|_| rng.next_u64() as u8));
    let db = fx.path().join("techlead.db");
    std::fs::write(&db, &bytes).unwrap();
    refused_everywhere(
        &fx,
        &db,
        &[
            "is damaged and cannot be read",
            "restore the file from a backup",
        ],
    );
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}

#[test]
fn db_from_a_newer_techlead_is_refused_and_left_untouched() {
    let fx = Fixture::new("newer");
    fx.mission("", ONE_TASK);
    fx.techlead(&["run", "mission.yaml"]).expect_code(0);
    std::fs::remove_file(fx.path().join("ran")).unwrap();
    {
        let conn = rusqlite::Connection::open(&fx.db).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let newer = (SCHEMA_VERSION + 1).to_string();
    refused_everywhere(
        &fx,
        &fx.db,
        &[
            "was written by a newer techlead",
            &format!("schema {newer}"),
            "upgrade techlead",
        ],
    );
    // The mission recorded before is still there for the newer techlead.
    let conn = rusqlite::Connection::open(&fx.db).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION + 1);
    let status: String = conn
        .query_row("SELECT status FROM missions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(status, "succeeded");
}

/// A task that says it started, then waits for the test to let it go
/// (first attempt only, so that a resumed mission finishes at once).
fn held_task(id: &str) -> String {
    format!(
        "  - id: {id}\n    title: held until released\n    command: [sh, -c, 'if [ \"$TECHLEAD_ATTEMPT\" = 1 ]; then touch started-{id}; while [ ! -e release ]; do sleep 0.02; done; fi; echo \"$TECHLEAD_TASK $TECHLEAD_ATTEMPT\" >> proof']\n"
    )
}

#[test]
fn second_writer_on_a_running_mission_is_refused_naming_the_holder() {
    let fx = Fixture::new("one-writer");
    fx.mission("", &held_task("HELD"));
    let mut first = fx.start(&["run", "mission.yaml"]);
    first.wait_for(|e| support::event_type(e) == "attempt_started");
    fx.wait_for_file("started-HELD");
    let seq_before = fx.status()["last_seq"].clone();

    let id = fx.id();
    for who in [id.as_str(), fx.name.as_str()] {
        fx.techlead(&["resume", who])
            .expect_code(2)
            .expect_stderr(&[
                &format!("mission `{id}` is being run by another techlead"),
                &format!("pid {}", first.pid()),
                "wait for that run to finish",
            ]);
    }
    assert_eq!(fx.status()["last_seq"], seq_before, "the refused run wrote");

    std::fs::write(fx.path().join("release"), "").unwrap();
    let (code, _, stderr) = first.finish();
    assert_eq!(code, 0, "{stderr}");
    let status = fx.status();
    assert_eq!(status["status"], "succeeded");
    assert_eq!(support::outcomes(support::task(&status, "HELD")).len(), 1);
    assert_eq!(
        std::fs::read_to_string(fx.path().join("proof")).unwrap(),
        "HELD 1\n"
    );
}

#[test]
fn missing_command_fails_after_its_retries_and_blocks_its_dependents() {
    let fx = Fixture::new("missing");
    let program = format!("no-such-program-{}", std::process::id());
    fx.mission(
        "    retries: 1\n    backoff: [10ms]\n",
        &format!(
            "  - id: MISSING\n    title: run what is not there\n    command: [{program}, --flag]\n\
             \x20 - id: AFTER\n    title: needs MISSING\n    depends_on: [MISSING]\n    command: [touch, after]\n\
             \x20 - id: BESIDE\n    title: independent\n    command: [touch, beside]\n"
        ),
    );
    let output = fx.techlead(&["run", "mission.yaml"]);
    output
        .expect_code(1)
        .expect_stderr(&["finished with failures", "techlead status"]);

    let status = fx.status();
    assert_eq!(status["status"], "failed");
    let missing = support::task(&status, "MISSING");
    assert_eq!(missing["status"], "failed");
    let attempts = missing["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "one try and one retry: {missing:#}");
    for attempt in attempts {
        assert_eq!(attempt["outcome"]["kind"], "failed");
        let message = attempt["outcome"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("cannot start `{program}`"))
                && message.contains("is it installed and on PATH?"),
            "{message}"
        );
    }
    let after = support::task(&status, "AFTER");
    assert_eq!(after["status"], "blocked");
    assert_eq!(after["blocked_by"], "MISSING");
    assert!(after["attempts"].as_array().unwrap().is_empty());
    assert!(!fx.exists("after"));
    assert_eq!(support::task(&status, "BESIDE")["status"], "succeeded");
    assert!(fx.exists("beside"));

    let id = fx.id();
    let table = fx.techlead(&["status", &id]);
    table.expect_code(0);
    assert!(
        table.stdout.contains("1 of 3 tasks succeeded") && table.stdout.contains("1 failed"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.starts_with("MISSING") && l.contains("failed")),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.starts_with("AFTER") && l.contains("blocked by MISSING")),
        "{}",
        table.stdout
    );
}

#[test]
fn command_ignoring_sigterm_is_killed_after_its_timeout() {
    let fx = Fixture::new("stubborn");
    fx.mission(
        "    retries: 0\n",
        "  - id: STUBBORN\n    title: ignores SIGTERM\n    timeout: 1s\n    command: [sh, -c, 'trap \"\" TERM; touch started; sleep 60; touch finished']\n",
    );
    let begun = Instant::now();
    let output = fx.techlead(&["run", "mission.yaml"]);
    let took = begun.elapsed();
    output.expect_code(1);
    // 1 s of timeout, then the 5 s grace period before SIGKILL.
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(fx.exists("started") && !fx.exists("finished"));

    let status = fx.status();
    let task = support::task(&status, "STUBBORN");
    assert_eq!(task["status"], "failed");
    assert_eq!(support::outcomes(task), [Some("timed_out".to_string())]);
    let log =
        std::fs::read_to_string(fx.attempt_file(&status, "STUBBORN", 1, "output.log")).unwrap();
    assert!(log.contains("ran past its timeout"), "{log}");
    assert!(log.contains("sent SIGKILL"), "{log}");
    assert!(support::processes_of(&fx.id()).is_empty());
}

#[test]
fn grandchild_holding_stdout_does_not_hang_the_run() {
    let fx = Fixture::new("grandchild");
    fx.mission(
        "",
        "  - id: FORKS\n    title: leaves a background process\n    command: [sh, -c, 'sleep 60 & echo hi']\n\
         \x20 - id: NEXT\n    title: after it\n    depends_on: [FORKS]\n    command: [touch, next]\n",
    );
    let begun = Instant::now();
    let output = fx.techlead(&["run", "mission.yaml"]);
    let took = begun.elapsed();
    output.expect_code(0);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(fx.exists("next"));

    let status = fx.status();
    assert_eq!(
        support::outcomes(support::task(&status, "FORKS")),
        [Some("succeeded".to_string())]
    );
    let id = fx.id();
    let logs = fx.techlead(&["logs", &id, "FORKS"]);
    logs.expect_code(0);
    assert!(logs.stdout.contains("hi"), "{}", logs.stdout);
    assert!(
        logs.stdout.contains("output stayed open"),
        "{}",
        logs.stdout
    );
    assert!(
        support::processes_of(&id).is_empty(),
        "the background sleep outlived its attempt"
    );
}

#[test]
fn huge_output_is_capped_and_the_run_succeeds() {
    const CAP: u64 = 8 * 1024 * 1024;
    const WRITTEN: u64 = 50 * 1024 * 1024;
    let fx = Fixture::new("chatty");
    fx.mission(
        "",
        &format!(
            "  - id: CHATTY\n    title: writes {WRITTEN} bytes\n    command: [sh, -c, 'head -c {WRITTEN} /dev/zero | tr \"\\\\0\" x; echo; echo the end']\n"
        ),
    );
    fx.techlead(&["run", "mission.yaml"]).expect_code(0);
    let status = fx.status();
    assert_eq!(
        support::outcomes(support::task(&status, "CHATTY")),
        [Some("succeeded".to_string())]
    );
    let newest = fx.attempt_file(&status, "CHATTY", 1, "output.log");
    let mut total = 0;
    let mut logs = Vec::new();
    for entry in std::fs::read_dir(newest.parent().unwrap()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(name) = name.strip_prefix("CHATTY.1.")
            && name.starts_with("output.log")
        {
            total += entry.metadata().unwrap().len();
            logs.push(name.to_owned());
        }
    }
    logs.sort();
    assert_eq!(logs, ["output.log", "output.log.1", "output.log.2"]);
    assert!(
        total <= 3 * CAP + 64 * 1024,
        "{total} bytes of log for {WRITTEN} of output"
    );
    assert!(total > 2 * CAP, "only {total} bytes kept");
    // The newest output is what is kept.
    let log = std::fs::read(newest).unwrap();
    let tail = String::from_utf8_lossy(&log[log.len().saturating_sub(4096)..]).into_owned();
    assert!(tail.contains("the end"), "{tail}");
}

#[test]
fn mission_file_edited_between_run_and_resume_is_refused_unless_asked() {
    let fx = Fixture::new("edited");
    fx.mission("", &held_task("HELD"));
    let mut run = fx.start(&["run", "mission.yaml"]);
    run.wait_for(|e| support::event_type(e) == "attempt_started");
    fx.wait_for_file("started-HELD");
    interrupt(run.pid());
    let (code, _, stderr) = run.finish();
    assert_eq!(code, 130, "{stderr}");

    let mission = fx.path().join("mission.yaml");
    let mut text = std::fs::read_to_string(&mission).unwrap();
    text.push_str("  - id: NEW\n    title: added after the run began\n    command: [touch, new]\n");
    std::fs::write(&mission, &text).unwrap();
    let before = fx.status();

    let id = fx.id();
    fx.techlead(&["resume", &id])
        .expect_code(2)
        .expect_stderr(&[
            "mission.yaml changed since mission",
            &id,
            "--ignore-changes",
        ]);
    assert_eq!(fx.status(), before, "the refused resume changed the record");
    assert_eq!(std::fs::read_to_string(&mission).unwrap(), text);

    fx.techlead(&["resume", &id, "--ignore-changes"])
        .expect_code(0);
    let status = fx.status();
    assert_eq!(status["status"], "succeeded");
    assert_eq!(
        support::outcomes(support::task(&status, "HELD")),
        [Some("cancelled".to_string()), Some("succeeded".to_string())]
    );
    // The recorded plan ran, not the edited file.
    assert_eq!(status["tasks"].as_array().unwrap().len(), 1);
    assert!(!fx.exists("new"));
    assert_eq!(
        std::fs::read_to_string(fx.path().join("proof")).unwrap(),
        "HELD 2\n"
    );
}

#[test]
fn ctrl_c_stops_children_records_them_cancelled_and_resume_finishes() {
    stops_children_records_them_cancelled_and_resume_finishes("ctrl-c", Signal::INT);
}

#[test]
fn sigterm_stops_children_records_them_cancelled_and_resume_finishes() {
    stops_children_records_them_cancelled_and_resume_finishes("sigterm", Signal::TERM);
}

/// Three tasks running, one waiting for them; `stop` arrives.
fn stops_children_records_them_cancelled_and_resume_finishes(prefix: &str, stop: Signal) {
    let fx = Fixture::new(prefix);
    let mut tasks = String::new();
    for id in ["A", "B", "C"] {
        tasks.push_str(&held_task(id));
    }
    tasks.push_str(
        "  - id: LAST\n    title: after the others\n    depends_on: [A, B, C]\n    command: [touch, last]\n",
    );
    fx.mission("    max_parallel: 3\n", &tasks);
    let mut run = fx.start(&["run", "mission.yaml"]);
    for id in ["A", "B", "C"] {
        fx.wait_for_file(&format!("started-{id}"));
    }
    run.wait_for(|e| support::event_type(e) == "attempt_started");
    let id = fx.id();
    assert!(support::processes_of(&id).len() >= 3);
    let begun = Instant::now();
    signal(run.pid(), stop);
    let (code, events, stderr) = run.finish();
    assert_eq!(code, 130, "{stderr}");
    assert!(
        begun.elapsed() < Duration::from_secs(30),
        "Ctrl-C took {:?}",
        begun.elapsed()
    );
    assert!(
        stderr.contains("interrupted") && stderr.contains("techlead resume"),
        "{stderr}"
    );
    let last: serde_json::Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(support::event_type(&last), "run_interrupted");
    assert!(
        support::processes_of(&id).is_empty(),
        "children of the interrupted run are still alive"
    );

    let status = fx.status();
    assert_eq!(status["status"], "interrupted");
    for task in ["A", "B", "C"] {
        assert_eq!(
            support::outcomes(support::task(&status, task)),
            [Some("cancelled".to_string())],
            "{task}"
        );
    }
    assert!(
        support::task(&status, "LAST")["attempts"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(!fx.exists("proof"), "a held task finished its work");

    fx.techlead(&["resume", &id]).expect_code(0);
    let status = fx.status();
    assert_eq!(status["status"], "succeeded");
    for task in ["A", "B", "C"] {
        assert_eq!(
            support::outcomes(support::task(&status, task)),
            [Some("cancelled".to_string()), Some("succeeded".to_string())]
        );
    }
    assert!(fx.exists("last"));
    let mut proof: Vec<String> = std::fs::read_to_string(fx.path().join("proof"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    proof.sort();
    assert_eq!(proof, ["A 2", "B 2", "C 2"]);
}

#[test]
fn second_ctrl_c_kills_a_child_ignoring_sigterm_at_once_and_resume_finishes() {
    let fx = Fixture::new("ctrl-c-twice");
    fx.mission(
        "",
        "  - id: STUBBORN\n    title: ignores SIGTERM once\n    command: [sh, -c, 'if [ \"$TECHLEAD_ATTEMPT\" = 1 ]; then trap \"\" TERM; touch started; sleep 60; touch finished; fi']\n",
    );
    let mut run = fx.start(&["run", "mission.yaml"]);
    run.wait_for(|e| support::event_type(e) == "attempt_started");
    fx.wait_for_file("started");
    let id = fx.id();
    interrupt(run.pid());
    // The first Ctrl-C asked the group to stop (SIGTERM, ignored here) and
    // started the 5 s grace period; the second one ends it.
    let log = fx
        .db
        .parent()
        .unwrap()
        .join(format!("runs/{id}/STUBBORN.1.output.log"));
    support::wait_until("the attempt to be cancelled", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("cancelled"))
    });
    let begun = Instant::now();
    interrupt(run.pid());
    let (code, _, stderr) = run.finish();
    assert_eq!(code, 130, "{stderr}");
    assert!(
        begun.elapsed() < Duration::from_secs(4),
        "{:?}",
        begun.elapsed()
    );
    assert!(
        stderr.contains("error: killed by a second interrupt"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: `techlead resume` continues"),
        "{stderr}"
    );
    assert!(
        support::processes_of(&id).is_empty(),
        "the stubborn child survived"
    );
    assert!(!fx.exists("finished"));
    // Nothing more is recorded after a second Ctrl-C: the record reads as
    // after a crash (attempt still open, mission `running`), and the resume
    // records the attempt as interrupted.
    fx.techlead(&["resume", &id]).expect_code(0);
    let status = fx.status();
    assert_eq!(status["status"], "succeeded");
    assert_eq!(
        support::outcomes(support::task(&status, "STUBBORN")),
        [
            Some("interrupted".to_string()),
            Some("succeeded".to_string())
        ]
    );
}

#[test]
fn ctrl_c_during_a_gate_leaves_no_verdict_and_resume_runs_it_again() {
    let fx = Fixture::new("ctrl-c-gate");
    std::fs::write(
        fx.path().join("mission.yaml"),
        format!(
            "mission:\n  name: {}\n  objective: stop in a gate\n  defaults:\n    executor: command\n\
             phases:\n  - name: build\n    gates: ['echo run >> gate-runs; if [ ! -e gate-held ]; then touch gate-held; sleep 60; fi']\n\
             \x20   tasks:\n      - id: BUILD\n        title: build\n        command: [touch, built]\n\
             \x20 - name: ship\n    tasks:\n      - id: SHIP\n        title: ship\n        command: [touch, shipped]\n",
            fx.name
        ),
    )
    .unwrap();
    let run = fx.start(&["run", "mission.yaml"]);
    fx.wait_for_file("gate-held");
    interrupt(run.pid());
    let (code, _, stderr) = run.finish();
    assert_eq!(code, 130, "{stderr}");
    let id = fx.id();
    assert!(support::processes_of(&id).is_empty(), "the gate survived");
    assert!(!fx.exists("shipped"));
    let gate_verdicts = || {
        let store = techlead_store::sqlite::SqliteStore::open(&fx.db).unwrap();
        techlead_store::Store::events(&store, &id, 0)
            .unwrap()
            .into_iter()
            .filter_map(|r| match r.event {
                techlead_core::state::Event::PhaseGateFinished { passed, .. } => Some(passed),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        gate_verdicts(),
        Vec::<bool>::new(),
        "a stopped gate got a verdict"
    );
    assert_eq!(fx.status()["status"], "interrupted");

    fx.techlead(&["resume", &id]).expect_code(0);
    assert_eq!(gate_verdicts(), [true]);
    assert!(fx.exists("shipped"));
    assert_eq!(
        std::fs::read_to_string(fx.path().join("gate-runs")).unwrap(),
        "run\nrun\n"
    );
}

/// Runs the mission of `fx` from its directory, interrupts it with Ctrl-C
/// once its task is held, and returns the mission's ID.
fn interrupted_run(fx: &Fixture) -> String {
    fx.mission("", &held_task("HELD"));
    let mut run = fx.start(&["run", "mission.yaml"]);
    fx.wait_for_file("started-HELD");
    run.wait_for(|e| support::event_type(e) == "attempt_started");
    interrupt(run.pid());
    let (code, _, stderr) = run.finish();
    assert_eq!(code, 130, "{stderr}");
    fx.id()
}

// A guard for a bug this suite found: the mission's `source` was recorded
// as typed (`mission.yaml`, relative), and `resume` checked the file at
// that path relative to *its own* working directory; it is now absolute. Sequence:
// `techlead run mission.yaml` in directory A, Ctrl-C; then, in directory B
// holding another `mission.yaml`, `techlead resume <id> --db A/...`.
// Expected: the resume goes on (A's file is unchanged); it was refused
// with "error: mission.yaml changed since mission `<id>` started".
#[test]
fn resume_from_another_directory_is_not_refused_for_an_unrelated_file() {
    let fx = Fixture::new("elsewhere");
    let id = interrupted_run(&fx);
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(
        elsewhere.path().join("mission.yaml"),
        "mission:\n  name: another\n  objective: unrelated\ntasks: []\n",
    )
    .unwrap();
    let output = support::run_to_end(elsewhere.path(), &["resume", &id, "--db", fx.db()]);
    output.expect_code(0);
    assert_eq!(fx.status()["status"], "succeeded");
}

// The same bug the other way round. Sequence:
// `techlead run mission.yaml` in directory A, Ctrl-C, edit A/mission.yaml,
// then `techlead resume <id> --db A/...` from any other directory.
// Expected: exit 2, "mission.yaml changed since mission ..."; the file was
// not found there, the check passed silently, and the recorded plan ran
// without a word about the edits (exit 0).
#[test]
fn resume_from_another_directory_still_notices_the_edited_file() {
    let fx = Fixture::new("edited-elsewhere");
    let id = interrupted_run(&fx);
    let mission = fx.path().join("mission.yaml");
    let mut text = std::fs::read_to_string(&mission).unwrap();
    text.push_str("  - id: NEW\n    title: added later\n    command: [touch, new]\n");
    std::fs::write(&mission, text).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    support::run_to_end(elsewhere.path(), &["resume", &id, "--db", fx.db()])
        .expect_code(2)
        .expect_stderr(&["changed since mission", "--ignore-changes"]);
}

// A guard for an engine bug this suite found: at eab9cd2 the orphan reaper
// killed every process carrying `TECHLEAD_MISSION=<id>`, and IDs are only
// unique within one database (`name-N`). Sequence: repository A runs
// mission `x` (ID `x-1`) with a long task; repository B, with its own
// database, runs a mission also named `x`. Expected: B leaves A alone.
// Actual at eab9cd2: B printed "killed 1 process(es) left running by the
// previous run of x-1" and A's task died of SIGKILL. d0cbef3 scopes the mark
// to the database (TECHLEAD_SCOPE).
#[test]
fn same_mission_id_in_another_database_is_left_alone() {
    let a = Fixture::new("twin");
    let mut b = Fixture::new("twin");
    b.name = a.name.clone();
    a.mission("    retries: 0\n", &held_task("HELD"));
    b.mission("", ONE_TASK);
    let mut run_a = a.start(&["run", "mission.yaml"]);
    run_a.wait_for(|e| support::event_type(e) == "attempt_started");
    a.wait_for_file("started-HELD");

    let output = b.techlead(&["run", "mission.yaml"]);
    output.expect_code(0);
    assert!(!output.stderr.contains("killed"), "{}", output.stderr);
    assert_eq!(b.id(), a.id());

    std::fs::write(a.path().join("release"), "").unwrap();
    let (code, _, stderr) = run_a.finish();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        support::outcomes(support::task(&a.status(), "HELD")),
        [Some("succeeded".to_string())]
    );
}

/// The script of [`disk_full_mid_run_loses_nothing_and_resume_finishes`],
/// run as root of its own user and mount namespaces (no real privileges):
/// a 2 MiB tmpfs holds the mission and its database, and vanishes with the
/// namespace, so everything worth checking is copied to `$out`.
const DISK_FULL_SCRIPT: &str = r#"
set -u
disk=$1 techlead=$2 out=$3 mission=$4
mount -t tmpfs -o size=2m tmpfs "$disk" || exit 99
cp "$out/mission.yaml" "$disk/" && cd "$disk" || exit 98
db=state/techlead.db
"$techlead" run mission.yaml --db $db >"$out/run.out" 2>"$out/run.err"
echo $? >"$out/run.code"
"$techlead" status "$mission" --json --db $db >"$out/full.json" 2>&1
rm filler
"$techlead" resume "$mission" --db $db >"$out/resume.out" 2>"$out/resume.err"
echo $? >"$out/resume.code"
"$techlead" status "$mission" --json --db $db >"$out/after.json" 2>&1
cp proof "$out/proof"
"#;

#[test]
fn disk_full_mid_run_loses_nothing_and_resume_finishes() {
    // A tiny tmpfs without root: a user namespace. Skipped where the kernel
    // or the sandbox forbids them.
    let probe = std::process::Command::new("unshare")
        .args(["-rm", "true"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: `unshare -rm` (user namespaces) is not available here");
        return;
    }
    let fx = Fixture::new("disk-full");
    // The first attempt of FILL fills the disk, so recording its end fails.
    fx.mission(
        "    retries: 0\n",
        "  - id: FILL\n    title: fill the disk\n    command: [sh, -c, 'echo \"$TECHLEAD_TASK $TECHLEAD_ATTEMPT\" >> proof; if [ \"$TECHLEAD_ATTEMPT\" = 1 ]; then head -c 10000000 /dev/zero > filler; fi; true']\n\
         \x20 - id: NEXT\n    title: after it\n    depends_on: [FILL]\n    command: [sh, -c, 'echo \"$TECHLEAD_TASK $TECHLEAD_ATTEMPT\" >> proof']\n",
    );
    let disk = fx.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let mut command = std::process::Command::new("unshare");
    command
        .args(["-rm", "sh", "-c", DISK_FULL_SCRIPT, "sh"])
        .arg(&disk)
        .arg(env!("CARGO_BIN_EXE_techlead"))
        .arg(fx.path())
        .arg(fx.id())
        .env("HOME", fx.path())
        .env("NO_COLOR", "1")
        .env_remove("TECHLEAD_DB")
        .stdin(std::process::Stdio::null());
    let output = support::output_of(command);
    if output.code == 99 {
        eprintln!("skipped: cannot mount a tmpfs here:\n{}", output.stderr);
        return;
    }
    output.expect_code(0);
    let read = |name: &str| {
        std::fs::read_to_string(fx.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}\n{output:#?}"))
    };
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };

    let run_err = read("run.err");
    assert_eq!(read("run.code").trim(), "2", "{run_err}");
    for words in [
        "error: the disk holding",
        "is full",
        "hint: free some disk space, then `techlead resume`: nothing recorded so far is lost",
    ] {
        assert!(run_err.contains(words), "{words:?} missing:\n{run_err}");
    }
    // What was recorded before the disk filled up is all there.
    let full = json("full.json");
    let fill = support::task(&full, "FILL");
    // Its claim was durable before it was spawned; its start may have
    // been waiting in the commit window when the disk filled up.
    assert!(
        matches!(fill["status"].as_str(), Some("queued" | "running")),
        "{full:#}"
    );
    assert_eq!(support::outcomes(fill), [None]);

    assert_eq!(read("resume.code").trim(), "0", "{}", read("resume.err"));
    let after = json("after.json");
    assert_eq!(after["status"], "succeeded");
    assert_eq!(
        support::outcomes(support::task(&after, "FILL")),
        [
            Some("interrupted".to_string()),
            Some("succeeded".to_string())
        ]
    );
    assert_eq!(
        support::outcomes(support::task(&after, "NEXT")),
        [Some("succeeded".to_string())]
    );
    assert_eq!(read("proof"), "FILL 1\nFILL 2\nNEXT 1\n");
}
