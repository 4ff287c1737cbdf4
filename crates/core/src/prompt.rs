//! The prompt an agent receives for a task: what to do, what "done" means,
//! the checks its work must pass, why (the mission), and the handoff from
//! the tasks it builds on (their summaries, decisions and artifacts).
//! Executors that drive an agent give it this text; the `command`
//! executor puts it on stdin and in a file. `techlead prompt` prints it.
//! The template is documented in docs/running.md, "The prompt".

use crate::state::MissionState;
use std::fmt::Write;

/// The prompt for task `t` as of `state`: the handoff is what its
/// dependencies have reported so far.
pub fn render(state: &MissionState, t: usize) -> String {
    let plan = &state.plan;
    let task = &plan.tasks[t];
    let mut out = String::new();
    let _ = writeln!(out, "# Task {}: {}\n", task.id, task.title);
    if !task.description.is_empty() {
        let _ = writeln!(out, "{}\n", task.description.trim());
    }
    stand_in(&mut out, state, t);
    list(&mut out, "## Done means", &task.acceptance);
    list(&mut out, "## Checks your work must pass", &task.gates);
    if !plan.objective.is_empty() {
        let _ = writeln!(
            out,
            "## Mission: {}\n\n{}\n",
            plan.name,
            plan.objective.trim()
        );
    }
    handoff(&mut out, state, t);
    let _ = writeln!(
        out,
        "## Reporting\n\nPrint `::progress <percent> <what you are doing>` as you work, \
         `::decision <text>` for choices others should know, `::artifact <path>` for files you \
         produce, `::blocked <reason>` if you cannot go on, and `::summary <text>` at the end."
    );
    out
}

/// Longest part of a specialist's instructions quoted for a stand-in.
const SPECIALIST_QUOTE: usize = 2_000;

/// For a task whose agent the library lacks: who the agent stands in for,
/// and how the closest specialists work.
fn stand_in(out: &mut String, state: &MissionState, t: usize) {
    let Some(stand_in) = &state.plan.tasks[t].stands_in_for else {
        return;
    };
    let _ = writeln!(
        out,
        "## Standing in for `{}`\n\nThe mission asked for the `{}` agent, which this agent \
         library does not have; you do its work.",
        stand_in.requested, stand_in.requested
    );
    if stand_in.context_from.is_empty() {
        out.push('\n');
        return;
    }
    let _ = writeln!(out, "The closest specialists work like this:\n");
    for name in &stand_in.context_from {
        let Some(agent) = state.plan.agent(name) else {
            continue;
        };
        let text = agent.prompt.trim();
        let mut end = text.len().min(SPECIALIST_QUOTE);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let more = if end < text.len() { "\n[...]" } else { "" };
        let _ = writeln!(out, "### {name}\n\n{}{more}\n", &text[..end]);
    }
}

fn list(out: &mut String, heading: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{heading}\n");
    for item in items {
        let _ = writeln!(out, "- {}", item.trim());
    }
    out.push('\n');
}

/// What each dependency left for this task, in dependency order.
fn handoff(out: &mut String, state: &MissionState, t: usize) {
    let task = &state.plan.tasks[t];
    if task.depends_on.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Handoff from the work this builds on\n");
    for id in &task.depends_on {
        let Some(d) = state.task_index(id) else {
            continue;
        };
        let (plan, done) = (&state.plan.tasks[d], &state.tasks[d]);
        let _ = writeln!(out, "### {}: {} ({})\n", plan.id, plan.title, done.agent);
        match &done.summary {
            Some(summary) => {
                let _ = writeln!(out, "{}\n", summary.trim());
            }
            None => {
                let _ = writeln!(out, "(no summary: status {})\n", done.status);
            }
        }
        list(out, "Decisions:", &done.decisions);
        list(out, "Artifacts:", &done.artifacts);
    }
}
