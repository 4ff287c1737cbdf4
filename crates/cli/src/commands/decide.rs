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
use techlead_engine::mission::{NotRecorded, Recorded, request_decision};
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
    let request = DecisionRequest {
        escalation: args.escalation,
        decision: decision.clone(),
        note: args.note.clone(),
        by: format!("cli:{}", whoami()),
    };
    let Recorded {
        decision: id,
        running,
    } = request_decision(&mut store, &row.id, &state, &request)
        .map_err(|e| not_recorded(e, &row.id, &decision, args.escalation, &state))?;
    let settled = match running && !args.no_wait {
        true => wait_for(&store, &row.id, id),
        false => None,
    };
    report(args, &row.id, id, &decision, running, settled)
}

/// What could not be recorded, with what to do instead.
fn not_recorded(
    error: NotRecorded,
    mission: &str,
    decision: &Decision,
    escalation: u32,
    state: &techlead_core::state::MissionState,
) -> CliError {
    let (message, hint) = match error {
        NotRecorded::Store(e) => return e.into(),
        waiting @ NotRecorded::Waiting { .. } => (
            format!("{mission}: {waiting}"),
            format!("`techlead resume {mission}` carries it out"),
        ),
        NotRecorded::Refused(reason) => (
            format!("cannot {decision} escalation {escalation} of {mission}: {reason}"),
            open_escalations(mission, state),
        ),
    };
    CliError::Decision {
        message,
        hint,
        refused: true,
    }
}

/// Which escalations are open, and where to see them.
fn open_escalations(mission: &str, state: &techlead_core::state::MissionState) -> String {
    if state.open_escalations.is_empty() {
        return format!("{mission} has no escalation waiting for a decision");
    }
    let open: Vec<String> = state
        .open_escalations
        .iter()
        .map(|e| format!("#{}", e.id))
        .collect();
    format!(
        "open: {}; `techlead escalations {mission}` shows them",
        open.join(", ")
    )
}

/// Waits until the run carried decision `id` out or refused it.
fn wait_for(store: &dyn Store, mission: &str, id: u32) -> Option<DecisionRow> {
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
