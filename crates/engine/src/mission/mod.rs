//! The mission actor: the one writer of a mission's state (DESIGN
//! decisions 1 and 2, STYLE point 2).
//!
//! Each turn of the loop decides what to do from the state (block, pause,
//! run gates, claim slots, start claims, finish) and stages those decisions
//! as events; staged events are committed to the store in one transaction,
//! and observers see them only once it returns. Then the actor waits for
//! the next input (an attempt's report or end, a gate's verdict, a timer,
//! an interrupt, or the end of a commit) and folds in every input already
//! queued before deciding again.
//!
//! Commits run on a blocking thread while the actor goes on (group commit):
//! everything staged while one commit is in flight goes into the next. What
//! must be durable before it happens waits for its commit: a process is
//! spawned only for a claim (`AttemptQueued`) that is already durable. A
//! claim is made while its slot is still busy, so when the slot frees the
//! next process starts at once and the fsync is off the critical path
//! (docs/running.md, "Claims").

mod attempt;
mod check;
mod decision;
mod done;
mod external;
mod forecast;
mod gate;
mod input;
mod preempt;
mod question;
mod remote;
mod slots;
mod split;
pub(crate) mod work;

pub use attempt::relative_dir;
pub use decision::{INBOX_POLL, NotRecorded, Recorded, request as request_decision};
pub use external::{EXTERNAL_POLL, Other, Others, check_dependencies};
pub use input::{Input, Interrupter};
pub use preempt::PREEMPTION_POLL;
pub use question::question_message;
pub use remote::POLL as WORK_POLL;
pub use slots::SHARE_POLL;

use crate::executor::{Executor, Outcome, report_socket};
use input::Inputs;
use jiff::{SignedDuration, Timestamp};
use std::collections::{HashMap, HashSet};
use std::mem;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;
use techlead_core::state::{
    AttemptOutcome, EscalationKind, Event, EventRecord, MissionState, MissionStatus, NextStep,
    Report, StateError, Tally, TaskStatus,
};
use techlead_core::{budget, dispatch, retry};
use techlead_store::Store;
use tokio::task::JoinHandle;
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
    #[error("the thread writing to the database stopped: {0}")]
    Writer(String),
    #[error(transparent)]
    Workspace(#[from] crate::workspace::Error),
    #[error(transparent)]
    Git(#[from] crate::git::Error),
    #[error("task `{task}` could not be merged: {message}")]
    Merge { task: String, message: String },
    #[error("task `{task}` depends on `{on}`, but {mission} has no task `{}`", on.task)]
    UnknownExternal {
        task: String,
        on: techlead_core::state::ExternalDependency,
        mission: String,
        nearest: Option<String>,
    },
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Store(error) => error.hint().map(String::from),
            Error::State(_) => Some("the database was changed outside techlead; report this with the database file".into()),
            Error::Finished(_) => Some("`techlead status` shows how it ended; run the mission file again for a new run".into()),
            Error::NoExecutor { .. } => Some("set `executor: command` with a `command:` on these tasks, or pick an executor this build has (docs/executors.md)".into()),
            Error::Killed => Some("`techlead resume` continues; attempts that were running start again".into()),
            Error::Writer(_) => Some("`techlead resume` continues from the last commit; report this with the output above".into()),
            Error::Workspace(error) => error.hint(),
            Error::Git(error) => error.hint(),
            Error::Merge { .. } => Some("fix what git says above, then `techlead resume`: a merge that already happened is found, not repeated".into()),
            Error::UnknownExternal { mission, nearest: Some(near), .. } => Some(format!("did you mean `{near}`? `techlead status {mission}` lists its tasks")),
            Error::UnknownExternal { mission, .. } => Some(format!("`techlead status {mission}` lists its tasks; name one of them after the `/`")),
        }
    }
}

/// The longest an event waits to be committed while nothing needs it
/// durable yet: the window in which commits gather events (group commit).
/// A crash in it loses at most this much of the record; the attempts it
/// covered run again.
pub const COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_millis(10);

/// Something that wants to see every committed event (progress display,
/// NDJSON output). A plain closure is one.
pub trait Observer: Send {
    /// One event, once it is durable, with the task counts as of that event
    /// and the current state (for the plan; its counts may already include
    /// events of the next commit).
    fn event(&mut self, record: &EventRecord, tally: &Tally, state: &MissionState);

    /// The end of a commit's events: the moment to write out what was
    /// buffered.
    fn batch_end(&mut self) {}

    /// A live forecast of the remaining work, made at `at` (when the run
    /// starts and as tasks finish; docs/forecast.md).
    fn forecast(&mut self, _forecast: &techlead_core::forecast::Forecast, _at: Timestamp) {}

    /// Why ready tasks wait for agents other missions share, one line per
    /// agent (`dev is busy with mission alpha-1 (priority 10): 2 ready
    /// tasks wait`); empty when none waits. Live state, never recorded.
    fn shared(&mut self, _waits: &[String]) {}
}

/// An observer from a closure (a plain closure needs this to be read as
/// one that takes any borrow).
pub fn observer(
    f: impl FnMut(&EventRecord, &Tally, &MissionState) + Send + 'static,
) -> Box<dyn Observer> {
    Box::new(f)
}

impl<F: FnMut(&EventRecord, &Tally, &MissionState) + Send> Observer for F {
    fn event(&mut self, record: &EventRecord, tally: &Tally, state: &MissionState) {
        self(record, tally, state)
    }
}

/// Where the engine keeps attempt files, and how it runs things.
pub struct Settings {
    /// The directory holding the database; attempt directories go under
    /// `runs/` in it.
    pub data_dir: PathBuf,
    pub executors: Vec<Arc<dyn Executor>>,
    /// Grace period between SIGTERM and SIGKILL for phase gates.
    pub gate_grace: std::time::Duration,
    /// When workers run the attempts instead of this process
    /// (docs/workers.md).
    pub workers: Option<Workers>,
}

/// How a run hands its attempts to workers.
#[derive(Clone)]
pub struct Workers {
    /// The work queue.
    pub queue: Arc<techlead_store::postgres::PgQueue>,
    /// How workers reach the mission's repository (a git URL), for a
    /// mission that has one; its path on this machine when `None`.
    pub repository_url: Option<String>,
}

/// A mission being driven by this process.
pub struct Mission<S: Store + 'static> {
    /// `None` while a commit has it on the writer thread.
    store: Option<S>,
    committing: Option<Commit<S>>,
    id: String,
    state: MissionState,
    settings: Settings,
    observer: Box<dyn Observer>,
    staged: Vec<(EventRecord, Tally)>,
    /// When the oldest staged event was staged.
    staged_since: Option<Instant>,
    /// The last event known to be durable.
    durable: u64,
    /// Claimed tasks and the seq of their claim: they may start once it is
    /// durable.
    claims: HashMap<usize, u64>,
    to_launch: Vec<usize>,
    to_gate: Vec<(usize, String)>,
    running: HashMap<usize, Running>,
    gates_running: HashSet<(usize, String)>,
    /// The task worktrees and integration branch, for a mission with a
    /// repository.
    workspaces: Option<Arc<crate::workspace::Workspaces>>,
    /// Tasks whose gate or merge is in flight.
    checks: HashSet<usize>,
    /// Whether a merge is in flight: merges go one at a time.
    merging: bool,
    /// The definition-of-done check in flight (they run one at a time).
    done_running: Option<usize>,
    inputs: Inputs,
    /// The pump to the workers, when they run the attempts.
    remote: Option<remote::Remote>,
    last_launch: Option<Instant>,
    /// How long this run's attempts take, a moving average: how far ahead
    /// ready tasks claim slots (`dispatch::claims_per_slot`).
    typical_task: Option<std::time::Duration>,
    interrupting: bool,
    /// The store's file, named to agents (`TECHLEAD_DB`) so that `techlead
    /// mcp` can read it.
    db_path: Option<std::path::PathBuf>,
    /// The run's report socket, which its attempts' agents may write to.
    reports: Arc<report_socket::Reports>,
    /// When the inbox of decisions was last read.
    inbox_read: Option<Instant>,
    /// Inbox rows this run has carried out or refused (their events may
    /// not be committed yet).
    decisions_taken: HashSet<u32>,
    /// Whether this run is an emergency that holds other missions' agents.
    emergency: bool,
    /// When the store's emergencies were last read.
    preemptions_read: Option<Instant>,
    /// When the other missions the waiting tasks depend on were last read.
    external_read: Option<Instant>,
    /// Those missions, as last read.
    others: external::Others,
    /// The agents it shares with other missions: what it holds and waits
    /// for of each.
    shared: slots::Shared,
    /// Attempts being stopped for an emergency, and which.
    suspending: HashMap<usize, String>,
    /// Whether to wait for the person's decision instead of stopping when
    /// the mission pauses for one, or would end failed with one open.
    awaits_decisions: bool,
    /// Whether any budget applies (checked once: most missions have none,
    /// and they skip the budget checks on every turn).
    budgeted: bool,
    /// The live forecast: when to make the next, and its history.
    live: forecast::Live,
    orphans_killed: u32,
    _lock: techlead_store::MissionLock,
}

/// A commit on the writer thread: it hands back the store, the events as
/// recorded, and their tallies.
struct Commit<S> {
    handle: JoinHandle<(S, techlead_store::Result<Vec<EventRecord>>)>,
    tallies: Vec<Tally>,
}

struct Running {
    cancel: CancellationToken,
    /// The attempt's process once it started (0 until then), set by the
    /// attempt's task. Read only to kill it at a second interrupt: not
    /// worth a turn of the actor for every task.
    pid: Arc<AtomicU32>,
}

/// Whether a mission being taken over may have had runs before this one.
enum Runs {
    Earlier,
    None,
}

/// What woke the actor.
enum Woken<S> {
    Committed(Result<(S, techlead_store::Result<Vec<EventRecord>>), tokio::task::JoinError>),
    Input(Input),
}

impl<S: Store + 'static> Mission<S> {
    /// Takes over a recorded mission as its one writer: checks that every
    /// executor it needs is here, records attempts cut off by a crash as
    /// interrupted, and starts a new run.
    pub fn open(
        store: S,
        id: &str,
        settings: Settings,
        observer: Box<dyn Observer>,
    ) -> Result<Self, Error> {
        let lock = store.lock(id)?;
        let records = store.events(id, 0)?;
        let state = MissionState::replay(&records)?;
        let recorded = match settings.workers {
            Some(_) => remote::recorded(&records),
            None => HashMap::new(),
        };
        drop(records);
        let mut mission = Self::take(store, id, state, lock, settings, observer, Runs::Earlier)?;
        mission.take_over(recorded)?;
        Ok(mission)
    }

    /// Takes over mission `id` that the caller has just recorded with
    /// `store.create_mission(&plan, at)`: the state is built from the plan
    /// in hand instead of reading the (large) first event back.
    pub fn open_created(
        store: S,
        id: &str,
        plan: techlead_core::state::MissionPlan,
        at: Timestamp,
        settings: Settings,
        observer: Box<dyn Observer>,
    ) -> Result<Self, Error> {
        let lock = store.lock(id)?;
        let state = MissionState::new(plan, at)?;
        let mut mission = Self::take(store, id, state, lock, settings, observer, Runs::None)?;
        // Nothing to take over: the run's start goes with its first claims,
        // in the commit they wait for anyway.
        mission.start_run()?;
        Ok(mission)
    }

    fn take(
        store: S,
        id: &str,
        state: MissionState,
        lock: techlead_store::MissionLock,
        settings: Settings,
        observer: Box<dyn Observer>,
        earlier: Runs,
    ) -> Result<Self, Error> {
        // A failed mission runs again when a decision waits to reopen it
        // (`take_over` carries it out, or refuses it and stops here).
        let reopens =
            state.status == MissionStatus::Failed && !store.decisions(id, true)?.is_empty();
        if state.status.is_finished() && !reopens {
            return Err(Error::Finished(id.to_string()));
        }
        check_executors(&state, &settings)?;
        let workspaces = open_workspaces(&state, &settings, id)?;
        // Only an earlier run can have left processes behind: a mission
        // just created skips the look through every process's environment.
        let orphans = match earlier {
            Runs::Earlier => crate::orphans::reap(&crate::orphans::scope(&settings.data_dir, id)),
            Runs::None => 0,
        };
        let budgeted = budget::any(&state);
        let db_path = store.location();
        let inputs = Inputs::new();
        let remote = settings.workers.clone().map(|workers| {
            remote::Remote::start(workers, id.to_string(), workspaces.clone(), inputs.sender())
        });
        let shared = slots::Shared::new(&state);
        let reports = report_socket::Reports::new(
            settings
                .data_dir
                .join(attempt::files_dir(id))
                .join(report_socket::FILE_NAME),
        );
        let mission = Mission {
            store: Some(store),
            committing: None,
            id: id.to_string(),
            durable: state.last_seq,
            state,
            settings,
            observer,
            staged: Vec::new(),
            staged_since: None,
            claims: HashMap::new(),
            to_launch: Vec::new(),
            to_gate: Vec::new(),
            running: HashMap::new(),
            gates_running: HashSet::new(),
            workspaces,
            checks: HashSet::new(),
            merging: false,
            done_running: None,
            inputs,
            remote,
            last_launch: None,
            typical_task: None,
            interrupting: false,
            reports,
            db_path,
            inbox_read: None,
            decisions_taken: HashSet::new(),
            awaits_decisions: false,
            emergency: false,
            preemptions_read: None,
            suspending: HashMap::new(),
            external_read: None,
            others: external::Others::default(),
            shared,
            budgeted,
            live: forecast::Live::default(),
            orphans_killed: orphans,
            _lock: lock,
        };
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

    /// Waits for the person's decision (from `techlead decide`, the
    /// dashboard or the API) when the mission pauses for one or would end
    /// failed with one open, instead of stopping there.
    pub fn await_decisions(&mut self, yes: bool) {
        self.awaits_decisions = yes;
    }

    /// A handle that interrupts the run like Ctrl-C.
    pub fn interrupter(&self) -> input::Interrupter {
        self.inputs.interrupter()
    }

    /// `recorded`: how many of each remote attempt's messages the record
    /// holds (see `remote::recorded`).
    fn take_over(&mut self, recorded: HashMap<(String, u32), u64>) -> Result<(), Error> {
        let mut cut_off: Vec<(usize, u32)> = self
            .state
            .running()
            .chain(self.state.queued())
            .filter_map(|t| self.state.tasks[t].current_attempt().map(|a| (t, a.number)))
            .collect();
        if self.remote.is_some() {
            let kept = self.keep_with_workers(&cut_off, &recorded)?;
            cut_off.retain(|attempt| !kept.contains(attempt));
        }
        for (t, attempt) in cut_off {
            self.save_cut_off(t, attempt)?;
            // A claim may have been spawned before its start was recorded.
            self.stage(Event::AttemptFinished {
                task: self.state.plan.tasks[t].id.clone(),
                attempt,
                outcome: AttemptOutcome::Interrupted,
                duration_ms: 0,
                next: NextStep::Requeue,
            })?;
        }
        // Decisions made while no run held the mission, first: one may
        // give a failed mission another round.
        self.take_decisions(true)?;
        if self.state.status.is_finished() {
            self.commit_here()?;
            return Err(Error::Finished(self.id.clone()));
        }
        self.start_run()?;
        self.commit_here()
    }

    fn start_run(&mut self) -> Result<(), Error> {
        self.stage(Event::RunStarted {
            run: self.state.runs + 1,
            pid: std::process::id(),
            host: hostname(),
        })
    }

    /// An executor this build has, by name.
    pub(crate) fn executor(&self, name: &str) -> Option<Arc<dyn Executor>> {
        self.settings
            .executors
            .iter()
            .find(|e| e.name() == name)
            .cloned()
    }

    /// Drives the mission until it finishes, pauses for the person, or is
    /// interrupted; returns its status then.
    pub async fn run(mut self) -> Result<MissionStatus, Error> {
        self.inputs.listen_for_signals();
        self.ask_baseline();
        let result = self.drive().await;
        if let Some((queue, id)) = self.queue_to_purge() {
            let _ = tokio::task::spawn_blocking(move || queue.purge(&id)).await;
        }
        if self.committing.is_none() {
            self.end_emergency();
            self.end_slots();
        }
        if let Err(Error::Killed) = result {
            // What happened up to the second interrupt is still recorded.
            self.flush().await?;
        }
        result
    }

    /// The queue to empty once the mission is over: what the workers did
    /// for it can go.
    fn queue_to_purge(&self) -> Option<(Arc<techlead_store::postgres::PgQueue>, String)> {
        let remote = self.remote.as_ref()?;
        self.state
            .status
            .is_finished()
            .then(|| (remote.queue().clone(), self.id.clone()))
    }

    async fn drive(&mut self) -> Result<MissionStatus, Error> {
        loop {
            self.decide()?;
            self.launch();
            if self.commit_due() {
                self.begin_commit();
            }
            if self.committing.is_none()
                && let Some(status) = self.stopped()
            {
                return Ok(status);
            }
            match self.wait().await {
                Woken::Committed(done) => self.committed(done)?,
                Woken::Input(first) => {
                    self.handle(first)?;
                    while let Some(input) = self.inputs.try_next() {
                        self.handle(input)?;
                    }
                }
            }
        }
    }

    async fn wait(&mut self) -> Woken<S> {
        let wake = self.next_wake();
        let commit = async {
            match self.committing.as_mut() {
                Some(commit) => (&mut commit.handle).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            done = commit => Woken::Committed(done),
            input = self.inputs.next(wake) => Woken::Input(input),
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
        self.staged.push((record, self.state.tally()));
        self.staged_since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Whether to commit what is staged now. Something waits for a commit
    /// when a claim that is not durable yet may be needed soon (fewer
    /// durable claims than running slots: the next slot to free would have
    /// none), or when nothing runs that would bring another turn. Otherwise
    /// the batch grows for up to [`COMMIT_WINDOW`], so that one fsync
    /// carries the events of several tasks.
    fn commit_due(&self) -> bool {
        let Some(since) = self.staged_since else {
            return false;
        };
        let durable_claims = self
            .claims
            .values()
            .filter(|&&seq| seq <= self.durable)
            .count();
        let claim_waits =
            durable_claims < self.claims.len() && durable_claims < self.running.len().max(1);
        claim_waits
            || self.idle()
            || self.interrupting
            || self.state.status != MissionStatus::Running
            || since.elapsed() >= COMMIT_WINDOW
    }

    /// Sends every staged event to the writer thread as one transaction,
    /// unless a commit is in flight (they go with the next one then).
    fn begin_commit(&mut self) {
        if self.committing.is_some() || self.staged.is_empty() {
            return;
        }
        let mut store = self.store.take().expect("no commit is in flight");
        let (after, events, tallies) = self.take_staged();
        let id = self.id.clone();
        let handle = tokio::task::spawn_blocking(move || {
            let result = store.append(&id, after, events);
            (store, result)
        });
        self.committing = Some(Commit { handle, tallies });
    }

    /// A commit came back: the store is ours again and its events are
    /// shown.
    fn committed(
        &mut self,
        done: Result<(S, techlead_store::Result<Vec<EventRecord>>), tokio::task::JoinError>,
    ) -> Result<(), Error> {
        let commit = self.committing.take().expect("a commit was in flight");
        let (store, result) = done.map_err(|error| Error::Writer(error.to_string()))?;
        self.store = Some(store);
        self.show(result?, &commit.tallies);
        Ok(())
    }

    /// Commits every staged event on this thread, after the commit in
    /// flight. For taking over and for stopping, when nothing else waits.
    fn commit_here(&mut self) -> Result<(), Error> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let (after, events, tallies) = self.take_staged();
        let store = self.store.as_mut().expect("no commit is in flight");
        let records = store.append(&self.id, after, events)?;
        self.show(records, &tallies);
        Ok(())
    }

    /// Waits for the commit in flight, then commits what is left.
    async fn flush(&mut self) -> Result<(), Error> {
        if let Some(commit) = self.committing.as_mut() {
            let done = (&mut commit.handle).await;
            self.committed(done)?;
        }
        self.commit_here()
    }

    fn take_staged(&mut self) -> (u64, Vec<(Timestamp, Event)>, Vec<Tally>) {
        self.staged_since = None;
        let after = self.staged[0].0.seq - 1;
        let (events, tallies) = mem::take(&mut self.staged)
            .into_iter()
            .map(|(record, tally)| ((record.at, record.event), tally))
            .unzip();
        (after, events, tallies)
    }

    fn show(&mut self, records: Vec<EventRecord>, tallies: &[Tally]) {
        for (record, tally) in records.iter().zip(tallies) {
            self.durable = record.seq;
            self.observer.event(record, tally, &self.state);
        }
        self.observer.batch_end();
    }

    fn decide(&mut self) -> Result<(), Error> {
        self.take_decisions(false)?;
        self.watch_preemptions()?;
        self.watch_external()?;
        self.publish_slots()?;
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
        if self.interrupting || self.state.aborting || self.state.status != MissionStatus::Running {
            self.withdraw_claims()?;
            if self.interrupting && self.idle() && self.state.status != MissionStatus::Interrupted {
                self.stage(Event::RunInterrupted {
                    reason: "interrupted by the person (Ctrl-C or SIGTERM)".into(),
                })?;
            } else if self.state.aborting && self.idle() && !self.state.status.is_finished() {
                self.stage(Event::MissionFinished {
                    status: MissionStatus::Aborted,
                })?;
            }
            return Ok(());
        }
        if retry::failure_rate_exceeded(&self.state) {
            self.pause()?;
            return self.withdraw_claims();
        }
        if let Some(reason) = self
            .budgeted
            .then(|| budget::exhausted(&self.state, &self.next_to_run()))
            .flatten()
        {
            self.pause_for_budget(reason)?;
            return self.withdraw_claims();
        }
        for (phase, gate) in self.state.gates_due() {
            if self.gates_running.insert((phase, gate.clone())) {
                self.to_gate.push((phase, gate));
            }
        }
        self.check()?;
        if self.done_running.is_none()
            && let Some(item) = self.state.done_due()
        {
            self.done_running = Some(item);
            done::spawn(self, item);
        }
        self.start_claims()?;
        self.claim()?;
        self.forecast_if_due();
        if self.state.is_settled() && self.idle() {
            let status = self.state.final_status();
            let decidable =
                status == MissionStatus::Failed && !self.state.open_escalations.is_empty();
            if !(decidable && self.awaits_decisions) {
                self.stage(Event::MissionFinished { status })?;
            }
        }
        Ok(())
    }

    /// Nothing of this run is still going: no attempt, no gate, no merge,
    /// no check of the definition of done.
    fn idle(&self) -> bool {
        self.running.is_empty()
            && self.gates_running.is_empty()
            && self.checks.is_empty()
            && self.done_running.is_none()
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

    /// The tasks that would take the next slots: the claims, then the most
    /// urgent ready tasks (as many as could be claimed).
    fn next_to_run(&self) -> Vec<usize> {
        let room = self.state.plan.max_parallel.max(1) as usize * self.claims_per_slot() as usize;
        self.state
            .queued()
            .chain(self.state.ready_in_order(Timestamp::now()).take(room))
            .collect()
    }

    fn pause_for_budget(&mut self, reason: String) -> Result<(), Error> {
        self.stage(Event::DispatchPaused {
            reason: reason.clone(),
        })?;
        self.stage(Event::EscalationRaised {
            id: self.state.escalations + 1,
            kind: EscalationKind::Budget,
            message: reason,
            tasks: Vec::new(),
            // Raise it with `techlead resume --budget`, or here, then retry.
            options: ["retry", "abort"].map(String::from).to_vec(),
        })
    }

    /// Sets a new budget for the mission (the person's decision at resume),
    /// recorded before the run goes on.
    pub fn set_budget(&mut self, budget: techlead_core::state::Budget) -> Result<(), Error> {
        self.stage(Event::BudgetChanged { budget })?;
        self.budgeted = budget::any(&self.state);
        self.commit_here()
    }

    /// Ready tasks claim the slots that are free or will free next.
    fn claim(&mut self) -> Result<(), Error> {
        let claims = dispatch::claim(&self.state, Timestamp::now(), self.claims_per_slot());
        for t in claims.withdraw {
            self.withdraw(t)?;
        }
        for t in claims.claim {
            let attempt = self.state.tasks[t].attempts.len() as u32 + 1;
            if attempt == 1 && !self.state.plan.tasks[t].detail.needs.is_empty() {
                let missing = techlead_core::state::missing_needs(&self.state, t);
                if !missing.is_empty() {
                    let task = self.state.plan.tasks[t].id.clone();
                    self.stage(Event::HandoffIncomplete { task, missing })?;
                }
            }
            let task = &self.state.plan.tasks[t];
            let event = Event::AttemptQueued {
                task: task.id.clone(),
                attempt,
                agent: self.state.tasks[t].agent.clone(),
                executor: task.executor.clone(),
                dir: attempt::relative_dir(&self.id, &task.id, attempt),
            };
            self.stage(event)?;
            self.claims.insert(t, self.state.last_seq);
        }
        Ok(())
    }

    fn claims_per_slot(&self) -> u32 {
        dispatch::claims_per_slot(self.typical_task, COMMIT_WINDOW)
    }

    /// One more attempt took `took`: a fifth of the new average.
    fn attempt_took(&mut self, took: std::time::Duration) {
        self.typical_task = Some(match self.typical_task {
            Some(typical) => (typical * 4 + took) / 5,
            None => took,
        });
    }

    /// Durable claims take the slots that are free, within the limits and
    /// the delay between launches.
    fn start_claims(&mut self) -> Result<(), Error> {
        if self.interrupting || self.state.status != MissionStatus::Running {
            return Ok(());
        }
        let delay = std::time::Duration::from_millis(self.state.plan.launch_delay_ms);
        let startable = dispatch::startable(&self.state, Timestamp::now());
        if self.budgeted && budget::exhausted(&self.state, &startable).is_some() {
            // The next decision pauses for the person.
            return Ok(());
        }
        self.want_slots(&startable);
        for t in startable {
            if self.claims.get(&t).is_none_or(|&seq| seq > self.durable) {
                continue;
            }
            if !delay.is_zero() && self.last_launch.is_some_and(|at| at.elapsed() < delay) {
                break;
            }
            if !self.slot_for(t)? {
                continue;
            }
            if !delay.is_zero() {
                self.last_launch = Some(Instant::now());
            }
            let attempt = self.state.tasks[t].attempts.len() as u32;
            let task = self.state.plan.tasks[t].id.clone();
            self.stage(Event::AttemptStarted { task, attempt })?;
            self.claims.remove(&t);
            self.to_launch.push(t);
        }
        Ok(())
    }

    /// Gives back every claim that has not started (dispatch paused or the
    /// run interrupted).
    fn withdraw_claims(&mut self) -> Result<(), Error> {
        let queued: Vec<usize> = self.state.queued().collect();
        for t in queued {
            self.withdraw(t)?;
        }
        Ok(())
    }

    fn withdraw(&mut self, t: usize) -> Result<(), Error> {
        let attempt = self.state.tasks[t].attempts.len() as u32;
        let task = self.state.plan.tasks[t].id.clone();
        self.stage(Event::AttemptWithdrawn { task, attempt })?;
        self.claims.remove(&t);
        Ok(())
    }

    fn launch(&mut self) {
        for t in mem::take(&mut self.to_launch) {
            let cancel = CancellationToken::new();
            if self.interrupting {
                cancel.cancel();
            }
            let pid = Arc::new(AtomicU32::new(0));
            match self.remote {
                Some(_) => remote::dispatch(self, t, cancel.clone()),
                None => attempt::spawn(self, t, cancel.clone(), pid.clone()),
            }
            self.running.insert(t, Running { cancel, pid });
        }
        for (phase, gate) in mem::take(&mut self.to_gate) {
            gate::spawn(self, phase, gate);
        }
    }

    /// The status to stop with, once everything is durable, nothing runs
    /// and nothing more will.
    fn stopped(&self) -> Option<MissionStatus> {
        if !self.staged.is_empty() {
            return None;
        }
        let status = self.state.status;
        if status.is_finished() {
            return Some(status);
        }
        if !self.idle() {
            return None;
        }
        match status {
            MissionStatus::Paused if self.awaits_decisions && !self.interrupting => None,
            MissionStatus::Interrupted | MissionStatus::Paused => Some(status),
            _ => None,
        }
    }

    /// When to wake up without input: the next retry, the end of an
    /// executor's pause, the end of the commit window, the end of the
    /// launch delay while a durable claim waits for it, or a forecast owed.
    fn next_wake(&self) -> Option<Instant> {
        let now = Timestamp::now();
        let mut wake = dispatch::next_retry(&self.state)
            .into_iter()
            .chain(dispatch::next_executor_resume(&self.state, now))
            .min()
            .map(|at| instant_at(at, now));
        // The looks that read the store wait while it is away committing:
        // its return wakes the writer anyway, and a time already past
        // would wake it again and again until then.
        let looks = match self.store {
            Some(_) => [
                self.next_inbox_read(),
                self.next_preemption_read(),
                self.next_external_read(),
                self.next_slot_ask(),
            ],
            None => [None; 4],
        };
        for at in looks.into_iter().chain([self.next_forecast()]).flatten() {
            wake = Some(wake.map_or(at, |w| w.min(at)));
        }
        if let Some(since) = self.staged_since
            && self.committing.is_none()
        {
            let at = since + COMMIT_WINDOW;
            wake = Some(wake.map_or(at, |w| w.min(at)));
        }
        if let Some(last) = self.last_launch
            && self.claims.values().any(|&seq| seq <= self.durable)
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
            Input::Usage {
                task,
                attempt,
                usage,
            } => {
                let task = self.state.plan.tasks[task].id.clone();
                self.stage(Event::AttemptUsage {
                    task,
                    attempt,
                    usage,
                })
            }
            Input::Ask {
                task,
                attempt,
                question,
            } => self.ask(task, attempt, question),
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
                self.slot_freed(task);
                self.attempt_took(std::time::Duration::from_millis(duration_ms));
                let mut outcome = unless_blocked(&self.state, task, attempt_outcome(outcome));
                if let Some(by) = self.suspending.remove(&task)
                    && outcome == AttemptOutcome::Cancelled
                {
                    outcome = AttemptOutcome::Suspended { by };
                }
                let next = self.when_blocked(task, &outcome).unwrap_or_else(|| {
                    retry::next_step(&self.state, task, &outcome, Timestamp::now())
                });
                let next_is_fail = next == NextStep::Fail;
                let splits = next == NextStep::Split;
                let t = task;
                let task = self.state.plan.tasks[t].id.clone();
                self.stage(Event::AttemptFinished {
                    task: task.clone(),
                    attempt,
                    outcome: outcome.clone(),
                    duration_ms,
                    next,
                })?;
                if splits {
                    self.split_as_proposed(t)?;
                }
                if next_is_fail {
                    match self.state.tasks[t].work.conflict.clone() {
                        Some(files) => self.escalate_conflict(task.clone(), &files)?,
                        None => self.escalate_failure(t, &outcome)?,
                    }
                }
                self.after_refusal(t, task, &outcome)?;
                // The freed slot refills now, before anything else is decided.
                self.start_claims()?;
                self.launch();
                Ok(())
            }
            Input::Saved {
                task,
                attempt,
                commit,
                files,
            } => {
                let task = self.state.plan.tasks[task].id.clone();
                self.stage(Event::WorkSaved {
                    task,
                    attempt,
                    commit,
                    files,
                })
            }
            Input::CheckFinished {
                task,
                attempt,
                verdict,
            } => {
                self.checks.remove(&task);
                match verdict {
                    Some(verdict) => self.gate_verdict(task, attempt, verdict),
                    // Stopped by the interrupt: it runs again on resume.
                    None => Ok(()),
                }
            }
            Input::Merged { task, result } => {
                self.checks.remove(&task);
                self.merging = false;
                self.merged(task, result)
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
            Input::DoneChecked { item, verdict } => {
                self.done_running = None;
                match verdict {
                    Some(verdict) => self.done_checked(item, verdict),
                    // Stopped by the interrupt: it runs again on resume.
                    None => Ok(()),
                }
            }
            Input::Forecast { forecast, at } => self.forecast_made(&forecast, at),
            Input::LeaseExpired { task, attempt } => self.lease_expired(task, attempt),
            Input::Interrupt => self.interrupt(),
        }
    }

    /// A rate limit pauses the attempt's executor (every task on it waits,
    /// none fails); an attempt that needs the person pauses dispatch with
    /// an escalation.
    fn after_refusal(
        &mut self,
        t: usize,
        task: String,
        outcome: &AttemptOutcome,
    ) -> Result<(), Error> {
        match outcome {
            AttemptOutcome::RateLimited { until, message } => {
                let now = Timestamp::now();
                let executor = self.state.plan.tasks[t].executor.clone();
                let until = until
                    .filter(|&u| u > now)
                    .unwrap_or_else(|| now + rate_limit_backoff(&self.state, &executor, now));
                self.stage(Event::ExecutorPaused {
                    executor,
                    until,
                    reason: message.clone(),
                })
            }
            AttemptOutcome::NeedsPerson { message }
                if self.state.status == MissionStatus::Running =>
            {
                let executor = &self.state.plan.tasks[t].executor;
                let message = format!("`{executor}` cannot go on without you: {message}");
                self.stage(Event::DispatchPaused {
                    reason: message.clone(),
                })?;
                self.stage(Event::EscalationRaised {
                    id: self.state.escalations + 1,
                    kind: EscalationKind::NeedsPerson,
                    message,
                    tasks: vec![task],
                    options: ["retry", "abort"].map(String::from).to_vec(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Asks the person about a task that failed for good: another round,
    /// another agent, going on without it, or stopping.
    fn escalate_failure(&mut self, t: usize, outcome: &AttemptOutcome) -> Result<(), Error> {
        let task = self.state.plan.tasks[t].id.clone();
        let attempts = self.state.tasks[t].attempts.len();
        let why = match outcome {
            AttemptOutcome::Failed { message, .. } => message.clone(),
            AttemptOutcome::TimedOut => "timed out".to_string(),
            _ => "failed".to_string(),
        };
        let blocked = self.state.plan.dependents(&task);
        // Blocked on its last attempt: the agent said what it needs.
        let blocker = self.state.tasks[t]
            .attempts
            .last()
            .and_then(|a| a.detail.blocked.clone());
        let agents: Vec<&str> = {
            let mut agents: Vec<&str> = Vec::new();
            for a in &self.state.tasks[t].attempts {
                if !agents.contains(&a.agent.as_str()) {
                    agents.push(&a.agent);
                }
            }
            agents
        };
        let mut message = match &blocker {
            Some(reason) => format!(
                "{task} is blocked: {reason} (tried {attempts} attempt{} on {})",
                plural(attempts),
                agents.join(", ")
            ),
            None => format!(
                "{task} failed after {attempts} attempt{}: {why}",
                plural(attempts)
            ),
        };
        if let Some(note) = self.proposal_note(t) {
            message.push_str(&note);
        }
        if blocked > 0 {
            message.push_str(&format!(
                "; {blocked} dependent task{} wait{} for it",
                plural(blocked),
                if blocked == 1 { "s" } else { "" }
            ));
        }
        self.stage(Event::EscalationRaised {
            id: self.state.escalations + 1,
            kind: match blocker {
                Some(_) => EscalationKind::AgentBlocked,
                None => EscalationKind::RetriesExhausted,
            },
            message,
            tasks: vec![task],
            options: self.failure_options(t),
        })
    }

    fn interrupt(&mut self) -> Result<(), Error> {
        if self.interrupting {
            // A second interrupt: no more grace.
            for running in self.running.values() {
                match running.pid.load(Ordering::Relaxed) {
                    0 => {}
                    pid => crate::orphans::kill_group(pid),
                }
            }
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

/// The mission's worktrees, when it has a repository: the integration
/// branch is created at the recorded base the first time.
fn open_workspaces(
    state: &MissionState,
    settings: &Settings,
    id: &str,
) -> Result<Option<Arc<crate::workspace::Workspaces>>, Error> {
    let Some(repository) = &state.plan.repository else {
        return Ok(None);
    };
    let git = crate::git::Git::open(std::path::Path::new(&repository.path))?;
    crate::workspace::ignore_data_dir(&settings.data_dir)?;
    let workspaces = crate::workspace::Workspaces::new(git, &settings.data_dir, id);
    workspaces.ensure_integration(&repository.base)?;
    Ok(Some(Arc::new(workspaces)))
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

pub(crate) fn attempt_outcome(outcome: Outcome) -> AttemptOutcome {
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
        Outcome::RateLimited { until, message } => AttemptOutcome::RateLimited { until, message },
        Outcome::NeedsPerson { message } => AttemptOutcome::NeedsPerson { message },
    }
}

/// How long an executor waits after a rate limit that named no reset time:
/// 30 s, doubling with each pause still in force, up to 15 minutes.
fn rate_limit_backoff(state: &MissionState, executor: &str, now: Timestamp) -> SignedDuration {
    let previous = state
        .executor_paused_until(executor, now)
        .map_or(SignedDuration::ZERO, |until| until.duration_since(now));
    let next = (previous * 2).max(SignedDuration::from_secs(30));
    next.min(SignedDuration::from_mins(15))
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
        E::Session(id) => Report::Session(id.clone()),
        E::Split(title) => Report::Split(title.clone()),
        E::Started { .. } | E::Progress { .. } | E::Usage(_) | E::Ask(_) => return None,
    })
}

/// An attempt whose agent said it is blocked, and reported no progress
/// since, did not do its task, whatever its exit code: it fails, and the
/// next attempt is told what blocked this one.
fn unless_blocked(state: &MissionState, t: usize, outcome: AttemptOutcome) -> AttemptOutcome {
    let Some(reason) = state.tasks[t]
        .attempts
        .last()
        .and_then(|a| a.detail.blocked.as_ref())
    else {
        return outcome;
    };
    match outcome {
        AttemptOutcome::Succeeded { .. } => AttemptOutcome::Failed {
            exit_code: Some(0),
            signal: None,
            message: format!("blocked: {reason}"),
        },
        AttemptOutcome::Failed {
            exit_code, signal, ..
        } => AttemptOutcome::Failed {
            exit_code,
            signal,
            message: format!("blocked: {reason}"),
        },
        other => other,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
