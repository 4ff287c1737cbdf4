//! Splitting a task too big for one attempt (`::split`), end to end with
//! real child processes, a real SQLite file and real git worktrees: at
//! once under `on_blocked: split`, or by the person's `decide ... split`.

use crate::support;

use std::path::Path;
use support::git::{git, mission_in_repository};

/// The tasks' script: the big task proposes two parts until the second
/// part's file is there, then finishes on top of the parts' work; each
/// part needs the work of the one before.
const SCRIPT: &str = r#"case "$TECHLEAD_TASK" in
  BIG) if [ -f two.txt ]; then cat one.txt two.txt > big.txt; echo "::summary joined the parts"
       else echo half > partial.txt; echo "::split write one"; echo "::split write two"; fi ;;
  BIG.1) echo one > one.txt ;;
  BIG.2) test -f one.txt && echo two > two.txt ;;
  AFTER) test -f big.txt && cp big.txt after.txt ;;
esac
echo "$TECHLEAD_TASK" >> "$RAN""#;

fn ran(dir: &Path) -> Vec<String> {
    support::lines_of(&dir.join("ran.log"))
}

fn event_types(out: &support::Output) -> Vec<serde_json::Value> {
    out.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .collect()
}

#[test]
fn a_task_its_agent_splits_runs_as_its_parts_then_finishes_on_their_work() {
    let (dir, name) = mission_in_repository(
        "split-auto",
        &[("README", "repo\n")],
        &format!(
            "  defaults: {{executor: command, on_blocked: split, backoff: [10ms]}}\n\
             tasks:\n\
             \x20 - {{id: BIG, title: build it all, command: [sh, -c, {SCRIPT:?}]}}\n\
             \x20 - {{id: AFTER, title: use it, depends_on: BIG, command: [sh, -c, {SCRIPT:?}]}}\n"
        ),
    );
    let log = dir.path().join("ran.log");
    let mut command = support::techlead(dir.path());
    command
        .args(["run", "mission.yaml", "--json"])
        .env("RAN", &log);
    let out = support::output_of(command);
    out.expect_code(0);

    assert_eq!(ran(dir.path()), ["BIG", "BIG.1", "BIG.2", "BIG", "AFTER"]);
    let events = event_types(&out);
    let split = events
        .iter()
        .find(|e| support::event_type(e) == "task_split")
        .expect("a task_split event");
    assert_eq!(split["event"]["task"], "BIG");
    assert_eq!(
        split["event"]["parts"],
        serde_json::json!([
            {"id": "BIG.1", "title": "write one"},
            {"id": "BIG.2", "title": "write two"}
        ])
    );
    let id = format!("{name}-1");
    let integration = support::git::integration(&id);
    let show = |file: &str| git(dir.path(), &["show", &format!("{integration}:{file}")]);
    // The task finished on top of its parts' work, and its dependent saw it.
    assert_eq!(show("big.txt"), "one\ntwo\n");
    assert_eq!(show("after.txt"), "one\ntwo\n");
    // The blocked attempt's work is kept aside, not merged.
    let kept = format!("refs/techlead/before-split/techlead/{id}/BIG");
    assert_eq!(
        git(dir.path(), &["show", &format!("{kept}:partial.txt")]),
        "half\n"
    );
    let listed = git(dir.path(), &["ls-tree", "--name-only", &integration]);
    assert!(!listed.contains("partial.txt"), "{listed}");

    let status = support::status(dir.path(), &dir.path().join(".techlead/techlead.db"), &id);
    for task in ["BIG", "BIG.1", "BIG.2", "AFTER"] {
        assert_eq!(
            support::task(&status, task)["status"],
            "succeeded",
            "{task}"
        );
    }
    let missions = support::run_to_end(dir.path(), &["missions", "--json"]);
    assert_eq!(missions.json()[0]["tasks"], 4, "the parts count as tasks");
    // The report's lessons say how the task came through.
    let report = support::run_to_end(dir.path(), &["report", &id]);
    report.expect_code(0);
    assert!(
        report
            .stdout
            .contains("split into 2 parts (BIG.1, BIG.2), then finished on attempt 2"),
        "{}",
        report.stdout
    );
}

#[test]
fn the_split_example_runs_as_its_readme_says() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/split");
    for file in ["mission.yaml", "writer.sh"] {
        std::fs::copy(example.join(file), dir.path().join(file)).unwrap();
    }
    let out = support::run_to_end(dir.path(), &["run", "mission.yaml"]);
    out.expect_code(0).expect_stderr(&[
        "✂ DOCS split into DOCS.1 (Write the install chapter), DOCS.2 (Write the usage chapter)",
        "mission succeeded: 4 of 4 tasks succeeded",
    ]);
    let guide = std::fs::read_to_string(dir.path().join("out/split-demo-1/guide.md")).unwrap();
    assert!(
        guide.starts_with("# Install") && guide.contains("# Usage"),
        "{guide}"
    );
}

#[test]
fn the_person_splits_a_failed_task_into_named_parts_and_resume_runs_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let name = support::unique_name("split-decide");
    let id = format!("{name}-1");
    // HUGE proposes parts on every attempt, and the default policy only
    // retries: the person is asked, and is offered the split.
    let huge = r#"echo "$TECHLEAD_TASK" >> ran.log
case "$TECHLEAD_TASK" in
  HUGE) [ -f second ] && exit 0; echo "::split first"; echo "::split second" ;;
  *) touch "$(echo "$TECHLEAD_TASK_TITLE" | tr ' ' _)"; touch second ;;
esac"#;
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  defaults: {{executor: command, backoff: [10ms]}}\n\
             tasks:\n\
             \x20 - {{id: HUGE, title: everything, retries: 0, command: [sh, -c, {huge:?}]}}\n"
        ),
    );
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db])
        .expect_code(1)
        .expect_stderr(&["proposed splitting it into: first; second"]);
    let listed = support::run_to_end(dir.path(), &["escalations", &id, "--json", "--db", db]);
    let escalation = &listed.json()[0];
    assert_eq!(escalation["kind"], "agent-blocked");
    assert!(
        escalation["options"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("split")),
        "{escalation}"
    );

    // Too many arguments for another action is an input error.
    support::run_to_end(
        dir.path(),
        &["decide", &id, "1", "edit", "two", "words", "--db", db],
    )
    .expect_code(2)
    .expect_stderr(&["put a text with spaces in quotes"]);
    let decided = support::run_to_end(
        dir.path(),
        &[
            "decide", &id, "1", "split", "make a", "make b", "--json", "--db", db,
        ],
    );
    decided.expect_code(0);
    assert_eq!(
        decided.json()["parts"],
        serde_json::json!(["make a", "make b"])
    );
    support::run_to_end(dir.path(), &["resume", &id, "--db", db])
        .expect_code(0)
        .expect_stderr(&["HUGE split into HUGE.1 (make a), HUGE.2 (make b)"]);
    assert_eq!(ran(dir.path()), ["HUGE", "HUGE.1", "HUGE.2", "HUGE"]);
    assert!(dir.path().join("make_a").exists() && dir.path().join("make_b").exists());
    let status = support::status(dir.path(), Path::new(db), &id);
    assert_eq!(support::task(&status, "HUGE")["status"], "succeeded");
    assert_eq!(status["status"], "succeeded");
}
