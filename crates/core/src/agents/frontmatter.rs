//! Finding the front matter of an agent file and reading its keys.
//!
//! Claude Code reads the YAML between a leading `---` line and the next
//! `---` line. Real libraries bend that in ways whose meaning is still
//! plain (blank lines before the fence, an indented block, a long `-----`
//! rule as the closing fence, descriptions that are not valid YAML), so
//! those are accepted here with a warning instead of losing the agent.

use super::code;
use super::file::SkipReason;
use super::lenient::{self, Chunk};
use super::tree::{self, Field, Node, Value, YamlError};
use crate::diagnostic::{Diagnostic, SourceSpan};
use std::collections::HashMap;

/// An agent file cut at its fences.
#[derive(Debug)]
pub(crate) struct Split<'a> {
    /// The lines between the fences, without the block's common
    /// indentation, one output line per input line.
    pub yaml: String,
    /// 1-based file line of the opening fence.
    pub open_line: usize,
    /// Everything after the closing fence.
    pub body: &'a str,
    pub notes: Vec<Diagnostic>,
}

impl Split<'_> {
    /// 1-based file line of the first line of `yaml`.
    pub fn first_line(&self) -> usize {
        self.open_line + 1
    }
}

/// One line of the file with its 1-based number and the byte offset just
/// past its newline.
struct Line<'a> {
    number: usize,
    content: &'a str,
    end: usize,
}

fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    text.split_inclusive('\n')
        .scan(0, |end, raw| {
            *end += raw.len();
            Some((*end, raw))
        })
        .enumerate()
        .map(|(index, (end, raw))| Line {
            number: index + 1,
            content: raw.trim_end_matches(['\n', '\r']),
            end,
        })
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// Cuts `text` into front matter and body.
pub(crate) fn split(text: &str) -> Result<Split<'_>, SkipReason> {
    let mut all = lines(text);
    let open = all
        .by_ref()
        .find(|line| !is_blank(line.content))
        .ok_or(SkipReason::Empty)?;
    let opening = open.content.trim_start_matches('\u{feff}');
    if opening.trim() != "---" {
        return Err(SkipReason::NoFrontMatter);
    }
    let indent = indent_of(opening);
    let mut notes = Vec::new();
    if open.number > 1 {
        notes.push(
            Diagnostic::warning(
                code::LEADING_BLANK_LINES,
                format!("{} blank line(s) before the opening `---`", open.number - 1),
            )
            .at(SourceSpan::line_of(text, open.number))
            .hint("start the file with the `---` line; Claude Code may not see this agent"),
        );
    }
    let mut yaml = String::new();
    for line in all {
        if let Some(rule) = closing_fence(line.content, indent) {
            if rule == Fence::LongRule {
                notes.push(
                    Diagnostic::warning(
                        code::LONG_CLOSING_RULE,
                        "the front matter is closed by a long `-----` rule; read as `---`",
                    )
                    .at(SourceSpan::line_of(text, line.number))
                    .hint("close the front matter with exactly `---`"),
                );
            }
            if indent > 0 {
                notes.push(indented_note(text, open.number));
            }
            return Ok(Split {
                yaml,
                open_line: open.number,
                body: text.get(line.end..).unwrap_or(""),
                notes,
            });
        }
        yaml.push_str(dedent(line.content, indent));
        yaml.push('\n');
    }
    Err(SkipReason::Unclosed { line: open.number })
}

fn is_blank(line: &str) -> bool {
    line.trim_start_matches('\u{feff}').trim().is_empty()
}

#[derive(Debug, PartialEq)]
enum Fence {
    Exact,
    LongRule,
}

/// A closing fence sits no deeper than the opening one, so that an
/// indented `---` inside a block scalar of an unindented header does not
/// end it.
fn closing_fence(line: &str, indent: usize) -> Option<Fence> {
    if indent_of(line) > indent {
        return None;
    }
    let trimmed = line.trim();
    if trimmed == "---" {
        Some(Fence::Exact)
    } else if trimmed.len() > 3 && trimmed.bytes().all(|b| b == b'-') {
        Some(Fence::LongRule)
    } else {
        None
    }
}

/// Removes up to `indent` leading blanks, never content.
fn dedent(line: &str, indent: usize) -> &str {
    let blanks = indent_of(line).min(indent);
    &line[blanks..]
}

fn indented_note(text: &str, open_line: usize) -> Diagnostic {
    Diagnostic::warning(
        code::INDENTED_FRONT_MATTER,
        "the front matter block is indented; read it as if it started in column 1",
    )
    .at(SourceSpan::line_of(text, open_line))
    .hint("remove the indentation from the `---` lines and the keys between them")
}

/// Reads the top-level keys of the front matter, strictly as YAML when it
/// is valid and line by line when it is not.
pub(crate) fn read(text: &str, split: &Split<'_>) -> (Vec<Field>, Vec<Diagnostic>) {
    let first_line = split.first_line();
    match tree::load(&split.yaml, first_line) {
        Ok(Node {
            value: Value::Map(fields),
            ..
        }) => repair_non_text(text, split, fields),
        Ok(Node {
            value: Value::Null, ..
        }) => (Vec::new(), Vec::new()),
        Ok(node) => {
            let error = YamlError {
                line: node.line,
                message: format!(
                    "the front matter is {}, not `key: value` lines",
                    node.value.kind()
                ),
            };
            read_leniently(text, split, &error)
        }
        Err(error) => read_leniently(text, split, &error),
    }
}

/// Valid YAML can still turn a description into a mapping (an unquoted
/// `Triggers on: x` on a continuation line). Nobody means a mapping there,
/// so those keys are re-read as the text they look like.
fn repair_non_text(
    text: &str,
    split: &Split<'_>,
    mut fields: Vec<Field>,
) -> (Vec<Field>, Vec<Diagnostic>) {
    let mut notes = Vec::new();
    let (chunks, _) = lenient::chunks(&split.yaml, split.first_line());
    for field in &mut fields {
        let must_be_text = matches!(field.key.as_str(), "name" | "description");
        if !must_be_text || !matches!(field.value.value, Value::Map(_)) {
            continue;
        }
        let Some(chunk) = chunks.iter().find(|chunk| chunk.key == field.key) else {
            continue;
        };
        field.value.value = Value::Text(lenient::raw_text(chunk));
        notes.push(
            Diagnostic::warning(
                code::LENIENT_YAML,
                format!(
                    "`{}` reads as a YAML mapping because of an unquoted `: `; read it as plain text",
                    field.key
                ),
            )
            .at(SourceSpan::line_of(text, field.line))
            .hint(QUOTE_HINT),
        );
    }
    (fields, notes)
}

const QUOTE_HINT: &str =
    "quote the value, or write it as a block (`description: |` with indented lines below)";

fn read_leniently(
    text: &str,
    split: &Split<'_>,
    error: &YamlError,
) -> (Vec<Field>, Vec<Diagnostic>) {
    let (chunks, stray) = lenient::chunks(&split.yaml, split.first_line());
    let mut notes = Vec::new();
    let mut fields: Vec<Field> = Vec::new();
    let mut as_text = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for chunk in &chunks {
        if let Some(&first_line) = seen.get(chunk.key) {
            notes.push(duplicate_key(text, chunk, first_line));
            continue;
        }
        seen.insert(chunk.key, chunk.line);
        let value = lenient::value(chunk).unwrap_or_else(|| {
            as_text.push(format!("`{}` (line {})", chunk.key, chunk.line));
            Node {
                line: chunk.line,
                value: Value::Text(lenient::raw_text(chunk)),
            }
        });
        fields.push(Field {
            key: chunk.key.to_string(),
            line: chunk.line,
            value,
        });
    }
    let mut warning = Diagnostic::warning(
        code::LENIENT_YAML,
        format!(
            "the front matter is not valid YAML ({}); read it line by line as `key: value`",
            error.message
        ),
    )
    .at(SourceSpan::line_of(text, error.line))
    .hint(QUOTE_HINT);
    if !as_text.is_empty() {
        warning = warning.label(format!("read as plain text: {}", as_text.join(", ")));
    }
    notes.insert(0, warning);
    if let Some(&line) = stray.first() {
        notes.push(
            Diagnostic::warning(
                code::STRAY_LINE,
                format!(
                    "{} front matter line(s) belong to no key and were ignored",
                    stray.len()
                ),
            )
            .at(SourceSpan::line_of(text, line))
            .hint("every front matter line is a `key: value` or an indented continuation"),
        );
    }
    (fields, notes)
}

fn duplicate_key(text: &str, chunk: &Chunk<'_>, first_line: usize) -> Diagnostic {
    Diagnostic::warning(
        code::DUPLICATE_KEY,
        format!(
            "`{}` is given twice; the first, on line {first_line}, is used",
            chunk.key
        ),
    )
    .at(SourceSpan::line_of(text, chunk.line))
    .hint("remove one of them")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(notes: &[Diagnostic]) -> Vec<&str> {
        notes.iter().map(|note| note.code).collect()
    }

    #[test]
    fn plain_front_matter_splits_without_notes() {
        let split = split("---\nname: a\n---\nBody\n").unwrap();
        assert_eq!(split.yaml, "name: a\n");
        assert_eq!(split.body, "Body\n");
        assert_eq!(split.first_line(), 2);
        assert!(split.notes.is_empty());
    }

    #[test]
    fn blank_lines_and_indentation_before_the_fence_are_recovered() {
        let text = "\n\n  ---\n  name: a\n  tools:\n    - Read\n  ---\nBody";
        let split = split(text).unwrap();
        assert_eq!(split.yaml, "name: a\ntools:\n  - Read\n");
        assert_eq!(split.open_line, 3);
        assert_eq!(
            codes(&split.notes),
            [code::LEADING_BLANK_LINES, code::INDENTED_FRONT_MATTER]
        );
    }

    #[test]
    fn a_long_rule_closes_the_front_matter() {
        let split = split("---\nname: a\n-----------\nBody").unwrap();
        assert_eq!(split.body, "Body");
        assert_eq!(codes(&split.notes), [code::LONG_CLOSING_RULE]);
        assert_eq!(split.notes[0].span.map(|s| s.line), Some(3));
    }

    #[test]
    fn crlf_and_bom_are_read() {
        let split = split("\u{feff}---\r\nname: a\r\n---\r\nBody\r\n").unwrap();
        assert_eq!(split.yaml, "name: a\n");
        assert_eq!(split.body, "Body\r\n");
    }

    #[test]
    fn an_indented_fence_inside_the_block_does_not_close_it() {
        let split = split("---\ndescription: |\n  a\n  ---\n  b\n---\n").unwrap();
        assert_eq!(split.yaml, "description: |\n  a\n  ---\n  b\n");
    }

    #[test]
    fn files_without_front_matter_are_refused() {
        assert_eq!(split("").unwrap_err(), SkipReason::Empty);
        assert_eq!(split("# Title\n").unwrap_err(), SkipReason::NoFrontMatter);
        assert_eq!(
            split("---\nname: a\n").unwrap_err(),
            SkipReason::Unclosed { line: 1 }
        );
    }

    fn read_text(text: &str) -> (Vec<Field>, Vec<Diagnostic>) {
        let split = split(text).unwrap();
        read(text, &split)
    }

    #[test]
    fn invalid_yaml_falls_back_to_lines() {
        let text = "---\nname: a\ndescription: Triggers on: 'GDPR', x\nmodel: opus\n---\n";
        let (fields, notes) = read_text(text);
        let keys: Vec<_> = fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["name", "description", "model"]);
        assert_eq!(
            fields[1].value.value.as_text(),
            Some("Triggers on: 'GDPR', x")
        );
        assert_eq!(codes(&notes), [code::LENIENT_YAML]);
        assert_eq!(notes[0].span.map(|s| s.line), Some(3));
        assert!(
            notes[0]
                .label
                .as_deref()
                .unwrap_or("")
                .contains("`description` (line 3)")
        );
    }

    #[test]
    fn a_description_that_parses_as_a_mapping_is_read_as_text() {
        let text = "---\nname: a\ndescription:\n  Triggers on: x\n---\n";
        let (fields, notes) = read_text(text);
        assert_eq!(fields[1].value.value.as_text(), Some("Triggers on: x"));
        assert_eq!(codes(&notes), [code::LENIENT_YAML]);
    }

    #[test]
    fn duplicate_keys_keep_the_first() {
        let text = "---\nname: a\nname: b\ndescription: d\n---\n";
        let (fields, notes) = read_text(text);
        assert_eq!(fields[0].value.value.as_text(), Some("a"));
        assert_eq!(fields.len(), 2);
        assert_eq!(codes(&notes), [code::LENIENT_YAML, code::DUPLICATE_KEY]);
    }
}
