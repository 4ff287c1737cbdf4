//! The mission actor end to end: a real SQLite store, real child
//! processes, the real command executor. Each test states a mission and
//! checks what the record says happened.

use std::sync::Arc;
use std::time::Duration;
use techlead_core::Priority;
use techlead_core::state::{
    AttemptOutcome, Event, EventRecord, MissionPlan, MissionState, MissionStatus, PhasePlan,
    TaskPlan, TaskStatus,
};
use techlead_engine::executor::command::CommandExecutor;
use techlead_engine::mission::{Error, Mission, Settings, observer};
use techlead_store::Store;
use techlead_store::sqlite::SqliteStore;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.dir.path().join("techlead.db")).unwrap()
    }

    fn settings(&self) -> Settings {
        Settings {
            data_dir: self.dir.path().to_path_buf(),
            executors: vec![Arc::new(
                CommandExecutor::new().with_grace(Duration::from_millis(200)),
            )],
            gate_grace: Duration::from_millis(200),
            workers: None,
        }
    }

    fn plan(&self, tasks: Vec<TaskPlan>) -> MissionPlan {
        MissionPlan {
            name: "test".into(),
            source: "mission.yaml".into(),
            source_hash: "0".into(),
            workdir: self.dir.path().display().to_string(),
            max_parallel: 4,
            failure_threshold: 0.5,
            backoff_ms: vec![10],
            tasks,
            ..Default::default()
        }
    }

    fn create(&self, plan: &MissionPlan) -> String {
        self.store()
            .create_mission(plan, jiff::Timestamp::now())
            .unwrap()
    }

    async fn run(&self, id: &str) -> MissionStatus {
        let mission = Mission::open(self.store(), id, self.settings(), observer(|_, _, _| {}))
            .unwrap_or_else(|e| panic!("cannot open {id}: {e:?}"));
        tokio::time::timeout(Duration::from_secs(60), mission.run())
            .await
            .expect("the run ends")
            .unwrap()
    }

    fn events(&self, id: &str) -> Vec<EventRecord> {
        self.store().events(id, 0).unwrap()
    }

    fn state(&self, id: &str) -> MissionState {
        MissionState::replay(&self.events(id)).unwrap()
    }
}

fn task(id: &str, depends_on: &[&str], script: &str) -> TaskPlan {
    TaskPlan {
        id: id.into(),
        title: format!("task {id}"),
        priority: Priority::Medium,
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        agent: "worker".into(),
        executor: "command".into(),
        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        timeout_ms: 30_000,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mission_runs_to_success_in_dependency_order() {
    let f = Fixture::new();
    let plan = f.plan(vec![
        task("A", &[], "echo A >> order"),
        task("B", &["A"], "echo B >> order"),
        task("C", &["B"], "echo C >> order; echo '::summary all done'"),
    ]);
    let id = f.create(&plan);
    assert_eq!(f.run(&id).await, MissionStatus::Succeeded);
    let order = std::fs::read_to_string(f.dir.path().join("order")).unwrap();
    assert_eq!(order, "A\nB\nC\n");
    let state = f.state(&id);
    assert_eq!(state.count(TaskStatus::Succeeded), 3);
    assert_eq!(state.tasks[2].reports.summary.as_deref(), Some("all done"));
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_then_the_backup_then_failure_blocks_dependents_only() {
    let f = Fixture::new();
    let mut flaky = task(
        "FLAKY",
        &[],
        "echo \"$TECHLEAD_AGENT $TECHLEAD_ATTEMPT\" >> tries; exit 1",
    );
    flaky.retries = 1;
    flaky.detail.backup = Some("rescuer".into());
    let plan = f.plan(vec![
        flaky,
        task("AFTER", &["FLAKY"], "true"),
        task("LATER", &["AFTER"], "true"),
        task("INDEPENDENT", &[], "true"),
    ]);
    let id = f.create(&plan);
    assert_eq!(f.run(&id).await, MissionStatus::Failed);
    let tries = std::fs::read_to_string(f.dir.path().join("tries")).unwrap();
    // Two attempts on the agent (one retry), then two on the backup.
    assert_eq!(tries, "worker 1\nworker 2\nrescuer 3\nrescuer 4\n");
    let state = f.state(&id);
    let status = |id: &str| state.tasks[state.task_index(id).unwrap()].status;
    assert_eq!(status("FLAKY"), TaskStatus::Failed);
    assert_eq!(status("AFTER"), TaskStatus::Blocked);
    assert_eq!(status("LATER"), TaskStatus::Blocked);
    assert_eq!(status("INDEPENDENT"), TaskStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_failures_pause_dispatch_and_raise_an_escalation() {
    let f = Fixture::new();
    // One at a time, the critical tasks first: both fail before OK starts.
    let mut plan = f.plan(vec![
        task("OK", &[], "true"),
        task("WAITS", &["OK"], "echo ran > waits"),
        task("F1", &[], "exit 1"),
        task("F2", &[], "exit 1"),
    ]);
    plan.tasks[2].priority = Priority::Critical;
    plan.tasks[3].priority = Priority::Critical;
    plan.max_parallel = 1;
    let id = f.create(&plan);
    assert_eq!(f.run(&id).await, MissionStatus::Paused);
    let events = f.events(&id);
    assert!(
        events
            .iter()
            .any(|r| matches!(&r.event, Event::EscalationRaised { tasks, .. } if tasks.len() == 2))
    );
    let state = f.state(&id);
    assert_eq!(state.status, MissionStatus::Paused);
    assert!(
        !f.dir.path().join("waits").exists(),
        "nothing is dispatched after the pause"
    );
    // Resuming is the person's decision to go on: the rest runs.
    assert_eq!(f.run(&id).await, MissionStatus::Failed);
    assert!(f.dir.path().join("waits").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_phase_gate_blocks_the_next_phase() {
    let f = Fixture::new();
    let mut first = task("FIRST", &[], "true");
    first.detail.phase = Some(0);
    let mut second = task("SECOND", &[], "echo ran > second");
    second.detail.phase = Some(1);
    let mut plan = f.plan(vec![first, second]);
    plan.phases = vec![
        PhasePlan {
            name: "one".into(),
            gates: vec!["test -f missing-file".into()],
        },
        PhasePlan {
            name: "two".into(),
            gates: Vec::new(),
        },
    ];
    let id = f.create(&plan);
    assert_eq!(f.run(&id).await, MissionStatus::Failed);
    let state = f.state(&id);
    assert_eq!(state.tasks[1].status, TaskStatus::Blocked);
    assert_eq!(state.tasks[1].blocked_by.as_deref(), Some("phase:one"));
    assert!(!f.dir.path().join("second").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_are_never_exceeded() {
    let f = Fixture::new();
    let tasks: Vec<TaskPlan> = (0..12)
        .map(|i| {
            let mut t = task(&format!("T{i}"), &[], "sleep 0.05");
            t.agent = if i % 2 == 0 {
                "even".into()
            } else {
                "odd".into()
            };
            t
        })
        .collect();
    let mut plan = f.plan(tasks);
    plan.max_parallel = 3;
    plan.agent_limits = vec![("even".into(), 1)];
    let id = f.create(&plan);
    assert_eq!(f.run(&id).await, MissionStatus::Succeeded);
    let (mut running, mut even, mut peak, mut peak_even) = (0, 0, 0, 0);
    for record in f.events(&id) {
        match &record.event {
            Event::AttemptStarted { task, .. } => {
                running += 1;
                let number: usize = task[1..].parse().unwrap();
                even += usize::from(number.is_multiple_of(2));
            }
            Event::AttemptFinished { task, .. } => {
                running -= 1;
                let number: usize = task[1..].parse().unwrap();
                even -= usize::from(number.is_multiple_of(2));
            }
            _ => {}
        }
        peak = peak.max(running);
        peak_even = peak_even.max(even);
    }
    assert_eq!(peak, 3);
    assert_eq!(peak_even, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupt_cancels_attempts_and_resume_finishes_the_mission() {
    let f = Fixture::new();
    let plan = f.plan(vec![
        task(
            "SLOW",
            &[],
            "if [ \"$TECHLEAD_ATTEMPT\" = 1 ]; then sleep 30; fi; echo done > slow",
        ),
        task("NEXT", &["SLOW"], "true"),
    ]);
    let id = f.create(&plan);
    let (started, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let observer = observer(move |record: &EventRecord, _: &_, _: &MissionState| {
        if matches!(record.event, Event::AttemptStarted { .. }) {
            let _ = started.send(());
        }
    });
    let mission = Mission::open(f.store(), &id, f.settings(), observer).unwrap();
    let interrupter = mission.interrupter();
    let run = tokio::spawn(mission.run());
    seen.recv().await.unwrap();
    interrupter.interrupt();
    let status = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(status, MissionStatus::Interrupted);
    let state = f.state(&id);
    assert_eq!(
        state.tasks[0].attempts[0].outcome,
        Some(AttemptOutcome::Cancelled)
    );
    assert_eq!(state.tasks[0].status, TaskStatus::Pending);
    assert_eq!(f.run(&id).await, MissionStatus::Succeeded);
    assert_eq!(f.state(&id).tasks[0].attempts.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_writer_is_refused_and_a_finished_mission_is_not_rerun() {
    let f = Fixture::new();
    let plan = f.plan(vec![task("A", &[], "true")]);
    let id = f.create(&plan);
    let first = Mission::open(f.store(), &id, f.settings(), observer(|_, _, _| {})).unwrap();
    let second = Mission::open(f.store(), &id, f.settings(), observer(|_, _, _| {}));
    assert!(matches!(
        second,
        Err(Error::Store(techlead_store::Error::Locked { .. }))
    ));
    assert_eq!(first.run().await.unwrap(), MissionStatus::Succeeded);
    let again = Mission::open(f.store(), &id, f.settings(), observer(|_, _, _| {}));
    assert!(matches!(again, Err(Error::Finished(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_executor_is_refused_before_anything_runs() {
    let f = Fixture::new();
    let mut plan = f.plan(vec![task("A", &[], "true"), task("B", &[], "true")]);
    plan.tasks[1].executor = "claude-code".into();
    let id = f.create(&plan);
    let opened = Mission::open(f.store(), &id, f.settings(), observer(|_, _, _| {}));
    match opened {
        Err(Error::NoExecutor { executor, tasks }) => {
            assert_eq!(executor, "claude-code");
            assert_eq!(tasks, ["B"]);
        }
        other => panic!("expected NoExecutor, got {:?}", other.err()),
    }
    assert_eq!(f.events(&id).len(), 1, "nothing was recorded");
}

/// `run` builds the state of a mission it has just recorded from the plan
/// in hand; it must be exactly the state the record replays to.
#[tokio::test(flavor = "current_thread")]
async fn a_just_created_mission_has_the_state_its_record_replays_to() {
    let f = Fixture::new();
    let plan = f.plan(vec![task("A", &[], "true"), task("B", &["A"], "true")]);
    let mut store = f.store();
    let at = jiff::Timestamp::now();
    let id = store.create_mission(&plan, at).unwrap();
    let mission =
        Mission::open_created(store, &id, plan, at, f.settings(), observer(|_, _, _| {})).unwrap();
    // The run's start is staged, to be committed with the first claims.
    let mut replayed = f.state(&id);
    replayed
        .apply(&EventRecord {
            seq: 2,
            at: mission.state().last_event_at,
            event: Event::RunStarted {
                run: 1,
                pid: std::process::id(),
                host: String::new(),
            },
        })
        .unwrap();
    assert_eq!(mission.state(), &replayed);
    assert_eq!(mission.run().await.unwrap(), MissionStatus::Succeeded);
    assert_eq!(f.state(&id).status, MissionStatus::Succeeded);
}

/// A provider's rate limit pauses the executor for every task on it, and
/// nothing fails: each task runs again once the limit resets, without
/// using a retry (these tasks have none).
#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_pauses_the_executor_and_no_task_fails() {
    let f = Fixture::new();
    // Every task's first attempt is refused until one second from now.
    let limited = "if [ \"$TECHLEAD_ATTEMPT\" = 1 ]; then \
         printf '{\"status\":\"rate_limited\",\"retry_at\":\"%s\",\"message\":\"429 slow down\"}' \
         \"$(date -u -d '+1 second' +%Y-%m-%dT%H:%M:%SZ)\" > \"$TECHLEAD_RESULT\"; exit 1; fi; \
         echo \"$TECHLEAD_TASK\" >> done";
    let tasks: Vec<TaskPlan> = (0..6)
        .map(|i| task(&format!("T{i}"), &[], limited))
        .collect();
    let id = f.create(&f.plan(tasks));
    assert_eq!(f.run(&id).await, MissionStatus::Succeeded);

    let state = f.state(&id);
    assert_eq!(state.count(TaskStatus::Succeeded), 6);
    let done = std::fs::read_to_string(f.dir.path().join("done")).unwrap();
    assert_eq!(done.lines().count(), 6, "each task did its work once");
    let events = f.events(&id);
    let paused: Vec<_> = events
        .iter()
        .filter_map(|r| match &r.event {
            Event::ExecutorPaused {
                executor, reason, ..
            } => Some((executor.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    assert!(!paused.is_empty());
    assert!(
        paused
            .iter()
            .all(|(e, r)| e == "command" && r == "429 slow down")
    );
    for (t, task) in state.tasks.iter().enumerate() {
        let outcomes: Vec<_> = task.attempts.iter().map(|a| a.outcome.clone()).collect();
        assert!(
            outcomes.iter().all(|o| !o.as_ref().unwrap().is_failure()),
            "task {t} has a failed attempt: {outcomes:?}"
        );
        assert!(matches!(
            outcomes[0],
            Some(AttemptOutcome::RateLimited { .. })
        ));
    }
    // No attempt started while the executor was paused.
    let mut paused_until = None;
    for record in &events {
        match &record.event {
            Event::ExecutorPaused { until, .. } => paused_until = Some(*until),
            Event::AttemptStarted { .. } => {
                if let Some(until) = paused_until {
                    assert!(
                        record.at >= until,
                        "started at {} before {until}",
                        record.at
                    );
                }
            }
            _ => {}
        }
    }
}

/// Credentials or quota the agent lacks cannot be fixed by retrying: the
/// mission pauses with an escalation, and the task is not failed.
#[tokio::test(flavor = "multi_thread")]
async fn an_attempt_that_needs_the_person_pauses_with_an_escalation() {
    let f = Fixture::new();
    let refused = "printf '{\"status\":\"needs_person\",\"message\":\"Invalid API key\"}' > \"$TECHLEAD_RESULT\"; exit 1";
    let mut key = task("KEY", &[], refused);
    key.retries = 3;
    let id = f.create(&f.plan(vec![key]));
    assert_eq!(f.run(&id).await, MissionStatus::Paused);
    let state = f.state(&id);
    assert_eq!(state.tasks[0].status, TaskStatus::Pending);
    assert_eq!(state.tasks[0].attempts.len(), 1, "not retried");
    let raised = f.events(&id).into_iter().find_map(|r| match r.event {
        Event::EscalationRaised { kind, message, .. } => Some((kind, message)),
        _ => None,
    });
    let (kind, message) = raised.expect("an escalation");
    assert_eq!(kind, techlead_core::state::EscalationKind::NeedsPerson);
    assert!(message.contains("Invalid API key"), "{message}");
}
