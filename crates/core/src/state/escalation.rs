//! Escalations in the fold: which are open, and what the person's decision
//! does to the mission. A decision is an event like any other, so a replay
//! reaches the same state, and the mission goes on from it without a
//! restart (the running writer applies it) or at the next `resume`.
//!
//! The writer records a decision as `EscalationResolved`, followed by one
//! event per task it moves (`TaskReopened`, `TaskSkipped`), the same way
//! it records each task that becomes blocked: whoever reads the log sees
//! every task's status change as its own event.

use super::event::{Decision, EscalationKind, Event};
use super::fold::{MissionState, StateError};
use super::status::{MissionMove, MissionStatus, TaskMove, TaskStatus};
use serde::Serialize;

/// An escalation the person has not decided yet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenEscalation {
    pub id: u32,
    pub kind: EscalationKind,
    pub tasks: Vec<String>,
    pub options: Vec<String>,
}

impl MissionState {
    pub(super) fn raise(
        &mut self,
        id: u32,
        kind: EscalationKind,
        tasks: &[String],
        options: &[String],
    ) -> Result<(), StateError> {
        if let Some(t) = tasks.iter().find(|t| self.task_index(t).is_none()) {
            return Err(StateError::UnknownTask(t.clone()));
        }
        self.escalations += 1;
        self.open_escalations.push(OpenEscalation {
            id,
            kind,
            tasks: tasks.to_vec(),
            options: options.to_vec(),
        });
        Ok(())
    }

    pub fn open_escalation(&self, id: u32) -> Option<&OpenEscalation> {
        self.open_escalations.iter().find(|e| e.id == id)
    }

    /// Why `decision` cannot be carried out on escalation `id` now, if it
    /// cannot: said to the person as is.
    pub fn refusal(&self, id: u32, decision: &Decision) -> Option<String> {
        let Some(escalation) = self.open_escalation(id) else {
            return Some(if id >= 1 && id <= self.escalations {
                format!("escalation {id} was already decided")
            } else {
                format!("the mission has no escalation {id}")
            });
        };
        if self.aborting {
            return Some("the mission is being aborted".into());
        }
        if matches!(
            self.status,
            MissionStatus::Succeeded | MissionStatus::Aborted
        ) || (self.status == MissionStatus::Failed && *decision == Decision::Abort)
        {
            return Some(format!("the mission already finished as {}", self.status));
        }
        // A question takes an answer (or an abort); an answer fits nothing
        // else.
        let question = escalation.kind == EscalationKind::Question;
        match decision {
            Decision::Abort => None,
            Decision::Answer { .. } if !question => Some(format!(
                "escalation {id} is not a question; retry, skip, reassign or abort"
            )),
            _ if question && !matches!(decision, Decision::Answer { .. }) => Some(format!(
                "escalation {id} is an agent's question: answer it (`answer \"TEXT\"`) or abort"
            )),
            Decision::Approve
                if !matches!(
                    escalation.kind,
                    EscalationKind::Gate | EscalationKind::DefinitionOfDone
                ) =>
            {
                Some(format!(
                    "only a gate's or the definition of done's verdict can be approved; escalation {id} is {}: retry, reassign, skip or abort",
                    kind_name(escalation.kind)
                ))
            }
            Decision::Approve
                if escalation.kind == EscalationKind::Gate
                    && self.failed_tasks(escalation).next().is_none() =>
            {
                Some(format!("escalation {id} names no failed task to approve"))
            }
            Decision::Edit { .. } if self.stuck(escalation).next().is_none() => Some(format!(
                "escalation {id} names no failed or blocked task to give guidance to; retry or abort"
            )),
            Decision::Skip if self.stuck(escalation).next().is_none() => Some(format!(
                "escalation {id} names no failed or blocked task to skip; retry or abort"
            )),
            Decision::Split { parts } => self.split_refusal(id, escalation, parts),
            Decision::Reassign { .. } if escalation.tasks.is_empty() => Some(format!(
                "escalation {id} names no task to reassign; retry or abort"
            )),
            Decision::Reassign { agent } if !self.plan.agents.iter().any(|a| &a.name == agent) => {
                let known: Vec<&str> = self.plan.agents.iter().map(|a| a.name.as_str()).collect();
                Some(format!(
                    "`{agent}` is not one of the mission's agents ({})",
                    known.join(", ")
                ))
            }
            _ => None,
        }
    }

    /// Why the escalation's failed task cannot be split into `parts` (or,
    /// when none are given, into those its agent proposed).
    fn split_refusal(
        &self,
        id: u32,
        escalation: &OpenEscalation,
        parts: &[String],
    ) -> Option<String> {
        let failed: Vec<usize> = self
            .stuck(escalation)
            .filter(|&t| self.tasks[t].status == TaskStatus::Failed)
            .collect();
        if failed.is_empty() {
            return Some(format!(
                "escalation {id} names no failed task to split; retry, skip or abort"
            ));
        }
        if !parts.is_empty() && failed.len() > 1 {
            return Some(format!(
                "escalation {id} names {} failed tasks: parts can be given for one task only; split them by hand, or retry",
                failed.len()
            ));
        }
        if parts.len() > super::split::MAX_PARTS {
            return Some(format!(
                "{} parts are too many (at most {}): a plan that big is a mission of its own",
                parts.len(),
                super::split::MAX_PARTS
            ));
        }
        let unproposed = failed
            .iter()
            .find(|&&t| parts.is_empty() && self.proposed_parts(t).is_empty())?;
        Some(format!(
            "the agent of {} proposed no parts: name them, e.g. `split \"first part\" \"second part\"`",
            self.plan.tasks[*unproposed].id
        ))
    }

    /// The escalation's tasks that failed or are blocked.
    fn stuck<'a>(&'a self, escalation: &'a OpenEscalation) -> impl Iterator<Item = usize> + 'a {
        escalation
            .tasks
            .iter()
            .filter_map(|t| self.task_index(t))
            .filter(|&t| {
                matches!(
                    self.tasks[t].status,
                    TaskStatus::Failed | TaskStatus::Blocked
                )
            })
    }

    /// The escalation's failed tasks whose work can be approved: work
    /// that goes through gates or a merge.
    fn failed_tasks<'a>(
        &'a self,
        escalation: &'a OpenEscalation,
    ) -> impl Iterator<Item = usize> + 'a {
        self.stuck(escalation)
            .filter(|&t| self.tasks[t].status == TaskStatus::Failed && self.needs_check(t))
    }

    /// The task events that follow the decision on escalation `id`: its
    /// failed and blocked tasks reopen or are skipped. Asked before the
    /// decision is applied.
    pub fn decision_effects(&self, id: u32, decision: &Decision) -> Vec<Event> {
        let Some(escalation) = self.open_escalation(id) else {
            return Vec::new();
        };
        if *decision == Decision::Approve {
            return self
                .failed_tasks(escalation)
                .map(|t| Event::TaskApproved {
                    task: self.plan.tasks[t].id.clone(),
                })
                .collect();
        }
        let effects: Vec<Event> = self
            .stuck(escalation)
            .filter_map(|t| {
                let task = self.plan.tasks[t].id.clone();
                match decision {
                    Decision::Retry | Decision::Edit { .. } => {
                        Some(Event::TaskReopened { task, agent: None })
                    }
                    Decision::Reassign { agent } => Some(Event::TaskReopened {
                        task,
                        agent: Some(agent.clone()),
                    }),
                    Decision::Skip => Some(Event::TaskSkipped { task }),
                    Decision::Split { parts } if self.tasks[t].status == TaskStatus::Failed => {
                        let titles = match parts.is_empty() {
                            true => self.proposed_parts(t),
                            false => parts.as_slice(),
                        };
                        let parts = self.parts_of(t, titles);
                        Some(Event::TaskSplit { task, parts })
                    }
                    // Blocked by the split task: the writer lets it wait
                    // again once nothing blocks it (`newly_unblocked`).
                    Decision::Split { .. } => None,
                    Decision::Abort | Decision::Answer { .. } | Decision::Approve => None,
                }
            })
            .collect();
        self.in_legal_order(effects)
    }

    /// `effects` in an order the fold takes them: a blocked task waits
    /// again only after what blocks it does, and not at all while
    /// something outside the decision (a failed task it does not name)
    /// still blocks it.
    fn in_legal_order(&self, effects: Vec<Event>) -> Vec<Event> {
        let blocked = |event: &Event| match event {
            Event::TaskReopened { task, .. } => self
                .task_index(task)
                .is_some_and(|t| self.tasks[t].status == TaskStatus::Blocked),
            _ => false,
        };
        if !effects.iter().any(blocked) {
            return effects;
        }
        let (mut waiting, mut ordered): (Vec<Event>, Vec<Event>) =
            effects.into_iter().partition(blocked);
        let mut after = self.clone();
        for event in &ordered {
            // Whatever the fold refuses here, the writer's own event
            // would be refused as well: keep it, to say so.
            let _ = after.apply_event(event, after.last_event_at);
        }
        loop {
            let before = waiting.len();
            waiting.retain(
                |event| match after.apply_event(event, after.last_event_at) {
                    Ok(()) => {
                        ordered.push(event.clone());
                        false
                    }
                    Err(_) => true,
                },
            );
            if waiting.is_empty() || waiting.len() == before {
                return ordered;
            }
        }
    }

    /// Blocked tasks that nothing blocks any more: a decision reopened or
    /// skipped what blocked them. Unblocking one may free its dependents,
    /// so the writer asks again until none is left.
    pub fn newly_unblocked(&self) -> Vec<usize> {
        if self.count(TaskStatus::Blocked) == 0 {
            return Vec::new();
        }
        (0..self.tasks.len())
            .filter(|&t| self.tasks[t].status == TaskStatus::Blocked)
            .filter(|&t| self.block_reason(t).is_none())
            .collect()
    }

    pub(super) fn resolve(&mut self, id: u32, decision: &Decision) -> Result<(), StateError> {
        if let Some(reason) = self.refusal(id, decision) {
            return Err(StateError::Decision { id, reason });
        }
        let at = self
            .open_escalations
            .iter()
            .position(|e| e.id == id)
            .expect("refusal checked it is open");
        let escalation = self.open_escalations.remove(at);
        if *decision == Decision::Abort {
            self.aborting = true;
            return Ok(());
        }
        if escalation.kind == EscalationKind::Question {
            // The answer goes to the asking agent; the mission's status
            // (a pause for another reason) is none of its business.
            return Ok(());
        }
        if let Decision::Edit { text } = decision {
            // Said to the next attempts of its tasks (`prompt`).
            let stuck: Vec<usize> = self.stuck(&escalation).collect();
            for t in stuck {
                self.tasks[t].work.guidance = Some(text.clone());
            }
        }
        if escalation.kind == EscalationKind::DefinitionOfDone && *decision == Decision::Approve {
            // The person accepts what the checks found.
            for result in self.done.iter_mut().flatten() {
                if !result.passed {
                    result.approved = true;
                }
            }
        }
        if escalation.kind == EscalationKind::DefinitionOfDone && *decision == Decision::Retry {
            // The person fixed what the check found: it runs again.
            for result in &mut self.done {
                if result.as_ref().is_some_and(|r| !r.passed) {
                    *result = None;
                }
            }
        }
        self.status = match self.status {
            MissionStatus::Paused => self.status.after(MissionMove::Unpause),
            MissionStatus::Failed => self.status.after(MissionMove::Reopen),
            other => Ok(other),
        }
        .map_err(StateError::Mission)?;
        Ok(())
    }

    /// Task `task` waits again, with fresh retries, on `agent` if given.
    pub(super) fn reopen(&mut self, task: &str, agent: Option<&str>) -> Result<(), StateError> {
        let t = self.task(task)?;
        let was = self.tasks[t].status;
        let status = self.task_after(t, TaskMove::Reopen)?;
        // What failed elsewhere is looked at again: the other mission may
        // have run it again since.
        let before = self.external.clone();
        self.rewait_external(t);
        if was == TaskStatus::Blocked && self.block_reason(t).is_some() {
            self.external = before;
            return Err(StateError::StillBlocked(task.to_string()));
        }
        self.reopened(t, was);
        let state = &mut self.tasks[t];
        state.work.fresh_from = state.attempts.len() as u32;
        state.blocked_by = None;
        state.retry_at = None;
        if let Some(agent) = agent {
            state.agent = agent.to_string();
        }
        self.set_status(t, status);
        Ok(())
    }

    /// The person accepted failed task `task`'s work: it goes to its
    /// merge without its gates.
    pub(super) fn approve(&mut self, task: &str) -> Result<(), StateError> {
        let t = self.task(task)?;
        let was = self.tasks[t].status;
        let status = self.task_after(t, TaskMove::Approve)?;
        self.reopened(t, was);
        self.tasks[t].work.approved = true;
        self.set_status(t, status);
        Ok(())
    }

    pub(super) fn skip(&mut self, task: &str) -> Result<(), StateError> {
        let t = self.task(task)?;
        let was = self.tasks[t].status;
        let status = self.task_after(t, TaskMove::Skip)?;
        self.reopened(t, was);
        self.tasks[t].blocked_by = None;
        self.set_status(t, status);
        Ok(())
    }

    /// A failed task leaves the count the failure rate is measured
    /// against, so that the person's "go on" does not pause again at once.
    fn reopened(&mut self, _t: usize, was: TaskStatus) {
        if was == TaskStatus::Failed {
            self.failed_at_last_pause = self.failed_at_last_pause.saturating_sub(1);
        }
    }
}

/// One escalation as the log tells it: raised, and decided or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EscalationRecord {
    pub id: u32,
    pub kind: EscalationKind,
    pub message: String,
    pub tasks: Vec<String>,
    pub options: Vec<String>,
    pub raised_at: jiff::Timestamp,
    /// What techlead would do, and why.
    pub recommendation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
}

/// The person's decision on an escalation, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub decision: Decision,
    pub by: String,
    pub at: jiff::Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Every escalation of a mission's log, oldest first. A mission that ends
/// succeeded or aborted leaves none undecided that could still matter, so
/// those are shown closed by the end.
pub fn escalation_history(
    records: &[super::event::EventRecord],
    plan: &super::plan::MissionPlan,
) -> Vec<EscalationRecord> {
    let mut history: Vec<EscalationRecord> = Vec::new();
    for record in records {
        match &record.event {
            Event::EscalationRaised {
                id,
                kind,
                message,
                tasks,
                options,
            } => history.push(EscalationRecord {
                id: *id,
                kind: *kind,
                message: message.clone(),
                tasks: tasks.clone(),
                options: options.clone(),
                raised_at: record.at,
                recommendation: recommend(*kind, tasks, plan),
                resolution: None,
            }),
            Event::EscalationResolved {
                id,
                decision,
                by,
                note,
                ..
            } => {
                if let Some(e) = history.iter_mut().find(|e| e.id == *id) {
                    e.resolution = Some(Resolution {
                        decision: decision.clone(),
                        by: by.clone(),
                        at: record.at,
                        note: note.clone(),
                    });
                }
            }
            _ => {}
        }
    }
    history
}

/// What techlead would decide: the cheapest step that can still bring the
/// work in, and why.
fn recommend(kind: EscalationKind, tasks: &[String], plan: &super::plan::MissionPlan) -> String {
    let backup = tasks.first().and_then(|t| {
        let task = plan.tasks.iter().find(|p| &p.id == t)?;
        task.detail.backup.clone().filter(|b| b != &task.agent)
    });
    match kind {
        EscalationKind::AgentBlocked => "give the agent what it says it needs (a credential, a decision, a file), then retry; skip if the task can wait".into(),
        EscalationKind::RetriesExhausted | EscalationKind::Gate => match backup {
            Some(_) => "retry after reading the last attempt's log (`techlead logs`): the backup agent already had its turn".into(),
            None => "reassign to another agent if the log shows the task is beyond this one; retry if the cause was outside the task".into(),
        },
        EscalationKind::FailureRate => "read the failed tasks' logs first: a shared cause (a broken build, a missing tool) is fixed once, then retry".into(),
        EscalationKind::NeedsPerson => "fix the executor's credentials or quota, then retry".into(),
        EscalationKind::Budget => "raise the budget with `techlead resume --budget-usd`, or abort".into(),
        EscalationKind::Conflict => "retry: the task's agent gets the conflict in its worktree; resolve it by hand on the branch first if it keeps coming back".into(),
        EscalationKind::DefinitionOfDone => "fix what the check found on the integration branch, then retry to check again".into(),
        EscalationKind::ExternalDependency => "rerun or decide the task in its own mission first, then retry here to wait for it again; skip if this task can do without it".into(),
        EscalationKind::Question => "answer it (`techlead decide MISSION N answer \"TEXT\"`): the agent waits for the answer while it runs".into(),
    }
}

fn kind_name(kind: EscalationKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}
