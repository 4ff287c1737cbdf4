//! `techlead logs` on attempts that printed something and attempts that
//! printed nothing (and so have no `output.log`: the executor creates it at
//! the first byte of output).

use crate::support;

use std::path::Path;

/// Runs a mission of two tasks, one silent and one not, to its end; returns
/// the mission ID and the database path.
fn run_mission(dir: &Path) -> (String, String) {
    let name = support::unique_name("logs");
    support::write_mission(
        dir,
        &format!(
            "mission:\n  name: {name}\n  objective: print nothing, then something\n  defaults:\n    executor: command\n\
             tasks:\n  - id: QUIET\n    title: prints nothing\n    command: [\"true\"]\n\
             \x20 - id: LOUD\n    title: prints a line\n    command: [echo, hello]\n"
        ),
    );
    let db = dir.join("state").join("techlead.db");
    let db = db.to_str().unwrap().to_owned();
    support::run_to_end(dir, &["run", "mission.yaml", "--db", &db]).expect_code(0);
    (format!("{name}-1"), db)
}

#[test]
fn an_attempt_that_printed_nothing_has_no_log_and_shows_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let (id, db) = run_mission(dir.path());

    let status = support::status(dir.path(), Path::new(&db), &id);
    let attempt = &support::task(&status, "QUIET")["attempts"][0];
    let stem = Path::new(&db)
        .parent()
        .unwrap()
        .join(attempt["dir"].as_str().unwrap());
    let file = |name: &str| format!("{}.{name}", stem.display());
    assert!(Path::new(&file("prompt.md")).exists());
    assert!(!Path::new(&file("output.log")).exists());

    for follow in [false, true] {
        let mut args = vec!["logs", &id, "QUIET", "--db", &db];
        if follow {
            args.push("--follow");
        }
        let logs = support::run_to_end(dir.path(), &args);
        logs.expect_code(0)
            .expect_stderr(&["attempt 1 of QUIET printed nothing"]);
        assert_eq!(logs.stdout, "", "--follow: {follow}");
    }
}

#[test]
fn an_attempt_with_output_shows_it_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (id, db) = run_mission(dir.path());
    for follow in [false, true] {
        let mut args = vec!["logs", &id, "LOUD", "--db", &db];
        if follow {
            args.push("--follow");
        }
        let logs = support::run_to_end(dir.path(), &args);
        logs.expect_code(0);
        assert_eq!(logs.stdout, "hello\n", "--follow: {follow}");
        assert_eq!(logs.stderr, "", "--follow: {follow}");
    }
}
