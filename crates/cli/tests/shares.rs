//! Missions sharing an agent share its slots: two `techlead run`
//! processes on one database, each the writer of its own mission, never
//! run more attempts of the agent at once than its `max_parallel`, and
//! when both wait for it the mission with the higher priority goes first.
//! The tasks prove both: each takes a lock directory for the agent (mkdir
//! is atomic) and fails if another attempt holds it, and each appends its
//! name to a log, so the order is read from the log, not from timing.

use crate::support;

use std::path::Path;
use support::Running;

fn log(dir: &Path) -> Vec<String> {
    support::lines_of(&dir.join("log"))
}

/// What every task runs: the agent's lock, its line in the log, then
/// (for the first low-priority task) a wait for `go`.
const WORK: &str = r#"mkdir ../dev.lock 2>/dev/null || { echo "OVERLAP $TECHLEAD_TASK" >> ../log; exit 1; }
echo "$TECHLEAD_TASK" >> ../log
if [ "$TECHLEAD_TASK" = L1 ]; then while [ ! -e ../go ]; do sleep 0.02; done; fi
rmdir ../dev.lock"#;

/// Mission `name` in `dir/<sub>` with `priority`, and tasks `ids` on the
/// shared agent `dev` (max_parallel 1).
fn mission(dir: &Path, sub: &str, name: &str, priority: i32, ids: &[&str]) {
    let dir = dir.join(sub);
    let agents = dir.join("agents");
    std::fs::create_dir_all(&agents).unwrap();
    std::fs::write(
        agents.join("dev.md"),
        "---\nname: dev\ndescription: Builds services\norchestration: {max_parallel: 1}\n---\nYou build.\n",
    )
    .unwrap();
    std::fs::write(dir.join("work.sh"), WORK).unwrap();
    let tasks: String = ids
        .iter()
        .map(|id| {
            format!("  - {{id: {id}, title: work {id}, agent: dev, command: [sh, work.sh]}}\n")
        })
        .collect();
    support::write_mission(
        &dir,
        &format!(
            "mission:\n  name: {name}\n  objective: share dev\n  priority: {priority}\n  agents: [agents/]\n  defaults: {{executor: command, retries: 0, max_parallel: 4}}\ntasks:\n{tasks}"
        ),
    );
}

#[test]
fn a_shared_agent_runs_one_attempt_at_a_time_and_the_higher_priority_goes_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    shared_agent(dir.path(), db.to_str().unwrap());
}

#[test]
fn a_shared_agent_is_shared_on_postgresql_too() {
    let Some(db) = techlead_testdb::database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    shared_agent(dir.path(), &db.url);
}

fn shared_agent(dir: &Path, db: &str) {
    let (low, high) = (support::unique_name("low"), support::unique_name("high"));
    mission(dir, "low", &low, 0, &["L1", "L2", "L3"]);
    mission(dir, "high", &high, 10, &["H1", "H2", "H3"]);

    let mut low_run = Running::start(
        &dir.join("low"),
        &["run", "mission.yaml", "--json", "--db", db],
    );
    support::wait_until("L1 to start", || log(dir) == ["L1"]);
    let high_run = Running::start(
        &dir.join("high"),
        &["run", "mission.yaml", "--json", "--db", db],
    );
    // High asked for dev and was refused: low holds its one slot.
    support::wait_until("high to wait for dev", || {
        let status = support::run_to_end(dir, &["status", &high, "--json", "--db", db]);
        status.code == 0
            && status.json()["shared_agents"]
                .as_array()
                .is_some_and(|rows| {
                    rows.iter()
                        .any(|r| r["agent"] == "dev" && r["waiting"].as_u64() > Some(0))
                })
    });
    let status = support::run_to_end(dir, &["status", &high, "--db", db]);
    assert!(
        status
            .stdout
            .contains(&format!("⧗ dev is busy with mission {low}-1 (priority 0)")),
        "{}",
        status.stdout
    );
    // watch, from another process, shows the same wait as the run's own
    // terminal (plain lines on stderr when not a terminal).
    let shown = dir.join("watch.err");
    let mut watch = support::techlead(dir)
        .args(["watch", &high, "--db", db])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&shown).unwrap())
        .spawn()
        .unwrap();
    let wait = format!("⧗ dev is busy with mission {low}-1 (priority 0): ");
    support::wait_until("watch to show the wait", || {
        std::fs::read_to_string(&shown).is_ok_and(|text| {
            text.lines().any(|line| {
                line.contains(&wait)
                    && (line.ends_with("1 ready task waits") || line.ends_with("ready tasks wait"))
            })
        })
    });
    let _ = watch.kill();
    let _ = watch.wait();

    std::fs::write(dir.join("go"), "").unwrap();
    let (code, _, stderr) = high_run.finish();
    assert_eq!(code, 0, "{stderr}");
    low_run.wait_for(|e| support::event_type(e) == "mission_finished");
    let (code, _, stderr) = low_run.finish();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        log(dir),
        ["L1", "H1", "H2", "H3", "L2", "L3"],
        "one attempt of dev at a time, the higher priority first"
    );
}
