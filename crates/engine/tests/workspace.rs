//! Task workspaces against real git repositories in temporary directories.
//!
//! Every git command, the library's and the tests' own, runs through a small
//! wrapper script that gives git an empty home and no global or system
//! config, so nothing depends on the machine's git identity or settings:
//! the library must commit on a machine where none is configured.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use techlead_engine::git::{self, Git};
use techlead_engine::workspace::{
    self, Abandon, Branch, Landed, Leftover, MergeRequest, MergeResult, State, Strategy, Workspaces,
};
use tempfile::TempDir;

const MISSION: &str = "web-1";

/// A person's repository with one commit on `main`, and a data directory
/// inside it as the CLI makes it (`<repo>/.techlead`).
struct Repo {
    _temp: TempDir,
    path: PathBuf,
    wrapper: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        let temp = tempfile::tempdir().unwrap();
        let home = temp.path().join("home");
        fs::create_dir(&home).unwrap();
        let wrapper = temp.path().join("git");
        executable(
            &wrapper,
            &format!(
                "#!/bin/sh\nHOME='{}' GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 exec git \"$@\"\n",
                home.display()
            ),
        );
        let path = temp.path().join("project");
        fs::create_dir(&path).unwrap();
        let repo = Repo {
            path,
            wrapper,
            _temp: temp,
        };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo.write("README.md", "# Project\n\nline one\nline two\nline three\n");
        repo.write("src/lib.rs", "pub fn answer() -> u32 {\n    42\n}\n");
        repo.git(&["add", "."]);
        repo.git(&["commit", "--quiet", "-m", "Initial commit"]);
        repo
    }

    /// Runs git as the person in `dir`, returning stdout; panics on failure.
    fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let output = Command::new(&self.wrapper)
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=Person",
                "-c",
                "user.email=person@example.com",
            ])
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?} in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.path, args)
    }

    fn write(&self, file: &str, text: &str) {
        write(&self.path, file, text);
    }

    fn open(&self) -> Git {
        Git::open_with(&self.wrapper, &self.path).unwrap()
    }

    fn data_dir(&self) -> PathBuf {
        self.path.join(".techlead")
    }

    /// The mission's workspaces, with the integration branch made at `main`.
    fn workspaces(&self) -> Workspaces {
        let workspaces = Workspaces::new(self.open(), &self.data_dir(), MISSION);
        workspaces.ensure_integration("main").unwrap();
        workspaces
    }

    fn rev(&self, rev: &str) -> String {
        self.git(&["rev-parse", rev]).trim().to_string()
    }

    fn show(&self, rev: &str, file: &str) -> String {
        self.git(&["show", &format!("{rev}:{file}")])
    }

    /// Everything a person could see of their checkout: HEAD, the branch,
    /// the index, `git status`, and every file's bytes outside `.git` and
    /// `.techlead`.
    fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut snapshot = BTreeMap::new();
        snapshot.insert("HEAD".into(), self.rev("HEAD").into_bytes());
        snapshot.insert(
            "branch".into(),
            self.git(&["symbolic-ref", "HEAD"]).into_bytes(),
        );
        snapshot.insert(
            "index".into(),
            self.git(&["ls-files", "--stage", "--debug"]).into_bytes(),
        );
        snapshot.insert(
            "status".into(),
            self.git(&["status", "--porcelain=v1", "--untracked-files=all"])
                .into_bytes(),
        );
        snapshot.insert(
            "branches".into(),
            self.git(&[
                "for-each-ref",
                "--exclude=refs/heads/techlead/**",
                "refs/heads/",
            ])
            .into_bytes(),
        );
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.strip_prefix(root).unwrap().display().to_string();
                if name == ".git" || name == ".techlead" {
                    continue;
                }
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    out.insert(format!("file {name}"), fs::read(&path).unwrap());
                }
            }
        }
        walk(&self.path, &self.path, &mut snapshot);
        snapshot
    }
}

/// Writes an executable script from a child process: a file this process
/// had open for writing could be inherited by a child another test thread
/// is forking, and executing it would then fail with "text file busy".
fn executable(path: &Path, text: &str) {
    use std::io::Write;
    let mut child = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn request(task: &str, strategy: Strategy) -> MergeRequest {
    MergeRequest {
        task: task.into(),
        title: format!("Title of {task}"),
        agent: "backend-dev".into(),
        strategy,
    }
}

fn merged(result: MergeResult) -> String {
    match result {
        MergeResult::Merged { commit } => commit,
        other => panic!("expected a merge, got {other:?}"),
    }
}

/// A task that replaced `line two` of the README with its own text.
fn edit_line_two(workspaces: &Workspaces, task: &str) -> PathBuf {
    let path = workspaces.prepare(task).unwrap();
    write(
        &path,
        "README.md",
        &format!("# Project\n\nline one\nline two by {task}\nline three\n"),
    );
    workspaces
        .save(task, &format!("{task}: edit line two"))
        .unwrap();
    path
}

#[test]
fn two_parallel_tasks_merge_cleanly_and_the_integration_tree_has_both() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    std::thread::scope(|scope| {
        for task in ["api", "ui"] {
            let (workspaces, repo) = (&workspaces, &repo);
            scope.spawn(move || {
                let path = workspaces.prepare(task).unwrap();
                assert!(path.starts_with(fs::canonicalize(repo.data_dir()).unwrap()));
                assert!(path.join(".git").is_file(), "a worktree, not a clone");
                write(&path, &format!("src/{task}.rs"), &format!("// {task}\n"));
                let saved = workspaces.save(task, &format!("Add {task}")).unwrap();
                assert!(saved.committed);
            });
        }
    });
    assert_eq!(workspaces.changed_files("api").unwrap(), ["src/api.rs"]);
    let first = merged(workspaces.merge(&request("api", Strategy::Merge)).unwrap());
    let second = merged(workspaces.merge(&request("ui", Strategy::Merge)).unwrap());
    let integration = workspace::integration_branch(MISSION);
    assert_eq!(repo.rev(&integration), second);
    assert_eq!(repo.rev(&format!("{second}^1")), first);
    assert_eq!(repo.show(&integration, "src/api.rs"), "// api\n");
    assert_eq!(repo.show(&integration, "src/ui.rs"), "// ui\n");
    let message = repo.git(&["log", "-1", "--format=%B", &second]);
    assert!(
        message.starts_with("Merge task ui: Title of ui\n"),
        "{message}"
    );
    assert!(message.contains("backend-dev"), "{message}");
    assert!(message.contains("Techlead-Mission: web-1\n"), "{message}");
    assert!(message.contains("Techlead-Task: ui\n"), "{message}");
    assert_eq!(
        repo.git(&["log", "-1", "--format=%an <%ae> / %cn", &second])
            .trim(),
        "techlead <techlead@localhost> / techlead"
    );

    let checkout = workspaces.integration_checkout().unwrap();
    assert_eq!(
        fs::read_to_string(checkout.join("src/ui.rs")).unwrap(),
        "// ui\n"
    );
    assert_eq!(
        fs::read_to_string(checkout.join("src/api.rs")).unwrap(),
        "// api\n"
    );
    // Gate leftovers are cleaned away when it moves to the next tip.
    write(&checkout, "target/build.o", "junk");
    write(&checkout, "README.md", "edited by a gate");
    workspaces.integration_checkout().unwrap();
    assert!(!checkout.join("target").exists());
    assert_eq!(
        fs::read_to_string(checkout.join("README.md")).unwrap(),
        repo.show(&integration, "README.md")
    );
}

#[test]
fn many_tasks_prepare_save_and_merge_at_once() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    let tasks: Vec<String> = (0..8).map(|i| format!("task-{i}")).collect();
    std::thread::scope(|scope| {
        for task in &tasks {
            let workspaces = &workspaces;
            scope.spawn(move || {
                let path = workspaces.prepare(task).unwrap();
                write(&path, &format!("{task}.txt"), task);
                workspaces.save(task, task).unwrap();
                // Merges race for the integration branch; each one lands.
                merged(workspaces.merge(&request(task, Strategy::Merge)).unwrap());
                workspaces
                    .remove(task, Branch::Delete, Abandon::No)
                    .unwrap();
            });
        }
    });
    let integration = workspace::integration_branch(MISSION);
    for task in &tasks {
        assert_eq!(repo.show(&integration, &format!("{task}.txt")), *task);
    }
    assert_eq!(
        repo.git(&["rev-list", "--count", "--merges", &integration]),
        "8\n"
    );
    assert_eq!(workspaces.leftovers().unwrap(), []);
}

#[test]
fn tasks_editing_the_same_lines_conflict_and_leave_the_integration_branch_alone() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    edit_line_two(&workspaces, "first");
    edit_line_two(&workspaces, "second");
    let integration = workspace::integration_branch(MISSION);
    merged(
        workspaces
            .merge(&request("first", Strategy::Merge))
            .unwrap(),
    );
    let before = repo.rev(&integration);
    for strategy in [Strategy::Merge, Strategy::Rebase] {
        assert_eq!(
            workspaces.merge(&request("second", strategy)).unwrap(),
            MergeResult::Conflict {
                files: vec!["README.md".into()]
            }
        );
        assert_eq!(repo.rev(&integration), before);
    }
}

#[test]
fn merging_twice_merges_once() {
    for strategy in [Strategy::Merge, Strategy::Rebase] {
        let repo = Repo::new();
        let workspaces = repo.workspaces();
        let path = workspaces.prepare("api").unwrap();
        write(&path, "api.txt", "one\n");
        workspaces.save("api", "one").unwrap();
        write(&path, "api.txt", "one\ntwo\n");
        workspaces.save("api", "two").unwrap();
        let integration = workspace::integration_branch(MISSION);
        let commit = merged(workspaces.merge(&request("api", strategy)).unwrap());
        let count = repo.git(&["rev-list", "--count", &integration]);
        // As after a crash between moving the branch and recording it.
        assert_eq!(
            workspaces.merge(&request("api", strategy)).unwrap(),
            MergeResult::AlreadyMerged {
                commit: commit.clone()
            },
            "{strategy:?}"
        );
        assert_eq!(repo.rev(&integration), commit);
        assert_eq!(repo.git(&["rev-list", "--count", &integration]), count);
        let marked = repo.git(&[
            "log",
            "--format=%H",
            "--grep=^Techlead-Task: api$",
            &integration,
        ]);
        let expected = match strategy {
            Strategy::Merge => 1,
            Strategy::Rebase => 2,
        };
        assert_eq!(marked.lines().count(), expected, "{strategy:?}");

        // More work on the same task (a retry) merges only the new work.
        write(&path, "api.txt", "one\ntwo\nthree\n");
        workspaces.save("api", "three").unwrap();
        let again = merged(workspaces.merge(&request("api", strategy)).unwrap());
        assert_eq!(repo.show(&again, "api.txt"), "one\ntwo\nthree\n");
        assert_eq!(
            workspaces.merge(&request("api", strategy)).unwrap(),
            MergeResult::AlreadyMerged { commit: again }
        );
    }
}

#[test]
fn the_rebase_strategy_gives_a_linear_history_keeping_messages_and_authors() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    let base = repo.rev("main");
    let path = workspaces.prepare("api").unwrap();
    // The agent commits by itself, under its own name.
    write(&path, "api.txt", "one\n");
    repo.git_in(&path, &["add", "api.txt"]);
    repo.git_in(
        &path,
        &[
            "-c",
            "user.name=Agent Smith",
            "-c",
            "user.email=agent@example.com",
            "commit",
            "-q",
            "-m",
            "Add the API\n\nWith a body.",
        ],
    );
    write(&path, "api2.txt", "two\n");
    workspaces.save("api", "Second step").unwrap();
    // Meanwhile another task moved the integration branch on.
    let ui = workspaces.prepare("ui").unwrap();
    write(&ui, "ui.txt", "ui\n");
    workspaces.save("ui", "Add the UI").unwrap();
    merged(workspaces.merge(&request("ui", Strategy::Rebase)).unwrap());

    let tip = merged(workspaces.merge(&request("api", Strategy::Rebase)).unwrap());
    let integration = workspace::integration_branch(MISSION);
    assert_eq!(repo.rev(&integration), tip);
    assert_eq!(repo.git(&["rev-list", "--merges", &integration]), "");
    assert_eq!(
        repo.git(&["log", "--format=%s", &format!("{base}..{tip}")]),
        "Second step\nAdd the API\nAdd the UI\n"
    );
    assert_eq!(
        repo.git(&["log", "-1", "--format=%an <%ae> / %cn", &format!("{tip}^")])
            .trim(),
        "Agent Smith <agent@example.com> / techlead"
    );
    let message = repo.git(&["log", "-1", "--format=%B", &format!("{tip}^")]);
    assert!(
        message.starts_with(
            "Add the API\n\nWith a body.\n\nTechlead-Mission: web-1\nTechlead-Task: api\n"
        ),
        "{message}"
    );
    for file in ["api.txt", "api2.txt", "ui.txt"] {
        repo.show(&tip, file);
    }
}

#[test]
fn save_commits_everything_but_ignored_files_and_says_when_there_was_nothing() {
    let repo = Repo::new();
    repo.write(".gitignore", "*.log\n");
    repo.git(&["add", ".gitignore"]);
    repo.git(&["commit", "-q", "-m", "Ignore logs"]);
    let workspaces = repo.workspaces();
    let path = workspaces.prepare("api").unwrap();
    let start = repo.rev(&workspaces.task_branch("api"));
    let clean = workspaces.save("api", "nothing").unwrap();
    assert!(!clean.committed);
    assert_eq!(clean.commit, start);

    fs::remove_file(path.join("src/lib.rs")).unwrap();
    write(&path, "README.md", "changed\n");
    write(&path, "new/dir/file.txt", "untracked\n");
    write(&path, "build.log", "ignored\n");
    // A pre-commit hook that would refuse everything must not stop it.
    let hooks = repo.path.join(".git/hooks");
    fs::create_dir_all(&hooks).unwrap();
    executable(&hooks.join("pre-commit"), "#!/bin/sh\nexit 1\n");

    let saved = workspaces
        .save("api", "Agent's work\n\n# not a comment")
        .unwrap();
    assert!(saved.committed);
    assert_ne!(saved.commit, start);
    assert_eq!(repo.rev(&workspaces.task_branch("api")), saved.commit);
    assert_eq!(
        repo.git(&["diff", "--name-status", &start, &saved.commit]),
        "M\tREADME.md\nA\tnew/dir/file.txt\nD\tsrc/lib.rs\n"
    );
    assert_eq!(
        repo.git(&["log", "-1", "--format=%B", &saved.commit]),
        "Agent's work\n\n# not a comment\n\n"
    );
    assert!(path.join("build.log").exists());
    let again = workspaces.save("api", "again").unwrap();
    assert_eq!((again.committed, again.commit), (false, saved.commit));
    assert_eq!(
        workspaces.changed_files("api").unwrap(),
        ["README.md", "new/dir/file.txt", "src/lib.rs"]
    );
}

#[test]
fn save_follows_an_agent_that_switched_to_a_branch_of_its_own() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    let path = workspaces.prepare("api").unwrap();
    repo.git_in(&path, &["switch", "--quiet", "-c", "agent-side"]);
    write(&path, "one.txt", "committed by the agent\n");
    repo.git_in(&path, &["add", "one.txt"]);
    repo.git_in(&path, &["commit", "--quiet", "-m", "Agent's own commit"]);
    repo.git_in(&path, &["switch", "--quiet", "--detach"]);
    write(&path, "two.txt", "left uncommitted\n");
    let saved = workspaces.save("api", "Save").unwrap();
    assert!(saved.committed);
    let branch = workspaces.task_branch("api");
    assert_eq!(repo.rev(&branch), saved.commit);
    assert_eq!(
        repo.git_in(&path, &["symbolic-ref", "--short", "HEAD"])
            .trim(),
        branch
    );
    assert_eq!(
        repo.git(&["log", "--format=%s", &format!("main..{branch}")]),
        "Save\nAgent's own commit\n"
    );
    assert_eq!(repo.git_in(&path, &["status", "--porcelain"]), "");

    // Somewhere that does not build on the task's work is refused.
    repo.git_in(&path, &["switch", "--quiet", "--detach", "main"]);
    let error = workspaces.save("api", "Save").unwrap_err();
    assert!(
        matches!(error, workspace::Error::OffBranch { .. }),
        "{error}"
    );
    assert_eq!(repo.rev(&branch), saved.commit);
}

#[test]
fn an_agent_resolves_a_conflict_and_save_concludes_the_merge() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    edit_line_two(&workspaces, "first");
    let path = edit_line_two(&workspaces, "second");
    merged(
        workspaces
            .merge(&request("first", Strategy::Merge))
            .unwrap(),
    );
    assert!(matches!(
        workspaces
            .merge(&request("second", Strategy::Merge))
            .unwrap(),
        MergeResult::Conflict { .. }
    ));

    assert_eq!(
        workspaces.begin_conflict_merge("second").unwrap(),
        ["README.md"]
    );
    let markers = fs::read_to_string(path.join("README.md")).unwrap();
    assert!(
        markers.contains("<<<<<<<") && markers.contains(">>>>>>>"),
        "{markers}"
    );
    // Asked again (after a crash), the same merge is still in progress.
    assert_eq!(
        workspaces.begin_conflict_merge("second").unwrap(),
        ["README.md"]
    );

    // The agent resolves it.
    let resolved = "# Project\n\nline one\nline two by first and second\nline three\n";
    write(&path, "README.md", resolved);
    let saved = workspaces.save("second", "Resolve the conflict").unwrap();
    assert!(saved.committed);
    assert!(saved.unresolved.is_empty());
    let parents = repo.git(&["log", "-1", "--format=%P", &saved.commit]);
    assert_eq!(parents.split_whitespace().count(), 2, "a merge commit");

    // Under the rebase strategy too: a resolved branch merges with a merge
    // commit rather than meeting its conflict again.
    let tip = merged(
        workspaces
            .merge(&request("second", Strategy::Rebase))
            .unwrap(),
    );
    assert_eq!(repo.show(&tip, "README.md"), resolved);
}

#[test]
fn save_reports_conflict_markers_left_in() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    edit_line_two(&workspaces, "first");
    edit_line_two(&workspaces, "second");
    merged(
        workspaces
            .merge(&request("first", Strategy::Merge))
            .unwrap(),
    );
    workspaces.begin_conflict_merge("second").unwrap();
    let saved = workspaces.save("second", "Gave up").unwrap();
    assert!(saved.committed);
    assert_eq!(saved.unresolved, ["README.md"]);
}

#[test]
fn begin_conflict_merge_refuses_a_dirty_worktree() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    let path = workspaces.prepare("api").unwrap();
    write(&path, "scratch.txt", "not saved\n");
    let error = workspaces.begin_conflict_merge("api").unwrap_err();
    assert!(
        matches!(&error, workspace::Error::Dirty { files, .. } if files == &["scratch.txt"]),
        "{error}"
    );
}

#[test]
fn prepare_checks_the_branch_out_again_when_the_directory_was_deleted() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    let path = workspaces.prepare("api").unwrap();
    write(&path, "work.txt", "saved work\n");
    let saved = workspaces.save("api", "Work").unwrap();
    // Reused as it is, uncommitted changes included.
    write(&path, "draft.txt", "draft\n");
    assert_eq!(workspaces.prepare("api").unwrap(), path);
    assert!(path.join("draft.txt").exists());

    fs::remove_dir_all(&path).unwrap();
    assert_eq!(workspaces.prepare("api").unwrap(), path);
    assert_eq!(
        fs::read_to_string(path.join("work.txt")).unwrap(),
        "saved work\n"
    );
    assert_eq!(
        repo.git_in(&path, &["rev-parse", "HEAD"]).trim(),
        saved.commit
    );
    assert_eq!(
        repo.git_in(&path, &["symbolic-ref", "--short", "HEAD"])
            .trim(),
        workspaces.task_branch("api")
    );
}

#[test]
fn prepare_needs_the_integration_branch_and_ensure_integration_is_idempotent() {
    let repo = Repo::new();
    let workspaces = Workspaces::new(repo.open(), &repo.data_dir(), MISSION);
    let error = workspaces.prepare("api").unwrap_err();
    assert!(
        matches!(error, workspace::Error::NoIntegration { .. }),
        "{error}"
    );
    assert!(matches!(
        workspaces.ensure_integration("no-such-branch").unwrap_err(),
        workspace::Error::BadBase { .. }
    ));
    let first = workspaces.ensure_integration("main").unwrap();
    assert_eq!(first, repo.rev("main"));
    repo.write("later.txt", "later\n");
    repo.git(&["add", "later.txt"]);
    repo.git(&["commit", "-q", "-m", "Later"]);
    assert_eq!(workspaces.ensure_integration("main").unwrap(), first);
}

#[test]
fn remove_refuses_unmerged_work_and_uncommitted_changes() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    let path = workspaces.prepare("api").unwrap();
    write(&path, "api.txt", "api\n");
    workspaces.save("api", "Add the API").unwrap();
    let error = workspaces
        .remove("api", Branch::Delete, Abandon::No)
        .unwrap_err();
    assert!(
        matches!(error, workspace::Error::Unmerged { commits: 1, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("not merged"), "{error}");
    assert!(error.hint().is_some());

    merged(workspaces.merge(&request("api", Strategy::Merge)).unwrap());
    write(&path, "late.txt", "written after the merge\n");
    let error = workspaces
        .remove("api", Branch::Delete, Abandon::No)
        .unwrap_err();
    assert!(matches!(error, workspace::Error::Dirty { .. }), "{error}");
    assert!(path.join("late.txt").exists());

    fs::remove_file(path.join("late.txt")).unwrap();
    workspaces
        .remove("api", Branch::Delete, Abandon::No)
        .unwrap();
    assert!(!path.exists());
    assert_eq!(
        repo.git(&["branch", "--list", &workspaces.task_branch("api")]),
        ""
    );

    // A branch the person checked out is not deleted under them.
    let path = workspaces.prepare("theirs").unwrap();
    workspaces
        .remove("theirs", Branch::Keep, Abandon::No)
        .unwrap();
    assert!(!path.exists());
    let branch = workspaces.task_branch("theirs");
    repo.git(&["switch", "--quiet", &branch]);
    let error = workspaces
        .remove("theirs", Branch::Delete, Abandon::Yes)
        .unwrap_err();
    assert!(
        matches!(error, workspace::Error::CheckedOut { .. }),
        "{error}"
    );
    repo.git(&["rev-parse", "--verify", &branch]);
    repo.git(&["switch", "--quiet", "main"]);

    // Abandoning throws unmerged work away on purpose.
    let path = workspaces.prepare("doomed").unwrap();
    write(&path, "x.txt", "x\n");
    workspaces.save("doomed", "x").unwrap();
    write(&path, "y.txt", "y\n");
    workspaces
        .remove("doomed", Branch::Delete, Abandon::Yes)
        .unwrap();
    assert!(!path.exists());
    assert_eq!(
        repo.git(&["branch", "--list", &workspaces.task_branch("doomed")]),
        ""
    );
}

#[test]
fn rebased_work_counts_as_merged() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    let other = workspaces.prepare("other").unwrap();
    write(&other, "other.txt", "other\n");
    workspaces.save("other", "Other").unwrap();
    let path = workspaces.prepare("api").unwrap();
    write(&path, "api.txt", "api\n");
    workspaces.save("api", "API").unwrap();
    merged(
        workspaces
            .merge(&request("other", Strategy::Merge))
            .unwrap(),
    );
    merged(workspaces.merge(&request("api", Strategy::Rebase)).unwrap());
    workspaces
        .remove("api", Branch::Delete, Abandon::No)
        .unwrap();
}

#[test]
fn leftovers_say_what_removing_each_would_lose() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    for task in ["merged", "unmerged", "dirty", "gone"] {
        let path = workspaces.prepare(task).unwrap();
        write(&path, &format!("{task}.txt"), "work\n");
        workspaces.save(task, task).unwrap();
    }
    merged(
        workspaces
            .merge(&request("merged", Strategy::Merge))
            .unwrap(),
    );
    merged(
        workspaces
            .merge(&request("dirty", Strategy::Merge))
            .unwrap(),
    );
    write(&workspaces.task_path("dirty"), "uncommitted.txt", "x\n");
    fs::remove_dir_all(workspaces.task_path("gone")).unwrap();
    let orphan = workspaces.root().join("stray");
    write(&orphan, "notes.txt", "someone's notes\n");
    workspaces.integration_checkout().unwrap();

    let root = fs::canonicalize(workspaces.root()).unwrap();
    let leftovers = workspaces.leftovers().unwrap();
    let seen: Vec<(&str, &State, bool, bool)> = leftovers
        .iter()
        .map(
            |Leftover {
                 name,
                 path,
                 branch,
                 state,
             }| { (name.as_str(), state, path.is_some(), branch.is_some()) },
        )
        .collect();
    assert_eq!(
        seen,
        [
            ("_integration", &State::Integration, true, false),
            (
                "dirty",
                &State::Dirty {
                    files: vec!["uncommitted.txt".into()]
                },
                true,
                true
            ),
            ("gone", &State::Unmerged { commits: 1 }, false, true),
            ("merged", &State::Merged, true, true),
            ("stray", &State::Orphaned, true, false),
            ("unmerged", &State::Unmerged { commits: 1 }, true, true),
        ]
    );
    assert_eq!(
        leftovers[3].path.as_deref(),
        Some(root.join("merged").as_path())
    );

    // The orphan is refused unless abandoned; the integration copy goes.
    assert!(matches!(
        workspaces.remove("stray", Branch::Keep, Abandon::No),
        Err(workspace::Error::Orphaned { .. })
    ));
    workspaces
        .remove("stray", Branch::Keep, Abandon::Yes)
        .unwrap();
    workspaces.remove_integration_checkout().unwrap();
    workspaces
        .remove("merged", Branch::Delete, Abandon::No)
        .unwrap();
    let names: Vec<String> = workspaces
        .leftovers()
        .unwrap()
        .into_iter()
        .map(|leftover| leftover.name)
        .collect();
    assert_eq!(names, ["dirty", "gone", "unmerged"]);
}

/// The mission's work, merged, ready to land.
fn finished_mission(repo: &Repo) -> Workspaces {
    let workspaces = repo.workspaces();
    let path = workspaces.prepare("api").unwrap();
    write(&path, "api.txt", "api\n");
    workspaces.save("api", "API").unwrap();
    merged(workspaces.merge(&request("api", Strategy::Merge)).unwrap());
    workspaces
}

#[test]
fn land_fast_forwards_a_branch_that_is_not_checked_out() {
    let repo = Repo::new();
    repo.git(&["branch", "release"]);
    let workspaces = finished_mission(&repo);
    let tip = workspaces.integration_tip().unwrap();
    let before = repo.snapshot();
    let landed = workspaces.land("release").unwrap();
    assert_eq!(
        landed,
        Landed::FastForwarded {
            branch: "release".into(),
            from: repo.rev("main"),
            to: tip.clone()
        }
    );
    assert_eq!(repo.rev("release"), tip);
    let mut after = repo.snapshot();
    after.insert("branches".into(), before["branches"].clone());
    assert_eq!(before, after, "only `release` moved");
    assert_eq!(
        workspaces.land("release").unwrap(),
        Landed::UpToDate {
            branch: "release".into(),
            commit: tip
        }
    );
}

#[test]
fn land_moves_the_checked_out_branch_only_when_its_worktree_is_clean() {
    let repo = Repo::new();
    let workspaces = finished_mission(&repo);
    repo.write("README.md", "the person's own edit\n");
    let error = workspaces.land("main").unwrap_err();
    assert!(
        matches!(&error, workspace::Error::TargetDirty { files, .. } if files == &["README.md"]),
        "{error}"
    );
    assert_eq!(
        fs::read_to_string(repo.path.join("README.md")).unwrap(),
        "the person's own edit\n"
    );

    repo.git(&["checkout", "--quiet", "--", "README.md"]);
    repo.write("notes.txt", "untracked notes stay\n");
    let tip = workspaces.integration_tip().unwrap();
    assert!(matches!(
        workspaces.land("main").unwrap(),
        Landed::FastForwarded { to, .. } if to == tip
    ));
    assert_eq!(repo.rev("HEAD"), tip);
    assert_eq!(
        fs::read_to_string(repo.path.join("api.txt")).unwrap(),
        "api\n"
    );
    assert_eq!(
        repo.git(&["status", "--porcelain", "--untracked-files=all"]),
        "?? notes.txt\n"
    );
}

#[test]
fn land_refuses_what_would_not_be_a_fast_forward_and_can_make_a_branch() {
    let repo = Repo::new();
    let workspaces = finished_mission(&repo);
    repo.write("person.txt", "the person went on working\n");
    repo.git(&["add", "person.txt"]);
    repo.git(&["commit", "-q", "-m", "Meanwhile"]);
    let head = repo.rev("HEAD");
    let error = workspaces.land("main").unwrap_err();
    assert!(
        matches!(error, workspace::Error::NotFastForward { .. }),
        "{error}"
    );
    let hint = error.hint().unwrap();
    assert!(
        hint.contains("git merge techlead/web-1/_integration"),
        "{hint}"
    );
    assert_eq!(repo.rev("HEAD"), head);

    let tip = workspaces.integration_tip().unwrap();
    assert_eq!(
        workspaces.land_as_branch("mission/web-1").unwrap(),
        Landed::Created {
            branch: "mission/web-1".into(),
            commit: tip.clone()
        }
    );
    assert_eq!(repo.rev("mission/web-1"), tip);
    assert!(matches!(
        workspaces.land_as_branch("mission/web-1").unwrap(),
        Landed::UpToDate { .. }
    ));
    assert!(matches!(
        workspaces.land_as_branch("main").unwrap_err(),
        workspace::Error::BranchExists { .. }
    ));
    assert!(matches!(
        workspaces.land_as_branch("bad..name").unwrap_err(),
        workspace::Error::BadBranchName { .. }
    ));
    assert!(matches!(
        workspaces.land("nope").unwrap_err(),
        workspace::Error::NoSuchBranch { .. }
    ));
}

#[test]
fn the_persons_checkout_is_never_touched() {
    let repo = Repo::new();
    // The person is in the middle of something: staged, unstaged and
    // untracked changes.
    repo.write("src/lib.rs", "pub fn answer() -> u32 {\n    43\n}\n");
    repo.git(&["add", "src/lib.rs"]);
    repo.write("README.md", "# Project, being edited\n");
    repo.write("scratch/notes.md", "my notes\n");
    let before = repo.snapshot();

    let workspaces = repo.workspaces();
    edit_line_two(&workspaces, "first");
    let second = edit_line_two(&workspaces, "second");
    write(
        &second,
        "src/lib.rs",
        "pub fn answer() -> u32 {\n    44\n}\n",
    );
    workspaces.save("second", "Change the answer").unwrap();
    merged(
        workspaces
            .merge(&request("first", Strategy::Merge))
            .unwrap(),
    );
    workspaces
        .merge(&request("second", Strategy::Rebase))
        .unwrap();
    workspaces.begin_conflict_merge("second").unwrap();
    write(&second, "README.md", "resolved\n");
    workspaces.save("second", "Resolve").unwrap();
    merged(
        workspaces
            .merge(&request("second", Strategy::Merge))
            .unwrap(),
    );
    workspaces.diff("second", 100).unwrap();
    workspaces.integration_checkout().unwrap();
    workspaces.leftovers().unwrap();
    workspaces
        .remove("first", Branch::Delete, Abandon::No)
        .unwrap();
    workspaces
        .remove("second", Branch::Keep, Abandon::Yes)
        .unwrap();

    assert_eq!(repo.snapshot(), before);
    assert_eq!(
        fs::read_to_string(repo.data_dir().join(".gitignore")).unwrap(),
        "*\n"
    );
}

#[test]
fn the_diff_is_cut_with_a_note_of_what_was_left_out() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    let path = workspaces.prepare("api").unwrap();
    for i in 0..5 {
        write(
            &path,
            &format!("file{i}.txt"),
            &"some line of text\n".repeat(20),
        );
    }
    workspaces.save("api", "Five files").unwrap();
    let full = workspaces.diff("api", usize::MAX).unwrap();
    assert_eq!(full.matches("diff --git ").count(), 5);
    assert!(!full.contains("[techlead"));

    let cut = workspaces.diff("api", 600).unwrap();
    let (shown, note) = cut.rsplit_once("[techlead: ").unwrap();
    assert!(shown.len() <= 600 && shown.ends_with('\n'), "{shown}");
    assert!(full.starts_with(shown));
    let left = full.len() - shown.len();
    assert!(
        note.contains(&format!("{left} more bytes left out")),
        "{note}"
    );
    let files = 5 - shown.matches("diff --git ").count();
    assert!(
        note.contains(&format!("including {files} more files")),
        "{note}"
    );
    assert!(
        note.contains(
            "git diff refs/heads/techlead/web-1/_integration...refs/heads/techlead/web-1/api"
        ),
        "{note}"
    );
}

#[test]
fn merging_refuses_to_move_an_integration_branch_someone_checked_out() {
    let repo = Repo::new();
    let workspaces = repo.workspaces();
    let path = workspaces.prepare("api").unwrap();
    write(&path, "api.txt", "api\n");
    workspaces.save("api", "API").unwrap();
    repo.git(&["switch", "--quiet", &workspace::integration_branch(MISSION)]);
    let error = workspaces
        .merge(&request("api", Strategy::Merge))
        .unwrap_err();
    assert!(
        matches!(error, workspace::Error::CheckedOut { .. }),
        "{error}"
    );
}

#[test]
fn odd_task_ids_get_valid_branches() {
    let repo = Repo::new();
    let workspaces = Workspaces::new(repo.open(), &repo.data_dir(), "a mission: 1");
    workspaces.ensure_integration("HEAD").unwrap();
    for task in ["with space", "_integration", "x.lock", "ü..~^:?*[\\"] {
        let path = workspaces.prepare(task).unwrap();
        write(&path, "f.txt", task);
        workspaces.save(task, task).unwrap();
        let branch = workspaces.task_branch(task);
        repo.git(&["check-ref-format", &format!("refs/heads/{branch}")]);
        assert_ne!(branch, workspaces.integration_branch());
    }
}

#[test]
fn opening_outside_a_repository_says_so() {
    let temp = tempfile::tempdir().unwrap();
    let error = Git::open(temp.path()).unwrap_err();
    assert!(
        matches!(error, git::Error::NotARepository { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("is not in a git repository"),
        "{error}"
    );
    assert!(error.hint().unwrap().contains("git init"));
    let missing = temp.path().join("missing");
    assert!(matches!(
        Git::open(&missing).unwrap_err(),
        git::Error::NotARepository { .. }
    ));

    let repo = Repo::new();
    let git = Git::open(&repo.path.join("src")).unwrap();
    assert_eq!(git.repo(), fs::canonicalize(&repo.path).unwrap());
    assert_eq!(git.current_branch().unwrap().as_deref(), Some("main"));
    assert_eq!(git.head_commit().unwrap(), Some(repo.rev("HEAD")));
    assert!(git.is_ancestor(&repo.rev("HEAD"), "main").unwrap());
    assert_eq!(git.resolve("no-such-rev").unwrap(), None);
}

#[test]
fn an_old_git_is_refused_with_its_version_and_what_to_do() {
    let temp = tempfile::tempdir().unwrap();
    let fake = temp.path().join("git");
    executable(&fake, "#!/bin/sh\necho 'git version 2.37.1'\n");
    let error = Git::open_with(&fake, temp.path()).unwrap_err();
    assert!(
        matches!(&error, git::Error::TooOld { found } if found == "2.37.1"),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "git 2.37.1 is too old: techlead needs git 2.38 or newer"
    );
    assert!(error.hint().unwrap().contains("upgrade git"));

    let error = Git::open_with(temp.path().join("no-git"), temp.path()).unwrap_err();
    assert!(matches!(error, git::Error::NotFound { .. }), "{error}");
}
