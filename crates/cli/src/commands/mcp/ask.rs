//! `ask_person`: the question goes to the engine as `::ask`, which raises a
//! `question` escalation naming the task; the tool then reads the store
//! until the person decides it (`techlead decide M N answer "..."`, the
//! dashboard, the API) and returns the answer. The attempt keeps running
//! meanwhile; its own timeout still applies.

use super::tools::Tools;
use std::time::Duration;
use techlead_core::state::{Decision, EscalationKind, Event, MissionState};
use techlead_engine::mission::question_message;

/// How often the store is read while waiting for the person: as often as
/// the mission's writer reads its inbox.
const POLL: Duration = Duration::from_millis(200);

impl Tools {
    pub(super) async fn ask(&self, question: String) -> Result<String, String> {
        let mut state = self.state()?;
        // Escalations raised before the question are not its answer.
        let before = state.escalations;
        self.send(format!("::ask {question}")).await?;
        let attempt = &self.attempt;
        let message = question_message(&attempt.task, attempt.attempt, &question);
        let mut escalation = None;
        loop {
            for record in self.events(state.last_seq)? {
                state.apply(&record).map_err(|e| e.to_string())?;
                match record.event {
                    Event::EscalationRaised {
                        id,
                        kind: EscalationKind::Question,
                        message: m,
                        ..
                    } if escalation.is_none() && id > before && m == message => {
                        escalation = Some(id);
                    }
                    Event::EscalationResolved { id, decision, .. } if Some(id) == escalation => {
                        return match decision {
                            Decision::Answer { text } => Ok(text),
                            other => Err(format!(
                                "no answer: the person decided to {other} (escalation {id})"
                            )),
                        };
                    }
                    _ => {}
                }
            }
            if let Some(reason) = gone(&state) {
                return Err(reason);
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Why no answer can come any more, if none can.
fn gone(state: &MissionState) -> Option<String> {
    if state.aborting {
        return Some("no answer: the mission is being aborted".into());
    }
    state
        .status
        .is_finished()
        .then(|| format!("no answer: the mission finished as {}", state.status))
}
