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
    list(&mut out, "## Done means", &task.detail.acceptance);
    let checks: Vec<String> = task.detail.gates.iter().map(|g| g.describe()).collect();
    list(&mut out, "## Checks your work must pass", &checks);
    rejection(&mut out, state, t);
    split(&mut out, state, t);
    blocked(&mut out, state, t);
    if let Some(guidance) = &state.tasks[t].work.guidance {
        let _ = writeln!(out, "## From the person\n\n{}\n", guidance.trim());
    }
    conflict(&mut out, state, t);
    if !plan.objective.is_empty() {
        let _ = writeln!(
            out,
            "## Mission: {}\n\n{}\n",
            plan.name,
            plan.objective.trim()
        );
    }
    handoff(&mut out, state, t);
    missing_needs(&mut out, state, t);
    let _ = writeln!(
        out,
        "## Reporting\n\nPrint `::progress <percent> <what you are doing>` as you work, \
         `::decision <text>` for choices others should know, `::artifact <path>` for files you \
         produce, `::blocked <reason>` if you cannot go on, and `::summary <text>` at the end. If the task \
         is too big for one attempt, print one `::split <title>` line per smaller task, in the \
         order to do them, and stop."
    );
    out
}

/// Longest part of a specialist's instructions quoted for a stand-in.
const SPECIALIST_QUOTE: usize = 2_000;

/// For a task whose agent the library lacks: who the agent stands in for,
/// and how the closest specialists work.
fn stand_in(out: &mut String, state: &MissionState, t: usize) {
    let Some(stand_in) = &state.plan.tasks[t].detail.stands_in_for else {
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
        if let Some(d) = state.task_index(id) {
            dependency(out, state, d);
        }
    }
}

/// What task `d` produced, as a dependent's handoff shows it (the MCP tool
/// `read_handoff` gives the same text).
pub fn handoff_of(state: &MissionState, d: usize) -> String {
    let mut out = String::new();
    dependency(&mut out, state, d);
    out
}

fn dependency(out: &mut String, state: &MissionState, d: usize) {
    let (plan, done) = (&state.plan.tasks[d], &state.tasks[d]);
    let _ = writeln!(out, "### {}: {} ({})\n", plan.id, plan.title, done.agent);
    match &done.reports.summary {
        Some(summary) => {
            let _ = writeln!(out, "{}\n", summary.trim());
        }
        None => {
            let _ = writeln!(out, "(no summary: status {})\n", done.status);
        }
    }
    list(out, "Decisions:", &done.reports.decisions);
    list(out, "Artifacts:", &done.reports.artifacts);
    changed_files(out, &done.work.changed_files);
    let passed: Vec<&str> = done
        .work
        .checks
        .iter()
        .filter(|c| c.passed && done.attempts.last().is_some_and(|a| a.number == c.attempt))
        .map(|c| c.gate.as_str())
        .collect();
    if !passed.is_empty() {
        let _ = writeln!(out, "Checks passed: {}.\n", passed.join(", "));
    }
    let missing = crate::state::missing_artifacts(plan, done);
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "Missing: {} promised {}, which its work does not have.\n",
            plan.id,
            missing.join(", ")
        );
    }
}

/// What the task said it needs and the work it builds on lacks.
fn missing_needs(out: &mut String, state: &MissionState, t: usize) {
    let missing = crate::state::missing_needs(state, t);
    if missing.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Missing from the handoff\n\nThis task needs {}, which the work it builds on does \
         not have. Look for it; if you cannot go on without it, say `::blocked <what is \
         missing>`.\n",
        missing.join(", ")
    );
}

/// Most changed files listed in a handoff; the rest are counted.
const CHANGED_FILES_SHOWN: usize = 30;

fn changed_files(out: &mut String, files: &[String]) {
    if files.is_empty() {
        return;
    }
    let _ = writeln!(out, "Changed files:\n");
    for file in files.iter().take(CHANGED_FILES_SHOWN) {
        let _ = writeln!(out, "- {file}");
    }
    if files.len() > CHANGED_FILES_SHOWN {
        let _ = writeln!(out, "- and {} more", files.len() - CHANGED_FILES_SHOWN);
    }
    out.push('\n');
}

/// Why the last attempt's work was sent back: the gate that rejected it
/// and what it said. The worktree still holds that work.
fn rejection(out: &mut String, state: &MissionState, t: usize) {
    let task = &state.tasks[t];
    let Some(last) = task.attempts.iter().rev().find(|a| a.outcome.is_some()) else {
        return;
    };
    let Some(gate) = &last.detail.rejected_by else {
        return;
    };
    let Some(check) = task
        .work
        .checks
        .iter()
        .rev()
        .find(|c| c.attempt == last.number && !c.passed)
    else {
        return;
    };
    let _ = writeln!(
        out,
        "## The last attempt did not pass `{gate}`\n\nAttempt {} of this task finished, but \
         `{gate}` rejected its work. The work is still in your working directory: fix what \
         the gate found, then finish as before.\n",
        last.number
    );
    if !check.reasons.is_empty() {
        let _ = writeln!(out, "```\n{}\n```\n", check.reasons.join("\n").trim());
    }
}

/// A task split into parts: they are done, and this attempt finishes the
/// rest on top of their work.
fn split(out: &mut String, state: &MissionState, t: usize) {
    let parts = &state.tasks[t].work.parts;
    if parts.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## This task was split

An earlier attempt found this task too big for one go, so it \
         was split into the parts below, done before this attempt; their work is already in \
         your working directory, and their handoffs follow. Finish what remains of the task \
         and check that the whole of it holds; do not redo the parts.\n"
    );
    for id in parts {
        if let Some(p) = state.task_index(id) {
            let _ = writeln!(out, "- {id}: {}", state.plan.tasks[p].title);
        }
    }
    out.push('\n');
}

/// What blocked the last attempt, so that this one starts from it rather
/// than running into it again.
fn blocked(out: &mut String, state: &MissionState, t: usize) {
    let task = &state.tasks[t];
    let Some(last) = task.attempts.iter().rev().find(|a| a.outcome.is_some()) else {
        return;
    };
    // What blocked it was that it was too big: the split answered it.
    if !task.work.parts.is_empty() && last.number <= task.work.fresh_from {
        return;
    }
    let Some(reason) = &last.detail.blocked else {
        return;
    };
    let _ = writeln!(
        out,
        "## The last attempt was blocked\n\nAttempt {} of this task ({}) stopped with: {}\n\n\
         Look for a way around it first: another approach, a stand-in, a reasonable \
         assumption recorded with `::decision`. If the task truly cannot go on without \
         someone, say exactly what is needed with `::blocked`: it goes to a person.\n",
        last.number,
        last.agent,
        reason.trim()
    );
}

/// A merge conflict to resolve: the files, and the work on the other side.
fn conflict(out: &mut String, state: &MissionState, t: usize) {
    let Some(files) = &state.tasks[t].work.conflict else {
        return;
    };
    let _ = writeln!(
        out,
        "## Resolve a merge conflict first\n\nThe integration branch changed since this \
         task's work began. Your working directory holds the merge of it, with conflict \
         markers in the files below. Resolve every conflict so that both sides' intent \
         survives, remove the markers, make the checks pass, and finish; do not start the \
         merge again.\n"
    );
    for file in files {
        let _ = writeln!(out, "- {file}");
    }
    out.push('\n');
    let others: Vec<usize> = (0..state.tasks.len())
        .filter(|&o| o != t && state.tasks[o].work.merged.is_some())
        .filter(|&o| {
            state.tasks[o]
                .work
                .changed_files
                .iter()
                .any(|f| files.contains(f))
        })
        .collect();
    if others.is_empty() {
        return;
    }
    let _ = writeln!(out, "The other side's work:\n");
    for o in others {
        let (plan, done) = (&state.plan.tasks[o], &state.tasks[o]);
        let summary = done.reports.summary.as_deref().unwrap_or("(no summary)");
        let _ = writeln!(out, "- {} ({}): {}", plan.id, done.agent, summary.trim());
    }
    out.push('\n');
}
