//! The prompt an agent receives for a task: what to do, why, and what
//! "done" means. Executors that drive an agent give it this text; the
//! `command` executor puts it on stdin and in a file.

use crate::state::{MissionPlan, TaskPlan};
use std::fmt::Write;

pub fn render(plan: &MissionPlan, task: &TaskPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Task {}: {}\n", task.id, task.title);
    if !task.description.is_empty() {
        let _ = writeln!(out, "{}\n", task.description.trim());
    }
    if !plan.objective.is_empty() {
        let _ = writeln!(
            out,
            "## Mission: {}\n\n{}\n",
            plan.name,
            plan.objective.trim()
        );
    }
    if !task.depends_on.is_empty() {
        let _ = writeln!(out, "## Builds on\n\n{}\n", task.depends_on.join(", "));
    }
    let _ = writeln!(
        out,
        "## Reporting\n\nPrint `::progress <percent> <what you are doing>` as you work, \
         `::decision <text>` for choices others should know, `::artifact <path>` for files you \
         produce, `::blocked <reason>` if you cannot go on, and `::summary <text>` at the end."
    );
    out
}
