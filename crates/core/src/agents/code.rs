//! Stable codes for agent-file diagnostics, so people and tests can grep
//! for them. Each is explained, with an example, in docs/agents.md.

/// Blank lines before the opening `---`.
pub const LEADING_BLANK_LINES: &str = "agent::leading-blank-lines";
/// The whole front matter block is indented.
pub const INDENTED_FRONT_MATTER: &str = "agent::indented-front-matter";
/// The front matter is closed by a rule longer than `---`.
pub const LONG_CLOSING_RULE: &str = "agent::long-closing-rule";
/// The front matter is not valid YAML; it was read line by line instead.
pub const LENIENT_YAML: &str = "agent::lenient-yaml";
/// A key appears twice (only detectable on the line-by-line path; strict
/// YAML rejects the whole block and so lands there too).
pub const DUPLICATE_KEY: &str = "agent::duplicate-key";
/// A front matter line that belongs to no key.
pub const STRAY_LINE: &str = "agent::stray-line";
/// No `name:`; the file stem is used.
pub const MISSING_NAME: &str = "agent::missing-name";
/// A name with spaces, `/`, `.` or other characters Claude Code's own
/// names never have.
pub const UNUSUAL_NAME: &str = "agent::unusual-name";
/// A `model:` that is neither a known alias nor shaped like a model ID.
pub const UNKNOWN_MODEL: &str = "agent::unknown-model";
/// A tool listed more than once.
pub const DUPLICATE_TOOL: &str = "agent::duplicate-tool";
/// `tools:` separated by spaces instead of commas.
pub const SPACE_SEPARATED_TOOLS: &str = "agent::space-separated-tools";
/// A known key holding the wrong kind of value; the default is used.
pub const INVALID_FIELD: &str = "agent::invalid-field";
/// A key that looks like a misspelling of a known one.
pub const UNKNOWN_KEY: &str = "agent::unknown-key";
/// `priority`, `max_parallel` or `dependencies` outside `orchestration:`.
pub const ORCHESTRATION_AT_TOP_LEVEL: &str = "agent::orchestration-at-top-level";
/// `command:` given while `executor:` names another executor.
pub const UNUSED_COMMAND: &str = "agent::unused-command";
/// No Markdown body, so the agent has no system prompt.
pub const EMPTY_PROMPT: &str = "agent::empty-prompt";
/// Another file in the same scope already defines this name.
pub const DUPLICATE_NAME: &str = "agent::duplicate-name";
/// A file in a higher-precedence scope defines the same name.
pub const SHADOWED: &str = "agent::shadowed";
