//! Agent files: Claude Code subagent definitions (Markdown with YAML front
//! matter) and the library they form.
//!
//! Parsing takes text, never paths on disk: the engine's `library` module
//! walks directories and hands each file's text here. The format and the
//! recovery rules are documented in docs/agents.md.
//!
//! - `frontmatter` finds the `---` fences and reads the YAML between them,
//!   falling back to a line reader when the YAML is not valid;
//! - `file` turns one file's fields into an [`Agent`], or says why the file
//!   was skipped;
//! - `library` gathers many files, applies precedence and answers lookups.

pub mod code;
mod file;
mod frontmatter;
mod lenient;
mod library;
mod tree;

pub use file::{SkipReason, Skipped, parse_agent};
pub use library::{GENERAL_PURPOSE, Library, LibraryBuilder, Resolution, Warning, general_purpose};

use crate::priority::Priority;
use serde::Serialize;

/// One specialist agent, as loaded from its file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agent {
    pub name: String,
    pub description: String,
    pub model: Model,
    pub tools: Tools,
    /// The Markdown body: the agent's system prompt.
    #[serde(skip)]
    pub prompt: String,
    /// Where the agent came from, as the caller named it (a path).
    pub source: String,
    pub scope: Scope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    pub orchestration: Orchestration,
    /// techlead's `executor:` key; `None` means the mission default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    /// For `executor: command`: the program and its arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// techlead's `skills:` key: words the planner matches tasks against.
    pub skills: Vec<String>,
}

/// Which model an agent asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Model {
    /// The user's default model (also what a missing `model:` means).
    Inherit,
    /// A short alias such as `sonnet`, `opus` or `haiku`.
    Alias(String),
    /// A full model ID such as `claude-sonnet-4-20250514`.
    Id(String),
}

impl Model {
    pub fn as_str(&self) -> &str {
        match self {
            Model::Inherit => "inherit",
            Model::Alias(name) | Model::Id(name) => name,
        }
    }
}

/// Which tools an agent may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "names", rename_all = "lowercase")]
pub enum Tools {
    /// No `tools:` key: every tool, as Claude Code does.
    All,
    /// An explicit list, in file order, without duplicates (possibly empty).
    Only(Vec<String>),
}

/// Where an agent file was found. Project agents win over user agents of
/// the same name, as in Claude Code; directories given with `--agents`
/// replace discovery altogether.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// A directory named on the command line or in the mission file.
    Explicit,
    /// `.claude/agents/` of the project.
    Project,
    /// `~/.claude/agents/`.
    User,
    /// Built into techlead (the general-purpose fallback agent).
    BuiltIn,
}

/// The optional `orchestration:` block.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Orchestration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// At most this many tasks on this agent at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u32>,
    /// Agents whose work this agent usually builds on.
    pub dependencies: Vec<String>,
}
