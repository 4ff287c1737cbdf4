//! `techlead decisions`: the decisions agents reported while a real
//! mission ran, in order, with the task, attempt and agent of each.

use crate::support;

use std::path::Path;

/// Runs a mission whose command tasks report decisions: API on stdout,
/// twice; UI from its result file on its second attempt (the first fails).
fn run_mission(dir: &Path, db: &str) -> String {
    let name = support::unique_name("decisions");
    let api = "echo '::decision Use axum rather than actix-web'; echo working; echo '::decision Store sessions in Postgres'";
    let ui = r#"echo '::decision first try'; printf '{"decisions":["Render on the server"]}' > "$TECHLEAD_RESULT"; [ "$TECHLEAD_ATTEMPT" = 2 ]"#;
    support::write_mission(
        dir,
        &format!(
            "mission:\n  name: {name}\n  objective: decide\n  defaults: {{executor: command, backoff: [10ms]}}\n\
             tasks:\n\
             \x20 - {{id: API, title: build the api, command: [sh, -c, {api:?}]}}\n\
             \x20 - {{id: UI, title: build the ui, depends_on: API, retries: 1, command: [sh, -c, {ui:?}]}}\n\
             \x20 - {{id: DOCS, title: write docs, depends_on: UI, command: [true]}}\n"
        ),
    );
    support::run_to_end(dir, &["run", "mission.yaml", "--db", db]).expect_code(0);
    name
}

#[test]
fn decisions_lists_the_log_as_a_table_and_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let name = run_mission(dir.path(), db);

    let out = support::run_to_end(dir.path(), &["decisions", &name, "--db", db, "--json"]);
    out.expect_code(0);
    let json = out.json();
    let rows = json.as_array().expect("an array");
    let seen: Vec<(&str, u64, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["task"].as_str().unwrap(),
                r["attempt"].as_u64().unwrap(),
                r["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("API", 1, "Use axum rather than actix-web"),
            ("API", 1, "Store sessions in Postgres"),
            ("UI", 1, "first try"),
            ("UI", 1, "Render on the server"),
            ("UI", 2, "first try"),
            ("UI", 2, "Render on the server"),
        ]
    );
    let status = support::status(dir.path(), Path::new(db), &name);
    let agent = support::task(&status, "API")["attempts"][0]["agent"].clone();
    assert!(agent.is_string(), "{status:#}");
    for row in rows {
        assert_eq!(row["agent"], agent, "{row}");
        let at = row["at"].as_str().unwrap();
        assert!(at.parse::<jiff::Timestamp>().is_ok(), "{at}");
    }
    let times: Vec<&str> = rows.iter().map(|r| r["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "in record order");

    let table = support::run_to_end(dir.path(), &["decisions", &name, "--db", db]);
    table.expect_code(0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{}", table.stdout);
    for header in ["TIME (UTC)", "TASK", "ATTEMPT", "AGENT", "DECISION"] {
        assert!(lines[0].contains(header), "{}", table.stdout);
    }
    assert!(lines[1].contains("API") && lines[1].ends_with("Use axum rather than actix-web"));
    assert!(lines[6].contains("UI") && lines[6].ends_with("Render on the server"));
    assert!(lines[6].contains(agent.as_str().unwrap()));
    assert_eq!(table.stderr, "");

    let only = support::run_to_end(
        dir.path(),
        &["decisions", &name, "--db", db, "--task", "API", "--json"],
    );
    only.expect_code(0);
    let only = only.json();
    assert_eq!(only.as_array().unwrap().len(), 2);
    assert!(only.as_array().unwrap().iter().all(|r| r["task"] == "API"));

    // A task without decisions: an empty array, or a note on stderr.
    let none = support::run_to_end(
        dir.path(),
        &["decisions", &name, "--db", db, "--task", "DOCS", "--json"],
    );
    none.expect_code(0);
    assert_eq!(none.json(), serde_json::json!([]));
    let none = support::run_to_end(
        dir.path(),
        &["decisions", &name, "--db", db, "--task", "DOCS"],
    );
    none.expect_code(0);
    assert_eq!(none.stdout, "");
    none.expect_stderr(&["DOCS", "no decision"]);
}

#[test]
fn decisions_of_an_unknown_mission_or_task_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();

    // No database yet.
    let out = support::run_to_end(dir.path(), &["decisions", "nope", "--db", db]);
    out.expect_code(2);
    assert_eq!(out.stdout, "");

    let name = run_mission(dir.path(), db);
    let out = support::run_to_end(dir.path(), &["decisions", "nope", "--db", db]);
    out.expect_code(2).expect_stderr(&["error:", "nope"]);
    assert_eq!(out.stdout, "");

    let out = support::run_to_end(
        dir.path(),
        &["decisions", &name, "--db", db, "--task", "APX"],
    );
    out.expect_code(2)
        .expect_stderr(&["APX", "did you mean `API`?"]);
    assert_eq!(out.stdout, "");
}
