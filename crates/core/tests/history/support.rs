//! Past missions for the history tests: plans built through serde (so
//! fields added with a default need no change here) and logs of events
//! folded as a run would record them.

use jiff::Timestamp;
use serde_json::json;
use techlead_core::state::{
    AttemptOutcome, Event, EventRecord, MissionPlan, MissionState, NextStep, Usage,
};

/// A task of a plan: ID, title, agent, estimate in hours.
pub struct T<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub agent: &'a str,
    pub estimate: Option<f64>,
}

pub fn t<'a>(id: &'a str, title: &'a str, agent: &'a str, estimate: Option<f64>) -> T<'a> {
    T {
        id,
        title,
        agent,
        estimate,
    }
}

/// A plan of independent tasks, each with a gate when `gated`.
pub fn plan(name: &str, objective: &str, tasks: &[T<'_>], gated: bool) -> MissionPlan {
    let tasks: Vec<_> = tasks
        .iter()
        .map(|task| {
            let gates = if gated {
                json!([{"kind": "command", "name": "tests", "run": "true", "timeout_ms": 1000}])
            } else {
                json!([])
            };
            json!({
                "id": task.id, "title": task.title, "priority": "medium",
                "depends_on": [], "agent": task.agent, "executor": "command",
                "timeout_ms": 60_000, "retries": 2, "estimate_hours": task.estimate,
                "gates": gates,
            })
        })
        .collect();
    serde_json::from_value(json!({
        "name": name, "objective": objective, "source": "mission.yaml",
        "source_hash": "00", "workdir": ".", "max_parallel": 4,
        "failure_threshold": 0.9, "backoff_ms": [0], "phases": [], "tasks": tasks,
    }))
    .expect("a mission plan")
}

/// A mission's log, written event by event.
pub struct Log {
    pub records: Vec<EventRecord>,
    clock: i64,
    cost: Option<f64>,
}

impl Log {
    pub fn new(plan: MissionPlan) -> Log {
        let mut log = Log {
            records: Vec::new(),
            clock: 0,
            cost: None,
        };
        log.push(Event::MissionCreated {
            plan: Box::new(plan),
        });
        log.push(
            serde_json::from_value(json!({"type": "run_started", "run": 1, "pid": 1, "host": "h"}))
                .unwrap(),
        );
        log
    }

    pub fn push(&mut self, event: Event) -> &mut Log {
        self.clock += 1;
        self.records.push(EventRecord {
            seq: self.records.len() as u64 + 1,
            at: Timestamp::from_second(1_750_000_000 + self.clock).unwrap(),
            event,
        });
        self
    }

    /// An attempt on `agent` (executor `command`) that ran `minutes` and
    /// ended with `outcome`, then `next`.
    pub fn attempt(
        &mut self,
        task: &str,
        number: u32,
        agent: &str,
        minutes: u64,
        outcome: AttemptOutcome,
        next: NextStep,
    ) -> &mut Log {
        self.attempt_on(task, number, agent, "command", minutes, outcome, next)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn attempt_on(
        &mut self,
        task: &str,
        number: u32,
        agent: &str,
        executor: &str,
        minutes: u64,
        outcome: AttemptOutcome,
        next: NextStep,
    ) -> &mut Log {
        self.push(Event::AttemptQueued {
            task: task.into(),
            attempt: number,
            agent: agent.into(),
            executor: executor.into(),
            dir: format!("runs/{task}.{number}"),
        });
        self.push(Event::AttemptStarted {
            task: task.into(),
            attempt: number,
        });
        if let Some(cost_usd) = self.cost.take() {
            self.push(Event::AttemptUsage {
                task: task.into(),
                attempt: number,
                usage: Usage {
                    cost_usd,
                    input_tokens: 100,
                    output_tokens: 50,
                    ..Usage::default()
                },
            });
        }
        self.push(Event::AttemptFinished {
            task: task.into(),
            attempt: number,
            outcome,
            duration_ms: minutes * 60_000,
            next,
        })
    }

    /// The next attempt reports spending `usd`.
    pub fn costing(&mut self, usd: f64) -> &mut Log {
        self.cost = Some(usd);
        self
    }

    pub fn gate(
        &mut self,
        task: &str,
        number: u32,
        passed: bool,
        next: Option<NextStep>,
    ) -> &mut Log {
        self.push(Event::TaskGateFinished {
            task: task.into(),
            attempt: number,
            gate: "tests".into(),
            passed,
            exit_code: Some(i32::from(!passed)),
            reasons: vec!["2 tests failed".into()],
            log: "gate.log".into(),
            next,
        })
    }

    pub fn accept(&mut self, task: &str) -> &mut Log {
        self.push(Event::TaskAccepted {
            task: task.into(),
            merge: None,
        })
    }

    pub fn state(&self) -> MissionState {
        MissionState::replay(&self.records).expect("a legal log")
    }
}

pub fn ok() -> AttemptOutcome {
    AttemptOutcome::Succeeded { summary: None }
}

pub fn failed(message: &str) -> AttemptOutcome {
    AttemptOutcome::Failed {
        exit_code: Some(1),
        signal: None,
        message: message.into(),
    }
}

pub fn retry(agent: &str) -> NextStep {
    NextStep::Retry {
        agent: agent.into(),
        at: Timestamp::from_second(1_750_000_000).unwrap(),
    }
}
