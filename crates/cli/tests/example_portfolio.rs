//! The portfolio example, run as a person runs it: `examples/portfolio/run.sh
//! DIR` starts the billing and reports missions at once, each in its own
//! `techlead run`, on one database. REPORT (reports) waits for API
//! (billing): it starts only after API is done, and fails if it runs
//! early, so the timeline the stand-in agents write proves the order. The
//! two missions share `dev` (max_parallel 1): a second `dev` task at once
//! fails, and the timeline shows each `dev` task done before the next
//! starts.

use crate::support;

use std::path::Path;
use std::process::Command;

#[test]
fn the_portfolio_example_runs_two_missions_with_a_dependency_between_them() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/portfolio/run.sh");
    let mut command = Command::new("sh");
    command
        .arg(&script)
        .arg(&run)
        .env("TECHLEAD", env!("CARGO_BIN_EXE_techlead"))
        .env("HOME", dir.path())
        .env("NO_COLOR", "1")
        .env_remove("TECHLEAD_DB")
        .env_remove("TECHLEAD_MISSION");
    let output = support::output_of(command);
    output.expect_code(0);
    let timeline: Vec<&str> = output.stdout.lines().collect();
    let at = |line: &str| {
        timeline
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("no `{line}` in {timeline:?}"))
    };
    assert!(at("API done") < at("REPORT start"), "{timeline:?}");
    assert!(at("SPEC done") < at("REPORT start"), "{timeline:?}");
    assert!(at("API done") < at("INVOICES start"), "{timeline:?}");
    // One dev task at a time, across both missions.
    let mut running: Option<&str> = None;
    for line in &timeline {
        let (task, what) = line.split_once(' ').unwrap();
        if !["API", "INVOICES", "DRAFT", "REPORT"].contains(&task) {
            continue;
        }
        match what {
            "start" => assert_eq!(running.replace(task), None, "{timeline:?}"),
            "done" => assert_eq!(running.take(), Some(task), "{timeline:?}"),
            other => panic!("{other} in {timeline:?}"),
        }
    }

    let db = run.join("techlead.db");
    let status = support::status(dir.path(), &db, "reports");
    assert_eq!(status["status"], "succeeded");
    let report = support::task(&status, "REPORT");
    assert_eq!(report["external"][0]["on"], "billing/API");
    assert_eq!(report["external"][0]["mission"], "billing-1");
}
