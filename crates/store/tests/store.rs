//! The store against both backends, each test written once: real SQLite
//! files in temporary directories and real databases on a throwaway
//! PostgreSQL server. The log, the projections, reopening, the mission
//! lock (also held by another process, and released when it is killed),
//! and what survives a crash.

use crate::support;

use jiff::Timestamp;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use support::both;
use support::mission::*;
use techlead_core::state::{Event, EventRecord, MissionState, MissionStatus, TaskStatus};
use techlead_store::{AgentRecordRow, Error, Store};

both! {
fn a_mission_is_created_appended_to_and_read_back(db) {
    let mut store = db.open();
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
}

both! {
fn the_log_is_gapless_and_a_stale_writer_gets_a_conflict(db) {
    let mut store = db.open();
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
}

both! {
fn replaying_the_stored_log_gives_the_state_the_writer_had(db) {
    let mut store = db.open();
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
}

both! {
fn projections_agree_with_the_log(db) {
    let mut store = db.open();
    let id = run_small_mission(&mut *store);

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
    let mut raw = db.raw();
    assert_eq!(
        raw.rows(
            "SELECT id, status, agent, attempts, blocked_by, summary FROM tasks
             WHERE mission = ?1 ORDER BY position",
            &[&id]
        ),
        [
            "a|succeeded|builder|1|NULL|did a",
            "b|failed|fixer|2|NULL|NULL",
            "c|blocked|builder|0|b|NULL",
        ]
    );
    assert_eq!(
        raw.rows(
            "SELECT task, attempt, agent, outcome, exit_code, duration_ms, dir FROM attempts
             WHERE mission = ?1 ORDER BY task, attempt",
            &[&id]
        ),
        [
            "a|1|builder|succeeded|NULL|2000|attempts/a/1",
            "b|1|builder|failed|1|2500|attempts/b/1",
            "b|2|fixer|failed|2|700|attempts/b/2",
        ]
    );
    assert_eq!(
        raw.rows(
            "SELECT kind, tasks, options, CASE WHEN resolved_at IS NULL THEN 0 ELSE 1 END
             FROM escalations WHERE mission = ?1 AND id = 1",
            &[&id]
        ),
        // Resuming dispatch settles the escalation.
        [r#"failure-rate|["b"]|["skip","abort"]|1"#]
    );

    // Every event row names its type and task as the body says.
    for row in raw.rows(
        "SELECT type, task, body FROM events WHERE mission = ?1 ORDER BY seq",
        &[&id],
    ) {
        let mut columns = row.splitn(3, '|');
        let (kind, task, body) = (
            columns.next().unwrap(),
            columns.next().unwrap(),
            columns.next().unwrap(),
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["type"], kind);
        assert_eq!(body["task"].as_str().unwrap_or("NULL"), task);
    }
}
}

both! {
fn everything_is_there_after_reopening(db) {
    let (id, events, missions, agents) = {
        let mut store = db.open();
        let id = run_small_mission(&mut *store);
        store.create_mission(&abc(), at(20)).unwrap();
        (
            id.clone(),
            store.events(&id, 0).unwrap(),
            store.missions().unwrap(),
            store.agent_records().unwrap(),
        )
    };
    let mut store = db.open();
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
}

both! {
fn an_unreadable_event_is_named(db) {
    let mut store = db.open();
    let id = run_small_mission(&mut *store);
    db.raw().execute(
        "UPDATE events SET body = '{\"type\":\"no_such_event\"}' WHERE mission = ?1 AND seq = 3",
        &[&id],
    );
    match store.events(&id, 0) {
        Err(error @ Error::BadEvent { seq: 3, .. }) => assert!(error.hint().is_some()),
        other => panic!("{other:?}"),
    }
    // Events after it can still be read.
    assert_eq!(store.events(&id, 3).unwrap().len(), 17);
}
}

both! {
fn missions_are_listed_newest_first_and_found_by_id_or_name(db) {
    let mut store = db.open();
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
}

both! {
fn a_second_lock_is_refused_with_the_holder_until_the_first_is_dropped(db) {
    let mut store = db.open();
    let id = store.create_mission(&abc(), at(0)).unwrap();
    let other = store.create_mission(&abc(), at(1)).unwrap();

    let held = store.lock(&id).unwrap();
    // Another handle on the same database, as a second `techlead run`.
    let second = db.open();
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
    assert!(second.is_locked(&id).unwrap());
    // Other missions are not held.
    assert!(!second.is_locked(&other).unwrap());
    let _other = second.lock(&other).unwrap();

    drop(held);
    assert!(!second.is_locked(&id).unwrap());
    let _again = second.lock(&id).unwrap();
    assert!(matches!(store.lock(&id), Err(Error::Locked { .. })));
    assert!(matches!(store.lock("nope-1"), Err(Error::NoSuchMission(_))));
}
}

both! {
fn a_lock_held_by_another_process_names_it_and_dies_with_it(db) {
    let mut store = db.open();
    let id = store.create_mission(&abc(), at(0)).unwrap();

    let mut helper = Helper::start("lock", &db.location, &id);
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
}

both! {
fn a_writer_killed_mid_append_loses_nothing_it_committed(db) {
    let mut store = db.open();
    let id = store.create_mission(&abc(), at(0)).unwrap();
    store.append(&id, 1, batches()[0].clone()).unwrap();
    drop(store);

    for round in 0..3 {
        let mut helper = Helper::start("append", &db.location, &id);
        let mut committed = 0;
        for _ in 0..(3 + round * 4) {
            committed = helper.wait_for("committed ").parse::<u64>().unwrap();
        }
        helper.kill();

        let store = db.open();
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
}

both! {
fn a_transaction_that_never_commits_leaves_the_data_as_it_was(db) {
    let mut store = db.open();
    let id = run_small_mission(&mut *store);
    let before = store.events(&id, 0).unwrap();
    {
        db.raw().abandon(&[
            ("DELETE FROM events WHERE mission = ?1 AND seq > 2", &[&id]),
            ("UPDATE missions SET last_seq = 2", &[]),
        ]);
    }
    drop(store);
    let store = db.open();
    assert_eq!(store.events(&id, 0).unwrap(), before);
    assert_eq!(store.find_mission(&id).unwrap().unwrap().last_seq, 20);
}
}

both! {
/// A claim moves the task to `queued`, its start to `running`; a claim
/// given back leaves the task where it was before it, with no attempt row.
fn claims_and_withdrawals_move_the_task_rows(db) {
    let mut store = db.open();
    let id = store.create_mission(&abc(), at(0)).unwrap();
    let mut raw = db.raw();
    let mut row = |task: &str| -> String {
        raw.rows(
            "SELECT status, attempts,
                    (SELECT COUNT(*) FROM attempts WHERE mission = ?1 AND task = ?2)
             FROM tasks WHERE mission = ?1 AND id = ?2",
            &[&id, task],
        )
        .remove(0)
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
    assert_eq!(row("b"), "retrying|1|1");
    let claim = &rest[0][..1];
    last = store.append(&id, last, claim.to_vec()).unwrap()[0].seq;
    assert_eq!(row("b"), "queued|2|2");
    store.append(&id, last, rest[0][1..].to_vec()).unwrap();
    assert_eq!(row("b"), "running|2|2");
    let started = db.raw().rows(
        "SELECT CASE WHEN started_at IS NULL THEN 0 ELSE 1 END FROM attempts
         WHERE mission = ?1 AND task = 'b' AND attempt = 2",
        &[&id],
    );
    assert_eq!(started, ["1"]);
}
}

both! {
/// An attempt that starts and finishes within one append writes its start
/// with its finish (one statement each on its row and its task's): the
/// projections come out as if every event had had an append of its own.
fn one_append_projects_what_many_appends_do(db) {
    let mut store = db.open();
    let whole = store.create_mission(&abc(), at(0)).unwrap();
    let all: Vec<_> = batches().into_iter().flatten().collect();
    store.append(&whole, 1, all).unwrap();
    let apart = store.create_mission(&abc(), at(0)).unwrap();
    let mut last = 1;
    for event in batches().into_iter().flatten() {
        last = store.append(&apart, last, vec![event]).unwrap()[0].seq;
    }
    let mut raw = db.raw();
    let mut rows = |mission: &str| {
        let attempts = raw.rows(
            "SELECT task, attempt, agent, queued_at, COALESCE(started_at, '-'),
                    COALESCE(finished_at, '-'), COALESCE(outcome, '-'), COALESCE(message, '-'),
                    COALESCE(duration_ms, -1)
             FROM attempts WHERE mission = ?1 ORDER BY task, attempt",
            &[mission],
        );
        let tasks = raw.rows(
            "SELECT id, status, attempts, agent, COALESCE(blocked_by, '-'), COALESCE(summary, '-')
             FROM tasks WHERE mission = ?1 ORDER BY position",
            &[mission],
        );
        (attempts, tasks)
    };
    let (whole_attempts, whole_tasks) = rows(&whole);
    let (apart_attempts, apart_tasks) = rows(&apart);
    assert_eq!(whole_attempts, apart_attempts);
    assert_eq!(whole_tasks, apart_tasks);
    // Attempts did start and finish in the one append, so there were
    // starts to write with their finishes.
    let both_times = db.raw().rows(
        "SELECT COUNT(*) FROM attempts
         WHERE mission = ?1 AND started_at IS NOT NULL AND finished_at IS NOT NULL",
        &[&whole],
    );
    assert_ne!(both_times, ["0"], "{whole_attempts:?}");
}
}

/// The full name of `child_process_helper` in this test binary: its
/// module path without the binary's own name.
fn helper_test_name() -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    format!("{module}::child_process_helper")
}

/// Runs this test binary again as a helper process (see
/// `child_process_helper`), killed when dropped.
struct Helper {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Helper {
    fn start(job: &str, db: &str, mission: &str) -> Helper {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                &helper_test_name(),
                "--nocapture",
                "--test-threads=1",
            ])
            .env("TECHLEAD_STORE_TEST_HELPER", job)
            .env("TECHLEAD_STORE_TEST_DB", db)
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
    let db = std::env::var("TECHLEAD_STORE_TEST_DB").unwrap();
    let mission = std::env::var("TECHLEAD_STORE_TEST_MISSION").unwrap();
    let mut store = techlead_store::open(&db).unwrap();
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

both! {
/// A split task waits again, its parts join the mission after the last
/// task on its agent, and the mission counts them.
fn a_split_adds_its_parts_after_the_last_task(db) {
    let mut store = db.open();
    let id = store.create_mission(&abc(), at(0)).unwrap();
    let parts = ["b-1", "b-2"]
        .map(|part| techlead_core::state::TaskPart {
            id: part.to_string(),
            title: format!("Half of b: {part}"),
        })
        .to_vec();
    store
        .append(
            &id,
            1,
            vec![(
                at(1),
                Event::TaskSplit {
                    task: "b".to_string(),
                    parts,
                },
            )],
        )
        .unwrap();
    assert_eq!(store.find_mission(&id).unwrap().unwrap().tasks, 5);
    assert_eq!(
        db.raw().rows(
            "SELECT id, position, title, agent, status FROM tasks
             WHERE mission = ?1 ORDER BY position",
            &[&id]
        ),
        [
            "a|0|Do a|builder|pending",
            "b|1|Do b|builder|pending",
            "c|2|Do c|builder|pending",
            "b-1|3|Half of b: b-1|builder|pending",
            "b-2|4|Half of b: b-2|builder|pending",
        ]
    );
}
}
