//! The portfolio from real runs: two missions recorded in a real SQLite
//! file by `techlead run` with the `command` executor, each paused by its
//! spent budget after its first task, so most of their work is left; then
//! `techlead portfolio` reads them (docs/portfolio.md).

use crate::support;

use serde_json::Value;
use std::path::Path;

/// `dev` and `ops`, one slot each.
fn agents(dir: &Path) -> String {
    let agents = dir.join("agents");
    std::fs::create_dir_all(&agents).unwrap();
    for name in ["dev", "ops"] {
        std::fs::write(
            agents.join(format!("{name}.md")),
            format!("---\nname: {name}\ndescription: Builds things.\norchestration:\n  max_parallel: 1\n---\nYou build.\n"),
        )
        .unwrap();
    }
    agents.to_str().unwrap().to_string()
}

/// A mission due at `deadline` whose first task spends past the budget,
/// so it pauses with 10 h left on `dev` and 2 h on `ops`, in a chain.
fn run_paused(dir: &Path, db: &str, agents: &str, deadline: &str) -> String {
    let name = support::unique_name("portfolio");
    let spend = r#"printf '{"usage":{"cost_usd":0.02}}' > "$TECHLEAD_RESULT""#;
    support::write_mission(
        dir,
        &format!(
            "mission:\n  name: {name}\n  objective: build\n  deadline: {deadline}\n  budget: {{usd: 0.01}}\n  defaults: {{executor: command, max_parallel: 1}}\n\
             tasks:\n\
             \x20 - {{id: START, title: Start, agent: dev, priority: critical, estimate: 1, command: [sh, -c, {spend:?}]}}\n\
             \x20 - {{id: API, title: Build the API, agent: dev, estimate: 10, depends_on: [START], command: [\"true\"]}}\n\
             \x20 - {{id: SHIP, title: Deploy, agent: ops, estimate: 2, depends_on: [API], command: [\"true\"]}}\n"
        ),
    );
    support::run_to_end(
        dir,
        &["run", "mission.yaml", "--db", db, "--agents", agents],
    )
    .expect_code(3)
    .expect_stderr(&["budget is spent"]);
    format!("{name}-1")
}

const AS_OF: &str = "2030-01-01T00:00:00Z";

fn portfolio(dir: &Path, db: &str, extra: &[&str]) -> support::Output {
    let mut args = vec!["portfolio", "--db", db, "--as-of", AS_OF];
    args.extend_from_slice(extra);
    support::run_to_end(dir, &args)
}

fn agent<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == name)
        .unwrap_or_else(|| panic!("no {name} in {json:#}"))
}

fn risk_kinds(json: &Value) -> Vec<(String, String, String)> {
    json["risks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("kind"), s("agent"), s("level"))
        })
        .collect()
}

#[test]
fn two_paused_missions_share_their_agents_and_risks() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let agents = agents(dir.path());
    let first = run_paused(dir.path(), db, &agents, "2030-01-02T00:00:00Z");
    let second = run_paused(dir.path(), db, &agents, "2030-01-02T12:00:00Z");

    let json = portfolio(dir.path(), db, &["--json"]).expect_code(0).json();
    assert_eq!(json["missions"].as_array().unwrap().len(), 2);
    let dev = agent(&json, "dev");
    // 10 h due in 24 h, then 20 h due in 36 h: the second window binds.
    assert_eq!(dev["hours"], 20.0);
    assert_eq!(dev["window_hours"], 36.0);
    let percent = dev["percent"].as_f64().unwrap();
    assert!((percent - 20.0 / 36.0 * 100.0).abs() < 1e-9, "{percent}");
    assert_eq!(dev["over"], false);
    assert_eq!(agent(&json, "ops")["hours"], 4.0);
    let kinds = risk_kinds(&json);
    for agent in ["dev", "ops"] {
        for kind in ["shared-critical-path", "deadline-cluster"] {
            assert!(
                kinds.contains(&(kind.into(), agent.into(), "medium".into())),
                "{kinds:?}"
            );
        }
    }
    let shared = &json["risks"][0];
    assert_eq!(
        shared["tasks"],
        serde_json::json!([format!("{first}/API"), format!("{second}/API")])
    );

    // At 50 %, dev is over: flagged in the table, a risk, and the shared
    // critical path weighs more.
    let text = portfolio(dir.path(), db, &["--threshold", "50"]);
    let out = &text.expect_code(0).stdout;
    let row = out.lines().find(|l| l.starts_with("dev ")).unwrap();
    assert!(row.contains("56%") && row.ends_with("OVER"), "{out}");
    assert!(!out.contains('\u{1b}'), "plain when piped: {out}");
    assert!(out.contains("alert over 50%"), "{out}");
    assert!(out.contains("HIGH     shared-critical-path `dev`"), "{out}");
    assert!(
        out.contains("MEDIUM   over-allocation `dev` has 20 h"),
        "{out}"
    );
    let json = portfolio(dir.path(), db, &["--threshold", "50", "--json"])
        .expect_code(0)
        .json();
    assert_eq!(agent(&json, "dev")["over"], true);
    assert_eq!(agent(&json, "ops")["over"], false);
}

#[test]
fn nothing_under_way_is_an_error_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let missing = portfolio(dir.path(), db, &[]);
    missing.expect_code(2).expect_stderr(&["no missions in"]);

    let name = support::unique_name("done");
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  objective: done\n  defaults: {{executor: command}}\ntasks:\n  - {{id: T, title: t, command: [\"true\"]}}\n"
        ),
    );
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]).expect_code(0);
    portfolio(dir.path(), db, &[])
        .expect_code(2)
        .expect_stderr(&["no missions under way", "hint:", "techlead history"]);

    let bad = portfolio(dir.path(), db, &["--threshold", "lots"]);
    bad.expect_code(2).expect_stderr(&["is not a percentage"]);
}
