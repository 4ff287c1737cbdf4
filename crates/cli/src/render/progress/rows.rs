//! The rows under the mission's bar on a terminal: one per agent with work
//! running or queued (its tasks, each attempt's last progress and how long
//! it has run), then what waits: executors paused by a rate limit, ready
//! tasks without a slot, tasks waiting for other missions' tasks, retries,
//! tasks being checked, and an open escalation.
//!
//! A [`Panel`] is taken from the state at each event and drawn many times
//! in between (elapsed times move on), so it owns what it shows. Drawing is
//! pure: the panel, the time and the width in, rows out, each cut to the
//! width so that a narrow or resized terminal never wraps one.

use crate::render::table::fit;
use jiff::Timestamp;
use techlead_core::state::{MissionState, MissionStatus, TaskStatus};

/// What the rows show, as of one event.
#[derive(Debug, Clone, Default)]
pub struct Panel {
    /// Agents with work running or queued, by name.
    agents: Vec<AgentWork>,
    /// Executors paused by a rate limit: until when, and how many of
    /// their tasks wait.
    paused: Vec<(String, Timestamp, usize)>,
    /// Ready tasks that have no slot yet (the limits are reached).
    ready: usize,
    /// Pending tasks waiting for tasks of other missions, and for which.
    external: Vec<(String, Vec<String>)>,
    /// Why ready tasks wait for agents other missions share (the engine
    /// says; not in the record).
    shared: Vec<String>,
    /// Tasks waiting for their next attempt, and when it is due.
    retrying: Vec<(String, Option<Timestamp>)>,
    /// Tasks being checked, and what is being done to them.
    checking: Vec<(String, String)>,
    /// The mission waits for the person: what it asks, and where to answer.
    decision: Option<String>,
}

#[derive(Debug, Clone)]
struct AgentWork {
    agent: String,
    tasks: Vec<TaskWork>,
}

#[derive(Debug, Clone)]
struct TaskWork {
    task: String,
    attempt: u32,
    /// When the attempt took its slot; `None` while queued for one.
    started: Option<Timestamp>,
    progress: Option<(Option<u8>, String)>,
}

/// One row; `alert` rows (an open escalation) are highlighted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub text: String,
    pub alert: bool,
}

impl Panel {
    /// The panel of mission `mission` in `state` at `now`; `escalation` is
    /// the last escalation's message, if the run reported one.
    pub fn of(
        mission: &str,
        state: &MissionState,
        escalation: Option<&str>,
        now: Timestamp,
    ) -> Panel {
        let mut agents: Vec<AgentWork> = Vec::new();
        for t in state.running().chain(state.queued()) {
            let task = &state.tasks[t];
            let Some(attempt) = task.current_attempt() else {
                continue;
            };
            let work = TaskWork {
                task: state.plan.tasks[t].id.clone(),
                attempt: attempt.number,
                started: attempt.started_at,
                progress: task.progress.clone(),
            };
            match agents.iter_mut().find(|a| a.agent == attempt.agent) {
                Some(agent) => agent.tasks.push(work),
                None => agents.push(AgentWork {
                    agent: attempt.agent.clone(),
                    tasks: vec![work],
                }),
            }
        }
        agents.sort_by(|a, b| a.agent.cmp(&b.agent));
        for agent in &mut agents {
            // Running first, longest running first; then the queue.
            agent
                .tasks
                .sort_by_key(|w| (w.started.is_none(), w.started, w.task.clone()));
        }
        let paused = state
            .paused_executors
            .iter()
            .filter(|(_, until)| *until > now)
            .map(|(executor, until)| {
                let waiting = (0..state.tasks.len())
                    .filter(|&t| {
                        state.plan.tasks[t].executor == *executor
                            && matches!(
                                state.tasks[t].status,
                                TaskStatus::Pending | TaskStatus::Queued | TaskStatus::Retrying
                            )
                    })
                    .count();
                (executor.clone(), *until, waiting)
            })
            .collect();
        let retrying = state
            .retrying()
            .filter(|&t| state.tasks[t].retry_at.is_some_and(|at| at > now))
            .map(|t| (state.plan.tasks[t].id.clone(), state.tasks[t].retry_at))
            .collect();
        let checking = (0..state.tasks.len())
            .filter(|&t| state.tasks[t].status == TaskStatus::Checking)
            .map(|t| {
                let what = match state.next_gate(t) {
                    Some((i, gate)) => format!(
                        "gate {} of {}: {}",
                        i + 1,
                        state.plan.tasks[t].detail.gates.len(),
                        gate.name()
                    ),
                    None if state.plan.repository.is_some() => "merging".to_string(),
                    None => String::new(),
                };
                (state.plan.tasks[t].id.clone(), what)
            })
            .collect();
        let external = state
            .external_due()
            .map(|w| w.task)
            .fold(Vec::<usize>::new(), |mut tasks, t| {
                if !tasks.contains(&t) {
                    tasks.push(t);
                }
                tasks
            })
            .into_iter()
            .map(|t| {
                let on = state.waiting_for(t).map(ToString::to_string).collect();
                (state.plan.tasks[t].id.clone(), on)
            })
            .collect();
        let open = state.open_escalations.len();
        let decision = (state.status == MissionStatus::Paused || open > 0).then(|| {
            let what = escalation.map_or_else(
                || "dispatch paused for your decision".to_string(),
                |message| format!("your decision: {}", one_line(message)),
            );
            let more = if open > 1 { format!(" (+{} more)", open - 1) } else { String::new() };
            format!("{what}{more} · `techlead escalations {mission}`, then `techlead decide {mission} N ACTION`")
        });
        Panel {
            agents,
            paused,
            // Those of a paused executor wait for it, said above.
            ready: if state.status == MissionStatus::Running {
                state
                    .ready(now)
                    .into_iter()
                    .filter(|&t| {
                        state
                            .executor_paused_until(&state.plan.tasks[t].executor, now)
                            .is_none()
                    })
                    .count()
            } else {
                0
            },
            external,
            shared: Vec::new(),
            retrying,
            checking,
            decision,
        }
    }

    /// Why ready tasks wait for agents other missions share.
    pub fn set_shared(&mut self, waits: Vec<String>) {
        self.shared = waits;
    }

    /// The rows at `now`, each at most `width` columns.
    pub fn rows(&self, now: Timestamp, width: usize) -> Vec<Row> {
        let mut rows = Vec::new();
        let mut push = |text: String, alert: bool| {
            rows.push(Row {
                text: fit(&text, width),
                alert,
            })
        };
        let name_width = self
            .agents
            .iter()
            .map(|a| a.agent.chars().count())
            .max()
            .unwrap_or(0)
            .min(24);
        for agent in &self.agents {
            let tasks: Vec<String> = agent.tasks.iter().map(|w| w.describe(now)).collect();
            let name = fit(&agent.agent, name_width);
            push(
                format!("  {name:<name_width$}  {}", tasks.join(" · ")),
                false,
            );
        }
        for (executor, until, waiting) in &self.paused {
            if *until > now {
                push(
                    format!(
                        "  ⏸ {executor} paused by a rate limit until {} · {}",
                        until.strftime("%H:%M:%S"),
                        tasks_wait(*waiting)
                    ),
                    false,
                );
            }
        }
        for wait in &self.shared {
            push(format!("  ⧗ {wait}"), false);
        }
        let mut waits = Vec::new();
        if self.ready > 0 {
            waits.push(format!(
                "{} for a free slot",
                crate::render::plural(self.ready, "ready task")
            ));
        }
        for (task, on) in &self.external {
            waits.push(format!("{task} waiting for {}", on.join(", ")));
        }
        for (task, at) in &self.retrying {
            match at {
                Some(at) if *at > now => waits.push(format!(
                    "{task} retries in {}",
                    duration(at.duration_since(now).as_secs().max(0) as u64)
                )),
                _ => waits.push(format!("{task} retries next")),
            }
        }
        if !waits.is_empty() {
            push(format!("  ⧗ waiting: {}", waits.join(" · ")), false);
        }
        if !self.checking.is_empty() {
            let checks: Vec<String> = self
                .checking
                .iter()
                .map(|(task, what)| match what.as_str() {
                    "" => task.clone(),
                    what => format!("{task} ({what})"),
                })
                .collect();
            push(format!("  ⚙ checking: {}", checks.join(" · ")), false);
        }
        if let Some(decision) = &self.decision {
            push(format!("  ? {decision}"), true);
        }
        rows
    }
}

impl TaskWork {
    /// `API-001 (attempt 2) 40% writing handlers 1m12s`, or
    /// `API-002 queued`.
    fn describe(&self, now: Timestamp) -> String {
        let mut text = self.task.clone();
        if self.attempt > 1 {
            text.push_str(&format!(" (attempt {})", self.attempt));
        }
        let Some(started) = self.started else {
            text.push_str(" queued");
            return text;
        };
        match &self.progress {
            Some((Some(percent), message)) => text.push_str(&format!(" {percent}% {message}")),
            Some((None, message)) => text.push_str(&format!(" {message}")),
            None => {}
        }
        let secs = now.duration_since(started).as_secs().max(0) as u64;
        text.push_str(&format!(" {}", duration(secs)));
        text
    }
}

fn tasks_wait(n: usize) -> String {
    match n {
        1 => "1 task waits, none fails".to_string(),
        n => format!("{n} tasks wait, none fails"),
    }
}

use crate::render::duration;

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use techlead_core::agents::Library;
    use techlead_core::state::{Event, EventRecord, MissionPlan, Resolve};

    const MISSION: &str = "\
mission:
  name: rows
  objective: show the rows
  defaults: {executor: command, max_parallel: 4}
tasks:
  - {id: API-001, title: build the api, agent: backend-engineer, command: ['true']}
  - {id: API-002, title: build more api, agent: backend-engineer, command: ['true']}
  - {id: UI-001, title: build the ui, agent: frontend-dev, command: ['true']}
  - {id: DOC-001, title: write the docs, agent: writer, executor: claude-code, gates: ['npm test', 'true']}
  - {id: DOC-002, title: write more docs, agent: writer, executor: claude-code}
  - {id: LAST, title: the end, agent: writer, depends_on: [API-001, UI-001]}
";

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    /// The mission's state after `events`, the first at `at(1)`, one a
    /// second.
    fn state(events: Vec<Event>) -> MissionState {
        let mission = techlead_core::spec::parse(MISSION)
            .mission
            .expect("the mission parses");
        let plan = MissionPlan::resolve(
            mission,
            Resolve {
                library: &Library::default(),
                history: &Default::default(),
                source: "mission.yaml".into(),
                source_hash: "0".into(),
                workdir: ".".into(),
                repository: None,
            },
        )
        .expect("no cycle");
        let mut state = MissionState::new(plan, at(0)).unwrap();
        for (i, event) in events.into_iter().enumerate() {
            let record = EventRecord {
                seq: state.last_seq + 1,
                at: at(i as i64 + 1),
                event,
            };
            state.apply(&record).unwrap_or_else(|e| panic!("{e}"));
        }
        state
    }

    fn run_started() -> Event {
        serde_json::from_value(serde_json::json!({
            "type": "run_started", "run": 1, "pid": 1, "host": "box",
        }))
        .unwrap()
    }

    fn queued(task: &str, agent: &str, executor: &str) -> Event {
        Event::AttemptQueued {
            task: task.into(),
            attempt: 1,
            agent: agent.into(),
            executor: executor.into(),
            dir: format!("runs/{task}/1"),
        }
    }

    fn started(task: &str) -> Event {
        Event::AttemptStarted {
            task: task.into(),
            attempt: 1,
        }
    }

    fn texts(rows: &[Row]) -> Vec<&str> {
        rows.iter().map(|r| r.text.as_str()).collect()
    }

    #[test]
    fn a_row_per_agent_with_work_then_what_waits() {
        let state = state(vec![
            run_started(),
            queued("API-001", "backend-engineer", "command"),
            started("API-001"),
            Event::AttemptProgress {
                task: "API-001".into(),
                attempt: 1,
                percent: Some(40),
                message: "writing handlers".into(),
            },
            queued("UI-001", "frontend-dev", "command"),
            started("UI-001"),
            queued("API-002", "backend-engineer", "command"),
            queued("DOC-001", "writer", "claude-code"),
            started("DOC-001"),
            Event::AttemptFinished {
                task: "DOC-001".into(),
                attempt: 1,
                outcome: techlead_core::state::AttemptOutcome::Succeeded { summary: None },
                duration_ms: 1000,
                next: techlead_core::state::NextStep::Check,
            },
            Event::ExecutorPaused {
                executor: "claude-code".into(),
                until: at(600),
                reason: "429".into(),
            },
        ]);
        // API-001 started at 3 s, UI-001 at 6 s; it is now 75 s.
        let panel = Panel::of("rows-1", &state, None, at(75));
        let rows = panel.rows(at(75), 100);
        let until = at(600).strftime("%H:%M:%S").to_string();
        assert_eq!(
            texts(&rows),
            [
                "  backend-engineer  API-001 40% writing handlers 1m12s · API-002 queued",
                "  frontend-dev      UI-001 1m09s",
                &format!(
                    "  ⏸ claude-code paused by a rate limit until {until} · 1 task waits, none fails"
                ),
                "  ⚙ checking: DOC-001 (gate 1 of 2: npm test)",
            ]
        );
        assert!(rows.iter().all(|r| !r.alert));

        // Elapsed times move on with the clock, the pause ends, and every
        // row fits a narrow terminal.
        let later = panel.rows(at(700), 40);
        assert_eq!(later.len(), 3, "{later:?}");
        assert!(
            later[0]
                .text
                .starts_with("  backend-engineer  API-001 40% writin")
        );
        assert!(later[0].text.ends_with('…'), "{later:?}");
        assert!(
            later
                .iter()
                .all(|r| unicode_width::UnicodeWidthStr::width(r.text.as_str()) <= 40),
            "{later:?}"
        );
        assert_eq!(later[1].text, "  frontend-dev      UI-001 11m34s");
    }

    #[test]
    fn ready_tasks_retries_and_an_open_escalation() {
        let retry_at = at(40);
        let state = state(vec![
            run_started(),
            queued("API-001", "backend-engineer", "command"),
            started("API-001"),
            Event::AttemptFinished {
                task: "API-001".into(),
                attempt: 1,
                outcome: techlead_core::state::AttemptOutcome::Failed {
                    exit_code: Some(1),
                    signal: None,
                    message: String::new(),
                },
                duration_ms: 1000,
                next: techlead_core::state::NextStep::Retry {
                    agent: "backend-engineer".into(),
                    at: retry_at,
                },
            },
        ]);
        let rows = Panel::of("rows-1", &state, None, at(10)).rows(at(10), 100);
        // Nothing runs; API-002, UI-001, DOC-001 and DOC-002 are ready.
        assert_eq!(
            texts(&rows),
            ["  ⧗ waiting: 4 ready tasks for a free slot · API-001 retries in 30s"]
        );

        let mut state = state;
        let paused = EventRecord {
            seq: state.last_seq + 1,
            at: at(11),
            event: Event::DispatchPaused {
                reason: "too many failures".into(),
            },
        };
        state.apply(&paused).unwrap();
        let rows =
            Panel::of("rows-1", &state, Some("Too many\nfailures"), at(12)).rows(at(12), 200);
        let last = rows.last().unwrap();
        assert!(last.alert);
        assert_eq!(
            last.text,
            "  ? your decision: Too many failures · `techlead escalations rows-1`, then `techlead decide rows-1 N ACTION`"
        );
        // Paused: nothing is dispatched, so ready tasks do not wait for a slot.
        assert_eq!(rows.len(), 2, "{rows:?}");
    }
}
