//! The SQLite store against real files in temporary directories: the log,
//! the projections, reopening, foreign and newer files, the mission lock
//! (also held by another process, and released when it is killed), and
//! what survives a crash.

use jiff::Timestamp;
use rusqlite::Connection;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use techlead_core::Priority;
use techlead_core::state::{
    AttemptOutcome, EscalationKind, Event, EventRecord, MissionPlan, MissionState, MissionStatus,
    NextStep, Report, TaskPlan, TaskStatus,
};
use techlead_store::sqlite::{APPLICATION_ID, SCHEMA_VERSION, SqliteStore};
use techlead_store::{AgentRecordRow, Error, Store};

fn plan(name: &str, tasks: &[(&str, &[&str])]) -> MissionPlan {
    MissionPlan {
        name: name.to_string(),
        objective: format!("finish {name}"),
        project_type: None,
        source: format!("{name}.yaml"),
        source_hash: "0123abcd".to_string(),
        workdir: ".".to_string(),
        max_parallel: 2,
        failure_threshold: 0.5,
        backoff_ms: vec![10, 20],
        launch_delay_ms: 0,
        executor_limits: vec![("command".to_string(), 4)],
        agent_limits: vec![],
        deadline: None,
        phases: vec![],
        tasks: tasks
            .iter()
            .map(|(id, deps)| TaskPlan {
                id: id.to_string(),
                title: format!("Do {id}"),
                description: String::new(),
                priority: Priority::High,
                kind: None,
                depends_on: deps.iter().map(|d| d.to_string()).collect(),
                phase: None,
                agent: "builder".to_string(),
                backup: Some("fixer".to_string()),
                executor: "command".to_string(),
                command: Some(vec!["true".to_string()]),
                timeout_ms: 1_000,
                retries: 1,
                estimate_hours: Some(1.5),
                remaining_hours: 1.5,
                acceptance: Vec::new(),
                gates: Vec::new(),
                budget: Default::default(),
                stands_in_for: None,
                artifacts: Vec::new(),
                needs: Vec::new(),
            })
            .collect(),
        agents: Vec::new(),
        budget: Default::default(),
        repository: None,
        done_when: Vec::new(),
        webhooks: Vec::new(),
        emergency: false,
        on_blocked: Default::default(),
        forecast: Default::default(),
    }
}

/// `a`, `b`, and `c` after `b`.
fn abc() -> MissionPlan {
    plan("ship", &[("a", &[]), ("b", &[]), ("c", &["b"])])
}

/// A time `s` seconds (and some nanoseconds, to check they survive) after
/// a fixed start.
fn at(s: i64) -> Timestamp {
    Timestamp::new(1_800_000_000 + s, 123_456_789).unwrap()
}

fn queued(task: &str, attempt: u32, agent: &str) -> Event {
    Event::AttemptQueued {
        task: task.to_string(),
        attempt,
        agent: agent.to_string(),
        executor: "command".to_string(),
        dir: format!("attempts/{task}/{attempt}"),
    }
}

fn started(task: &str, attempt: u32) -> Event {
    Event::AttemptStarted {
        task: task.to_string(),
        attempt,
    }
}

fn finished(task: &str, attempt: u32, outcome: AttemptOutcome, ms: u64, next: NextStep) -> Event {
    Event::AttemptFinished {
        task: task.to_string(),
        attempt,
        outcome,
        duration_ms: ms,
        next,
    }
}

fn failed(code: i32) -> AttemptOutcome {
    AttemptOutcome::Failed {
        exit_code: Some(code),
        signal: None,
        message: format!("exited with {code}"),
    }
}

/// A whole small mission after event 1, in the batches one scheduler
/// would append: `a` succeeds, `b` fails twice (the second time on the
/// backup), `c` is blocked, an escalation pauses dispatch, the person
/// resumes, the mission fails.
fn batches() -> Vec<Vec<(Timestamp, Event)>> {
    vec![
        vec![
            (
                at(1),
                Event::RunStarted {
                    run: 1,
                    pid: 42,
                    host: "box".to_string(),
                },
            ),
            (at(1), queued("a", 1, "builder")),
            (at(1), queued("b", 1, "builder")),
            (at(1), started("a", 1)),
            (at(1), started("b", 1)),
        ],
        vec![(
            at(2),
            Event::AttemptProgress {
                task: "a".to_string(),
                attempt: 1,
                percent: Some(50),
                message: "halfway".to_string(),
            },
        )],
        vec![
            (
                at(3),
                Event::AttemptReported {
                    task: "a".to_string(),
                    attempt: 1,
                    report: Report::Artifact("out/a.txt".to_string()),
                },
            ),
            (
                at(3),
                finished(
                    "a",
                    1,
                    AttemptOutcome::Succeeded {
                        summary: Some("did a".to_string()),
                    },
                    2_000,
                    NextStep::Done,
                ),
            ),
            (
                at(3),
                finished(
                    "b",
                    1,
                    failed(1),
                    2_500,
                    NextStep::Retry {
                        agent: "fixer".to_string(),
                        at: at(5),
                    },
                ),
            ),
        ],
        // A claim given back (dispatch paused), then made again.
        vec![
            (at(5), queued("b", 2, "fixer")),
            (
                at(5),
                Event::AttemptWithdrawn {
                    task: "b".to_string(),
                    attempt: 2,
                },
            ),
        ],
        vec![(at(5), queued("b", 2, "fixer")), (at(5), started("b", 2))],
        vec![
            (at(6), finished("b", 2, failed(2), 700, NextStep::Fail)),
            (
                at(6),
                Event::TaskBlocked {
                    task: "c".to_string(),
                    by: "b".to_string(),
                },
            ),
            (
                at(6),
                Event::EscalationRaised {
                    id: 1,
                    kind: EscalationKind::FailureRate,
                    message: "half the tasks failed".to_string(),
                    tasks: vec!["b".to_string()],
                    options: vec!["skip".to_string(), "abort".to_string()],
                },
            ),
            (
                at(6),
                Event::DispatchPaused {
                    reason: "failure rate".to_string(),
                },
            ),
        ],
        vec![(at(7), Event::DispatchResumed)],
        vec![(
            at(8),
            Event::MissionFinished {
                status: MissionStatus::Failed,
            },
        )],
    ]
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn db(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join(".techlead").join("techlead.db")
}

/// Creates `abc` and appends every batch; returns the mission ID.
fn run_small_mission(store: &mut SqliteStore) -> String {
    let id = store.create_mission(&abc(), at(0)).unwrap();
    let mut last = 1;
    for batch in batches() {
        let records = store.append(&id, last, batch).unwrap();
        last = records.last().unwrap().seq;
    }
    id
}

#[test]
fn a_mission_is_created_appended_to_and_read_back() {
    let dir = temp();
    let path = db(&dir);
    let mut store = SqliteStore::open(&path).unwrap();
    let id = store.create_mission(&abc(), at(0)).unwrap();
    assert_eq!(id, "ship-1");

    let events = store.events(&id, 0).unwrap();
    assert_eq!(
        events,
        vec![EventRecord {
            seq: 1,
            at: at(0),
            event: Event::MissionCreated {
                plan: Box::new(abc()),
            },
        }]
    );

    let batch = &batches()[0];
    let records = store.append(&id, 1, batch.clone()).unwrap();
    assert_eq!(
        records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![2, 3, 4, 5, 6]
    );
    assert_eq!(store.events(&id, 0).unwrap()[1..], records[..]);
    assert_eq!(store.events(&id, 3).unwrap(), records[2..].to_vec());
    assert_eq!(store.events(&id, 6).unwrap(), vec![]);

    let row = store.find_mission(&id).unwrap().unwrap();
    assert_eq!(row.status, MissionStatus::Running);
    assert_eq!(row.last_seq, 6);
    assert_eq!(row.tasks, 3);
    assert_eq!(row.source, "ship.yaml");
    assert_eq!(row.created_at, at(0));
    assert_eq!(row.updated_at, at(1));
}

#[test]
fn the_log_is_gapless_and_a_stale_writer_gets_a_conflict() {
    let dir = temp();
    let mut store = SqliteStore::open(&db(&dir)).unwrap();
    let id = store.create_mission(&abc(), at(0)).unwrap();
    let batches = batches();
    store.append(&id, 1, batches[0].clone()).unwrap();

    for stale in [0, 1, 3, 5, 7, 99] {
        match store.append(&id, stale, batches[1].clone()) {
            Err(Error::Conflict {
                mission,
                expected,
                actual,
            }) => {
                assert_eq!(
                    (mission.as_str(), expected, actual),
                    (id.as_str(), stale, 6)
                );
            }
            other => panic!("after {stale}: {other:?}"),
        }
    }
    // Nothing of the refused batches was written.
    assert_eq!(store.events(&id, 0).unwrap().len(), 6);

    let records = store.append(&id, 6, batches[1].clone()).unwrap();
    assert_eq!(records[0].seq, 7);
    // An empty batch changes nothing.
    assert_eq!(store.append(&id, 7, vec![]).unwrap(), vec![]);
    assert_eq!(store.find_mission(&id).unwrap().unwrap().last_seq, 7);
    let seqs: Vec<u64> = store
        .events(&id, 0)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6, 7]);

    assert!(matches!(
        store.append("nope-1", 0, batches[1].clone()),
        Err(Error::NoSuchMission(m)) if m == "nope-1"
    ));
    assert!(matches!(
        store.events("nope-1", 0),
        Err(Error::NoSuchMission(_))
    ));
}

#[test]
fn replaying_the_stored_log_gives_the_state_the_writer_had() {
    let dir = temp();
    let mut store = SqliteStore::open(&db(&dir)).unwrap();
    let id = store.create_mission(&abc(), at(0)).unwrap();

    // The writer's view: the fold applied as it appends.
    let mut state = MissionState::replay(&store.events(&id, 0).unwrap()).unwrap();
    for batch in batches() {
        for record in store.append(&id, state.last_seq, batch.clone()).unwrap() {
            state.apply(&record).unwrap();
        }
    }

    let replayed = MissionState::replay(&store.events(&id, 0).unwrap()).unwrap();
    assert_eq!(replayed, state);
    assert_eq!(replayed.status, MissionStatus::Failed);
    let statuses: Vec<TaskStatus> = replayed.tasks.iter().map(|t| t.status).collect();
    assert_eq!(
        statuses,
        vec![
            TaskStatus::Succeeded,
            TaskStatus::Failed,
            TaskStatus::Blocked
        ]
    );
    assert_eq!(
        replayed.tasks[0].reports.artifacts,
        vec!["out/a.txt".to_string()]
    );
    assert_eq!(replayed.last_seq, 20);
}

/// id, status, agent, attempts, blocked_by, summary
type TaskRow = (String, String, String, i64, Option<String>, Option<String>);
/// task, attempt, agent, outcome, exit_code, duration_ms, dir
type AttemptRow = (String, i64, String, String, Option<i64>, i64, String);

#[test]
fn projections_agree_with_the_log() {
    let dir = temp();
    let path = db(&dir);
    let mut store = SqliteStore::open(&path).unwrap();
    let id = run_small_mission(&mut store);

    let row = store.find_mission(&id).unwrap().unwrap();
    assert_eq!(
        (
            row.status,
            row.tasks,
            row.succeeded,
            row.failed,
            row.last_seq
        ),
        (MissionStatus::Failed, 3, 1, 1, 20)
    );
    assert_eq!(row.updated_at, at(8));

    assert_eq!(
        store.agent_records().unwrap(),
        vec![
            AgentRecordRow {
                agent: "builder".to_string(),
                attempts: 2,
                successes: 1,
                failures: 1,
                total_ms: 4_500,
            },
            AgentRecordRow {
                agent: "fixer".to_string(),
                attempts: 1,
                successes: 0,
                failures: 1,
                total_ms: 700,
            },
        ]
    );

    // The tables themselves, read by another connection as a history
    // query would, while the store is open.
    let conn = Connection::open(&path).unwrap();
    let tasks: Vec<TaskRow> = conn
        .prepare(
            "SELECT id, status, agent, attempts, blocked_by, summary FROM tasks
             WHERE mission = ?1 ORDER BY position",
        )
        .unwrap()
        .query_map([&id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let s = |t: &str| t.to_string();
    assert_eq!(
        tasks,
        vec![
            (
                s("a"),
                s("succeeded"),
                s("builder"),
                1,
                None,
                Some(s("did a"))
            ),
            (s("b"), s("failed"), s("fixer"), 2, None, None),
            (s("c"), s("blocked"), s("builder"), 0, Some(s("b")), None),
        ]
    );

    let attempts: Vec<AttemptRow> = conn
        .prepare(
            "SELECT task, attempt, agent, outcome, exit_code, duration_ms, dir FROM attempts
             WHERE mission = ?1 ORDER BY task, attempt",
        )
        .unwrap()
        .query_map([&id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        attempts,
        vec![
            (
                s("a"),
                1,
                s("builder"),
                s("succeeded"),
                None,
                2_000,
                s("attempts/a/1")
            ),
            (
                s("b"),
                1,
                s("builder"),
                s("failed"),
                Some(1),
                2_500,
                s("attempts/b/1")
            ),
            (
                s("b"),
                2,
                s("fixer"),
                s("failed"),
                Some(2),
                700,
                s("attempts/b/2")
            ),
        ]
    );

    let (kind, tasks, options, resolved): (String, String, String, Option<String>) = conn
        .query_row(
            "SELECT kind, tasks, options, resolved_at FROM escalations WHERE mission = ?1 AND id = 1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(kind, "failure-rate");
    assert_eq!(tasks, r#"["b"]"#);
    assert_eq!(options, r#"["skip","abort"]"#);
    assert!(
        resolved.is_some(),
        "resuming dispatch settles the escalation"
    );

    // Every event row names its type and task as the body says.
    let mut statement = conn
        .prepare("SELECT type, task, body FROM events WHERE mission = ?1 ORDER BY seq")
        .unwrap();
    let rows = statement
        .query_map([&id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .unwrap();
    for row in rows {
        let (kind, task, body) = row.unwrap();
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["type"], kind.as_str());
        assert_eq!(body["task"].as_str(), task.as_deref());
    }
}

#[test]
fn everything_is_there_after_reopening() {
    let dir = temp();
    let path = db(&dir);
    let (id, events, missions, agents) = {
        let mut store = SqliteStore::open(&path).unwrap();
        let id = run_small_mission(&mut store);
        store.create_mission(&abc(), at(20)).unwrap();
        (
            id.clone(),
            store.events(&id, 0).unwrap(),
            store.missions().unwrap(),
            store.agent_records().unwrap(),
        )
    };
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.events(&id, 0).unwrap(), events);
    assert_eq!(store.missions().unwrap(), missions);
    assert_eq!(store.agent_records().unwrap(), agents);
    // The log goes on where it stopped.
    assert!(matches!(
        store.append(&id, 18, vec![]),
        Err(Error::Conflict { actual: 20, .. })
    ));
    assert_eq!(store.create_mission(&abc(), at(30)).unwrap(), "ship-3");
}

#[test]
fn the_file_says_what_it_is_and_how_it_is_kept() {
    let dir = temp();
    let path = db(&dir);
    drop(SqliteStore::open(&path).unwrap());
    assert!(path.exists(), "the parent directories are created");
    let _store = SqliteStore::open(&path).unwrap();
    let conn = Connection::open(&path).unwrap();
    let pragma = |name: &str| -> i64 { conn.pragma_query_value(None, name, |r| r.get(0)).unwrap() };
    assert_eq!(pragma("application_id"), i64::from(APPLICATION_ID));
    assert_eq!(pragma("user_version"), SCHEMA_VERSION);
    let journal: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
}

fn assert_refused_untouched(path: &Path, check: impl Fn(&Error) -> bool) {
    let before = std::fs::read(path).unwrap();
    let siblings = |p: &Path| -> Vec<PathBuf> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        entries
    };
    let listing = siblings(path);
    let error = SqliteStore::open(path).unwrap_err();
    assert!(check(&error), "{error:?}");
    assert!(error.hint().is_some());
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    assert_eq!(std::fs::read(path).unwrap(), before, "the file was changed");
    assert_eq!(siblings(path), listing, "files were left beside it");
}

#[test]
fn a_file_that_is_not_sqlite_is_foreign_and_untouched() {
    let dir = temp();
    let path = dir.path().join("notes.db");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &bytes).unwrap();
    assert_refused_untouched(&path, |e| matches!(e, Error::Foreign { .. }));

    std::fs::write(&path, "name: ship\ntasks: []\n").unwrap();
    assert_refused_untouched(&path, |e| matches!(e, Error::Foreign { .. }));
}

#[test]
fn another_programs_sqlite_database_is_foreign_and_untouched() {
    let dir = temp();
    let path = dir.path().join("other.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('soup');",
        )
        .unwrap();
    }
    assert_refused_untouched(&path, |e| matches!(e, Error::Foreign { .. }));

    // Even an empty one that carries another application ID.
    let path = dir.path().join("tagged.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "application_id", 0x1234_5678)
            .unwrap();
    }
    assert_refused_untouched(&path, |e| matches!(e, Error::Foreign { .. }));
}

#[test]
fn a_damaged_database_is_corrupt_and_untouched() {
    let dir = temp();
    let path = dir.path().join("damaged.db");
    {
        let mut store = SqliteStore::open(&path).unwrap();
        run_small_mission(&mut store);
    }
    // Keep SQLite's header, overwrite the rest of the first page.
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[16..4096] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    assert_refused_untouched(&path, |e| matches!(e, Error::Corrupt { .. }));
}

#[test]
fn a_database_from_a_newer_techlead_is_refused_untouched() {
    let dir = temp();
    let path = dir.path().join("newer.db");
    {
        let mut store = SqliteStore::open(&path).unwrap();
        run_small_mission(&mut store);
    }
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 7)
            .unwrap();
    }
    assert_refused_untouched(&path, |e| {
        matches!(e, Error::TooNew { found, supported, .. }
            if *found == SCHEMA_VERSION + 7 && *supported == SCHEMA_VERSION)
    });
}

#[test]
fn an_unreadable_event_is_named() {
    let dir = temp();
    let path = db(&dir);
    let mut store = SqliteStore::open(&path).unwrap();
    let id = run_small_mission(&mut store);
    Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE events SET body = '{\"type\":\"no_such_event\"}' WHERE mission = ?1 AND seq = 3",
            [&id],
        )
        .unwrap();
    match store.events(&id, 0) {
        Err(error @ Error::BadEvent { seq: 3, .. }) => assert!(error.hint().is_some()),
        other => panic!("{other:?}"),
    }
    // Events after it can still be read.
    assert_eq!(store.events(&id, 3).unwrap().len(), 17);
}

#[test]
fn missions_are_listed_newest_first_and_found_by_id_or_name() {
    let dir = temp();
    let mut store = SqliteStore::open(&db(&dir)).unwrap();
    assert_eq!(store.missions().unwrap(), vec![]);
    assert_eq!(store.find_mission("ship").unwrap(), None);

    let first = store.create_mission(&abc(), at(0)).unwrap();
    let other = store
        .create_mission(&plan("docs", &[("write", &[])]), at(10))
        .unwrap();
    let second = store.create_mission(&abc(), at(20)).unwrap();
    // A name that looks like an ID gets its own numbering.
    let tricky = store
        .create_mission(&plan("ship-1", &[("x", &[])]), at(30))
        .unwrap();
    assert_eq!(
        (
            first.as_str(),
            other.as_str(),
            second.as_str(),
            tricky.as_str()
        ),
        ("ship-1", "docs-1", "ship-2", "ship-1-1")
    );

    let ids: Vec<String> = store
        .missions()
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, vec!["ship-1-1", "ship-2", "docs-1", "ship-1"]);

    let found = |key: &str| store.find_mission(key).unwrap().map(|m| m.id);
    assert_eq!(
        found("ship").as_deref(),
        Some("ship-2"),
        "the newest of that name"
    );
    assert_eq!(
        found("ship-1").as_deref(),
        Some("ship-1"),
        "an exact ID wins"
    );
    assert_eq!(found("ship-2").as_deref(), Some("ship-2"));
    assert_eq!(found("docs").as_deref(), Some("docs-1"));
    assert_eq!(found("ship-1-1").as_deref(), Some("ship-1-1"));
    assert_eq!(found("nothing"), None);
    let row = store.find_mission("docs").unwrap().unwrap();
    assert_eq!(
        (row.name.as_str(), row.status, row.tasks),
        ("docs", MissionStatus::Created, 1)
    );
}

#[test]
fn a_second_lock_is_refused_with_the_holder_until_the_first_is_dropped() {
    let dir = temp();
    let path = db(&dir);
    let mut store = SqliteStore::open(&path).unwrap();
    let id = store.create_mission(&abc(), at(0)).unwrap();
    let other = store.create_mission(&abc(), at(1)).unwrap();

    let held = store.lock(&id).unwrap();
    // Another handle on the same database, as a second `techlead run`.
    let second = SqliteStore::open(&path).unwrap();
    match second.lock(&id) {
        Err(error @ Error::Locked { .. }) => {
            let Error::Locked { mission, holder } = &error else {
                unreachable!()
            };
            assert_eq!(mission, &id);
            assert!(
                holder.starts_with(&format!("pid {} on ", std::process::id())),
                "{holder}"
            );
            assert!(holder.contains(" since "), "{holder}");
            assert!(error.to_string().contains(holder.as_str()));
            assert!(error.hint().is_some());
        }
        other => panic!("{:?}", other.map(|_| "a lock")),
    }
    // Other missions are not held.
    let _other = second.lock(&other).unwrap();

    drop(held);
    let _again = second.lock(&id).unwrap();
    assert!(matches!(store.lock(&id), Err(Error::Locked { .. })));
    assert!(matches!(store.lock("nope-1"), Err(Error::NoSuchMission(_))));
}

/// Runs this test binary again as a helper process (see
/// `child_process_helper`), killed when dropped.
struct Helper {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Helper {
    fn start(job: &str, path: &Path, mission: &str) -> Helper {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_process_helper",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("TECHLEAD_STORE_TEST_HELPER", job)
            .env("TECHLEAD_STORE_TEST_DB", path)
            .env("TECHLEAD_STORE_TEST_MISSION", mission)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Helper { child, lines }
    }

    /// What follows `prefix` in the next line the helper printed with it
    /// (the first may follow libtest's `test child_process_helper ... `).
    fn wait_for(&mut self, prefix: &str) -> String {
        for line in self.lines.by_ref() {
            let line = line.unwrap();
            if let Some((_, rest)) = line.split_once(prefix) {
                return rest.trim().to_string();
            }
        }
        panic!("the helper exited before printing {prefix}");
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Not a test on its own: the helper process of the tests below. It does
/// its job only when started by them.
#[test]
fn child_process_helper() {
    let Ok(job) = std::env::var("TECHLEAD_STORE_TEST_HELPER") else {
        return;
    };
    let path = PathBuf::from(std::env::var("TECHLEAD_STORE_TEST_DB").unwrap());
    let mission = std::env::var("TECHLEAD_STORE_TEST_MISSION").unwrap();
    let mut store = SqliteStore::open(&path).unwrap();
    match job.as_str() {
        "lock" => {
            let _lock = store.lock(&mission).unwrap();
            println!("locked");
            std::thread::sleep(std::time::Duration::from_secs(600));
        }
        "append" => {
            // Progress events in batches of 50, forever; each committed
            // seq is printed after `append` returned.
            let mut last = store.find_mission(&mission).unwrap().unwrap().last_seq;
            for n in 0.. {
                let batch: Vec<(Timestamp, Event)> = (0..50)
                    .map(|i| {
                        (
                            at(n),
                            Event::AttemptProgress {
                                task: "a".to_string(),
                                attempt: 1,
                                percent: Some((i * 2) as u8),
                                message: format!("batch {n} step {i}"),
                            },
                        )
                    })
                    .collect();
                last = store
                    .append(&mission, last, batch)
                    .unwrap()
                    .last()
                    .unwrap()
                    .seq;
                println!("committed {last}");
            }
        }
        other => panic!("unknown job {other}"),
    }
}

#[test]
fn a_lock_held_by_another_process_names_it_and_dies_with_it() {
    let dir = temp();
    let path = db(&dir);
    let mut store = SqliteStore::open(&path).unwrap();
    let id = store.create_mission(&abc(), at(0)).unwrap();

    let mut helper = Helper::start("lock", &path, &id);
    helper.wait_for("locked");
    match store.lock(&id) {
        Err(Error::Locked { holder, .. }) => {
            assert!(
                holder.starts_with(&format!("pid {} on ", helper.child.id())),
                "{holder}"
            );
        }
        other => panic!("{:?}", other.map(|_| "a lock")),
    }
    helper.kill();
    let _lock = store
        .lock(&id)
        .expect("the kernel released the killed holder's lock");
}

#[test]
fn a_writer_killed_mid_append_loses_nothing_it_committed() {
    let dir = temp();
    let path = db(&dir);
    let mut store = SqliteStore::open(&path).unwrap();
    let id = store.create_mission(&abc(), at(0)).unwrap();
    store.append(&id, 1, batches()[0].clone()).unwrap();
    drop(store);

    for round in 0..3 {
        let mut helper = Helper::start("append", &path, &id);
        let mut committed = 0;
        for _ in 0..(3 + round * 4) {
            committed = helper.wait_for("committed ").parse::<u64>().unwrap();
        }
        helper.kill();

        let store = SqliteStore::open(&path).unwrap();
        let events = store.events(&id, 0).unwrap();
        let last = store.find_mission(&id).unwrap().unwrap().last_seq;
        assert!(
            last >= committed,
            "seq {committed} was committed, the log ends at {last}"
        );
        assert_eq!(events.len() as u64, last);
        assert_eq!((last - 6) % 50, 0, "a batch is all there or not at all");
        let state = MissionState::replay(&events).unwrap();
        assert_eq!(state.last_seq, last);
    }
}

#[test]
fn a_transaction_that_never_commits_leaves_the_data_as_it_was() {
    let dir = temp();
    let path = db(&dir);
    let mut store = SqliteStore::open(&path).unwrap();
    let id = run_small_mission(&mut store);
    let before = store.events(&id, 0).unwrap();
    {
        let mut conn = Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute("DELETE FROM events WHERE mission = ?1 AND seq > 2", [&id])
            .unwrap();
        tx.execute("UPDATE missions SET last_seq = 2", []).unwrap();
        // Dropped without commit, as a process that dies mid-transaction.
    }
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.events(&id, 0).unwrap(), before);
    assert_eq!(store.find_mission(&id).unwrap().unwrap().last_seq, 20);
}

/// A claim moves the task to `queued`, its start to `running`; a claim
/// given back leaves the task where it was before it, with no attempt row.
#[test]
fn claims_and_withdrawals_move_the_task_rows() {
    let dir = temp();
    let path = db(&dir);
    let mut store = SqliteStore::open(&path).unwrap();
    let id = store.create_mission(&abc(), at(0)).unwrap();
    let conn = Connection::open(&path).unwrap();
    let row = |task: &str| -> (String, i64, i64) {
        conn.query_row(
            "SELECT status, attempts,
                    (SELECT COUNT(*) FROM attempts WHERE mission = ?1 AND task = ?2)
             FROM tasks WHERE mission = ?1 AND id = ?2",
            [&id, task],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };
    let mut last = 1;
    let batches = batches();
    let (first, rest) = batches.split_at(4);
    for batch in first {
        // Up to and including the withdrawn claim of b's second attempt.
        last = store
            .append(&id, last, batch.clone())
            .unwrap()
            .last()
            .unwrap()
            .seq;
    }
    assert_eq!(row("b"), ("retrying".to_string(), 1, 1));
    let claim = &rest[0][..1];
    last = store.append(&id, last, claim.to_vec()).unwrap()[0].seq;
    assert_eq!(row("b"), ("queued".to_string(), 2, 2));
    store.append(&id, last, rest[0][1..].to_vec()).unwrap();
    assert_eq!(row("b"), ("running".to_string(), 2, 2));
    let started: Option<String> = conn
        .query_row(
            "SELECT started_at FROM attempts WHERE mission = ?1 AND task = 'b' AND attempt = 2",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(started.is_some());
}
