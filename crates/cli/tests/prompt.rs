//! `techlead prompt`: what a task's next attempt is given, with the
//! handoff from the tasks it builds on.

use crate::support;

#[test]
fn the_prompt_carries_the_task_its_checks_and_the_handoff() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state").join("techlead.db");
    let name = support::unique_name("prompt");
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  objective: Ship the booking API.\n  defaults: {{executor: command}}\n\
             tasks:\n\
             \x20 - id: SCHEMA\n    title: Design the schema\n    command: [sh, -c, \"echo '::decision Postgres, not MySQL'; echo '::artifact db/schema.sql'; echo '::summary Three tables.'\"]\n\
             \x20 - id: API\n    title: Build the API\n    description: REST endpoints for bookings.\n    depends_on: [SCHEMA]\n    acceptance: [Every endpoint has a test]\n    gates: [{{run: test -n ok}}]\n    command: [\"true\"]\n"
        ),
    );
    let db = db.to_str().unwrap();
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]).expect_code(0);
    let out = support::run_to_end(
        dir.path(),
        &["prompt", &format!("{name}-1"), "API", "--db", db],
    );
    out.expect_code(0);
    let prompt = out.stdout;
    for part in [
        "# Task API: Build the API",
        "REST endpoints for bookings.",
        "## Done means\n\n- Every endpoint has a test",
        "## Checks your work must pass\n\n- `test -n ok` passes",
        "## Mission: ",
        "Ship the booking API.",
        "### SCHEMA: Design the schema",
        "Three tables.",
        "Decisions:\n\n- Postgres, not MySQL",
        "Artifacts:\n\n- db/schema.sql",
        "::progress",
    ] {
        assert!(prompt.contains(part), "{part:?} missing from:\n{prompt}");
    }
    // The prompt file of API's attempt is the same text.
    let status = support::status(dir.path(), std::path::Path::new(db), &format!("{name}-1"));
    let api = support::task(&status, "API");
    let attempt_dir = api["attempts"][0]["dir"].as_str().unwrap();
    let data = std::path::Path::new(db).parent().unwrap();
    let written = std::fs::read_to_string(data.join(format!("{attempt_dir}.prompt.md"))).unwrap();
    assert_eq!(written, prompt);

    let wrong = support::run_to_end(
        dir.path(),
        &["prompt", &format!("{name}-1"), "APII", "--db", db],
    );
    wrong
        .expect_code(2)
        .expect_stderr(&["has no task `APII`", "did you mean `API`?"]);
}

/// A task naming an agent the library lacks runs on the general-purpose
/// agent, and its prompt says whom it stands in for, with the closest
/// specialists' instructions.
#[test]
fn a_stand_in_is_briefed_with_the_closest_specialists() {
    let dir = tempfile::tempdir().unwrap();
    let agents = dir.path().join("agents");
    std::fs::create_dir(&agents).unwrap();
    std::fs::write(
        agents.join("database-architect.md"),
        "---\nname: database-architect\ndescription: Designs database schemas, indexes and migrations.\n---\nYou design relational schemas. Normalise first; index for the queries.\n",
    )
    .unwrap();
    let db = dir.path().join("state").join("techlead.db");
    let name = support::unique_name("stand-in");
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  objective: Store bookings.\n  agents: [agents]\n  defaults: {{executor: command}}\n\
             tasks:\n\
             \x20 - {{id: SCHEMA, title: Design the database schema and its migrations, agent: schema-wizard, command: [\"true\"]}}\n"
        ),
    );
    let db = db.to_str().unwrap();
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]).expect_code(0);
    let out = support::run_to_end(
        dir.path(),
        &["prompt", &format!("{name}-1"), "SCHEMA", "--db", db],
    );
    out.expect_code(0);
    for part in [
        "## Standing in for `schema-wizard`",
        "### database-architect",
        "Normalise first; index for the queries.",
    ] {
        assert!(
            out.stdout.contains(part),
            "{part:?} missing from:\n{}",
            out.stdout
        );
    }
}
