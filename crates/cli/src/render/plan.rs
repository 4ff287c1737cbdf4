//! The blueprint as a terminal report and as Markdown.

use super::{plural, table};
use owo_colors::OwoColorize;
use std::fmt::Write;
use techlead_core::plan::blueprint::{Blueprint, Step};
use techlead_core::plan::risk::Level;

/// The report for a terminal (`color`) or a pipe.
pub fn text(plan: &Blueprint, width: usize, color: bool) -> String {
    let paint = Painter { color };
    let mut out = String::new();
    let m = &plan.mission;
    let _ = writeln!(out, "{}", paint.bold(&heading(plan)));
    if !m.objective.is_empty() {
        let _ = writeln!(out, "{}", first_line(&m.objective));
    }
    out.push('\n');
    out.push_str(&steps_table(&plan.steps, width, &paint));
    let waits = external_waits(&plan.steps);
    if !waits.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Waits for other missions"));
        for wait in &waits {
            let _ = writeln!(out, "  {wait}");
        }
    }
    if !plan.phases.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Phases"));
        for (i, phase) in plan.phases.iter().enumerate() {
            let gates = if phase.gates.is_empty() {
                "no gate".to_string()
            } else {
                format!("gate: {}", phase.gates.join(", "))
            };
            let _ = writeln!(
                out,
                "  {}. {}  {}  ({gates})",
                i + 1,
                phase.name,
                phase.tasks.join(", ")
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{} ({}): {}",
        paint.bold("Critical path"),
        hours(plan.critical_path.hours),
        plan.critical_path.tasks.join(" → ")
    );
    let s = &plan.schedule;
    let _ = writeln!(
        out,
        "{}: {} with max_parallel {} (peak {}, average {:.1} running); {} with unlimited agents",
        paint.bold("Earliest finish"),
        hours(s.makespan_hours),
        s.max_parallel,
        s.peak,
        s.average_parallelism,
        hours(s.unlimited_hours),
    );
    let _ = writeln!(out, "\n{}", paint.bold("Waves"));
    for (i, wave) in plan.waves.iter().enumerate() {
        let _ = writeln!(out, "  {i:>2}  {}", wave.join(", "));
    }
    let _ = writeln!(
        out,
        "\n{}",
        paint.bold(&format!("Risks ({})", plan.risks.len()))
    );
    if plan.risks.is_empty() {
        let _ = writeln!(out, "  none found");
    }
    for risk in &plan.risks {
        let level = format!("{:<8}", risk.level.as_str().to_uppercase());
        let _ = writeln!(
            out,
            "  {} {}  {}",
            paint.level(&level, risk.level),
            risk.kind,
            risk.message
        );
        let _ = writeln!(out, "  {:<8} {} {}", "", paint.dim("→"), risk.mitigation);
    }
    similar_text(&mut out, plan, &paint);
    out
}

/// Past missions like this one, when the record has any.
fn similar_text(out: &mut String, plan: &Blueprint, paint: &Painter) {
    if plan.similar_missions.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", paint.bold("Similar past missions"));
    for similar in &plan.similar_missions {
        let _ = writeln!(
            out,
            "  {} ({}, similarity {:.2}{})",
            similar.mission,
            similar.status,
            similar.similarity,
            if similar.same_project_type {
                ", same project type"
            } else {
                ""
            }
        );
        for lesson in &similar.went_well {
            let _ = writeln!(out, "    {} {lesson}", paint.dim("+"));
        }
        for lesson in &similar.went_wrong {
            let _ = writeln!(out, "    {} {lesson}", paint.dim("-"));
        }
    }
}

fn heading(plan: &Blueprint) -> String {
    let m = &plan.mission;
    let mut parts = vec![
        m.name.clone(),
        plural(m.tasks, "task"),
        plural(m.phases, "phase"),
        plural(m.agents, "agent"),
    ];
    if let (Some(deadline), Some(left)) = (m.deadline, m.hours_to_deadline) {
        let when = if left >= 0.0 {
            format!("in {}", hours(left))
        } else {
            format!("{} ago", hours(-left))
        };
        parts.push(format!(
            "deadline {} ({when})",
            deadline.strftime("%Y-%m-%d %H:%M UTC")
        ));
    }
    parts.join(" · ")
}

fn steps_table(steps: &[Step], width: usize, paint: &Painter) -> String {
    let columns = [
        table::column("STEP", false),
        table::column("TITLE", true),
        table::column("AGENT", false),
        table::column("BACKUP", true),
        table::column("GATE", true),
        table::column("WAVE", false),
        table::column("WHY", true),
    ];
    let rows: Vec<Vec<String>> = steps
        .iter()
        .map(|step| {
            let marker = if step.on_critical_path { "*" } else { " " };
            vec![
                format!("{}{marker}", step.id),
                step.title.clone(),
                step.agent.clone(),
                backup(step),
                if step.gates.is_empty() {
                    "—".to_string()
                } else {
                    step.gates.join("; ")
                },
                step.wave.to_string(),
                step.why.clone(),
            ]
        })
        .collect();
    let mut out = table::render(&columns, &rows, width);
    if paint.color {
        // Bold the header only; cells stay plain so widths stay exact.
        if let Some(end) = out.find('\n') {
            let header = out[..end].to_string();
            out.replace_range(..end, &paint.bold(&header));
        }
    }
    out.push_str(&paint.dim("* on the critical path\n"));
    out
}

/// `REPORT after billing/API`, one per step that waits for tasks of other
/// missions: the schedule above starts it as if they were done.
fn external_waits(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .filter(|s| !s.external.is_empty())
        .map(|s| {
            let (it, has) = match s.external.len() {
                1 => ("it succeeds", "it has"),
                _ => ("they succeed", "they have"),
            };
            format!(
                "{} after {} (starts once {it} there; the schedule assumes {has})",
                s.id,
                s.external.join(", ")
            )
        })
        .collect()
}

fn backup(step: &Step) -> String {
    match (&step.backup, step.backup_suggested) {
        (Some(name), true) => format!("{name} (suggested)"),
        (Some(name), false) => name.clone(),
        (None, _) => "—".to_string(),
    }
}

/// The report as Markdown, for a ticket or a pull request.
pub fn markdown(plan: &Blueprint) -> String {
    let mut out = String::new();
    let m = &plan.mission;
    let _ = writeln!(out, "# Plan: {}\n", m.name);
    let _ = writeln!(out, "{}\n", heading(plan));
    if !m.objective.is_empty() {
        let _ = writeln!(out, "## Objective\n\n{}\n", m.objective.trim());
    }
    let _ = writeln!(out, "## Steps\n");
    let _ = writeln!(out, "| Step | Title | Agent | Backup | Gate | Wave | Why |");
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |");
    for step in &plan.steps {
        let id = if step.on_critical_path {
            format!("**{}**", step.id)
        } else {
            step.id.clone()
        };
        let gates = if step.gates.is_empty() {
            "—".to_string()
        } else {
            step.gates.join("; ")
        };
        let _ = writeln!(
            out,
            "| {id} | {} | {} | {} | {} | {} | {} |",
            cell(&step.title),
            cell(&step.agent),
            cell(&backup(step)),
            cell(&gates),
            step.wave,
            cell(&step.why)
        );
    }
    let _ = writeln!(out, "\nSteps in **bold** are on the critical path.\n");
    let waits = external_waits(&plan.steps);
    if !waits.is_empty() {
        let _ = writeln!(out, "## Waits for other missions\n");
        for wait in &waits {
            let _ = writeln!(out, "- {wait}");
        }
        out.push('\n');
    }
    if !plan.phases.is_empty() {
        let _ = writeln!(out, "## Phases\n");
        for (i, phase) in plan.phases.iter().enumerate() {
            let gates = if phase.gates.is_empty() {
                "no gate".to_string()
            } else {
                format!("gate: `{}`", phase.gates.join("`, `"))
            };
            let _ = writeln!(
                out,
                "{}. **{}**: {} ({gates})",
                i + 1,
                phase.name,
                phase.tasks.join(", ")
            );
        }
        out.push('\n');
    }
    let s = &plan.schedule;
    let _ = writeln!(out, "## Schedule\n");
    let _ = writeln!(
        out,
        "- Critical path ({}): {}",
        hours(plan.critical_path.hours),
        plan.critical_path.tasks.join(" → ")
    );
    let _ = writeln!(
        out,
        "- Earliest finish: {} with max_parallel {}; {} with unlimited agents",
        hours(s.makespan_hours),
        s.max_parallel,
        hours(s.unlimited_hours)
    );
    for (i, wave) in plan.waves.iter().enumerate() {
        let _ = writeln!(out, "- Wave {i}: {}", wave.join(", "));
    }
    let _ = writeln!(out, "\n## Risks\n");
    if plan.risks.is_empty() {
        let _ = writeln!(out, "None found.");
    }
    for risk in &plan.risks {
        let _ = writeln!(
            out,
            "- **{}** `{}`: {} *Mitigation:* {}",
            risk.level.as_str(),
            risk.kind,
            cell(&risk.message),
            cell(&risk.mitigation)
        );
    }
    if !plan.similar_missions.is_empty() {
        let _ = writeln!(out, "\n## Similar past missions\n");
    }
    for similar in &plan.similar_missions {
        let _ = writeln!(
            out,
            "- **{}** ({}, similarity {:.2})",
            similar.mission, similar.status, similar.similarity
        );
        for lesson in &similar.went_well {
            let _ = writeln!(out, "  - Went well: {}", cell(lesson));
        }
        for lesson in &similar.went_wrong {
            let _ = writeln!(out, "  - Went wrong: {}", cell(lesson));
        }
    }
    if !m.definition_of_done.is_empty() {
        let _ = writeln!(out, "\n## Definition of done\n");
        for item in &m.definition_of_done {
            let _ = writeln!(out, "- [ ] {item}");
        }
    }
    out
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if text.lines().nth(1).is_some() {
        format!("{line} …")
    } else {
        line.to_string()
    }
}

/// `3.5 h`, or `2 d 4 h` for long spans.
pub fn hours(h: f64) -> String {
    if h >= 48.0 {
        format!("{} d {:.0} h", (h / 24.0).floor(), h % 24.0)
    } else if (h - h.round()).abs() < 0.05 {
        format!("{:.0} h", h)
    } else {
        format!("{h:.1} h")
    }
}

/// Colour for a terminal, plain text for a pipe.
pub struct Painter {
    pub color: bool,
}

impl Painter {
    pub fn bold(&self, text: &str) -> String {
        if self.color {
            text.bold().to_string()
        } else {
            text.to_string()
        }
    }

    pub fn dim(&self, text: &str) -> String {
        if self.color {
            text.dimmed().to_string()
        } else {
            text.to_string()
        }
    }

    pub fn level(&self, text: &str, level: Level) -> String {
        if !self.color {
            return text.to_string();
        }
        match level {
            Level::Critical => text.red().bold().to_string(),
            Level::High => text.red().to_string(),
            Level::Medium => text.yellow().to_string(),
            Level::Low => text.dimmed().to_string(),
        }
    }
}
