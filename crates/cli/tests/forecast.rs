//! `techlead forecast`: a mission file before anything ran (the prior),
//! the same file once history exists (it learns that these agents take a
//! fraction of their estimates and what they cost), and a recorded
//! mission by name; text and JSON, the seed, and bad input.

use crate::support;

#[test]
fn a_forecast_learns_from_the_missions_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state").join("techlead.db");
    let db = db.to_str().unwrap();
    let name = support::unique_name("forecast");
    // Estimated at an hour each; each run takes a moment and reports 5
    // cents. The deadline is far off. The moment is 10 ms: history learns
    // only from attempts that took a millisecond or more (a duration of
    // 0 ms says nothing of how long the work takes), and a bare `printf`
    // can finish within one.
    let report = r#"sleep 0.01; printf '{"usage":{"cost_usd":0.05}}' > "$TECHLEAD_RESULT""#;
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  deadline: 2099-01-01\n  defaults: {{executor: command, max_parallel: 1}}\n\
             tasks:\n\
             \x20 - {{id: A, title: first, estimate: 1h, command: [sh, -c, {report:?}]}}\n\
             \x20 - {{id: B, title: second, estimate: 1h, depends_on: A, command: [sh, -c, {report:?}]}}\n\
             \x20 - {{id: C, title: third, estimate: 2h, depends_on: A, command: [sh, -c, {report:?}]}}\n"
        ),
    );
    let forecast = |args: &[&str]| {
        let mut all = vec!["forecast", "--db", db];
        all.extend_from_slice(args);
        support::run_to_end(dir.path(), &all)
    };

    // No database yet: the estimates are the prior's medians; with one
    // slot, the three tasks' 4 hours in a row.
    let at = ["--as-of", "2030-01-01T00:00:00Z"];
    let before = forecast(&["mission.yaml", "--json", at[0], at[1]]);
    before.expect_code(0);
    let json = before.json();
    let p50 = json["forecast"]["finish_hours"]["p50"].as_f64().unwrap();
    assert!((3.0..5.0).contains(&p50), "{p50}");
    assert_eq!(json["forecast"]["history"]["samples"], 0);
    assert_eq!(json["forecast"]["tasks"], 3);
    assert_eq!(json["forecast"]["deadline"]["chance"], 1.0);
    let again = forecast(&["mission.yaml", "--json", at[0], at[1]]);
    assert_eq!(json, again.json(), "the same seed, the same forecast");
    let other = forecast(&["mission.yaml", "--json", at[0], at[1], "--seed", "9"]);
    assert_ne!(
        json["forecast"]["finish_hours"],
        other.json()["forecast"]["finish_hours"]
    );

    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]).expect_code(0);

    // Three tasks of history that took seconds for hours and cost 5
    // cents an hour-of-estimate or so: the median forecast shrinks, and
    // costs appear.
    let after = forecast(&["mission.yaml", "--json", "--runs", "2000"]);
    after.expect_code(0);
    let json = after.json();
    let f = &json["forecast"];
    assert_eq!(f["runs"], 2000);
    assert_eq!(f["history"]["samples"], 3);
    assert_eq!(f["history"]["missions"], 1);
    assert!(
        f["finish_hours"]["p50"].as_f64().unwrap() < p50 / 2.0,
        "{f}"
    );
    assert!(f["cost_usd"]["p90"].as_f64().unwrap() > 0.0, "{f}");
    assert!(json["finish"]["p90"].is_string());

    // The recorded mission by name: nothing is left of it.
    let recorded = forecast(&[&name]);
    recorded.expect_code(0);
    assert!(
        recorded.stdout.contains("0 tasks left") && recorded.stdout.contains("Nothing left"),
        "{}",
        recorded.stdout
    );

    let text = forecast(&["mission.yaml"]);
    text.expect_code(0);
    for words in [
        "P50",
        "P90",
        "takes",
        "ends",
        "costs",
        "Deadline",
        "History: 3 finished tasks from 1 mission",
    ] {
        assert!(text.stdout.contains(words), "{words}:\n{}", text.stdout);
    }
}

#[test]
fn bad_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let missing = support::run_to_end(dir.path(), &["forecast", "nothing.yaml", "--db", db]);
    missing.expect_code(2);
    let runs = support::run_to_end(dir.path(), &["forecast", "m.yaml", "--runs", "0"]);
    runs.expect_code(2);
    assert!(runs.stderr.contains("--runs"), "{}", runs.stderr);
}
