//! `techlead watch`: follows a mission that another process runs, from the
//! database alone, through the view `run` shows (bars, lines or NDJSON);
//! or shows a mission that is not running and exits.
//!
//! Every poll reads the events recorded after the last one seen (safe while
//! the run writes: WAL), folds each into the mission's state and shows it
//! with the task counts as of that event, as `run`'s observer does. Watch
//! writes nothing: the run's end is seen in the record (the mission
//! finished) or as its lock going free (it paused, was interrupted, or
//! died); the lock is only tested, with a shared lock taken and dropped at
//! once, never held.

use crate::args::WatchArgs;
use crate::database;
use crate::exit::{CliError, Outcome};
use crate::render::progress::View;
use std::time::{Duration, Instant};
use techlead_core::state::{MissionState, MissionStatus};
use techlead_store::Store;

/// How often the record is read for new events.
const POLL: Duration = Duration::from_millis(150);

/// How often the shared agents' rows are read, for why ready tasks wait
/// for other missions (live state, not in the record).
const SHARES_POLL: Duration = Duration::from_secs(1);

/// How long a mission the record calls running (or never run) may go
/// without a run holding it before watch says that none is: the moment
/// between recording a mission and taking its lock, or a resume taking a
/// crashed run's place, is not mistaken for the end.
const NO_RUN_GRACE: Duration = Duration::from_secs(2);

pub fn run(args: &WatchArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, args.mission.as_deref())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let mut watcher = Watcher {
        store,
        id: row.id,
        json: args.json,
        state: None,
        view: None,
        shares_read: None,
        shown_waits: Vec::new(),
    };
    let result = runtime.block_on(watcher.follow());
    if let Some(view) = watcher.view.as_mut() {
        view.finish();
    }
    let (outcome, line) = result?;
    eprintln!("{line}");
    Ok(outcome)
}

struct Watcher {
    store: Box<dyn Store>,
    id: String,
    json: bool,
    /// The mission as of the last event shown; `None` before the first.
    state: Option<MissionState>,
    view: Option<View>,
    shares_read: Option<Instant>,
    /// Why ready tasks wait for shared agents, as last shown.
    shown_waits: Vec<String>,
}

impl Watcher {
    /// Shows the mission's events until its run ends, or until Ctrl-C;
    /// returns how watch ends and its last line.
    async fn follow(&mut self) -> Result<(Outcome, String), CliError> {
        // Listening before the first event is shown: Ctrl-C from then on
        // ends watch with its line, not the default death.
        let mut ctrl_c = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .map_err(CliError::Runtime)?;
        let mut unheld_since: Option<Instant> = None;
        loop {
            let mut shown = self.catch_up()?;
            let status = self.status();
            if status.is_finished() {
                return Ok(self.ended(status));
            }
            self.show_shared_waits()?;
            if shown == 0 && !self.store.is_locked(&self.id)? {
                // What the run committed just before it let go.
                shown = self.catch_up()?;
                let status = self.status();
                match status {
                    _ if shown > 0 => {}
                    MissionStatus::Paused | MissionStatus::Interrupted => {
                        return Ok(self.ended(status));
                    }
                    _ => {
                        let since = *unheld_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= NO_RUN_GRACE {
                            return Ok(self.ended(status));
                        }
                    }
                }
            } else {
                unheld_since = None;
            }
            tokio::select! {
                _ = ctrl_c.recv() => {
                    return Ok((
                        Outcome::Interrupted,
                        format!("stopped watching mission {}; its run goes on", self.id),
                    ));
                }
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Shows why ready tasks wait for agents other missions share, when
    /// that changed, as the run's own terminal does.
    fn show_shared_waits(&mut self) -> Result<(), CliError> {
        if self
            .shares_read
            .is_some_and(|at| at.elapsed() < SHARES_POLL)
        {
            return Ok(());
        }
        self.shares_read = Some(Instant::now());
        let waits = super::status::shared_waits(&*self.store, &self.id)?;
        if waits != self.shown_waits
            && let Some(view) = self.view.as_mut()
        {
            view.shared(&waits);
            self.shown_waits = waits;
        }
        Ok(())
    }

    /// Shows the events recorded since the last one shown; returns how many.
    fn catch_up(&mut self) -> Result<usize, CliError> {
        let after = self.state.as_ref().map_or(0, |s| s.last_seq);
        let records = self.store.events(&self.id, after)?;
        for record in &records {
            let state = match self.state.as_mut() {
                None => self.state.insert(
                    MissionState::replay(std::slice::from_ref(record))
                        .map_err(techlead_engine::mission::Error::from)?,
                ),
                Some(state) => {
                    state
                        .apply(record)
                        .map_err(techlead_engine::mission::Error::from)?;
                    state
                }
            };
            let (json, id) = (self.json, &self.id);
            self.view
                .get_or_insert_with(|| View::replaying(json, id, state))
                .observe(record, &state.tally(), state);
        }
        if let Some(view) = self.view.as_mut() {
            view.flush();
        }
        Ok(records.len())
    }

    fn status(&self) -> MissionStatus {
        self.state
            .as_ref()
            .map_or(MissionStatus::Created, |s| s.status)
    }

    /// How watch ends once no run will add to the mission, as `run` would
    /// have ended.
    fn ended(&self, status: MissionStatus) -> (Outcome, String) {
        let id = &self.id;
        match status {
            MissionStatus::Succeeded => (Outcome::Success, format!("mission {id} succeeded")),
            MissionStatus::Failed => (
                Outcome::Attention,
                format!(
                    "mission {id} finished with failures: `techlead status {id}` shows them, `techlead escalations {id}` what waits for your decision"
                ),
            ),
            MissionStatus::Paused => (
                Outcome::Paused,
                format!(
                    "mission {id} paused for your decision: `techlead escalations {id}`, then `techlead decide {id} N ACTION` and `techlead resume {id}`"
                ),
            ),
            MissionStatus::Aborted => (
                Outcome::Attention,
                format!("mission {id} was aborted by your decision"),
            ),
            MissionStatus::Interrupted => (
                Outcome::Interrupted,
                format!("mission {id} interrupted: `techlead resume {id}` continues it"),
            ),
            MissionStatus::Created => (
                Outcome::Interrupted,
                format!("mission {id} has not been run: `techlead resume {id}` runs it"),
            ),
            MissionStatus::Running => (
                Outcome::Interrupted,
                format!(
                    "mission {id} is not being run (its last run stopped without recording an end): `techlead resume {id}` continues it"
                ),
            ),
        }
    }
}
