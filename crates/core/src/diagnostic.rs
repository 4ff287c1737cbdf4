//! Diagnostics: what went wrong (or looks wrong) in a file a person wrote,
//! where, and what to do about it. Rendering belongs to the CLI.

use serde::Serialize;

/// How bad a diagnostic is. Errors stop a command; warnings never do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A region of a source text. `offset` and `len` are in bytes (for
/// renderers); `line` and `column` are 1-based and count characters (for
/// people).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SourceSpan {
    pub offset: usize,
    pub len: usize,
    pub line: usize,
    pub column: usize,
}

impl SourceSpan {
    /// The span of `len` bytes starting at byte `offset` of `text`.
    pub fn at(text: &str, offset: usize, len: usize) -> Self {
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        let len = len.min(text.len() - offset);
        SourceSpan {
            offset,
            len,
            line,
            column,
        }
    }

    /// The whole of line `line` (1-based) of `text`, without its newline.
    pub fn line_of(text: &str, line: usize) -> Self {
        let offset: usize = text
            .split_inclusive('\n')
            .take(line.saturating_sub(1))
            .map(str::len)
            .sum();
        let rest = &text[offset.min(text.len())..];
        let len = rest.find('\n').unwrap_or(rest.len());
        SourceSpan::at(text, offset, len)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// One finding about a source text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable, greppable code such as `spec::unknown-key`.
    pub code: &'static str,
    pub message: String,
    /// Where the problem is, when it has a place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<SourceSpan>,
    /// A short note shown under the span.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// What to do next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: None,
            label: None,
            hint: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, span: SourceSpan) -> Self {
        self.span = Some(span);
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The closest of `candidates` to `word`, if any is close enough to be a
/// plausible typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .filter(|(similarity, _)| *similarity >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_counts_lines_and_characters() {
        let text = "a: 1\nbé: x\n";
        let span = SourceSpan::at(text, text.find('x').unwrap(), 1);
        assert_eq!((span.line, span.column), (2, 5));
    }

    #[test]
    fn line_of_covers_the_line_without_newline() {
        let text = "one\ntwo\nthree";
        let span = SourceSpan::line_of(text, 2);
        assert_eq!(&text[span.offset..span.offset + span.len], "two");
        assert_eq!((span.line, span.column), (2, 1));
    }

    #[test]
    fn nearest_finds_typos_only() {
        let keys = ["depends_on", "description", "estimate"];
        assert_eq!(nearest("depnds_on", keys), Some("depends_on"));
        assert_eq!(nearest("zzz", keys), None);
    }
}
