//! Showing problems to a person: diagnostics in files as annotated source
//! snippets (with file:line:col), command errors as `error:` / `Caused by:`
//! / `hint:`. Everything here goes to stderr.

use crate::exit::CliError;
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};
use owo_colors::OwoColorize;
use std::fmt;
use std::io::IsTerminal;
use std::sync::Arc;
use techlead_core::{Diagnostic, Severity};

/// A file's text with the name to show for it.
#[derive(Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: Arc<str>,
}

/// Prints `diagnostics` about `file` to stderr, errors and warnings alike.
pub fn print_all(file: &SourceFile, diagnostics: &[Diagnostic]) {
    let handler = handler();
    for diagnostic in diagnostics {
        let report = Report::new(file, diagnostic);
        let mut out = String::new();
        if handler.render_report(&mut out, &report).is_ok() {
            eprint!("{out}");
        }
    }
}

/// Prints one warning that has a file and maybe a line, but no snippet
/// worth showing (agent files: the line is enough).
pub fn print_note(severity: Severity, location: &str, message: &str) {
    let tag = match severity {
        Severity::Error => paint("error", Style::Error),
        Severity::Warning => paint("warning", Style::Warning),
    };
    eprintln!("{tag}: {location}: {message}");
}

pub fn print_error(error: &CliError) {
    eprintln!("{}: {error}", paint("error", Style::Error));
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        eprintln!("  {} {cause}", paint("Caused by:", Style::Dim));
        source = cause.source();
    }
    if let Some(hint) = error.hint() {
        eprintln!("  {} {hint}", paint("hint:", Style::Hint));
    }
}

fn handler() -> GraphicalReportHandler {
    let theme = if color_on_stderr() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme)
        .with_context_lines(1)
        .with_width(crate::render::width().max(100))
}

pub fn color_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

pub enum Style {
    Error,
    Warning,
    Hint,
    Dim,
}

pub fn paint(text: &str, style: Style) -> String {
    if !color_on_stderr() {
        return text.to_string();
    }
    match style {
        Style::Error => text.red().bold().to_string(),
        Style::Warning => text.yellow().bold().to_string(),
        Style::Hint => text.cyan().to_string(),
        Style::Dim => text.dimmed().to_string(),
    }
}

/// A core diagnostic dressed for miette.
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<Arc<str>>,
    location: String,
}

impl<'a> Report<'a> {
    fn new(file: &SourceFile, diagnostic: &'a Diagnostic) -> Self {
        let location = match diagnostic.span {
            Some(span) => format!("{}:{}:{}", file.name, span.line, span.column),
            None => file.name.clone(),
        };
        Report {
            diagnostic,
            source: NamedSource::new(file.name.clone(), file.text.clone()),
            location,
        }
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The location leads so that the line reads well when grepped or
        // when the snippet is cut off by a narrow terminal.
        write!(f, "{}: {}", self.location, self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        let hint = self.diagnostic.hint.as_ref()?;
        Some(Box::new(hint))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.diagnostic
            .span
            .map(|_| &self.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.diagnostic.span?;
        let label = LabeledSpan::new(self.diagnostic.label.clone(), span.offset, span.len.max(1));
        Some(Box::new(std::iter::once(label)))
    }
}
