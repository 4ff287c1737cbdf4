//! `techlead webhooks`: every delivery a mission owes its webhooks and
//! each try made, read from the record; and the webhook part of `run` and
//! `resume`: the secrets checked before anything runs, the deliveries
//! started once the run holds the mission, the bounded wait at the end.

use crate::args::WebhooksArgs;
use crate::database;
use crate::exit::{CliError, Outcome};
use crate::render::{self, table};
use std::path::Path;
use std::time::Duration;
use techlead_core::state::{Event, EventRecord, MissionPlan};
use techlead_core::webhook::{self, Delivery, DeliveryState, Webhook};
use techlead_engine::webhook::{Options, Webhooks};
use techlead_store::Store;

/// How long a run waits at its end for deliveries still under way.
const FINAL_WAIT: Duration = Duration::from_secs(5);

pub fn run(args: &WebhooksArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, Some(&args.mission))?;
    let events = store.events(&row.id, 0)?;
    let hooks = plan_of(&events)
        .map(|p| p.webhooks.clone())
        .unwrap_or_default();
    let owed = webhook::deliveries(&hooks, &events, store.deliveries(&row.id)?);
    if args.json {
        let json: Vec<serde_json::Value> = owed.iter().map(|d| json(&row.id, d)).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json).expect("JSON values serialise")
        );
        return Ok(Outcome::Success);
    }
    if hooks.is_empty() {
        eprintln!(
            "{} has no webhooks (a mission file's `webhooks:` adds them)",
            row.id
        );
    } else if owed.is_empty() {
        eprintln!("{} has told its webhooks nothing yet", row.id);
    } else {
        print!("{}", deliveries_table(&owed));
    }
    Ok(Outcome::Success)
}

/// The plan recorded in the first event.
fn plan_of(events: &[EventRecord]) -> Option<&MissionPlan> {
    match &events.first()?.event {
        Event::MissionCreated { plan } => Some(plan),
        _ => None,
    }
}

fn state_word(delivery: &Delivery) -> String {
    match delivery.state() {
        DeliveryState::Delivered => "delivered".into(),
        DeliveryState::Pending { next: 1 } => "pending".into(),
        DeliveryState::Pending { .. } => "retrying".into(),
        DeliveryState::Refused => "refused".into(),
        DeliveryState::Exhausted => "gave up".into(),
    }
}

fn json(mission: &str, d: &Delivery) -> serde_json::Value {
    serde_json::json!({
        "delivery": webhook::delivery_id(mission, d.seq, &d.hook),
        "hook": d.hook,
        "seq": d.seq,
        "event": d.event,
        "state": state_word(d),
        "tries": d.tries,
    })
}

fn deliveries_table(owed: &[Delivery]) -> String {
    let columns = [
        table::column("HOOK", false),
        table::column("EVENT", false),
        table::column("SEQ", false),
        table::column("STATE", false),
        table::column("TRIES", false),
        table::column("LAST TRY (UTC)", false),
        table::column("LAST ANSWER", true),
    ];
    let rows: Vec<Vec<String>> = owed
        .iter()
        .map(|d| {
            let last = d.tries.last();
            vec![
                d.hook.clone(),
                d.event.to_string(),
                d.seq.to_string(),
                state_word(d),
                d.tries.len().to_string(),
                last.map_or("-".into(), |t| {
                    t.at.strftime("%Y-%m-%d %H:%M:%S").to_string()
                }),
                last.map_or(String::new(), |t| match (&t.error, t.status) {
                    (Some(error), _) => error.clone(),
                    (None, Some(status)) => format!("HTTP {status}"),
                    (None, None) => String::new(),
                }),
            ]
        })
        .collect();
    table::render(&columns, &rows, render::width())
}

/// One line per webhook some of whose deliveries failed, for `techlead
/// status`: `webhook ci-bot: 2 events undelivered, last error: ...`.
pub(super) fn failing(
    store: &dyn Store,
    id: &str,
    plan: &MissionPlan,
) -> Result<Vec<String>, CliError> {
    if plan.webhooks.is_empty() {
        return Ok(Vec::new());
    }
    let owed = webhook::deliveries(&plan.webhooks, &store.events(id, 0)?, store.deliveries(id)?);
    let mut lines = Vec::new();
    for hook in &plan.webhooks {
        // Failed at least once and not delivered since; a first try still
        // under way is not failing.
        let failed: Vec<&Delivery> = owed
            .iter()
            .filter(|d| d.hook == hook.name && !d.tries.is_empty())
            .filter(|d| d.state() != DeliveryState::Delivered)
            .collect();
        let Some(last) = failed.iter().flat_map(|d| &d.tries).max_by_key(|t| t.at) else {
            continue;
        };
        let given_up = failed
            .iter()
            .filter(|d| matches!(d.state(), DeliveryState::Refused | DeliveryState::Exhausted))
            .count();
        let plural = if failed.len() == 1 { "" } else { "s" };
        let given_up = match given_up {
            0 => String::new(),
            n => format!(" ({n} given up)"),
        };
        lines.push(format!(
            "webhook {}: {} event{plural} undelivered{given_up}, last error: {} (`techlead webhooks {id}`)",
            hook.name,
            failed.len(),
            last.error.as_deref().unwrap_or("none recorded"),
        ));
    }
    Ok(lines)
}

/// The webhooks of a mission about to run, with their secrets read from
/// the environment: a missing secret stops the run before anything is
/// recorded or started.
pub(super) fn prepare(hooks: &[Webhook]) -> Result<Option<Webhooks>, CliError> {
    if hooks.is_empty() {
        return Ok(None);
    }
    let secrets = techlead_engine::webhook::secrets(hooks)?;
    Ok(Some(Webhooks::new(
        hooks.to_vec(),
        secrets,
        Options::from_env(),
    )))
}

/// Starts the deliveries once the run holds mission `id`, with a store
/// handle of their own.
pub(super) fn start(
    hooks: &mut Webhooks,
    path: &Path,
    id: &str,
    name: &str,
) -> Result<(), CliError> {
    let store = techlead_store::open(path)?;
    hooks.start(store, id, name)?;
    Ok(())
}

/// Gives the deliveries under way a few seconds, then says what is left
/// (the line to print once the run's view is closed).
pub(super) async fn finish(hooks: Webhooks, id: &str, stopping: bool) -> Option<String> {
    let wait = if stopping { Duration::ZERO } else { FINAL_WAIT };
    let ending = hooks.finish(wait).await;
    if let Some(error) = &ending.record_error {
        return Some(format!(
            "webhooks: a try could not be recorded ({error}); it may be made again at `techlead resume {id}`"
        ));
    }
    if ending.undelivered.is_empty() {
        return None;
    }
    let waiting = ending.undelivered.iter().filter(|u| !u.gave_up).count();
    let last = ending
        .undelivered
        .iter()
        .find_map(|u| u.last_error.as_deref())
        .unwrap_or("no answer yet");
    let mut line = format!(
        "webhooks: {} deliver{} not made (last error: {last})",
        ending.undelivered.len(),
        if ending.undelivered.len() == 1 {
            "y"
        } else {
            "ies"
        },
    );
    if ending.timed_out && waiting > 0 {
        line.push_str(&format!(
            "; stopped waiting after {}s, {waiting} with tries left go again at `techlead resume {id}`",
            wait.as_secs()
        ));
    }
    line.push_str(&format!("; `techlead webhooks {id}` lists them"));
    Some(line)
}
