//! Splitting a task too big for one attempt into smaller ones
//! (docs/running.md, "Blocked agents").
//!
//! The parts run in order, each after the one before, the first after the
//! task's own dependencies; the task then runs once more, on top of their
//! work, to finish what remains. Its dependents keep waiting on the task
//! itself, so the graph around it does not change.

use super::event::TaskPart;
use super::fold::{MissionState, StateError};
use super::plan::{Budget, TaskDetail, TaskPlan};
use super::rare::Rare;
use super::status::{TaskMove, TaskStatus};

/// Most parts a task is split into: a longer list is a plan, not a split.
pub const MAX_PARTS: usize = 10;

/// Longest part title kept.
const MAX_TITLE: usize = 200;

impl MissionState {
    /// What the agent of task `t`'s last attempt proposed doing instead
    /// (`::split`), if it stayed blocked (progress after it says it went
    /// on after all).
    pub fn proposed_parts(&self, t: usize) -> &[String] {
        self.tasks[t]
            .attempts
            .last()
            .filter(|a| a.detail.blocked.is_some())
            .map_or(&[], |a| a.detail.parts.as_slice())
    }

    /// Whether task `t` is itself a part of a split task: techlead does not
    /// split it again on its own (the person may).
    pub fn is_part(&self, t: usize) -> bool {
        let id = &self.plan.tasks[t].id;
        self.tasks.iter().any(|task| task.work.parts.contains(id))
    }

    /// The parts titled `titles` that task `t` would split into, with IDs
    /// `<task>.1`, `<task>.2`, ... (the next free number when one is
    /// taken).
    pub fn parts_of(&self, t: usize, titles: &[String]) -> Vec<TaskPart> {
        let parent = &self.plan.tasks[t].id;
        let mut number = 0;
        titles
            .iter()
            .take(MAX_PARTS)
            .map(|title| {
                let id = loop {
                    number += 1;
                    let id = format!("{parent}.{number}");
                    if self.task_index(&id).is_none() {
                        break id;
                    }
                };
                TaskPart {
                    id,
                    title: clip(title.trim()),
                }
            })
            .collect()
    }

    /// Applies `task_split`: the parts join the mission, pending, and the
    /// task waits for them with fresh retries.
    pub(super) fn split(&mut self, task: &str, parts: &[TaskPart]) -> Result<(), StateError> {
        let t = self.task(task)?;
        let refuse = |reason: &str| StateError::Split {
            task: task.to_string(),
            reason: reason.to_string(),
        };
        if parts.is_empty() {
            return Err(refuse("no parts"));
        }
        let mut ids: Vec<&str> = parts.iter().map(|p| p.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != parts.len() || ids.iter().any(|id| self.task_index(id).is_some()) {
            return Err(refuse("a part's ID is taken"));
        }
        let was = self.tasks[t].status;
        if was == TaskStatus::Blocked && self.block_reason(t).is_some() {
            return Err(StateError::StillBlocked(task.to_string()));
        }
        let status = self.task_after(t, TaskMove::Split)?;
        let first = self.plan.tasks.len();
        let agent = self.tasks[t].agent.clone();
        let plans = part_plans(&self.plan.tasks[t], parts);
        for plan in plans {
            self.add_task(plan, agent.clone());
        }
        self.plan.tasks[t]
            .depends_on
            .extend(parts.iter().map(|p| p.id.clone()));
        self.index_parts(t, first);
        if was == TaskStatus::Failed {
            self.failed_at_last_pause = self.failed_at_last_pause.saturating_sub(1);
        }
        let state = &mut self.tasks[t];
        state.work.fresh_from = state.attempts.len() as u32;
        state.work.parts = parts.iter().map(|p| p.id.clone()).collect();
        state.blocked_by = None;
        state.retry_at = None;
        self.set_status(t, status);
        Ok(())
    }
}

/// The plans of task `parent`'s parts: its agent, limits and checks, a
/// share of its estimate, and a chain of dependencies.
fn part_plans(parent: &TaskPlan, parts: &[TaskPart]) -> Vec<TaskPlan> {
    let count = parts.len();
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| TaskPlan {
            id: part.id.clone(),
            title: part.title.clone(),
            kind: parent.kind,
            description: part_description(parent, i, parts),
            priority: parent.priority,
            depends_on: match i {
                0 => parent.depends_on.clone(),
                _ => vec![parts[i - 1].id.clone()],
            },
            agent: parent.agent.clone(),
            executor: parent.executor.clone(),
            command: parent.command.clone(),
            timeout_ms: parent.timeout_ms,
            retries: parent.retries,
            remaining_hours: parent.remaining_hours,
            detail: Rare::of(TaskDetail {
                labels: parent.detail.labels.clone(),
                // The task had started: what it waited for elsewhere is done.
                external: Vec::new(),
                phase: parent.detail.phase,
                backup: parent.detail.backup.clone(),
                estimate_hours: parent.detail.estimate_hours.map(|h| h / count as f64),
                acceptance: Vec::new(),
                gates: parent.detail.gates.clone(),
                artifacts: Vec::new(),
                needs: Vec::new(),
                budget: Budget::default(),
                stands_in_for: parent.detail.stands_in_for.clone(),
            }),
        })
        .collect()
}

fn part_description(parent: &TaskPlan, i: usize, parts: &[TaskPart]) -> String {
    let mut text = format!(
        "Part {} of {} of task {} ({}), which was too big for one attempt. Do only this \
         part: the others are tasks of their own.\n\nThe parts, in order:\n",
        i + 1,
        parts.len(),
        parent.id,
        parent.title
    );
    for (j, part) in parts.iter().enumerate() {
        let marker = if j == i { " (this one)" } else { "" };
        text.push_str(&format!("{}. {}{marker}\n", j + 1, part.title));
    }
    if !parent.description.trim().is_empty() {
        text.push_str(&format!(
            "\nThe whole task:\n\n{}\n",
            parent.description.trim()
        ));
    }
    text
}

fn clip(title: &str) -> String {
    match title.char_indices().nth(MAX_TITLE) {
        Some((end, _)) => format!("{}…", &title[..end]),
        None => title.to_string(),
    }
}
