//! Writing YAML scalars by hand, for mission files techlead writes: plain
//! where a person would write them plain, quoted where YAML would read
//! them otherwise.

/// `text` as a one-line YAML scalar: plain when that reads back as the same
/// string, else double-quoted (JSON's escapes are YAML's).
pub fn scalar(text: &str) -> String {
    if is_plain(text) {
        text.to_string()
    } else {
        serde_json::Value::from(text).to_string()
    }
}

/// `text` as the value of a key: a literal block (`|-`,
/// indented by `indent` spaces) when it has several lines, else a scalar.
pub fn block(text: &str, indent: usize) -> String {
    if !text.contains('\n') {
        return scalar(text);
    }
    let pad = " ".repeat(indent);
    let mut out = String::from("|-");
    for line in text.lines() {
        out.push('\n');
        if !line.trim().is_empty() {
            out.push_str(&pad);
            out.push_str(line.trim_end());
        }
    }
    out
}

/// Conservative: letters, digits, spaces and a few marks that mean nothing
/// to YAML in the middle of a plain scalar; starting with a letter; not a
/// word YAML 1.2 reads as something else.
fn is_plain(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    first.is_alphabetic()
        && !text.ends_with(' ')
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || " -_./,()'+;".contains(c))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "nan" | "inf"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_stays_plain_and_the_rest_is_quoted() {
        assert_eq!(scalar("Build the API"), "Build the API");
        assert_eq!(scalar("make test"), "make test");
        assert_eq!(scalar("a: b"), r#""a: b""#);
        assert_eq!(scalar("#1 fix"), r##""#1 fix""##);
        assert_eq!(scalar("null"), r#""null""#);
        assert_eq!(scalar(""), r#""""#);
        assert_eq!(scalar("say \"hi\""), r#""say \"hi\"""#);
    }

    #[test]
    fn several_lines_become_a_literal_block() {
        assert_eq!(block("one\n\ntwo: x", 4), "|-\n    one\n\n    two: x");
        assert_eq!(block("one line", 4), "one line");
    }
}
