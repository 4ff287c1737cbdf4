//! Mission files end to end: the examples parse cleanly, broken files get
//! every error with its line and column.

use techlead_core::spec::{self, Gate};
use techlead_core::{Diagnostic, Priority};

fn example(name: &str) -> String {
    let path = format!(
        "{}/../../examples/{name}/mission.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/missions/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `code line:column` for every diagnostic, for whole-list comparisons.
fn positions(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| {
            let span = d.span.expect("every diagnostic here has a place");
            format!("{} {}:{}", d.code, span.line, span.column)
        })
        .collect()
}

#[test]
fn web_platform_example_parses_without_diagnostics() {
    let parsed = spec::parse(&example("web-platform"));
    assert_eq!(parsed.diagnostics, []);
    let mission = parsed.mission.unwrap();
    assert_eq!(mission.name, "team-booking-platform");
    assert_eq!(mission.phases.len(), 3);
    assert_eq!(mission.tasks.len(), 10);
    assert_eq!(mission.defaults.max_parallel, 3);
    assert_eq!(mission.defaults.failure_threshold, 0.5);
    assert_eq!(mission.done_when.len(), 3);
    let auth = mission.task("AUTH-001").unwrap();
    assert_eq!(auth.priority, Priority::Critical);
    assert_eq!(auth.depends_on, ["ARCH-001"]);
    assert!(matches!(&auth.gates[1], Gate::Review { agent, .. } if agent == "security-auditor"));
    let guide = mission.tasks.last().unwrap();
    assert!(guide.id_assigned);
    assert_eq!(guide.id, "REQ-001");
    assert_eq!(guide.phase, Some(2));
}

#[test]
fn incident_example_parses_without_diagnostics() {
    let parsed = spec::parse(&example("incident-response"));
    assert_eq!(parsed.diagnostics, []);
    let mission = parsed.mission.unwrap();
    assert_eq!(mission.tasks.len(), 8);
    assert_eq!(mission.defaults.failure_threshold, 0.3);
    assert_eq!(
        mission.deadline.unwrap().to_string(),
        "2026-11-24T09:00:00Z"
    );
    let triage = mission.task("INC-001").unwrap();
    assert_eq!(triage.timeout.unwrap().as_secs(), 600);
    assert_eq!(triage.estimate_hours, Some(0.5));
}

#[test]
fn broken_file_reports_every_error_with_its_position() {
    let parsed = spec::parse(&fixture("broken.yaml"));
    assert_eq!(
        positions(&parsed.diagnostics),
        [
            "spec::unknown-key 3:3",
            "spec::bad-deadline 4:13",
            "spec::bad-duration 6:14",
            "spec::out-of-range 7:19",
            "spec::out-of-range 8:24",
            "spec::bad-priority 12:15",
            "spec::bad-duration 13:15",
            "spec::unknown-key 16:5",
            "spec::bad-id 20:9",
            "spec::missing-key 22:5",
        ]
    );
    let typo = &parsed.diagnostics[0];
    assert_eq!(typo.hint.as_deref(), Some("did you mean `objective`?"));
    let priority = &parsed.diagnostics[5];
    assert_eq!(priority.message, "unknown priority `urgent`");
}

#[test]
fn yaml_syntax_errors_point_at_the_problem() {
    let parsed = spec::parse("mission:\n  name: x\ntasks:\n  - title: a: b\n");
    assert!(parsed.mission.is_none());
    assert_eq!(positions(&parsed.diagnostics), ["spec::yaml 4:13"]);
}

#[test]
fn empty_and_taskless_files_say_what_to_add() {
    let empty = spec::parse("# nothing yet\n");
    assert_eq!(empty.diagnostics[0].code, "spec::empty");
    let taskless = spec::parse("mission:\n  name: x\n");
    assert_eq!(taskless.diagnostics[0].code, "spec::no-tasks");
    let unnamed = spec::parse("mission:\n  objective: x\ntasks:\n  - title: t\n");
    assert_eq!(positions(&unnamed.diagnostics), ["spec::missing-key 2:3"]);
}

#[test]
fn gates_accept_strings_commands_and_reviews() {
    let source = "mission: {name: g}\ntasks:\n  - title: t\n    gates:\n      - make test\n      - {name: lint, run: make lint, timeout: 2m}\n      - review: code-reviewer\n";
    let parsed = spec::parse(source);
    assert_eq!(parsed.diagnostics, []);
    let gates = &parsed.mission.unwrap().tasks[0].gates;
    assert_eq!(gates.len(), 3);
    assert!(
        matches!(&gates[1], Gate::Command { name: Some(n), timeout: Some(t), .. } if n == "lint" && t.as_secs() == 120)
    );
    let both =
        spec::parse("mission: {name: g}\ntasks:\n  - title: t\n    gates: [{run: x, review: y}]\n");
    assert_eq!(both.diagnostics[0].code, "spec::bad-gate");
}

#[test]
fn assigned_ids_skip_ids_already_taken() {
    let source =
        "mission: {name: m}\ntasks:\n  - title: a\n  - {id: REQ-001, title: b}\n  - title: c\n";
    let mission = spec::parse(source).mission.unwrap();
    let ids: Vec<_> = mission.tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["REQ-002", "REQ-001", "REQ-003"]);
}

#[test]
fn durations_and_commands_take_the_forms_people_write() {
    let source = "mission:\n  name: d\n  defaults: {timeout: 1h30m, backoff: [1s, 2m]}\ntasks:\n  - {title: a, estimate: 90m, command: make test}\n  - {title: b, estimate: 2d, command: [sh, -c, 'echo hi']}\n";
    let parsed = spec::parse(source);
    assert_eq!(parsed.diagnostics, []);
    let mission = parsed.mission.unwrap();
    assert_eq!(mission.defaults.timeout.as_secs(), 5400);
    assert_eq!(mission.defaults.backoff.len(), 2);
    assert_eq!(mission.tasks[0].estimate_hours, Some(1.5));
    assert_eq!(mission.tasks[1].estimate_hours, Some(48.0));
    assert_eq!(
        mission.tasks[0].command.as_deref().unwrap(),
        ["make", "test"]
    );
    assert_eq!(
        mission.tasks[1].command.as_deref().unwrap(),
        ["sh", "-c", "echo hi"]
    );
}

#[test]
fn validation_finds_duplicates_unknown_dependencies_and_agents() {
    let parsed = spec::parse(&fixture("broken.yaml"));
    let mission = parsed.mission.unwrap();
    let diagnostics = spec::validate(&mission, Some(&["writer"]));
    assert_eq!(
        positions(&diagnostics),
        ["spec::duplicate-id 14:9", "spec::unknown-dependency 19:21"]
    );
    assert_eq!(
        diagnostics[0].hint.as_deref(),
        Some("IDs must be unique; the first `A` is on line 10")
    );
}

#[test]
fn cycles_are_printed_in_order() {
    let source = "mission: {name: c}\ntasks:\n  - {id: A, title: a, depends_on: C}\n  - {id: B, title: b, depends_on: A}\n  - {id: C, title: c, depends_on: B}\n";
    let mission = spec::parse(source).mission.unwrap();
    let diagnostics = spec::validate(&mission, None);
    assert_eq!(positions(&diagnostics), ["spec::cycle 3:10"]);
    assert_eq!(diagnostics[0].message, "dependency cycle: A → C → B → A");
}

#[test]
fn a_dependency_on_a_later_phase_is_explained_as_a_cycle() {
    let source = "mission: {name: p}\nphases:\n  - name: one\n    tasks: [{id: A, title: a, depends_on: B}]\n  - name: two\n    tasks: [{id: B, title: b}]\n";
    let mission = spec::parse(source).mission.unwrap();
    let diagnostics = spec::validate(&mission, None);
    assert_eq!(diagnostics.len(), 1);
    assert!(
        diagnostics[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("later phase")
    );
}

#[test]
fn unknown_agents_are_warnings_with_the_nearest_name() {
    let source = "mission: {name: a}\ntasks:\n  - {title: t, agent: frontend-devloper, backup: nobody-at-all}\n";
    let mission = spec::parse(source).mission.unwrap();
    let diagnostics = spec::validate(&mission, Some(&["frontend-developer"]));
    assert_eq!(
        positions(&diagnostics),
        ["spec::unknown-agent 3:23", "spec::unknown-agent 3:50"]
    );
    assert!(diagnostics.iter().all(|d| !d.is_error()));
    assert!(
        diagnostics[0]
            .hint
            .as_deref()
            .unwrap()
            .starts_with("did you mean `frontend-developer`?")
    );
}
