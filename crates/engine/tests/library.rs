//! Discovery and explicit directories on a real filesystem.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use techlead_core::agents::{Scope, SkipReason, code};
use techlead_engine::library::{self, Error};

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("techlead-library-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("scratch directory");
        Scratch(path)
    }

    fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("parent directory");
        }
        fs::write(&path, contents).expect("write file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn agent(name: &str) -> String {
    format!("---\nname: {name}\ndescription: {name} work\n---\nYou do {name} work.\n")
}

fn sources(library: &techlead_core::agents::Library, root: &Path) -> Vec<String> {
    let prefix = format!("{}/", root.display());
    library
        .agents()
        .iter()
        .map(|a| a.source.trim_start_matches(&prefix).to_string())
        .collect()
}

#[test]
fn discover_reads_project_and_user_agents_with_project_winning() {
    let project = Scratch::new();
    let home = Scratch::new();
    project.write(".claude/agents/reviewer.md", agent("reviewer"));
    project.write(".claude/agents/backend/api.md", agent("api"));
    home.write(".claude/agents/reviewer.md", agent("reviewer"));
    home.write(".claude/agents/writer.md", agent("writer"));

    let library = library::discover(&project.0, Some(&home.0));
    let scopes: Vec<_> = library
        .agents()
        .iter()
        .map(|a| (a.name.as_str(), a.scope))
        .collect();
    assert_eq!(
        scopes,
        [
            ("api", Scope::Project),
            ("reviewer", Scope::Project),
            ("writer", Scope::User)
        ]
    );
    assert_eq!(library.warnings().len(), 1);
    assert_eq!(library.warnings()[0].diagnostic.code, code::SHADOWED);
    assert!(
        library.warnings()[0]
            .source
            .starts_with(&home.0.display().to_string())
    );
}

#[test]
fn discover_without_agent_directories_is_empty_not_an_error() {
    let project = Scratch::new();
    let library = library::discover(&project.0, None);
    assert!(library.is_empty());
    assert!(library.skipped().is_empty());
    assert_eq!(library.general_purpose().name, "general-purpose");
}

#[test]
fn discover_in_the_home_directory_reads_it_once() {
    let home = Scratch::new();
    home.write(".claude/agents/a.md", agent("a"));
    let library = library::discover(&home.0, Some(&home.0));
    assert_eq!(library.len(), 1);
    assert!(library.warnings().is_empty());
}

#[test]
fn load_dirs_walks_recursively_in_path_order_and_skips_what_it_cannot_use() {
    let dir = Scratch::new();
    dir.write("b/dup.md", agent("dup"));
    dir.write("a/dup.md", agent("dup"));
    dir.write("z.MD", agent("upper"));
    dir.write("notes.txt", "not an agent");
    dir.write(".git/config.md", agent("hidden"));
    dir.write("README.md", "# My agents\n");
    dir.write("latin1.md", b"---\nname: caf\xe9\ndescription: x\n---\n");

    let library = library::load_dirs(std::slice::from_ref(&dir.0)).expect("directory exists");
    assert_eq!(sources(&library, &dir.0), ["a/dup.md", "z.MD"]);
    assert!(library.agents().iter().all(|a| a.scope == Scope::Explicit));
    let duplicate = &library.warnings()[0];
    assert_eq!(duplicate.diagnostic.code, code::DUPLICATE_NAME);
    assert!(duplicate.source.ends_with("b/dup.md"));
    let skipped: Vec<_> = library
        .skipped()
        .iter()
        .map(|s| (s.source.rsplit('/').next().unwrap_or(""), s.reason.clone()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("README.md", SkipReason::NoFrontMatter),
            ("latin1.md", SkipReason::NotUtf8)
        ]
    );
}

#[test]
fn load_dirs_refuses_missing_directories_and_files() {
    let dir = Scratch::new();
    let missing = dir.0.join("nope");
    let error = library::load_dirs(std::slice::from_ref(&missing)).unwrap_err();
    assert!(matches!(&error, Error::NotFound { path } if *path == missing));
    assert_eq!(
        error.to_string(),
        format!("agent directory `{}` does not exist", missing.display())
    );
    assert!(error.hint().contains("--agents"));

    let file = dir.write("agent.md", agent("a"));
    let error = library::load_dirs(&[file]).unwrap_err();
    assert!(matches!(error, Error::NotADirectory { .. }));
}

#[cfg(unix)]
#[test]
fn symlinked_libraries_are_followed_and_cycles_end() {
    use std::os::unix::fs::symlink;
    let dir = Scratch::new();
    let shared = Scratch::new();
    shared.write("linked.md", agent("linked"));
    symlink(&shared.0, dir.0.join("shared")).expect("symlink");
    symlink(&dir.0, dir.0.join("loop")).expect("symlink");
    symlink(dir.0.join("missing.md"), dir.0.join("dangling.md")).expect("symlink");

    let library = library::load_dirs(std::slice::from_ref(&dir.0)).expect("directory exists");
    assert_eq!(library.len(), 1);
    assert_eq!(library.agents()[0].name, "linked");
    assert_eq!(library.skipped().len(), 1);
    assert!(matches!(
        library.skipped()[0].reason,
        SkipReason::Unreadable { .. }
    ));
}

#[cfg(unix)]
#[test]
fn unreadable_files_are_skipped_not_fatal() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new();
    let locked = dir.write("locked.md", agent("locked"));
    dir.write("open.md", agent("open"));
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).expect("chmod");
    if fs::read(&locked).is_ok() {
        // Running as root: permissions do not stop reads, nothing to test.
        return;
    }
    let library = library::load_dirs(std::slice::from_ref(&dir.0)).expect("directory exists");
    assert_eq!(library.len(), 1);
    assert!(matches!(
        library.skipped()[0].reason,
        SkipReason::Unreadable { .. }
    ));
}
