//! `techlead land` and `techlead gc` against real repositories and real
//! runs: landing moves the person's branch only by fast-forward and only
//! when that loses nothing; gc removes only what loses nothing, and gives up
//! work only when told to.

use crate::support;

use serde_json::Value;
use std::path::Path;
use support::git::{git, integration, mission_in_repository, person_view, repository};

fn tip(dir: &Path, rev: &str) -> String {
    git(dir, &["rev-parse", rev]).trim().to_string()
}

/// Whether the branch `name` exists.
fn has_branch(dir: &Path, name: &str) -> bool {
    !git(dir, &["branch", "--list", name]).trim().is_empty()
}

fn techlead(dir: &Path, args: &[&str]) -> support::Output {
    support::run_to_end(dir, args)
}

/// Two tasks that change a.txt and b.txt, and with `failing`, a third
/// whose gate never passes (its work stays on its branch, unmerged).
fn mission(name: &str, failing: bool) -> String {
    let mut text = format!(
        "mission:\n  name: {name}\n  repository: .\n  defaults: {{executor: command, max_parallel: 2, backoff: [10ms]}}\n\
         tasks:\n\
         \x20 - {{id: A, title: change a, command: [sh, -c, 'echo A >> a.txt']}}\n\
         \x20 - {{id: B, title: change b, command: [sh, -c, 'echo B >> b.txt']}}\n"
    );
    if failing {
        text.push_str(
            "\x20 - {id: F, title: never passes, retries: 0, command: [sh, -c, 'echo F >> f.txt'], gates: ['false']}\n",
        );
    }
    text
}

/// A repository and a mission run to its end with `code`; returns the
/// mission's ID.
fn ran(dir: &Path, prefix: &str, failing: bool, code: i32) -> String {
    let name = support::unique_name(prefix);
    repository(
        dir,
        &[("a.txt", "a\n"), ("b.txt", "b\n")],
        &mission(&name, failing),
    );
    techlead(dir, &["run", "mission.yaml", "--json"]).expect_code(code);
    format!("{name}-1")
}

fn short(commit: &str) -> &str {
    &commit[..7]
}

/// The contents of `file` in the person's checkout.
fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[test]
fn land_fast_forwards_the_checked_out_branch_and_the_persons_files_hold_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let mission = ran(dir.path(), "land-ff", false, 0);
    let before = tip(dir.path(), "main");
    let result = tip(dir.path(), &integration(&mission));
    assert_ne!(before, result);

    let out = techlead(dir.path(), &["land", &mission]);
    out.expect_code(0);

    assert_eq!(
        out.stdout.trim(),
        format!(
            "main: {} → {} (2 tasks merged)",
            short(&before),
            short(&result)
        )
    );
    let (head, branch, status) = person_view(dir.path());
    assert_eq!(head.trim(), result);
    assert_eq!(branch.trim(), "main");
    assert_eq!(status, "", "the checkout is clean and up to date");
    assert_eq!(read(dir.path(), "a.txt"), "a\nA\n");
    assert_eq!(read(dir.path(), "b.txt"), "b\nB\n");

    // Asked again: nothing to do, said so.
    let again = techlead(dir.path(), &["land", &mission, "--json"]);
    again.expect_code(0);
    let json = again.json();
    assert_eq!(json["action"], "up_to_date");
    assert_eq!(json["branch"], "main");
    assert_eq!(json["to"], result.as_str());
    assert_eq!(json["tasks"], serde_json::json!([]));
}

#[test]
fn land_moves_a_branch_that_is_not_checked_out_without_touching_the_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let mission = ran(dir.path(), "land-ref", false, 0);
    git(dir.path(), &["switch", "-q", "-c", "elsewhere"]);
    let before = tip(dir.path(), "main");
    let view = person_view(dir.path());
    let result = tip(dir.path(), &integration(&mission));

    let out = techlead(dir.path(), &["land", &mission, "--json"]);
    out.expect_code(0);

    let json = out.json();
    assert_eq!(json["mission"], mission.as_str());
    assert_eq!(json["action"], "fast_forwarded");
    assert_eq!(json["branch"], "main");
    assert_eq!(json["from"], before.as_str());
    assert_eq!(json["to"], result.as_str());
    assert_eq!(json["forced"], false);
    let mut tasks: Vec<&str> = json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tasks.sort();
    assert_eq!(tasks, ["A", "B"]);
    assert_eq!(tip(dir.path(), "main"), result);
    assert_eq!(person_view(dir.path()), view, "the checkout did not move");
    assert_eq!(git(dir.path(), &["show", "main:a.txt"]), "a\nA\n");
    git(dir.path(), &["switch", "-q", "main"]);
    assert_eq!(read(dir.path(), "b.txt"), "b\nB\n");
}

#[test]
fn land_refuses_a_checkout_with_uncommitted_changes_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mission = ran(dir.path(), "land-dirty", false, 0);
    std::fs::write(dir.path().join("a.txt"), "mine\n").unwrap();
    let before = person_view(dir.path());

    let out = techlead(dir.path(), &["land", &mission]);
    out.expect_code(1).expect_stderr(&[
        "error:",
        "uncommitted changes",
        "a.txt",
        "hint:",
        "commit or stash",
    ]);

    assert_eq!(out.stdout, "");
    assert_eq!(person_view(dir.path()), before);
    assert_eq!(read(dir.path(), "a.txt"), "mine\n");
}

#[test]
fn land_refuses_a_branch_that_moved_on_and_names_the_merge_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let mission = ran(dir.path(), "land-diverged", false, 0);
    git(
        dir.path(),
        &["commit", "-q", "--allow-empty", "-m", "meanwhile"],
    );
    let before = person_view(dir.path());

    let out = techlead(dir.path(), &["land", &mission]);
    out.expect_code(1).expect_stderr(&[
        "error:",
        "not be a fast-forward",
        "hint:",
        &format!("git merge {}", integration(&mission)),
        "--as-branch",
    ]);

    assert_eq!(person_view(dir.path()), before);
}

#[test]
fn land_as_a_new_branch_creates_it_at_the_result_and_leaves_main_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mission = ran(dir.path(), "land-new", false, 0);
    let before = person_view(dir.path());
    let result = tip(dir.path(), &integration(&mission));

    let out = techlead(dir.path(), &["land", &mission, "--as-branch", "feature/x"]);
    out.expect_code(0)
        .expect_stderr(&["git push -u origin feature/x"]);

    assert_eq!(
        out.stdout.trim(),
        format!(
            "feature/x: new branch at {} (2 tasks merged)",
            short(&result)
        )
    );
    assert_eq!(tip(dir.path(), "feature/x"), result);
    assert_eq!(person_view(dir.path()), before);
    // A branch of that name elsewhere is not overwritten.
    let taken = techlead(dir.path(), &["land", &mission, "--as-branch", "main"]);
    taken.expect_code(1).expect_stderr(&["already exists"]);
    assert_eq!(person_view(dir.path()), before);
}

#[test]
fn land_into_a_branch_that_does_not_exist_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mission = ran(dir.path(), "land-nobranch", false, 0);
    let out = techlead(dir.path(), &["land", &mission, "--into", "nope"]);
    out.expect_code(1)
        .expect_stderr(&["no branch `nope`", "hint:", "--as-branch"]);
    assert!(!has_branch(dir.path(), "nope"));
}

#[test]
fn land_of_a_mission_without_repository_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let name = support::unique_name("land-norepo");
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  defaults: {{executor: command}}\n\
             tasks:\n  - {{id: T, title: t, command: ['true']}}\n"
        ),
    );
    techlead(dir.path(), &["run", "mission.yaml", "--json"]).expect_code(0);

    let out = techlead(dir.path(), &["land", &format!("{name}-1")]);
    out.expect_code(1)
        .expect_stderr(&["error:", "has no repository", "hint:", "repository:"]);
    assert_eq!(out.stdout, "");
}

#[test]
fn a_failed_mission_lands_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let mission = ran(dir.path(), "land-partial", true, 1);
    let before = person_view(dir.path());

    let refused = techlead(dir.path(), &["land", &mission]);
    refused.expect_code(1).expect_stderr(&[
        "finished with failed or blocked tasks",
        "2 of 3 tasks",
        &format!("techlead land {mission} --force"),
    ]);
    assert_eq!(person_view(dir.path()), before);

    let forced = techlead(dir.path(), &["land", &mission, "--force"]);
    forced
        .expect_code(0)
        .expect_stderr(&["warning:", "--force"]);
    assert!(forced.stdout.starts_with("main: "), "{}", forced.stdout);
    assert_eq!(
        tip(dir.path(), "main"),
        tip(dir.path(), &integration(&mission))
    );
    // The failed task's work is not in it.
    assert!(!dir.path().join("f.txt").exists());
}

/// The leftover named `name` in a gc JSON's mission `mission`.
fn leftover<'a>(json: &'a Value, mission: &str, name: &str) -> Option<&'a Value> {
    json["missions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mission"] == mission)
        .unwrap_or_else(|| panic!("no mission {mission} in {json:#}"))["leftovers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
}

#[test]
fn gc_lists_removes_only_merged_leftovers_and_abandons_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let mission = ran(dir.path(), "gc", true, 1);
    let root = dir.path().join(".techlead/worktrees").join(&mission);
    // A merged task's worktree left behind (the run removes them; a
    // failure to is only listed), and the integration checkout of gates.
    let a = root.join("A");
    git(
        dir.path(),
        &[
            "worktree",
            "add",
            "-q",
            a.to_str().unwrap(),
            &format!("techlead/{mission}/A"),
        ],
    );
    let checkout = root.join("_integration");
    git(
        dir.path(),
        &[
            "worktree",
            "add",
            "-q",
            "--detach",
            checkout.to_str().unwrap(),
            &integration(&mission),
        ],
    );
    let before = person_view(dir.path());

    // Listing changes nothing.
    let listed = techlead(dir.path(), &["gc", "--json"]);
    listed.expect_code(0);
    let json = listed.json();
    assert_eq!(json["applied"], false);
    let mission_json = &json["missions"][0];
    assert_eq!(mission_json["mission"], mission.as_str());
    assert_eq!(mission_json["status"], "failed");
    assert_eq!(mission_json["skipped"], Value::Null);
    let f = leftover(&json, &mission, "F").expect("F is left");
    assert_eq!(f["state"], "unmerged");
    assert_eq!(f["commits"], 1);
    assert_eq!(f["task"], "F");
    assert_eq!(f["branch"], format!("techlead/{mission}/F").as_str());
    assert_eq!(f["action"], "keep");
    assert_eq!(f["removed"], false);
    assert!(
        f["advice"]
            .as_str()
            .unwrap()
            .contains(&format!("techlead gc --abandon {mission}/F --yes")),
        "{f}"
    );
    let a_json = leftover(&json, &mission, "A").expect("A is left");
    assert_eq!(a_json["state"], "merged");
    assert_eq!(a_json["action"], "remove");
    assert!(a_json["path"].as_str().unwrap().ends_with("/A"));
    let b_json = leftover(&json, &mission, "B").expect("B's branch is left");
    assert_eq!(b_json["path"], Value::Null);
    assert_eq!(b_json["action"], "remove");
    let i_json = leftover(&json, &mission, "_integration").expect("the checkout");
    assert_eq!(i_json["state"], "integration");
    assert_eq!(i_json["action"], "remove");
    assert!(a.is_dir() && checkout.is_dir());
    assert!(has_branch(dir.path(), &format!("techlead/{mission}/A")));

    let text = techlead(dir.path(), &["gc"]);
    text.expect_code(0)
        .expect_stderr(&["would remove 3 leftovers and keep 1", "--yes"]);
    assert!(
        text.stdout.contains("would remove worktree + branch"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("unmerged: 1 commit"),
        "{}",
        text.stdout
    );
    assert!(a.is_dir());

    // --yes: the merged ones go, the unmerged work stays.
    let swept = techlead(dir.path(), &["gc", "--yes"]);
    swept
        .expect_code(0)
        .expect_stderr(&["removed 3 leftovers, kept 1"]);
    assert!(!a.exists() && !checkout.exists());
    assert!(!has_branch(dir.path(), &format!("techlead/{mission}/A")));
    assert!(!has_branch(dir.path(), &format!("techlead/{mission}/B")));
    assert!(root.join("F").is_dir());
    assert_eq!(
        git(
            dir.path(),
            &["show", &format!("techlead/{mission}/F:f.txt")]
        ),
        "F\n"
    );
    assert!(
        has_branch(dir.path(), &integration(&mission)),
        "the result stays"
    );
    let after = techlead(dir.path(), &["gc", "--json"]).json();
    let names: Vec<&str> = after["missions"][0]["leftovers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["F"]);

    // --abandon without --yes only says what it would give up.
    let spec = format!("{mission}/F");
    let dry = techlead(dir.path(), &["gc", "--abandon", &spec, "--json"]);
    dry.expect_code(0);
    let dry = dry.json();
    assert_eq!(dry["applied"], false);
    assert_eq!(leftover(&dry, &mission, "F").unwrap()["action"], "abandon");
    assert!(root.join("F").is_dir());

    let gone = techlead(dir.path(), &["gc", "--abandon", &spec, "--yes"]);
    gone.expect_code(0).expect_stderr(&["abandoned 1 leftover"]);
    assert!(!root.join("F").exists());
    assert!(!has_branch(dir.path(), &format!("techlead/{mission}/F")));
    let empty = techlead(dir.path(), &["gc", "--json"]).json();
    assert_eq!(empty["missions"][0]["leftovers"], serde_json::json!([]));

    // Nothing of the person's moved.
    assert_eq!(person_view(dir.path()), before);
}

#[test]
fn gc_never_removes_uncommitted_work_and_abandoning_an_unknown_leftover_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mission = ran(dir.path(), "gc-dirty", true, 1);
    let f = dir
        .path()
        .join(".techlead/worktrees")
        .join(&mission)
        .join("F");
    std::fs::write(f.join("notes.txt"), "unsaved\n").unwrap();
    // A directory made by hand where worktrees live.
    let stray = f.parent().unwrap().join("by hand");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("keep.txt"), "mine\n").unwrap();

    let swept = techlead(dir.path(), &["gc", "--yes", "--json"]);
    swept.expect_code(0);
    let json = swept.json();
    assert_eq!(json["applied"], true);
    let left = leftover(&json, &mission, "F").unwrap();
    assert_eq!(left["state"], "dirty");
    assert_eq!(left["files"], serde_json::json!(["notes.txt"]));
    assert_eq!(left["action"], "keep");
    assert_eq!(left["removed"], false);
    assert!(
        left["advice"].as_str().unwrap().contains("commit"),
        "{left}"
    );
    assert_eq!(leftover(&json, &mission, "A").unwrap()["removed"], true);
    assert_eq!(
        std::fs::read_to_string(f.join("notes.txt")).unwrap(),
        "unsaved\n"
    );

    let orphan = leftover(&json, &mission, "by hand").unwrap();
    assert_eq!(orphan["state"], "orphaned");
    assert_eq!(orphan["action"], "keep");
    assert!(stray.join("keep.txt").exists());
    let given_up = techlead(
        dir.path(),
        &[
            "gc",
            "--abandon",
            &format!("{mission}/by hand"),
            "--yes",
            "--json",
        ],
    );
    given_up.expect_code(0);
    assert_eq!(
        leftover(&given_up.json(), &mission, "by hand").unwrap()["removed"],
        true
    );
    assert!(!stray.exists());

    let unknown = techlead(
        dir.path(),
        &["gc", "--abandon", &format!("{mission}/NOPE"), "--yes"],
    );
    unknown.expect_code(2).expect_stderr(&[
        "nothing named `NOPE`",
        "hint:",
        &format!("{mission}/F"),
    ]);
    let no_mission = techlead(dir.path(), &["gc", "--abandon", "nobody/F", "--yes"]);
    no_mission
        .expect_code(2)
        .expect_stderr(&["error:", "hint:"]);
    assert!(f.is_dir());
}

#[test]
fn gc_and_land_leave_a_running_mission_alone() {
    // The task waits for the test's go-ahead, so the run holds its lock.
    let (dir, name) = mission_in_repository(
        "gc-live",
        &[("a.txt", "a\n")],
        "  defaults: {executor: command}\n\
         tasks:\n\
         \x20 - {id: W, title: wait, command: [sh, -c, 'touch ../../../started; while [ ! -e ../../../go ]; do sleep 0.02; done; echo W >> a.txt']}\n",
    );
    let mission = format!("{name}-1");
    let running = support::Running::start(dir.path(), &["run", "mission.yaml", "--json"]);
    // The attempt starts once its worktree is ready.
    let started = dir.path().join(".techlead/started");
    support::wait_until("the task to start", || started.exists());
    let worktree = dir
        .path()
        .join(".techlead/worktrees")
        .join(&mission)
        .join("W");
    assert!(worktree.is_dir());

    let gc = techlead(dir.path(), &["gc", "--yes", "--json"]);
    gc.expect_code(0);
    let json = gc.json();
    let skipped = json["missions"][0]["skipped"].as_str().unwrap_or_default();
    assert!(skipped.contains("being run"), "{json:#}");
    assert_eq!(json["missions"][0]["leftovers"], serde_json::json!([]));
    assert!(worktree.is_dir());
    let land = techlead(dir.path(), &["land", &mission]);
    land.expect_code(2)
        .expect_stderr(&["being run by another techlead"]);

    std::fs::write(dir.path().join(".techlead/go"), "").unwrap();
    let (code, lines, _) = running.finish();
    assert_eq!(code, 0, "{lines:#?}");
    techlead(dir.path(), &["land", &mission]).expect_code(0);
    assert_eq!(read(dir.path(), "a.txt"), "a\nW\n");
}
