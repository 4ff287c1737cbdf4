//! `techlead run` and `techlead resume`: drive a mission with the engine.

use super::webhooks;
use crate::args::{ResumeArgs, RunArgs};
use crate::database;
use crate::exit::{CliError, Outcome};
use crate::inputs;
use crate::render::progress::View;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use techlead_core::fingerprint;
use techlead_core::state::{
    Budget, Checkout, EventRecord, MissionPlan, MissionState, MissionStatus, Resolve, Tally,
};
use techlead_engine::executor::Executor;
use techlead_engine::executor::anthropic::AnthropicExecutor;
use techlead_engine::executor::claude_code::ClaudeCodeExecutor;
use techlead_engine::executor::codex::CodexExecutor;
use techlead_engine::executor::command::CommandExecutor;
use techlead_engine::executor::gemini::GeminiExecutor;
use techlead_engine::executor::openai::OpenAiExecutor;
use techlead_engine::executor::simulate::{SimulateConfig, SimulateExecutor};
use techlead_engine::mission::{Mission, Observer, Settings, Workers};
use techlead_engine::webhook::Webhooks;
use techlead_store::Store;

pub fn run(args: &RunArgs) -> Result<Outcome, CliError> {
    techlead_engine::malloc::tune_for_run();
    let resolved = resolve(args)?;
    let hooks = webhooks::prepare(&resolved.webhooks)?;
    let (mut store, path) = database::open(&args.database)?;
    let workers = workers(args.workers, args.repository_url.as_deref(), &path)?;
    techlead_engine::mission::check_dependencies(&*store, &resolved)?;
    let at = jiff::Timestamp::now();
    let id = store.create_mission(&resolved, at)?;
    drive(
        store,
        &path,
        &id,
        Start::Created(Box::new(resolved), at),
        args.json,
        hooks,
        Mode {
            wait_for_decisions: args.wait_for_decisions,
            emergency: args.emergency,
            interactive: args.interactive,
            workers,
            standby: false,
        },
    )
}

/// Validates and plans the mission file into the plan a run records. Each
/// stage's data goes as soon as the next has what it needs: the text once
/// hashed, the mission as it moves into the plan.
fn resolve(args: &RunArgs) -> Result<MissionPlan, CliError> {
    let valid = inputs::check(&args.mission, &args.source)?.print_and_accept()?;
    let source_hash = fingerprint::of_file(valid.file.text.as_bytes());
    drop(valid.file);
    let workdir = workdir(&args.mission, valid.mission.repository.as_deref());
    let repository = match valid.mission.repository {
        Some(_) => Some(checkout(&workdir)?),
        None => None,
    };
    let history = crate::history::for_planning(&args.database);
    let resolve = Resolve {
        library: &valid.library,
        history: &history,
        // Absolute, so that `resume` from any directory checks the same file.
        source: std::fs::canonicalize(&args.mission)
            .unwrap_or_else(|_| args.mission.clone())
            .display()
            .to_string(),
        source_hash,
        workdir: workdir.display().to_string(),
        repository,
    };
    Ok(MissionPlan::resolve(valid.mission, resolve)
        .expect("validation rejects cycles before planning"))
}

pub fn resume(args: &ResumeArgs) -> Result<Outcome, CliError> {
    techlead_engine::malloc::tune_for_run();
    let (store, path) = database::open_existing(&args.database)?;
    let workers = workers(args.workers, args.repository_url.as_deref(), &path)?;
    let row = database::mission(&store, &path, Some(&args.mission))?;
    let plan = recorded_plan(&store, &row.id)?;
    if !args.ignore_changes
        && let Some(plan) = &plan
    {
        check_unchanged(plan, &row.id)?;
    }
    // A finished mission is refused below, secret or not, unless a
    // decision gives it another round.
    let reopens = !store.decisions(&row.id, true)?.is_empty();
    let hooks = match plan.filter(|_| !row.status.is_finished() || reopens) {
        Some(plan) => webhooks::prepare(&plan.webhooks)?,
        None => None,
    };
    let budget = (args.budget_usd.is_some() || args.budget_tokens.is_some()).then_some(Budget {
        usd: args.budget_usd,
        tokens: args.budget_tokens,
    });
    drive(
        store,
        &path,
        &row.id,
        Start::Resumed { budget },
        args.json,
        hooks,
        Mode {
            wait_for_decisions: args.wait_for_decisions,
            emergency: args.emergency,
            interactive: args.interactive,
            workers,
            standby: args.standby,
        },
    )
}

/// How `drive` takes the mission over.
enum Start {
    /// This process has just recorded it with this plan at this time.
    Created(Box<MissionPlan>, jiff::Timestamp),
    /// From the record, with a new budget if the person gave one.
    Resumed { budget: Option<Budget> },
}

/// The plan recorded as the mission's first event.
fn recorded_plan(store: &dyn Store, id: &str) -> Result<Option<MissionPlan>, CliError> {
    let first = store.events(id, 0)?.into_iter().next();
    Ok(match first.map(|r| r.event) {
        Some(techlead_core::state::Event::MissionCreated { plan }) => Some(*plan),
        _ => None,
    })
}

/// Refuses to resume when the mission file was edited since the run began:
/// the person may expect the edits to take effect, and they would not.
fn check_unchanged(plan: &MissionPlan, id: &str) -> Result<(), CliError> {
    match std::fs::read(&plan.source) {
        Ok(bytes) if fingerprint::of_file(&bytes) != plan.source_hash => {
            Err(CliError::MissionChanged {
                path: plan.source.clone(),
                mission: id.to_string(),
            })
        }
        _ => Ok(()),
    }
}

/// Tasks run in the mission's repository (relative to the mission file),
/// else in the mission file's directory.
fn workdir(mission: &Path, repository: Option<&str>) -> std::path::PathBuf {
    let base = mission
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = match repository {
        Some(repository) => base.join(repository),
        None => base.to_path_buf(),
    };
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// The person's checkout of the mission's repository, as the integration
/// branch will start from it.
fn checkout(workdir: &Path) -> Result<Checkout, CliError> {
    use techlead_engine::git::Git;
    use techlead_engine::mission::Error;
    let git = Git::open(workdir).map_err(|e| CliError::Engine(Error::Git(e)))?;
    let head = git
        .head_commit()
        .map_err(|e| CliError::Engine(Error::Git(e)))?
        .ok_or_else(|| CliError::NoCommit {
            path: git.repo().to_path_buf(),
        })?;
    let branch = git
        .current_branch()
        .map_err(|e| CliError::Engine(Error::Git(e)))?;
    Ok(Checkout {
        path: git.repo().display().to_string(),
        head,
        branch,
    })
}

/// Runs mission `id`.
fn drive(
    store: Box<dyn Store>,
    path: &Path,
    id: &str,
    start: Start,
    json: bool,
    mut hooks: Option<Webhooks>,
    mode: Mode,
) -> Result<Outcome, CliError> {
    let begun = jiff::Timestamp::now();
    let first_start: Arc<OnceLock<jiff::Timestamp>> = Arc::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let data_dir = std::fs::canonicalize(database::data_dir(path))
        .unwrap_or_else(|_| database::data_dir(path));
    let settings = Settings {
        data_dir,
        executors: executors()?,
        gate_grace: std::time::Duration::from_secs(5),
        workers: mode.workers,
    };
    let view: Arc<Mutex<Option<View>>> = Arc::new(Mutex::new(None));
    let observer: Box<dyn Observer> = Box::new(Shown {
        view: view.clone(),
        json,
        mission: id.to_string(),
        first_start: first_start.clone(),
        ask: mode
            .interactive
            .then(|| super::ask::start(path.to_path_buf(), id.to_string())),
    });
    // Webhooks see what the view sees: durable events only.
    let observer = match &hooks {
        Some(hooks) => hooks.observe(observer),
        None => observer,
    };
    let mut hooks_said = None;
    let mut emergency = mode.emergency;
    // What past missions took against their estimates: the live forecast.
    let history = techlead_engine::forecast::history(&store, Some(id))?;
    let status = runtime.block_on(async {
        let mut mission = match start {
            Start::Created(plan, at) => {
                Mission::open_created(store, id, *plan, at, settings, observer)?
            }
            Start::Resumed { budget } => {
                if mode.standby {
                    standby(store.as_ref(), id).await?;
                }
                let mut mission = Mission::open(store, id, settings, observer)?;
                if let Some(budget) = budget {
                    mission.set_budget(budget)?;
                }
                mission
            }
        };
        mission.await_decisions(mode.wait_for_decisions || mode.interactive);
        mission.use_history(history);
        // `priority: critical` in the mission file makes every run of it one.
        emergency |= mission.state().plan.emergency;
        if emergency {
            mission.emergency()?;
        }
        if let Some(hooks) = hooks.as_mut() {
            webhooks::start(hooks, path, id, &mission.state().plan.name)?;
        }
        if mission.orphans_killed() > 0 {
            eprintln!(
                "killed {} process(es) left running by the previous run of {id}",
                mission.orphans_killed()
            );
        }
        let status = mission.run().await;
        if let Some(hooks) = hooks.take() {
            // Stopped by the person: no waiting; what is owed goes at resume.
            let stopping = !matches!(status, Ok(s) if s != MissionStatus::Interrupted);
            hooks_said = webhooks::finish(hooks, id, stopping).await;
        }
        Ok::<_, CliError>(status?)
    });
    if let Some(view) = view.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        view.finish();
    }
    if let Some(line) = hooks_said {
        eprintln!("{line}");
    }
    let status = status?;
    if emergency && let Some(at) = first_start.get() {
        let after = at.duration_since(begun).as_millis();
        eprintln!("emergency: its first task started {after} ms after techlead did");
    }
    eprintln!("{}", closing_line(id, status));
    Ok(match status {
        MissionStatus::Succeeded => Outcome::Success,
        MissionStatus::Failed | MissionStatus::Aborted => Outcome::Attention,
        MissionStatus::Paused => Outcome::Paused,
        _ => Outcome::Interrupted,
    })
}

/// The engine's observer: the view, chosen at the first event, shared with
/// `drive` so that it can be finished after the run.
struct Shown {
    view: Arc<Mutex<Option<View>>>,
    json: bool,
    mission: String,
    /// When the run's first attempt started (an emergency reports it).
    first_start: Arc<OnceLock<jiff::Timestamp>>,
    /// Where escalations go to be asked at the terminal (`--interactive`).
    ask: Option<std::sync::mpsc::Sender<super::ask::Question>>,
}

/// How a run goes, beyond the mission itself.
struct Mode {
    wait_for_decisions: bool,
    emergency: bool,
    interactive: bool,
    /// The queue, when workers run the attempts (docs/workers.md).
    workers: Option<Workers>,
    /// Wait for the run holding the mission to die, then take over.
    standby: bool,
}

/// The work queue, with `--workers`: checked before anything is recorded.
fn workers(
    wanted: bool,
    repository_url: Option<&str>,
    path: &Path,
) -> Result<Option<Workers>, CliError> {
    Ok(match wanted {
        true => Some(Workers {
            queue: Arc::new(super::worker::queue(path)?),
            repository_url: repository_url.map(String::from),
        }),
        false => None,
    })
}

/// Every executor this build has.
pub(super) fn executors() -> Result<Vec<Arc<dyn Executor>>, CliError> {
    Ok(vec![
        Arc::new(CommandExecutor::new()),
        Arc::new(ClaudeCodeExecutor::new()),
        Arc::new(CodexExecutor::new()),
        Arc::new(AnthropicExecutor::new()),
        Arc::new(OpenAiExecutor::new()),
        Arc::new(GeminiExecutor::new()),
        Arc::new(SimulateExecutor::new(
            SimulateConfig::from_env().map_err(CliError::Simulate)?,
        )),
    ])
}

/// How often a standby asks for the mission's lock.
const STANDBY_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Waits until no run holds the mission: its holder finished, stopped or
/// died (PostgreSQL releases a dead holder's advisory lock with its
/// connection; the kernel a SQLite holder's file lock).
async fn standby(store: &dyn Store, id: &str) -> Result<(), CliError> {
    let mut said = false;
    loop {
        match store.lock(id) {
            Ok(_free) => return Ok(()),
            Err(techlead_store::Error::Locked { holder, .. }) => {
                if !said {
                    eprintln!("standby: {id} is run by {holder}; taking over when it stops");
                    said = true;
                }
                tokio::time::sleep(STANDBY_POLL).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

impl Observer for Shown {
    fn event(&mut self, record: &EventRecord, tally: &Tally, state: &MissionState) {
        if matches!(
            record.event,
            techlead_core::state::Event::AttemptStarted { .. }
        ) {
            let _ = self.first_start.set(record.at);
        }
        if let Some(ask) = &self.ask
            && let Some(question) = super::ask::Question::of(record)
        {
            let _ = ask.send(question);
        }
        let mut view = self.view.lock().unwrap_or_else(|e| e.into_inner());
        view.get_or_insert_with(|| View::choose(self.json, &self.mission, state))
            .observe(record, tally, state);
    }

    fn batch_end(&mut self) {
        if let Some(view) = self.view.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            view.flush();
        }
    }

    fn forecast(&mut self, forecast: &techlead_core::forecast::Forecast, at: jiff::Timestamp) {
        if let Some(view) = self.view.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            view.forecast(forecast, at);
        }
    }

    fn shared(&mut self, waits: &[String]) {
        if let Some(view) = self.view.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            view.shared(waits);
        }
    }
}

fn closing_line(id: &str, status: MissionStatus) -> String {
    match status {
        MissionStatus::Succeeded => format!("mission {id} succeeded"),
        MissionStatus::Failed => format!(
            "mission {id} finished with failures: `techlead status {id}` shows them, `techlead escalations {id}` what waits for your decision"
        ),
        MissionStatus::Paused => format!(
            "mission {id} paused for your decision: `techlead escalations {id}`, then `techlead decide {id} N ACTION` and `techlead resume {id}`"
        ),
        MissionStatus::Aborted => format!("mission {id} was aborted by your decision"),
        _ => format!("mission {id} interrupted: `techlead resume {id}` continues it"),
    }
}
