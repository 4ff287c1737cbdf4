//! A process is spawned only for a claim that is already durable: every
//! task here asks a second `techlead` process, through the database, what
//! its own status is, and must find its claim there (queued, or running
//! once the start that follows it is committed), never pending.

use crate::support;

use std::collections::HashMap;

#[test]
fn every_process_finds_its_claim_already_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state").join("techlead.db");
    let name = support::unique_name("claims");
    let techlead = env!("CARGO_BIN_EXE_techlead");
    let check = format!(
        "'{techlead}' status \"$TECHLEAD_MISSION\" --db '{}' | awk -v t=\"$TECHLEAD_TASK\" '$1 == t {{ print $1, $2 }}' >> seen",
        db.display()
    );
    let tasks: String = (0..8)
        .map(|i| {
            let after = if i >= 2 {
                format!(", depends_on: [T{}]", i - 2)
            } else {
                String::new()
            };
            format!("  - {{id: T{i}, title: look, command: [sh, -c, {check:?}]{after}}}\n")
        })
        .collect();
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  objective: check claims\n  defaults: {{executor: command, max_parallel: 2}}\ntasks:\n{tasks}"
        ),
    );
    let out = support::run_to_end(
        dir.path(),
        &[
            "run",
            "mission.yaml",
            "--json",
            "--db",
            db.to_str().unwrap(),
        ],
    );
    out.expect_code(0);

    let seen = std::fs::read_to_string(dir.path().join("seen")).unwrap();
    let statuses: HashMap<&str, &str> = seen
        .lines()
        .filter_map(|line| line.split_once(' '))
        .collect();
    assert_eq!(statuses.len(), 8, "every task looked once:\n{seen}");
    for (task, status) in &statuses {
        assert!(
            matches!(*status, "queued" | "running"),
            "{task} saw itself {status} in the database when its process ran"
        );
    }

    // And never more than two processes at once, by the events.
    let (mut running, mut most) = (0, 0);
    for line in out.stdout.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        match support::event_type(&event) {
            "attempt_started" => running += 1,
            "attempt_finished" => running -= 1,
            _ => {}
        }
        most = most.max(running);
    }
    assert_eq!(most, 2);
}
