//! The line reader used when front matter is not valid YAML.
//!
//! A line in column 1 of the form `key: value` starts a key; every other
//! line continues the key before it. That is how people read these headers,
//! and it is what they meant in every broken library we have seen: the
//! breakage is nearly always an unquoted `: ` or un-indented example
//! dialogue inside `description`. Each key's lines are then tried as YAML on
//! their own, so only the broken key is read as raw text.
//!
//! Example dialogue (`user: "…"`, `Context: …`) also looks like `key:
//! value`, so an unknown key starts a new entry only when it is not a
//! dialogue label and no `<example>`-style tag is open.

use super::file::is_recognised_key;
use super::tree::{self, Node, Value};

/// The lines of one top-level key.
#[derive(Debug)]
pub(crate) struct Chunk<'a> {
    pub key: &'a str,
    /// 1-based file line of the key.
    pub line: usize,
    /// The key's line, then its continuation lines.
    pub lines: Vec<&'a str>,
}

/// Labels of example dialogue that sit in column 1 inside descriptions.
const DIALOGUE_LABELS: [&str; 8] = [
    "user",
    "assistant",
    "human",
    "ai",
    "context",
    "commentary",
    "example",
    "examples",
];

/// Splits `yaml` (whose first line is file line `first_line`) into keys.
/// Also returns the file lines of content that precedes every key.
pub(crate) fn chunks(yaml: &str, first_line: usize) -> (Vec<Chunk<'_>>, Vec<usize>) {
    let mut chunks: Vec<Chunk<'_>> = Vec::new();
    let mut stray = Vec::new();
    let mut open_tags = 0_i64;
    for (index, line) in yaml.lines().enumerate() {
        let number = first_line + index;
        let key = key_of(line).filter(|key| starts_entry(key, open_tags));
        match (key, chunks.last_mut()) {
            (Some(key), _) => {
                open_tags = 0;
                chunks.push(Chunk {
                    key,
                    line: number,
                    lines: vec![line],
                });
            }
            (None, Some(chunk)) => chunk.lines.push(line),
            (None, None) if is_ignorable(line) => {}
            (None, None) => stray.push(number),
        }
        open_tags = (open_tags + tag_balance(line)).max(0);
    }
    (chunks, stray)
}

fn starts_entry(key: &str, open_tags: i64) -> bool {
    if is_recognised_key(key) {
        return true;
    }
    let label = DIALOGUE_LABELS
        .iter()
        .any(|label| label.eq_ignore_ascii_case(key));
    !label && open_tags == 0
}

fn is_ignorable(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.is_empty() || trimmed.starts_with('#')
}

/// The key of a `key: value` line in column 1, if the line is one.
fn key_of(line: &str) -> Option<&str> {
    let colon = line.find(':')?;
    let key = line[..colon].trim_end();
    let mut chars = key.chars();
    let first = chars.next()?;
    let is_identifier = (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let rest = &line[colon + 1..];
    let separated = rest.is_empty() || rest.starts_with([' ', '\t']);
    (is_identifier && separated).then_some(key)
}

/// Opening minus closing `<tag>`s on a line; self-closing tags count zero.
fn tag_balance(line: &str) -> i64 {
    let mut balance = 0;
    let mut rest = line;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        let (closing, name) = match tag.strip_prefix('/') {
            Some(name) => (true, name),
            None => (false, tag),
        };
        let is_name = !name.is_empty()
            && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if is_name {
            balance += if closing { -1 } else { 1 };
        }
        rest = &rest[end + 1..];
    }
    balance
}

/// The chunk's value as YAML, when its lines are valid YAML on their own.
pub(crate) fn value(chunk: &Chunk<'_>) -> Option<Node> {
    let yaml = chunk.lines.join("\n");
    match tree::load(&yaml, chunk.line).ok()?.value {
        Value::Map(mut fields) if fields.len() == 1 && fields[0].key == chunk.key => {
            fields.pop().map(|field| field.value)
        }
        _ => None,
    }
}

/// The chunk's value as the text a person sees: the rest of the key's line
/// and the continuation lines, without common indentation, block
/// indicators or wrapping quotes.
pub(crate) fn raw_text(chunk: &Chunk<'_>) -> String {
    let first = chunk
        .lines
        .first()
        .and_then(|line| line.split_once(':'))
        .map_or("", |(_, value)| value.trim());
    let rest = chunk.lines.get(1..).unwrap_or_default();
    let indent = rest
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let continuation = rest
        .iter()
        .map(|line| line.get(indent..).unwrap_or("").trim_end());
    let folded = first.starts_with('>');
    let mut lines: Vec<&str> = Vec::new();
    if !is_block_indicator(first) && !first.is_empty() {
        lines.push(first);
    }
    lines.extend(continuation);
    let text = if folded {
        fold(&lines)
    } else {
        lines.join("\n")
    };
    unquote(text.trim())
}

fn is_block_indicator(value: &str) -> bool {
    let mut chars = value.chars();
    matches!(chars.next(), Some('|' | '>')) && chars.all(|c| matches!(c, '-' | '+' | '0'..='9'))
}

/// `>` semantics: lines of a paragraph join with spaces, blank lines
/// separate paragraphs.
fn fold(lines: &[&str]) -> String {
    lines
        .split(|line| line.is_empty())
        .map(|paragraph| paragraph.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Strips one pair of wrapping quotes and the escapes a person would have
/// needed inside them.
fn unquote(text: &str) -> String {
    let quoted = |q: char| text.len() >= 2 && text.starts_with(q) && text.ends_with(q);
    if quoted('\'') {
        text[1..text.len() - 1].replace("''", "'")
    } else if quoted('"') {
        text[1..text.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\n", "\n")
            .replace("\\\\", "\\")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(yaml: &str) -> Vec<&str> {
        chunks(yaml, 2).0.iter().map(|chunk| chunk.key).collect()
    }

    #[test]
    fn continuation_lines_belong_to_the_previous_key() {
        let yaml = "name: a\ndescription: Use it. Examples:\n\n<example>\nContext: x\nuser: \"hi\"\nassistant: \"ok\"\n</example>\nmodel: opus\n";
        assert_eq!(keys(yaml), ["name", "description", "model"]);
        let (chunks, _) = chunks(yaml, 2);
        assert_eq!(
            raw_text(&chunks[1]),
            "Use it. Examples:\n\n<example>\nContext: x\nuser: \"hi\"\nassistant: \"ok\"\n</example>"
        );
    }

    #[test]
    fn unknown_keys_start_entries_outside_examples() {
        assert_eq!(
            keys("description: d\ncategory: x\n<example>\nnote: y\n</example>\n"),
            ["description", "category"]
        );
    }

    #[test]
    fn lines_before_any_key_are_stray() {
        let (chunks, stray) = chunks("# comment\nnot a key\nname: a\n", 2);
        assert_eq!(chunks.len(), 1);
        assert_eq!(stray, [3]);
    }

    #[test]
    fn values_valid_on_their_own_stay_typed() {
        let (chunks, _) = chunks("tools:\n  - Read\n  - Bash\ndescription: a: b\n", 2);
        let tools = value(&chunks[0]).map(|node| node.value);
        assert!(matches!(tools, Some(Value::List(ref items)) if items.len() == 2));
        assert_eq!(value(&chunks[1]), None);
    }

    #[test]
    fn raw_text_removes_quotes_indicators_and_indentation() {
        let text = |yaml: &str| raw_text(&chunks(yaml, 2).0[0]);
        assert_eq!(text("description: \"Say: \\\"hi\\\"\"\n"), "Say: \"hi\"");
        assert_eq!(
            text("description: >-\n  one: a\n  two\n\n  three\n"),
            "one: a two\nthree"
        );
        assert_eq!(text("description: |\n  one: a\n    two\n"), "one: a\n  two");
    }

    #[test]
    fn tag_balance_ignores_comparisons_and_self_closing_tags() {
        assert_eq!(tag_balance("<example>Context: a < b"), 1);
        assert_eq!(tag_balance("</example> <br/> x > y"), -1);
    }
}
