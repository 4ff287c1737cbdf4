//! Checks that need the whole mission at once: unique IDs, known
//! dependencies, no cycles, and (given a library) known agents.

use super::{Gate, Mission, Task};
use crate::diagnostic::{Diagnostic, nearest};
use crate::plan::graph::Cycle;
use std::collections::{HashMap, HashSet};

/// Cross-checks a parsed mission. `agents` holds the names of the loaded
/// agents; pass `None` to skip the agent check (no library at hand).
pub fn validate(mission: &Mission, agents: Option<&[&str]>) -> Vec<Diagnostic> {
    let mut diagnostics = duplicate_ids(mission);
    diagnostics.extend(unknown_dependencies(mission));
    diagnostics.extend(own_mission_dependencies(mission));
    if diagnostics.is_empty() {
        diagnostics.extend(cycle(mission));
    }
    if let Some(agents) = agents {
        diagnostics.extend(unknown_agents(mission, agents));
    }
    diagnostics
}

fn duplicate_ids(mission: &Mission) -> Vec<Diagnostic> {
    let mut first: HashMap<&str, &Task> = HashMap::new();
    let mut diagnostics = Vec::new();
    for task in &mission.tasks {
        match first.get(task.id.as_str()) {
            Some(earlier) => diagnostics.push(
                Diagnostic::error(
                    "spec::duplicate-id",
                    format!("task ID `{}` is used twice", task.id),
                )
                .at(task.spans.id.into())
                .label("second use")
                .hint(format!(
                    "IDs must be unique; the first `{}` is on line {}",
                    task.id,
                    earlier.spans.id.line()
                )),
            ),
            None => {
                first.insert(&task.id, task);
            }
        }
    }
    diagnostics
}

fn unknown_dependencies(mission: &Mission) -> Vec<Diagnostic> {
    let ids: Vec<&str> = mission.tasks.iter().map(|t| t.id.as_str()).collect();
    let known: HashSet<&str> = ids.iter().copied().collect();
    let mut diagnostics = Vec::new();
    for task in &mission.tasks {
        for (dependency, span) in task.depends_on.iter().zip(&task.spans.depends_on) {
            if known.contains(dependency.as_str()) {
                continue;
            }
            let hint = match nearest(dependency, ids.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "`depends_on` lists IDs of tasks in this file".to_string(),
            };
            diagnostics.push(
                Diagnostic::error(
                    "spec::unknown-dependency",
                    format!(
                        "task `{}` depends on `{dependency}`, which is not a task of this mission",
                        task.id
                    ),
                )
                .at((*span).into())
                .hint(hint),
            );
        }
    }
    diagnostics
}

/// `team/API` in mission `team` is this mission's own task, written the
/// long way: a wait on its own record that would never be looked at.
fn own_mission_dependencies(mission: &Mission) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for task in &mission.tasks {
        for (on, span) in task.external.iter().zip(&task.spans.external) {
            if on.mission != mission.name {
                continue;
            }
            diagnostics.push(
                Diagnostic::error(
                    "spec::bad-dependency",
                    format!(
                        "task `{}` depends on `{on}`, a task of this mission written as another mission's",
                        task.id
                    ),
                )
                .at((*span).into())
                .hint(format!("write `{}`: `mission/TASK` is for other missions", on.task)),
            );
        }
    }
    diagnostics
}

fn cycle(mission: &Mission) -> Option<Diagnostic> {
    let cycle = Cycle::find(mission)?;
    let first = &mission.tasks[cycle.tasks[0]];
    let hint = if cycle.through_phases() {
        "a task cannot depend on a task of a later phase: phases run in order; move one of the tasks or remove the dependency"
    } else {
        "remove one of these dependencies to break the cycle"
    };
    Some(
        Diagnostic::error("spec::cycle", format!("dependency cycle: {cycle}"))
            .at(first.spans.id.into())
            .label("this task ends up waiting for itself")
            .hint(hint),
    )
}

fn unknown_agents(mission: &Mission, agents: &[&str]) -> Vec<Diagnostic> {
    let known = |name: &str| agents.iter().any(|a| a.eq_ignore_ascii_case(name));
    let mut diagnostics = Vec::new();
    for task in &mission.tasks {
        let named = [
            (task.agent.as_deref(), task.spans.agent, "agent"),
            (task.backup.as_deref(), task.spans.backup, "backup"),
        ];
        for (name, span, role) in named {
            let Some(name) = name.filter(|n| !known(n)) else {
                continue;
            };
            let mut diagnostic = Diagnostic::warning(
                "spec::unknown-agent",
                format!("task `{}` names {role} `{name}`, which is not in the agent library", task.id),
            )
            .hint(match nearest(name, agents.iter().copied()) {
                Some(near) => format!("did you mean `{near}`? Otherwise the task runs on the general-purpose agent with the context of the closest specialists"),
                None => "the task will run on the general-purpose agent with the context of the closest specialists".to_string(),
            });
            if let Some(span) = span {
                diagnostic = diagnostic.at(span.into());
            }
            diagnostics.push(diagnostic);
        }
        for gate in &task.gates {
            if let Gate::Review { agent, .. } = gate
                && !known(agent)
            {
                diagnostics.push(
                    Diagnostic::warning(
                        "spec::unknown-agent",
                        format!("task `{}` has a review gate by `{agent}`, which is not in the agent library", task.id),
                    )
                    .at(task.spans.entry.into())
                    .hint("add the reviewer's agent file, or the general-purpose agent will review"),
                );
            }
        }
    }
    diagnostics
}
