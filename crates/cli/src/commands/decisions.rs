//! `techlead decisions`: the decisions a mission's agents reported
//! (`::decision` lines and the result file's `decisions`), in the order
//! they were recorded, with the task, attempt and agent of each.

use crate::args::DecisionsArgs;
use crate::database;
use crate::exit::{CliError, Outcome};
use crate::render::{self, table};
use jiff::Timestamp;
use std::collections::HashMap;
use techlead_core::state::{Event, EventRecord, MissionState, Report};
use techlead_store::Store;

/// One recorded decision.
#[derive(Debug, Clone, PartialEq)]
struct Decision {
    at: Timestamp,
    task: String,
    attempt: u32,
    /// The agent the attempt ran on (from its `attempt_queued` claim).
    agent: String,
    text: String,
}

impl Decision {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "at": self.at,
            "task": self.task,
            "attempt": self.attempt,
            "agent": self.agent,
            "text": self.text,
        })
    }
}

pub fn run(args: &DecisionsArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, Some(&args.mission))?;
    let events = store.events(&row.id, 0)?;
    if let Some(task) = &args.task {
        // A task the mission does not have is an error that names the
        // nearest ID, not an empty list.
        let state = MissionState::replay(&events).map_err(techlead_engine::mission::Error::from)?;
        database::task(&state, &row.id, task)?;
    }
    let decisions = decisions(&events, args.task.as_deref());
    if args.json {
        let json: Vec<serde_json::Value> = decisions.iter().map(Decision::json).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json).expect("JSON values serialise")
        );
        return Ok(Outcome::Success);
    }
    if decisions.is_empty() {
        match &args.task {
            Some(task) => eprintln!("{task} of {} has reported no decision", row.id),
            None => eprintln!("{} has no decision reported", row.id),
        }
        return Ok(Outcome::Success);
    }
    print!("{}", decisions_table(&decisions));
    Ok(Outcome::Success)
}

/// Every decision in `events`, in record order, of `task` only when given.
fn decisions(events: &[EventRecord], task: Option<&str>) -> Vec<Decision> {
    let mut agents: HashMap<(&str, u32), &str> = HashMap::new();
    let mut found = Vec::new();
    for record in events {
        match &record.event {
            Event::AttemptQueued {
                task,
                attempt,
                agent,
                ..
            } => {
                agents.insert((task.as_str(), *attempt), agent.as_str());
            }
            Event::AttemptReported {
                task: reported,
                attempt,
                report: Report::Decision(text),
            } if task.is_none_or(|t| t == reported) => {
                let agent = agents
                    .get(&(reported.as_str(), *attempt))
                    .copied()
                    .unwrap_or_default();
                found.push(Decision {
                    at: record.at,
                    task: reported.clone(),
                    attempt: *attempt,
                    agent: agent.to_string(),
                    text: text.clone(),
                });
            }
            _ => {}
        }
    }
    found
}

fn decisions_table(decisions: &[Decision]) -> String {
    let columns = [
        table::column("TIME (UTC)", false),
        table::column("TASK", false),
        table::column("ATTEMPT", false),
        table::column("AGENT", false),
        table::column("DECISION", true),
    ];
    let rows: Vec<Vec<String>> = decisions
        .iter()
        .map(|d| {
            vec![
                d.at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                d.task.clone(),
                d.attempt.to_string(),
                d.agent.clone(),
                // One line per decision, whatever the result file held.
                d.text.split_whitespace().collect::<Vec<_>>().join(" "),
            ]
        })
        .collect();
    table::render(&columns, &rows, render::width())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, event: Event) -> EventRecord {
        EventRecord {
            seq,
            at: Timestamp::from_second(1_700_000_000 + seq as i64).unwrap(),
            event,
        }
    }

    fn queued(task: &str, attempt: u32, agent: &str) -> Event {
        Event::AttemptQueued {
            task: task.to_string(),
            attempt,
            agent: agent.to_string(),
            executor: "command".to_string(),
            dir: String::new(),
        }
    }

    fn reported(task: &str, attempt: u32, report: Report) -> Event {
        Event::AttemptReported {
            task: task.to_string(),
            attempt,
            report,
        }
    }

    #[test]
    fn decisions_come_in_record_order_with_their_attempts_agent() {
        let events = [
            record(1, queued("A", 1, "backend")),
            record(2, queued("B", 1, "frontend")),
            record(3, reported("B", 1, Report::Decision("use htmx".into()))),
            record(4, reported("A", 1, Report::Summary("done".into()))),
            record(5, queued("A", 2, "reviewer")),
            record(6, reported("A", 2, Report::Decision("use axum".into()))),
        ];
        let all = decisions(&events, None);
        let seen: Vec<(&str, u32, &str, &str)> = all
            .iter()
            .map(|d| {
                (
                    d.task.as_str(),
                    d.attempt,
                    d.agent.as_str(),
                    d.text.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("B", 1, "frontend", "use htmx"),
                ("A", 2, "reviewer", "use axum")
            ]
        );
        assert_eq!(all[1].at, events[5].at);
        let only_a = decisions(&events, Some("A"));
        assert_eq!(only_a.len(), 1);
        assert_eq!(only_a[0].text, "use axum");
        assert_eq!(
            only_a[0].json()["at"],
            serde_json::json!(events[5].at.to_string())
        );
    }
}
