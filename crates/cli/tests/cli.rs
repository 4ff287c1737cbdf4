//! The `techlead` binary end to end: whole transcripts (stdout, stderr,
//! exit code) for what people see, parsed JSON for what machines read.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Output {
    fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// Runs techlead in the workspace, piped (so plain output), 120 columns,
/// with a home directory that has no agents.
fn techlead(args: &[&str]) -> Output {
    techlead_in(&workspace(), args)
}

fn techlead_in(dir: &Path, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_techlead"))
        .args(args)
        .current_dir(dir)
        .env("HOME", home.path())
        .env("COLUMNS", "120")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

const WEB: &str = "examples/web-platform/mission.yaml";
const INCIDENT: &str = "examples/incident-response/mission.yaml";
const AS_OF: &str = "2026-11-23T09:00:00Z";

#[test]
fn plan_prints_the_blueprint() {
    let output = techlead(&["plan", WEB, "--as-of", AS_OF]);
    insta::assert_snapshot!(output.transcript());
}

#[test]
fn plan_of_the_incident_puts_critical_work_first() {
    let output = techlead(&["plan", INCIDENT, "--as-of", AS_OF]);
    insta::assert_snapshot!(output.transcript());
}

#[test]
fn plan_as_markdown() {
    let output = techlead(&["plan", WEB, "--as-of", AS_OF, "--format", "markdown"]);
    insta::assert_snapshot!(output.transcript());
}

#[test]
fn plan_as_json_holds_steps_path_waves_and_risks() {
    let output = techlead(&["plan", WEB, "--as-of", AS_OF, "--json"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let plan = output.json();
    let steps = plan["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 10);
    assert_eq!(steps[0]["id"], "ARCH-001");
    assert_eq!(steps[0]["choice"]["kind"], "named");
    assert_eq!(plan["critical_path"]["tasks"][0], "ARCH-001");
    assert_eq!(plan["waves"][0], serde_json::json!(["ARCH-001"]));
    assert!(
        plan["schedule"]["makespan_hours"].as_f64().unwrap()
            >= plan["critical_path"]["hours"].as_f64().unwrap()
    );
    assert!(
        plan["risks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["mitigation"].is_string())
    );
}

#[test]
fn plan_chooses_agents_for_tasks_that_name_none() {
    let dir = tempfile::tempdir().unwrap();
    let mission = dir.path().join("mission.yaml");
    std::fs::write(
        &mission,
        "mission: {name: unnamed}\ntasks:\n  - title: Build the React calendar component with accessible keyboard navigation\n  - title: Write the Terraform for the staging environment and the CI pipeline\n  - {title: Threat-model the OAuth2 login flow for vulnerabilities, agent: pentester}\n",
    )
    .unwrap();
    let agents = workspace().join("examples/web-platform/.claude/agents");
    let output = techlead(&[
        "plan",
        mission.to_str().unwrap(),
        "--agents",
        agents.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let plan = output.json();
    let agent_of = |id: &str| {
        let steps = plan["steps"].as_array().unwrap();
        steps.iter().find(|s| s["id"] == id).unwrap().clone()
    };
    assert_eq!(agent_of("REQ-001")["agent"], "frontend-developer");
    assert_eq!(agent_of("REQ-001")["choice"]["kind"], "ranked");
    assert_eq!(agent_of("REQ-002")["agent"], "devops-engineer");
    let fallback = agent_of("REQ-003");
    assert_eq!(fallback["agent"], "general-purpose");
    assert_eq!(fallback["choice"]["requested"], "pentester");
    assert_eq!(fallback["choice"]["context_from"][0], "security-auditor");
    assert!(
        output
            .stderr
            .contains("`pentester`, which is not in the agent library"),
        "{}",
        output.stderr
    );
}

#[test]
fn validate_accepts_the_examples() {
    for mission in [WEB, INCIDENT] {
        let output = techlead(&["validate", mission]);
        assert_eq!(output.code, 0, "{}", output.stderr);
        assert!(output.stderr.contains(": ok: "), "{}", output.stderr);
    }
}

#[test]
fn validate_reports_every_error_with_file_line_and_column() {
    let output = techlead(&[
        "validate",
        "crates/core/tests/fixtures/missions/broken.yaml",
    ]);
    insta::assert_snapshot!(output.transcript());
}

#[test]
fn validate_json_lists_diagnostics_with_their_file() {
    let output = techlead(&[
        "validate",
        "crates/core/tests/fixtures/missions/broken.yaml",
        "--json",
    ]);
    assert_eq!(output.code, 2);
    let diagnostics = output.json();
    let diagnostics = diagnostics.as_array().unwrap();
    assert_eq!(diagnostics.len(), 12);
    assert_eq!(diagnostics[0]["code"], "spec::unknown-key");
    assert_eq!(diagnostics[0]["span"]["line"], 3);
    assert!(
        diagnostics
            .iter()
            .all(|d| d["file"] == "crates/core/tests/fixtures/missions/broken.yaml")
    );
}

#[test]
fn a_missing_file_is_an_error_with_a_hint() {
    let output = techlead(&["plan", "no/such/mission.yaml"]);
    insta::assert_snapshot!(output.transcript());
}

#[test]
fn a_missing_agents_directory_is_an_error_with_a_hint() {
    let output = techlead(&["agents", "--agents", "no/such/dir"]);
    assert_eq!(output.code, 2);
    assert!(
        output
            .stderr
            .starts_with("error: agent directory `no/such/dir` does not exist"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("hint:"), "{}", output.stderr);
}

#[test]
fn fmt_writes_assigned_ids_and_check_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mission.yaml");
    let original = "mission: {name: f}\n# keep this comment\ntasks:\n  - title: first\n  - id: T-2\n    title: second\n    depends_on: REQ-001\n";
    std::fs::write(&path, original).unwrap();
    let path_text = path.to_str().unwrap();

    let check = techlead(&["fmt", "--check", path_text]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(
        check.stderr.contains("would add REQ-001"),
        "{}",
        check.stderr
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);

    let fmt = techlead(&["fmt", path_text]);
    assert_eq!(fmt.code, 0, "{}", fmt.stderr);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "mission: {name: f}\n# keep this comment\ntasks:\n  - id: REQ-001\n    title: first\n  - id: T-2\n    title: second\n    depends_on: REQ-001\n"
    );
    assert_eq!(techlead(&["fmt", "--check", path_text]).code, 0);
}

#[test]
fn fmt_refuses_a_broken_file_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mission.yaml");
    let original = "mission: {name: f}\ntasks:\n  - title: a\n    prio: high\n";
    std::fs::write(&path, original).unwrap();
    let output = techlead(&["fmt", path.to_str().unwrap()]);
    assert_eq!(output.code, 2);
    assert!(
        output
            .stderr
            .contains("mission.yaml:4:5: unknown key `prio` in task"),
        "{}",
        output.stderr
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
}

#[test]
fn agents_lists_the_library_as_json() {
    let output = techlead(&[
        "agents",
        "--agents",
        "examples/incident-response/.claude/agents",
        "--json",
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let agents = output.json();
    let names: Vec<&str> = agents
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "comms-lead",
            "database-administrator",
            "incident-commander",
            "security-responder",
            "sre-responder"
        ]
    );
    let commander = &agents[2];
    assert_eq!(commander["model"], "opus");
    assert_eq!(
        commander["tools"],
        serde_json::json!(["Read", "Write", "Bash"])
    );
    assert_eq!(commander["max_parallel"], 2);
    assert!(
        commander["source"]
            .as_str()
            .unwrap()
            .ends_with("incident-commander.md")
    );
}

#[test]
fn agents_are_discovered_from_the_project_directory() {
    let output = techlead_in(&workspace().join("examples/web-platform"), &["agents"]);
    insta::assert_snapshot!(output.transcript());
}

#[test]
fn agents_show_prints_the_prompt_and_unknown_names_get_a_hint() {
    let output = techlead(&[
        "agents",
        "show",
        "comms-lead",
        "--agents",
        "examples/incident-response/.claude/agents",
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(output.stdout.starts_with("comms-lead\n"));
    assert!(output.stdout.contains("No speculation, no blame"));
    let missing = techlead(&[
        "agents",
        "show",
        "coms-lead",
        "--agents",
        "examples/incident-response/.claude/agents",
    ]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("did you mean `comms-lead`?"),
        "{}",
        missing.stderr
    );
}

#[test]
fn assign_ranks_agents_with_reasons() {
    let agents = "examples/web-platform/.claude/agents";
    let output = techlead(&[
        "assign",
        "Set up Grafana dashboards and alerting for the API",
        "--agents",
        agents,
        "--json",
        "--top",
        "3",
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let candidates = output.json();
    let candidates = candidates.as_array().unwrap();
    assert_eq!(candidates.len(), 3);
    assert_eq!(candidates[0]["name"], "devops-engineer");
    assert!(candidates[0]["score"].as_f64().unwrap() >= candidates[1]["score"].as_f64().unwrap());
    assert!(!candidates[0]["reasons"].as_array().unwrap().is_empty());
}

#[test]
fn schema_is_json_schema_for_missions() {
    let output = techlead(&["schema"]);
    assert_eq!(output.code, 0);
    let schema = output.json();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["required"], serde_json::json!(["mission"]));
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let output = techlead(&["--help"]);
    assert_eq!(output.code, 0);
    assert!(output.stdout.contains("Examples:"));
    assert!(output.stdout.contains("Exit codes: 0 success"));
}
