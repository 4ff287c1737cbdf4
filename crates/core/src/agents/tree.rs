//! The front matter as a small tree of text, lists and mappings, each node
//! knowing its line in the agent file. `crate::yaml` does the reading; this
//! module shifts its lines to the file's and keeps every scalar as text.

use crate::yaml;

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

/// Loads one YAML document whose first line is line `first_line` of the
/// agent file. An empty document is `Null`.
pub(crate) fn load(yaml: &str, first_line: usize) -> Result<Node, YamlError> {
    let to_file_line = |line: usize| first_line + line.saturating_sub(1);
    match crate::yaml::load(yaml) {
        Ok(root) => Ok(convert(&root, yaml, &to_file_line)),
        Err(error) => Err(YamlError {
            line: to_file_line(error.span.line),
            message: error.message,
        }),
    }
}

fn convert(node: &yaml::Node, source: &str, to_file_line: &dyn Fn(usize) -> usize) -> Node {
    let value = match &node.value {
        yaml::Value::Null => Value::Null,
        yaml::Value::List(items) => Value::List(
            items
                .iter()
                .map(|item| convert(item, source, to_file_line))
                .collect(),
        ),
        yaml::Value::Map(entries) => Value::Map(
            entries
                .iter()
                .filter_map(|(key, value)| {
                    Some(Field {
                        key: key.scalar_text(source)?.to_string(),
                        line: to_file_line(key.line()),
                        value: convert(value, source, to_file_line),
                    })
                })
                .collect(),
        ),
        // Agent fields are words: `1.0` or `true` stay as written.
        scalar => Value::Text(
            node.scalar_text(source)
                .unwrap_or_else(|| scalar.kind())
                .to_string(),
        ),
    };
    Node {
        line: to_file_line(node.line()),
        value,
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
    fn deep_compact_nesting_is_refused_with_the_file_line() {
        let yaml = "name: a\n".to_string() + &"- ".repeat(10_000) + "x";
        let error = load(&yaml, 2).unwrap_err();
        assert_eq!(error.line, 3);
        assert!(error.message.contains("nested"), "{error:?}");
    }
}
