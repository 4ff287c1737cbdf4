//! A planner's answer on its way to a mission file: the YAML taken out of
//! whatever surrounds it, checked like `techlead validate` checks a file,
//! and repaired where the fix is certain (`techlead plan --objective`).

use crate::agents::{GENERAL_PURPOSE, Library};
use crate::diagnostic::{Diagnostic, SourceSpan};
use crate::plan::assign::{AssignContext, Ranker};
use crate::spec::{self, Mission};

/// An answer reduced to its mission file, with what was done to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub text: String,
    /// One line per repair, for the person ("stripped Markdown code
    /// fences", "task API: agent `x` is not in the library; `y` instead").
    pub repairs: Vec<String>,
}

/// The YAML of an answer: the first fenced code block that looks like a
/// mission (models like to fence), else the text from its first top-level
/// mission key on (models like to introduce their answer).
pub fn extract(answer: &str) -> Draft {
    let mut repairs = Vec::new();
    let mut text = answer.trim().to_string();
    if let Some(inner) = fenced_mission(&text) {
        text = inner;
        repairs.push("stripped Markdown code fences".to_string());
    }
    // Comments before the mission are YAML too, and stay.
    let prose = |before: &str| {
        before
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    };
    if let Some(start) = first_top_level_key(&text)
        && prose(&text[..start])
    {
        text = text[start..].to_string();
        repairs.push("dropped the text before the mission".to_string());
    }
    text.truncate(text.trim_end().len());
    text.push('\n');
    Draft { text, repairs }
}

const TOP_KEYS: [&str; 4] = ["mission:", "phases:", "tasks:", "webhooks:"];

fn first_top_level_key(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if TOP_KEYS.iter().any(|key| line.starts_with(key)) {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// The body of the first ``` block holding a top-level mission key.
fn fenced_mission(text: &str) -> Option<String> {
    let mut body: Option<String> = None;
    for line in text.lines() {
        let fence = line.trim_start().starts_with("```");
        match (&mut body, fence) {
            (None, true) => body = Some(String::new()),
            (Some(inner), true) => {
                if first_top_level_key(inner).is_some() {
                    return body;
                }
                body = None;
            }
            (Some(inner), false) => {
                inner.push_str(line);
                inner.push('\n');
            }
            (None, false) => {}
        }
    }
    // An unclosed fence (the answer was cut short): take what it holds.
    body.filter(|inner| first_top_level_key(inner).is_some())
}

/// A draft after every check `techlead validate` makes.
#[derive(Debug, Clone)]
pub struct Checked {
    /// `None` when there is an error.
    pub mission: Option<Mission>,
    /// In file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

/// Parses and validates `text` against the library, as `techlead
/// validate` does (the parser checks every key against the table the JSON
/// Schema is generated from, so this covers the schema too).
pub fn check(text: &str, library: &Library) -> Checked {
    let parsed = spec::parse(text);
    let mut diagnostics = parsed.diagnostics;
    if let Some(mission) = &parsed.mission {
        let names: Vec<&str> = library.agents().iter().map(|a| a.name.as_str()).collect();
        diagnostics.extend(spec::validate(mission, Some(&names)));
    }
    diagnostics.sort_by_key(|d| d.span.map(|s| s.offset));
    let mission = parsed
        .mission
        .filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Checked {
        mission,
        diagnostics,
    }
}

/// Points every task's `agent` and `backup` that the library lacks at the
/// nearest agent it has: the closest name (a typo, `backend-dev` for
/// `backend-developer`), else the best match for the task's text and the
/// missing name's words. When nothing fits, the key goes, and staffing
/// gives the task to the general-purpose agent (naming that agent
/// explicitly is itself a warning of the validator). Only those values
/// (or lines) change in the text.
pub fn repair_agents(draft: &mut Draft, mission: &Mission, library: &Library) {
    let ranker = Ranker::new(library.agents());
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for task in &mission.tasks {
        let named = [
            (task.agent.as_deref(), task.spans.agent, "agent"),
            (task.backup.as_deref(), task.spans.backup, "backup"),
        ];
        for (name, span, key) in named {
            let (Some(name), Some(span)) = (name, span) else {
                continue;
            };
            if library.get(name).is_some() {
                continue;
            }
            let span = SourceSpan::from(span);
            let value = span.offset..span.offset + span.len;
            let missing = format!("task {}: {key} `{name}` is not in the library", task.id);
            match nearest_agent(name, &task.text(), library, &ranker) {
                Some(nearest) => {
                    draft
                        .repairs
                        .push(format!("{missing}; `{nearest}` instead"));
                    edits.push((value, nearest));
                }
                None => {
                    let (range, text) = match own_line(&draft.text, value.clone(), key) {
                        Some(line) => (line, String::new()),
                        None => (value, GENERAL_PURPOSE.to_string()),
                    };
                    draft.repairs.push(format!(
                        "{missing} and none fits; the general-purpose agent runs it"
                    ));
                    edits.push((range, text));
                }
            }
        }
    }
    // From the end, so that earlier offsets stay right.
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    for (range, text) in edits {
        draft.text.replace_range(range, &text);
    }
}

/// The whole line of `key: value` when it holds nothing else (a comment
/// aside), so that it can go without touching its neighbours.
fn own_line(
    text: &str,
    value: std::ops::Range<usize>,
    key: &str,
) -> Option<std::ops::Range<usize>> {
    let start = text[..value.start].rfind('\n').map_or(0, |i| i + 1);
    let end = text[value.end..]
        .find('\n')
        .map_or(text.len(), |i| value.end + i + 1);
    let before = text[start..value.start].trim();
    let after = text[value.end..end].trim();
    let alone = before == format!("{key}:") && (after.is_empty() || after.starts_with('#'));
    alone.then_some(start..end)
}

/// The library's agent closest to a missing `name`: by spelling (a prefix,
/// or near enough), else by the ranker on the task's text and the name's
/// words; `None` when nothing matches a word.
fn nearest_agent(
    name: &str,
    task_text: &str,
    library: &Library,
    ranker: &Ranker,
) -> Option<String> {
    let lower = name.to_lowercase();
    let spelled = library
        .agents()
        .iter()
        .map(|agent| {
            let other = agent.name.to_lowercase();
            let prefix = other.starts_with(&lower) || lower.starts_with(&other);
            let score = strsim::normalized_damerau_levenshtein(&lower, &other);
            (if prefix { 1.0 + score } else { score }, agent)
        })
        .filter(|(score, _)| *score >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((_, agent)) = spelled {
        return Some(agent.name.clone());
    }
    let query = format!("{} {task_text}", name.replace(['-', '_'], " "));
    ranker
        .rank_top(&query, &AssignContext::default(), 1)
        .into_iter()
        .next()
        .map(|candidate| candidate.name)
}

/// The diagnostics as the planner is shown them when asked again: one line
/// each, with the line of its answer they point at.
pub fn quote_diagnostics(text: &str, diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for diagnostic in diagnostics.iter().filter(|d| d.is_error()) {
        match diagnostic.span {
            Some(span) => {
                out.push_str(&format!(
                    "- line {}, column {}: {}",
                    span.line, span.column, diagnostic.message
                ));
                if let Some(line) = lines.get(span.line.saturating_sub(1)) {
                    out.push_str(&format!("\n    | {}", line.trim_end()));
                }
            }
            None => out.push_str(&format!("- {}", diagnostic.message)),
        }
        if let Some(hint) = &diagnostic.hint {
            out.push_str(&format!("\n    hint: {hint}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
#[path = "draft_tests.rs"]
mod tests;
