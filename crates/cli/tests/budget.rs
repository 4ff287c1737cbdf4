//! Budgets: dispatch stops once the mission's (or a task's) budget is
//! spent, the person is asked, and a resume with a new budget goes on.

use crate::support;

#[test]
fn a_spent_budget_pauses_the_mission_until_the_person_raises_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state").join("techlead.db");
    let name = support::unique_name("budget");
    // Each task reports 2 cents; the mission may spend 5, one task at a time.
    let spend = r#"printf '{"usage":{"input_tokens":10,"output_tokens":5,"cost_usd":0.02}}' > "$TECHLEAD_RESULT"; echo "$TECHLEAD_TASK" >> ran"#;
    let tasks: String = (1..=5)
        .map(|i| format!("  - {{id: T{i}, title: spend, command: [sh, -c, {spend:?}]}}\n"))
        .collect();
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  objective: spend\n  budget: {{usd: 0.05}}\n  defaults: {{executor: command, max_parallel: 1}}\ntasks:\n{tasks}"
        ),
    );
    let db = db.to_str().unwrap();
    let id = format!("{name}-1");
    let run = support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]);
    run.expect_code(3)
        .expect_stderr(&["budget is spent: $0.06", "of $0.05"]);
    let ran = std::fs::read_to_string(dir.path().join("ran")).unwrap();
    assert_eq!(ran.lines().count(), 3, "stopped once the budget was spent");
    let status = support::status(dir.path(), std::path::Path::new(db), &id);
    assert_eq!(status["status"], "paused");

    // Resuming without a new budget pauses again at once: nothing runs.
    support::run_to_end(dir.path(), &["resume", &id, "--db", db]).expect_code(3);
    let ran = std::fs::read_to_string(dir.path().join("ran")).unwrap();
    assert_eq!(ran.lines().count(), 3);

    let resumed = support::run_to_end(
        dir.path(),
        &["resume", &id, "--db", db, "--budget-usd", "1"],
    );
    resumed.expect_code(0).expect_stderr(&["budget set: $1.00"]);
    let ran = std::fs::read_to_string(dir.path().join("ran")).unwrap();
    assert_eq!(ran.lines().count(), 5);

    let bad = support::run_to_end(
        dir.path(),
        &["resume", &id, "--db", db, "--budget-usd", "lots"],
    );
    bad.expect_code(2)
        .expect_stderr(&["is not an amount of dollars"]);
}

#[test]
fn a_task_that_spent_its_budget_is_not_retried_without_the_person() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state").join("techlead.db");
    let name = support::unique_name("task-budget");
    let costly =
        r#"printf '{"usage":{"cost_usd":0.30}}' > "$TECHLEAD_RESULT"; echo try >> tries; exit 1"#;
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  objective: spend\n  defaults: {{executor: command, backoff: [10ms]}}\ntasks:\n\
             \x20 - {{id: COSTLY, title: spend, retries: 5, budget: {{usd: 0.5}}, command: [sh, -c, {costly:?}]}}\n"
        ),
    );
    let db = db.to_str().unwrap();
    let run = support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]);
    run.expect_code(3)
        .expect_stderr(&["task `COSTLY` has spent its budget: $0.60", "of $0.50"]);
    let tries = std::fs::read_to_string(dir.path().join("tries")).unwrap();
    assert_eq!(
        tries.lines().count(),
        2,
        "the third attempt would pass the budget"
    );
}
