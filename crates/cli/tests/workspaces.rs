//! Missions with a repository, end to end: each task works in its own
//! worktree, its gates check its work, and its work merges into the
//! integration branch, with real git repositories and real child
//! processes. The person's branch and working tree never change.

use crate::support;

use std::path::Path;
use support::git::{git, mission_in_repository, person_view};

/// The integration branch of the first run of the mission named `mission`.
fn integration(mission: &str) -> String {
    support::git::integration(&format!("{mission}-1"))
}

fn show(dir: &Path, mission: &str, file: &str) -> String {
    git(dir, &["show", &format!("{}:{file}", integration(mission))])
}

/// Merge commits on the integration branch that brought in `task`.
fn merges_of(dir: &Path, mission: &str, task: &str) -> usize {
    git(
        dir,
        &[
            "log",
            "--format=%H",
            "--all-match",
            &format!("--grep=^Techlead-Task: {task}$"),
            "--grep=^Techlead-Commit: ",
            &integration(mission),
        ],
    )
    .lines()
    .count()
}

fn run(dir: &Path) -> support::Output {
    support::run_to_end(dir, &["run", "mission.yaml", "--json"])
}

fn events_of<'a>(out: &'a support::Output, kind: &'a str) -> Vec<serde_json::Value> {
    out.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| support::event_type(e) == kind)
        .map(|e| e["event"].clone())
        .collect()
}

#[test]
fn parallel_tasks_on_different_files_merge_cleanly_and_the_person_is_untouched() {
    let (dir, name) = mission_in_repository(
        "ws-clean",
        &[("a.txt", "a\n"), ("b.txt", "b\n")],
        "  defaults: {executor: command, max_parallel: 2}\n\
         tasks:\n\
         \x20 - {id: A, title: change a, command: [sh, -c, 'echo A >> a.txt'], gates: ['grep -q A a.txt']}\n\
         \x20 - {id: B, title: change b, command: [sh, -c, 'echo B >> b.txt; echo new > new.txt']}\n\
         \x20 - {id: C, title: join, depends_on: [A, B], command: [sh, -c, 'cat a.txt b.txt > c.txt']}\n",
    );
    let before = person_view(dir.path());

    let out = run(dir.path());
    out.expect_code(0);

    assert_eq!(show(dir.path(), &name, "a.txt"), "a\nA\n");
    assert_eq!(show(dir.path(), &name, "b.txt"), "b\nB\n");
    assert_eq!(show(dir.path(), &name, "new.txt"), "new\n");
    // C started from the integration branch after A and B merged.
    assert_eq!(show(dir.path(), &name, "c.txt"), "a\nA\nb\nB\n");
    for task in ["A", "B", "C"] {
        assert_eq!(merges_of(dir.path(), &name, task), 1, "{task}");
    }
    let saved = events_of(&out, "work_saved");
    let files: Vec<&serde_json::Value> = saved.iter().map(|e| &e["files"]).collect();
    assert!(
        files.contains(&&serde_json::json!(["b.txt", "new.txt"])),
        "{files:?}"
    );
    assert_eq!(person_view(dir.path()), before);
    // Merged worktrees are removed; their branches stay.
    let worktrees = git(dir.path(), &["worktree", "list", "--porcelain"]);
    assert_eq!(worktrees.matches("worktree ").count(), 1, "{worktrees}");
    assert!(git(dir.path(), &["branch", "--list", "techlead/*"]).contains(&format!("{name}-1/A")));
}

#[test]
fn tasks_editing_the_same_lines_conflict_and_the_person_is_asked() {
    let (dir, name) = mission_in_repository(
        "ws-conflict",
        &[("shared.txt", "one\n")],
        "  on_conflict: escalate\n\
         \x20 defaults: {executor: command, max_parallel: 2}\n\
         tasks:\n\
         \x20 - {id: LEFT, title: left, command: [sh, -c, 'echo left > shared.txt']}\n\
         \x20 - {id: RIGHT, title: right, command: [sh, -c, 'echo right > shared.txt']}\n\
         \x20 - {id: AFTER, title: after, depends_on: [LEFT, RIGHT], command: ['true']}\n",
    );
    let before = person_view(dir.path());

    let out = run(dir.path());
    out.expect_code(1);

    let conflicts = events_of(&out, "merge_conflicted");
    assert_eq!(conflicts.len(), 1, "{}", out.stdout);
    assert_eq!(conflicts[0]["files"], serde_json::json!(["shared.txt"]));
    let loser = conflicts[0]["task"].as_str().unwrap();
    let winner = if loser == "LEFT" { "RIGHT" } else { "LEFT" };
    let escalations = events_of(&out, "escalation_raised");
    assert_eq!(escalations.len(), 1);
    assert_eq!(escalations[0]["kind"], "conflict");
    let message = escalations[0]["message"].as_str().unwrap();
    assert!(message.contains("shared.txt"), "{message}");
    assert!(
        message.contains(&format!("techlead/{name}-1/{loser}")),
        "{message}"
    );
    // The winner's work is in; the loser's is kept on its branch.
    assert_eq!(
        show(dir.path(), &name, "shared.txt"),
        format!("{}\n", winner.to_lowercase())
    );
    let branch = format!("techlead/{name}-1/{loser}:shared.txt");
    assert_eq!(
        git(dir.path(), &["show", &branch]),
        format!("{}\n", loser.to_lowercase())
    );
    let status = support::status(
        dir.path(),
        &dir.path().join(".techlead/techlead.db"),
        &format!("{name}-1"),
    );
    assert_eq!(support::task(&status, "AFTER")["status"], "blocked");
    assert_eq!(person_view(dir.path()), before);
}

#[test]
fn the_task_agent_resolves_a_conflict_and_its_work_passes_the_gates_again() {
    // RIGHT waits for LEFT's merge to be certain to conflict; on its
    // second attempt it finds the conflict markers and keeps both lines.
    let right = "if grep -q '<<<<<<<' shared.txt; then printf 'left\\nright\\n' > shared.txt; \
                 else while [ ! -e ../../../left-merged ]; do sleep 0.05; done; echo right > shared.txt; fi";
    let (dir, name) = mission_in_repository(
        "ws-resolve",
        &[("shared.txt", "one\n")],
        &format!(
            "  defaults: {{executor: command, max_parallel: 2}}\n\
             tasks:\n\
             \x20 - {{id: LEFT, title: left, command: [sh, -c, 'echo left > shared.txt']}}\n\
             \x20 - id: RIGHT\n    title: right\n    command: [sh, -c, {right:?}]\n    gates: ['grep -q right shared.txt']\n"
        ),
    );
    // The worktrees live in .techlead/worktrees/<mission>/<task>: LEFT's
    // merge is seen from RIGHT's worktree as ../../../left-merged.
    let mut running = support::Running::start(dir.path(), &["run", "mission.yaml", "--json"]);
    running.wait_for(|e| support::event_type(e) == "task_accepted" && e["event"]["task"] == "LEFT");
    std::fs::write(dir.path().join(".techlead/left-merged"), "").unwrap();
    let (code, lines, _) = running.finish();
    assert_eq!(code, 0, "{lines:#?}");

    let types: Vec<String> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"]["task"] == "RIGHT")
        .map(|e| support::event_type(&e).to_string())
        .collect();
    let conflict = types
        .iter()
        .position(|t| t == "merge_conflicted")
        .expect("a conflict");
    let gate_after = types[conflict..]
        .iter()
        .position(|t| t == "task_gate_finished");
    assert!(
        gate_after.is_some(),
        "the gates ran again after the conflict: {types:?}"
    );
    assert_eq!(show(dir.path(), &name, "shared.txt"), "left\nright\n");
    assert_eq!(merges_of(dir.path(), &name, "RIGHT"), 1);
}

#[test]
fn a_gate_that_fails_twice_sends_the_work_back_with_its_output_then_passes() {
    // The gate fails on its first two runs, saying why.
    let gate = "n=$(cat ../../../gate-runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > ../../../gate-runs; \
                if [ $n -lt 3 ]; then echo \"test_parse failed on run $n\"; exit 1; fi";
    let (dir, name) = mission_in_repository(
        "ws-gate",
        &[("lib.txt", "v0\n")],
        &format!(
            "  defaults: {{executor: command, backoff: [10ms]}}\n\
             tasks:\n\
             \x20 - id: FIX\n    title: fix the parser\n    retries: 2\n\
             \x20   command: [sh, -c, 'cat > ../../../prompt-$TECHLEAD_ATTEMPT.md; echo \"v$TECHLEAD_ATTEMPT\" >> lib.txt']\n\
             \x20   gates: [{{name: tests, run: {gate:?}}}]\n"
        ),
    );

    let out = run(dir.path());
    out.expect_code(0);

    let gates = events_of(&out, "task_gate_finished");
    let passed: Vec<bool> = gates
        .iter()
        .map(|g| g["passed"].as_bool().unwrap())
        .collect();
    assert_eq!(passed, [false, false, true]);
    assert_eq!(gates[0]["next"]["kind"], "retry");
    assert_eq!(gates[0]["reasons"][0], "test_parse failed on run 1");
    // The second attempt is told what the gate said, and works on the
    // first attempt's saved work.
    let second = std::fs::read_to_string(dir.path().join(".techlead/prompt-2.md")).unwrap();
    assert!(second.contains("did not pass `tests`"), "{second}");
    assert!(second.contains("test_parse failed on run 1"), "{second}");
    assert_eq!(show(dir.path(), &name, "lib.txt"), "v0\nv1\nv2\nv3\n");
    assert_eq!(merges_of(dir.path(), &name, "FIX"), 1);
}

#[test]
fn a_gate_that_keeps_failing_fails_the_task_and_tells_the_person() {
    let (dir, name) = mission_in_repository(
        "ws-gate-fail",
        &[("lib.txt", "v0\n")],
        "  defaults: {executor: command, backoff: [10ms]}\n\
         tasks:\n\
         \x20 - {id: FIX, title: fix, retries: 1, command: [sh, -c, 'echo x >> lib.txt'], gates: ['echo never; false']}\n",
    );
    let out = run(dir.path());
    out.expect_code(1);
    assert_eq!(events_of(&out, "task_gate_finished").len(), 2);
    let escalation = &events_of(&out, "escalation_raised")[0];
    assert_eq!(escalation["kind"], "gate");
    assert!(
        escalation["message"]
            .as_str()
            .unwrap()
            .contains(&format!("techlead/{name}-1/FIX"))
    );
    // The rejected work is kept on the task branch, not merged.
    assert_eq!(merges_of(dir.path(), &name, "FIX"), 0);
    let branch = format!("techlead/{name}-1/FIX:lib.txt");
    assert_eq!(git(dir.path(), &["show", &branch]), "v0\nx\nx\n");
}

#[test]
fn a_review_gate_asks_a_reviewer_agent_which_requests_changes_then_approves() {
    // The reviewer reads its prompt (with the diff) on stdin and answers
    // in the structured form: changes first, then approval.
    let reviewer = "---\nname: reviewer\ndescription: Reviews diffs.\nexecutor: command\n\
                    command: [sh, ../../../review.sh]\n---\nYou review changes.\n";
    let review = "cat > ../../../review-$TECHLEAD_ATTEMPT.md\n\
                  if grep -q 'handle empty input' lib.txt; then\n\
                  \x20 echo '::summary {\"verdict\": \"approve\", \"reasons\": [\"empty input handled\"]}'\n\
                  else\n\
                  \x20 echo '::summary {\"verdict\": \"request_changes\", \"reasons\": [\"handle empty input\"]}'\n\
                  fi\n";
    let coder = "cat > ../../../prompt-in; if grep -q 'handle empty input' ../../../prompt-in; \
                 then echo 'handle empty input' >> lib.txt; else echo feature >> lib.txt; fi";
    let (dir, name) = mission_in_repository(
        "ws-review",
        &[
            ("lib.txt", "v0\n"),
            (".techlead/review.sh", review),
            ("agents/reviewer.md", reviewer),
        ],
        &format!(
            "  agents: [agents]\n\
             \x20 defaults: {{executor: command, backoff: [10ms]}}\n\
             tasks:\n\
             \x20 - id: FEAT\n    title: add the feature\n    agent: reviewer\n    retries: 1\n\
             \x20   command: [sh, -c, {coder:?}]\n\
             \x20   gates: [{{review: reviewer, instructions: Check empty input.}}]\n"
        ),
    );

    let out = run(dir.path());
    out.expect_code(0);

    let reviews = events_of(&out, "task_gate_finished");
    assert_eq!(reviews.len(), 2, "{}", out.stdout);
    assert_eq!(reviews[0]["gate"], "review by reviewer");
    assert_eq!(reviews[0]["passed"], false);
    assert_eq!(
        reviews[0]["reasons"],
        serde_json::json!(["handle empty input"])
    );
    assert_eq!(reviews[1]["passed"], true);
    let asked = std::fs::read_to_string(dir.path().join(".techlead/review-1.md")).unwrap();
    assert!(asked.contains("Check empty input."), "{asked}");
    assert!(
        asked.contains("+feature"),
        "the reviewer sees the diff: {asked}"
    );
    assert!(asked.contains("\"verdict\""), "{asked}");
    assert_eq!(
        show(dir.path(), &name, "lib.txt"),
        "v0\nfeature\nhandle empty input\n"
    );
}

/// Kills techlead with SIGKILL from git's `reference-transaction` hook when
/// the integration branch is about to move (`prepared`: the move is then
/// refused, so the merge never happened) or has just moved (`committed`:
/// the merge happened but was not recorded), then resumes. Either way the
/// task's work is merged exactly once and its attempt never runs again.
fn crash_during_merge(stage: &str) {
    let refuse = if stage == "prepared" {
        "exit 1"
    } else {
        "exit 0"
    };
    let hook = format!(
        "#!/bin/sh\n[ \"$1\" = {stage} ] || exit 0\n\
         grep -q '_integration$' || exit 0\n\
         [ -e \"$MARK\" ] && exit 0\n\
         touch \"$MARK\"\n\
         kill -9 \"$(cut -d' ' -f4 /proc/$PPID/stat)\"\n{refuse}\n"
    );
    let (dir, name) = mission_in_repository(
        "ws-crash",
        &[("a.txt", "a\n")],
        "  defaults: {executor: command}\n\
         tasks:\n\
         \x20 - {id: ONCE, title: once, command: [sh, -c, 'echo run >> ../../../runs-of-once; echo x >> a.txt'], gates: ['true']}\n",
    );
    let hooks = dir.path().join(".git/hooks");
    std::fs::write(hooks.join("reference-transaction"), hook).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        hooks.join("reference-transaction"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let mark = dir.path().join("killed");
    let mut first = support::techlead(dir.path());
    first
        .args(["run", "mission.yaml", "--json"])
        .env("MARK", &mark);
    let first = support::output_of(first);
    assert_eq!(first.code, 137, "killed by SIGKILL: {first:#?}");
    assert!(mark.exists(), "the hook ran");

    let mission = format!("{name}-1");
    let mut resume = support::techlead(dir.path());
    resume
        .args(["resume", &mission, "--json"])
        .env("MARK", &mark);
    support::output_of(resume).expect_code(0);

    assert_eq!(merges_of(dir.path(), &name, "ONCE"), 1);
    assert_eq!(show(dir.path(), &name, "a.txt"), "a\nx\n");
    let runs = std::fs::read_to_string(dir.path().join(".techlead/runs-of-once")).unwrap();
    assert_eq!(runs, "run\n", "the attempt ran once");
    let status = support::status(
        dir.path(),
        &dir.path().join(".techlead/techlead.db"),
        &mission,
    );
    let task = support::task(&status, "ONCE");
    assert_eq!(task["status"], "succeeded");
    assert_eq!(support::outcomes(task), [Some("succeeded".to_string())]);
}

#[test]
fn a_crash_before_the_integration_branch_moves_merges_once_on_resume() {
    crash_during_merge("prepared");
}

#[test]
fn a_crash_after_the_integration_branch_moved_is_not_merged_again() {
    crash_during_merge("committed");
}
