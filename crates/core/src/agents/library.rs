//! The agents a mission can use: every file parsed, precedence applied,
//! and lookups that forgive case and punctuation.
//!
//! Precedence follows Claude Code: for one name, an explicit `--agents`
//! directory beats the project's `.claude/agents/`, which beats the user's
//! `~/.claude/agents/`, which beats the built-in general-purpose agent.
//! Within one scope the file whose source sorts first wins, so the outcome
//! never depends on the order a directory walk happened to return.

use super::file::slug;
use super::{Agent, Model, Orchestration, Scope, Skipped, Tools, code, parse_agent};
use crate::diagnostic::{Diagnostic, nearest};
use serde::Serialize;
use std::collections::HashMap;

/// A warning about one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    pub source: String,
    pub diagnostic: Diagnostic,
}

/// The name under which Claude Code's built-in fallback agent goes.
pub const GENERAL_PURPOSE: &str = "general-purpose";

/// The built-in agent that runs tasks naming an agent nobody defined, as
/// Claude Code's own general-purpose agent does.
pub fn general_purpose() -> Agent {
    Agent {
        name: GENERAL_PURPOSE.to_string(),
        description: "General-purpose agent for researching complex questions, searching for code, and executing multi-step tasks.".to_string(),
        model: Model::Inherit,
        tools: Tools::All,
        prompt: "You are a capable software engineer. Complete the task you are given, \
                 using the tools available, and report what you did and anything left open."
            .to_string(),
        source: "built-in".to_string(),
        scope: Scope::BuiltIn,
        color: None,
        orchestration: Orchestration::default(),
        executor: None,
        command: None,
        skills: Vec::new(),
    }
}

/// What a lookup for a task's agent found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolution<'a> {
    /// An agent of that name (exactly, ignoring case, or ignoring
    /// punctuation).
    Found(&'a Agent),
    /// Nobody defines the name: the general-purpose agent stands in, and
    /// the caller should say so and pass on what the task asked for.
    Fallback {
        agent: &'a Agent,
        requested: &'a str,
        /// A defined name close to the requested one, for a "did you
        /// mean" hint.
        did_you_mean: Option<&'a str>,
    },
}

impl<'a> Resolution<'a> {
    pub fn agent(&self) -> &'a Agent {
        match self {
            Resolution::Found(agent) | Resolution::Fallback { agent, .. } => agent,
        }
    }

    pub fn is_fallback(&self) -> bool {
        matches!(self, Resolution::Fallback { .. })
    }
}

/// Every agent available to a mission.
#[derive(Debug, Clone)]
pub struct Library {
    /// Sorted by name.
    agents: Vec<Agent>,
    by_name: HashMap<String, usize>,
    skipped: Vec<Skipped>,
    warnings: Vec<Warning>,
    builtin: Agent,
}

impl Default for Library {
    fn default() -> Self {
        LibraryBuilder::default().build()
    }
}

/// Collects files one by one (the engine adds what it read and what it
/// could not read), then resolves precedence in [`LibraryBuilder::build`].
#[derive(Debug, Default)]
pub struct LibraryBuilder {
    loaded: Vec<(Agent, Vec<Diagnostic>)>,
    skipped: Vec<Skipped>,
}

impl LibraryBuilder {
    /// Parses one file's text.
    pub fn add(&mut self, source: impl Into<String>, scope: Scope, text: &str) -> &mut Self {
        let source = source.into();
        match parse_agent(&source, scope, text) {
            Ok(parsed) => self.loaded.push(parsed),
            Err(skipped) => self.skipped.push(skipped),
        }
        self
    }

    /// Records a file that could not be read at all.
    pub fn skip(&mut self, skipped: Skipped) -> &mut Self {
        self.skipped.push(skipped);
        self
    }

    pub fn build(self) -> Library {
        let mut loaded = self.loaded;
        loaded.sort_by(|(a, _), (b, _)| (a.scope, &a.source).cmp(&(b.scope, &b.source)));
        let mut skipped = self.skipped;
        skipped.sort_by(|a, b| (a.scope, &a.source).cmp(&(b.scope, &b.source)));
        let mut winners: Vec<Agent> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut warnings = Vec::new();
        for (agent, notes) in loaded {
            warnings.extend(notes.into_iter().map(|diagnostic| Warning {
                source: agent.source.clone(),
                diagnostic,
            }));
            match by_name.get(&agent.name) {
                Some(&index) => warnings.push(lost(&agent, &winners[index])),
                None => {
                    by_name.insert(agent.name.clone(), winners.len());
                    winners.push(agent);
                }
            }
        }
        winners.sort_by(|a, b| a.name.cmp(&b.name));
        let by_name = winners
            .iter()
            .enumerate()
            .map(|(index, agent)| (agent.name.clone(), index))
            .collect();
        Library {
            agents: winners,
            by_name,
            skipped,
            warnings,
            builtin: general_purpose(),
        }
    }
}

/// The warning for a file whose name an earlier file already took.
fn lost(loser: &Agent, winner: &Agent) -> Warning {
    let diagnostic = if loser.scope == winner.scope {
        Diagnostic::warning(
            code::DUPLICATE_NAME,
            format!(
                "agent `{}` is also defined in {}, which wins; this file is ignored",
                loser.name, winner.source
            ),
        )
        .hint("rename one of them; within one directory the path that sorts first wins")
    } else {
        Diagnostic::warning(
            code::SHADOWED,
            format!(
                "agent `{}` is shadowed by the {} agent in {}",
                loser.name,
                scope_name(winner.scope),
                winner.source
            ),
        )
        .hint("explicit directories beat project agents, which beat user agents")
    };
    Warning {
        source: loser.source.clone(),
        diagnostic,
    }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Explicit => "explicitly given",
        Scope::Project => "project",
        Scope::User => "user",
        Scope::BuiltIn => "built-in",
    }
}

impl Library {
    pub fn builder() -> LibraryBuilder {
        LibraryBuilder::default()
    }

    /// Parses every `(source, scope, text)` and resolves precedence.
    pub fn from_texts<S, T>(files: impl IntoIterator<Item = (S, Scope, T)>) -> Library
    where
        S: Into<String>,
        T: AsRef<str>,
    {
        let mut builder = LibraryBuilder::default();
        for (source, scope, text) in files {
            builder.add(source, scope, text.as_ref());
        }
        builder.build()
    }

    /// The loaded agents that won precedence, sorted by name. The built-in
    /// general-purpose agent is not among them unless a file defines it.
    pub fn agents(&self) -> &[Agent] {
        &self.agents
    }

    /// Files that did not become agents, sorted by scope and source.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Warnings about loaded files, grouped by file in precedence order.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    pub fn len(&self) -> usize {
        self.agents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// The agent a task names: exactly, else ignoring case, else ignoring
    /// punctuation (`Python Testing Expert` is found as
    /// `python-testing-expert`). A loose match that fits several agents
    /// finds none, rather than guessing.
    pub fn get(&self, name: &str) -> Option<&Agent> {
        if let Some(&index) = self.by_name.get(name) {
            return self.agents.get(index);
        }
        self.unique(|agent| agent.name.eq_ignore_ascii_case(name))
            .or_else(|| {
                let wanted = slug(name);
                self.unique(|agent| !wanted.is_empty() && slug(&agent.name) == wanted)
            })
    }

    fn unique(&self, matches: impl Fn(&Agent) -> bool) -> Option<&Agent> {
        let mut found = self.agents.iter().filter(|agent| matches(agent));
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// The general-purpose agent: a file's own `general-purpose` if one was
    /// loaded, else the built-in one.
    pub fn general_purpose(&self) -> &Agent {
        self.by_name
            .get(GENERAL_PURPOSE)
            .and_then(|&index| self.agents.get(index))
            .unwrap_or(&self.builtin)
    }

    /// The agent to run a task naming `name`, falling back to the
    /// general-purpose agent when nobody defines it.
    pub fn resolve<'a>(&'a self, name: &'a str) -> Resolution<'a> {
        if let Some(agent) = self.get(name) {
            return Resolution::Found(agent);
        }
        Resolution::Fallback {
            agent: self.general_purpose(),
            requested: name,
            did_you_mean: nearest(name, self.agents.iter().map(|agent| agent.name.as_str())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> String {
        format!("---\nname: {name}\ndescription: does {name} things\n---\nPrompt of {name}\n")
    }

    #[test]
    fn precedence_is_explicit_then_project_then_user() {
        let library = Library::from_texts([
            ("u/a.md", Scope::User, file("a")),
            ("p/a.md", Scope::Project, file("a")),
            ("e/a.md", Scope::Explicit, file("a")),
        ]);
        assert_eq!(library.len(), 1);
        assert_eq!(library.agents()[0].source, "e/a.md");
        let codes: Vec<_> = library
            .warnings()
            .iter()
            .map(|w| (w.source.as_str(), w.diagnostic.code))
            .collect();
        assert_eq!(
            codes,
            [("p/a.md", code::SHADOWED), ("u/a.md", code::SHADOWED)]
        );
    }

    #[test]
    fn within_a_scope_the_first_sorted_source_wins() {
        let library = Library::from_texts([
            ("dir/b.md", Scope::Project, file("x")),
            ("dir/a.md", Scope::Project, file("x")),
        ]);
        assert_eq!(
            library.get("x").map(|a| a.source.as_str()),
            Some("dir/a.md")
        );
        assert_eq!(library.warnings()[0].source, "dir/b.md");
        assert_eq!(library.warnings()[0].diagnostic.code, code::DUPLICATE_NAME);
    }

    #[test]
    fn lookups_forgive_case_and_punctuation_but_not_ambiguity() {
        let library = Library::from_texts([
            ("a.md", Scope::Project, file("Python Testing Expert")),
            ("b.md", Scope::Project, file("code-reviewer")),
            ("c.md", Scope::Project, file("Code-Reviewer")),
        ]);
        assert!(library.get("python testing expert").is_some());
        assert!(library.get("python-testing-expert").is_some());
        assert_eq!(
            library.get("Code-Reviewer").map(|a| a.source.as_str()),
            Some("c.md")
        );
        assert!(library.get("CODE-REVIEWER").is_none());
    }

    #[test]
    fn missing_agents_resolve_to_general_purpose() {
        let library = Library::from_texts([("a.md", Scope::Project, file("code-reviewer"))]);
        let resolution = library.resolve("code-reviewr");
        assert!(resolution.is_fallback());
        assert_eq!(resolution.agent().name, GENERAL_PURPOSE);
        assert_eq!(resolution.agent().scope, Scope::BuiltIn);
        assert!(matches!(
            resolution,
            Resolution::Fallback {
                did_you_mean: Some("code-reviewer"),
                ..
            }
        ));
        assert!(!library.resolve("code-reviewer").is_fallback());
    }

    #[test]
    fn a_file_may_define_its_own_general_purpose_agent() {
        let library = Library::from_texts([("gp.md", Scope::User, file(GENERAL_PURPOSE))]);
        assert_eq!(library.general_purpose().source, "gp.md");
    }

    #[test]
    fn skipped_files_are_listed_with_their_reason() {
        let library = Library::from_texts([("r.md", Scope::Project, "# Readme\n")]);
        assert!(library.is_empty());
        assert_eq!(
            library.skipped()[0].to_string(),
            "r.md: no front matter: an agent file starts with a `---` line"
        );
    }
}
