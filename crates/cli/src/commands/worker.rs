//! `techlead worker`: runs the attempts missions dispatch to workers
//! (docs/workers.md). Lines on stderr, or one JSON object per claim and
//! end on stdout with `--json`.

use crate::args::WorkerArgs;
use crate::database;
use crate::exit::{CliError, Outcome};
use std::path::Path;
use std::sync::Arc;
use techlead_core::work::{LeaseTerms, parse_labels};
use techlead_engine::worker::{self, Activity, Config};
use techlead_store::postgres::{PgQueue, WorkKey};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub fn run(args: &WorkerArgs) -> Result<Outcome, CliError> {
    let path = database::path(&args.database);
    let labels = parse_labels(&args.labels)?;
    let executors = chosen_executors(&args.executor)?;
    let queue = Arc::new(queue(&path)?);
    let name = args.name.clone().unwrap_or_else(default_name);
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| database::data_dir(Path::new("")).join("worker"));
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    eprintln!(
        "worker {name}: claiming from {} (executors: {}; labels: {}; capacity {}; lease {} ms)",
        queue.shown_url(),
        executors
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(", "),
        if labels.is_empty() {
            "none".to_string()
        } else {
            labels.join(", ")
        },
        args.capacity,
        args.lease_ms,
    );
    let config = Config {
        name,
        executors,
        labels,
        capacity: args.capacity,
        lease: LeaseTerms {
            ttl_ms: args.lease_ms,
        },
        dir,
        db: path.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let json = args.json;
    runtime.block_on(async move {
        let stop = CancellationToken::new();
        tokio::spawn(stop_on_signal(stop.clone()));
        let (activity, shown) = mpsc::unbounded_channel();
        let printer = tokio::spawn(show(shown, json));
        let result = worker::run(queue, config, activity, stop).await;
        let _ = printer.await;
        result?;
        Ok(Outcome::Interrupted)
    })
}

/// The work queue of the PostgreSQL database `path` names; anything else
/// cannot have workers.
pub(super) fn queue(path: &Path) -> Result<PgQueue, CliError> {
    match database::url(path) {
        Some(url) => Ok(PgQueue::open(url)?),
        None => Err(CliError::WorkersNeedPostgres {
            database: database::shown(path),
        }),
    }
}

fn chosen_executors(
    names: &str,
) -> Result<Vec<Arc<dyn techlead_engine::executor::Executor>>, CliError> {
    let all = super::run::executors()?;
    let known = || all.iter().map(|e| e.name()).collect::<Vec<_>>().join(", ");
    let mut chosen = Vec::new();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match all.iter().find(|e| e.name() == name) {
            Some(executor) => chosen.push(executor.clone()),
            None => {
                return Err(CliError::NoSuchExecutor {
                    name: name.to_string(),
                    known: known(),
                });
            }
        }
    }
    if chosen.is_empty() {
        return Err(CliError::NoSuchExecutor {
            name: names.to_string(),
            known: known(),
        });
    }
    Ok(chosen)
}

fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "worker".to_string());
    format!("{host}:{}", std::process::id())
}

/// Ctrl-C or SIGTERM stops the worker: its attempts are stopped and sent
/// back as cancelled, so that they run again elsewhere.
async fn stop_on_signal(stop: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("stopping: the attempts running here go back to the queue");
    stop.cancel();
}

async fn show(mut activity: mpsc::UnboundedReceiver<Activity>, json: bool) {
    while let Some(activity) = activity.recv().await {
        match json {
            true => println!("{}", as_json(&activity)),
            false => eprintln!("{}", as_line(&activity)),
        }
    }
}

fn named(key: &WorkKey) -> String {
    format!("{} {} (attempt {})", key.mission, key.task, key.attempt)
}

fn as_line(activity: &Activity) -> String {
    match activity {
        Activity::Claimed(key) => format!("claimed {}", named(key)),
        Activity::Finished {
            key,
            outcome,
            duration_ms,
        } => format!(
            "{} {} in {:.1}s",
            outcome.kind(),
            named(key),
            *duration_ms as f64 / 1000.0
        ),
        Activity::Lost(key) => format!(
            "lost {}: its lease ended (expired or cancelled); its end was not recorded",
            named(key)
        ),
    }
}

fn as_json(activity: &Activity) -> serde_json::Value {
    let key = |event: &str, key: &WorkKey| {
        serde_json::json!({
            "event": event,
            "mission": key.mission,
            "task": key.task,
            "attempt": key.attempt,
        })
    };
    match activity {
        Activity::Claimed(k) => key("claimed", k),
        Activity::Lost(k) => key("lost", k),
        Activity::Finished {
            key: k,
            outcome,
            duration_ms,
        } => {
            let mut value = key("finished", k);
            value["outcome"] = serde_json::to_value(outcome).expect("an outcome serialises");
            value["duration_ms"] = (*duration_ms).into();
            value
        }
    }
}
