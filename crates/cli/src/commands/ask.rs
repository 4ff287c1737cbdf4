//! `techlead run --interactive`: the person decides escalations at the
//! terminal as they are raised. The question is asked on stderr and the
//! answer read from stdin on a thread of its own, so the run goes on
//! meanwhile; an answer becomes a decision in the mission's inbox, which
//! the run carries out like any other (docs/running.md, "Escalations and
//! decisions"). An empty answer, or `wait`, leaves the escalation for
//! later (`techlead decide`, the dashboard).

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use techlead_core::state::{Decision, Event, EventRecord};
use techlead_store::{DecisionRequest, Store};

/// An escalation to ask about.
pub struct Question {
    pub id: u32,
    pub message: String,
    pub options: Vec<String>,
}

impl Question {
    /// The question an event raises, if it raises one.
    pub fn of(record: &EventRecord) -> Option<Question> {
        match &record.event {
            Event::EscalationRaised {
                id,
                message,
                options,
                ..
            } => Some(Question {
                id: *id,
                message: message.clone(),
                options: options.clone(),
            }),
            _ => None,
        }
    }
}

/// Starts the thread that asks; questions go to the returned sender.
pub fn start(db: PathBuf, mission: String) -> mpsc::Sender<Question> {
    let (tx, rx) = mpsc::channel::<Question>();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut lines = stdin.lock().lines();
        for question in rx {
            let Some(Ok(answer)) = ({
                prompt(&question);
                lines.next()
            }) else {
                // stdin closed: the rest wait for `techlead decide`.
                return;
            };
            if let Err(why) = record(&db, &mission, &question, answer.trim()) {
                eprintln!(
                    "  {why}; `techlead decide {mission} {} ACTION` decides it later",
                    question.id
                );
            }
        }
    });
    tx
}

fn prompt(question: &Question) {
    let options: Vec<&str> = question
        .options
        .iter()
        .map(|o| {
            if o == "reassign" {
                "reassign AGENT"
            } else {
                o.as_str()
            }
        })
        .collect();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "? escalation #{}: {}", question.id, question.message);
    let _ = write!(err, "  decide ({} or wait): ", options.join(", "));
    let _ = err.flush();
}

/// Puts the answer in the inbox; an empty answer or `wait` puts nothing.
fn record(
    db: &std::path::Path,
    mission: &str,
    question: &Question,
    answer: &str,
) -> Result<(), String> {
    if answer.is_empty() || answer == "wait" {
        return Ok(());
    }
    let (action, rest) = answer.split_once(' ').unwrap_or((answer, ""));
    let decision = Decision::parse(action, Some(rest.trim()).filter(|r| !r.is_empty()))?;
    let mut store = techlead_store::open(db).map_err(|e| e.to_string())?;
    let request = DecisionRequest {
        escalation: question.id,
        decision,
        note: None,
        by: "terminal".into(),
    };
    store
        .request_decision(mission, &request, jiff::Timestamp::now())
        .map(|_| ())
        .map_err(|e| e.to_string())
}
