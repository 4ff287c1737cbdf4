//! A task's kind: what sort of work it is, from a small fixed vocabulary,
//! so that "who succeeds at what" has a "what" that repeats across
//! missions. A mission file may say it (`kind: test`); otherwise it is
//! read from the task's title, then its description (docs/history.md).

use super::super::plan::text::{self, Style};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::OnceLock;

/// What sort of work a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Building something new: a feature, an endpoint, a page.
    Implement,
    /// Writing or repairing tests.
    Test,
    /// Repairing a bug or a regression.
    Fix,
    /// Documentation: guides, READMEs, references.
    Docs,
    /// Reading someone's work and judging it: reviews, audits.
    Review,
    /// Deciding the shape before building: architecture, schemas, mock-ups.
    Design,
    /// Moving data, schemas or code to something new: migrations, upgrades.
    Migrate,
    /// Getting work to where it runs: releases, pipelines, infrastructure.
    Deploy,
    /// Finding out: investigations, spikes, comparisons.
    Research,
    /// Nothing in the title or description says.
    Other,
}

impl TaskKind {
    pub const ALL: [TaskKind; 10] = [
        TaskKind::Implement,
        TaskKind::Test,
        TaskKind::Fix,
        TaskKind::Docs,
        TaskKind::Review,
        TaskKind::Design,
        TaskKind::Migrate,
        TaskKind::Deploy,
        TaskKind::Research,
        TaskKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Implement => "implement",
            TaskKind::Test => "test",
            TaskKind::Fix => "fix",
            TaskKind::Docs => "docs",
            TaskKind::Review => "review",
            TaskKind::Design => "design",
            TaskKind::Migrate => "migrate",
            TaskKind::Deploy => "deploy",
            TaskKind::Research => "research",
            TaskKind::Other => "other",
        }
    }

    /// The kind a mission file names, by its name.
    pub fn parse(name: &str) -> Option<TaskKind> {
        TaskKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kind a task's texts suggest: the first telling word of the
    /// title, else of the description, else [`TaskKind::Other`]. Words of
    /// every kind but `implement` tell more than the generic verbs of
    /// building (`add`, `build`, `write`), so "Write tests for login" is
    /// `test`, while the first specific word wins among the others: "Fix
    /// failing tests" is `fix`, "Document the deploy" is `docs`.
    pub fn infer(title: &str, description: &str) -> TaskKind {
        infer_from(title)
            .or_else(|| infer_from(description))
            .unwrap_or(TaskKind::Other)
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The words that tell each kind, as written (matched by their stems).
const CUES: &[(TaskKind, &[&str])] = &[
    (
        TaskKind::Fix,
        &[
            "fix",
            "bug",
            "bugfix",
            "hotfix",
            "repair",
            "patch",
            "regression",
            "crash",
            "broken",
            "debug",
            "flaky",
            "incident",
            "outage",
            "error",
            "failing",
        ],
    ),
    (
        TaskKind::Test,
        &[
            "test",
            "tests",
            "testing",
            "e2e",
            "coverage",
            "qa",
            "cypress",
            "playwright",
            "property",
            "fuzz",
        ],
    ),
    (
        TaskKind::Docs,
        &[
            "docs",
            "documentation",
            "document",
            "readme",
            "guide",
            "tutorial",
            "changelog",
            "handbook",
            "runbook",
            "manual",
        ],
    ),
    (
        TaskKind::Review,
        &["review", "audit", "inspect", "approve", "assess"],
    ),
    (
        TaskKind::Design,
        &[
            "design",
            "architecture",
            "architect",
            "wireframe",
            "mockup",
            "prototype",
            "schema",
            "rfc",
            "adr",
            "specify",
            "specification",
            "model",
        ],
    ),
    (
        TaskKind::Migrate,
        &[
            "migrate",
            "migration",
            "upgrade",
            "port",
            "convert",
            "backfill",
            "import",
        ],
    ),
    (
        TaskKind::Deploy,
        &[
            "deploy",
            "deployment",
            "release",
            "ship",
            "rollout",
            "provision",
            "infrastructure",
            "pipeline",
            "ci",
            "cd",
            "publish",
            "kubernetes",
            "terraform",
            "helm",
            "docker",
            "monitoring",
            "alerting",
        ],
    ),
    (
        TaskKind::Research,
        &[
            "research",
            "investigate",
            "investigation",
            "explore",
            "evaluate",
            "spike",
            "analyse",
            "analyze",
            "analysis",
            "compare",
            "survey",
            "benchmark",
            "profile",
        ],
    ),
    (
        TaskKind::Implement,
        &[
            "implement",
            "add",
            "build",
            "create",
            "develop",
            "write",
            "integrate",
            "support",
            "wire",
            "refactor",
            "extend",
            "endpoint",
            "feature",
            "page",
            "api",
            "ui",
            "cli",
        ],
    ),
];

/// Stem -> kind, built once from [`CUES`].
fn cue_stems() -> &'static [(String, TaskKind)] {
    static STEMS: OnceLock<Vec<(String, TaskKind)>> = OnceLock::new();
    STEMS.get_or_init(|| {
        let mut stems: Vec<(String, TaskKind)> = Vec::new();
        for &(kind, words) in CUES {
            for &word in words {
                let stem = text::stem(word).into_owned();
                if !stems.iter().any(|(s, _)| *s == stem) {
                    stems.push((stem, kind));
                }
            }
        }
        stems
    })
}

/// The first specific kind a text's words tell, else the first
/// `implement` cue, else nothing.
fn infer_from(text: &str) -> Option<TaskKind> {
    let stems = cue_stems();
    let mut generic = None;
    let mut specific = None;
    text::for_each_word(text, Style::Prose, |word| {
        if specific.is_some() {
            return;
        }
        let stem = text::stem(word);
        match stems.iter().find(|(s, _)| *s == stem).map(|&(_, k)| k) {
            Some(TaskKind::Implement) => generic = generic.or(Some(TaskKind::Implement)),
            Some(kind) => specific = Some(kind),
            None => {}
        }
    });
    specific.or(generic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(title: &str) -> TaskKind {
        TaskKind::infer(title, "")
    }

    #[test]
    fn the_first_specific_word_of_the_title_decides() {
        assert_eq!(kind("Fix failing login tests"), TaskKind::Fix);
        assert_eq!(kind("Write tests for the booking API"), TaskKind::Test);
        assert_eq!(kind("Document the deployment process"), TaskKind::Docs);
        assert_eq!(kind("Deploy the docs site"), TaskKind::Deploy);
        assert_eq!(kind("Review the migration plan"), TaskKind::Review);
        assert_eq!(kind("Migrating users to PostgreSQL 16"), TaskKind::Migrate);
        assert_eq!(kind("Design the database schema"), TaskKind::Design);
        assert_eq!(kind("Investigate slow checkout"), TaskKind::Research);
    }

    #[test]
    fn generic_building_verbs_are_implement() {
        assert_eq!(kind("Add OAuth2 login"), TaskKind::Implement);
        assert_eq!(kind("Build the booking endpoint"), TaskKind::Implement);
        assert_eq!(kind("Add integration tests"), TaskKind::Test);
    }

    #[test]
    fn the_description_speaks_when_the_title_is_silent() {
        assert_eq!(
            TaskKind::infer("Login form", "Repair the crash on submit"),
            TaskKind::Fix
        );
        assert_eq!(
            TaskKind::infer("Login form", "Nothing telling"),
            TaskKind::Other
        );
        assert_eq!(
            TaskKind::infer("Add a login page", "fix the old one first"),
            TaskKind::Implement
        );
    }

    #[test]
    fn names_round_trip() {
        for kind in TaskKind::ALL {
            assert_eq!(TaskKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(TaskKind::parse("chore"), None);
    }
}
