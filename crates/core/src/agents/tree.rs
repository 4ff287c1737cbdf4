//! The front matter as a small tree of text, lists and mappings, each node
//! knowing its line in the file. saphyr does the YAML; this module only
//! reshapes its output and keeps it from being fed input deep enough to
//! exhaust the stack.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// 1-based line in the agent file.
    pub line: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    /// Every scalar as text: agent fields are words, so `1.0` or `true`
    /// are kept as the person wrote them rather than typed.
    Text(String),
    List(Vec<Node>),
    Map(Vec<Field>),
}

/// One `key: value` entry of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    pub key: String,
    /// 1-based line of the key in the agent file.
    pub line: usize,
    pub value: Node,
}

impl Value {
    /// What a person would call this kind of value, for "expected X, found
    /// Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Text(_) => "text",
            Value::List(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    #[cfg(test)]
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// Why saphyr refused the text, and where.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct YamlError {
    /// 1-based line in the agent file.
    pub line: usize,
    pub message: String,
}

/// How deep the block structure at the start of a line may go. saphyr's
/// loader and the drop of its tree recurse once per level, so a crafted
/// `- - - - …` line could overflow the stack; real agent files nest two or
/// three levels.
const MAX_LINE_NESTING: usize = 64;

/// Loads one YAML document whose first line is line `first_line` of the
/// agent file. An empty document is `Null`.
pub(crate) fn load(yaml: &str, first_line: usize) -> Result<Node, YamlError> {
    check_nesting(yaml, first_line)?;
    let documents = MarkedYaml::load_from_str(yaml).map_err(|error| YamlError {
        line: first_line + error.marker().line().saturating_sub(1),
        message: error.info().to_string(),
    })?;
    match documents.as_slice() {
        [] => Ok(Node {
            line: first_line,
            value: Value::Null,
        }),
        [document] => Ok(convert(document, first_line)),
        [_, second, ..] => Err(YamlError {
            line: first_line + second.span.start.line().saturating_sub(1),
            message: "a second YAML document starts here".to_string(),
        }),
    }
}

fn check_nesting(yaml: &str, first_line: usize) -> Result<(), YamlError> {
    for (index, line) in yaml.lines().enumerate() {
        if structural_prefix(line) > MAX_LINE_NESTING {
            return Err(YamlError {
                line: first_line + index,
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

fn convert(node: &MarkedYaml<'_>, first_line: usize) -> Node {
    let line = first_line + node.span.start.line().saturating_sub(1);
    let value = match &node.data {
        YamlData::Value(scalar) => scalar_value(scalar),
        YamlData::Representation(text, _, _) => Value::Text(text.to_string()),
        YamlData::Sequence(items) => {
            Value::List(items.iter().map(|item| convert(item, first_line)).collect())
        }
        YamlData::Mapping(entries) => Value::Map(
            entries
                .iter()
                .filter_map(|(key, value)| {
                    let key_node = convert(key, first_line);
                    let Value::Text(key) = key_node.value else {
                        return None;
                    };
                    Some(Field {
                        key,
                        line: key_node.line,
                        value: convert(value, first_line),
                    })
                })
                .collect(),
        ),
        YamlData::Tagged(_, inner) => return convert(inner, first_line),
        YamlData::Alias(_) | YamlData::BadValue => Value::Null,
    };
    Node { line, value }
}

fn scalar_value(scalar: &Scalar<'_>) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Text(b.to_string()),
        Scalar::Integer(i) => Value::Text(i.to_string()),
        Scalar::FloatingPoint(f) => Value::Text(f.into_inner().to_string()),
        Scalar::String(s) => Value::Text(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(yaml: &str) -> Vec<Field> {
        match load(yaml, 2).map(|node| node.value) {
            Ok(Value::Map(fields)) => fields,
            other => panic!("expected a mapping, got {other:?}"),
        }
    }

    #[test]
    fn lines_are_file_lines() {
        let fields = map("name: a\n\ndescription: >\n  folded\n  text\n");
        assert_eq!(fields[0].line, 2);
        assert_eq!(fields[1].line, 4);
        assert_eq!(fields[1].value.value, Value::Text("folded text\n".into()));
    }

    #[test]
    fn scalars_become_text() {
        let fields = map("max_parallel: 3\nflag: true\n");
        assert_eq!(fields[0].value.value.as_text(), Some("3"));
        assert_eq!(fields[1].value.value.as_text(), Some("true"));
    }

    #[test]
    fn errors_carry_the_file_line() {
        let error = load("name: a\ndescription: Triggers on: x\n", 2).unwrap_err();
        assert_eq!(error.line, 3);
    }

    #[test]
    fn deep_compact_nesting_is_refused_before_parsing() {
        let yaml = "- ".repeat(10_000) + "x";
        let error = load(&yaml, 2).unwrap_err();
        assert!(error.message.contains("nested"), "{error:?}");
    }

    #[test]
    fn structural_prefix_counts_indicators_not_content() {
        assert_eq!(structural_prefix("  - - x"), 6);
        assert_eq!(structural_prefix("name: a - b - c"), 0);
        assert_eq!(structural_prefix("- &anchor !tag - x"), 17);
    }
}
