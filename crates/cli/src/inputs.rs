//! Reading what commands work on: a mission file, checked, and the agent
//! library it uses. Diagnostics are printed here, once, for every command.

use crate::args::AgentSource;
use crate::diagnostics::{self, SourceFile};
use crate::exit::CliError;
use std::path::{Path, PathBuf};
use techlead_core::agents::Library;
use techlead_core::spec::{self, Mission};
use techlead_core::{Diagnostic, Severity};
use techlead_engine::library;

pub fn read_source(path: &Path) -> Result<SourceFile, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(SourceFile {
        name: path.display().to_string(),
        text: text.into(),
    })
}

/// A mission file after every check: parsing, then (when parsing found no
/// error) validation against its agent library.
pub struct Checked {
    pub path: PathBuf,
    pub file: SourceFile,
    /// `None` when parsing found errors.
    pub mission: Option<Mission>,
    pub library: Option<Library>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A mission that passed every check; warnings may remain.
pub struct Valid {
    pub file: SourceFile,
    pub mission: Mission,
    pub library: Library,
    pub warnings: usize,
}

pub fn check(path: &Path, source: &AgentSource) -> Result<Checked, CliError> {
    let file = read_source(path)?;
    let parsed = spec::parse(&file.text);
    let mut diagnostics = parsed.diagnostics;
    // Cross-checks run even after parse errors, so that one run shows
    // every problem; the mission itself is only usable without errors.
    let library = match &parsed.mission {
        Some(mission) => {
            let library = mission_library(path, mission, source)?;
            let names: Vec<&str> = library.agents().iter().map(|a| a.name.as_str()).collect();
            diagnostics.extend(spec::validate(mission, Some(&names)));
            Some(library)
        }
        None => None,
    };
    diagnostics.sort_by_key(|d| d.span.map(|s| s.offset));
    let mission = parsed
        .mission
        .filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Ok(Checked {
        path: path.to_path_buf(),
        file,
        mission,
        library,
        diagnostics,
    })
}

impl Checked {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Prints every diagnostic, then gives the mission if none was an
    /// error.
    pub fn print_and_accept(self) -> Result<Valid, CliError> {
        diagnostics::print_all(&self.file, &self.diagnostics);
        if let Some(library) = &self.library {
            summarise_library_notes(library);
        }
        let errors = self.errors();
        match (self.mission, self.library) {
            (Some(mission), Some(library)) if errors == 0 => Ok(Valid {
                file: self.file,
                mission,
                library,
                warnings: self.diagnostics.len(),
            }),
            _ => Err(CliError::Invalid {
                path: self.path,
                count: errors.max(1),
            }),
        }
    }
}

/// The agents a mission uses: `--agents`, else the mission's `agents:`
/// (relative to the mission file), else discovery from its repository (or
/// its own directory).
fn mission_library(
    path: &Path,
    mission: &Mission,
    source: &AgentSource,
) -> Result<Library, CliError> {
    if !source.agents.is_empty() {
        return Ok(library::load_dirs(&source.agents)?);
    }
    let base = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !mission.agents.is_empty() {
        let dirs: Vec<PathBuf> = mission.agents.iter().map(|d| base.join(d)).collect();
        return Ok(library::load_dirs(&dirs)?);
    }
    let root = match &mission.repository {
        Some(repository) => base.join(repository),
        None => base.to_path_buf(),
    };
    Ok(library::discover(&root, home().as_deref()))
}

/// The agents for commands without a mission: `--agents`, else discovery
/// from the current directory.
pub fn library(source: &AgentSource) -> Result<Library, CliError> {
    if !source.agents.is_empty() {
        return Ok(library::load_dirs(&source.agents)?);
    }
    Ok(library::discover(Path::new("."), home().as_deref()))
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// Prints every skipped file and warning of the library.
pub fn print_library_notes(library: &Library) {
    for skipped in library.skipped() {
        diagnostics::print_note(
            Severity::Warning,
            &skipped.source,
            &format!(
                "skipped: {} (hint: {})",
                skipped.reason,
                skipped.reason.hint()
            ),
        );
    }
    for warning in library.warnings() {
        let location = match warning.diagnostic.span {
            Some(span) => format!("{}:{}", warning.source, span.line),
            None => warning.source.clone(),
        };
        let mut message = warning.diagnostic.message.clone();
        if let Some(hint) = &warning.diagnostic.hint {
            message.push_str(&format!(" (hint: {hint})"));
        }
        diagnostics::print_note(warning.diagnostic.severity, &location, &message);
    }
}

/// One line about the library's problems, for commands whose subject is
/// something else; `techlead agents` shows the details.
pub fn summarise_library_notes(library: &Library) {
    let (skipped, warnings) = (library.skipped().len(), library.warnings().len());
    if skipped + warnings == 0 {
        return;
    }
    diagnostics::print_note(
        Severity::Warning,
        "agents",
        &format!(
            "{skipped} file{} skipped, {warnings} warning{} while loading the library; `techlead agents` shows them",
            if skipped == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" },
        ),
    );
}
