//! The mission actor: the one writer of a mission's state (DESIGN
//! decisions 1 and 2, STYLE point 2).
//!
//! Each turn of the loop decides what to do from the state (block, pause,
//! run gates, dispatch, finish), stages those decisions as events, commits
//! them to the store in one transaction, and only then acts on them (spawns
//! attempts, runs gates, tells observers). Then it waits for the next input
//! (an attempt's report or end, a gate's verdict, a timer, an interrupt)
//! and folds in every input already queued before deciding again.

mod attempt;
mod gate;
mod input;

pub use input::Input;

use crate::executor::{Executor, Outcome};
use input::Inputs;
use jiff::{SignedDuration, Timestamp};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use techlead_core::state::{
    AttemptOutcome, EscalationKind, Event, EventRecord, MissionState, MissionStatus, NextStep,
    Report, StateError, TaskStatus,
};
use techlead_core::{dispatch, retry};
use techlead_store::Store;
use tokio_util::sync::CancellationToken;

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] techlead_store::Error),
    #[error("the mission's record is inconsistent: {0}")]
    State(#[from] StateError),
    #[error("mission `{0}` has already finished")]
    Finished(String),
    #[error("no executor `{executor}` for task{} {}", if tasks.len() == 1 { "" } else { "s" }, tasks.join(", "))]
    NoExecutor {
        executor: String,
        tasks: Vec<String>,
    },
    #[error("killed by a second interrupt")]
    Killed,
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Store(error) => error.hint().map(String::from),
            Error::State(_) => Some("the database was changed outside techlead; report this with the database file".into()),
            Error::Finished(_) => Some("`techlead status` shows how it ended; run the mission file again for a new run".into()),
            Error::NoExecutor { .. } => Some("set `executor: command` with a `command:` on these tasks, or pick an executor this build has (docs/executors.md)".into()),
            Error::Killed => Some("`techlead resume` continues; attempts that were running start again".into()),
        }
    }
}

/// Something that wants to see every committed event (progress display,
/// NDJSON output). Called after the event is durable.
pub type Observer = Box<dyn FnMut(&EventRecord, &MissionState) + Send>;

/// Where the engine keeps attempt files, and how it runs things.
pub struct Settings {
    /// The directory holding the database; attempt directories go under
    /// `runs/` in it.
    pub data_dir: PathBuf,
    pub executors: Vec<Arc<dyn Executor>>,
    /// Grace period between SIGTERM and SIGKILL for phase gates.
    pub gate_grace: std::time::Duration,
}

/// A mission being driven by this process.
pub struct Mission<S: Store> {
    store: S,
    id: String,
    state: MissionState,
    settings: Settings,
    observer: Observer,
    staged: Vec<EventRecord>,
    to_launch: Vec<usize>,
    to_gate: Vec<(usize, String)>,
    running: HashMap<usize, Running>,
    gates_running: HashSet<(usize, String)>,
    inputs: Inputs,
    last_launch: Option<Instant>,
    interrupting: bool,
    orphans_killed: u32,
    _lock: techlead_store::MissionLock,
}

struct Running {
    cancel: CancellationToken,
    pid: Option<u32>,
}

impl<S: Store> Mission<S> {
    /// Takes over a recorded mission as its one writer: checks that every
    /// executor it needs is here, records attempts cut off by a crash as
    /// interrupted, and starts a new run.
    pub fn open(store: S, id: &str, settings: Settings, observer: Observer) -> Result<Self, Error> {
        let lock = store.lock(id)?;
        let records = store.events(id, 0)?;
        let state = MissionState::replay(&records)?;
        if state.status.is_finished() {
            return Err(Error::Finished(id.to_string()));
        }
        check_executors(&state, &settings)?;
        let orphans = crate::orphans::reap(&crate::orphans::scope(&settings.data_dir, id));
        let mut mission = Mission {
            store,
            id: id.to_string(),
            state,
            settings,
            observer,
            staged: Vec::new(),
            to_launch: Vec::new(),
            to_gate: Vec::new(),
            running: HashMap::new(),
            gates_running: HashSet::new(),
            inputs: Inputs::new(),
            last_launch: None,
            interrupting: false,
            orphans_killed: 0,
            _lock: lock,
        };
        mission.take_over(orphans)?;
        Ok(mission)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn state(&self) -> &MissionState {
        &self.state
    }

    /// Processes of a dead earlier run that were killed when this run took
    /// over (see `orphans`).
    pub fn orphans_killed(&self) -> u32 {
        self.orphans_killed
    }

    /// A handle that interrupts the run like Ctrl-C.
    pub fn interrupter(&self) -> input::Interrupter {
        self.inputs.interrupter()
    }

    fn take_over(&mut self, orphans_killed: u32) -> Result<(), Error> {
        let cut_off: Vec<(usize, u32)> = self
            .state
            .running()
            .filter_map(|t| self.state.tasks[t].current_attempt().map(|a| (t, a.number)))
            .collect();
        for (t, attempt) in cut_off {
            self.stage(Event::AttemptFinished {
                task: self.state.plan.tasks[t].id.clone(),
                attempt,
                outcome: AttemptOutcome::Interrupted,
                duration_ms: 0,
                next: NextStep::Requeue,
            })?;
        }
        self.stage(Event::RunStarted {
            run: self.state.runs + 1,
            pid: std::process::id(),
            host: hostname(),
        })?;
        self.orphans_killed = orphans_killed;
        self.commit()
    }

    /// Drives the mission until it finishes, pauses for the person, or is
    /// interrupted; returns its status then.
    pub async fn run(mut self) -> Result<MissionStatus, Error> {
        self.inputs.listen_for_signals();
        loop {
            self.decide()?;
            self.commit()?;
            self.launch();
            if let Some(status) = self.stopping()? {
                return Ok(status);
            }
            let wake = self.next_wake();
            let first = self.inputs.next(wake).await;
            self.handle(first)?;
            while let Some(input) = self.inputs.try_next() {
                self.handle(input)?;
            }
        }
    }

    /// Stages an event: applied to the state now, durable at the next
    /// commit, acted on only after that.
    fn stage(&mut self, event: Event) -> Result<(), Error> {
        let record = EventRecord {
            seq: self.state.last_seq + 1,
            at: Timestamp::now(),
            event,
        };
        self.state.apply(&record)?;
        self.staged.push(record);
        Ok(())
    }

    /// Makes every staged event durable in one transaction, then shows it.
    fn commit(&mut self) -> Result<(), Error> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let after = self.staged[0].seq - 1;
        let events: Vec<(Timestamp, Event)> = self
            .staged
            .iter()
            .map(|r| (r.at, r.event.clone()))
            .collect();
        self.store.append(&self.id, after, &events)?;
        for record in std::mem::take(&mut self.staged) {
            (self.observer)(&record, &self.state);
        }
        Ok(())
    }

    fn decide(&mut self) -> Result<(), Error> {
        loop {
            let blocked = self.state.newly_blocked();
            if blocked.is_empty() {
                break;
            }
            for (t, by) in blocked {
                let task = self.state.plan.tasks[t].id.clone();
                self.stage(Event::TaskBlocked { task, by })?;
            }
        }
        if self.interrupting || self.state.status != MissionStatus::Running {
            return Ok(());
        }
        if retry::failure_rate_exceeded(&self.state) {
            return self.pause();
        }
        for (phase, gate) in self.state.gates_due() {
            if self.gates_running.insert((phase, gate.clone())) {
                self.to_gate.push((phase, gate));
            }
        }
        self.dispatch()?;
        if self.state.is_settled() && self.running.is_empty() && self.gates_running.is_empty() {
            let status = self.state.final_status();
            self.stage(Event::MissionFinished { status })?;
        }
        Ok(())
    }

    fn pause(&mut self) -> Result<(), Error> {
        let rate = self.state.failure_rate();
        let failed: Vec<String> = (0..self.state.tasks.len())
            .filter(|&t| self.state.tasks[t].status == TaskStatus::Failed)
            .map(|t| self.state.plan.tasks[t].id.clone())
            .collect();
        let message = format!(
            "{:.0}% of finished tasks failed (threshold {:.0}%): {}",
            rate * 100.0,
            self.state.plan.failure_threshold * 100.0,
            failed.join(", ")
        );
        self.stage(Event::DispatchPaused {
            reason: message.clone(),
        })?;
        self.stage(Event::EscalationRaised {
            id: self.state.escalations + 1,
            kind: EscalationKind::FailureRate,
            message,
            tasks: failed,
            options: ["retry", "skip", "reassign", "abort"]
                .map(String::from)
                .to_vec(),
        })
    }

    fn dispatch(&mut self) -> Result<(), Error> {
        let delay = std::time::Duration::from_millis(self.state.plan.launch_delay_ms);
        for t in dispatch::select(&self.state, Timestamp::now()) {
            if !delay.is_zero() {
                if self.last_launch.is_some_and(|at| at.elapsed() < delay) {
                    break;
                }
                self.last_launch = Some(Instant::now());
            }
            let task = &self.state.plan.tasks[t];
            let attempt = self.state.tasks[t].attempts.len() as u32 + 1;
            let event = Event::AttemptStarted {
                task: task.id.clone(),
                attempt,
                agent: self.state.tasks[t].agent.clone(),
                executor: task.executor.clone(),
                dir: attempt::relative_dir(&self.id, &task.id, attempt),
            };
            self.stage(event)?;
            self.to_launch.push(t);
        }
        Ok(())
    }

    fn launch(&mut self) {
        for t in std::mem::take(&mut self.to_launch) {
            let cancel = CancellationToken::new();
            attempt::spawn(self, t, cancel.clone());
            self.running.insert(t, Running { cancel, pid: None });
        }
        for (phase, gate) in std::mem::take(&mut self.to_gate) {
            gate::spawn(self, phase, gate);
        }
    }

    /// The status to stop with, once nothing runs and nothing more will.
    fn stopping(&mut self) -> Result<Option<MissionStatus>, Error> {
        if self.state.status.is_finished() {
            return Ok(Some(self.state.status));
        }
        if !self.running.is_empty() || !self.gates_running.is_empty() {
            return Ok(None);
        }
        if self.interrupting {
            self.stage(Event::RunInterrupted {
                reason: "interrupted by the person (Ctrl-C or SIGTERM)".into(),
            })?;
            self.commit()?;
            return Ok(Some(self.state.status));
        }
        if self.state.status == MissionStatus::Paused {
            return Ok(Some(MissionStatus::Paused));
        }
        Ok(None)
    }

    /// When to wake up without input: the next retry, or the end of the
    /// launch delay while ready work waits.
    fn next_wake(&self) -> Option<Instant> {
        let now = Timestamp::now();
        let mut wake = dispatch::next_retry(&self.state).map(|at| instant_at(at, now));
        if let Some(last) = self.last_launch
            && !dispatch::select(&self.state, now).is_empty()
        {
            let delay = std::time::Duration::from_millis(self.state.plan.launch_delay_ms);
            let at = last + delay;
            wake = Some(wake.map_or(at, |w| w.min(at)));
        }
        wake
    }

    fn handle(&mut self, input: Input) -> Result<(), Error> {
        match input {
            Input::Wake => Ok(()),
            Input::Started { task, pid } => {
                if let Some(running) = self.running.get_mut(&task) {
                    running.pid = pid;
                }
                Ok(())
            }
            Input::Progress {
                task,
                attempt,
                percent,
                message,
            } => {
                let task = self.state.plan.tasks[task].id.clone();
                self.stage(Event::AttemptProgress {
                    task,
                    attempt,
                    percent,
                    message,
                })
            }
            Input::Report {
                task,
                attempt,
                report,
            } => {
                let task = self.state.plan.tasks[task].id.clone();
                self.stage(Event::AttemptReported {
                    task,
                    attempt,
                    report,
                })
            }
            Input::Finished {
                task,
                attempt,
                outcome,
                duration_ms,
            } => {
                self.running.remove(&task);
                let outcome = attempt_outcome(outcome);
                let next = retry::next_step(&self.state, task, &outcome, Timestamp::now());
                let task = self.state.plan.tasks[task].id.clone();
                self.stage(Event::AttemptFinished {
                    task,
                    attempt,
                    outcome,
                    duration_ms,
                    next,
                })
            }
            Input::GateFinished {
                phase,
                gate,
                passed,
                exit_code,
                log,
            } => {
                self.gates_running.remove(&(phase, gate.clone()));
                if self.interrupting && !passed && exit_code.is_none() {
                    // Stopped by the interrupt: no verdict; it runs again on resume.
                    return Ok(());
                }
                self.stage(Event::PhaseGateFinished {
                    phase,
                    gate,
                    passed,
                    exit_code,
                    log,
                })
            }
            Input::Interrupt => self.interrupt(),
        }
    }

    fn interrupt(&mut self) -> Result<(), Error> {
        if self.interrupting {
            // A second interrupt: no more grace.
            for running in self.running.values() {
                if let Some(pid) = running.pid {
                    crate::orphans::kill_group(pid);
                }
            }
            self.commit()?;
            return Err(Error::Killed);
        }
        self.interrupting = true;
        for running in self.running.values() {
            running.cancel.cancel();
        }
        self.inputs.cancel_gates();
        Ok(())
    }
}

fn check_executors(state: &MissionState, settings: &Settings) -> Result<(), Error> {
    let mut missing: Vec<(String, Vec<String>)> = Vec::new();
    for (t, task) in state.plan.tasks.iter().enumerate() {
        if state.tasks[t].status.is_terminal()
            || settings.executors.iter().any(|e| e.name() == task.executor)
        {
            continue;
        }
        match missing.iter_mut().find(|(e, _)| *e == task.executor) {
            Some((_, tasks)) => tasks.push(task.id.clone()),
            None => missing.push((task.executor.clone(), vec![task.id.clone()])),
        }
    }
    match missing.into_iter().next() {
        Some((executor, tasks)) => Err(Error::NoExecutor { executor, tasks }),
        None => Ok(()),
    }
}

fn attempt_outcome(outcome: Outcome) -> AttemptOutcome {
    match outcome {
        Outcome::Succeeded { summary } => AttemptOutcome::Succeeded { summary },
        Outcome::Failed {
            exit_code,
            signal,
            message,
        } => AttemptOutcome::Failed {
            exit_code,
            signal,
            message,
        },
        Outcome::TimedOut => AttemptOutcome::TimedOut,
        Outcome::Cancelled => AttemptOutcome::Cancelled,
    }
}

fn instant_at(at: Timestamp, now: Timestamp) -> Instant {
    let wait = at.duration_since(now).max(SignedDuration::ZERO);
    Instant::now() + std::time::Duration::try_from(wait).unwrap_or_default()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Reports from a running attempt, as the engine records them.
pub(crate) fn report_of(event: &crate::executor::ExecEvent) -> Option<Report> {
    use crate::executor::ExecEvent as E;
    Some(match event {
        E::Blocked(text) => Report::Blocked(text.clone()),
        E::Artifact(path) => Report::Artifact(path.clone()),
        E::Decision(text) => Report::Decision(text.clone()),
        E::Summary(text) => Report::Summary(text.clone()),
        E::Started { .. } | E::Progress { .. } => return None,
    })
}
