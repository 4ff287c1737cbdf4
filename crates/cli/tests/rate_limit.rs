//! A rate limit, seen from the command line: the run says the executor is
//! paused and until when, `techlead status` shows which tasks wait, and the
//! run finishes by itself once the limit resets, with nothing failed.

use crate::support;

#[test]
fn a_rate_limited_executor_is_shown_waiting_and_the_run_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state").join("techlead.db");
    let name = support::unique_name("rate-limit");
    let limited = r#"if [ "$TECHLEAD_ATTEMPT" = 1 ]; then printf '{"status":"rate_limited","retry_at":"%s","message":"429 Too Many Requests"}' "$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)" > "$TECHLEAD_RESULT"; fi"#;
    let tasks: String = (1..=3)
        .map(|i| format!("  - {{id: T{i}, title: call the API, command: [sh, -c, {limited:?}]}}\n"))
        .collect();
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  objective: call\n  defaults: {{executor: command}}\ntasks:\n{tasks}"
        ),
    );
    let db = db.to_str().unwrap();
    let mut run =
        support::Running::start(dir.path(), &["run", "mission.yaml", "--json", "--db", db]);
    run.wait_for(|e| support::event_type(e) == "executor_paused");
    let status = support::run_to_end(dir.path(), &["status", "--db", db]);
    status.expect_code(0);
    assert!(
        status
            .stdout
            .contains("command is paused by a rate limit until")
            && status.stdout.contains("task(s) wait, none fails"),
        "{}",
        status.stdout
    );
    let (code, _, stderr) = run.finish();
    assert_eq!(code, 0, "{stderr}");
    let json = support::status(dir.path(), std::path::Path::new(db), &format!("{name}-1"));
    for task in json["tasks"].as_array().unwrap() {
        assert_eq!(task["status"], "succeeded");
        let outcomes = support::outcomes(task);
        assert_eq!(outcomes[0].as_deref(), Some("rate_limited"), "{task:#}");
        assert!(!outcomes.iter().any(|o| o.as_deref() == Some("failed")));
    }
}
