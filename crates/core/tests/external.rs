//! Dependencies on tasks of other missions (`depends_on: [billing/API]`):
//! how a mission file says them, what the writer's look at the other
//! mission decides (`judge_external`), and the fold of what it recorded:
//! readiness, blocking, the person's retry, and replay.

use jiff::Timestamp;
use techlead_core::spec;
use techlead_core::state::{
    Decision, EscalationKind, Event, EventRecord, ExternalDependency, ExternalState, MissionPlan,
    MissionState, MissionStatus, Seen, StateError, TaskStatus, Verdict, judge_external,
};

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(1_750_000_000 + secs).unwrap()
}

fn on(text: &str) -> ExternalDependency {
    ExternalDependency::parse(text).unwrap().unwrap()
}

/// SPEC; REPORT after SPEC and billing/API; DOCS after REPORT.
fn plan() -> MissionPlan {
    let task = |id: &str, depends_on: &[&str], external: &[&str]| {
        serde_json::json!({
            "id": id, "title": format!("Do {id}"), "priority": "medium",
            "depends_on": depends_on, "external": external, "agent": "coder",
            "executor": "command", "timeout_ms": 60_000, "retries": 0,
        })
    };
    serde_json::from_value(serde_json::json!({
        "name": "reports", "source": "mission.yaml", "source_hash": "0", "workdir": ".",
        "max_parallel": 4, "failure_threshold": 0.5, "backoff_ms": [1000],
        "phases": [],
        "tasks": [
            task("SPEC", &[], &[]),
            task("REPORT", &["SPEC"], &["billing/API"]),
            task("DOCS", &["REPORT"], &[]),
        ],
    }))
    .unwrap()
}

/// A mission driven event by event, with its log.
struct Mission {
    state: MissionState,
    log: Vec<EventRecord>,
}

impl Mission {
    fn new() -> Mission {
        let record = EventRecord {
            seq: 1,
            at: ts(0),
            event: Event::MissionCreated {
                plan: Box::new(plan()),
            },
        };
        Mission {
            state: MissionState::created(&record).unwrap(),
            log: vec![record],
        }
    }

    fn record(&self, event: Event) -> EventRecord {
        EventRecord {
            seq: self.state.last_seq + 1,
            at: ts(self.state.last_seq as i64),
            event,
        }
    }

    #[track_caller]
    fn ok(&mut self, event: Event) -> &mut Mission {
        let record = self.record(event);
        if let Err(error) = self.state.apply(&record) {
            panic!("{:?} was rejected: {error}", record.event);
        }
        self.log.push(record);
        self
    }

    #[track_caller]
    fn rejects(&mut self, event: Event) -> StateError {
        let before = self.state.clone();
        let error = self.state.apply(&self.record(event)).unwrap_err();
        assert_eq!(self.state, before, "a rejected event changed the state");
        error
    }

    /// Task `id` claims, starts and succeeds.
    fn run_task(&mut self, id: &str) -> &mut Mission {
        let task = id.to_string();
        self.ok(Event::AttemptQueued {
            task: task.clone(),
            attempt: 1,
            agent: "coder".into(),
            executor: "command".into(),
            dir: format!("runs/{id}"),
        })
        .ok(Event::AttemptStarted {
            task: task.clone(),
            attempt: 1,
        })
        .ok(Event::AttemptFinished {
            task,
            attempt: 1,
            outcome: techlead_core::state::AttemptOutcome::Succeeded { summary: None },
            duration_ms: 10,
            next: techlead_core::state::NextStep::Done,
        })
    }

    fn ready(&self) -> Vec<&str> {
        self.state
            .ready(ts(1_000))
            .into_iter()
            .map(|t| self.state.plan.tasks[t].id.as_str())
            .collect()
    }

    fn status(&self, id: &str) -> TaskStatus {
        self.state.tasks[self.state.task_index(id).unwrap()].status
    }

    #[track_caller]
    fn assert_replays(&self) {
        assert_eq!(MissionState::replay(&self.log).unwrap(), self.state);
    }
}

fn succeeded_in(mission: &str) -> Event {
    Event::ExternalSucceeded {
        task: "REPORT".into(),
        on: on("billing/API"),
        mission: mission.into(),
    }
}

fn failed_in(mission: &str, reason: &str) -> Event {
    Event::ExternalFailed {
        task: "REPORT".into(),
        on: on("billing/API"),
        mission: mission.into(),
        reason: reason.into(),
    }
}

#[test]
fn mission_files_name_other_missions_tasks_with_a_slash() {
    let text = "mission: {name: reports}\ntasks:\n  - {id: SPEC, title: spec}\n  - {id: REPORT, title: report, depends_on: [SPEC, billing/API, ops/v2/DEPLOY]}\n";
    let parsed = spec::parse(text);
    let mission = parsed.mission.expect("parses");
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let report = mission.task("REPORT").unwrap();
    assert_eq!(report.depends_on, ["SPEC"]);
    assert_eq!(report.external, [on("billing/API"), on("ops/v2/DEPLOY")]);
    assert_eq!(report.external[1].mission, "ops/v2", "the last `/` splits");
    assert!(spec::validate(&mission, None).is_empty());
}

#[test]
fn malformed_and_own_mission_references_are_errors_with_hints() {
    let text = "mission: {name: reports}\ntasks:\n  - {id: A, title: a, depends_on: [billing/, /API, billing/not an id]}\n  - {id: B, title: b, depends_on: [reports/A]}\n";
    let parsed = spec::parse(text);
    let codes: Vec<&str> = parsed.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(
        codes, ["spec::bad-dependency"; 3],
        "{:?}",
        parsed.diagnostics
    );
    assert!(parsed.diagnostics[0].message.contains("names no task"));
    assert!(parsed.diagnostics[1].message.contains("names no mission"));
    let own = spec::validate(&parsed.mission.unwrap(), None);
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0].code, "spec::bad-dependency");
    assert_eq!(
        own[0].hint.as_deref(),
        Some("write `A`: `mission/TASK` is for other missions")
    );
    assert_eq!(own[0].span.map(|s| s.line), Some(4));
}

#[test]
fn the_other_missions_record_decides_wait_success_or_failure() {
    let api = on("billing/API");
    let seen = |status, task| Seen::Mission {
        id: "billing-1",
        status,
        task,
    };
    let wait = |v: Verdict| matches!(v, Verdict::Wait(_));
    assert_eq!(
        judge_external(&api, Seen::NoMission),
        Verdict::Wait("mission `billing` has not started yet".into())
    );
    assert!(wait(judge_external(
        &api,
        seen(MissionStatus::Running, Some(TaskStatus::Running))
    )));
    // A paused or interrupted mission may go on: wait.
    assert!(wait(judge_external(
        &api,
        seen(MissionStatus::Interrupted, Some(TaskStatus::Pending))
    )));
    assert_eq!(
        judge_external(
            &api,
            seen(MissionStatus::Running, Some(TaskStatus::Succeeded))
        ),
        Verdict::Succeeded {
            mission: "billing-1".into()
        }
    );
    for (status, task, reason) in [
        (MissionStatus::Running, None, "billing-1 has no task `API`"),
        (
            MissionStatus::Running,
            Some(TaskStatus::Failed),
            "API failed in billing-1",
        ),
        (
            MissionStatus::Failed,
            Some(TaskStatus::Blocked),
            "API is blocked in billing-1",
        ),
        (
            MissionStatus::Aborted,
            Some(TaskStatus::Pending),
            "billing-1 was aborted",
        ),
    ] {
        assert_eq!(
            judge_external(&api, seen(status, task)),
            Verdict::Failed {
                mission: "billing-1".into(),
                reason: reason.into()
            }
        );
    }
    let Verdict::Failed { reason, .. } = judge_external(
        &api,
        seen(MissionStatus::Running, Some(TaskStatus::Skipped)),
    ) else {
        panic!("a skipped task's work was never done");
    };
    assert!(
        reason.starts_with("API was skipped in billing-1"),
        "{reason}"
    );
}

#[test]
fn a_task_is_ready_only_once_its_other_missions_task_succeeded() {
    let mut m = Mission::new();
    m.ok(Event::RunStarted {
        run: 1,
        pid: 1,
        host: "h".into(),
    })
    .run_task("SPEC");
    assert!(m.ready().is_empty(), "REPORT waits for billing/API");
    let report = m.state.task_index("REPORT").unwrap();
    assert_eq!(
        m.state.waiting_for(report).collect::<Vec<_>>(),
        [&on("billing/API")]
    );
    assert_eq!(m.state.external_due().count(), 1);
    let claim = m.record(Event::AttemptQueued {
        task: "REPORT".into(),
        attempt: 1,
        agent: "coder".into(),
        executor: "command".into(),
        dir: "runs/REPORT".into(),
    });
    assert_eq!(
        m.state.clone().apply(&claim),
        Err(StateError::NotReady("REPORT".into()))
    );
    assert!(matches!(
        m.rejects(Event::ExternalSucceeded {
            task: "REPORT".into(),
            on: on("billing/OTHER"),
            mission: "billing-1".into()
        }),
        StateError::UnknownExternal { .. }
    ));

    m.ok(succeeded_in("billing-1"));
    assert_eq!(m.ready(), ["REPORT"]);
    assert_eq!(m.state.external_due().count(), 0);
    assert_eq!(
        m.state.external()[0].state,
        ExternalState::Succeeded {
            mission: "billing-1".into()
        }
    );
    assert!(matches!(
        m.rejects(succeeded_in("billing-1")),
        StateError::ExternalDecided { .. }
    ));
    m.run_task("REPORT").run_task("DOCS");
    assert!(m.state.is_settled());
    m.assert_replays();
}

#[test]
fn a_failed_other_task_blocks_the_waiting_task_until_the_person_retries() {
    let mut m = Mission::new();
    m.ok(Event::RunStarted {
        run: 1,
        pid: 1,
        host: "h".into(),
    })
    .run_task("SPEC")
    .ok(failed_in("billing-1", "API failed in billing-1"));
    let blocked: Vec<(usize, String)> = m.state.newly_blocked();
    assert_eq!(blocked, [(1, "billing/API".to_string())]);
    m.ok(Event::TaskBlocked {
        task: "REPORT".into(),
        by: "billing/API".into(),
    });
    assert_eq!(m.state.newly_blocked(), [(2, "REPORT".to_string())]);
    m.ok(Event::TaskBlocked {
        task: "DOCS".into(),
        by: "REPORT".into(),
    })
    .ok(Event::EscalationRaised {
        id: 1,
        kind: EscalationKind::ExternalDependency,
        message: "REPORT waits for billing/API: API failed in billing-1".into(),
        tasks: vec!["REPORT".into()],
        options: ["retry", "skip", "abort"].map(String::from).to_vec(),
    });
    assert!(m.state.is_settled(), "nothing can move without the person");
    assert_eq!(
        m.state.external_due().count(),
        0,
        "no more looks while blocked"
    );

    // Retry: REPORT waits for billing/API again, DOCS for REPORT.
    let effects = m.state.decision_effects(1, &Decision::Retry);
    assert_eq!(
        effects,
        [Event::TaskReopened {
            task: "REPORT".into(),
            agent: None
        }]
    );
    m.ok(Event::EscalationResolved {
        id: 1,
        decision: Decision::Retry,
        by: "cli".into(),
        note: None,
        request: None,
    });
    for effect in effects {
        m.ok(effect);
    }
    assert_eq!(m.status("REPORT"), TaskStatus::Pending);
    assert_eq!(m.state.external()[0].state, ExternalState::Waiting);
    assert_eq!(m.state.newly_unblocked(), [2]);
    m.ok(Event::TaskReopened {
        task: "DOCS".into(),
        agent: None,
    });
    assert!(m.ready().is_empty(), "still waiting for billing/API");
    // The person reran billing: billing-2's API succeeded.
    m.ok(succeeded_in("billing-2"));
    assert_eq!(m.ready(), ["REPORT"]);
    m.assert_replays();
}

#[test]
fn skipping_the_blocked_task_lets_its_dependents_go_on() {
    let mut m = Mission::new();
    m.ok(Event::RunStarted {
        run: 1,
        pid: 1,
        host: "h".into(),
    })
    .run_task("SPEC")
    .ok(failed_in("billing-1", "billing-1 was aborted"))
    .ok(Event::TaskBlocked {
        task: "REPORT".into(),
        by: "billing/API".into(),
    })
    .ok(Event::EscalationRaised {
        id: 1,
        kind: EscalationKind::ExternalDependency,
        message: "x".into(),
        tasks: vec!["REPORT".into()],
        options: vec!["retry".into(), "skip".into(), "abort".into()],
    })
    .ok(Event::EscalationResolved {
        id: 1,
        decision: Decision::Skip,
        by: "cli".into(),
        note: None,
        request: None,
    })
    .ok(Event::TaskSkipped {
        task: "REPORT".into(),
    });
    assert_eq!(m.ready(), ["DOCS"]);
    m.assert_replays();
}

#[test]
fn a_recorded_plan_keeps_its_external_dependencies() {
    let plan = plan();
    let text = serde_json::to_string(&plan).unwrap();
    assert!(text.contains(r#""external":["billing/API"]"#), "{text}");
    let back: MissionPlan = serde_json::from_str(&text).unwrap();
    assert_eq!(back, plan);
    // Plans recorded before external dependencies existed have none.
    assert!(
        !serde_json::to_string(&back.tasks[0])
            .unwrap()
            .contains("external")
    );
}
