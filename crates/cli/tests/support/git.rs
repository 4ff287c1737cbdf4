//! Real git repositories for the tests of missions with a `repository:`
//! (workspaces.rs, land.rs, done.rs): making one, running git in it, and
//! reading what the person would see.
//!
//! One copy, so that every test binary runs git the same way: without the
//! system's or the developer's git configuration (HOME is the test's own
//! directory), so that settings such as commit signing on the machine do
//! not change what the tests see, and with a fixed identity so that
//! commits can be made at all.

use std::path::Path;
use std::process::Command;

/// Runs git in `dir`, with no global configuration, and returns stdout.
/// Panics with git's stderr if it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args([
            "-c",
            "user.name=person",
            "-c",
            "user.email=person@example.com",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A repository on `main` with `files` committed, and the mission file
/// (committed too, so that the person's tree is clean).
pub fn repository(dir: &Path, files: &[(&str, &str)], mission: &str) {
    git(dir, &["init", "-q", "-b", "main"]);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    super::write_mission(dir, mission);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "start"]);
}

/// A repository holding `files` and a mission of a fresh name beginning
/// with `prefix`, whose text is its name, `repository: .` and then `rest`
/// (the rest of the mission block and the tasks). Returns the directory
/// and the mission's name.
pub fn mission_in_repository(
    prefix: &str,
    files: &[(&str, &str)],
    rest: &str,
) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let name = super::unique_name(prefix);
    repository(
        dir.path(),
        files,
        &format!("mission:\n  name: {name}\n  repository: .\n{rest}"),
    );
    (dir, name)
}

/// What the person sees: HEAD, the branch, and `git status`. Compared
/// before and after a command to show that it left the person alone.
pub fn person_view(dir: &Path) -> (String, String, String) {
    (
        git(dir, &["rev-parse", "HEAD"]),
        git(dir, &["branch", "--show-current"]),
        git(dir, &["status", "--porcelain", "--untracked-files=all"]),
    )
}

/// The integration branch of the mission with ID `mission` (`<name>-<n>`),
/// where its tasks' work is merged.
pub fn integration(mission: &str) -> String {
    format!("techlead/{mission}/_integration")
}
