//! Dependencies between missions (`depends_on: [billing/API]`): two
//! `techlead run` processes on one database, each the writer of its own
//! mission. A task that waits for another mission's task starts only once
//! that task durably succeeded there, even when the other mission has not
//! started yet; when it fails there, the waiting task is blocked and the
//! person decides. Order is proven by the files the tasks append to, and
//! by commands that fail when their dependency's work is missing.

use crate::support;

use std::path::Path;
use support::Running;

fn log(dir: &Path) -> Vec<String> {
    support::lines_of(&dir.join("log"))
}

/// Writes mission `name` with `tasks` (YAML list items) in `dir/<sub>`.
fn mission(dir: &Path, sub: &str, name: &str, tasks: &str) {
    let dir = dir.join(sub);
    std::fs::create_dir_all(&dir).unwrap();
    support::write_mission(
        &dir,
        &format!(
            "mission:\n  name: {name}\n  objective: portfolio\n  defaults: {{executor: command, retries: 0}}\ntasks:\n{tasks}"
        ),
    );
}

/// The reports mission: SPEC, then REPORT after SPEC and `billing`'s API.
/// REPORT fails unless API's work is in the log: it must not run early.
fn reports(dir: &Path, name: &str, billing: &str) {
    let report = r#"grep -qx API ../log || exit 1; echo REPORT >> ../log"#;
    mission(
        dir,
        "reports",
        name,
        &format!(
            "  - {{id: SPEC, title: write the spec, command: [sh, -c, 'echo SPEC >> ../log']}}\n\
             \x20 - {{id: REPORT, title: report on billing, depends_on: [SPEC, {billing}/API], command: [sh, -c, {report:?}]}}\n"
        ),
    );
}

/// The billing mission: API waits for `go`, then says it is done.
fn billing(dir: &Path, name: &str, api: &str) {
    mission(
        dir,
        "billing",
        name,
        &format!("  - {{id: API, title: build the billing API, command: [sh, -c, {api:?}]}}\n"),
    );
}

const API_AFTER_GO: &str = r#"while [ ! -e ../go ]; do sleep 0.02; done; echo API >> ../log"#;

#[test]
fn a_task_waits_for_another_missions_task_that_has_not_started_yet() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    waits_then_runs(dir.path(), db.to_str().unwrap());
}

#[test]
fn a_task_waits_for_another_missions_task_on_postgresql() {
    let Some(db) = techlead_testdb::database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    waits_then_runs(dir.path(), &db.url);
}

fn waits_then_runs(dir: &Path, db: &str) {
    let (r, b) = (
        support::unique_name("reports"),
        support::unique_name("billing"),
    );
    reports(dir, &r, &b);
    billing(dir, &b, API_AFTER_GO);

    // Reports first: billing does not exist yet.
    let mut reports = Running::start(
        &dir.join("reports"),
        &["run", "mission.yaml", "--json", "--db", db],
    );
    reports
        .wait_for(|e| support::event_type(e) == "attempt_finished" && e["event"]["task"] == "SPEC");
    // Wide enough for the whole note.
    let mut command = support::techlead(dir);
    command
        .args(["status", &r, "--db", db])
        .env("COLUMNS", "400");
    let status = support::output_of(command);
    status.expect_code(0);
    assert!(
        status.stdout.contains(&format!(
            "waiting for {b}/API (mission `{b}` has not started yet)"
        )),
        "{}",
        status.stdout
    );
    assert!(
        reports.child.try_wait().unwrap().is_none(),
        "a mission whose work waits for another keeps running"
    );

    let mut billing = Running::start(
        &dir.join("billing"),
        &["run", "mission.yaml", "--json", "--db", db],
    );
    billing.wait_for(|e| support::event_type(e) == "attempt_started");
    let status = support::run_to_end(dir, &["status", &r, "--json", "--db", db]);
    let waiting = &status.json()["tasks"][1];
    assert_eq!(waiting["status"], "pending", "{waiting:#}");
    assert_eq!(waiting["external"][0]["on"], format!("{b}/API"));
    assert_eq!(waiting["external"][0]["state"], "waiting");

    std::fs::write(dir.join("go"), "").unwrap();
    let (code, _, stderr) = billing.finish();
    assert_eq!(code, 0, "{stderr}");
    let (code, events, stderr) = reports.finish();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(log(dir), ["SPEC", "API", "REPORT"]);

    let events: Vec<serde_json::Value> = events
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen = events
        .iter()
        .position(|e| support::event_type(e) == "external_succeeded")
        .expect("external_succeeded recorded");
    assert_eq!(events[seen]["event"]["mission"], format!("{b}-1"));
    assert_eq!(events[seen]["event"]["on"], format!("{b}/API"));
    let started = events
        .iter()
        .position(|e| support::event_type(e) == "attempt_started" && e["event"]["task"] == "REPORT")
        .expect("REPORT started");
    assert!(seen < started, "recorded before it was acted on");

    let status = support::run_to_end(dir, &["status", &r, "--json", "--db", db]).json();
    assert_eq!(status["tasks"][1]["external"][0]["state"], "succeeded");
    assert_eq!(
        status["tasks"][1]["external"][0]["mission"],
        format!("{b}-1")
    );
}

#[test]
fn a_failed_task_elsewhere_blocks_the_waiting_task_until_the_person_retries() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = dir.join("techlead.db");
    let db = db.to_str().unwrap();
    let (r, b) = (
        support::unique_name("reports"),
        support::unique_name("billing"),
    );
    reports(dir, &r, &b);
    billing(dir, &b, "echo 'API broke' >&2; exit 3");
    support::run_to_end(&dir.join("billing"), &["run", "mission.yaml", "--db", db]).expect_code(1);

    let failed = support::run_to_end(&dir.join("reports"), &["run", "mission.yaml", "--db", db]);
    failed.expect_code(1).expect_stderr(&[&format!(
        "REPORT cannot wait for {b}/API any more: API failed in {b}-1"
    )]);
    assert_eq!(log(dir), ["SPEC"], "REPORT never ran");
    let status = support::status(dir, Path::new(db), &r);
    let report = support::task(&status, "REPORT");
    assert_eq!(report["status"], "blocked");
    assert_eq!(report["blocked_by"], format!("{b}/API"));
    assert_eq!(report["external"][0]["state"], "failed");
    assert_eq!(
        report["external"][0]["reason"],
        format!("API failed in {b}-1")
    );
    let escalation = &status["open_escalations"][0];
    assert_eq!(escalation["kind"], "external-dependency");
    assert_eq!(
        escalation["options"],
        serde_json::json!(["retry", "skip", "abort"])
    );

    // The person fixes billing and runs it again (billing-2), then asks
    // reports to wait for it again.
    billing(dir, &b, "echo API >> ../log");
    support::run_to_end(&dir.join("billing"), &["run", "mission.yaml", "--db", db]).expect_code(0);
    support::run_to_end(dir, &["decide", &r, "1", "retry", "--db", db]).expect_code(0);
    let resumed = support::run_to_end(dir, &["resume", &r, "--json", "--db", db]);
    resumed.expect_code(0);
    assert!(
        resumed.stdout.contains(&format!(r#""mission":"{b}-2""#)),
        "{}",
        resumed.stdout
    );
    assert_eq!(log(dir), ["SPEC", "API", "REPORT"]);
}

#[test]
fn a_dependency_on_a_task_the_other_mission_lacks_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = dir.join("techlead.db");
    let db = db.to_str().unwrap();
    let (r, b) = (
        support::unique_name("reports"),
        support::unique_name("billing"),
    );
    billing(dir, &b, "true");
    support::run_to_end(&dir.join("billing"), &["run", "mission.yaml", "--db", db]).expect_code(0);
    mission(
        dir,
        "reports",
        &r,
        &format!("  - {{id: REPORT, title: report, depends_on: [{b}/APX], command: [true]}}\n"),
    );
    let validate = support::run_to_end(&dir.join("reports"), &["validate", "mission.yaml"]);
    validate
        .expect_code(0)
        .expect_stderr(&[&format!("REPORT waits for {b}/APX")]);
    support::run_to_end(&dir.join("reports"), &["run", "mission.yaml", "--db", db])
        .expect_code(2)
        .expect_stderr(&[
            &format!("task `REPORT` depends on `{b}/APX`, but {b}-1 has no task `APX`"),
            "did you mean `API`?",
        ]);
    let missions = support::run_to_end(dir, &["missions", "--json", "--db", db]).json();
    assert_eq!(missions.as_array().unwrap().len(), 1, "nothing recorded");
}
