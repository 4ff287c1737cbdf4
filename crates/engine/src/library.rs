//! Finding agent files on disk and handing their text to the core parser.
//!
//! Discovery follows Claude Code: `<project>/.claude/agents/` and
//! `~/.claude/agents/`, every `*.md` below them, subdirectories included and
//! symlinks followed. Directories given with `--agents` replace discovery.
//! Anything unreadable below a root becomes a skipped entry rather than an
//! error, so one bad file never hides the rest of a library.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use techlead_core::agents::{Library, LibraryBuilder, Scope, SkipReason, Skipped};

/// A directory named with `--agents` (or in a mission file) that cannot be
/// used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("agent directory `{}` does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("`{}` is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("cannot read agent directory `{}`", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// What the person can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => {
                "check the path given to --agents; without --agents, techlead discovers .claude/agents/ in the project and in your home directory"
            }
            Error::NotADirectory { .. } => {
                "--agents takes a directory of agent .md files, not a file"
            }
            Error::Unreadable { .. } => "check the directory's permissions",
        }
    }
}

/// Agent files larger than this are not agent files; reading them whole
/// would only cost memory.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The agents Claude Code would see when started in `project_root`:
/// project agents, then the user's (`home` is the home directory, if
/// known). Missing directories are simply empty.
pub fn discover(project_root: &Path, home: Option<&Path>) -> Library {
    let project = project_root.join(".claude").join("agents");
    let mut builder = Library::builder();
    if project.is_dir() {
        add_tree(&mut builder, &project, Scope::Project);
    }
    if let Some(user) = home.map(|home| home.join(".claude").join("agents")) {
        // Started in the home directory, both roots are the same folder:
        // loading it twice would report every agent as shadowing itself.
        if user.is_dir() && !same_dir(&user, &project) {
            add_tree(&mut builder, &user, Scope::User);
        }
    }
    builder.build()
}

/// The agents in `dirs`, given explicitly; discovery is not used. Each
/// directory must exist.
pub fn load_dirs(dirs: &[PathBuf]) -> Result<Library, Error> {
    for dir in dirs {
        check_dir(dir)?;
    }
    let mut builder = Library::builder();
    for dir in dirs {
        add_tree(&mut builder, dir, Scope::Explicit);
    }
    Ok(builder.build())
}

fn check_dir(dir: &Path) -> Result<(), Error> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(Error::NotADirectory {
            path: dir.to_path_buf(),
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(Error::NotFound {
            path: dir.to_path_buf(),
        }),
        Err(source) => Err(Error::Unreadable {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Reads every agent file below `root` into `builder`, in path order.
fn add_tree(builder: &mut LibraryBuilder, root: &Path, scope: Scope) {
    let mut walk = Walk {
        files: Vec::new(),
        visited: HashSet::new(),
        scope,
        builder,
    };
    walk.dir(root);
    let Walk { mut files, .. } = walk;
    files.sort();
    for path in files {
        let source = path.display().to_string();
        match read_text(&path) {
            Ok(text) => builder.add(source, scope, &text),
            Err(reason) => builder.skip(Skipped {
                source,
                scope,
                reason,
            }),
        };
    }
}

struct Walk<'a> {
    files: Vec<PathBuf>,
    /// Canonical directories already walked, so a symlink cycle ends.
    visited: HashSet<PathBuf>,
    scope: Scope,
    builder: &'a mut LibraryBuilder,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path) {
        let Ok(canonical) = fs::canonicalize(dir) else {
            return self.unreadable(dir, "the directory cannot be resolved");
        };
        if !self.visited.insert(canonical) {
            return;
        }
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) => return self.unreadable(dir, &error.to_string()),
        };
        for entry in entries {
            match entry {
                Ok(entry) => self.entry(&entry.path()),
                Err(error) => self.unreadable(dir, &error.to_string()),
            }
        }
    }

    fn entry(&mut self, path: &Path) {
        let name = path.file_name().map(|name| name.to_string_lossy());
        // Dot-directories are tooling (`.git`), not agents.
        if name.as_deref().is_none_or(|name| name.starts_with('.')) {
            return;
        }
        // `metadata` follows symlinks: a linked library is walked like a
        // real one, and a dangling link is reported.
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => self.dir(path),
            Ok(meta) if meta.is_file() && is_markdown(path) => self.files.push(path.to_path_buf()),
            Ok(_) => {}
            Err(error) if is_markdown(path) => self.unreadable(path, &error.to_string()),
            Err(_) => {}
        }
    }

    fn unreadable(&mut self, path: &Path, error: &str) {
        self.builder.skip(Skipped {
            source: path.display().to_string(),
            scope: self.scope,
            reason: SkipReason::Unreadable {
                error: error.to_string(),
            },
        });
    }
}

fn is_markdown(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("md"))
}

fn read_text(path: &Path) -> Result<String, SkipReason> {
    let unreadable = |error: io::Error| SkipReason::Unreadable {
        error: error.to_string(),
    };
    let size = fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_FILE_BYTES {
        return Err(SkipReason::Unreadable {
            error: format!(
                "the file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit for agent files"
            ),
        });
    }
    let bytes = fs::read(path).map_err(unreadable)?;
    String::from_utf8(bytes).map_err(|_| SkipReason::NotUtf8)
}
