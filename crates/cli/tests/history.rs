//! History from real runs: a mission runs with the `command` executor into
//! a real SQLite file, then `techlead agents stats`, `techlead history` and
//! `techlead plan` read what it taught (docs/history.md).

use crate::support;

use std::path::Path;

/// Two agents whose files say the same, so only history tells them apart.
fn agents(dir: &Path) -> String {
    let agents = dir.join("agents");
    std::fs::create_dir_all(&agents).unwrap();
    for name in ["alpha", "beta"] {
        std::fs::write(
            agents.join(format!("{name}.md")),
            format!(
                "---\nname: {name}\ndescription: Fixes bugs in shell scripts.\n---\nYou fix shell scripts.\n"
            ),
        )
        .unwrap();
    }
    agents.to_str().unwrap().to_string()
}

/// Three fixes on `alpha` that fail at the first attempt (no retries), so
/// that the backup `beta` fixes each at the second; one docs task that
/// `beta` writes at once.
fn run_fixes(dir: &Path, db: &str, agents: &str) -> String {
    let name = support::unique_name("fixes");
    let second = r#"[ "$TECHLEAD_ATTEMPT" = 2 ] || { echo 'parser still crashes' >&2; exit 1; }"#;
    let fix = |id: &str| {
        format!(
            "  - {{id: {id}, title: Fix the {id} crash in the shell script, agent: alpha, backup: beta, retries: 0, estimate: 1, command: [sh, -c, {second:?}]}}\n"
        )
    };
    support::write_mission(
        dir,
        &format!(
            "mission:\n  name: {name}\n  objective: Repair the crashing install scripts\n  project_type: cli\n  defaults: {{executor: command, backoff: [10ms]}}\n\
             tasks:\n{}{}{}\
             \x20 - {{id: DOC, title: Document the install, agent: beta, command: [true]}}\n",
            fix("A"),
            fix("B"),
            fix("C")
        ),
    );
    support::run_to_end(
        dir,
        &["run", "mission.yaml", "--db", db, "--agents", agents],
    )
    .expect_code(0);
    format!("{name}-1")
}

#[test]
fn agents_stats_and_history_show_what_the_run_taught() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let agents = agents(dir.path());
    let mission = run_fixes(dir.path(), db, &agents);

    let stats = support::run_to_end(
        dir.path(),
        &["agents", "stats", "--db", db, "--kind", "fix", "--json"],
    );
    let rows = stats.expect_code(0).json();
    let rows: Vec<(&str, u64, u64, u64)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let n = |key: &str| r[key].as_u64().unwrap();
            (
                r["agent"].as_str().unwrap(),
                n("tasks"),
                n("succeeded"),
                n("attempts"),
            )
        })
        .collect();
    assert_eq!(rows, [("alpha", 3, 0, 3), ("beta", 3, 3, 3)]);

    let table = support::run_to_end(
        dir.path(),
        &["agents", "stats", "--db", db, "--agent", "beta"],
    );
    let lines: Vec<&str> = table.expect_code(0).stdout.lines().collect();
    assert!(
        lines[0].starts_with("AGENT  KIND  TASKS  ATTEMPTS  SUCCESS"),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 4, "beta's total, docs and fix: {lines:?}");
    assert!(
        lines[1].contains("all") && lines[1].contains("100%"),
        "{lines:?}"
    );

    let list = support::run_to_end(dir.path(), &["history", "--db", db]);
    let out = &list.expect_code(0).stdout;
    assert!(out.contains(&mission), "{out}");
    assert!(out.contains("4/4 ok"), "{out}");
    assert!(out.contains("A: beta took over and succeeded"), "{out}");

    let one = support::run_to_end(dir.path(), &["history", &mission, "--db", db, "--json"]);
    let json = one.expect_code(0).json();
    let a = &json["tasks"][0];
    assert_eq!(a["kind"], "fix");
    assert_eq!(a["problems"][0]["agent"], "alpha");
    assert_eq!(a["resolution"]["kind"], "reassigned");
    assert_eq!(json["tasks"][3]["kind"], "docs");

    let text = support::run_to_end(dir.path(), &["history", &mission, "--db", db]);
    let out = &text.expect_code(0).stdout;
    assert!(out.contains("A attempt 1 on alpha: failed"), "{out}");
    assert!(out.contains("→ beta took over and succeeded"), "{out}");
}

#[test]
fn plan_picks_up_history_in_its_reasons_risks_and_similar_missions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let agents = agents(dir.path());
    let past = run_fixes(dir.path(), db, &agents);
    std::fs::write(
        dir.path().join("next.yaml"),
        "mission:\n  name: next\n  objective: Repair the crashing install scripts again\n  project_type: cli\n\
         tasks:\n\
         \x20 - {id: X, title: Fix the crash in the shell script}\n\
         \x20 - {id: Y, title: Fix the upgrade crash, agent: alpha}\n",
    )
    .unwrap();

    let plan = support::run_to_end(
        dir.path(),
        &[
            "plan",
            "next.yaml",
            "--db",
            db,
            "--agents",
            &agents,
            "--json",
        ],
    );
    let json = plan.expect_code(0).json();
    let x = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "X")
        .unwrap();
    assert_eq!(x["agent"], "beta", "beta fixed every past fix");
    let why = x["why"].as_str().unwrap();
    assert!(
        why.contains("history: succeeded 3 of 3 past fix tasks"),
        "{why}"
    );
    let low = json["risks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "low-success")
        .expect("a low-success risk for alpha");
    assert_eq!(low["tasks"], serde_json::json!(["Y"]));
    let similar = &json["similar_missions"][0];
    assert_eq!(similar["mission"], past.as_str());
    assert_eq!(similar["same_project_type"], true);
    assert!(
        similar["went_wrong"][0]
            .as_str()
            .unwrap()
            .starts_with("A (fix, alpha): failed"),
        "{similar}"
    );

    let text = support::run_to_end(
        dir.path(),
        &["plan", "next.yaml", "--db", db, "--agents", &agents],
    );
    let out = &text.expect_code(0).stdout;
    assert!(out.contains("Similar past missions"), "{out}");
    assert!(out.contains("low-success"), "{out}");

    // Without a record, the same plan knows nothing of the past and
    // creates no database.
    let fresh = dir.path().join("none.db");
    let plan = support::run_to_end(
        dir.path(),
        &[
            "plan",
            "next.yaml",
            "--db",
            fresh.to_str().unwrap(),
            "--agents",
            &agents,
            "--json",
        ],
    );
    let json = plan.expect_code(0).json();
    assert_eq!(json["similar_missions"], serde_json::json!([]));
    assert!(!fresh.exists());
}
