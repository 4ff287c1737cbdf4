//! Workers end to end: a coordinator (`techlead run --workers`) and
//! workers (`techlead worker`) as separate processes on a real PostgreSQL
//! server. A worker killed mid-task loses its lease and another finishes
//! the task; a killed coordinator's standby takes over and leaves the
//! attempt with the worker whose lease is live; a stopped worker (no
//! heartbeats, as in a network partition) loses its task, and its late
//! report after SIGCONT is refused. The task proves what ran by appending
//! to a file; the record must hold exactly one success. A mission with a
//! repository gets its worker's pushed work on its integration branch.

use crate::support;

use std::path::{Path, PathBuf};
use support::Running;

/// `techlead run mission.yaml --workers` in `dir` on the database `url`.
fn coordinator(dir: &Path, url: &str) -> Running {
    Running::start(
        dir,
        &["run", "mission.yaml", "--workers", "--json", "--db", url],
    )
}

/// Short leases, so that a dead worker's task comes back within a second.
const LEASE_MS: &str = "600";

struct Setup {
    dir: tempfile::TempDir,
    url: String,
    id: String,
}

impl Setup {
    /// A mission of one task `t`: its first attempt writes `start 1` and
    /// waits for the file `release`; later attempts do not wait. Each
    /// writes `done N` at its end.
    fn new(labels: &str) -> Option<Setup> {
        let db = techlead_testdb::database()?;
        let dir = tempfile::tempdir().unwrap();
        let name = support::unique_name("workers");
        let proof = dir.path().join("proof");
        let release = dir.path().join("release");
        let script = format!(
            r#"echo \"start $TECHLEAD_ATTEMPT\" >> '{proof}'; if [ \"$TECHLEAD_ATTEMPT\" = 1 ]; then while [ ! -e '{release}' ]; do sleep 0.02; done; fi; echo \"done $TECHLEAD_ATTEMPT\" >> '{proof}'"#,
            proof = proof.display(),
            release = release.display(),
        );
        support::write_mission(
            dir.path(),
            &format!(
                "mission:\n  name: {name}\n  objective: prove one success\n  defaults: {{executor: command, max_parallel: 1}}\n\
                 tasks:\n  - {{id: t, title: the task, command: [sh, -c, \"{script}\"]{labels}}}\n"
            ),
        );
        Some(Setup {
            url: db.url,
            id: format!("{name}-1"),
            dir,
        })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn coordinator(&self) -> Running {
        coordinator(self.path(), &self.url)
    }

    fn worker(&self, name: &str, labels: &str) -> Running {
        let dir = self.path().join(name).display().to_string();
        Running::start(
            self.path(),
            &[
                "worker",
                "--db",
                &self.url,
                "--json",
                "--name",
                name,
                "--dir",
                &dir,
                "--lease-ms",
                LEASE_MS,
                "--labels",
                labels,
            ],
        )
    }

    fn release(&self) {
        std::fs::write(self.path().join("release"), "").unwrap();
    }

    fn proof(&self) -> Vec<String> {
        let mut lines: Vec<String> = std::fs::read_to_string(self.path().join("proof"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    }

    fn outcomes(&self) -> Vec<Option<String>> {
        let status = support::status(self.path(), &PathBuf::from(&self.url), &self.id);
        support::outcomes(support::task(&status, "t"))
    }

    /// The attempt processes still alive (the one a killed worker left).
    fn kill_leftovers(&self) {
        for pid in support::processes_of(&self.id) {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
    }
}

fn claimed(event: &serde_json::Value) -> bool {
    event["event"] == "claimed"
}

fn signal(process: &Running, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &process.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn successes(outcomes: &[Option<String>]) -> usize {
    outcomes
        .iter()
        .filter(|o| o.as_deref() == Some("succeeded"))
        .count()
}

#[test]
fn a_killed_worker_loses_its_lease_and_another_finishes_the_task_once() {
    let Some(setup) = Setup::new("") else { return };
    let coordinator = setup.coordinator();
    let mut a = setup.worker("a", "");
    a.wait_for(claimed);
    support::wait_until("attempt 1 to start", || setup.proof() == ["start 1"]);
    let mut b = setup.worker("b", "");
    a.kill();
    let event = b.wait_for(claimed);
    assert_eq!(
        (&event["task"], &event["attempt"]),
        (&"t".into(), &2.into())
    );

    let (code, events, stderr) = coordinator.finish();
    assert_eq!(code, 0, "{stderr}\n{}", events.join("\n"));
    assert_eq!(
        setup.outcomes(),
        [Some("interrupted".into()), Some("succeeded".into())]
    );
    assert_eq!(setup.proof(), ["done 2", "start 1", "start 2"]);
    b.kill();
    setup.kill_leftovers();
}

#[test]
fn a_killed_coordinators_standby_takes_over_and_the_worker_keeps_its_attempt() {
    let Some(setup) = Setup::new("") else { return };
    let mut first = setup.coordinator();
    first.wait_for(|e| support::event_type(e) == "attempt_started");
    let mut worker = setup.worker("a", "");
    worker.wait_for(claimed);
    let standby = Running::start(
        setup.path(),
        &[
            "resume",
            &setup.id,
            "--workers",
            "--standby",
            "--json",
            "--db",
            &setup.url,
        ],
    );
    first.kill();
    setup.release();

    let (code, events, stderr) = standby.finish();
    assert_eq!(code, 0, "{stderr}\n{}", events.join("\n"));
    // The attempt the worker held under a live lease was never redone.
    assert_eq!(setup.outcomes(), [Some("succeeded".into())]);
    assert_eq!(setup.proof(), ["done 1", "start 1"]);
    let finished = worker.wait_for(|e| e["event"] == "finished");
    assert_eq!(finished["outcome"]["kind"], "succeeded");
    worker.kill();
}

#[test]
fn a_stopped_worker_loses_its_task_and_its_late_report_is_refused() {
    let Some(setup) = Setup::new("") else { return };
    let coordinator = setup.coordinator();
    let mut a = setup.worker("a", "");
    a.wait_for(claimed);
    support::wait_until("attempt 1 to start", || setup.proof() == ["start 1"]);
    let mut b = setup.worker("b", "");
    // No heartbeats from `a` (its attempt's process runs on).
    signal(&a, "STOP");
    b.wait_for(claimed);

    let (code, events, stderr) = coordinator.finish();
    assert_eq!(code, 0, "{stderr}\n{}", events.join("\n"));
    // `a`'s attempt now succeeds too, then `a` wakes up and reports it.
    setup.release();
    support::wait_until("attempt 1 to end", || {
        setup.proof().contains(&"done 1".to_string())
    });
    signal(&a, "CONT");
    a.wait_for(|e| e["event"] == "lost");

    let outcomes = setup.outcomes();
    assert_eq!(
        outcomes,
        [Some("interrupted".into()), Some("succeeded".into())]
    );
    assert_eq!(successes(&outcomes), 1);
    a.kill();
    b.kill();
}

#[test]
fn labels_route_a_task_to_the_worker_that_offers_them() {
    let Some(setup) = Setup::new(", labels: [gpu]") else {
        return;
    };
    setup.release();
    let coordinator = setup.coordinator();
    let plain = setup.worker("plain", "");
    let mut gpu = setup.worker("gpu", "gpu,linux");
    let event = gpu.wait_for(claimed);
    assert_eq!(event["task"], "t");
    let (code, _, stderr) = coordinator.finish();
    assert_eq!(code, 0, "{stderr}");
    let (_, lines) = plain.kill();
    assert!(
        lines.is_empty(),
        "the worker without gpu took work: {lines:?}"
    );
    gpu.kill();
}

/// A mission with a repository: the worker fetches the task branch into
/// its own clone, the task runs there, the worker commits and pushes its
/// work, and the coordinator gates it in its own worktree (the gate sees
/// the worker's file) and merges it into the integration branch. A retry
/// after the gate's rejection continues on the pushed branch; the
/// person's checkout is never touched.
#[test]
fn a_workers_work_reaches_the_integration_branch() {
    let Some(db) = techlead_testdb::database() else {
        return;
    };
    let (repo, name) = support::git::mission_in_repository(
        "workers-repo",
        &[("a.txt", "base\n")],
        "  objective: work on a worker\n  defaults: {executor: command, max_parallel: 2, backoff: [10ms]}\n\
         tasks:\n\
         \x20 - {id: A, title: change a, retries: 1, command: [sh, -c, 'echo \"attempt $TECHLEAD_ATTEMPT\" >> a.txt'], gates: ['grep -q \"attempt 2\" a.txt']}\n\
         \x20 - {id: B, title: add b, command: [sh, -c, 'echo b > b.txt']}\n",
    );
    let before = support::git::person_view(repo.path());
    let worker_dir = tempfile::tempdir().unwrap();
    let worker = Running::start(
        worker_dir.path(),
        &[
            "worker",
            "--db",
            &db.url,
            "--json",
            "--name",
            "remote",
            "--dir",
            &worker_dir.path().join("w").display().to_string(),
            "--capacity",
            "2",
        ],
    );
    // As a worker on another machine would reach it (here over file://).
    let url = format!("file://{}", repo.path().display());
    let coordinator = Running::start(
        repo.path(),
        &[
            "run",
            "mission.yaml",
            "--workers",
            "--repository-url",
            &url,
            "--json",
            "--db",
            &db.url,
        ],
    );
    let (code, events, stderr) = coordinator.finish();
    assert_eq!(code, 0, "{stderr}\n{}", events.join("\n"));
    let (_, claims) = worker.kill();
    assert_eq!(
        claims.iter().filter(|l| l.contains("\"claimed\"")).count(),
        3,
        "A twice (its gate rejects the first), B once: {claims:?}"
    );

    let integration = format!("techlead/{name}-1/_integration");
    let show =
        |file: &str| support::git::git(repo.path(), &["show", &format!("{integration}:{file}")]);
    // Attempt 2 ran on the branch attempt 1 pushed.
    assert_eq!(show("a.txt"), "base\nattempt 1\nattempt 2\n");
    assert_eq!(show("b.txt"), "b\n");
    assert_eq!(support::git::person_view(repo.path()), before);
    let status = support::status(repo.path(), &PathBuf::from(&db.url), &format!("{name}-1"));
    // Both attempts ran to their end; the gate rejected the first's work.
    assert_eq!(
        support::outcomes(support::task(&status, "A")),
        [Some("succeeded".into()), Some("succeeded".into())]
    );
    // The worker pushed to a ref no worktree has checked out, and the
    // coordinator moved its task branch there.
    let tip = |reference: &str| support::git::git(repo.path(), &["rev-parse", reference]);
    assert_eq!(
        tip(&format!("refs/techlead/remote/{name}-1/A")),
        tip(&format!("refs/heads/techlead/{name}-1/A"))
    );
    let clones: Vec<String> = std::fs::read_dir(worker_dir.path().join("w/repos"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        clones.len() == 1 && clones[0].starts_with("file-"),
        "one clone, of the URL given: {clones:?}"
    );
}

/// Two tasks on a worker change the same line from the same base: the
/// second to be merged conflicts, and its agent resolves the conflict on
/// the worker (the merge begun in the worker's worktree, markers and
/// all); the resolution reaches the integration branch.
#[test]
fn a_conflict_is_resolved_on_the_worker() {
    let Some(db) = techlead_testdb::database() else {
        return;
    };
    let meeting = tempfile::tempdir().unwrap();
    // Each first attempt waits until both have started, so that both
    // fork from the base; an attempt that finds conflict markers writes
    // the resolution.
    let script = format!(
        "touch '{meet}/'$1; if grep -q '<<<<<<<' a.txt; then printf 'A\\nB\\n' > a.txt; exit 0; fi\n\
         while [ ! -e '{meet}/A' ] || [ ! -e '{meet}/B' ]; do sleep 0.02; done\n\
         echo $1 > a.txt\n",
        meet = meeting.path().display()
    );
    let (repo, name) = support::git::mission_in_repository(
        "workers-conflict",
        &[("a.txt", "base\n"), ("change.sh", &script)],
        "  objective: conflict on a worker\n  on_conflict: agent\n  defaults: {executor: command, max_parallel: 2, backoff: [10ms]}\n\
         tasks:\n\
         \x20 - {id: A, title: change a, command: [sh, change.sh, A]}\n\
         \x20 - {id: B, title: change b, command: [sh, change.sh, B]}\n",
    );
    let worker_dir = tempfile::tempdir().unwrap();
    let worker = Running::start(
        worker_dir.path(),
        &[
            "worker",
            "--db",
            &db.url,
            "--json",
            "--dir",
            &worker_dir.path().join("w").display().to_string(),
            "--capacity",
            "2",
        ],
    );
    let coordinator = coordinator(repo.path(), &db.url);
    let (code, events, stderr) = coordinator.finish();
    assert_eq!(code, 0, "{stderr}\n{}", events.join("\n"));
    worker.kill();
    assert!(
        events.iter().any(|e| e.contains("\"merge_conflicted\"")),
        "no conflict: {}",
        events.join("\n")
    );
    let integration = format!("techlead/{name}-1/_integration");
    assert_eq!(
        support::git::git(repo.path(), &["show", &format!("{integration}:a.txt")]),
        "A\nB\n"
    );
}

#[test]
fn a_worker_needs_a_postgresql_database_and_known_labels() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::run_to_end(dir.path(), &["worker", "--db", "team.db"]);
    out.expect_code(2);
    out.expect_stderr(&["workers need PostgreSQL", "team.db", "hint:", "postgres://"]);
    let out = support::run_to_end(
        dir.path(),
        &[
            "worker",
            "--db",
            "postgres://ann@db.example/tl",
            "--labels",
            "GPU",
        ],
    );
    out.expect_code(2);
    out.expect_stderr(&["`GPU` is not a label", "hint:"]);
    support::write_mission(
        dir.path(),
        "mission:\n  name: m\n  objective: o\ntasks:\n  - {id: t, title: t, executor: command, command: [true]}\n",
    );
    let out = support::run_to_end(
        dir.path(),
        &["run", "mission.yaml", "--workers", "--db", "x.db"],
    );
    out.expect_code(2);
    out.expect_stderr(&["workers need PostgreSQL", "x.db"]);
}

/// An agent on a worker gets a report socket and `techlead mcp` as on the
/// coordinator's machine: what its MCP tools report reaches the mission's
/// record, and `read_handoff` reads the shared database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_on_a_worker_reports_through_techlead_mcp() {
    use crate::mcp::{attempt_env, call, client};
    use serde_json::json;
    use techlead_core::state::{Event, Report};

    let Some(db) = techlead_testdb::database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let name = support::unique_name("workers-mcp");
    // It also ends when the test's directory is gone (a failed test).
    let main = format!(
        "env > '{}'; while [ ! -e '{finish}' ] && [ -d '{root}' ]; do sleep 0.05; done",
        root.join("env.txt").display(),
        finish = root.join("finish").display(),
        root = root.display(),
    );
    support::write_mission(
        root,
        &format!(
            "mission:\n  name: {name}\n  objective: report over MCP from a worker\n  defaults: {{executor: command}}\n\
             tasks:\n\
             \x20 - {{id: DEP, title: make the schema, command: [sh, -c, 'echo ::summary the schema is in db/schema.sql']}}\n\
             \x20 - {{id: MAIN, title: build on it, depends_on: DEP, command: [sh, -c, {main:?}]}}\n"
        ),
    );
    let worker_dir = root.join("w");
    let worker = Running::start(
        root,
        &[
            "worker",
            "--db",
            &db.url,
            "--json",
            "--name",
            "w",
            "--dir",
            &worker_dir.display().to_string(),
        ],
    );
    let coordinator = coordinator(root, &db.url);
    support::wait_until("MAIN's environment on the worker", || {
        root.join("env.txt").exists() && attempt_env(root).contains_key("TECHLEAD_REPORT_SOCKET")
    });
    let env = attempt_env(root);
    assert_eq!(env["TECHLEAD_TASK"], "MAIN");
    assert_eq!(env["TECHLEAD_DB"], db.url);
    let socket = std::path::Path::new(&env["TECHLEAD_REPORT_SOCKET"]);
    assert!(socket.starts_with(&worker_dir), "{}", socket.display());

    let client = client(root, &env).await;
    let (error, text) = call(&client, "read_handoff", json!({"task": "DEP"})).await;
    assert!(
        !error && text.contains("the schema is in db/schema.sql"),
        "{text}"
    );
    let (error, text) = call(&client, "set_summary", json!({"text": "built on a worker"})).await;
    assert!(!error, "{text}");
    let (error, text) = call(
        &client,
        "record_decision",
        json!({"text": "use the schema"}),
    )
    .await;
    assert!(!error, "{text}");
    client.cancel().await.unwrap();
    std::fs::write(root.join("finish"), "").unwrap();

    let (code, _, stderr) = coordinator.finish();
    assert_eq!(code, 0, "{stderr}");
    worker.kill();
    let store = techlead_store::open(&db.url).unwrap();
    let reports: Vec<Report> = store
        .events(&format!("{name}-1"), 0)
        .unwrap()
        .into_iter()
        .filter_map(|r| match r.event {
            Event::AttemptReported { task, report, .. } if task == "MAIN" => Some(report),
            _ => None,
        })
        .collect();
    assert_eq!(
        reports,
        [
            Report::Summary("built on a worker".into()),
            Report::Decision("use the schema".into()),
        ]
    );
}
