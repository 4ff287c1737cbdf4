//! The work queue on a real PostgreSQL server: claims race with
//! `SKIP LOCKED` and each attempt goes to one worker, labels and
//! executors route, an expired lease fences the late worker out, a
//! cancelled attempt stops, and a coordinator taking over keeps what is
//! live and expires the rest.

use crate::support;

use std::sync::{Arc, Barrier};
use support::mission::{abc, at};
use techlead_store::postgres::{Lease, NewWork, PgQueue, WorkKey, WorkState};

const LEASE: u64 = 60_000;

/// A database with mission `ship-1` recorded, and a queue on it.
fn queue() -> Option<(String, PgQueue)> {
    let db = support::Fixture::postgres()?;
    let mut store = db.open();
    let id = store.create_mission(&abc(), at(0)).unwrap();
    assert_eq!(id, "ship-1");
    let queue = PgQueue::open(&db.location).unwrap();
    Some((db.location, queue))
}

fn work(task: &str, attempt: u32, executor: &str, labels: &[&str]) -> NewWork {
    NewWork {
        key: WorkKey {
            mission: "ship-1".into(),
            task: task.into(),
            attempt,
        },
        executor: executor.into(),
        labels: labels.iter().map(|l| l.to_string()).collect(),
        spec: format!("{{\"task\":\"{task}\"}}"),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn racing_workers_each_get_different_work_and_all_of_it_is_taken() {
    let Some((url, queue)) = queue() else { return };
    let tasks: Vec<String> = (0..200).map(|i| format!("T{i}")).collect();
    queue
        .enqueue(tasks.iter().map(|t| work(t, 1, "command", &[])).collect())
        .unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let queue = PgQueue::open(&url).unwrap();
                barrier.wait();
                let mut mine = Vec::new();
                loop {
                    let claims = queue
                        .claim(&format!("w{w}"), &strings(&["command"]), &[], LEASE, 3)
                        .unwrap();
                    if claims.is_empty() {
                        return mine;
                    }
                    mine.extend(claims.into_iter().map(|c| c.key.task));
                }
            })
        })
        .collect();
    let claimed: Vec<Vec<String>> = workers.into_iter().map(|t| t.join().unwrap()).collect();
    let mut all: Vec<String> = claimed.concat();
    all.sort();
    let mut expected = tasks.clone();
    expected.sort();
    assert_eq!(all, expected, "every attempt claimed exactly once");
}

#[test]
fn a_worker_takes_only_work_its_executors_and_labels_cover_oldest_first() {
    let Some((_, queue)) = queue() else { return };
    queue
        .enqueue(vec![
            work("gpu", 1, "command", &["gpu"]),
            work("claude", 1, "claude-code", &[]),
            work("plain", 1, "command", &[]),
            work("both", 1, "command", &["gpu", "linux"]),
        ])
        .unwrap();
    let tasks = |executors: &[&str], labels: &[&str]| -> Vec<String> {
        queue
            .claim("w", &strings(executors), &strings(labels), LEASE, 10)
            .unwrap()
            .into_iter()
            .map(|c| c.key.task)
            .collect()
    };
    assert_eq!(tasks(&["command"], &[]), ["plain"]);
    assert_eq!(tasks(&["command"], &["linux"]), Vec::<String>::new());
    let mut gpu = tasks(&["command"], &["gpu", "linux"]);
    gpu.sort();
    assert_eq!(gpu, ["both", "gpu"]);
    assert_eq!(tasks(&["claude-code", "command"], &[]), ["claude"]);
}

#[test]
fn messages_are_read_once_in_order_and_the_end_closes_the_attempt() {
    let Some((_, queue)) = queue() else { return };
    queue.enqueue(vec![work("A", 1, "command", &[])]).unwrap();
    let claim = queue
        .claim("w", &strings(&["command"]), &[], LEASE, 1)
        .unwrap()
        .remove(0);
    assert!(
        queue
            .send(claim.token, strings(&["p1", "p2"]), false, LEASE)
            .unwrap()
    );
    let polled = queue.poll("ship-1").unwrap();
    let bodies: Vec<(u64, &str)> = polled
        .messages
        .iter()
        .map(|m| (m.n, m.body.as_str()))
        .collect();
    assert_eq!(bodies, [(1, "p1"), (2, "p2")]);
    assert!(
        queue.poll("ship-1").unwrap().messages.is_empty(),
        "read once"
    );

    assert!(
        queue
            .send(claim.token, strings(&["end"]), true, LEASE)
            .unwrap()
    );
    let polled = queue.poll("ship-1").unwrap();
    assert_eq!(polled.messages[0].body, "end");
    assert_eq!(polled.messages[0].n, 3);
    assert!(
        !queue
            .send(claim.token, strings(&["late"]), false, LEASE)
            .unwrap()
    );
    assert_eq!(
        queue.heartbeat(vec![claim.token], LEASE).unwrap(),
        [(claim.token, Lease::Lost)]
    );
}

#[test]
fn an_expired_lease_is_given_back_and_the_late_worker_is_refused() {
    let Some((_, queue)) = queue() else { return };
    queue.enqueue(vec![work("A", 1, "command", &[])]).unwrap();
    let claim = queue
        .claim("w", &strings(&["command"]), &[], 1, 1)
        .unwrap()
        .remove(0);
    // A lease of 1 ms has run out by the next statement.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let polled = queue.poll("ship-1").unwrap();
    assert_eq!(polled.expired, [("A".to_string(), 1)]);
    assert!(
        !queue
            .send(claim.token, strings(&["late end"]), true, LEASE)
            .unwrap()
    );
    assert!(queue.poll("ship-1").unwrap().messages.is_empty());
    assert_eq!(
        queue.heartbeat(vec![claim.token], LEASE).unwrap(),
        [(claim.token, Lease::Lost)]
    );
}

#[test]
fn cancelling_stops_a_claimed_attempt_and_withdraws_an_unclaimed_one() {
    let Some((_, queue)) = queue() else { return };
    queue
        .enqueue(vec![
            work("A", 1, "command", &[]),
            work("B", 1, "command", &["gpu"]),
        ])
        .unwrap();
    let claim = queue
        .claim("w", &strings(&["command"]), &[], LEASE, 5)
        .unwrap()
        .remove(0);
    let never = queue
        .cancel("ship-1", vec![("A".into(), 1), ("B".into(), 1)])
        .unwrap();
    assert_eq!(never, [("B".to_string(), 1)]);
    assert_eq!(
        queue.heartbeat(vec![claim.token], LEASE).unwrap(),
        [(claim.token, Lease::Held { cancel: true })]
    );
    let gpu = queue
        .claim("g", &strings(&["command"]), &strings(&["gpu"]), LEASE, 5)
        .unwrap();
    assert!(gpu.is_empty(), "a cancelled attempt is not claimed");
}

#[test]
fn a_coordinator_taking_over_keeps_live_work_and_fences_the_rest() {
    let Some((_, queue)) = queue() else { return };
    queue
        .enqueue(vec![
            work("A", 1, "command", &[]),
            work("B", 1, "command", &[]),
            work("C", 1, "command", &[]),
        ])
        .unwrap();
    let claims = queue
        .claim("w", &strings(&["command"]), &[], LEASE, 2)
        .unwrap();
    let token = |task: &str| claims.iter().find(|c| c.key.task == task).unwrap().token;
    assert!(
        queue
            .send(token("A"), strings(&["a1", "a2", "a3"]), false, LEASE)
            .unwrap()
    );
    let mut live = queue.live("ship-1").unwrap();
    live.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        live,
        [
            ("A".to_string(), 1, WorkState::Claimed),
            ("B".to_string(), 1, WorkState::Claimed),
            ("C".to_string(), 1, WorkState::Queued),
        ]
    );
    // The record holds A's first message; B is not kept.
    queue
        .take_over("ship-1", vec![("A".into(), 1, 1), ("C".into(), 1, 0)])
        .unwrap();
    let bodies: Vec<String> = queue
        .poll("ship-1")
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, ["a2", "a3"]);
    assert!(
        !queue
            .send(token("B"), strings(&["b"]), true, LEASE)
            .unwrap()
    );
    let c = queue
        .claim("w2", &strings(&["command"]), &[], LEASE, 5)
        .unwrap();
    assert_eq!(
        c.iter().map(|c| c.key.task.as_str()).collect::<Vec<_>>(),
        ["C"]
    );
}
