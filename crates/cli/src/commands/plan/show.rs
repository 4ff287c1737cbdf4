//! Showing a planned mission to the person: the blueprint as `techlead
//! plan` prints it, and under it the capacity check with its options.

use crate::render;
use crate::render::plan::hours;
use jiff::Timestamp;
use techlead_core::agents::Library;
use techlead_core::history::History;
use techlead_core::plan::blueprint::blueprint;
use techlead_core::plan::capacity::{self, Availability, Capacity, Work};
use techlead_core::spec::Mission;

/// What is shown under the blueprint, and with what.
pub struct Settings<'a> {
    pub library: &'a Library,
    /// The record of past missions.
    pub history: &'a History,
    pub now: Timestamp,
    /// `--deadline`, for a mission that sets none.
    pub deadline: Option<Timestamp>,
    pub availability: &'a Availability,
    pub color: bool,
}

/// The blueprint and the capacity check, as text.
pub fn plan_text(mission: &Mission, settings: &Settings<'_>) -> String {
    let deadline = mission.deadline.or(settings.deadline);
    let plan = blueprint(
        mission.clone(),
        settings.library,
        settings.history,
        settings.now,
    )
    .expect("validation rejects cycles before planning");
    let mut out = render::plan::text(&plan, render::width(), settings.color);
    let work: Vec<Work<'_>> = plan
        .steps
        .iter()
        .map(|step| Work {
            task: &step.id,
            agent: &step.agent,
            // As the planner counts a task without an estimate.
            hours: step.estimate_hours.unwrap_or(1.0),
            priority: step.priority,
            depends_on: &step.depends_on,
            backup: step.backup.as_deref(),
        })
        .collect();
    out.push('\n');
    match deadline {
        Some(deadline) => out.push_str(&capacity_text(&capacity::check(
            &work,
            settings.now,
            deadline,
            settings.availability,
        ))),
        None => {
            let total: f64 = work.iter().map(|w| w.hours).sum();
            out.push_str(&format!(
                "Capacity: no deadline, so nothing to check ({} of work in all); set \
                 `mission.deadline` or pass --deadline\n",
                hours(total)
            ));
        }
    }
    out
}

pub fn capacity_text(capacity: &Capacity) -> String {
    let mut out = format!(
        "Capacity to the deadline {} ({:.1} days):\n",
        capacity.deadline, capacity.days
    );
    let width = capacity
        .agents
        .iter()
        .map(|a| a.agent.len())
        .max()
        .unwrap_or(5)
        .max(5);
    out.push_str(&format!(
        "  {:width$}  {:>8}  {:>8}  {:>9}\n",
        "AGENT", "WORK", "CAN DO", "PER DAY"
    ));
    for agent in &capacity.agents {
        let verdict = if agent.over() {
            format!("over by {}", hours(agent.hours - agent.capacity))
        } else {
            "ok".to_string()
        };
        out.push_str(&format!(
            "  {:width$}  {:>8}  {:>8}  {:>9}  {verdict}\n",
            agent.agent,
            hours(agent.hours),
            hours(agent.capacity),
            hours(agent.hours_per_day),
        ));
    }
    let Some(options) = &capacity.options else {
        out.push_str("Every agent's work fits before the deadline.\n");
        return out;
    };
    let over = capacity.agents.iter().filter(|a| a.over()).count();
    out.push_str(&format!(
        "Over-allocated: {}. Options:\n",
        render::plural(over, "agent")
    ));
    out.push_str(&format!(
        "  - extend the deadline to {} (every agent fits then)\n",
        options.extend_to
    ));
    match &options.cut {
        Some(cut) => out.push_str(&format!(
            "  - cut scope: drop {} ({}), the lowest-priority work that makes the rest fit\n",
            cut.tasks.join(", "),
            hours(cut.hours)
        )),
        None => out.push_str(
            "  - cut scope: not enough; even without every non-critical task it does not fit\n",
        ),
    }
    for backup in &options.backups {
        let to = match &backup.backup {
            Some(name) => format!("to `{name}`, which has the time"),
            None => "to a new agent (nobody in the plan has the time)".to_string(),
        };
        out.push_str(&format!(
            "  - add a backup agent: move {} of `{}`'s work ({}) {to}\n",
            hours(backup.hours),
            backup.agent,
            backup.tasks.join(", ")
        ));
    }
    out
}
