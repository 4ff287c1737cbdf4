//! The report as Markdown (CommonMark with GitHub tables). Every text
//! from the record is escaped, so that a title such as `<script>` or
//! `a | b` stays text and never becomes markup or a table column.

use super::model::{Audience, EscalationLine, Report};
use super::summary::{self, sentence};
use super::text::{self, plural};
use crate::state::DoneState;
use std::fmt::Write;

pub fn markdown(report: &Report, audience: Audience) -> String {
    let mut out = String::new();
    match audience {
        Audience::Executive => executive(&mut out, report),
        Audience::Engineering => engineering(&mut out, report),
    }
    out
}

/// Text as Markdown shows it literally: every punctuation mark that could
/// start markup is backslash-escaped (`#` only first, where it could make
/// a heading), and a line break becomes a space (tables and list items
/// are one line).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    if text.starts_with('#') {
        out.push('\\');
    }
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '!' | '~' | '&' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A path or command as code; escaped text when backticks would break it.
fn code(text: &str) -> String {
    if text.contains('`') || text.contains('\n') {
        escape(text)
    } else {
        format!("`{text}`")
    }
}

fn executive(out: &mut String, r: &Report) {
    let _ = writeln!(out, "# {}: {}\n", escape(&r.name), r.status);
    banner(out, r);
    let _ = writeln!(out, "**Outcome.** {}\n", escape(&r.outcome.headline));
    let _ = write!(out, "**Dates.** {}", escape(&summary::dates(r)));
    let deadline = summary::deadline(r).unwrap_or_else(|| "No deadline set.".to_string());
    for line in std::iter::once(deadline).chain(summary::forecast(r)) {
        let _ = write!(out, " {}", escape(&line));
    }
    let _ = writeln!(out, "\n\n**Cost.** {}\n", escape(&summary::spend(r)));
    let _ = writeln!(out, "**Risks and decisions needed.**\n");
    let risks = summary::risks(r);
    let open: Vec<&EscalationLine> = r.escalations.iter().filter(|e| e.open).collect();
    for risk in &risks {
        let _ = writeln!(out, "- {}", escape(risk));
    }
    for e in &open {
        let _ = writeln!(
            out,
            "- Decide escalation #{} ({}): {} Options: {}. Recommended: {}.",
            e.record.id,
            kind(e),
            escape(&sentence(&e.record.message)),
            escape(&e.record.options.join(", ")),
            escape(&e.record.recommendation)
        );
    }
    if risks.is_empty() && open.is_empty() {
        let _ = writeln!(out, "- None: nothing waits for a decision.");
    }
    if let Some(done) = summary::done(r) {
        let _ = writeln!(out, "\n**Definition of done.** {}", escape(&done));
    }
    footer(out, r);
}

fn engineering(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "# Mission report: {} ({})\n",
        escape(&r.name),
        code(&r.mission)
    );
    banner(out, r);
    let _ = writeln!(out, "**{}**\n", escape(&r.outcome.headline));
    if !r.objective.is_empty() {
        let _ = writeln!(out, "Objective: {}\n", escape(&r.objective));
    }
    timeline(out, r);
    cost(out, r);
    decisions_needed(out, r);
    tasks(out, r);
    attempts(out, r);
    gates(out, r);
    escalations(out, r);
    lessons(out, r);
    done(out, r);
    footer(out, r);
}

fn banner(out: &mut String, r: &Report) {
    if r.simulated {
        let _ = writeln!(
            out,
            "> **SIMULATION.** Attempts ran on the `simulate` executor: nothing was built and nothing was spent.\n"
        );
    }
}

fn footer(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "\n---\n*Report of `techlead report {}` as of {}.*",
        escape(&r.mission),
        text::stamp(r.as_of)
    );
}

fn timeline(out: &mut String, r: &Report) {
    let t = &r.timeline;
    let _ = writeln!(out, "## Timeline\n");
    let _ = writeln!(out, "- {}", escape(&summary::dates(r)));
    let _ = writeln!(out, "- Runs: {}.", t.runs);
    let mut planned = format!(
        "- Plan: {} under the mission's limits; critical path {}",
        text::hours(t.planned.hours),
        text::hours(t.planned.critical_path_hours)
    );
    if t.planned.unestimated > 0 {
        planned += &format!(
            "; {} without an estimate counted at 1 h each",
            plural(t.planned.unestimated, "task")
        );
    }
    let _ = writeln!(out, "{planned}.");
    if let Some(finish) = t.planned.finish_at {
        let _ = writeln!(out, "- Planned finish: {}.", text::stamp(finish));
    }
    match summary::deadline(r) {
        Some(line) => {
            let _ = writeln!(out, "- {}", escape(&line));
        }
        None => {
            let _ = writeln!(out, "- Deadline: none set.");
        }
    }
    if let Some(line) = summary::forecast(r) {
        let _ = writeln!(out, "- {}", escape(&line));
    }
    out.push('\n');
}

fn cost(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## Cost\n\n{}\n", escape(&summary::spend(r)));
    if r.cost.by_agent.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "| Agent | Attempts | Time | Tokens in | Tokens out | Cost |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for (row, hours) in r.cost.by_agent.iter().zip(&r.cost.agent_hours) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            escape(&row.name),
            row.attempts,
            text::hours(*hours),
            row.input_tokens,
            row.output_tokens,
            text::dollars(row.cost_usd)
        );
    }
    out.push('\n');
}

fn decisions_needed(out: &mut String, r: &Report) {
    let risks = summary::risks(r);
    let open: Vec<&EscalationLine> = r.escalations.iter().filter(|e| e.open).collect();
    if risks.is_empty() && open.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Risks and decisions needed\n");
    for risk in &risks {
        let _ = writeln!(out, "- {}", escape(risk));
    }
    for e in open {
        let _ = writeln!(
            out,
            "- Escalation #{} waits: `techlead decide {} {} ACTION` ({}).",
            e.record.id,
            escape(&r.mission),
            e.record.id,
            escape(&e.record.options.join(" | "))
        );
    }
    out.push('\n');
}

fn tasks(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "## Tasks\n\n| Task | Title | Agent | Status | Attempts | Time | Estimate | Cost |\n| --- | --- | --- | --- | ---: | ---: | ---: | ---: |"
    );
    for t in &r.tasks {
        let status = match &t.blocked_by {
            Some(by) => format!("{} by {}", t.status, escape(by)),
            None => t.status.to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {status} | {} | {} | {} | {} |",
            escape(&t.id),
            escape(&t.title),
            escape(&t.agent),
            t.attempts,
            text::duration_ms(t.worked_ms),
            t.estimate_hours.map_or("-".to_string(), text::hours),
            text::dollars(t.cost_usd)
        );
    }
    out.push('\n');
}

fn attempts(out: &mut String, r: &Report) {
    if r.attempts.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Attempts\n\n| Task | # | Agent | Started | Duration | Outcome | Log |\n| --- | ---: | --- | --- | ---: | --- | --- |"
    );
    for a in &r.attempts {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            escape(&a.task),
            a.number,
            escape(&a.agent),
            text::stamp(a.start),
            text::duration_ms(text::ms_between(a.start, a.end)),
            escape(&a.outcome),
            code(&a.log)
        );
    }
    out.push('\n');
}

fn gates(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## Quality gates\n");
    if r.gates.is_empty() {
        let _ = writeln!(out, "No gate has run.\n");
        return;
    }
    let _ = writeln!(
        out,
        "| Subject | Attempt | Gate | Verdict | Why | Log |\n| --- | ---: | --- | --- | --- | --- |"
    );
    for g in &r.gates {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            escape(&g.subject),
            g.attempt.map_or("-".to_string(), |a| a.to_string()),
            escape(&g.gate),
            if g.passed { "passed" } else { "failed" },
            escape(&g.reasons.join("; ")),
            code(&g.log)
        );
    }
    out.push('\n');
}

fn kind(e: &EscalationLine) -> String {
    serde_json::to_value(e.record.kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn escalations(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## Escalations and decisions\n");
    if r.escalations.is_empty() {
        let _ = writeln!(out, "None: the mission never needed the person.\n");
        return;
    }
    for e in &r.escalations {
        let record = &e.record;
        let _ = write!(
            out,
            "- **#{} {}** ({}): {}",
            record.id,
            kind(e),
            text::stamp(record.raised_at),
            escape(&sentence(&record.message))
        );
        match &record.resolution {
            Some(res) => {
                let note = res
                    .note
                    .as_ref()
                    .map_or(String::new(), |n| format!(" (\"{}\")", escape(n)));
                let _ = writeln!(
                    out,
                    " Decided: {} by {} at {}{note}.",
                    escape(&res.decision.to_string()),
                    escape(&res.by),
                    text::stamp(res.at)
                );
            }
            None if e.open => {
                let _ = writeln!(
                    out,
                    " **Waits for a decision.** Recommended: {}.",
                    escape(&record.recommendation)
                );
            }
            None => {
                let _ = writeln!(out, " Closed without a decision.");
            }
        }
    }
    out.push('\n');
}

fn lessons(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## Lessons\n");
    if r.lessons.is_empty() {
        let _ = writeln!(out, "Every task succeeded on its first attempt.\n");
        return;
    }
    for l in &r.lessons {
        let _ = writeln!(out, "- **{}** ({})", escape(&l.task), escape(&l.title));
        for failure in &l.failures {
            let _ = writeln!(out, "  - {}", escape(failure));
        }
        let mark = if l.resolved { "Resolved" } else { "Open" };
        let _ = writeln!(out, "  - {mark}: {}.", escape(&l.resolution));
        if !l.logs.is_empty() {
            let logs: Vec<String> = l.logs.iter().map(|p| code(p)).collect();
            let _ = writeln!(out, "  - Logs: {}", logs.join(", "));
        }
    }
    out.push('\n');
}

fn done(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## Definition of done\n");
    if r.done.is_empty() {
        let _ = writeln!(out, "The mission file lists none.");
        return;
    }
    for d in &r.done {
        let mark = if matches!(d.state, DoneState::Met | DoneState::Approved) {
            "x"
        } else {
            " "
        };
        let log = d
            .log
            .as_ref()
            .map_or(String::new(), |l| format!(" (log {})", code(l)));
        let _ = writeln!(
            out,
            "- [{mark}] {}: {}{log}",
            escape(&d.text),
            d.state.as_str()
        );
    }
}
