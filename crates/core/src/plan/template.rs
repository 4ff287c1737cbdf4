//! The deterministic planner behind `techlead plan --objective ...
//! --executor simulate`: a mission file from a template, chosen by the
//! objective's keywords, so that planning works with no model and no
//! network. The templates name agents by the names common Claude Code
//! libraries use; `plan::draft::repair_agents` maps them onto the
//! person's library like any other planner's answer.

use super::template_data::{GENERAL, INCIDENT, MIGRATION, SERVICE, WEB_APP};
use super::yaml_text::{block, scalar};
use crate::priority::Priority;
use jiff::Timestamp;
use std::fmt::Write;

/// The kinds of project the templates cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectKind {
    WebApp,
    Api,
    IncidentResponse,
    Migration,
    /// No keyword matched: design, build, test, review.
    General,
}

impl ProjectKind {
    /// Ties go to the first: an incident is urgent whatever else it says,
    /// a migration of an API is a migration, and a web app usually has an
    /// API of its own.
    const CHOSEN_IN_ORDER: [ProjectKind; 4] = [
        ProjectKind::IncidentResponse,
        ProjectKind::Migration,
        ProjectKind::WebApp,
        ProjectKind::Api,
    ];

    /// The mission's `project_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectKind::WebApp => "web-app",
            ProjectKind::Api => "api",
            ProjectKind::IncidentResponse => "incident-response",
            ProjectKind::Migration => "migration",
            ProjectKind::General => "general",
        }
    }

    /// Words and phrases that point at the kind. A trailing `*` matches any
    /// word that starts with the rest (`migrat*`: migrate, migrating...).
    fn keywords(self) -> &'static [&'static str] {
        match self {
            ProjectKind::WebApp => &[
                "web app*",
                "webapp*",
                "website*",
                "web site*",
                "web application*",
                "frontend",
                "front-end",
                "front end",
                "dashboard*",
                "react",
                "vue",
                "svelte",
                "angular",
                "next.js",
                "ui",
                "spa",
                "landing page*",
                "portal*",
                "page",
                "pages",
                "signup",
                "sign-up",
                "login",
                "browser*",
            ],
            ProjectKind::Api => &[
                "api*",
                "rest",
                "restful",
                "graphql",
                "grpc",
                "endpoint*",
                "backend",
                "back-end",
                "microservice*",
                "service*",
                "webhook*",
                "sdk*",
                "openapi",
            ],
            ProjectKind::IncidentResponse => &[
                "incident*",
                "outage*",
                "sev1",
                "sev-1",
                "sev 1",
                "p0",
                "p1",
                "postmortem*",
                "post-mortem*",
                "hotfix*",
                "breach*",
                "5xx",
                "500 errors",
                "is down",
                "went down",
                "downtime",
                "degraded",
                "on-call",
                "pager*",
                "production issue*",
                "data loss",
                "leak*",
                "crash*",
            ],
            ProjectKind::Migration => &[
                "migrat*",
                "upgrad*",
                "port to",
                "porting",
                "move from",
                "move to",
                "moving from",
                "moving to",
                "legacy",
                "deprecat*",
                "replatform*",
                "re-platform*",
                "convert*",
                "rewrite",
                "switch from",
                "replace",
            ],
            ProjectKind::General => &[],
        }
    }
}

/// The template the objective points at, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub kind: ProjectKind,
    /// The keywords of the chosen kind found in the objective, in the
    /// order of the keyword list; empty for the general template.
    pub matched: Vec<&'static str>,
}

impl Choice {
    /// One line for the person: which template and why.
    pub fn reason(&self) -> String {
        match self.kind {
            ProjectKind::General => "no project-type keyword in the objective (web app, API, \
                incident, migration): the general template (design, build, test, review)"
                .to_string(),
            kind => format!(
                "the {} template, for: {}",
                kind.as_str(),
                self.matched
                    .iter()
                    .map(|k| k.trim_end_matches('*'))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The template for an objective: the kind with the most keywords found,
/// ties broken by [`ProjectKind::CHOSEN_IN_ORDER`]; the general template
/// when none is found.
pub fn choose(objective: &str) -> Choice {
    let words = words(objective);
    let mut best = Choice {
        kind: ProjectKind::General,
        matched: Vec::new(),
    };
    for kind in ProjectKind::CHOSEN_IN_ORDER {
        let matched: Vec<&'static str> = kind
            .keywords()
            .iter()
            .copied()
            .filter(|keyword| contains(&words, keyword))
            .collect();
        if matched.len() > best.matched.len() {
            best = Choice { kind, matched };
        }
    }
    best
}

/// Lower-case words: letters and digits, split at everything else.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// True when the keyword's words appear in a row in `words`.
fn contains(words: &[String], keyword: &str) -> bool {
    let (keyword, prefix) = match keyword.strip_suffix('*') {
        Some(stem) => (stem, true),
        None => (keyword, false),
    };
    let wanted = self::words(keyword);
    let Some(last) = wanted.len().checked_sub(1) else {
        return false;
    };
    words.windows(wanted.len()).any(|window| {
        window
            .iter()
            .zip(&wanted)
            .enumerate()
            .all(|(i, (word, want))| {
                if i == last && prefix {
                    word.starts_with(want.as_str())
                } else {
                    word == want
                }
            })
    })
}

/// A task of a template.
pub(super) struct TaskTemplate {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub agent: &'static str,
    pub priority: Priority,
    pub hours: f64,
    pub depends_on: &'static [&'static str],
}

/// A phase of a template.
pub(super) struct PhaseTemplate {
    pub name: &'static str,
    pub gates: &'static [&'static str],
    pub tasks: &'static [TaskTemplate],
}

/// A whole template.
pub(super) struct Template {
    pub phases: &'static [PhaseTemplate],
    pub done: &'static [&'static str],
}

fn template(kind: ProjectKind) -> &'static Template {
    match kind {
        ProjectKind::WebApp => &WEB_APP,
        ProjectKind::Api => &SERVICE,
        ProjectKind::IncidentResponse => &INCIDENT,
        ProjectKind::Migration => &MIGRATION,
        ProjectKind::General => &GENERAL,
    }
}

/// What a template is filled in with.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub objective: &'a str,
    pub deadline: Option<Timestamp>,
    /// The mission's default executor.
    pub executor: &'a str,
}

/// The mission file (YAML text) of `kind` for a request.
pub fn mission_text(kind: ProjectKind, request: &Request<'_>) -> String {
    let template = template(kind);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_mission(&mut out, kind, template, request);
    out
}

fn write_mission(
    out: &mut String,
    kind: ProjectKind,
    template: &Template,
    request: &Request<'_>,
) -> std::fmt::Result {
    writeln!(
        out,
        "# Planned by techlead from the {} template.",
        kind.as_str()
    )?;
    writeln!(out, "mission:")?;
    writeln!(out, "  name: {}", mission_name(request.objective))?;
    writeln!(out, "  objective: {}", block(request.objective.trim(), 4))?;
    writeln!(out, "  project_type: {}", kind.as_str())?;
    if let Some(deadline) = request.deadline {
        writeln!(out, "  deadline: {deadline}")?;
    }
    writeln!(out, "  defaults:")?;
    writeln!(out, "    executor: {}", scalar(request.executor))?;
    writeln!(out, "    max_parallel: 3")?;
    writeln!(out, "  definition_of_done:")?;
    for item in template.done {
        writeln!(out, "    - {}", scalar(item))?;
    }
    writeln!(out, "\nphases:")?;
    for phase in template.phases {
        writeln!(out, "  - name: {}", scalar(phase.name))?;
        if !phase.gates.is_empty() {
            let gates: Vec<String> = phase.gates.iter().map(|g| scalar(g)).collect();
            writeln!(out, "    gates: [{}]", gates.join(", "))?;
        }
        writeln!(out, "    tasks:")?;
        for task in phase.tasks {
            writeln!(out, "      - id: {}", task.id)?;
            writeln!(out, "        title: {}", scalar(task.title))?;
            writeln!(out, "        description: {}", scalar(task.description))?;
            writeln!(out, "        agent: {}", task.agent)?;
            writeln!(out, "        priority: {}", task.priority.as_str())?;
            writeln!(out, "        estimate: {}", task.hours)?;
            if !task.depends_on.is_empty() {
                writeln!(out, "        depends_on: [{}]", task.depends_on.join(", "))?;
            }
        }
    }
    Ok(())
}

/// A mission name from the objective: its first few words, lower case,
/// joined by `-` ("Build a booking web app" → `build-booking-web-app`).
pub fn mission_name(objective: &str) -> String {
    const FILLER: [&str; 8] = ["a", "an", "the", "to", "of", "for", "and", "our"];
    let name = words(objective)
        .into_iter()
        .filter(|w| !FILLER.contains(&w.as_str()) && w.is_ascii())
        .take(5)
        .collect::<Vec<_>>()
        .join("-");
    if name.is_empty() {
        "planned-mission".to_string()
    } else {
        name
    }
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
