//! `techlead decide`: the person's decision on an escalation. It is
//! checked against the mission as recorded, put in the mission's inbox,
//! and carried out by the mission's one writer: the run that holds it
//! (within a second; this command waits to say how it went), or the next
//! `techlead resume`.

use crate::args::DecideArgs;
use crate::database;
use crate::diagnostics::{Style, paint};
use crate::exit::{CliError, Outcome};
use std::time::{Duration, Instant};
use techlead_core::state::Decision;
use techlead_store::sqlite::SqliteStore;
use techlead_store::{DecisionRequest, DecisionRow, Store};

/// How long to wait for a run to carry the decision out before saying it
/// is recorded and will be.
const WAIT: Duration = Duration::from_secs(10);

pub fn run(args: &DecideArgs) -> Result<Outcome, CliError> {
    let decision = Decision::parse(&args.action, args.agent.as_deref()).map_err(|message| {
        CliError::Decision {
            message,
            hint: "techlead decide MISSION N retry|skip|approve|abort, or reassign AGENT, edit GUIDANCE, answer TEXT"
                .into(),
            refused: false,
        }
    })?;
    let (mut store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, Some(&args.mission))?;
    let state = database::state(&store, &row.id)?;
    if let Some(reason) = state.refusal(args.escalation, &decision) {
        let open: Vec<String> = state
            .open_escalations
            .iter()
            .map(|e| format!("#{}", e.id))
            .collect();
        return Err(CliError::Decision {
            message: format!(
                "cannot {decision} escalation {} of {}: {reason}",
                args.escalation, row.id
            ),
            hint: match open.is_empty() {
                true => format!("{} has no escalation waiting for a decision", row.id),
                false => format!(
                    "open: {}; `techlead escalations {}` shows them",
                    open.join(", "),
                    row.id
                ),
            },
            refused: true,
        });
    }
    if let Some(waiting) = store
        .decisions(&row.id, true)?
        .into_iter()
        .find(|d| d.escalation == args.escalation)
    {
        return Err(CliError::Decision {
            message: format!(
                "escalation {} of {} already has a decision waiting to be carried out (decision {}, by {})",
                args.escalation, row.id, waiting.id, waiting.by
            ),
            hint: format!("`techlead resume {}` carries it out", row.id),
            refused: true,
        });
    }
    let request = DecisionRequest {
        escalation: args.escalation,
        decision: decision.clone(),
        note: args.note.clone(),
        by: format!("cli:{}", whoami()),
    };
    let id = store.request_decision(&row.id, &request, jiff::Timestamp::now())?;
    // A run holds the mission's lock: it carries the decision out.
    let running = match store.lock(&row.id) {
        Ok(lock) => {
            drop(lock);
            false
        }
        Err(techlead_store::Error::Locked { .. }) => true,
        Err(e) => return Err(e.into()),
    };
    let settled = match running && !args.no_wait {
        true => wait_for(&store, &row.id, id),
        false => None,
    };
    report(args, &row.id, id, &decision, running, settled)
}

/// Waits until the run carried decision `id` out or refused it.
fn wait_for(store: &SqliteStore, mission: &str, id: u32) -> Option<DecisionRow> {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let row = store
            .decisions(mission, false)
            .ok()?
            .into_iter()
            .find(|d| d.id == id)?;
        if row.applied_seq.is_some() || row.refused.is_some() {
            return Some(row);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn report(
    args: &DecideArgs,
    mission: &str,
    id: u32,
    decision: &Decision,
    running: bool,
    settled: Option<DecisionRow>,
) -> Result<Outcome, CliError> {
    let refused = settled.as_ref().and_then(|d| d.refused.clone());
    if args.json {
        let state = match (&settled, running) {
            (Some(d), _) if d.refused.is_some() => "refused",
            (Some(_), _) => "applied",
            (None, true) => "pending",
            (None, false) => "pending_resume",
        };
        println!(
            "{}",
            serde_json::json!({
                "mission": mission,
                "escalation": args.escalation,
                "decision": id,
                "action": decision.action(),
                "agent": args.agent,
                "state": state,
                "applied_seq": settled.as_ref().and_then(|d| d.applied_seq),
                "refused": refused,
            })
        );
    } else {
        let line = match (&settled, running) {
            (Some(d), _) if d.refused.is_some() => format!(
                "{} the run refused to {decision} escalation {}: {}",
                paint("✗", Style::Error),
                args.escalation,
                d.refused.as_deref().unwrap_or_default()
            ),
            (Some(d), _) => format!(
                "{} escalation {} of {mission}: {decision}, carried out by the run (event {})",
                paint("✓", Style::Hint),
                args.escalation,
                d.applied_seq.unwrap_or_default()
            ),
            (None, true) => format!(
                "decision {id} recorded ({decision} for escalation #{}): the run of {mission} carries it out shortly (`techlead watch {mission}`)",
                args.escalation
            ),
            (None, false) => format!(
                "decision {id} recorded ({decision} for escalation #{}): no run holds {mission}; `techlead resume {mission}` carries it out",
                args.escalation
            ),
        };
        eprintln!("{line}");
    }
    Ok(match refused {
        Some(_) => Outcome::Attention,
        None => Outcome::Success,
    })
}

/// Who decided, for the record: the login name and the machine.
fn whoami() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "someone".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    match host.is_empty() {
        true => user,
        false => format!("{user}@{host}"),
    }
}
