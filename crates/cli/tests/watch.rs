//! `techlead watch`: following a mission that another `techlead run`
//! process runs, from the database alone, with the real binary and real
//! child processes. Tasks wait for files the test creates, so the test
//! decides when the mission moves on.

use crate::support;

use std::path::Path;
use support::{Running, event_type};

/// A mission of two tasks, each waiting for its `go-<task>` file; B runs
/// after A and exits with `b_exit`. Returns the mission's name.
fn waiting_mission(dir: &Path, prefix: &str, b_exit: u8) -> String {
    let name = support::unique_name(prefix);
    let wait = |task: &str| format!("while [ ! -e go-{task} ]; do sleep 0.01; done");
    support::write_mission(
        dir,
        &format!(
            "mission:\n  name: {name}\n  objective: be watched\n  defaults: {{executor: command, retries: 0}}\n\
             tasks:\n\
             \x20 - {{id: A, title: first, command: [sh, -c, {a:?}]}}\n\
             \x20 - {{id: B, title: second, depends_on: A, command: [sh, -c, {b:?}]}}\n",
            a = format!("{}; echo '::progress 50 half way'", wait("A")),
            b = format!("{}; exit {b_exit}", wait("B")),
        ),
    );
    name
}

/// `(seq, type)` of each NDJSON line.
fn sequence(lines: &[String]) -> Vec<(u64, String)> {
    lines
        .iter()
        .map(|line| {
            let event: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not an event: {line}"));
            (
                event["seq"].as_u64().expect("a seq"),
                event_type(&event).to_string(),
            )
        })
        .collect()
}

fn is_started(task: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |e| event_type(e) == "attempt_started" && e["event"]["task"] == task
}

/// Starts `techlead run --json` on the waiting mission and returns it once
/// A runs, with the mission's ID.
fn start_run(dir: &Path, db: &str) -> (Running, String) {
    let mut run = Running::start(dir, &["run", "mission.yaml", "--json", "--db", db]);
    let started = run.wait_for(is_started("A"));
    let id = started["mission"]
        .as_str()
        .expect("a mission ID")
        .to_string();
    (run, id)
}

#[test]
fn watch_json_follows_a_run_in_another_process_event_for_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    waiting_mission(dir.path(), "watch-live", 1);
    let (mut run, id) = start_run(dir.path(), db);

    let mut watch = Running::start(dir.path(), &["watch", &id, "--json", "--db", db]);
    // It catches up from the first event...
    let first = watch.wait_for(|_| true);
    assert_eq!(event_type(&first), "mission_created", "{first}");
    assert_eq!(first["mission"], id.as_str());
    watch.wait_for(is_started("A"));
    // ...then follows what the run does after it started watching.
    std::fs::write(dir.path().join("go-A"), "").unwrap();
    run.wait_for(is_started("B"));
    watch.wait_for(is_started("B"));
    std::fs::write(dir.path().join("go-B"), "").unwrap();

    let (run_code, run_lines, run_stderr) = run.finish();
    let (watch_code, watch_lines, watch_stderr) = watch.finish();
    assert_eq!(run_code, 1, "{run_stderr}");
    assert_eq!(watch_code, run_code, "{watch_stderr}");
    let ran = sequence(&run_lines);
    let watched = sequence(&watch_lines);
    // The run prints from its own first event (run_started); watch from
    // the mission's first, which the run recorded before it began.
    assert_eq!(ran.first().map(|(seq, _)| *seq), Some(2), "{ran:?}");
    assert_eq!(watched[0], (1, "mission_created".to_string()));
    assert_eq!(watched[1..], ran[..]);
    assert_eq!(
        ran.last().map(|(_, kind)| kind.as_str()),
        Some("mission_finished")
    );
    assert!(
        watch_stderr.contains(&format!("mission {id} finished with failures")),
        "{watch_stderr}"
    );
}

#[test]
fn watch_shows_a_finished_mission_and_exits_with_its_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    for task in ["A", "B"] {
        std::fs::write(dir.path().join(format!("go-{task}")), "").unwrap();
    }
    let succeeded = waiting_mission(dir.path(), "watch-done", 0);
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]).expect_code(0);
    let failed = waiting_mission(dir.path(), "watch-failed", 7);
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]).expect_code(1);

    let out = support::run_to_end(
        dir.path(),
        &["watch", &format!("{succeeded}-1"), "--db", db],
    );
    out.expect_code(0).expect_stderr(&[
        &format!("mission {succeeded} recorded with 2 tasks"),
        "▶ A attempt 1 on general-purpose",
        "… A 50% half way",
        "✓ B succeeded",
        "mission succeeded: 2 of 2 tasks succeeded",
        &format!("mission {succeeded}-1 succeeded"),
    ]);
    assert_eq!(out.stdout, "", "data only with --json");

    // Without an argument: the newest mission, here the failed one.
    let out = support::run_to_end(dir.path(), &["watch", "--db", db]);
    out.expect_code(1).expect_stderr(&[
        "✗ B failed (exit 7)",
        "mission failed: 1 of 2 tasks succeeded, 1 failed",
        &format!("mission {failed}-1 finished with failures"),
    ]);

    // --json: every event, from the first, in order.
    let out = support::run_to_end(dir.path(), &["watch", &failed, "--json", "--db", db]);
    out.expect_code(1);
    let lines: Vec<String> = out.stdout.lines().map(String::from).collect();
    let seqs: Vec<u64> = sequence(&lines).into_iter().map(|(seq, _)| seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["event"]["status"], "failed", "{last}");
}

#[test]
fn watch_of_an_unknown_mission_is_an_error_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    std::fs::write(dir.path().join("go-A"), "").unwrap();
    std::fs::write(dir.path().join("go-B"), "").unwrap();
    waiting_mission(dir.path(), "watch-known", 0);
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]).expect_code(0);

    let out = support::run_to_end(dir.path(), &["watch", "no-such-mission", "--db", db]);
    out.expect_code(2).expect_stderr(&[
        "error: no mission `no-such-mission`",
        "hint: `techlead missions` lists",
    ]);
    assert_eq!(out.stdout, "");
}

#[test]
fn ctrl_c_stops_watching_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    waiting_mission(dir.path(), "watch-ctrl-c", 0);
    let (run, id) = start_run(dir.path(), db);
    let mut watch = Running::start(dir.path(), &["watch", &id, "--json", "--db", db]);
    watch.wait_for(is_started("A"));

    let pid = rustix::process::Pid::from_raw(watch.pid() as i32).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let (code, _, stderr) = watch.finish();
    assert_eq!(code, 130, "{stderr}");
    assert!(
        stderr.contains(&format!("stopped watching mission {id}; its run goes on")),
        "{stderr}"
    );

    for task in ["A", "B"] {
        std::fs::write(dir.path().join(format!("go-{task}")), "").unwrap();
    }
    let (code, lines, stderr) = run.finish();
    assert_eq!(code, 0, "{stderr}");
    let kinds: Vec<String> = sequence(&lines).into_iter().map(|(_, k)| k).collect();
    assert!(!kinds.iter().any(|k| k == "run_interrupted"), "{kinds:?}");
}

#[test]
fn watch_ends_with_the_run_when_it_is_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    waiting_mission(dir.path(), "watch-interrupted", 0);
    let (run, id) = start_run(dir.path(), db);
    let mut watch = Running::start(dir.path(), &["watch", &id, "--json", "--db", db]);
    watch.wait_for(is_started("A"));

    let pid = rustix::process::Pid::from_raw(run.pid() as i32).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let (run_code, run_lines, run_stderr) = run.finish();
    assert_eq!(run_code, 130, "{run_stderr}");
    let (code, lines, stderr) = watch.finish();
    assert_eq!(code, 130, "{stderr}");
    assert!(
        stderr.contains(&format!("mission {id} interrupted")),
        "{stderr}"
    );
    assert_eq!(sequence(&lines)[1..], sequence(&run_lines)[..]);
}

#[test]
fn watch_says_so_when_the_run_dies_without_recording_an_end() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    waiting_mission(dir.path(), "watch-killed", 0);
    let (run, id) = start_run(dir.path(), db);
    let mut watch = Running::start(dir.path(), &["watch", &id, "--json", "--db", db]);
    watch.wait_for(is_started("A"));

    let (killed, _) = run.kill();
    assert_eq!(killed, 137);
    // The record still says running; no process holds the mission.
    let (code, lines, stderr) = watch.finish();
    assert_eq!(code, 130, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "mission {id} is not being run (its last run stopped without recording an end): `techlead resume {id}` continues it"
        )),
        "{stderr}"
    );
    // It followed the record to its last event: A's start, or the
    // baseline forecast, which is made while the first tasks start.
    let seen = sequence(&lines);
    let record = support::status(dir.path(), Path::new(db), &id);
    assert_eq!(
        seen.last().map(|(seq, _)| *seq),
        record["last_seq"].as_u64()
    );
    assert!(
        seen.iter().any(|(_, kind)| kind == "attempt_started"),
        "{seen:?}"
    );
    // The attempt the dead run left behind ends once it may, before its
    // directory goes with the test (it would wait for ever then).
    std::fs::write(dir.path().join("go-A"), "").unwrap();
    support::wait_until("the dead run's attempt to end", || {
        support::processes_of(&id).is_empty()
    });
}
