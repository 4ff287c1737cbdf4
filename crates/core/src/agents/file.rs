//! One agent file's text to an [`Agent`].
//!
//! The rule is Claude Code's: `name` and `description` in the front matter,
//! `model` missing means inherit, `tools` missing means every tool, and the
//! body is the system prompt. Where a file bends the format but its meaning
//! is plain, the agent loads and a warning says what was assumed; where it
//! cannot be read, the file is skipped with a reason.

use super::tree::{Field, Node, Value};
use super::{Agent, Model, Orchestration, Scope, Tools, code, frontmatter};
use crate::diagnostic::{Diagnostic, SourceSpan, nearest};
use crate::priority::Priority;
use serde::Serialize;
use std::collections::HashSet;
use std::fmt;

/// A file that did not become an agent, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub source: String,
    pub scope: Scope,
    pub reason: SkipReason,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.reason)
    }
}

/// Why a file was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SkipReason {
    #[error("the file is empty")]
    Empty,
    #[error("the file holds binary data, not text")]
    Binary,
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    #[error("the file could not be read: {error}")]
    Unreadable { error: String },
    #[error("no front matter: an agent file starts with a `---` line")]
    NoFrontMatter,
    #[error("the front matter opened on line {line} is never closed by a `---` line")]
    Unclosed { line: usize },
    #[error("the front matter has no `description:`, which Claude Code requires")]
    NoDescription,
}

impl SkipReason {
    /// A stable code for the reason, like the warning codes.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::Empty => "agent::skipped-empty",
            SkipReason::Binary => "agent::skipped-binary",
            SkipReason::NotUtf8 => "agent::skipped-not-utf8",
            SkipReason::Unreadable { .. } => "agent::skipped-unreadable",
            SkipReason::NoFrontMatter => "agent::skipped-no-front-matter",
            SkipReason::Unclosed { .. } => "agent::skipped-unclosed",
            SkipReason::NoDescription => "agent::skipped-no-description",
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            SkipReason::Empty | SkipReason::NoFrontMatter => {
                "if this is an agent, start it with `---`, `name: …`, `description: …`, `---`; otherwise move it out of the agents directory"
            }
            SkipReason::Binary | SkipReason::NotUtf8 => {
                "agent files are UTF-8 Markdown; move other files out of the agents directory"
            }
            SkipReason::Unreadable { .. } => "check the file's permissions",
            SkipReason::Unclosed { .. } => "add a `---` line after the last front matter key",
            SkipReason::NoDescription => {
                "add `description: <when to use this agent>`; the planner matches tasks against it"
            }
        }
    }
}

/// Keys Claude Code or techlead read.
const KNOWN_KEYS: [&str; 12] = [
    "name",
    "description",
    "tools",
    "model",
    "color",
    "orchestration",
    "executor",
    "command",
    "skills",
    "priority",
    "max_parallel",
    "dependencies",
];

/// Keys that other tools read (Claude Code's newer fields) or that libraries
/// add for their own catalogues. techlead has no use for them, and they are
/// not typos, so they pass without a word.
const OTHER_TOOLS_KEYS: [&str; 17] = [
    "permissionMode",
    "disallowedTools",
    "hooks",
    "mcpServers",
    "maxTurns",
    "memory",
    "background",
    "isolation",
    "effort",
    "initialPrompt",
    "category",
    "version",
    "author",
    "tags",
    "expertise_level",
    "license",
    "icon",
];

const ORCHESTRATION_KEYS: [&str; 3] = ["priority", "max_parallel", "dependencies"];

/// Claude Code's model aliases (besides `inherit`).
const MODEL_ALIASES: [&str; 6] = [
    "sonnet",
    "opus",
    "haiku",
    "opusplan",
    "sonnet[1m]",
    "opus[1m]",
];

/// Whether the line reader should treat `key:` in column 1 as a key even
/// inside example dialogue.
pub(crate) fn is_recognised_key(key: &str) -> bool {
    KNOWN_KEYS.contains(&key) || OTHER_TOOLS_KEYS.contains(&key)
}

/// Parses one agent file. `source` names the file (its stem is the name of
/// last resort); diagnostics are warnings about what was assumed.
pub fn parse_agent(
    source: &str,
    scope: Scope,
    text: &str,
) -> Result<(Agent, Vec<Diagnostic>), Skipped> {
    let skip = |reason| Skipped {
        source: source.to_string(),
        scope,
        reason,
    };
    if text.contains('\0') {
        return Err(skip(SkipReason::Binary));
    }
    let split = frontmatter::split(text).map_err(skip)?;
    let (fields, notes) = frontmatter::read(text, &split);
    let mut reader = Reader {
        text,
        notes: split.notes.clone(),
    };
    reader.notes.extend(notes);
    let agent = reader
        .agent(source, scope, &split, &fields)
        .ok_or_else(|| skip(SkipReason::NoDescription))?;
    let mut notes = reader.notes;
    notes.sort_by_key(|note| note.span.map_or(0, |span| span.line));
    Ok((agent, notes))
}

/// Turns fields into agent parts, collecting warnings on the way.
struct Reader<'a> {
    text: &'a str,
    notes: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn warn(&mut self, code: &'static str, line: usize, message: String) -> &mut Diagnostic {
        let span = SourceSpan::line_of(self.text, line);
        self.notes.push(Diagnostic::warning(code, message).at(span));
        let last = self.notes.len() - 1;
        &mut self.notes[last]
    }

    fn hint(&mut self, code: &'static str, line: usize, message: String, hint: &str) {
        let note = self.warn(code, line, message);
        note.hint = Some(hint.to_string());
    }

    fn agent(
        &mut self,
        source: &str,
        scope: Scope,
        split: &frontmatter::Split<'_>,
        fields: &[Field],
    ) -> Option<Agent> {
        let get = |key: &str| fields.iter().find(|field| field.key == key);
        let description = self.description(get("description"))?;
        self.check_keys(fields);
        let name = self.name(get("name"), source, split.open_line);
        let command = get("command").and_then(|field| self.command(field));
        let executor = self.executor(get("executor"), command.is_some());
        let prompt = split.body.trim().to_string();
        if prompt.is_empty() {
            self.hint(
                code::EMPTY_PROMPT,
                split.open_line,
                "the file has no Markdown body, so the agent has no system prompt".into(),
                "write the agent's instructions below the closing `---`",
            );
        }
        Some(Agent {
            name,
            description,
            model: get("model").map_or(Model::Inherit, |field| self.model(field)),
            tools: get("tools").map_or(Tools::All, |field| self.tools(field)),
            prompt,
            source: source.to_string(),
            scope,
            color: get("color").and_then(|field| self.text(field)),
            orchestration: self.orchestration(fields),
            executor,
            command,
            skills: get("skills").map_or_else(Vec::new, |field| self.words(field)),
        })
    }

    fn description(&mut self, field: Option<&Field>) -> Option<String> {
        let text = self.text(field?)?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    }

    /// Keys nobody reads are fine; keys that look like a misspelt known key
    /// are worth a word, since the person meant something by them.
    fn check_keys(&mut self, fields: &[Field]) {
        for field in fields {
            let key = field.key.as_str();
            if is_recognised_key(key) {
                continue;
            }
            if let Some(known) = nearest(key, KNOWN_KEYS) {
                self.hint(
                    code::UNKNOWN_KEY,
                    field.line,
                    format!("unknown key `{key}` is ignored"),
                    &format!("did you mean `{known}`?"),
                );
            }
        }
    }

    /// Text of a field; another kind of value is reported and ignored.
    fn text(&mut self, field: &Field) -> Option<String> {
        match &field.value.value {
            Value::Text(text) => Some(text.clone()),
            Value::Null => None,
            other => {
                let kind = other.kind();
                self.warn(
                    code::INVALID_FIELD,
                    field.line,
                    format!("`{}` should be text, not {kind}; ignored", field.key),
                );
                None
            }
        }
    }

    fn name(&mut self, field: Option<&Field>, source: &str, open_line: usize) -> String {
        let written = field
            .and_then(|field| self.text(field))
            .map(|name| name.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|name| !name.is_empty());
        let Some(name) = written else {
            let stem = file_stem(source);
            self.hint(
                code::MISSING_NAME,
                field.map_or(open_line, |field| field.line),
                format!("no `name:`; the agent is named `{stem}` after its file"),
                &format!("add `name: {stem}`; Claude Code does not load agents without a name"),
            );
            return stem;
        };
        if !is_plain_name(&name) {
            let line = field.map_or(open_line, |field| field.line);
            self.hint(
                code::UNUSUAL_NAME,
                line,
                format!("the name `{name}` has characters Claude Code names do not use (spaces, `/`, `.`, …); kept as written"),
                &format!("tasks can name it as written or as `{}`; consider `name: {}`", slug(&name), slug(&name)),
            );
        }
        name
    }

    fn model(&mut self, field: &Field) -> Model {
        let Some(written) = self.text(field) else {
            return Model::Inherit;
        };
        let written = written.trim();
        let lower = written.to_ascii_lowercase();
        if lower.is_empty() || lower == "inherit" {
            return Model::Inherit;
        }
        if MODEL_ALIASES.contains(&lower.as_str()) {
            return Model::Alias(lower);
        }
        if !looks_like_model_id(written) {
            self.hint(
                code::UNKNOWN_MODEL,
                field.line,
                format!("model `{written}` is not a known alias; passed to the executor as a model ID"),
                "use `sonnet`, `opus`, `haiku`, `inherit` or a full model ID such as `claude-sonnet-4-20250514`",
            );
        }
        Model::Id(written.to_string())
    }

    fn tools(&mut self, field: &Field) -> Tools {
        let names = match &field.value.value {
            Value::Null => return Tools::All,
            Value::Text(text) => self.tool_text(field, text),
            Value::List(items) => items
                .iter()
                .filter_map(|item| self.item_text(field, item))
                .flat_map(|text| split_top_level(&text, ','))
                .collect(),
            Value::Map(_) => {
                self.warn(
                    code::INVALID_FIELD,
                    field.line,
                    "`tools` should be a comma-separated list, not a mapping; every tool is allowed".into(),
                );
                return Tools::All;
            }
        };
        if names.iter().any(|name| name == "*") {
            return Tools::All;
        }
        Tools::Only(self.dedup_tools(field, names))
    }

    fn tool_text(&mut self, field: &Field, text: &str) -> Vec<String> {
        let names = split_top_level(text, ',');
        let [single] = names.as_slice() else {
            return names;
        };
        let words = split_top_level(single, ' ');
        if words.len() > 1 {
            self.hint(
                code::SPACE_SEPARATED_TOOLS,
                field.line,
                format!(
                    "`tools` is separated by spaces; read as {} tools",
                    words.len()
                ),
                "separate tool names with commas: `tools: Read, Grep, Bash`",
            );
            return words;
        }
        names
    }

    fn dedup_tools(&mut self, field: &Field, names: Vec<String>) -> Vec<String> {
        let (unique, repeated) = dedup(names);
        if !repeated.is_empty() {
            self.warn(
                code::DUPLICATE_TOOL,
                field.line,
                format!(
                    "`tools` lists {} more than once; kept once",
                    quoted_list(&repeated)
                ),
            );
        }
        unique
    }

    fn item_text(&mut self, field: &Field, item: &Node) -> Option<String> {
        match &item.value {
            Value::Text(text) => Some(text.clone()),
            Value::Null => None,
            other => {
                self.warn(
                    code::INVALID_FIELD,
                    item.line,
                    format!(
                        "an entry of `{}` is {}, not a name; ignored",
                        field.key,
                        other.kind()
                    ),
                );
                None
            }
        }
    }

    /// A list of names, or one comma-separated string of them.
    fn words(&mut self, field: &Field) -> Vec<String> {
        let names = match &field.value.value {
            Value::Null => Vec::new(),
            Value::Text(text) => split_top_level(text, ','),
            Value::List(items) => items
                .iter()
                .filter_map(|item| self.item_text(field, item))
                .flat_map(|text| split_top_level(&text, ','))
                .collect(),
            Value::Map(_) => {
                self.warn(
                    code::INVALID_FIELD,
                    field.line,
                    format!(
                        "`{}` should be a list of names, not a mapping; ignored",
                        field.key
                    ),
                );
                Vec::new()
            }
        };
        dedup(names).0
    }

    fn command(&mut self, field: &Field) -> Option<Vec<String>> {
        let argv: Vec<String> = match &field.value.value {
            Value::Text(text) => text.split_whitespace().map(str::to_string).collect(),
            Value::List(items) => items
                .iter()
                .filter_map(|item| self.item_text(field, item))
                .collect(),
            Value::Null => Vec::new(),
            Value::Map(_) => {
                self.warn(
                    code::INVALID_FIELD,
                    field.line,
                    "`command` should be a list of arguments or a string, not a mapping; ignored"
                        .into(),
                );
                return None;
            }
        };
        if argv.is_empty() {
            self.warn(
                code::INVALID_FIELD,
                field.line,
                "`command` is empty; ignored".into(),
            );
            return None;
        }
        Some(argv)
    }

    /// A `command:` only makes sense for the command executor, so it
    /// implies it; naming another executor next to it is reported.
    fn executor(&mut self, field: Option<&Field>, has_command: bool) -> Option<String> {
        let executor = field
            .and_then(|field| self.text(field))
            .map(|text| text.trim().to_string())
            .filter(|text| !text.is_empty());
        match (executor, has_command) {
            (None, true) => Some("command".to_string()),
            (Some(executor), true) if executor != "command" => {
                let line = field.map_or(1, |field| field.line);
                self.warn(
                    code::UNUSED_COMMAND,
                    line,
                    format!("`command` is ignored because `executor` is `{executor}`"),
                );
                Some(executor)
            }
            (executor, _) => executor,
        }
    }

    fn orchestration(&mut self, fields: &[Field]) -> Orchestration {
        let mut orchestration = Orchestration::default();
        let block = fields.iter().find(|field| field.key == "orchestration");
        let mut set = Vec::new();
        if let Some(block) = block {
            match &block.value.value {
                Value::Map(entries) => {
                    for entry in entries {
                        if self.orchestration_entry(&mut orchestration, entry) {
                            set.push(entry.key.as_str());
                        }
                    }
                }
                Value::Null => {}
                other => {
                    let kind = other.kind();
                    self.warn(
                        code::INVALID_FIELD,
                        block.line,
                        format!("`orchestration` should be a mapping, not {kind}; ignored"),
                    );
                }
            }
        }
        for field in fields {
            if !ORCHESTRATION_KEYS.contains(&field.key.as_str()) {
                continue;
            }
            self.hint(
                code::ORCHESTRATION_AT_TOP_LEVEL,
                field.line,
                format!(
                    "`{}` belongs under `orchestration:`; read as if it were",
                    field.key
                ),
                &format!(
                    "indent it under an `orchestration:` line: `orchestration:\\n  {}: …`",
                    field.key
                ),
            );
            if !set.contains(&field.key.as_str()) {
                self.orchestration_entry(&mut orchestration, field);
            }
        }
        orchestration
    }

    /// Applies one orchestration key; true when it was understood.
    fn orchestration_entry(&mut self, orchestration: &mut Orchestration, entry: &Field) -> bool {
        match entry.key.as_str() {
            "priority" => {
                orchestration.priority = self.priority(entry);
                orchestration.priority.is_some()
            }
            "max_parallel" => {
                orchestration.max_parallel = self.max_parallel(entry);
                orchestration.max_parallel.is_some()
            }
            "dependencies" => {
                orchestration.dependencies = self.words(entry);
                true
            }
            key => {
                let mut note = Diagnostic::warning(
                    code::UNKNOWN_KEY,
                    format!("unknown key `{key}` in `orchestration` is ignored"),
                )
                .at(SourceSpan::line_of(self.text, entry.line));
                note.hint = Some(match nearest(key, ORCHESTRATION_KEYS) {
                    Some(known) => format!("did you mean `{known}`?"),
                    None => "`orchestration` holds `priority`, `max_parallel` and `dependencies`"
                        .to_string(),
                });
                self.notes.push(note);
                false
            }
        }
    }

    fn priority(&mut self, field: &Field) -> Option<Priority> {
        let text = self.text(field)?;
        if let Ok(priority) = text.parse() {
            return Some(priority);
        }
        let names = Priority::ALL.map(Priority::as_str);
        let hint = match nearest(&text.to_ascii_lowercase(), names) {
            Some(known) => format!("did you mean `{known}`?"),
            None => "use critical, high, medium or low".to_string(),
        };
        self.hint(
            code::INVALID_FIELD,
            field.line,
            format!("priority `{text}` is not one of critical, high, medium, low; ignored"),
            &hint,
        );
        None
    }

    fn max_parallel(&mut self, field: &Field) -> Option<u32> {
        let text = self.text(field)?;
        match text.trim().parse::<u32>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                self.warn(
                    code::INVALID_FIELD,
                    field.line,
                    format!("`max_parallel` should be a whole number of at least 1, not `{text}`; ignored"),
                );
                None
            }
        }
    }
}

/// The file name without directories and without `.md`.
fn file_stem(source: &str) -> String {
    let name = source.rsplit(['/', '\\']).next().unwrap_or(source);
    let stem = name.strip_suffix(".md").unwrap_or(name);
    if stem.is_empty() {
        "agent".to_string()
    } else {
        stem.to_string()
    }
}

/// Names as Claude Code writes them: letters, digits, `-`, `_`, and `:` for
/// plugin namespaces.
fn is_plain_name(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'))
}

/// `Python DevOps/CI-CD Expert` → `python-devops-ci-cd-expert`: the form
/// used for forgiving lookups.
pub(crate) fn slug(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

/// Model IDs carry a version (`claude-sonnet-4-5`, `gpt-4o`, `llama3:8b`)
/// or a provider path; a bare word that is not an alias is likely a slip.
fn looks_like_model_id(model: &str) -> bool {
    model.starts_with("claude-")
        || model
            .chars()
            .any(|c| c.is_ascii_digit() || c == '/' || c == ':')
}

/// Splits on `separator` outside parentheses, so `Bash(git add:*, git
/// commit:*)` stays one permission rule.
fn split_top_level(text: &str, separator: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0_usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        let splits = depth == 0 && (c == separator || (separator == ' ' && c.is_whitespace()));
        if splits {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|part| part.trim().to_string())
        .filter(|part| !part.is_empty())
        .collect()
}

/// Keeps the first of each name, in order; also returns the repeated ones.
fn dedup(names: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut seen = HashSet::with_capacity(names.len());
    let mut unique: Vec<String> = Vec::with_capacity(names.len());
    let mut repeated: Vec<String> = Vec::new();
    let mut reported = HashSet::new();
    for name in names {
        if seen.insert(name.clone()) {
            unique.push(name);
        } else if reported.insert(name.clone()) {
            repeated.push(name);
        }
    }
    (unique, repeated)
}

/// Names for a message; a long list is cut so the message stays readable.
fn quoted_list(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut list = names
        .iter()
        .take(SHOWN)
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        list.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_drop_directories_and_extension() {
        assert_eq!(file_stem("a/b/c-d.md"), "c-d");
        assert_eq!(file_stem("C:\\x\\y.md"), "y");
        assert_eq!(file_stem(""), "agent");
    }

    #[test]
    fn slugs_are_lowercase_words_joined_by_dashes() {
        assert_eq!(
            slug("Python DevOps/CI-CD Expert"),
            "python-devops-ci-cd-expert"
        );
        assert_eq!(slug("v1.2 agent"), "v1-2-agent");
    }

    #[test]
    fn splitting_respects_parentheses() {
        assert_eq!(
            split_top_level("Read, Bash(git add:*, git commit:*),,Grep ", ','),
            ["Read", "Bash(git add:*, git commit:*)", "Grep"]
        );
        assert_eq!(
            split_top_level("Read  Grep\tBash", ' '),
            ["Read", "Grep", "Bash"]
        );
    }

    #[test]
    fn dedup_keeps_first_occurrence_order() {
        let names = ["LS", "Read", "LS", "Bash", "LS"]
            .map(String::from)
            .to_vec();
        let (unique, repeated) = dedup(names);
        assert_eq!(unique, ["LS", "Read", "Bash"]);
        assert_eq!(repeated, ["LS"]);
    }

    #[test]
    fn model_ids_are_recognised_by_shape() {
        assert!(looks_like_model_id("claude-sonnet-4-20250514"));
        assert!(looks_like_model_id("gpt-4o"));
        assert!(looks_like_model_id("qwen2.5-coder:7b"));
        assert!(!looks_like_model_id("fable"));
    }
}
