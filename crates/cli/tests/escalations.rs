//! Escalations and the person's decisions: a task that fails for good is
//! escalated; `techlead decide` retries, skips or aborts; a run that holds
//! the mission carries the decision out at once, and `resume` carries out
//! one made while no run held it.

use crate::support;

use std::path::Path;
use support::Running;

/// A mission whose task `FLAKY` fails until the file `fixed` exists, with
/// `NEXT` after it; every start is appended to `ran`.
fn flaky_mission(dir: &Path, name: &str) {
    let flaky =
        r#"echo "$TECHLEAD_TASK" >> ran; test -f fixed || { echo 'tests failed' >&2; exit 1; }"#;
    let next = r#"echo "$TECHLEAD_TASK" >> ran"#;
    support::write_mission(
        dir,
        &format!(
            "mission:\n  name: {name}\n  objective: decide\n  defaults: {{executor: command, backoff: [10ms], retries: 1}}\ntasks:\n\
             \x20 - {{id: FLAKY, title: flaky, command: [sh, -c, {flaky:?}]}}\n\
             \x20 - {{id: NEXT, title: after, depends_on: [FLAKY], command: [sh, -c, {next:?}]}}\n"
        ),
    );
}

fn ran(dir: &Path) -> Vec<String> {
    support::lines_of(&dir.join("ran"))
}

fn escalations(dir: &Path, db: &str, id: &str) -> serde_json::Value {
    let output = support::run_to_end(dir, &["escalations", id, "--all", "--json", "--db", db]);
    output.expect_code(0);
    output.json()
}

#[test]
fn a_task_that_failed_for_good_is_escalated_and_retried_by_decision_at_resume() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let name = support::unique_name("retry-decision");
    let id = format!("{name}-1");
    flaky_mission(dir.path(), &name);

    let run = support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]);
    run.expect_code(1).expect_stderr(&[
        "escalation #1: FLAKY failed after 2 attempts",
        "1 dependent task waits",
    ]);
    assert_eq!(ran(dir.path()), ["FLAKY", "FLAKY"]);

    let listed = support::run_to_end(dir.path(), &["escalations", &id, "--db", db]);
    listed.expect_code(0);
    let text = listed.stdout.clone();
    assert!(text.contains("retries-exhausted"), "{text}");
    assert!(
        text.contains(&format!(
            "decide: techlead decide {id} 1 retry|reassign AGENT|skip|abort"
        )),
        "{text}"
    );
    assert!(text.contains("recommended:"), "{text}");

    // No run holds the mission: the decision waits for `resume`.
    std::fs::write(dir.path().join("fixed"), "").unwrap();
    let decided = support::run_to_end(
        dir.path(),
        &[
            "decide",
            &id,
            "1",
            "retry",
            "--note",
            "the fixture is back",
            "--db",
            db,
        ],
    );
    decided.expect_code(0).expect_stderr(&[
        "decision 1 recorded",
        &format!("`techlead resume {id}` carries it out"),
    ]);
    let pending = escalations(dir.path(), db, &id);
    assert_eq!(
        pending[0]["pending_decisions"][0]["decision"]["Ok"]["action"],
        "retry"
    );

    let resumed = support::run_to_end(dir.path(), &["resume", &id, "--db", db]);
    resumed.expect_code(0).expect_stderr(&[
        "escalation #1 decided: retry",
        "FLAKY waits again",
        "NEXT waits again",
    ]);
    assert_eq!(ran(dir.path()), ["FLAKY", "FLAKY", "FLAKY", "NEXT"]);
    let status = support::status(dir.path(), Path::new(db), &id);
    assert_eq!(status["status"], "succeeded");
    let after = escalations(dir.path(), db, &id);
    assert_eq!(after[0]["resolution"]["decision"]["action"], "retry");
    assert_eq!(after[0]["resolution"]["note"], "the fixture is back");
    assert!(
        after[0]["resolution"]["by"]
            .as_str()
            .unwrap()
            .starts_with("cli:")
    );

    // Decided once: a second decision is refused, and nothing is recorded.
    let again = support::run_to_end(dir.path(), &["decide", &id, "1", "skip", "--db", db]);
    again
        .expect_code(1)
        .expect_stderr(&["escalation 1 was already decided"]);
}

#[test]
fn skipping_a_failed_task_lets_its_dependents_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let name = support::unique_name("skip-decision");
    let id = format!("{name}-1");
    flaky_mission(dir.path(), &name);
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]).expect_code(1);

    support::run_to_end(dir.path(), &["decide", &id, "1", "skip", "--db", db]).expect_code(0);
    support::run_to_end(dir.path(), &["resume", &id, "--db", db])
        .expect_code(0)
        .expect_stderr(&["FLAKY skipped"]);
    assert_eq!(ran(dir.path()), ["FLAKY", "FLAKY", "NEXT"]);
    let status = support::status(dir.path(), Path::new(db), &id);
    assert_eq!(support::task(&status, "FLAKY")["status"], "skipped");
    assert_eq!(support::task(&status, "NEXT")["status"], "succeeded");
    let missions = support::run_to_end(dir.path(), &["missions", "--json", "--db", db]);
    let row = &missions.json()[0];
    assert_eq!(row["status"], "succeeded");
    assert_eq!(
        row["failed"], 0,
        "a skipped task is no longer counted as failed"
    );
}

#[test]
fn a_run_waiting_for_decisions_carries_one_out_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let name = support::unique_name("live-decision");
    let id = format!("{name}-1");
    flaky_mission(dir.path(), &name);
    let mut run = Running::start(
        dir.path(),
        &[
            "run",
            "mission.yaml",
            "--json",
            "--wait-for-decisions",
            "--db",
            db,
        ],
    );
    run.wait_for(|e| support::event_type(e) == "escalation_raised");

    std::fs::write(dir.path().join("fixed"), "").unwrap();
    let decided = support::run_to_end(dir.path(), &["decide", &id, "1", "retry", "--db", db]);
    decided
        .expect_code(0)
        .expect_stderr(&["escalation 1 of", "retry, carried out by the run (event"]);
    let (code, events, _) = run.finish();
    assert_eq!(code, 0, "{events:#?}");
    let types: Vec<String> = events
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|e| support::event_type(&e).to_string())
        .collect();
    let resolved = types
        .iter()
        .position(|t| t == "escalation_resolved")
        .unwrap();
    assert_eq!(types[resolved + 1], "task_reopened");
    assert_eq!(types.iter().filter(|t| *t == "mission_finished").count(), 1);
    assert_eq!(ran(dir.path()), ["FLAKY", "FLAKY", "FLAKY", "NEXT"]);
}

#[test]
fn abort_stops_what_runs_and_ends_the_mission() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let name = support::unique_name("abort-decision");
    let id = format!("{name}-1");
    let slow = r#"echo "$TECHLEAD_TASK" >> ran; exec sleep 600"#;
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  objective: abort\n  defaults: {{executor: command, retries: 0}}\ntasks:\n\
             \x20 - {{id: BROKEN, title: broken, command: [sh, -c, 'exit 1']}}\n\
             \x20 - {{id: SLOW, title: slow, command: [sh, -c, {slow:?}]}}\n"
        ),
    );
    let mut run = Running::start(dir.path(), &["run", "mission.yaml", "--json", "--db", db]);
    run.wait_for(|e| support::event_type(e) == "escalation_raised");
    support::wait_until("SLOW to start", || ran(dir.path()) == ["SLOW"]);

    support::run_to_end(dir.path(), &["decide", &id, "1", "abort", "--db", db])
        .expect_code(0)
        .expect_stderr(&["abort, carried out by the run"]);
    let (code, _, stderr) = run.finish();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("aborted by your decision"), "{stderr}");
    let status = support::status(dir.path(), Path::new(db), &id);
    assert_eq!(status["status"], "aborted");
    assert!(support::processes_of(&id).is_empty(), "SLOW was stopped");
    // Finished for good: nothing is left to decide, and resume refuses.
    support::run_to_end(dir.path(), &["resume", &id, "--db", db]).expect_code(2);
}

#[test]
fn bad_decisions_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let name = support::unique_name("bad-decision");
    let id = format!("{name}-1");
    flaky_mission(dir.path(), &name);
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]).expect_code(1);

    support::run_to_end(dir.path(), &["decide", &id, "7", "retry", "--db", db])
        .expect_code(1)
        .expect_stderr(&["the mission has no escalation 7", "open: #1"]);
    support::run_to_end(dir.path(), &["decide", &id, "1", "redo", "--db", db])
        .expect_code(2)
        .expect_stderr(&["unknown action `redo`", "retry|skip|approve|abort"]);
    support::run_to_end(
        dir.path(),
        &["decide", &id, "1", "reassign", "nobody", "--db", db],
    )
    .expect_code(1)
    .expect_stderr(&["`nobody` is not one of the mission's agents"]);
    support::run_to_end(dir.path(), &["decide", &id, "1", "reassign", "--db", db])
        .expect_code(2)
        .expect_stderr(&["`reassign` needs the agent"]);
    support::run_to_end(
        dir.path(),
        &["decide", "no-such-mission", "1", "retry", "--db", db],
    )
    .expect_code(2);

    // A decision waiting for `resume` is not doubled.
    support::run_to_end(dir.path(), &["decide", &id, "1", "retry", "--db", db]).expect_code(0);
    support::run_to_end(dir.path(), &["decide", &id, "1", "skip", "--db", db])
        .expect_code(1)
        .expect_stderr(&["already has a decision waiting"]);
    // A failed mission has nothing running to abort.
    support::run_to_end(dir.path(), &["decide", &id, "1", "abort", "--db", db])
        .expect_code(1)
        .expect_stderr(&["the mission already finished as failed"]);
}

#[test]
fn an_agent_that_says_it_is_blocked_gets_guidance_then_the_person_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let name = support::unique_name("blocked");
    let id = format!("{name}-1");
    // Exits 0 either way: saying it is blocked is what counts. Each
    // attempt keeps the prompt it got.
    let agent = r#"cat > "prompt-$TECHLEAD_ATTEMPT.md"; test -f password && { echo '::summary deployed'; exit 0; }; echo '::blocked need the staging password'"#;
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  objective: deploy\n  defaults: {{executor: command, backoff: [10ms], retries: 1}}\ntasks:\n\
             \x20 - {{id: DEPLOY, title: deploy to staging, command: [sh, -c, {agent:?}]}}\n"
        ),
    );
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db])
        .expect_code(1)
        .expect_stderr(&[
            "escalation #1: DEPLOY is blocked: need the staging password (tried 2 attempts on",
        ]);
    let first = std::fs::read_to_string(dir.path().join("prompt-1.md")).unwrap();
    assert!(!first.contains("The last attempt was blocked"), "{first}");
    let second = std::fs::read_to_string(dir.path().join("prompt-2.md")).unwrap();
    assert!(
        second.contains("## The last attempt was blocked")
            && second.contains("stopped with: need the staging password"),
        "{second}"
    );
    let status = support::status(dir.path(), Path::new(db), &id);
    let deploy = support::task(&status, "DEPLOY");
    assert_eq!(deploy["status"], "failed");
    let listed = escalations(dir.path(), db, &id);
    assert_eq!(listed[0]["kind"], "agent-blocked");

    std::fs::write(dir.path().join("password"), "hunter2").unwrap();
    support::run_to_end(dir.path(), &["decide", &id, "1", "retry", "--db", db]).expect_code(0);
    support::run_to_end(dir.path(), &["resume", &id, "--db", db]).expect_code(0);
    let status = support::status(dir.path(), Path::new(db), &id);
    assert_eq!(support::task(&status, "DEPLOY")["status"], "succeeded");
}

#[test]
fn an_interactive_run_asks_at_the_terminal_and_goes_on_with_the_answer() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let name = support::unique_name("interactive");
    flaky_mission(dir.path(), &name);
    let mut command = support::techlead(dir.path());
    command
        .args(["run", "mission.yaml", "--json", "--interactive", "--db", db])
        .stdin(std::process::Stdio::piped());
    let mut run = Running::start_command(command);
    run.wait_for(|e| support::event_type(e) == "escalation_raised");
    std::fs::write(dir.path().join("fixed"), "").unwrap();
    let stdin = run.child.stdin.as_mut().unwrap();
    stdin.write_all(b"retry\n").unwrap();
    stdin.flush().unwrap();
    let (code, _, stderr) = run.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("? escalation #1: FLAKY failed after 2 attempts")
            && stderr.contains("decide (retry, reassign AGENT, skip, abort or wait):"),
        "{stderr}"
    );
    assert_eq!(ran(dir.path()), ["FLAKY", "FLAKY", "FLAKY", "NEXT"]);
    let listed = escalations(dir.path(), db, &format!("{name}-1"));
    assert_eq!(listed[0]["resolution"]["by"], "terminal");
}

#[test]
fn approve_accepts_work_its_gate_rejected_and_a_failed_definition_of_done_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let name = support::unique_name("approve");
    let id = format!("{name}-1");
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  objective: approve\n  defaults: {{executor: command, retries: 0}}\n\
             \x20 definition_of_done:\n    - {{item: the docs are reviewed, run: test -f docs-reviewed}}\n\
             tasks:\n\
             \x20 - {{id: BUILD, title: build, command: [sh, -c, 'echo built > out'], gates: ['test -f reviewed']}}\n\
             \x20 - {{id: SHIP, title: ship, depends_on: [BUILD], command: [sh, -c, 'echo SHIP >> ran']}}\n"
        ),
    );
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db])
        .expect_code(1)
        .expect_stderr(&["escalation #1"]);
    assert_eq!(escalations(dir.path(), db, &id)[0]["kind"], "gate");
    // Only a gate's or the definition of done's verdict can be approved.
    support::run_to_end(dir.path(), &["decide", &id, "1", "approve", "--db", db]).expect_code(0);
    support::run_to_end(dir.path(), &["resume", &id, "--db", db])
        .expect_code(1)
        .expect_stderr(&[
            "BUILD's work approved by you",
            "the definition of done is not met",
        ]);
    assert_eq!(ran(dir.path()), ["SHIP"]);
    let listed = escalations(dir.path(), db, &id);
    let dod = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "definition-of-done")
        .expect("the failed check is escalated");
    let n = dod["id"].to_string();
    support::run_to_end(dir.path(), &["decide", &id, &n, "approve", "--db", db]).expect_code(0);
    support::run_to_end(dir.path(), &["resume", &id, "--db", db]).expect_code(0);
    let status = support::status(dir.path(), Path::new(db), &id);
    assert_eq!(status["status"], "succeeded");
    let text = support::run_to_end(dir.path(), &["status", &id, "--db", db]);
    assert!(text.stdout.contains("≈"), "{}", text.stdout);
}

#[test]
fn edit_gives_the_next_attempt_the_persons_guidance() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let name = support::unique_name("edit");
    let id = format!("{name}-1");
    let agent = r#"cat > "prompt-$TECHLEAD_ATTEMPT.md"; grep -q 'use the mirror' "prompt-$TECHLEAD_ATTEMPT.md""#;
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  objective: edit\n  defaults: {{executor: command, retries: 0}}\ntasks:\n\
             \x20 - {{id: FETCH, title: fetch, command: [sh, -c, {agent:?}]}}\n"
        ),
    );
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]).expect_code(1);
    support::run_to_end(dir.path(), &["decide", &id, "1", "approve", "--db", db])
        .expect_code(1)
        .expect_stderr(&["only a gate's or the definition of done's verdict can be approved"]);
    support::run_to_end(
        dir.path(),
        &[
            "decide",
            &id,
            "1",
            "edit",
            "use the mirror at mirror.example",
            "--db",
            db,
        ],
    )
    .expect_code(0);
    support::run_to_end(dir.path(), &["resume", &id, "--db", db]).expect_code(0);
    let second = std::fs::read_to_string(dir.path().join("prompt-2.md")).unwrap();
    assert!(
        second.contains("## From the person\n\nuse the mirror at mirror.example"),
        "{second}"
    );
}

#[test]
fn on_blocked_ask_sends_a_blocker_to_the_person_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let name = support::unique_name("ask-blocked");
    let agent = r#"echo "$TECHLEAD_TASK" >> ran; echo '::blocked which region?'"#;
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  objective: ask\n  defaults: {{executor: command, retries: 3, on_blocked: ask}}\ntasks:\n\
             \x20 - {{id: DEPLOY, title: deploy, command: [sh, -c, {agent:?}]}}\n"
        ),
    );
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db])
        .expect_code(1)
        .expect_stderr(&["DEPLOY is blocked: which region? (tried 1 attempt on"]);
    assert_eq!(ran(dir.path()), ["DEPLOY"], "no retry before the person");

    let bad = support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  defaults: {{executor: command, on_blocked: later}}\ntasks:\n  - {{id: A, title: a, command: [\"true\"]}}\n"
        ),
    );
    support::run_to_end(dir.path(), &["validate", bad.to_str().unwrap()])
        .expect_code(2)
        .expect_stderr(&[
            "mission.yaml:3:",
            "`on_blocked` is `retry`, `split` or `ask`, not `later`",
        ]);
}
