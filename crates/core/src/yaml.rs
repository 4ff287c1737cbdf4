//! A small YAML tree with byte spans, so that every later diagnostic can
//! point at the exact text a person wrote. saphyr does the parsing (YAML
//! 1.2, duplicate keys rejected); this module only reshapes its output and
//! keeps it from being fed input deep enough to exhaust the stack. Mission
//! files and agent front matter both read YAML through here.

use crate::diagnostic::SourceSpan;
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

#[derive(Debug, Clone)]
pub struct Node {
    pub span: SourceSpan,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool,
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What a person would call this kind of value, for "expected X, found
    /// Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Bool => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "text",
            Value::List(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The text of a scalar as the person meant it: strings as parsed,
    /// other scalars as written (so `id: 007` stays "007").
    pub fn scalar_text(&self, source: &str) -> Option<String> {
        match &self.value {
            Value::Str(text) => Some(text.clone()),
            Value::Bool | Value::Int(_) | Value::Float(_) => {
                Some(source[self.span.offset..self.span.offset + self.span.len].to_string())
            }
            Value::Null | Value::List(_) | Value::Map(_) => None,
        }
    }
}

/// Why the YAML could not be read, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub span: SourceSpan,
    pub message: String,
}

/// How deep the block structure at the start of a line may go. saphyr's
/// loader and the drop of its tree recurse once per level, so a crafted
/// `- - - - …` line could overflow the stack; real files nest a few levels.
const MAX_LINE_NESTING: usize = 64;

/// Parses `source` into one document's tree. An empty document is `Null`.
pub fn load(source: &str) -> Result<Node, YamlError> {
    check_nesting(source)?;
    let offsets = CharOffsets::new(source);
    let mut documents = MarkedYaml::load_from_str(source).map_err(|error| YamlError {
        span: SourceSpan::at(source, offsets.byte(error.marker().index()), 1),
        message: error.info().to_string(),
    })?;
    if let Some(second) = documents.get(1) {
        return Err(YamlError {
            span: SourceSpan::at(source, offsets.byte(second.span.start.index()), 1),
            message: "a second YAML document starts here".to_string(),
        });
    }
    Ok(match documents.pop() {
        // Converted by value, so saphyr's tree is freed as ours grows.
        Some(document) => convert(document, source, &offsets),
        None => Node {
            span: SourceSpan::at(source, 0, 0),
            value: Value::Null,
        },
    })
}

fn check_nesting(source: &str) -> Result<(), YamlError> {
    for (index, line) in source.lines().enumerate() {
        if structural_prefix(line) > MAX_LINE_NESTING {
            return Err(YamlError {
                span: SourceSpan::line_of(source, index + 1),
                message: format!("nested more than {MAX_LINE_NESTING} levels deep"),
            });
        }
    }
    Ok(())
}

/// Columns of indentation plus compact collection indicators (`- `, `? `,
/// `: `), anchors and tags before the first content: an upper bound on how
/// many block levels a line can open. Flow nesting is capped by saphyr.
fn structural_prefix(line: &str) -> usize {
    let mut width = 0;
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t']);
        width += rest.len() - trimmed.len();
        rest = trimmed;
        let token_len = match rest.chars().next() {
            Some('-' | '?' | ':') if rest[1..].starts_with([' ', '\t']) => 1,
            Some('&' | '!') => rest.find([' ', '\t']).unwrap_or(rest.len()),
            _ => return width,
        };
        width += token_len;
        rest = &rest[token_len..];
    }
}

fn convert(node: MarkedYaml<'_>, source: &str, offsets: &CharOffsets) -> Node {
    let start = offsets.byte(node.span.start.index());
    let end = offsets.byte(node.span.end.index()).max(start);
    // saphyr's markers already count lines and columns; recounting them
    // from the start of the text for every node would be quadratic.
    let span = SourceSpan {
        offset: start,
        len: trim_trailing_space(source, start, end),
        line: node.span.start.line(),
        column: node.span.start.col() + 1,
    };
    let value = match node.data {
        YamlData::Value(scalar) => scalar_value(&scalar),
        YamlData::Sequence(items) => Value::List(
            items
                .into_iter()
                .map(|item| convert(item, source, offsets))
                .collect(),
        ),
        YamlData::Mapping(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (convert(k, source, offsets), convert(v, source, offsets)))
                .collect(),
        ),
        YamlData::Tagged(_, inner) => return convert(*inner, source, offsets),
        _ => Value::Null,
    };
    Node { span, value }
}

fn scalar_value(scalar: &Scalar<'_>) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(_) => Value::Bool,
        Scalar::Integer(i) => Value::Int(*i),
        Scalar::FloatingPoint(f) => Value::Float(f.into_inner()),
        Scalar::String(s) => Value::Str(s.to_string()),
    }
}

/// Block values end at the start of the next key; point only at the text.
fn trim_trailing_space(source: &str, start: usize, end: usize) -> usize {
    source[start..end].trim_end().len()
}

/// saphyr counts characters; renderers need bytes. In ASCII text they
/// are the same, and no table is kept.
struct CharOffsets {
    starts: Option<Vec<usize>>,
    len: usize,
}

impl CharOffsets {
    fn new(source: &str) -> Self {
        CharOffsets {
            starts: (!source.is_ascii()).then(|| source.char_indices().map(|(i, _)| i).collect()),
            len: source.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.starts {
            Some(starts) => starts.get(char_index).copied().unwrap_or(self.len),
            None => char_index.min(self.len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_bytes_and_point_at_values() {
        let source = "name: é\ntitle: x\n";
        let node = load(source).unwrap();
        let Value::Map(entries) = node.value else {
            panic!("expected a mapping")
        };
        let (key, value) = &entries[1];
        assert_eq!(key.scalar_text(source).as_deref(), Some("title"));
        assert_eq!((value.span.line, value.span.column), (2, 8));
        assert_eq!(
            &source[value.span.offset..value.span.offset + value.span.len],
            "x"
        );
    }

    #[test]
    fn numbers_keep_their_written_form_as_text() {
        let source = "id: 007\n";
        let Value::Map(entries) = load(source).unwrap().value else {
            panic!("expected a mapping")
        };
        assert_eq!(entries[0].1.scalar_text(source).as_deref(), Some("007"));
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let error = load("a: 1\na: 2\n").unwrap_err();
        assert_eq!(error.span.line, 2);
    }

    #[test]
    fn deep_compact_nesting_is_refused_before_parsing() {
        let error = load(&("- ".repeat(10_000) + "x")).unwrap_err();
        assert!(error.message.contains("nested"), "{error:?}");
    }

    #[test]
    fn structural_prefix_counts_indicators_not_content() {
        assert_eq!(structural_prefix("  - - x"), 6);
        assert_eq!(structural_prefix("name: a - b - c"), 0);
        assert_eq!(structural_prefix("- &anchor !tag - x"), 17);
    }
}
