//! A small mission and the batches of events one scheduler would append
//! for it, shared by the store's tests.

use jiff::Timestamp;
use techlead_core::Priority;
use techlead_core::state::{
    AttemptOutcome, EscalationKind, Event, MissionPlan, MissionStatus, NextStep, Report, TaskPlan,
};
use techlead_core::state::{Rare, TaskDetail};
use techlead_store::Store;

pub fn plan(name: &str, tasks: &[(&str, &[&str])]) -> MissionPlan {
    MissionPlan {
        name: name.to_string(),
        objective: format!("finish {name}"),
        source: format!("{name}.yaml"),
        source_hash: "0123abcd".to_string(),
        workdir: ".".to_string(),
        max_parallel: 2,
        failure_threshold: 0.5,
        backoff_ms: vec![10, 20],
        executor_limits: vec![("command".to_string(), 4)],
        tasks: tasks
            .iter()
            .map(|(id, deps)| TaskPlan {
                id: id.to_string(),
                title: format!("Do {id}"),
                priority: Priority::High,
                depends_on: deps.iter().map(|d| d.to_string()).collect(),
                agent: "builder".to_string(),
                executor: "command".to_string(),
                command: Some(vec!["true".to_string()]),
                timeout_ms: 1_000,
                retries: 1,
                remaining_hours: 1.5,
                detail: Rare::of(TaskDetail {
                    backup: Some("fixer".to_string()),
                    estimate_hours: Some(1.5),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// `a`, `b`, and `c` after `b`.
pub fn abc() -> MissionPlan {
    plan("ship", &[("a", &[]), ("b", &[]), ("c", &["b"])])
}

/// A time `s` seconds (and some nanoseconds, to check they survive) after
/// a fixed start.
pub fn at(s: i64) -> Timestamp {
    Timestamp::new(1_800_000_000 + s, 123_456_789).unwrap()
}

pub fn queued(task: &str, attempt: u32, agent: &str) -> Event {
    Event::AttemptQueued {
        task: task.to_string(),
        attempt,
        agent: agent.to_string(),
        executor: "command".to_string(),
        dir: format!("attempts/{task}/{attempt}"),
    }
}

pub fn started(task: &str, attempt: u32) -> Event {
    Event::AttemptStarted {
        task: task.to_string(),
        attempt,
    }
}

pub fn finished(
    task: &str,
    attempt: u32,
    outcome: AttemptOutcome,
    ms: u64,
    next: NextStep,
) -> Event {
    Event::AttemptFinished {
        task: task.to_string(),
        attempt,
        outcome,
        duration_ms: ms,
        next,
    }
}

pub fn failed(code: i32) -> AttemptOutcome {
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
pub fn batches() -> Vec<Vec<(Timestamp, Event)>> {
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

/// Creates `abc` and appends every batch; returns the mission ID.
pub fn run_small_mission(store: &mut dyn Store) -> String {
    let id = store.create_mission(&abc(), at(0)).unwrap();
    let mut last = 1;
    for batch in batches() {
        let records = store.append(&id, last, batch).unwrap();
        last = records.last().unwrap().seq;
    }
    id
}
