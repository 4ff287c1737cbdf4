//! An agent's question to the person (`::ask`, the MCP tool
//! `ask_person`): a `question` escalation naming the task. The attempt
//! keeps running; its MCP server waits for the answer in the store and
//! hands it to the agent. Nothing else changes: dispatch goes on.

use super::{Error, Mission};
use techlead_core::state::{EscalationKind, Event};
use techlead_store::Store;

impl<S: Store + 'static> Mission<S> {
    pub(super) fn ask(&mut self, t: usize, attempt: u32, question: String) -> Result<(), Error> {
        let task = self.state.plan.tasks[t].id.clone();
        self.stage(Event::EscalationRaised {
            id: self.state.escalations + 1,
            kind: EscalationKind::Question,
            message: question_message(&task, attempt, &question),
            tasks: vec![task],
            options: ["answer", "abort"].map(String::from).to_vec(),
        })
    }
}

/// The escalation's message: who asks, then the question as asked (the
/// MCP server finds its escalation by this).
pub fn question_message(task: &str, attempt: u32, question: &str) -> String {
    format!("{task} (attempt {attempt}) asks: {question}")
}
