//! `techlead plan` warns when tasks that may run at the same time declare
//! the same paths, and orders them when the mission asks for it.

use crate::support;

const MISSION: &str = "\
mission:
  name: overlap
  objective: two endpoints
  defaults:
    executor: command
tasks:
  - id: USERS
    title: Users endpoint
    estimate: 2
    paths: [api/]
  - id: ORDERS
    title: Orders endpoint
    estimate: 3
    paths: [api/orders.rs]
  - id: UI
    title: Order page
    paths: [web/]
";

#[test]
fn plan_warns_about_parallel_tasks_declaring_the_same_path() {
    let dir = tempfile::tempdir().unwrap();
    support::write_mission(dir.path(), MISSION);
    let out = support::run_to_end(dir.path(), &["plan", "mission.yaml"]);
    out.expect_code(0);
    let warning = "MEDIUM   parallel-edits  USERS and ORDERS may edit the same files at the same time: api/orders.rs";
    assert!(out.stdout.contains(warning), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "→ Add `depends_on: [USERS]` to ORDERS, or set `mission.defaults.serialize_overlaps: true`"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stdout.matches("parallel-edits").count(),
        1,
        "{}",
        out.stdout
    );

    let json = support::run_to_end(dir.path(), &["plan", "mission.yaml", "--json"]);
    json.expect_code(0);
    let json = json.json();
    let risks: Vec<&serde_json::Value> = json["risks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "parallel-edits")
        .collect();
    assert_eq!(risks.len(), 1, "{json:#}");
    assert_eq!(risks[0]["level"], "medium");
    assert_eq!(risks[0]["tasks"], serde_json::json!(["USERS", "ORDERS"]));
}

#[test]
fn serialize_overlaps_runs_them_one_after_another() {
    let dir = tempfile::tempdir().unwrap();
    support::write_mission(
        dir.path(),
        &MISSION.replace(
            "    executor: command\n",
            "    executor: command\n    serialize_overlaps: true\n",
        ),
    );
    let out = support::run_to_end(dir.path(), &["plan", "mission.yaml", "--json"]);
    out.expect_code(0);
    let json = out.json();
    assert!(
        !json["risks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "parallel-edits"),
        "{json:#}"
    );
    let steps = json["steps"].as_array().unwrap();
    let step = |id: &str| steps.iter().find(|s| s["id"] == id).unwrap();
    assert_eq!(step("ORDERS")["depends_on"], serde_json::json!(["USERS"]));
    assert_eq!(step("ORDERS")["wave"], 1);
    assert_eq!(step("ORDERS")["start_hour"], 2.0);
    assert_eq!(json["critical_path"]["hours"], 5.0);

    let text = support::run_to_end(dir.path(), &["plan", "mission.yaml"]);
    text.expect_code(0);
    assert!(!text.stdout.contains("parallel-edits"), "{}", text.stdout);
}
