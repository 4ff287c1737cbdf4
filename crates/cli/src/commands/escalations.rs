//! `techlead escalations`: what waits for the person's decision in a
//! mission, with the options, techlead's recommendation, and decisions
//! already in the inbox that no run has carried out yet.

use crate::args::EscalationsArgs;
use crate::database;
use crate::diagnostics::{Style, paint};
use crate::exit::{CliError, Outcome};
use techlead_core::state::{EscalationRecord, Event, escalation_history};
use techlead_store::{DecisionRow, Store};

pub fn run(args: &EscalationsArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, args.mission.as_deref())?;
    let events = store.events(&row.id, 0)?;
    let Some(Event::MissionCreated { plan }) = events.first().map(|r| &r.event) else {
        return Err(techlead_store::Error::NoSuchMission(row.id).into());
    };
    let history: Vec<EscalationRecord> = escalation_history(&events, plan)
        .into_iter()
        .filter(|e| args.all || e.resolution.is_none())
        .collect();
    let pending = store.decisions(&row.id, true)?;
    if args.json {
        let json: Vec<serde_json::Value> = history
            .iter()
            .map(|e| {
                let mut value = serde_json::to_value(e).expect("escalations serialise");
                value["pending_decisions"] = serde_json::json!(pending_for(&pending, e.id));
                value
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json).expect("JSON values serialise")
        );
        return Ok(Outcome::Success);
    }
    if history.is_empty() {
        let what = if args.all {
            "no escalation"
        } else {
            "nothing waiting for your decision"
        };
        eprintln!("{}: {what}", row.id);
        return Ok(Outcome::Success);
    }
    for escalation in &history {
        print!("{}", describe(&row.id, escalation, &pending));
    }
    Ok(Outcome::Success)
}

fn pending_for(pending: &[DecisionRow], id: u32) -> Vec<&DecisionRow> {
    pending.iter().filter(|d| d.escalation == id).collect()
}

/// One escalation as a short block: what happened, the options, the
/// recommendation, and what was decided or waits to be.
fn describe(mission: &str, e: &EscalationRecord, pending: &[DecisionRow]) -> String {
    let kind = serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let mut text = format!(
        "{} {}  {}\n  {}\n",
        paint(&format!("#{}", e.id), Style::Warning),
        kind,
        paint(
            &e.raised_at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
            Style::Dim
        ),
        e.message
    );
    if !e.tasks.is_empty() {
        text.push_str(&format!("  tasks: {}\n", e.tasks.join(", ")));
    }
    match &e.resolution {
        Some(r) => text.push_str(&format!(
            "  decided: {} by {} at {}{}\n",
            r.decision,
            r.by,
            r.at.strftime("%H:%M:%S"),
            r.note
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        )),
        None => {
            for d in pending_for(pending, e.id) {
                let what = match &d.decision {
                    Ok(decision) => decision.to_string(),
                    Err(action) => action.clone(),
                };
                text.push_str(&format!(
                    "  waiting to be carried out: {what} (by {}); a run of the mission does it\n",
                    d.by
                ));
            }
            text.push_str(&format!("  recommended: {}\n", e.recommendation));
            text.push_str(&format!(
                "  decide: techlead decide {mission} {} {}\n",
                e.id,
                e.options
                    .iter()
                    .map(|o| if o == "reassign" { "reassign AGENT" } else { o })
                    .collect::<Vec<_>>()
                    .join("|")
            ));
        }
    }
    text.push('\n');
    text
}
