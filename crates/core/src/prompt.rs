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
