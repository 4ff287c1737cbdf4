//! The event-sourced mission state (`techlead_core::state`, DESIGN
//! decisions 1 and 4): the fold walked through realistic missions, every
//! rejection path, and property tests over random plans and event logs.
//!
//! The `bug_*` tests pin down rules the first version of the fold did not
//! enforce (found by the property tests below); they guard the fixes.

use jiff::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use techlead_core::state::{
    AttemptOutcome, Decision, DoneItem, DoneState, EscalationKind, Event, EventRecord, GatePlan,
    MergeStrategy, MissionPlan, MissionState, MissionStatus, NextStep, PhasePlan, PlanError,
    Report, RepositoryPlan, StateError, TaskPlan, TaskState, TaskStatus,
};
use techlead_core::state::{Rare, TaskDetail};
use techlead_core::{Priority, dispatch};

// ---------------------------------------------------------------------------
// Plans, events and a small harness.

const EPOCH: i64 = 1_750_000_000;

/// `secs` seconds after a fixed instant.
fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(EPOCH + secs).unwrap()
}

fn task(id: &str, depends_on: &[&str], phase: Option<usize>) -> TaskPlan {
    TaskPlan {
        id: id.to_string(),
        title: format!("Do {id}"),
        priority: Priority::Medium,
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        agent: "coder".to_string(),
        executor: "command".to_string(),
        command: Some(vec!["true".to_string()]),
        timeout_ms: 60_000,
        retries: 2,
        detail: Rare::of(TaskDetail {
            phase,
            estimate_hours: Some(1.0),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn command_gate(run: &str) -> GatePlan {
    GatePlan::Command {
        name: run.to_string(),
        run: run.to_string(),
        timeout_ms: 60_000,
    }
}

fn repository(wip_limit: u32) -> RepositoryPlan {
    RepositoryPlan {
        path: "/repo".to_string(),
        base: "base".to_string(),
        branch: Some("main".to_string()),
        merge: MergeStrategy::Merge,
        resolver: None,
        escalate_conflicts: false,
        wip_limit,
    }
}

fn phase(name: &str, gates: &[&str]) -> PhasePlan {
    PhasePlan {
        name: name.to_string(),
        gates: gates.iter().map(|g| g.to_string()).collect(),
    }
}

fn plan(phases: Vec<PhasePlan>, tasks: Vec<TaskPlan>) -> MissionPlan {
    MissionPlan {
        name: "demo".to_string(),
        objective: "ship the demo".to_string(),
        source: "mission.yaml".to_string(),
        source_hash: "0123abcd".to_string(),
        workdir: ".".to_string(),
        max_parallel: 4,
        failure_threshold: 0.5,
        backoff_ms: vec![5_000, 15_000, 30_000],
        executor_limits: vec![("command".to_string(), 2)],
        phases,
        tasks,
        ..Default::default()
    }
}

fn run(run: u32) -> Event {
    run_started(run, 4242, "build-box")
}

/// `RunStarted`, built through serde so that fields added with a default
/// (such as `orphans_killed`) need no change here.
fn run_started(run: u32, pid: u32, host: &str) -> Event {
    serde_json::from_value(serde_json::json!({
        "type": "run_started",
        "run": run,
        "pid": pid,
        "host": host,
    }))
    .expect("a run_started event")
}

/// A claim of the next slot; [`Mission::ok`] also starts it, as the
/// engine does when the slot is free.
fn start(task: &str, attempt: u32) -> Event {
    start_on(task, attempt, "coder")
}

fn start_on(task: &str, attempt: u32, agent: &str) -> Event {
    Event::AttemptQueued {
        task: task.to_string(),
        attempt,
        agent: agent.to_string(),
        executor: "command".to_string(),
        dir: format!("attempts/{task}/{attempt}"),
    }
}

/// The claimed attempt takes its slot.
fn take_slot(task: &str, attempt: u32) -> Event {
    Event::AttemptStarted {
        task: task.to_string(),
        attempt,
    }
}

fn withdraw(task: &str, attempt: u32) -> Event {
    Event::AttemptWithdrawn {
        task: task.to_string(),
        attempt,
    }
}

fn finish(task: &str, attempt: u32, outcome: AttemptOutcome, next: NextStep) -> Event {
    Event::AttemptFinished {
        task: task.to_string(),
        attempt,
        outcome,
        duration_ms: 1_000,
        next,
    }
}

fn succeeded() -> AttemptOutcome {
    AttemptOutcome::Succeeded { summary: None }
}

fn failed() -> AttemptOutcome {
    AttemptOutcome::Failed {
        exit_code: Some(1),
        signal: None,
        message: "tests failed".to_string(),
    }
}

fn done(task: &str, attempt: u32) -> Event {
    finish(task, attempt, succeeded(), NextStep::Done)
}

fn retry(agent: &str, at: Timestamp) -> NextStep {
    NextStep::Retry {
        agent: agent.to_string(),
        at,
    }
}

fn progress(task: &str, attempt: u32, percent: Option<u8>, message: &str) -> Event {
    Event::AttemptProgress {
        task: task.to_string(),
        attempt,
        percent,
        message: message.to_string(),
    }
}

fn report(task: &str, attempt: u32, report: Report) -> Event {
    Event::AttemptReported {
        task: task.to_string(),
        attempt,
        report,
    }
}

fn gate(phase: usize, gate: &str, passed: bool) -> Event {
    Event::PhaseGateFinished {
        phase,
        gate: gate.to_string(),
        passed,
        exit_code: Some(if passed { 0 } else { 2 }),
        log: format!("gates/{phase}.log"),
    }
}

fn blocked(task: &str, by: &str) -> Event {
    Event::TaskBlocked {
        task: task.to_string(),
        by: by.to_string(),
    }
}

fn mission_finished(status: MissionStatus) -> Event {
    Event::MissionFinished { status }
}

fn done_checked(item: usize, passed: bool) -> Event {
    Event::DoneChecked {
        item,
        passed,
        exit_code: Some(if passed { 0 } else { 1 }),
        log: format!("runs/demo-1/done/item-{}/output.log", item + 1),
    }
}

/// A mission being driven event by event, with its log.
struct Mission {
    state: MissionState,
    log: Vec<EventRecord>,
    /// Seconds since `EPOCH` of the last event.
    clock: i64,
}

impl Mission {
    fn new(plan: MissionPlan) -> Mission {
        let record = EventRecord {
            seq: 1,
            at: ts(0),
            event: Event::MissionCreated {
                plan: Box::new(plan),
            },
        };
        let state = MissionState::created(&record).expect("the plan is valid");
        Mission {
            state,
            log: vec![record],
            clock: 0,
        }
    }

    fn next_record(&self, event: Event) -> EventRecord {
        EventRecord {
            seq: self.state.last_seq + 1,
            at: ts(self.clock + 1),
            event,
        }
    }

    /// Applies `event` one second after the last one; it must be accepted.
    /// A claim (`AttemptQueued`) is started at the same instant.
    #[track_caller]
    fn ok(&mut self, event: Event) -> &mut Mission {
        let started = match &event {
            Event::AttemptQueued { task, attempt, .. } => Some(take_slot(task, *attempt)),
            _ => None,
        };
        self.claim(event);
        if let Some(started) = started {
            self.clock -= 1;
            self.claim(started);
        }
        self
    }

    /// Applies `event` one second after the last one, as it is: a claim
    /// stays queued.
    #[track_caller]
    fn claim(&mut self, event: Event) -> &mut Mission {
        let record = self.next_record(event);
        if let Err(error) = self.state.apply(&record) {
            panic!("{:?} was rejected: {error}", record.event);
        }
        self.clock += 1;
        self.log.push(record);
        self
    }

    /// Applies `event`; it must be rejected and leave the state as it was.
    #[track_caller]
    fn rejects(&mut self, event: Event) -> StateError {
        let record = self.next_record(event);
        self.rejects_record(&record)
    }

    #[track_caller]
    fn rejects_record(&mut self, record: &EventRecord) -> StateError {
        let before = self.state.clone();
        let Err(error) = self.state.apply(record) else {
            panic!("{:?} was accepted", record.event);
        };
        assert_eq!(self.state, before, "a rejected event changed the state");
        error
    }

    fn wait(&mut self, secs: i64) -> &mut Mission {
        self.clock += secs;
        self
    }

    fn index(&self, id: &str) -> usize {
        self.state.task_index(id).expect("a task of the plan")
    }

    fn task(&self, id: &str) -> &TaskState {
        &self.state.tasks[self.index(id)]
    }

    fn status(&self, id: &str) -> TaskStatus {
        self.task(id).status
    }

    fn ids(&self, indices: impl IntoIterator<Item = usize>) -> Vec<&str> {
        indices
            .into_iter()
            .map(|t| self.state.plan.tasks[t].id.as_str())
            .collect()
    }

    /// Task IDs ready `secs` seconds after `EPOCH`.
    fn ready_at(&self, secs: i64) -> Vec<&str> {
        self.ids(self.state.ready(ts(secs)))
    }

    fn ready(&self) -> Vec<&str> {
        self.ready_at(self.clock)
    }

    fn newly_blocked(&self) -> Vec<(&str, String)> {
        self.state
            .newly_blocked()
            .into_iter()
            .map(|(t, by)| (self.state.plan.tasks[t].id.as_str(), by))
            .collect()
    }

    #[track_caller]
    fn assert_replays(&self) {
        let replayed = MissionState::replay(&self.log).expect("the log replays");
        assert_eq!(replayed, self.state, "replay differs from the live state");
    }
}

fn assert_mission_error(error: &StateError) {
    assert!(matches!(error, StateError::Mission(_)), "{error:?}");
}

// ---------------------------------------------------------------------------
// The fold through whole missions.

/// Phase 0 `build` (gates `make test`, `make lint`) holds a, b <- a and c;
/// phase 1 `ship` (gate `make smoke`) holds d <- b; e <- a has no phase.
fn phased_plan() -> MissionPlan {
    plan(
        vec![
            phase("build", &["make test", "make lint"]),
            phase("ship", &["make smoke"]),
        ],
        vec![
            task("a", &[], Some(0)),
            task("b", &["a"], Some(0)),
            task("c", &[], Some(0)),
            task("d", &["b"], Some(1)),
            task("e", &["a"], None),
        ],
    )
}

#[test]
fn a_phased_mission_goes_from_created_to_succeeded() {
    let mut m = Mission::new(phased_plan());
    assert_eq!(m.state.status, MissionStatus::Created);
    assert_eq!(m.state.runs, 0);
    assert_eq!(m.state.last_seq, 1);
    assert_eq!(m.state.created_at, ts(0));
    assert!(
        m.state
            .tasks
            .iter()
            .all(|t| t.status == TaskStatus::Pending)
    );
    assert_eq!(m.ready(), ["a", "c"]);
    assert!(m.state.gates_due().is_empty());
    assert!(!m.state.is_settled());
    assert_eq!(m.state.failure_rate(), 0.0);

    m.ok(run(1));
    assert_eq!(m.state.status, MissionStatus::Running);
    assert_eq!(m.state.runs, 1);

    m.ok(start("a", 1)).ok(start("c", 1));
    assert_eq!(m.status("a"), TaskStatus::Running);
    assert_eq!(m.ids(m.state.running()), ["a", "c"]);
    assert!(m.ready().is_empty(), "b and e wait for a, d for phase 0");
    let attempt = m.task("a").current_attempt().unwrap();
    assert_eq!(attempt.number, 1);
    assert_eq!(attempt.agent, "coder");
    assert_eq!(attempt.dir, "attempts/a/1");
    assert_eq!(attempt.queued_at, ts(2));
    assert_eq!(attempt.started_at, Some(ts(2)));

    m.ok(progress("a", 1, Some(40), "wiring the API"))
        .ok(report("a", 1, Report::Artifact("src/api.rs".into())))
        .ok(report("a", 1, Report::Decision("REST, not gRPC".into())))
        .ok(report("a", 1, Report::Blocked("waiting on keys".into())))
        .ok(report("a", 1, Report::Summary("API wired".into())));
    let a = m.task("a");
    assert_eq!(a.progress, Some((Some(40), "wiring the API".to_string())));
    assert_eq!(a.reports.artifacts, ["src/api.rs"]);
    assert_eq!(a.reports.decisions, ["REST, not gRPC"]);
    assert_eq!(a.reports.blockers, ["waiting on keys"]);
    assert_eq!(a.reports.summary.as_deref(), Some("API wired"));

    m.ok(finish(
        "a",
        1,
        AttemptOutcome::Succeeded {
            summary: Some("API done".into()),
        },
        NextStep::Done,
    ));
    let a = m.task("a");
    assert_eq!(a.status, TaskStatus::Succeeded);
    assert_eq!(a.reports.summary.as_deref(), Some("API done"));
    assert!(a.current_attempt().is_none());
    let attempt = &a.attempts[0];
    assert_eq!(attempt.finished_at, Some(ts(m.clock)));
    assert_eq!(attempt.duration_ms, Some(1_000));
    assert!(matches!(
        attempt.outcome,
        Some(AttemptOutcome::Succeeded { .. })
    ));
    assert_eq!(m.ready(), ["b", "e"]);

    m.ok(start("b", 1))
        .ok(start("e", 1))
        .ok(done("c", 1))
        .ok(done("e", 1));
    assert!(m.state.gates_due().is_empty(), "b still runs");
    m.rejects(gate(0, "make test", true));
    m.ok(done("b", 1));

    assert_eq!(m.state.gates_due(), [(0, "make test".to_string())]);
    assert!(m.ready().is_empty(), "d waits for the gates of phase 0");
    assert!(!m.state.is_settled());

    m.ok(gate(0, "make test", true));
    assert_eq!(m.state.gates_due(), [(0, "make lint".to_string())]);
    assert!(m.ready().is_empty());
    assert!(!m.state.phase_gates_passed(0));
    m.ok(gate(0, "make lint", true));
    assert!(m.state.phase_gates_passed(0));
    assert!(!m.state.phase_gate_failed(0));
    assert!(m.state.gates_due().is_empty());
    assert_eq!(m.ready(), ["d"]);

    m.ok(start("d", 1)).ok(done("d", 1));
    assert_eq!(m.state.gates_due(), [(1, "make smoke".to_string())]);
    assert!(!m.state.is_settled(), "a gate is due");
    let error = m.rejects(mission_finished(MissionStatus::Succeeded));
    assert!(
        matches!(error, StateError::CannotFinish { .. }),
        "{error:?}"
    );

    m.ok(gate(1, "make smoke", true));
    assert!(m.state.is_settled());
    assert_eq!(m.state.final_status(), MissionStatus::Succeeded);
    assert_eq!(m.state.failure_rate(), 0.0);
    assert_eq!(m.state.count(TaskStatus::Succeeded), 5);

    m.ok(mission_finished(MissionStatus::Succeeded));
    assert_eq!(m.state.status, MissionStatus::Succeeded);
    assert_eq!(m.state.last_seq, m.log.len() as u64);
    assert_eq!(m.state.last_event_at, ts(m.clock));
    m.assert_replays();

    assert_mission_error(&m.rejects(run(2)));
    assert_mission_error(&m.rejects(Event::DispatchPaused {
        reason: "late".into(),
    }));
}

#[test]
fn retries_move_to_the_backup_agent_then_succeed() {
    let mut a = task("a", &[], None);
    a.detail.backup = Some("backup".to_string());
    a.retries = 1;
    let mut m = Mission::new(plan(Vec::new(), vec![a]));
    m.ok(run(1)).ok(start("a", 1));

    let due = m.clock + 10;
    let first_retry = ts(due);
    m.ok(finish("a", 1, failed(), retry("coder", first_retry)));
    let a = m.task("a");
    assert_eq!(a.status, TaskStatus::Retrying);
    assert_eq!(a.retry_at, Some(first_retry));
    assert_eq!(a.agent, "coder");
    assert_eq!(a.failures_on("coder"), 1);
    assert!(m.ready().is_empty(), "the retry delay is not over");
    assert!(m.ready_at(due - 1).is_empty());
    assert_eq!(m.ready_at(due), ["a"]);
    assert!(!m.state.is_settled());
    assert_eq!(m.state.failure_rate(), 0.0, "a retrying task is not failed");

    m.wait(10).ok(start("a", 2));
    assert_eq!(m.task("a").retry_at, None);
    let second_retry = ts(m.clock + 30);
    m.ok(finish(
        "a",
        2,
        AttemptOutcome::TimedOut,
        retry("backup", second_retry),
    ));
    let a = m.task("a");
    assert_eq!(a.status, TaskStatus::Retrying);
    assert_eq!(a.agent, "backup", "the backup takes over");
    assert_eq!(a.failures_on("coder"), 2);
    assert_eq!(a.failures_on("backup"), 0);

    m.wait(30).ok(start_on("a", 3, "backup")).ok(done("a", 3));
    let a = m.task("a");
    assert_eq!(a.status, TaskStatus::Succeeded);
    let numbers: Vec<u32> = a.attempts.iter().map(|a| a.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    let agents: Vec<&str> = a.attempts.iter().map(|a| a.agent.as_str()).collect();
    assert_eq!(agents, ["coder", "coder", "backup"]);
    assert_eq!(a.attempts[1].outcome, Some(AttemptOutcome::TimedOut));

    assert!(m.state.is_settled());
    assert_eq!(m.state.final_status(), MissionStatus::Succeeded);
    m.ok(mission_finished(MissionStatus::Succeeded));
    m.assert_replays();
}

#[test]
fn exhausted_retries_fail_the_task_and_block_its_dependents() {
    // a <- b <- c, and d on its own.
    let mut m = Mission::new(plan(
        Vec::new(),
        vec![
            task("a", &[], None),
            task("b", &["a"], None),
            task("c", &["b"], None),
            task("d", &[], None),
        ],
    ));
    m.ok(run(1)).ok(start("a", 1)).ok(start("d", 1));
    let at = ts(m.clock + 5);
    m.ok(finish("a", 1, failed(), retry("coder", at)))
        .wait(5)
        .ok(start("a", 2))
        .ok(finish("a", 2, AttemptOutcome::TimedOut, NextStep::Fail));
    assert_eq!(m.status("a"), TaskStatus::Failed);
    assert_eq!(m.task("a").failures_on("coder"), 2);
    assert_eq!(m.state.failure_rate(), 1.0);
    assert!(m.ready().is_empty(), "b can never start");
    assert_eq!(m.newly_blocked(), [("b", "a".to_string())]);
    assert!(!m.state.is_settled());

    // d goes on: independent branches are not stopped.
    m.ok(done("d", 1));
    assert_eq!(m.state.failure_rate(), 0.5);

    m.ok(blocked("b", "a"));
    assert_eq!(m.status("b"), TaskStatus::Blocked);
    assert_eq!(m.task("b").blocked_by.as_deref(), Some("a"));
    assert_eq!(m.state.failure_rate(), 0.5, "blocked tasks are not counted");
    assert_eq!(m.newly_blocked(), [("c", "b".to_string())]);
    m.ok(blocked("c", "b"));
    assert!(m.newly_blocked().is_empty());

    assert!(m.state.is_settled());
    assert_eq!(m.state.final_status(), MissionStatus::Failed);
    let error = m.rejects(mission_finished(MissionStatus::Succeeded));
    assert!(
        matches!(error, StateError::CannotFinish { .. }),
        "{error:?}"
    );
    m.ok(mission_finished(MissionStatus::Failed));
    assert_eq!(m.state.status, MissionStatus::Failed);
    m.assert_replays();
}

#[test]
fn a_failed_gate_blocks_the_later_phases() {
    let mut m = Mission::new(plan(
        vec![phase("build", &["make test"]), phase("ship", &[])],
        vec![task("a", &[], Some(0)), task("b", &[], Some(1))],
    ));
    m.ok(run(1)).ok(start("a", 1)).ok(done("a", 1));
    assert!(m.newly_blocked().is_empty());
    m.ok(gate(0, "make test", false));
    assert!(m.state.phase_gate_failed(0));
    assert!(!m.state.phase_gates_passed(0));
    assert!(
        m.state.gates_due().is_empty(),
        "a failed phase runs no more gates"
    );
    assert!(m.ready().is_empty());
    assert_eq!(m.newly_blocked(), [("b", "phase:build".to_string())]);
    m.ok(blocked("b", "phase:build"));
    assert!(m.state.is_settled());
    assert_eq!(m.state.final_status(), MissionStatus::Failed);
    m.ok(mission_finished(MissionStatus::Failed));
    m.assert_replays();
}

#[test]
fn a_failed_task_kills_its_phase_and_blocks_the_later_phases() {
    let mut m = Mission::new(plan(
        vec![phase("build", &["make test"]), phase("ship", &[])],
        vec![
            task("a", &[], Some(0)),
            task("b", &[], Some(0)),
            task("c", &[], Some(1)),
        ],
    ));
    m.ok(run(1))
        .ok(start("a", 1))
        .ok(start("b", 1))
        .ok(finish("a", 1, failed(), NextStep::Fail));
    assert_eq!(m.newly_blocked(), [("c", "phase:build".to_string())]);
    m.ok(blocked("c", "phase:build")).ok(done("b", 1));
    assert!(m.state.gates_due().is_empty(), "a's phase can never pass");
    assert!(m.state.is_settled());
    assert_eq!(m.state.final_status(), MissionStatus::Failed);
    assert_eq!(m.state.failure_rate(), 0.5);
    m.ok(mission_finished(MissionStatus::Failed));
    m.assert_replays();
}

#[test]
fn an_interrupted_attempt_is_requeued_without_using_a_retry() {
    let mut m = Mission::new(plan(
        Vec::new(),
        vec![task("a", &[], None), task("b", &[], None)],
    ));
    m.ok(run(1)).ok(start("a", 1)).ok(start("b", 1));
    m.ok(Event::RunInterrupted {
        reason: "SIGTERM".into(),
    });
    assert_eq!(m.state.status, MissionStatus::Interrupted);
    assert_eq!(
        m.status("a"),
        TaskStatus::Running,
        "still running until seen"
    );
    assert_mission_error(&m.rejects(start("a", 2)));

    // The next run finds both attempts dead.
    m.ok(run(2));
    assert_eq!(m.state.status, MissionStatus::Running);
    assert_eq!(m.state.runs, 2);
    m.ok(finish(
        "a",
        1,
        AttemptOutcome::Interrupted,
        NextStep::Requeue,
    ))
    .ok(finish("b", 1, AttemptOutcome::Cancelled, NextStep::Requeue));
    for id in ["a", "b"] {
        let t = m.task(id);
        assert_eq!(t.status, TaskStatus::Pending);
        assert_eq!(t.attempts.len(), 1, "the attempt is kept on record");
        assert_eq!(t.failures_on("coder"), 0, "no retry was used");
        assert_eq!(t.retry_at, None);
    }
    assert_eq!(m.ready(), ["a", "b"]);
    assert_eq!(m.state.failure_rate(), 0.0);

    // The next attempt is number 2; number 1 is taken.
    let error = m.rejects(start("a", 1));
    assert!(
        matches!(
            error,
            StateError::WrongAttempt {
                expected: 2,
                got: 1,
                ..
            }
        ),
        "{error:?}"
    );
    m.ok(start("a", 2)).ok(done("a", 2));
    m.ok(start("b", 2)).ok(done("b", 2));
    assert_eq!(m.task("a").attempts[1].number, 2);
    m.ok(mission_finished(MissionStatus::Succeeded));
    m.assert_replays();
}

#[test]
fn a_crashed_run_is_resumed_from_running() {
    let mut m = Mission::new(plan(Vec::new(), vec![task("a", &[], None)]));
    m.ok(run(1)).ok(start("a", 1));
    // No RunInterrupted: the process died. The next run starts anyway.
    m.ok(run(2));
    assert_eq!(m.status("a"), TaskStatus::Running);
    m.ok(finish(
        "a",
        1,
        AttemptOutcome::Interrupted,
        NextStep::Requeue,
    ))
    .ok(start("a", 2))
    .ok(done("a", 2))
    .ok(mission_finished(MissionStatus::Succeeded));
    m.assert_replays();
}

#[test]
fn pausing_stops_new_attempts_but_not_running_ones() {
    let mut m = Mission::new(plan(
        Vec::new(),
        vec![task("a", &[], None), task("b", &[], None)],
    ));
    m.ok(run(1)).ok(start("a", 1));
    m.ok(Event::EscalationRaised {
        id: 1,
        kind: EscalationKind::FailureRate,
        message: "too many failures".into(),
        tasks: vec!["a".into()],
        options: vec!["retry".into(), "abort".into()],
    });
    assert_eq!(m.state.escalations, 1);
    m.ok(Event::DispatchPaused {
        reason: "failure rate".into(),
    });
    assert_eq!(m.state.status, MissionStatus::Paused);
    assert_mission_error(&m.rejects(start("b", 1)));
    assert_mission_error(&m.rejects(Event::DispatchPaused {
        reason: "twice".into(),
    }));
    // The running attempt still reports and finishes.
    m.ok(progress("a", 1, None, "still going")).ok(done("a", 1));
    m.ok(Event::DispatchResumed);
    assert_eq!(m.state.status, MissionStatus::Running);
    assert_mission_error(&m.rejects(Event::DispatchResumed));
    m.ok(start("b", 1)).ok(done("b", 1));
    m.ok(mission_finished(MissionStatus::Succeeded));
    m.assert_replays();
}

#[test]
fn a_question_takes_an_answer_and_leaves_a_paused_mission_paused() {
    let mut m = Mission::new(plan(Vec::new(), vec![task("a", &[], None)]));
    m.ok(run(1)).ok(start("a", 1));
    m.ok(Event::EscalationRaised {
        id: 1,
        kind: EscalationKind::Question,
        message: "a (attempt 1) asks: staging or prod?".into(),
        tasks: vec!["a".into()],
        options: vec!["answer".into(), "abort".into()],
    });
    m.ok(Event::DispatchPaused {
        reason: "failure rate".into(),
    });
    let answer = Decision::parse("answer", Some(" staging ")).unwrap();
    assert_eq!(
        answer,
        Decision::Answer {
            text: " staging ".into()
        }
    );
    assert!(Decision::parse("answer", Some("  ")).is_err());
    assert!(Decision::parse("answer", None).is_err());
    // Only an answer or an abort fits a question.
    for other in [Decision::Retry, Decision::Skip] {
        let refusal = m.state.refusal(1, &other).expect("refused");
        assert!(refusal.contains("answer it"), "{refusal}");
    }
    assert_eq!(m.state.refusal(1, &Decision::Abort), None);
    assert_eq!(m.state.refusal(1, &answer), None);
    assert!(m.state.decision_effects(1, &answer).is_empty());
    m.ok(Event::EscalationResolved {
        id: 1,
        decision: answer.clone(),
        by: "cli:me".into(),
        note: None,
        request: None,
    });
    assert!(m.state.open_escalations.is_empty());
    assert_eq!(
        m.state.status,
        MissionStatus::Paused,
        "an answer is no go-on"
    );
    // An answer fits no other kind of escalation.
    m.ok(Event::EscalationRaised {
        id: 2,
        kind: EscalationKind::RetriesExhausted,
        message: "a failed".into(),
        tasks: vec!["a".into()],
        options: vec!["retry".into(), "abort".into()],
    });
    let refusal = m.state.refusal(2, &answer).expect("refused");
    assert!(refusal.contains("not a question"), "{refusal}");
    m.assert_replays();
}

fn split_report(task: &str, attempt: u32, title: &str) -> Event {
    report(task, attempt, Report::Split(title.to_string()))
}

#[test]
fn a_task_split_by_its_agent_waits_for_its_parts_in_order() {
    // a <- b; a's agent finds a too big and proposes two parts.
    let mut m = Mission::new(plan(
        Vec::new(),
        vec![task("a", &[], None), task("b", &["a"], None)],
    ));
    m.ok(run(1)).ok(start("a", 1));
    m.ok(split_report("a", 1, "write the schema"))
        .ok(split_report("a", 1, "write the queries"))
        .ok(split_report("a", 1, "write the schema"));
    let index = m.index("a");
    assert_eq!(
        m.state.proposed_parts(index),
        ["write the schema", "write the queries"],
        "a part proposed twice counts once"
    );
    assert!(
        m.task("a").attempts[0].detail.blocked.is_some(),
        "proposing parts is a blocker"
    );
    m.ok(finish("a", 1, failed(), NextStep::Split));
    assert_eq!(m.status("a"), TaskStatus::Pending);
    let parts = m.state.parts_of(index, m.state.proposed_parts(index));
    assert_eq!(
        parts.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["a.1", "a.2"]
    );
    m.ok(Event::TaskSplit {
        task: "a".into(),
        parts,
    });
    assert_eq!(m.state.tasks.len(), 4);
    assert_eq!(m.state.count(TaskStatus::Pending), 4);
    assert_eq!(
        m.ready(),
        ["a.1"],
        "the parts run in order, the task after them"
    );
    assert_eq!(m.state.plan.tasks[m.index("a.2")].depends_on, ["a.1"]);
    assert_eq!(m.task("a").work.parts, ["a.1", "a.2"]);
    assert!(m.state.is_part(m.index("a.2")));
    assert!(!m.state.is_part(index));
    m.assert_replays();

    m.ok(start("a.1", 1)).ok(done("a.1", 1));
    assert_eq!(m.ready(), ["a.2"]);
    m.ok(start("a.2", 1)).ok(done("a.2", 1));
    assert_eq!(m.ready(), ["a"], "the task finishes what remains");
    // Its retries start afresh: the blocked attempt does not count.
    m.ok(start("a", 2));
    assert_eq!(m.task("a").failures_on("coder"), 0);
    m.ok(done("a", 2));
    assert_eq!(
        m.ready(),
        ["b"],
        "dependents wait for the task, not its parts"
    );
    m.ok(start("b", 1)).ok(done("b", 1));
    m.ok(mission_finished(MissionStatus::Succeeded));
    m.assert_replays();
}

#[test]
fn a_split_needs_proposed_parts_and_free_ids() {
    let mut m = Mission::new(plan(
        Vec::new(),
        vec![task("a", &[], None), task("a.1", &[], None)],
    ));
    m.ok(run(1)).ok(start("a", 1));
    // Without a proposal, an attempt cannot end in a split.
    let error = m.rejects(finish("a", 1, failed(), NextStep::Split));
    assert!(
        matches!(error, StateError::InconsistentNext { .. }),
        "{error:?}"
    );
    m.ok(split_report("a", 1, "one"))
        .ok(split_report("a", 1, "two"));
    // Progress after the proposal: the agent went on after all.
    m.ok(progress("a", 1, Some(50), "found a way"));
    assert!(m.state.proposed_parts(m.index("a")).is_empty());
    m.ok(split_report("a", 1, "three"))
        .ok(finish("a", 1, failed(), NextStep::Split));
    let index = m.index("a");
    let parts = m.state.parts_of(index, &["x".to_string(), "y".to_string()]);
    assert_eq!(
        parts.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["a.2", "a.3"],
        "a taken ID is skipped"
    );
    let taken = vec![techlead_core::state::TaskPart {
        id: "a.1".into(),
        title: "x".into(),
    }];
    let error = m.rejects(Event::TaskSplit {
        task: "a".into(),
        parts: taken,
    });
    assert!(matches!(error, StateError::Split { .. }), "{error:?}");
    m.rejects(Event::TaskSplit {
        task: "a".into(),
        parts: Vec::new(),
    });
    m.ok(Event::TaskSplit {
        task: "a".into(),
        parts,
    });
    assert_eq!(m.ready(), ["a.1", "a.2"]);
    m.assert_replays();
}

#[test]
fn the_person_splits_a_failed_task_into_the_parts_they_name() {
    let mut m = Mission::new(plan(
        Vec::new(),
        vec![task("a", &[], None), task("b", &["a"], None)],
    ));
    m.ok(run(1))
        .ok(start("a", 1))
        .ok(finish("a", 1, failed(), NextStep::Fail))
        .ok(blocked("b", "a"));
    m.ok(Event::EscalationRaised {
        id: 1,
        kind: EscalationKind::RetriesExhausted,
        message: "a failed".into(),
        tasks: vec!["a".into()],
        options: vec!["retry".into(), "split".into(), "abort".into()],
    });
    m.ok(mission_finished(MissionStatus::Failed));
    // Its agent proposed nothing: the person must name the parts.
    let proposed = Decision::parse("split", None).unwrap();
    let refusal = m.state.refusal(1, &proposed).expect("refused");
    assert!(refusal.contains("proposed no parts"), "{refusal}");
    let split = Decision::parse("split", Some("first half\n\n  second half \n")).unwrap();
    assert_eq!(
        split,
        Decision::Split {
            parts: vec!["first half".into(), "second half".into()]
        }
    );
    assert_eq!(
        Decision::parse(split.action(), split.argument().as_deref()),
        Ok(split.clone()),
        "the inbox keeps it as action and argument"
    );
    assert_eq!(m.state.refusal(1, &split), None);
    let effects = m.state.decision_effects(1, &split);
    assert_eq!(effects.len(), 1, "b waits again once a is no longer failed");
    m.ok(Event::EscalationResolved {
        id: 1,
        decision: split,
        by: "cli:me".into(),
        note: None,
        request: None,
    });
    for event in effects {
        m.ok(event);
    }
    assert_eq!(
        m.state.status,
        MissionStatus::Paused,
        "a failed mission gets a round at resume"
    );
    assert_eq!(m.status("a"), TaskStatus::Pending);
    assert_eq!(m.task("a.2").status, TaskStatus::Pending);
    assert_eq!(m.ids(m.state.newly_unblocked()), ["b"]);
    m.ok(Event::TaskReopened {
        task: "b".into(),
        agent: None,
    });
    assert_eq!(m.ready(), ["a.1"]);
    m.assert_replays();
}

#[test]
fn a_paused_mission_can_finish_as_failed() {
    let mut m = Mission::new(plan(Vec::new(), vec![task("a", &[], None)]));
    m.ok(run(1))
        .ok(start("a", 1))
        .ok(finish("a", 1, failed(), NextStep::Fail))
        .ok(Event::DispatchPaused {
            reason: "failure rate".into(),
        });
    m.ok(mission_finished(MissionStatus::Failed));
    m.assert_replays();
}

#[test]
fn ready_respects_dependencies_phases_and_retry_times() {
    // Phase 0 holds a (retrying) and b; c <- a; d in phase 1; e in phase 0
    // with no gate in its way; f in phase 1 with no dependencies.
    let mut m = Mission::new(plan(
        vec![phase("one", &["gate"]), phase("two", &[])],
        vec![
            task("a", &[], Some(0)),
            task("b", &[], Some(0)),
            task("c", &["a"], None),
            task("d", &["b"], Some(1)),
            task("f", &[], Some(1)),
        ],
    ));
    assert_eq!(m.ready(), ["a", "b"]);
    m.ok(run(1)).ok(start("a", 1)).ok(start("b", 1));
    assert!(m.ready().is_empty(), "running tasks are not ready");
    let due = m.clock + 100;
    m.ok(finish("a", 1, failed(), retry("coder", ts(due))))
        .ok(done("b", 1));
    assert!(m.ready().is_empty(), "a waits for its retry time");
    assert!(m.ready_at(due - 1).is_empty());
    assert_eq!(m.ready_at(due), ["a"]);
    assert_eq!(m.ready_at(1_000_000), ["a"]);
    m.wait(100).ok(start("a", 2)).ok(done("a", 2));
    assert_eq!(m.ready(), ["c"], "phase two waits for the gate");
    m.ok(gate(0, "gate", true));
    assert_eq!(m.ready(), ["c", "d", "f"]);
}

#[test]
fn a_phase_without_tasks_or_gates_is_open() {
    let mut m = Mission::new(plan(
        vec![
            phase("empty", &[]),
            phase("gated", &["check"]),
            phase("last", &[]),
        ],
        vec![task("a", &[], Some(2))],
    ));
    // Phase 1 has no tasks, so its gate is due at once.
    assert_eq!(m.state.gates_due(), [(1, "check".to_string())]);
    assert!(m.ready().is_empty());
    m.ok(gate(1, "check", true));
    assert_eq!(m.ready(), ["a"]);
    m.ok(run(1)).ok(start("a", 1)).ok(done("a", 1));
    assert!(m.state.is_settled());
    m.ok(mission_finished(MissionStatus::Succeeded));
    m.assert_replays();
}

#[test]
fn failure_rate_counts_failed_among_finished() {
    let mut m = Mission::new(plan(
        Vec::new(),
        ["a", "b", "c", "d"]
            .iter()
            .map(|id| task(id, &[], None))
            .collect(),
    ));
    m.ok(run(1));
    for id in ["a", "b", "c", "d"] {
        m.ok(start(id, 1));
    }
    assert_eq!(m.state.failure_rate(), 0.0, "nothing finished");
    m.ok(finish("a", 1, failed(), NextStep::Fail));
    assert_eq!(m.state.failure_rate(), 1.0);
    m.ok(done("b", 1));
    assert_eq!(m.state.failure_rate(), 0.5);
    m.ok(done("c", 1));
    assert!((m.state.failure_rate() - 1.0 / 3.0).abs() < 1e-12);
    m.ok(finish("d", 1, AttemptOutcome::Cancelled, NextStep::Requeue));
    assert!((m.state.failure_rate() - 1.0 / 3.0).abs() < 1e-12);
    assert!(!m.state.is_settled(), "d is pending again");
}

// ---------------------------------------------------------------------------
// Every rejection, and the state unchanged after it.

fn two_tasks() -> MissionPlan {
    plan(
        Vec::new(),
        vec![task("a", &[], None), task("b", &["a"], None)],
    )
}

#[test]
fn the_log_must_start_with_mission_created_at_seq_1() {
    let record = EventRecord {
        seq: 1,
        at: ts(0),
        event: run(1),
    };
    assert_eq!(
        MissionState::created(&record),
        Err(StateError::NotCreatedFirst)
    );
    assert_eq!(
        MissionState::replay(&[record]),
        Err(StateError::NotCreatedFirst)
    );
    assert_eq!(
        MissionState::replay(&[] as &[EventRecord]),
        Err(StateError::NotCreatedFirst)
    );
    let record = EventRecord {
        seq: 2,
        at: ts(0),
        event: Event::MissionCreated {
            plan: Box::new(two_tasks()),
        },
    };
    assert_eq!(
        MissionState::created(&record),
        Err(StateError::OutOfSequence { last: 0, got: 2 })
    );
}

#[test]
fn an_invalid_plan_is_rejected() {
    let created = |plan| {
        MissionState::created(&EventRecord {
            seq: 1,
            at: ts(0),
            event: Event::MissionCreated {
                plan: Box::new(plan),
            },
        })
    };
    let duplicate = plan(Vec::new(), vec![task("a", &[], None), task("a", &[], None)]);
    assert_eq!(
        created(duplicate),
        Err(StateError::Plan(PlanError::DuplicateTask("a".into())))
    );
    let unknown = plan(Vec::new(), vec![task("a", &["ghost"], None)]);
    assert!(matches!(
        created(unknown),
        Err(StateError::Plan(PlanError::UnknownDependency { .. }))
    ));
    let no_phase = plan(vec![phase("one", &[])], vec![task("a", &[], Some(1))]);
    assert!(matches!(
        created(no_phase),
        Err(StateError::Plan(PlanError::UnknownPhase { phase: 1, .. }))
    ));
}

#[test]
fn events_out_of_sequence_are_rejected() {
    let mut m = Mission::new(two_tasks());
    m.ok(run(1));
    for seq in [0, 1, 2, 4, 100] {
        let record = EventRecord {
            seq,
            at: ts(10),
            event: start("a", 1),
        };
        assert_eq!(
            m.rejects_record(&record),
            StateError::OutOfSequence { last: 2, got: seq }
        );
    }
    // A log with a gap does not replay.
    let mut log = m.log.clone();
    log.push(EventRecord {
        seq: 4,
        at: ts(10),
        event: start("a", 1),
    });
    assert_eq!(
        MissionState::replay(&log),
        Err(StateError::OutOfSequence { last: 2, got: 4 })
    );
}

#[test]
fn a_second_mission_created_is_rejected() {
    let mut m = Mission::new(two_tasks());
    assert_eq!(
        m.rejects(Event::MissionCreated {
            plan: Box::new(two_tasks())
        }),
        StateError::CreatedTwice
    );
    m.ok(run(1));
    assert_eq!(
        m.rejects(Event::MissionCreated {
            plan: Box::new(two_tasks())
        }),
        StateError::CreatedTwice
    );
}

#[test]
fn run_numbers_must_follow_each_other() {
    let mut m = Mission::new(two_tasks());
    assert_eq!(m.rejects(run(0)), StateError::WrongRun { last: 0, got: 0 });
    assert_eq!(m.rejects(run(2)), StateError::WrongRun { last: 0, got: 2 });
    m.ok(run(1));
    assert_eq!(m.rejects(run(1)), StateError::WrongRun { last: 1, got: 1 });
    assert_eq!(m.rejects(run(3)), StateError::WrongRun { last: 1, got: 3 });
    m.ok(run(2));
    assert_eq!(m.state.runs, 2);
}

#[test]
fn attempts_start_only_in_a_running_mission() {
    let mut m = Mission::new(two_tasks());
    assert_mission_error(&m.rejects(start("a", 1)));
    m.ok(run(1)).ok(Event::DispatchPaused {
        reason: "person asked".into(),
    });
    assert_mission_error(&m.rejects(start("a", 1)));
    m.ok(Event::RunInterrupted {
        reason: "Ctrl-C".into(),
    });
    assert_mission_error(&m.rejects(start("a", 1)));
    m.ok(run(2)).ok(start("a", 1));
}

#[test]
fn mission_moves_from_the_wrong_status_are_rejected() {
    let mut m = Mission::new(two_tasks());
    assert_mission_error(&m.rejects(Event::DispatchPaused {
        reason: "early".into(),
    }));
    assert_mission_error(&m.rejects(Event::DispatchResumed));
    assert_mission_error(&m.rejects(Event::RunInterrupted {
        reason: "early".into(),
    }));
    m.ok(run(1)).ok(Event::RunInterrupted {
        reason: "Ctrl-C".into(),
    });
    assert_mission_error(&m.rejects(Event::RunInterrupted {
        reason: "twice".into(),
    }));
    assert_mission_error(&m.rejects(Event::DispatchPaused {
        reason: "interrupted".into(),
    }));
}

#[test]
fn attempt_numbers_must_match() {
    let mut m = Mission::new(two_tasks());
    m.ok(run(1));
    for got in [0, 2] {
        assert_eq!(
            m.rejects(start("a", got)),
            StateError::WrongAttempt {
                task: "a".into(),
                expected: 1,
                got,
            }
        );
    }
    m.ok(start("a", 1));
    assert!(matches!(
        m.rejects(done("a", 2)),
        StateError::WrongAttempt {
            expected: 1,
            got: 2,
            ..
        }
    ));
    assert!(matches!(
        m.rejects(progress("a", 0, None, "x")),
        StateError::WrongAttempt { .. }
    ));
    assert!(
        matches!(m.rejects(start("a", 2)), StateError::Task { .. }),
        "a running task cannot start again"
    );
    let at = ts(m.clock);
    m.ok(finish("a", 1, failed(), retry("coder", at)));
    assert!(matches!(
        m.rejects(start("a", 1)),
        StateError::WrongAttempt {
            expected: 2,
            got: 1,
            ..
        }
    ));
    assert!(matches!(
        m.rejects(start("a", 3)),
        StateError::WrongAttempt {
            expected: 2,
            got: 3,
            ..
        }
    ));
    m.ok(start("a", 2));
}

#[test]
fn unknown_tasks_and_phases_are_rejected() {
    let mut m = Mission::new(two_tasks());
    m.ok(run(1));
    let unknown = StateError::UnknownTask("ghost".into());
    assert_eq!(m.rejects(start("ghost", 1)), unknown);
    assert_eq!(m.rejects(progress("ghost", 1, None, "")), unknown);
    assert_eq!(
        m.rejects(report("ghost", 1, Report::Summary(String::new()))),
        unknown
    );
    assert_eq!(m.rejects(done("ghost", 1)), unknown);
    assert_eq!(m.rejects(blocked("ghost", "a")), unknown);
    assert_eq!(
        m.rejects(gate(0, "make test", true)),
        StateError::UnknownPhase(0)
    );
}

#[test]
fn progress_and_reports_need_the_running_attempt() {
    let mut m = Mission::new(two_tasks());
    m.ok(run(1));
    // Not started.
    assert!(matches!(
        m.rejects(progress("a", 1, Some(10), "early")),
        StateError::WrongAttempt {
            expected: 0,
            got: 1,
            ..
        }
    ));
    assert!(matches!(
        m.rejects(report("a", 1, Report::Artifact("x".into()))),
        StateError::WrongAttempt { .. }
    ));
    assert!(matches!(
        m.rejects(done("a", 1)),
        StateError::WrongAttempt { .. }
    ));
    m.ok(start("a", 1));
    assert!(matches!(
        m.rejects(progress("a", 2, Some(10), "ahead")),
        StateError::WrongAttempt {
            expected: 1,
            got: 2,
            ..
        }
    ));
    let at = ts(m.clock + 60);
    m.ok(finish("a", 1, failed(), retry("coder", at)));
    // Finished: retrying, its attempt is over.
    assert!(matches!(
        m.rejects(progress("a", 1, Some(90), "late")),
        StateError::WrongAttempt { .. }
    ));
    assert!(matches!(
        m.rejects(report("a", 1, Report::Summary("late".into()))),
        StateError::WrongAttempt { .. }
    ));
    assert!(matches!(
        m.rejects(finish("a", 1, failed(), NextStep::Fail)),
        StateError::WrongAttempt { .. }
    ));
    m.wait(60).ok(start("a", 2)).ok(done("a", 2));
    // Succeeded.
    assert!(matches!(
        m.rejects(progress("a", 2, None, "after")),
        StateError::WrongAttempt { .. }
    ));
}

#[test]
fn an_outcome_must_agree_with_the_next_step() {
    let at = ts(100);
    let cases = [
        (succeeded(), NextStep::Fail),
        (succeeded(), retry("coder", at)),
        (succeeded(), NextStep::Requeue),
        (failed(), NextStep::Done),
        (failed(), NextStep::Requeue),
        (AttemptOutcome::TimedOut, NextStep::Done),
        (AttemptOutcome::TimedOut, NextStep::Requeue),
        (AttemptOutcome::Cancelled, NextStep::Done),
        (AttemptOutcome::Cancelled, NextStep::Fail),
        (AttemptOutcome::Cancelled, retry("coder", at)),
        (AttemptOutcome::Interrupted, NextStep::Done),
        (AttemptOutcome::Interrupted, NextStep::Fail),
        (AttemptOutcome::Interrupted, retry("coder", at)),
    ];
    let mut m = Mission::new(two_tasks());
    m.ok(run(1)).ok(start("a", 1));
    for (outcome, next) in cases {
        let error = m.rejects(finish("a", 1, outcome.clone(), next.clone()));
        assert!(
            matches!(error, StateError::InconsistentNext { .. }),
            "{outcome:?} then {next:?}: {error:?}"
        );
    }
}

#[test]
fn a_finished_task_never_starts_again() {
    let mut m = Mission::new(plan(
        Vec::new(),
        vec![
            task("ok", &[], None),
            task("bad", &[], None),
            task("dep", &["bad"], None),
        ],
    ));
    m.ok(run(1))
        .ok(start("ok", 1))
        .ok(done("ok", 1))
        .ok(start("bad", 1))
        .ok(finish("bad", 1, failed(), NextStep::Fail))
        .ok(blocked("dep", "bad"));
    for (id, attempt) in [("ok", 2), ("bad", 2), ("dep", 1)] {
        let error = m.rejects(start(id, attempt));
        assert!(matches!(error, StateError::Task { .. }), "{id}: {error:?}");
    }
    assert!(matches!(
        m.rejects(blocked("dep", "bad")),
        StateError::Task { .. }
    ));
    assert!(matches!(
        m.rejects(blocked("ok", "bad")),
        StateError::Task { .. }
    ));
}

#[test]
fn a_task_is_blocked_only_by_a_failed_or_blocked_task() {
    let mut m = Mission::new(plan(
        Vec::new(),
        vec![
            task("a", &[], None),
            task("b", &["a"], None),
            task("c", &["b"], None),
        ],
    ));
    let not_blocking = |by: &str| StateError::NotBlocking {
        task: "b".into(),
        by: by.into(),
    };
    // a pending, running, retrying, then succeeded: never blocking.
    assert_eq!(m.rejects(blocked("b", "a")), not_blocking("a"));
    m.ok(run(1)).ok(start("a", 1));
    assert_eq!(m.rejects(blocked("b", "a")), not_blocking("a"));
    let at = ts(m.clock);
    m.ok(finish("a", 1, failed(), retry("coder", at)));
    assert_eq!(m.rejects(blocked("b", "a")), not_blocking("a"));
    assert_eq!(m.rejects(blocked("b", "ghost")), not_blocking("ghost"));
    m.ok(start("a", 2)).ok(done("a", 2));
    assert_eq!(m.rejects(blocked("b", "a")), not_blocking("a"));
    // b fails, so c may be blocked by it; a running task cannot be blocked.
    m.ok(start("b", 1));
    assert_eq!(m.rejects(blocked("b", "a")), not_blocking("a"));
    assert!(matches!(
        m.rejects(blocked("c", "b")),
        StateError::NotBlocking { .. }
    ));
    m.ok(finish("b", 1, failed(), NextStep::Fail));
    m.ok(blocked("c", "b"));
    m.ok(mission_finished(MissionStatus::Failed));
    m.assert_replays();
}

#[test]
fn a_mission_finishes_only_when_its_tasks_have() {
    let mut m = Mission::new(two_tasks());
    m.ok(run(1));
    let cannot = |m: &mut Mission, status| {
        let error = m.rejects(mission_finished(status));
        assert!(
            matches!(error, StateError::CannotFinish { .. }),
            "{error:?}"
        );
    };
    cannot(&mut m, MissionStatus::Failed); // pending tasks
    cannot(&mut m, MissionStatus::Succeeded);
    m.ok(start("a", 1));
    cannot(&mut m, MissionStatus::Failed); // a task running
    cannot(&mut m, MissionStatus::Succeeded);
    m.ok(finish("a", 1, failed(), NextStep::Fail));
    cannot(&mut m, MissionStatus::Failed); // b still pending
    m.ok(blocked("b", "a"));
    cannot(&mut m, MissionStatus::Succeeded); // a failed
    for status in [
        MissionStatus::Created,
        MissionStatus::Running,
        MissionStatus::Paused,
        MissionStatus::Interrupted,
    ] {
        cannot(&mut m, status);
    }
    m.ok(mission_finished(MissionStatus::Failed));
    assert_mission_error(&m.rejects(mission_finished(MissionStatus::Failed)));
}

#[test]
fn a_successful_mission_cannot_finish_as_failed() {
    let mut m = Mission::new(two_tasks());
    m.ok(run(1))
        .ok(start("a", 1))
        .ok(done("a", 1))
        .ok(start("b", 1))
        .ok(done("b", 1));
    let error = m.rejects(mission_finished(MissionStatus::Failed));
    assert!(
        matches!(error, StateError::CannotFinish { .. }),
        "{error:?}"
    );
    // Nor finish from an interrupted run.
    m.ok(Event::RunInterrupted {
        reason: "Ctrl-C".into(),
    });
    assert_mission_error(&m.rejects(mission_finished(MissionStatus::Succeeded)));
    m.ok(run(2)).ok(mission_finished(MissionStatus::Succeeded));
}

#[test]
fn a_phase_gate_waits_for_its_tasks() {
    let mut m = Mission::new(plan(
        vec![phase("build", &["make test"])],
        vec![task("a", &[], Some(0)), task("b", &[], Some(0))],
    ));
    let early = StateError::GateTooEarly(0);
    assert_eq!(m.rejects(gate(0, "make test", true)), early);
    m.ok(run(1)).ok(start("a", 1)).ok(done("a", 1));
    assert_eq!(m.rejects(gate(0, "make test", true)), early);
    m.ok(start("b", 1));
    assert_eq!(m.rejects(gate(0, "make test", false)), early);
    m.ok(done("b", 1)).ok(gate(0, "make test", true));
    assert_eq!(
        m.rejects(gate(1, "make test", true)),
        StateError::UnknownPhase(1)
    );
}

#[test]
fn records_round_trip_through_json() {
    let mut m = Mission::new(phased_plan());
    m.ok(run(1))
        .ok(start("a", 1))
        .ok(progress("a", 1, Some(50), "half"))
        .ok(progress("a", 1, None, "no percent"))
        .ok(report("a", 1, Report::Decision("d".into())))
        .ok(finish("a", 1, failed(), retry("backup", ts(99))));
    for record in &m.log {
        let json = serde_json::to_string(record).unwrap();
        let back: EventRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, record, "{json}");
    }
    let json = serde_json::to_value(&m.log[2]).unwrap();
    assert_eq!(json["event"]["type"], "attempt_queued");
    let json = serde_json::to_value(&m.log[3]).unwrap();
    assert_eq!(json["event"]["type"], "attempt_started");
}

// ---------------------------------------------------------------------------
// Rules the first fold did not enforce, found by the property tests. Each
// minimal event sequence; the fold now rejects each.

#[test]
fn bug_a_task_cannot_start_before_its_dependencies_succeeded() {
    // created{a; b <- a}, run 1, attempt_started{b, 1}: once accepted;
    // b can then succeed while a is pending, and a can later fail.
    let mut m = Mission::new(two_tasks());
    m.ok(run(1));
    assert_eq!(m.ready(), ["a"]);
    m.rejects(start("b", 1));
}

#[test]
fn bug_a_task_cannot_start_before_its_phase_opened() {
    // created{phase 0 `build` gate `make test`: a; phase 1: b}, run 1,
    // attempt_started{b, 1}: once accepted although a has not even run.
    let mut m = Mission::new(plan(
        vec![phase("build", &["make test"]), phase("ship", &[])],
        vec![task("a", &[], Some(0)), task("b", &[], Some(1))],
    ));
    m.ok(run(1));
    assert_eq!(m.ready(), ["a"]);
    m.rejects(start("b", 1));
}

#[test]
fn bug_a_task_is_blocked_only_by_its_own_dependencies() {
    // created{a; c (independent)}, run 1, attempt_started{a, 1},
    // attempt_finished{a, 1, failed, fail}, task_blocked{c, by: a}: accepted
    // once, and mission_finished{failed} then follows with c never run.
    let mut m = Mission::new(plan(
        Vec::new(),
        vec![task("a", &[], None), task("c", &[], None)],
    ));
    m.ok(run(1))
        .ok(start("a", 1))
        .ok(finish("a", 1, failed(), NextStep::Fail));
    assert!(m.newly_blocked().is_empty());
    m.rejects(blocked("c", "a"));
}

#[test]
fn bug_a_task_is_blocked_by_a_phase_only_when_an_earlier_phase_is_dead() {
    // created{a, no phases}, task_blocked{a, by: "phase:anything"}: accepted
    // once, before the mission even ran.
    let mut m = Mission::new(plan(Vec::new(), vec![task("a", &[], None)]));
    m.rejects(blocked("a", "phase:anything"));
    // Nor by its own, healthy, phase.
    let mut m = Mission::new(plan(
        vec![phase("build", &["make test"]), phase("ship", &[])],
        vec![task("a", &[], Some(0)), task("b", &[], Some(1))],
    ));
    m.rejects(blocked("b", "phase:build"));
}

#[test]
fn bug_a_finished_mission_takes_no_gate_results() {
    // created{phase 0 gate `make test`: a}, run 1, attempt_started{a, 1},
    // attempt_finished{a, 1, succeeded, done}, gate{0, make test, failed},
    // mission_finished{failed}, gate{0, make test, passed}: the last is
    // once accepted, and then final_status() says succeeded while the
    // mission's status says failed.
    let mut m = Mission::new(plan(
        vec![phase("build", &["make test"])],
        vec![task("a", &[], Some(0))],
    ));
    m.ok(run(1))
        .ok(start("a", 1))
        .ok(done("a", 1))
        .ok(gate(0, "make test", false))
        .ok(mission_finished(MissionStatus::Failed));
    m.rejects(gate(0, "make test", true));
    assert_eq!(m.state.final_status(), m.state.status);
}

#[test]
fn bug_a_failed_gate_does_not_make_a_task_both_ready_and_blocked() {
    // created{phase 0 gate `make test`: a; phase 1: b}, run 1,
    // attempt_started{a, 1}, attempt_finished{a, 1, succeeded, done},
    // gate{0, make test, failed}, gate{0, make test, passed}: accepted
    // once; then b is in ready() (phase_gates_passed) and in
    // newly_blocked() (phase_gate_failed) at once.
    let mut m = Mission::new(plan(
        vec![phase("build", &["make test"]), phase("ship", &[])],
        vec![task("a", &[], Some(0)), task("b", &[], Some(1))],
    ));
    m.ok(run(1))
        .ok(start("a", 1))
        .ok(done("a", 1))
        .ok(gate(0, "make test", false));
    // Either the second result is rejected, or it is accepted and the
    // phase is consistently open or dead.
    if m.state
        .apply(&m.next_record(gate(0, "make test", true)))
        .is_ok()
    {
        let ready = m.state.ready(ts(1_000));
        let blocked: Vec<usize> = m.state.newly_blocked().iter().map(|b| b.0).collect();
        assert!(
            ready.iter().all(|t| !blocked.contains(t)),
            "ready {ready:?} and newly blocked {blocked:?}"
        );
    }
}

#[test]
fn bug_a_gate_result_names_a_gate_of_its_phase() {
    // created{phase 0 gate `make test`: a}, run 1, attempt_started{a, 1},
    // attempt_finished{a, 1, succeeded, done}, gate{0, "rm -rf /", failed}:
    // once accepted, and it kills phase 0.
    let mut m = Mission::new(plan(
        vec![phase("build", &["make test"])],
        vec![task("a", &[], Some(0))],
    ));
    m.ok(run(1)).ok(start("a", 1)).ok(done("a", 1));
    m.rejects(gate(0, "rm -rf /", false));
}

#[test]
fn bug_a_mission_finishes_only_when_settled() {
    // created{phase 0 gate `make test`: a}, run 1, attempt_started{a, 1},
    // attempt_finished{a, 1, succeeded, done}, mission_finished{failed}:
    // once accepted although is_settled() is false and the gate could pass.
    let mut m = Mission::new(plan(
        vec![phase("build", &["make test"])],
        vec![task("a", &[], Some(0))],
    ));
    m.ok(run(1)).ok(start("a", 1)).ok(done("a", 1));
    assert!(!m.state.is_settled());
    m.rejects(mission_finished(MissionStatus::Failed));
}

// ---------------------------------------------------------------------------
// Property tests: random plans, random logs.

const IDS: [&str; 6] = ["t0", "t1", "t2", "t3", "t4", "t5"];
const GATES: [&str; 2] = ["make test", "make lint"];
const AGENTS: [&str; 2] = ["coder", "backup"];

/// Random plans of 1-5 tasks over 0-3 phases of 0-2 gates each. Dependencies
/// point to earlier tasks, so the graph is a DAG. With `ordered`, phases
/// grow with the task index, so no dependency waits on a later phase and
/// every mission can finish.
fn arb_plan(ordered: bool) -> impl Strategy<Value = MissionPlan> {
    (1usize..=5, 0usize..=3)
        .prop_flat_map(|(tasks, phases)| {
            let gates = prop::collection::vec(0usize..=GATES.len(), phases);
            let task = (
                any::<u8>(),
                0..=phases,
                0u32..=2,
                any::<bool>(),
                prop::option::of(0.0f64..100.0),
            );
            (
                gates,
                prop::collection::vec(task, tasks),
                0.0f64..=1.0,
                prop::collection::vec(0u64..60_000, 0..=3),
                (
                    any::<bool>(),
                    0usize..=GATES.len(),
                    1u32..=2,
                    prop::collection::vec(any::<bool>(), 0..=3),
                ),
            )
        })
        .prop_map(
            move |(gates, specs, threshold, backoff_ms, (repo, task_gates, wip, done))| {
                let phases: Vec<PhasePlan> = gates
                    .iter()
                    .enumerate()
                    .map(|(p, &n)| phase(&format!("p{p}"), &GATES[..n]))
                    .collect();
                // `phases.len()` stands for "no phase".
                let mut in_phase: Vec<usize> = specs.iter().map(|s| s.1).collect();
                if ordered {
                    let mut sorted: Vec<usize> = in_phase
                        .iter()
                        .copied()
                        .filter(|&p| p < phases.len())
                        .collect();
                    sorted.sort_unstable();
                    let mut sorted = sorted.into_iter();
                    for p in in_phase.iter_mut().filter(|p| **p < phases.len()) {
                        *p = sorted.next().unwrap();
                    }
                }
                let tasks = specs
                    .iter()
                    .enumerate()
                    .map(|(i, &(mask, _, retries, backup, estimate))| {
                        let deps: Vec<&str> = (0..i)
                            .filter(|j| mask & (1 << j) != 0)
                            .map(|j| IDS[j])
                            .collect();
                        let mut t = task(
                            IDS[i],
                            &deps,
                            (in_phase[i] < phases.len()).then_some(in_phase[i]),
                        );
                        t.retries = retries;
                        t.detail.backup = backup.then(|| "backup".to_string());
                        t.detail.estimate_hours = estimate;
                        t.remaining_hours = estimate.unwrap_or(0.0);
                        if mask & 0x80 != 0 {
                            t.detail.gates = GATES[..task_gates]
                                .iter()
                                .map(|g| command_gate(g))
                                .collect();
                        }
                        t
                    })
                    .collect();
                let mut plan = plan(phases, tasks);
                plan.failure_threshold = threshold;
                plan.backoff_ms = backoff_ms;
                if repo {
                    plan.repository = Some(Box::new(repository(wip)));
                }
                // `true`: a check techlead runs; `false`: a statement.
                plan.done_when = done
                    .iter()
                    .enumerate()
                    .map(|(i, &checked)| match checked {
                        true => DoneItem::check(format!("item {i}"), format!("check {i}")),
                        false => DoneItem::statement(format!("item {i}")),
                    })
                    .collect();
                plan
            },
        )
}

fn arb_text() -> impl Strategy<Value = String> {
    "\\PC{0,6}"
}

/// Any name a hostile or confused log could use for a task or a blocker.
fn arb_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "t0", "t1", "t2", "t3", "t4", "t5", "ghost", "phase:p0", "phase:p1", "phase:zz",
    ])
    .prop_map(String::from)
}

fn arb_agent() -> impl Strategy<Value = String> {
    prop::sample::select(AGENTS.to_vec()).prop_map(String::from)
}

fn arb_outcome() -> impl Strategy<Value = AttemptOutcome> {
    prop_oneof![
        prop::option::of(arb_text()).prop_map(|summary| AttemptOutcome::Succeeded { summary }),
        (any::<Option<i32>>(), any::<Option<i32>>(), arb_text()).prop_map(
            |(exit_code, signal, message)| AttemptOutcome::Failed {
                exit_code,
                signal,
                message
            }
        ),
        Just(AttemptOutcome::TimedOut),
        Just(AttemptOutcome::Cancelled),
        Just(AttemptOutcome::Interrupted),
    ]
}

fn arb_next() -> impl Strategy<Value = NextStep> {
    prop_oneof![
        Just(NextStep::Done),
        Just(NextStep::Check),
        (arb_agent(), -5i64..200).prop_map(|(agent, at)| NextStep::Retry { agent, at: ts(at) }),
        Just(NextStep::Fail),
        Just(NextStep::Requeue),
    ]
}

fn arb_report() -> impl Strategy<Value = Report> {
    prop_oneof![
        arb_text().prop_map(Report::Blocked),
        arb_text().prop_map(Report::Artifact),
        arb_text().prop_map(Report::Decision),
        arb_text().prop_map(Report::Summary),
    ]
}

fn arb_status() -> impl Strategy<Value = MissionStatus> {
    prop::sample::select(vec![
        MissionStatus::Created,
        MissionStatus::Running,
        MissionStatus::Paused,
        MissionStatus::Interrupted,
        MissionStatus::Succeeded,
        MissionStatus::Failed,
    ])
}

/// Events built without looking at the state: mostly invalid, sometimes
/// accidentally valid, and then often in ways the engine would not choose.
fn arb_event() -> impl Strategy<Value = Event> {
    let attempt = || 0u32..=4;
    prop_oneof![
        1 => arb_plan(false).prop_map(|plan| Event::MissionCreated { plan: Box::new(plan) }),
        2 => (0u32..=4, any::<u32>(), arb_text())
            .prop_map(|(run, pid, host)| run_started(run, pid, &host)),
        4 => (arb_name(), attempt(), arb_agent(), arb_text()).prop_map(
            |(task, attempt, agent, dir)| Event::AttemptQueued {
                task,
                attempt,
                agent,
                executor: "command".to_string(),
                dir,
            }
        ),
        3 => (arb_name(), attempt()).prop_map(|(task, attempt)| take_slot(&task, attempt)),
        1 => (arb_name(), attempt()).prop_map(|(task, attempt)| withdraw(&task, attempt)),
        2 => (arb_name(), attempt(), prop::option::of(0u8..=100), arb_text()).prop_map(
            |(task, attempt, percent, message)| Event::AttemptProgress {
                task,
                attempt,
                percent,
                message,
            }
        ),
        1 => (arb_name(), attempt(), arb_report())
            .prop_map(|(task, attempt, report)| Event::AttemptReported { task, attempt, report }),
        4 => (arb_name(), attempt(), arb_outcome(), any::<u64>(), arb_next()).prop_map(
            |(task, attempt, outcome, duration_ms, next)| Event::AttemptFinished {
                task,
                attempt,
                outcome,
                duration_ms,
                next,
            }
        ),
        3 => (arb_name(), arb_name()).prop_map(|(task, by)| Event::TaskBlocked { task, by }),
        3 => (
            0usize..=3,
            prop::sample::select(vec!["make test", "make lint", "rm -rf /"]),
            any::<bool>(),
            any::<Option<i32>>(),
            arb_text(),
        )
            .prop_map(|(phase, gate, passed, exit_code, log)| Event::PhaseGateFinished {
                phase,
                gate: gate.to_string(),
                passed,
                exit_code,
                log,
            }),
        2 => (arb_name(), attempt(), arb_text()).prop_map(|(task, attempt, commit)| {
            Event::WorkSaved {
                task,
                attempt,
                commit,
                files: vec!["a.rs".to_string()],
            }
        }),
        3 => (
            arb_name(),
            attempt(),
            prop::sample::select(GATES.to_vec()),
            any::<bool>(),
            prop::option::of(arb_next()),
        )
            .prop_map(|(task, attempt, gate, passed, next)| Event::TaskGateFinished {
                task,
                attempt,
                gate: gate.to_string(),
                passed,
                exit_code: None,
                reasons: Vec::new(),
                log: "gate.log".to_string(),
                next,
            }),
        2 => (arb_name(), prop::option::of(arb_text()))
            .prop_map(|(task, merge)| Event::TaskAccepted { task, merge }),
        1 => (arb_name(), arb_next()).prop_map(|(task, next)| Event::MergeConflicted {
            task,
            files: vec!["a.rs".to_string()],
            next,
        }),
        2 => (0usize..=3, any::<bool>(), any::<Option<i32>>(), arb_text()).prop_map(
            |(item, passed, exit_code, log)| Event::DoneChecked {
                item,
                passed,
                exit_code,
                log,
            }
        ),
        1 => arb_text().prop_map(|reason| Event::DispatchPaused { reason }),
        1 => Just(Event::DispatchResumed),
        1 => (any::<u32>(), arb_text(), prop::collection::vec(arb_name(), 0..3)).prop_map(
            |(id, message, tasks)| Event::EscalationRaised {
                id,
                kind: EscalationKind::FailureRate,
                message,
                tasks,
                options: vec!["retry".to_string(), "abort".to_string()],
            }
        ),
        1 => arb_text().prop_map(|reason| Event::RunInterrupted { reason }),
        2 => arb_status().prop_map(|status| Event::MissionFinished { status }),
    ]
}

/// One step of a random log.
#[derive(Debug, Clone)]
enum Step {
    /// One of the events a well-behaved engine could record now, chosen by
    /// `pick`; `flavor` decides outcomes.
    Plausible { pick: usize, flavor: u8 },
    /// An event chosen without looking at the state.
    Any(Event),
    /// An event with a wrong sequence number (`offset` from the right one).
    BadSeq { event: Event, offset: i64 },
}

fn arb_step() -> impl Strategy<Value = (Step, i64)> {
    let step = prop_oneof![
        7 => (any::<usize>(), any::<u8>())
            .prop_map(|(pick, flavor)| Step::Plausible { pick, flavor }),
        2 => arb_event().prop_map(Step::Any),
        1 => (arb_event(), prop_oneof![-3i64..=-1, 1i64..=3])
            .prop_map(|(event, offset)| Step::BadSeq { event, offset }),
    ];
    (step, 0i64..=6)
}

/// How an attempt ends, by `flavor`, with the retry policy of DESIGN
/// decision 11: retries on the agent, then the backup, then failure.
fn ending(state: &MissionState, t: usize, flavor: u8, now: i64) -> (AttemptOutcome, NextStep) {
    let outcome = match flavor % 8 {
        0..=3 => {
            let summary = (flavor & 1 == 0).then(|| format!("did {}", state.plan.tasks[t].id));
            let next = if state.needs_check(t) {
                NextStep::Check
            } else {
                NextStep::Done
            };
            return (AttemptOutcome::Succeeded { summary }, next);
        }
        4 => failed(),
        5 => AttemptOutcome::TimedOut,
        6 => return (AttemptOutcome::Interrupted, NextStep::Requeue),
        _ => return (AttemptOutcome::Cancelled, NextStep::Requeue),
    };
    (outcome, retry_or_fail(state, t, flavor, now))
}

/// What a plausible engine does after a failure or a rejection.
fn retry_or_fail(state: &MissionState, t: usize, flavor: u8, now: i64) -> NextStep {
    let plan = &state.plan.tasks[t];
    let task = &state.tasks[t];
    let at = ts(now + i64::from(flavor % 4));
    if task.failures_on(&task.agent) < plan.retries {
        NextStep::Retry {
            agent: task.agent.clone(),
            at,
        }
    } else {
        match &plan.detail.backup {
            Some(backup) if *backup != task.agent => NextStep::Retry {
                agent: backup.clone(),
                at,
            },
            _ => NextStep::Fail,
        }
    }
}

/// The events an engine driving this mission could record at `now`.
fn plausible(state: &MissionState, now: i64, flavor: u8) -> Vec<Event> {
    let mut events = Vec::new();
    let status = state.status;
    if status.is_finished() {
        return events;
    }
    // About one step in sixteen pauses, interrupts or restarts the run.
    let rare = flavor >= 240;
    match status {
        MissionStatus::Created | MissionStatus::Interrupted => events.push(run(state.runs + 1)),
        MissionStatus::Paused => {
            events.push(Event::DispatchResumed);
            if rare {
                events.push(run(state.runs + 1));
            }
        }
        MissionStatus::Running if state.aborting => {}
        MissionStatus::Running => {
            for t in state.ready(ts(now)) {
                let task = &state.tasks[t];
                events.push(start_on(
                    &state.plan.tasks[t].id,
                    task.attempts.len() as u32 + 1,
                    &task.agent,
                ));
            }
            if rare {
                events.push(Event::DispatchPaused {
                    reason: "person asked".to_string(),
                });
                events.push(Event::RunInterrupted {
                    reason: "Ctrl-C".to_string(),
                });
                events.push(run(state.runs + 1));
            }
        }
        MissionStatus::Succeeded | MissionStatus::Failed | MissionStatus::Aborted => {
            unreachable!()
        }
    }
    for t in state.queued() {
        let id = &state.plan.tasks[t].id;
        let attempt = state.tasks[t].attempts.len() as u32;
        if matches!(status, MissionStatus::Running | MissionStatus::Paused) {
            events.push(take_slot(id, attempt));
        }
        if rare {
            events.push(withdraw(id, attempt));
        }
        if flavor % 8 >= 4 {
            // The process could not start, or techlead died first.
            let (outcome, next) = ending(state, t, flavor, now);
            events.push(finish(id, attempt, outcome, next));
        }
    }
    for t in state.running() {
        let id = &state.plan.tasks[t].id;
        let attempt = state.tasks[t].attempts.len() as u32;
        let (outcome, next) = ending(state, t, flavor, now);
        events.push(finish(id, attempt, outcome, next));
        events.push(Event::AttemptUsage {
            task: id.clone(),
            attempt,
            usage: techlead_core::state::Usage {
                input_tokens: u64::from(flavor) * 10,
                output_tokens: u64::from(flavor % 7),
                cost_usd: f64::from(flavor) / 1000.0,
                ..Default::default()
            },
        });
        if state.plan.repository.is_some() && flavor & 16 != 0 {
            events.push(Event::WorkSaved {
                task: id.clone(),
                attempt,
                commit: format!("c{attempt}"),
                files: vec![format!("{id}.rs")],
            });
        }
        if flavor & 8 != 0 {
            events.push(progress(id, attempt, Some(flavor % 101), "working"));
            events.push(report(id, attempt, Report::Artifact(format!("{id}.out"))));
        }
    }
    for t in state.checking() {
        events.extend(check_step(state, t, flavor, now));
    }
    for (t, by) in state.newly_blocked() {
        events.push(blocked(&state.plan.tasks[t].id, &by));
    }
    for (p, g) in state.gates_due() {
        events.push(gate(p, &g, flavor & 48 != 0));
    }
    if let Some(item) = state.done_due() {
        events.push(done_checked(item, flavor & 96 != 0));
    }
    if state.failure_rate() > state.plan.failure_threshold && flavor % 4 == 1 {
        let failed = (0..state.tasks.len())
            .filter(|&t| state.tasks[t].status == TaskStatus::Failed)
            .map(|t| state.plan.tasks[t].id.clone())
            .collect();
        events.push(Event::EscalationRaised {
            id: state.escalations + 1,
            kind: if flavor % 8 == 5 {
                EscalationKind::Gate
            } else {
                EscalationKind::FailureRate
            },
            message: "failure rate over the threshold".to_string(),
            tasks: failed,
            options: vec!["retry".to_string(), "abort".to_string()],
        });
    }
    if let Some(open) = state.open_escalations.first()
        && flavor % 5 == 2
    {
        let decision = match flavor % 9 {
            0 => Decision::Abort,
            1 | 2 => Decision::Skip,
            7 => Decision::Approve,
            8 => Decision::Edit {
                text: "try the other way".into(),
            },
            3 if !state.plan.agents.is_empty() => Decision::Reassign {
                agent: state.plan.agents[0].name.clone(),
            },
            _ => Decision::Retry,
        };
        if state.refusal(open.id, &decision).is_none() {
            let effects = state.decision_effects(open.id, &decision);
            events.push(Event::EscalationResolved {
                id: open.id,
                decision,
                by: "person".to_string(),
                note: None,
                request: None,
            });
            events.extend(effects);
        }
    }
    for t in state.newly_unblocked() {
        events.push(Event::TaskReopened {
            task: state.plan.tasks[t].id.clone(),
            agent: None,
        });
    }
    let busy = state.queued().next().is_some()
        || state.running().next().is_some()
        || state.count(TaskStatus::Checking) > 0;
    if status == MissionStatus::Running && state.aborting && !busy {
        events.push(mission_finished(MissionStatus::Aborted));
    } else if status == MissionStatus::Running && state.is_settled() {
        events.push(mission_finished(state.final_status()));
    }
    events
}

/// The next thing that happens to a task being checked: its next gate's
/// verdict, or its acceptance (merge) or a merge conflict.
fn check_step(state: &MissionState, t: usize, flavor: u8, now: i64) -> Vec<Event> {
    let id = state.plan.tasks[t].id.clone();
    let attempt = state.tasks[t].attempts.len() as u32;
    if let Some((_, gate)) = state.next_gate(t) {
        let passed = !flavor.is_multiple_of(3);
        return vec![Event::TaskGateFinished {
            task: id,
            attempt,
            gate: gate.name(),
            passed,
            exit_code: Some(i32::from(!passed)),
            reasons: Vec::new(),
            log: "gate.log".to_string(),
            next: (!passed).then(|| retry_or_fail(state, t, flavor, now)),
        }];
    }
    let repo = state.plan.repository.is_some();
    if repo && flavor.is_multiple_of(5) {
        let next = if state.tasks[t].work.conflicts == 0 {
            NextStep::Retry {
                agent: "coder".to_string(),
                at: ts(now),
            }
        } else {
            NextStep::Fail
        };
        return vec![Event::MergeConflicted {
            task: id,
            files: vec!["shared.rs".to_string()],
            next,
        }];
    }
    vec![Event::TaskAccepted {
        task: id,
        merge: repo.then(|| format!("m{attempt}")),
    }]
}

fn json_round_trip(record: &EventRecord) -> Result<(), TestCaseError> {
    let json = serde_json::to_string(record).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back: EventRecord =
        serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
    prop_assert_eq!(&back, record, "JSON: {}", json);
    Ok(())
}

fn phase_members(state: &MissionState, p: usize) -> impl Iterator<Item = usize> + '_ {
    (0..state.plan.tasks.len()).filter(move |&t| state.plan.tasks[t].detail.phase == Some(p))
}

fn dep_indices(state: &MissionState, t: usize) -> impl Iterator<Item = usize> + '_ {
    state.plan.tasks[t]
        .depends_on
        .iter()
        .map(|d| state.task_index(d).expect("plans are checked"))
}

/// What the fold guarantees about any state it accepted.
fn check_invariants(s: &MissionState) -> Result<(), TestCaseError> {
    use TaskStatus as T;
    prop_assert_eq!(s.tasks.len(), s.plan.tasks.len());
    prop_assert_eq!(s.gates.len(), s.plan.phases.len());
    prop_assert_eq!(s.runs == 0, s.status == MissionStatus::Created);
    let mut any_running = false;
    for (t, task) in s.tasks.iter().enumerate() {
        let id = &s.plan.tasks[t].id;
        // Attempts are numbered 1..=n in order; only the last may be
        // unfinished, and only while the task runs.
        for (k, a) in task.attempts.iter().enumerate() {
            prop_assert_eq!(a.number, k as u32 + 1, "{}: attempt numbers", id);
            prop_assert_eq!(a.finished_at.is_some(), a.outcome.is_some());
            prop_assert_eq!(a.duration_ms.is_some(), a.outcome.is_some());
            if k + 1 < task.attempts.len() {
                prop_assert!(
                    a.outcome.is_some(),
                    "{}: an earlier attempt is unfinished",
                    id
                );
            }
        }
        let current = task.current_attempt();
        prop_assert_eq!(
            current.is_some(),
            matches!(task.status, T::Queued | T::Running),
            "{}: queued or running iff an attempt is open",
            id
        );
        if let Some(current) = current {
            prop_assert_eq!(
                current.started_at.is_some(),
                task.status == T::Running,
                "{}: started iff running",
                id
            );
        }
        prop_assert_eq!(
            task.blocked_by.is_some(),
            task.status == T::Blocked,
            "{}: blocked_by",
            id
        );
        if task.retry_at.is_some() {
            prop_assert!(
                matches!(task.status, T::Retrying | T::Queued | T::Blocked),
                "{}: retry_at when {}",
                id,
                task.status
            );
        }
        let last = task.attempts.last().and_then(|a| a.outcome.as_ref());
        match task.status {
            T::Pending => prop_assert!(
                matches!(
                    last,
                    None | Some(AttemptOutcome::Cancelled | AttemptOutcome::Interrupted)
                ) || task.work.fresh_from as usize == task.attempts.len(),
                "{}: pending after {:?}",
                id,
                last
            ),
            T::Queued | T::Running => {
                any_running = true;
                prop_assert_eq!(&task.agent, &current.unwrap().agent);
            }
            T::Retrying => {
                let rejected = task
                    .attempts
                    .last()
                    .is_some_and(|a| a.detail.rejected_by.is_some());
                prop_assert!(
                    last.is_some_and(AttemptOutcome::is_failure)
                        || rejected
                        || task.work.conflict.is_some(),
                    "{}: retrying after {:?}",
                    id,
                    last
                );
                prop_assert!(task.retry_at.is_some());
            }
            T::Succeeded => prop_assert!(
                matches!(last, Some(AttemptOutcome::Succeeded { .. })) || task.work.approved,
                "{}: succeeded after {:?}",
                id,
                last
            ),
            T::Checking => prop_assert!(
                (matches!(last, Some(AttemptOutcome::Succeeded { .. })) || task.work.approved)
                    && s.needs_check(t),
                "{}: checking after {:?}",
                id,
                last
            ),
            T::Failed => prop_assert!(
                last.is_some_and(AttemptOutcome::is_failure)
                    || task
                        .attempts
                        .last()
                        .is_some_and(|a| a.detail.rejected_by.is_some())
                    || task.work.conflicts > 0,
                "{}: failed after {:?}",
                id,
                last
            ),
            T::Blocked | T::Skipped => {}
        }
    }
    if any_running {
        prop_assert!(
            matches!(
                s.status,
                MissionStatus::Running | MissionStatus::Paused | MissionStatus::Interrupted
            ),
            "tasks run in a {} mission",
            s.status
        );
    }
    // The fold's spend sums are the attempts' last reports, summed.
    let tokens: u64 = s
        .tasks
        .iter()
        .flat_map(|t| &t.attempts)
        .filter_map(|a| a.detail.usage.as_ref())
        .map(|u| u.input_tokens + u.output_tokens)
        .sum();
    prop_assert_eq!(s.spent_tokens, tokens);
    if s.status == MissionStatus::Created {
        prop_assert!(
            s.tasks.iter().all(|t| t.attempts.is_empty()),
            "an attempt before any run"
        );
    }
    if s.status == MissionStatus::Aborted {
        // Aborted: what had not started never will; nothing still runs.
        prop_assert!(
            s.tasks
                .iter()
                .all(|t| !matches!(t.status, T::Queued | T::Running | T::Checking)),
            "an aborted mission still runs tasks"
        );
    } else if s.status.is_finished() {
        prop_assert!(
            s.tasks.iter().all(|t| t.status.is_terminal()),
            "a finished mission has unfinished tasks"
        );
    }
    if s.status == MissionStatus::Succeeded {
        prop_assert!(s.tasks.iter().all(|t| t.status.lets_dependents_start()));
        prop_assert!((0..s.plan.phases.len()).all(|p| s.phase_gates_passed(p)));
        prop_assert!(
            (0..s.done.len()).all(|i| matches!(
                s.done_state(i),
                DoneState::Met | DoneState::Approved | DoneState::ToConfirm
            )),
            "succeeded with the definition of done unmet"
        );
    }
    // A definition-of-done check ran only on a command, and only once the
    // work was all in (which nothing undoes).
    prop_assert_eq!(s.done.len(), s.plan.done_when.len());
    for (i, result) in s.done.iter().enumerate() {
        if result.is_some() {
            prop_assert!(s.plan.done_when[i].run.is_some(), "item {} has no check", i);
            prop_assert!(s.work_succeeded(), "item {} checked early", i);
        }
    }
    if let Some(item) = s.done_due() {
        prop_assert!(s.work_succeeded() && s.done[item].is_none());
        prop_assert!(!s.is_settled());
    }
    // A gate ran only once its phase's tasks all succeeded.
    for (p, results) in s.gates.iter().enumerate() {
        if !results.is_empty() {
            prop_assert!(
                phase_members(s, p).all(|t| s.tasks[t].status.lets_dependents_start()),
                "gate of phase {} ran early",
                p
            );
        }
    }
    let rate = s.failure_rate();
    prop_assert!((0.0..=1.0).contains(&rate), "failure rate {}", rate);
    for t in s.ready(ts(i64::from(u32::MAX))) {
        prop_assert!(matches!(s.tasks[t].status, T::Pending | T::Retrying));
    }
    for (t, _) in s.newly_blocked() {
        prop_assert_eq!(s.tasks[t].status, T::Pending);
    }
    for (p, _) in s.gates_due() {
        prop_assert!(!s.phase_gate_failed(p));
    }
    if s.is_settled() {
        prop_assert!(s.tasks.iter().all(|t| t.status.is_terminal()));
    }
    Ok(())
}

/// The stricter guarantees the `bug_*` tests above pinned down.
fn check_should_invariants(s: &MissionState, now: i64) -> Result<(), TestCaseError> {
    use TaskStatus as T;
    let dead = |p: usize| {
        s.phase_gate_failed(p)
            || phase_members(s, p).any(|t| matches!(s.tasks[t].status, T::Failed | T::Blocked))
    };
    for (t, task) in s.tasks.iter().enumerate() {
        let id = &s.plan.tasks[t].id;
        // A task that ever started (so every succeeded one) had its
        // dependencies succeeded and its phase open.
        if !task.attempts.is_empty() {
            for d in dep_indices(s, t) {
                prop_assert!(
                    s.tasks[d].status.lets_dependents_start(),
                    "{} started before its dependency {}",
                    id,
                    s.plan.tasks[d].id
                );
            }
            if let Some(phase) = s.plan.tasks[t].detail.phase {
                for p in 0..phase {
                    prop_assert!(
                        phase_members(s, p).all(|m| s.tasks[m].status.lets_dependents_start())
                            && s.phase_gates_passed(p),
                        "{} started before phase {} passed",
                        id,
                        p
                    );
                }
            }
        }
        // A blocked task is blocked by a failed or blocked dependency, or
        // by an earlier phase that can never pass.
        if task.status == T::Blocked {
            let by = task.blocked_by.as_deref().unwrap_or_default();
            let by_dependency = dep_indices(s, t).any(|d| {
                s.plan.tasks[d].id == by && matches!(s.tasks[d].status, T::Failed | T::Blocked)
            });
            let by_phase = s.plan.tasks[t].detail.phase.is_some_and(|phase| {
                (0..phase).any(|p| by == format!("phase:{}", s.plan.phases[p].name) && dead(p))
            });
            // Until the writer records it, a task whose blocker a
            // decision reopened is blocked by nothing.
            // Or its blocker was reopened and another one holds it.
            let freed = s.newly_unblocked().contains(&t)
                || dep_indices(s, t).any(|d| matches!(s.tasks[d].status, T::Failed | T::Blocked))
                || s.plan.tasks[t]
                    .detail
                    .phase
                    .is_some_and(|phase| (0..phase).any(dead));
            prop_assert!(
                by_dependency || by_phase || freed,
                "{} is blocked by `{}`",
                id,
                by
            );
        }
    }
    // A finished mission has nothing left to do, and its status is the
    // final status.
    if s.status.is_finished() && s.status != MissionStatus::Aborted {
        prop_assert!(s.is_settled(), "finished while {:?} is due", s.gates_due());
        prop_assert_eq!(s.final_status(), s.status);
    }
    // No task is both ready and beyond hope.
    let ready = s.ready(ts(now));
    for (t, by) in s.newly_blocked() {
        prop_assert!(
            !ready.contains(&t),
            "{} is ready and blocked by {}",
            s.plan.tasks[t].id,
            by
        );
    }
    // Gate results name gates of their phase.
    for (p, results) in s.gates.iter().enumerate() {
        for r in results {
            prop_assert!(
                s.plan.phases[p].gates.contains(&r.gate),
                "phase {} has no gate `{}`",
                p,
                r.gate
            );
        }
    }
    Ok(())
}

/// What may change from one accepted event to the next.
fn check_transition(
    before: &MissionState,
    after: &MissionState,
    event: &Event,
) -> Result<(), TestCaseError> {
    let mut moved = 0;
    for (t, (b, a)) in before.tasks.iter().zip(&after.tasks).enumerate() {
        // Only the person's decision moves a finished task: reopened or
        // skipped, once, and nothing else about it changes.
        let decided = match event {
            Event::TaskReopened { task, .. }
            | Event::TaskSkipped { task }
            | Event::TaskApproved { task } => task == &before.plan.tasks[t].id,
            _ => false,
        };
        // An `edit` leaves its guidance on the tasks it reopens next.
        let edited = matches!(
            event,
            Event::EscalationResolved {
                decision: Decision::Edit { .. },
                ..
            }
        );
        if b.status.is_terminal() && !decided {
            let mut a = a.clone();
            if edited {
                a.work.guidance = b.work.guidance.clone();
            }
            prop_assert_eq!(b, &a, "finished task {} changed", &before.plan.tasks[t].id);
        }
        if decided {
            prop_assert!(matches!(b.status, TaskStatus::Failed | TaskStatus::Blocked));
            prop_assert_eq!(&a.attempts, &b.attempts);
        }
        if b.status != a.status {
            moved += 1;
        }
        // Attempts are only added, or the open one finished, or an
        // unstarted claim withdrawn.
        let withdrawn = matches!(event, Event::AttemptWithdrawn { .. })
            && b.status == TaskStatus::Queued
            && matches!(a.status, TaskStatus::Pending | TaskStatus::Retrying);
        if withdrawn {
            prop_assert_eq!(a.attempts.len() + 1, b.attempts.len());
        } else {
            prop_assert!(a.attempts.len() >= b.attempts.len());
        }
        let mut kept = b
            .attempts
            .len()
            .saturating_sub(usize::from(b.current_attempt().is_some()));
        // A gate's rejection marks the finished attempt it judged, once.
        if matches!(event, Event::TaskGateFinished { passed: false, .. })
            && b.status == TaskStatus::Checking
            && a.status != TaskStatus::Checking
        {
            let (judged, after) = (b.attempts.last().unwrap(), a.attempts.last().unwrap());
            prop_assert!(judged.detail.rejected_by.is_none() && after.detail.rejected_by.is_some());
            kept = kept.saturating_sub(1);
        }
        prop_assert_eq!(&a.attempts[..kept], &b.attempts[..kept]);
    }
    prop_assert!(moved <= 1, "one event moved {} tasks", moved);
    if before.status.is_finished() {
        prop_assert_eq!(before.status, after.status);
    }
    prop_assert!(after.runs >= before.runs);
    for (b, a) in before.gates.iter().zip(&after.gates) {
        prop_assert!(
            a.len() >= b.len() && a[..b.len()] == b[..],
            "gate results rewritten"
        );
    }
    for (i, (b, a)) in before.done.iter().zip(&after.done).enumerate() {
        if b.is_some() {
            prop_assert_eq!(b, a, "definition-of-done check {} decided again", i);
        }
    }
    let checked = before
        .done
        .iter()
        .zip(&after.done)
        .filter(|(b, a)| b != a)
        .count();
    prop_assert_eq!(
        checked,
        usize::from(matches!(event, Event::DoneChecked { .. })),
        "{:?} changed {} checks",
        event,
        checked
    );
    let escalated = u32::from(matches!(event, Event::EscalationRaised { .. }));
    prop_assert_eq!(after.escalations, before.escalations + escalated);
    prop_assert_eq!(&after.plan, &before.plan);
    prop_assert_eq!(after.created_at, before.created_at);
    Ok(())
}

/// Applies `steps` to a mission of `plan`, checking every event, and
/// returns the final state.
fn check_log(
    plan: MissionPlan,
    steps: &[(Step, i64)],
    strict: bool,
) -> Result<MissionState, TestCaseError> {
    let first = EventRecord {
        seq: 1,
        at: ts(0),
        event: Event::MissionCreated {
            plan: Box::new(plan),
        },
    };
    json_round_trip(&first)?;
    let mut state =
        MissionState::created(&first).map_err(|e| TestCaseError::fail(e.to_string()))?;
    check_invariants(&state)?;
    let mut log = vec![first];
    let mut now = 0;
    for (step, advance) in steps {
        now += advance;
        let right = state.last_seq + 1;
        let (event, seq) = match step {
            Step::Plausible { pick, flavor } => {
                let events = plausible(&state, now, *flavor);
                if events.is_empty() {
                    continue;
                }
                (events[pick % events.len()].clone(), right)
            }
            Step::Any(event) => (event.clone(), right),
            Step::BadSeq { event, offset } => (event.clone(), right.saturating_add_signed(*offset)),
        };
        let record = EventRecord {
            seq,
            at: ts(now),
            event,
        };
        json_round_trip(&record)?;
        let before = state.clone();
        match state.apply(&record) {
            Ok(()) => {
                prop_assert!(
                    !matches!(step, Step::BadSeq { .. }),
                    "seq {} accepted after {}",
                    seq,
                    before.last_seq
                );
                prop_assert_eq!(state.last_seq, seq);
                prop_assert_eq!(state.last_event_at, record.at);
                check_transition(&before, &state, &record.event)?;
                check_invariants(&state)?;
                if strict {
                    check_should_invariants(&state, now)?;
                }
                log.push(record);
            }
            Err(error) => {
                prop_assert_eq!(
                    &state,
                    &before,
                    "rejected {:?} ({}) changed the state",
                    &record.event,
                    error
                );
                match step {
                    Step::Plausible { .. } => {
                        prop_assert!(
                            false,
                            "the fold rejected {:?}, which its own helpers proposed: {}",
                            &record.event,
                            error
                        );
                    }
                    Step::BadSeq { .. } => {
                        prop_assert!(
                            matches!(error, StateError::OutOfSequence { .. }),
                            "{:?}",
                            error
                        );
                    }
                    Step::Any(_) => {}
                }
            }
        }
    }
    let replayed =
        MissionState::replay(&log).map_err(|e| TestCaseError::fail(format!("replay: {e}")))?;
    prop_assert_eq!(&replayed, &state, "replay differs from the live state");
    Ok(state)
}

/// A small deterministic generator for long step sequences.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random logs, plausible and not: every accepted event keeps the
    /// invariants, every rejected one changes nothing, the accepted log
    /// replays to the same state and round-trips through JSON.
    #[test]
    fn random_logs_keep_the_invariants(
        plan in arb_plan(false),
        steps in prop::collection::vec(arb_step(), 0..60),
    ) {
        check_log(plan, &steps, false)?;
    }

    /// The same with the rules the fold should also enforce.
    #[test]
    fn random_logs_keep_the_stricter_invariants(
        plan in arb_plan(false),
        steps in prop::collection::vec(arb_step(), 0..60),
    ) {
        check_log(plan, &steps, true)?;
    }

    /// A well-behaved engine (only events its helpers propose) keeps even
    /// the stricter invariants, and always brings the mission to its end.
    #[test]
    fn an_engine_driven_by_the_helpers_finishes_every_mission(
        plan in arb_plan(true),
        seed in any::<u64>(),
    ) {
        // Steps with no plausible event (the mission has finished) are
        // skipped, so enough random steps drive the mission to its end.
        let mut rng = seed;
        let steps: Vec<(Step, i64)> = (0..500)
            .map(|_| {
                let r = splitmix64(&mut rng);
                let step = Step::Plausible {
                    pick: (r >> 16) as usize,
                    flavor: r as u8,
                };
                (step, 1 + (r >> 8) as i64 % 6)
            })
            .collect();
        let state = check_log(plan, &steps, true)?;
        prop_assert!(state.status.is_finished(), "not finished: {:?}", state.status);
        prop_assert!(state.is_settled() || state.status == MissionStatus::Aborted);
        prop_assert_eq!(state.final_status(), state.status);
    }

    /// The same engine, with definition-of-done verdicts for any item
    /// arriving at random (early, twice, for a statement): each is
    /// rejected or legal, and the mission still ends as its checks say.
    #[test]
    fn stray_definition_of_done_verdicts_are_rejected_or_legal(
        plan in arb_plan(true),
        seed in any::<u64>(),
    ) {
        let mut rng = seed;
        let steps: Vec<(Step, i64)> = (0..500)
            .map(|_| {
                let r = splitmix64(&mut rng);
                let step = if r.is_multiple_of(5) {
                    Step::Any(done_checked((r >> 8) as usize % 4, r & 0x100 != 0))
                } else {
                    Step::Plausible {
                        pick: (r >> 16) as usize,
                        flavor: r as u8,
                    }
                };
                (step, 1 + (r >> 8) as i64 % 6)
            })
            .collect();
        let state = check_log(plan, &steps, true)?;
        if state.status.is_finished() {
            prop_assert_eq!(state.final_status(), state.status);
        }
    }
}

// ---------------------------------------------------------------------------
// Claims: a slot is claimed while it is still busy, so that it refills
// without waiting for a commit (docs/running.md, "Claims").

fn wide(n: usize) -> MissionPlan {
    let ids: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
    let mut plan = plan(
        Vec::new(),
        ids.iter().map(|id| task(id, &[], None)).collect(),
    );
    plan.max_parallel = 2;
    plan.executor_limits = Vec::new();
    plan
}

#[test]
fn claims_wait_two_per_slot_and_start_only_into_a_free_slot() {
    assert_eq!(dispatch::MIN_CLAIMS_PER_SLOT, 2);
    let mut m = Mission::new(wide(8));
    m.ok(run(1));
    let claimed = dispatch::claim(&m.state, ts(m.clock), dispatch::MIN_CLAIMS_PER_SLOT).claim;
    assert_eq!(m.ids(claimed.clone()), ["t0", "t1", "t2", "t3"]);
    for &t in &claimed {
        m.claim(start(&m.state.plan.tasks[t].id.clone(), 1));
    }
    assert_eq!(m.status("t0"), TaskStatus::Queued);
    assert!(
        dispatch::claim(&m.state, ts(m.clock), dispatch::MIN_CLAIMS_PER_SLOT)
            .claim
            .is_empty()
    );
    assert_eq!(
        m.ids(dispatch::startable(&m.state, ts(m.clock))),
        ["t0", "t1"]
    );

    m.claim(take_slot("t0", 1)).claim(take_slot("t1", 1));
    assert!(
        dispatch::startable(&m.state, ts(m.clock)).is_empty(),
        "no slot is free"
    );
    // Both slots busy: two more claim them ahead.
    let ahead = dispatch::claim(&m.state, ts(m.clock), dispatch::MIN_CLAIMS_PER_SLOT).claim;
    assert_eq!(m.ids(ahead), ["t4", "t5"]);
    m.claim(start("t4", 1)).claim(start("t5", 1));
    assert_eq!(m.state.tally().count(TaskStatus::Queued), 4);
    assert_eq!(m.state.tally().count(TaskStatus::Running), 2);

    m.ok(done("t0", 1));
    assert_eq!(
        m.ids(dispatch::startable(&m.state, ts(m.clock))),
        ["t2"],
        "one slot freed"
    );
}

#[test]
fn claims_respect_each_agents_limit() {
    let mut plan = wide(4);
    plan.max_parallel = 4;
    plan.agent_limits = vec![("coder".to_string(), 1)];
    let mut m = Mission::new(plan);
    m.ok(run(1));
    assert_eq!(
        m.ids(dispatch::claim(&m.state, ts(0), dispatch::MIN_CLAIMS_PER_SLOT).claim),
        ["t0", "t1"]
    );
    m.ok(start("t0", 1)).claim(start("t1", 1));
    assert_eq!(
        m.ids(dispatch::claim(&m.state, ts(0), dispatch::MIN_CLAIMS_PER_SLOT).claim),
        ["t2"]
    );
    m.claim(start("t2", 1));
    assert_eq!(
        dispatch::claim(&m.state, ts(0), dispatch::MIN_CLAIMS_PER_SLOT),
        dispatch::Claims::default()
    );
    assert!(
        dispatch::startable(&m.state, ts(m.clock)).is_empty(),
        "coder runs t0"
    );
    m.ok(done("t0", 1));
    assert_eq!(m.ids(dispatch::startable(&m.state, ts(m.clock))), ["t1"]);
}

#[test]
fn a_withdrawn_claim_leaves_no_attempt_and_keeps_its_retry() {
    let mut m = Mission::new(wide(2));
    m.ok(run(1));
    m.claim(start("t0", 1));
    m.ok(withdraw("t0", 1));
    assert_eq!(m.status("t0"), TaskStatus::Pending);
    assert!(m.task("t0").attempts.is_empty());

    m.ok(start("t0", 1))
        .ok(finish("t0", 1, failed(), retry("coder", ts(50))));
    m.claim(start("t0", 2));
    assert_eq!(m.task("t0").retry_at, Some(ts(50)), "kept while queued");
    m.ok(withdraw("t0", 2));
    assert_eq!(m.status("t0"), TaskStatus::Retrying);
    assert_eq!(m.task("t0").retry_at, Some(ts(50)));
    assert_eq!(m.task("t0").attempts.len(), 1);
    // Only the claim of the current attempt can be withdrawn or started.
    assert!(matches!(
        m.rejects(withdraw("t0", 1)),
        StateError::WrongAttempt { .. }
    ));
    assert!(matches!(
        m.rejects(take_slot("t1", 1)),
        StateError::WrongAttempt { .. }
    ));
}

#[test]
fn a_claim_whose_process_never_started_can_fail_but_not_succeed() {
    let mut m = Mission::new(wide(1));
    m.ok(run(1));
    m.claim(start("t0", 1));
    assert!(matches!(m.rejects(done("t0", 1)), StateError::Task { .. }));
    m.ok(finish("t0", 1, failed(), retry("coder", ts(9))));
    assert_eq!(m.status("t0"), TaskStatus::Retrying);
    assert_eq!(m.task("t0").attempts[0].started_at, None);
}

#[test]
fn a_claim_starts_while_dispatch_is_paused_but_not_after_the_run_ended() {
    let mut m = Mission::new(wide(2));
    m.ok(run(1));
    m.claim(start("t0", 1)).claim(start("t1", 1));
    m.ok(Event::DispatchPaused {
        reason: "failure rate".to_string(),
    });
    m.ok(take_slot("t0", 1));
    m.ok(Event::RunInterrupted {
        reason: "Ctrl-C".to_string(),
    });
    assert!(matches!(
        m.rejects(take_slot("t1", 1)),
        StateError::Mission(_)
    ));
}

#[test]
fn a_more_urgent_task_takes_the_place_of_a_waiting_claim() {
    let mut plan = wide(7);
    plan.tasks[6].priority = Priority::Critical;
    plan.tasks[6].depends_on = vec!["t0".to_string()];
    let mut m = Mission::new(plan);
    m.ok(run(1));
    m.ok(start("t0", 1)).ok(start("t1", 1));
    let claims = dispatch::claim(&m.state, ts(m.clock), dispatch::MIN_CLAIMS_PER_SLOT);
    assert_eq!(m.ids(claims.claim), ["t2", "t3", "t4", "t5"]);
    assert!(claims.withdraw.is_empty());
    for t in ["t2", "t3", "t4", "t5"] {
        m.claim(start(t, 1));
    }
    // t6 is critical and becomes ready when t0 succeeds; the claims are
    // full, so t6 takes the place of the least urgent one.
    m.ok(done("t0", 1));
    let claims = dispatch::claim(&m.state, ts(m.clock), dispatch::MIN_CLAIMS_PER_SLOT);
    assert_eq!(m.ids(claims.claim), ["t6"]);
    assert_eq!(m.ids(claims.withdraw), ["t5"]);
    m.ok(withdraw("t5", 1)).claim(start("t6", 1));
    assert_eq!(
        m.ids(dispatch::startable(&m.state, ts(m.clock))),
        ["t6"],
        "the most urgent claim first"
    );
    // A claim is never given up for a less urgent task.
    let claims = dispatch::claim(&m.state, ts(m.clock), dispatch::MIN_CLAIMS_PER_SLOT);
    assert_eq!(claims, dispatch::Claims::default());
}

fn gate_verdict(
    task: &str,
    attempt: u32,
    gate: &str,
    passed: bool,
    next: Option<NextStep>,
) -> Event {
    Event::TaskGateFinished {
        task: task.to_string(),
        attempt,
        gate: gate.to_string(),
        passed,
        exit_code: Some(i32::from(!passed)),
        reasons: vec!["said why".to_string()],
        log: "gate.log".to_string(),
        next,
    }
}

/// Two independent tasks with gates, in a mission with a repository.
fn gated(wip_limit: u32) -> MissionPlan {
    let mut a = task("a", &[], None);
    a.detail.gates = GATES.iter().map(|g| command_gate(g)).collect();
    a.retries = 1;
    let mut b = task("b", &[], None);
    b.detail.needs = vec!["api/openapi.yaml".to_string()];
    let mut c = task("c", &["a"], None);
    c.detail.needs = vec!["api/".to_string(), "docs/guide.md".to_string()];
    let mut plan = plan(Vec::new(), vec![a, b, c]);
    plan.repository = Some(Box::new(repository(wip_limit)));
    plan
}

#[test]
fn gates_run_in_order_then_the_merge_finishes_the_task() {
    let mut m = Mission::new(gated(2));
    m.ok(run(1)).ok(start("a", 1));
    // Work is saved before the attempt ends; success leads to checking.
    m.ok(Event::WorkSaved {
        task: "a".into(),
        attempt: 1,
        commit: "c1".into(),
        files: vec!["api/openapi.yaml".into()],
    });
    assert_eq!(
        m.rejects(finish("a", 1, succeeded(), NextStep::Done)),
        StateError::InconsistentNext {
            task: "a".into(),
            outcome: "Succeeded { summary: None }".into(),
            next: "Done".into()
        }
    );
    m.ok(finish("a", 1, succeeded(), NextStep::Check));
    assert_eq!(m.state.tasks[0].status, TaskStatus::Checking);
    assert_eq!(m.state.next_gate(0).map(|(i, _)| i), Some(0));
    // Out of order, or accepted before its gates: rejected.
    assert!(matches!(
        m.rejects(gate_verdict("a", 1, "make lint", true, None)),
        StateError::WrongGate { .. }
    ));
    assert!(matches!(
        m.rejects(Event::TaskAccepted {
            task: "a".into(),
            merge: Some("m".into())
        }),
        StateError::NotChecking(_)
    ));
    m.ok(gate_verdict("a", 1, "make test", true, None));
    m.ok(gate_verdict("a", 1, "make lint", true, None));
    assert!(m.state.accept_due(0));
    m.ok(Event::TaskAccepted {
        task: "a".into(),
        merge: Some("m1".into()),
    });
    assert_eq!(m.state.tasks[0].status, TaskStatus::Succeeded);
    assert_eq!(m.state.tasks[0].work.merged.as_deref(), Some("m1"));
    // Its dependent is ready only now, with the handoff, and is told what
    // it lacks.
    assert!(m.state.ready(ts(100)).contains(&2));
    let prompt = techlead_core::prompt::render(&m.state, 2);
    assert!(
        prompt.contains("Changed files:\n\n- api/openapi.yaml"),
        "{prompt}"
    );
    assert!(
        prompt.contains("Checks passed: make test, make lint."),
        "{prompt}"
    );
    assert!(prompt.contains("needs docs/guide.md"), "{prompt}");
    assert_eq!(
        techlead_core::state::missing_needs(&m.state, 2),
        ["docs/guide.md"]
    );
}

#[test]
fn a_rejected_attempt_counts_as_a_failure_and_the_next_one_is_told_why() {
    let mut m = Mission::new(gated(2));
    m.ok(run(1)).ok(start("a", 1));
    m.ok(finish("a", 1, succeeded(), NextStep::Check));
    let next = techlead_core::retry::after_rejection(&m.state, 0, ts(10));
    assert!(matches!(next, NextStep::Retry { .. }), "{next:?}");
    assert!(matches!(
        m.rejects(gate_verdict("a", 1, "make test", false, None)),
        StateError::InconsistentNext { .. }
    ));
    m.ok(gate_verdict("a", 1, "make test", false, Some(next)));
    assert_eq!(m.state.tasks[0].status, TaskStatus::Retrying);
    assert_eq!(m.state.tasks[0].failures_on("coder"), 1);
    m.wait(60).ok(start("a", 2));
    let prompt = techlead_core::prompt::render(&m.state, 0);
    assert!(prompt.contains("did not pass `make test`"), "{prompt}");
    assert!(prompt.contains("said why"), "{prompt}");
    m.ok(finish("a", 2, succeeded(), NextStep::Check));
    // The second attempt's work is judged afresh, from the first gate.
    assert_eq!(m.state.next_gate(0).map(|(i, _)| i), Some(0));
    // No retries left: the next rejection fails the task.
    assert_eq!(
        techlead_core::retry::after_rejection(&m.state, 0, ts(100)),
        NextStep::Fail
    );
    m.ok(gate_verdict(
        "a",
        2,
        "make test",
        false,
        Some(NextStep::Fail),
    ));
    assert_eq!(m.state.tasks[0].status, TaskStatus::Failed);
}

#[test]
fn a_conflict_goes_back_to_an_agent_once_with_its_files() {
    let mut m = Mission::new(gated(2));
    m.ok(run(1)).ok(start("b", 1));
    m.ok(finish("b", 1, succeeded(), NextStep::Check));
    m.ok(Event::MergeConflicted {
        task: "b".into(),
        files: vec!["shared.rs".into()],
        next: NextStep::Retry {
            agent: "resolver".into(),
            at: ts(3),
        },
    });
    let b = &m.state.tasks[1];
    assert_eq!((b.status, b.work.conflicts), (TaskStatus::Retrying, 1));
    assert_eq!(b.agent, "resolver");
    m.ok(start_on("b", 2, "resolver"));
    let prompt = techlead_core::prompt::render(&m.state, 1);
    assert!(
        prompt.contains("Resolve a merge conflict first"),
        "{prompt}"
    );
    assert!(prompt.contains("- shared.rs"), "{prompt}");
    m.ok(finish("b", 2, succeeded(), NextStep::Check));
    assert_eq!(m.state.tasks[1].work.conflict, None);
    m.ok(Event::MergeConflicted {
        task: "b".into(),
        files: vec!["shared.rs".into()],
        next: NextStep::Fail,
    });
    assert_eq!(m.state.tasks[1].status, TaskStatus::Failed);
}

#[test]
fn a_mission_without_a_repository_records_no_merge() {
    let mut plan = gated(2);
    plan.repository = None;
    let mut m = Mission::new(plan);
    m.ok(run(1)).ok(start("b", 1));
    // b has no gates and nothing to merge: done at once.
    assert!(matches!(
        m.rejects(finish("b", 1, succeeded(), NextStep::Check)),
        StateError::InconsistentNext { .. }
    ));
    assert!(matches!(
        m.rejects(Event::WorkSaved {
            task: "b".into(),
            attempt: 1,
            commit: "c".into(),
            files: Vec::new()
        }),
        StateError::NoRepository(_)
    ));
    m.ok(finish("b", 1, succeeded(), NextStep::Done));
    m.ok(start("a", 1))
        .ok(finish("a", 1, succeeded(), NextStep::Check));
    m.ok(gate_verdict("a", 1, "make test", true, None));
    m.ok(gate_verdict("a", 1, "make lint", true, None));
    assert!(matches!(
        m.rejects(Event::TaskAccepted {
            task: "a".into(),
            merge: Some("m".into())
        }),
        StateError::NoRepository(_)
    ));
    m.ok(Event::TaskAccepted {
        task: "a".into(),
        merge: None,
    });
    assert_eq!(m.state.tasks[0].status, TaskStatus::Succeeded);
}

#[test]
fn new_work_waits_while_the_wip_limit_of_checked_tasks_is_reached() {
    let mut m = Mission::new(gated(1));
    m.ok(run(1)).ok(start("a", 1));
    assert!(!dispatch::wip_full(&m.state));
    m.ok(finish("a", 1, succeeded(), NextStep::Check));
    assert!(dispatch::wip_full(&m.state));
    assert_eq!(
        dispatch::claim(&m.state, ts(100), dispatch::MIN_CLAIMS_PER_SLOT),
        Default::default()
    );
    m.ok(gate_verdict("a", 1, "make test", true, None));
    m.ok(gate_verdict("a", 1, "make lint", true, None));
    m.ok(Event::TaskAccepted {
        task: "a".into(),
        merge: Some("m".into()),
    });
    assert!(!dispatch::wip_full(&m.state));
    assert_eq!(
        dispatch::claim(&m.state, ts(100), dispatch::MIN_CLAIMS_PER_SLOT).claim,
        [1, 2]
    );
}

#[test]
fn a_handoff_that_lacks_what_a_task_needs_is_flagged() {
    let mut m = Mission::new(gated(2));
    m.ok(run(1));
    assert_eq!(
        techlead_core::state::missing_needs(&m.state, 1),
        ["api/openapi.yaml"]
    );
    m.ok(Event::HandoffIncomplete {
        task: "b".into(),
        missing: vec!["api/openapi.yaml".into()],
    });
    assert_eq!(m.state.tasks[1].work.missing_inputs, ["api/openapi.yaml"]);
    let prompt = techlead_core::prompt::render(&m.state, 1);
    assert!(prompt.contains("## Missing from the handoff"), "{prompt}");
    assert!(prompt.contains("needs api/openapi.yaml"), "{prompt}");
}

// ---------------------------------------------------------------------------
// The definition of done: statements the person confirms, and checks that
// run once the work is all in and decide whether the mission succeeded.

/// Phase `build` (gate `make test`) holds a; b <- a has no phase. The
/// definition of done: a statement, then two checks.
fn done_plan() -> MissionPlan {
    let mut plan = plan(
        vec![phase("build", &["make test"])],
        vec![task("a", &[], Some(0)), task("b", &["a"], None)],
    );
    plan.done_when = vec![
        DoneItem::statement("The docs are reviewed"),
        DoneItem::check("The tests pass", "cargo test"),
        DoneItem::check("The build is reproducible", "make verify"),
    ];
    plan
}

/// Runs `done_plan` until its work is all in.
fn work_done() -> Mission {
    let mut m = Mission::new(done_plan());
    m.ok(run(1)).ok(start("a", 1)).ok(done("a", 1));
    m.ok(gate(0, "make test", true));
    m.ok(start("b", 1)).ok(done("b", 1));
    m
}

#[test]
fn definition_of_done_checks_wait_for_every_task_and_gate() {
    let mut m = Mission::new(done_plan());
    m.ok(run(1)).ok(start("a", 1));
    assert_eq!(m.state.done_due(), None);
    assert_eq!(
        m.rejects(done_checked(1, true)),
        StateError::DoneTooEarly(1)
    );
    m.ok(done("a", 1));
    // Every task succeeded in the phase, but its gate has not passed.
    assert_eq!(
        m.rejects(done_checked(1, true)),
        StateError::DoneTooEarly(1)
    );
    m.ok(gate(0, "make test", true)).ok(start("b", 1));
    assert_eq!(
        m.rejects(done_checked(1, true)),
        StateError::DoneTooEarly(1)
    );
    m.ok(done("b", 1));
    assert!(m.state.work_succeeded());
    // The checks are due now, in order; the mission cannot finish first.
    assert_eq!(m.state.done_due(), Some(1));
    assert!(!m.state.is_settled());
    assert!(matches!(
        m.rejects(mission_finished(MissionStatus::Succeeded)),
        StateError::CannotFinish { .. }
    ));
    m.assert_replays();
}

#[test]
fn a_statement_is_never_checked_and_a_check_is_decided_once() {
    let mut m = work_done();
    assert_eq!(
        m.rejects(done_checked(0, true)),
        StateError::UnknownDoneCheck(0)
    );
    assert_eq!(
        m.rejects(done_checked(3, true)),
        StateError::UnknownDoneCheck(3)
    );
    m.ok(done_checked(1, true));
    assert_eq!(
        m.rejects(done_checked(1, false)),
        StateError::DoneDecided(1)
    );
    assert_eq!(m.state.done_due(), Some(2));
    assert_eq!(m.state.done_state(0), DoneState::ToConfirm);
    assert_eq!(m.state.done_state(1), DoneState::Met);
    assert_eq!(m.state.done_state(2), DoneState::NotChecked);
    m.assert_replays();
}

#[test]
fn the_mission_succeeds_only_when_every_check_passed() {
    let mut m = work_done();
    m.ok(done_checked(1, true)).ok(done_checked(2, true));
    assert!(m.state.is_settled());
    assert_eq!(m.state.final_status(), MissionStatus::Succeeded);
    assert!(matches!(
        m.rejects(mission_finished(MissionStatus::Failed)),
        StateError::CannotFinish { .. }
    ));
    m.ok(mission_finished(MissionStatus::Succeeded));
    // A finished mission takes no more verdicts.
    assert_mission_error(&m.rejects(done_checked(2, false)));
    m.assert_replays();
}

#[test]
fn a_failed_check_fails_the_mission_after_the_others_ran() {
    let mut m = work_done();
    m.ok(done_checked(1, false));
    assert_eq!(m.state.done_state(1), DoneState::NotMet);
    // The rest still run, so that the report is whole.
    assert_eq!(m.state.done_due(), Some(2));
    assert!(!m.state.is_settled());
    m.ok(done_checked(2, true));
    assert!(m.state.is_settled());
    assert_eq!(m.state.final_status(), MissionStatus::Failed);
    assert!(matches!(
        m.rejects(mission_finished(MissionStatus::Succeeded)),
        StateError::CannotFinish { .. }
    ));
    m.ok(Event::EscalationRaised {
        id: 1,
        kind: EscalationKind::DefinitionOfDone,
        message: "the definition of done is not met: \"The tests pass\"".into(),
        tasks: Vec::new(),
        options: vec!["fix it by hand".into()],
    });
    m.ok(mission_finished(MissionStatus::Failed));
    m.assert_replays();
}

#[test]
fn a_mission_whose_work_failed_checks_nothing() {
    let mut m = Mission::new(done_plan());
    m.ok(run(1)).ok(start("a", 1)).ok(done("a", 1));
    m.ok(gate(0, "make test", false));
    m.ok(start("b", 1))
        .ok(finish("b", 1, failed(), NextStep::Fail));
    assert_eq!(m.state.done_due(), None);
    assert!(m.state.is_settled());
    assert_eq!(m.state.final_status(), MissionStatus::Failed);
    assert_eq!(
        m.rejects(done_checked(1, true)),
        StateError::DoneTooEarly(1)
    );
    m.ok(mission_finished(MissionStatus::Failed));
    assert_eq!(m.state.done_state(1), DoneState::NotChecked);
}

#[test]
fn a_definition_of_done_recorded_as_plain_texts_still_loads() {
    // Missions recorded before items could be checked list strings.
    let mut json = serde_json::to_value(plan(Vec::new(), vec![task("a", &[], None)])).unwrap();
    json["done_when"] = serde_json::json!(["The docs are reviewed", "It ships"]);
    let old: MissionPlan = serde_json::from_value(json).unwrap();
    assert_eq!(
        old.done_when,
        [
            DoneItem::statement("The docs are reviewed"),
            DoneItem::statement("It ships")
        ]
    );
    let mut m = Mission::new(old);
    m.ok(run(1)).ok(start("a", 1)).ok(done("a", 1));
    assert!(m.state.is_settled());
    assert_eq!(m.state.final_status(), MissionStatus::Succeeded);
    // New records keep the command, and read back the same.
    let new = done_plan();
    let back: MissionPlan = serde_json::from_str(&serde_json::to_string(&new).unwrap()).unwrap();
    assert_eq!(back, new);
    let record = serde_json::to_value(&new.done_when).unwrap();
    assert_eq!(
        record[1],
        serde_json::json!({"text": "The tests pass", "run": "cargo test"})
    );
    assert_eq!(
        record[0],
        serde_json::json!({"text": "The docs are reviewed"})
    );
}
