//! The definition of done, end to end with the real `techlead` binary and
//! real commands: statements are shown as to confirm, checks run once the
//! work is all in (on the integration branch when there is a repository),
//! a failed check fails the mission and tells the person which item, an
//! interrupted check runs again on resume, and `techlead status` shows the
//! checklist and the checking stage.

use crate::support;

use rustix::process::{Pid, Signal};
use std::path::Path;
use support::git::{git, mission_in_repository};

fn events_of(lines: &str) -> Vec<serde_json::Value> {
    lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .collect()
}

fn of_type<'a>(events: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    events
        .iter()
        .filter(|e| support::event_type(e) == kind)
        .map(|e| &e["event"])
        .collect()
}

fn db(dir: &Path) -> std::path::PathBuf {
    dir.join(".techlead").join("techlead.db")
}

/// `techlead status <mission>` as text, with the directory written as
/// `<DIR>`.
fn status_text(dir: &Path, mission: &str) -> String {
    let output = support::run_to_end(dir, &["status", mission]);
    output.expect_code(0);
    let canonical = dir.canonicalize().unwrap();
    output
        .stdout
        .replace(canonical.to_str().unwrap(), "<DIR>")
        .replace(dir.to_str().unwrap(), "<DIR>")
}

/// The lines of the "Definition of done" section of a status text.
fn checklist(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| *l != "Definition of done")
        .collect()
}

/// The table row of `task` in a status text.
fn row<'a>(text: &'a str, task: &str) -> &'a str {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(task))
        .unwrap_or_else(|| panic!("no row for {task}:\n{text}"))
}

#[test]
fn checks_run_after_the_work_and_a_failed_one_fails_the_mission() {
    let dir = tempfile::tempdir().unwrap();
    let name = support::unique_name("done-fail");
    let check = "cat report.txt; grep -q ok report.txt || { echo 'report.txt lacks ok'; exit 3; }";
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  defaults: {{executor: command}}\n  definition_of_done:\n\
             \x20   - The release notes are written\n\
             \x20   - {{item: The report exists, run: test -f report.txt}}\n\
             \x20   - {{item: The report says ok, run: \"{check}\"}}\n\
             tasks:\n\
             \x20 - {{id: REPORT, title: write the report, command: [sh, -c, 'echo fail > report.txt']}}\n"
        ),
    );
    let out = support::run_to_end(dir.path(), &["run", "mission.yaml", "--json"]);
    out.expect_code(1);
    let id = format!("{name}-1");
    let events = events_of(&out.stdout);

    // Both checks ran, in order, after the task and before the end.
    let checks = of_type(&events, "done_checked");
    assert_eq!(checks.len(), 2, "{}", out.stdout);
    assert_eq!(
        (
            &checks[0]["item"],
            &checks[0]["passed"],
            &checks[0]["exit_code"]
        ),
        (&1.into(), &true.into(), &0.into())
    );
    assert_eq!(
        (
            &checks[1]["item"],
            &checks[1]["passed"],
            &checks[1]["exit_code"]
        ),
        (&2.into(), &false.into(), &3.into())
    );
    let position = |kind: &str| {
        events
            .iter()
            .position(|e| support::event_type(e) == kind)
            .unwrap()
    };
    assert!(position("attempt_finished") < position("done_checked"));
    assert!(position("done_checked") < position("mission_finished"));

    // The person is told which item is not met, and why.
    let escalations = of_type(&events, "escalation_raised");
    assert_eq!(escalations.len(), 1, "{}", out.stdout);
    assert_eq!(escalations[0]["kind"], "definition-of-done");
    let message = escalations[0]["message"].as_str().unwrap();
    assert!(
        message.contains("\"The report says ok\"")
            && message.contains("exited with code 3")
            && message.contains("report.txt lacks ok"),
        "{message}"
    );
    assert_eq!(of_type(&events, "mission_finished")[0]["status"], "failed");

    let status = support::status(dir.path(), &db(dir.path()), &id);
    assert_eq!(status["status"], "failed");
    let done = status["definition_of_done"].as_array().unwrap();
    let states: Vec<&str> = done.iter().map(|d| d["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["to_confirm", "met", "not_met"]);
    assert_eq!(done[0]["run"], serde_json::Value::Null);
    assert_eq!(done[2]["run"], check);
    assert_eq!(done[2]["exit_code"], 3);
    // Its output is kept.
    let log = std::fs::read_to_string(done[2]["log"].as_str().unwrap()).unwrap();
    assert_eq!(log, "fail\nreport.txt lacks ok\n");

    let text = status_text(dir.path(), &id);
    assert_eq!(
        text.lines().next().unwrap(),
        format!("{id} · failed · 1 of 1 tasks succeeded, 0 running, 0 failed, 0 blocked · run 1")
    );
    assert_eq!(
        checklist(&text),
        [
            "Definition of done".to_string(),
            "  · to confirm      The release notes are written".to_string(),
            "  ✓ met             The report exists (`test -f report.txt` passed)".to_string(),
            format!(
                "  ✗ not met         The report says ok (`{check}` exited with code 3; output: \
                 <DIR>/.techlead/runs/{id}/done/item-3.output.log)"
            ),
        ]
    );

    // The plain progress lines say it too.
    let lines = support::run_to_end(dir.path(), &["run", "mission.yaml"]);
    lines.expect_code(1).expect_stderr(&[
        "✓ done: The report exists (`test -f report.txt` passed)",
        "✗ not done: The report says ok",
        "definition of done: 1 of 2 checks passed",
    ]);
}

#[test]
fn with_a_repository_checks_see_the_merged_work_and_status_shows_how_it_lands() {
    let (dir, name) = mission_in_repository(
        "done-repo",
        &[("a.txt", "a\n")],
        "  defaults: {executor: command}\n\
         \x20 definition_of_done:\n\
         \x20   - {item: Both changes are in, run: 'grep -q A a.txt && test -f b.txt'}\n\
         \x20   - A person tried it\n\
         tasks:\n\
         \x20 - {id: A, title: change a, command: [sh, -c, 'echo A >> a.txt'], gates: ['grep -q A a.txt']}\n\
         \x20 - {id: B, title: add b, command: [sh, -c, 'echo B > b.txt'], needs: [docs/b.md]}\n\
         \x20 - {id: BROKEN, title: never merged, command: [sh, -c, 'exit 5'], retries: 0}\n",
    );
    let out = support::run_to_end(dir.path(), &["run", "mission.yaml", "--json"]);
    // BROKEN failed: the work is not all in, so nothing is checked.
    out.expect_code(1);
    let id = format!("{name}-1");
    assert!(of_type(&events_of(&out.stdout), "done_checked").is_empty());
    let text = status_text(dir.path(), &id);
    assert_eq!(
        checklist(&text),
        [
            "Definition of done",
            "  … not checked     Both changes are in (`grep -q A a.txt && test -f b.txt`)",
            "  · to confirm      A person tried it",
        ]
    );

    // Without BROKEN, the check passes on the integration branch, though
    // the person's own a.txt never changed.
    let mission = std::fs::read_to_string(dir.path().join("mission.yaml")).unwrap();
    let mission: String = mission
        .lines()
        .filter(|l| !l.contains("BROKEN"))
        .map(|l| format!("{l}\n"))
        .collect();
    support::write_mission(dir.path(), &mission);
    git(dir.path(), &["commit", "-q", "-am", "no broken task"]);
    let out = support::run_to_end(dir.path(), &["run", "mission.yaml", "--json"]);
    out.expect_code(0);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "a\n"
    );
    let id = format!("{name}-2");
    let checks = of_type(&events_of(&out.stdout), "done_checked").len();
    assert_eq!(checks, 1, "{}", out.stdout);

    let status = support::status(dir.path(), &db(dir.path()), &id);
    assert_eq!(status["status"], "succeeded");
    let integration = format!("techlead/{id}/_integration");
    assert_eq!(status["repository"]["integration_branch"], integration);
    assert_eq!(status["repository"]["branch"], "main");
    assert_eq!(status["repository"]["land"], format!("techlead land {id}"));
    assert_eq!(status["counts"]["checking"], 0);
    let a = support::task(&status, "A");
    assert_eq!(a["last_check"]["gate"], "grep -q A a.txt");
    assert_eq!(a["last_check"]["passed"], true);
    let merged = a["merged"].as_str().unwrap();
    assert_eq!(
        git(
            dir.path(),
            &["rev-parse", &format!("{integration}^{{/Techlead-Task: A}}")]
        )
        .trim(),
        merged
    );
    assert_eq!(
        support::task(&status, "B")["missing_inputs"],
        serde_json::json!(["docs/b.md"])
    );
    assert_eq!(status["definition_of_done"][0]["state"], "met");

    let text = status_text(dir.path(), &id);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{id} · succeeded · 2 of 2 tasks succeeded, 0 running, 0 checking, 0 failed, 0 blocked · run 1"
        )
    );
    assert_eq!(
        lines[1],
        format!("integration branch {integration}: 2 of 2 tasks merged")
    );
    assert_eq!(lines[2], format!("`techlead land {id}` brings it to main"));
    let header = lines[4];
    for column in ["TASK", "STATUS", "GATES", "MERGE", "NOTE"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        row(&text, "A").contains(&format!("✓ grep -q A a.txt  {}", &merged[..10])),
        "{text}"
    );
    assert!(row(&text, "B").contains("! lacks docs/b.md"), "{text}");
    // The table fits 120 columns.
    let table: Vec<&str> = lines[4..]
        .iter()
        .take_while(|l| !l.is_empty())
        .copied()
        .collect();
    assert_eq!(table.len(), 3, "{text}");
    assert!(table.iter().all(|l| l.chars().count() <= 120), "{text}");
    assert_eq!(
        checklist(&text),
        [
            "Definition of done",
            "  ✓ met             Both changes are in (`grep -q A a.txt && test -f b.txt` passed)",
            "  · to confirm      A person tried it",
        ]
    );
}

#[test]
fn status_shows_a_task_being_checked_and_an_interrupted_check_runs_again_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let name = support::unique_name("done-resume");
    // The check hangs the first time (until it is interrupted), and
    // passes the second.
    let check =
        "if [ -f checked-once ]; then exit 0; fi; touch checked-once check-started; sleep 60";
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  defaults: {{executor: command}}\n  definition_of_done:\n\
             \x20   - {{item: It works, run: '{check}'}}\n\
             tasks:\n\
             \x20 - {{id: GATED, title: wait for go, command: [true], gates: ['while [ ! -f go ]; do sleep 0.05; done']}}\n"
        ),
    );
    let id = format!("{name}-1");
    let db = db(dir.path());
    let mut run = support::Running::start(dir.path(), &["run", "mission.yaml", "--json"]);
    run.wait_for(|e| {
        support::event_type(e) == "attempt_finished" && e["event"]["next"]["kind"] == "check"
    });
    let status = support::status(dir.path(), &db, &id);
    assert_eq!(status["counts"]["checking"], 1);
    assert_eq!(support::task(&status, "GATED")["status"], "checking");
    assert_eq!(
        support::task(&status, "GATED")["next_gate"],
        "while [ ! -f go ]; do sleep 0.05; done"
    );
    let text = status_text(dir.path(), &id);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("0 running, 1 checking, 0 failed"),
        "{text}"
    );
    assert!(
        row(&text, "GATED").contains("checking")
            && row(&text, "GATED").contains("gate 1 of 1: while"),
        "{text}"
    );

    std::fs::write(dir.path().join("go"), "").unwrap();
    support::wait_until("the check to start", || {
        dir.path().join("check-started").exists()
    });
    let pid = Pid::from_raw(run.pid() as i32).unwrap();
    rustix::process::kill_process(pid, Signal::INT).unwrap();
    let (code, lines, stderr) = run.finish();
    assert_eq!(code, 130, "{stderr}");
    let events = events_of(&lines.join("\n"));
    assert!(of_type(&events, "done_checked").is_empty(), "{lines:#?}");
    assert!(
        support::processes_of(&id).is_empty(),
        "the interrupted check is still running"
    );
    let status = support::status(dir.path(), &db, &id);
    assert_eq!(status["status"], "interrupted");
    assert_eq!(status["definition_of_done"][0]["state"], "not_checked");
    let text = status_text(dir.path(), &id);
    assert_eq!(
        checklist(&text),
        [
            "Definition of done".to_string(),
            format!("  … not checked yet It works (`{check}`)"),
        ]
    );

    let out = support::run_to_end(dir.path(), &["resume", &id, "--json"]);
    out.expect_code(0);
    let events = events_of(&out.stdout);
    let checks = of_type(&events, "done_checked");
    assert_eq!(checks.len(), 1, "{}", out.stdout);
    assert_eq!(checks[0]["passed"], true);
    let status = support::status(dir.path(), &db, &id);
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["definition_of_done"][0]["state"], "met");
}
