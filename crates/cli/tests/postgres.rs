//! `--db postgres://...` end to end: the real `techlead` binary runs a
//! mission on a real PostgreSQL server, is killed with SIGKILL while a task
//! runs, and `techlead resume` finishes it without running again the task
//! that had durably succeeded; a server that is not there, or refuses the
//! login, is named without its password by every command, `serve` too.

use crate::support;

use support::Running;

/// `a`, then `b` (whose first attempt hangs until its run is killed), then
/// `c`; each appends `<task> <attempt>` to `proof` when it runs.
fn mission(name: &str, proof: &std::path::Path) -> String {
    let proof = format!(
        r#"echo \"$TECHLEAD_TASK $TECHLEAD_ATTEMPT\" >> '{}'"#,
        proof.display()
    );
    let b = format!(r#"{proof}; [ \"$TECHLEAD_ATTEMPT\" = 1 ] && exec sleep 600; true"#);
    format!(
        "mission:\n  name: {name}\n  objective: prove the record\n  defaults: {{executor: command, max_parallel: 1}}\n\
         tasks:\n\
         \x20 - {{id: a, title: first, command: [sh, -c, \"{proof}\"]}}\n\
         \x20 - {{id: b, title: second, command: [sh, -c, \"{b}\"], depends_on: [a]}}\n\
         \x20 - {{id: c, title: third, command: [sh, -c, \"{proof}\"], depends_on: [b]}}\n"
    )
}

#[test]
fn a_mission_runs_on_postgresql_and_resumes_after_a_kill() {
    let Some(db) = techlead_testdb::database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = support::unique_name("pg");
    support::write_mission(dir.path(), &mission(&name, &dir.path().join("proof")));
    let url = db.url.as_str();

    let mut run = Running::start(dir.path(), &["run", "mission.yaml", "--json", "--db", url]);
    run.wait_for(|e| support::event_type(e) == "attempt_started" && e["event"]["task"] == "b");
    run.kill();

    let id = format!("{name}-1");
    let resumed = support::run_to_end(dir.path(), &["resume", &id, "--json", "--db", url]);
    resumed.expect_code(0);

    let status = support::status(dir.path(), std::path::Path::new(url), &id);
    assert_eq!(status["status"], "succeeded", "{status:#}");
    for task in ["a", "b", "c"] {
        assert_eq!(support::task(&status, task)["status"], "succeeded");
    }
    assert_eq!(
        support::outcomes(support::task(&status, "b")),
        [
            Some("interrupted".to_string()),
            Some("succeeded".to_string())
        ]
    );
    let mut proof: Vec<String> = std::fs::read_to_string(dir.path().join("proof"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    proof.sort();
    // `a` succeeded before the kill and never ran again.
    assert_eq!(proof, ["a 1", "b 1", "b 2", "c 1"]);
    // The killed run's hanging attempt was ended by the resume.
    assert_eq!(support::processes_of(&id), Vec::<u32>::new());

    let missions = support::run_to_end(dir.path(), &["missions", "--json", "--db", url]);
    missions.expect_code(0);
    assert!(missions.stdout.contains(&id), "{}", missions.stdout);
}

#[test]
fn a_server_that_is_not_there_is_named_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().display().to_string().replace('/', "%2F");
    let url = format!("postgresql://ann:hunter2@{socket}/techlead");
    let out = support::run_to_end(dir.path(), &["missions", "--db", &url]);
    out.expect_code(2);
    out.expect_stderr(&["cannot reach the PostgreSQL server", "ann:***@", "hint:"]);
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}

/// `techlead serve` refuses a PostgreSQL database it cannot use as every
/// other command does (the same error, hint and exit code), names it
/// without its password, and leaves no token behind.
#[test]
fn serve_names_a_postgresql_server_it_cannot_use_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().display().to_string().replace('/', "%2F");
    let nowhere = format!("postgresql://ann:hunter2@{socket}/techlead");
    let mut refusals = vec![(nowhere, "cannot reach the PostgreSQL server")];
    if let Some(db) = techlead_testdb::database() {
        let cluster = techlead_testdb::cluster().unwrap();
        let wrong = cluster.url(techlead_testdb::PASSWORD_USER, Some("hunter2"), &db.name);
        refusals.push((wrong, "refused to log in"));
    }
    for (url, error) in refusals {
        let served = support::run_to_end(dir.path(), &["serve", "--db", &url]);
        let listed = support::run_to_end(dir.path(), &["missions", "--db", &url]);
        served
            .expect_code(listed.code)
            .expect_stderr(&[error, ":***@", "hint:"]);
        assert!(!served.stderr.contains("hunter2"), "{}", served.stderr);
        assert!(!dir.path().join(".techlead/server.token").exists());
    }
}
