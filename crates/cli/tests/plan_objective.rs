//! `techlead plan --objective` / `--brief`: the real binary, real files,
//! the fake Anthropic API speaking the Messages wire format, and `techlead
//! validate` and `run` on what it wrote. stdin is never a terminal here, so
//! this is the non-interactive mode.

use crate::support;

use std::path::Path;
use support::{Output, run_to_end, techlead};
use techlead_fakes::{FakeApi, Reply, Scenario};

const NOW: &str = "2026-01-05T09:00:00Z";

fn agents(dir: &Path) -> String {
    let agents = dir.join("agents");
    std::fs::create_dir_all(&agents).unwrap();
    for (name, description) in [
        (
            "backend-developer",
            "Builds server-side APIs, databases and services.",
        ),
        (
            "frontend-developer",
            "Builds React user interfaces and pages.",
        ),
    ] {
        std::fs::write(
            agents.join(format!("{name}.md")),
            format!("---\nname: {name}\ndescription: {description}\n---\nYou are {name}.\n"),
        )
        .unwrap();
    }
    agents.display().to_string()
}

fn simulate(dir: &Path, objective: &str, extra: &[&str]) -> Output {
    let mut args = vec!["plan", "--objective", objective, "--executor", "simulate"];
    args.extend(["--as-of", NOW]);
    args.extend(extra);
    run_to_end(dir, &args)
}

#[test]
fn each_template_writes_a_mission_that_validates() {
    let cases = [
        ("Build a booking web app with a React frontend", "web-app"),
        ("Expose a REST API for invoices", "api"),
        (
            "Checkout is down with 5xx errors since the deploy",
            "incident-response",
        ),
        (
            "Migrate the billing database from MySQL to Postgres",
            "migration",
        ),
        ("Write a haiku generator", "general"),
    ];
    for (objective, kind) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = simulate(dir.path(), objective, &["-o", "mission.yaml"]);
        out.expect_code(0)
            .expect_stderr(&["wrote mission.yaml", &format!("the {kind} template")]);
        assert!(out.stdout.contains("Critical path"), "{}", out.stdout);
        let text = std::fs::read_to_string(dir.path().join("mission.yaml")).unwrap();
        assert!(text.contains(&format!("project_type: {kind}")), "{text}");
        run_to_end(dir.path(), &["validate", "mission.yaml"]).expect_code(0);
    }
}

/// The offline plan runs end to end on the simulate executor, its `make`
/// gates included.
#[test]
fn the_simulated_incident_plan_runs() {
    let dir = tempfile::tempdir().unwrap();
    simulate(
        dir.path(),
        "Outage: checkout is down",
        &["-o", "mission.yaml"],
    )
    .expect_code(0);
    let path = dir.path().join("mission.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    // A name of its own: runs kill what carries their mission's name.
    let name = support::unique_name("planned-incident");
    let text = text.replacen("name: outage-checkout-is-down", &format!("name: {name}"), 1);
    std::fs::write(&path, text).unwrap();
    std::fs::write(
        dir.path().join("Makefile"),
        "test:\n\t@true\nlint:\n\t@true\n",
    )
    .unwrap();
    let mut run = techlead(dir.path());
    run.args(["run", "mission.yaml"])
        .env("TECHLEAD_SIMULATE_SCALE", "0.001")
        .env("TECHLEAD_SIMULATE_FAILURE_RATE", "0");
    support::output_of(run).expect_code(0);
}

#[test]
fn an_invalid_answer_is_asked_again_with_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let agents = agents(dir.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = runtime.block_on(FakeApi::anthropic());
    let invalid = "mission:\n  name: booking\n  objetive: rooms\ntasks:\n  - id: API\n    title: Build the API\n";
    let valid = "Here it is:\n\n```yaml\nmission:\n  name: booking\n  objective: rooms\ntasks:\n  - id: API\n    title: Build the booking API\n    agent: backend-dev\n    estimate: 4\n    gates: [make test]\n```\n";
    fake.push(Scenario::Success(Reply::text(invalid)))
        .push(Scenario::Success(Reply::text(valid)));
    let mut command = techlead(dir.path());
    command
        .args([
            "plan",
            "--objective",
            "Book meeting rooms",
            "--executor",
            "anthropic",
        ])
        .args(["--agents", &agents, "-o", "plan.yaml", "--as-of", NOW])
        .env("ANTHROPIC_BASE_URL", fake.base_url())
        .env("ANTHROPIC_API_KEY", "test-key");
    let out = support::output_of(command);
    out.expect_code(0).expect_stderr(&[
        "unknown key `objetive`",
        "asking again with them (1 of 2)",
        "stripped Markdown code fences",
        "agent `backend-dev` is not in the library; `backend-developer` instead",
    ]);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let first = requests[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(
        first.contains("- backend-developer: Builds server-side APIs"),
        "{first}"
    );
    let second = requests[1].body["messages"][0]["content"].as_str().unwrap();
    assert!(
        second.contains("- line 3, column 3: unknown key `objetive` in mission"),
        "{second}"
    );
    assert!(
        second.contains("hint: did you mean `objective`?"),
        "{second}"
    );
    let text = std::fs::read_to_string(dir.path().join("plan.yaml")).unwrap();
    assert!(text.contains("agent: backend-developer"), "{text}");
    run_to_end(dir.path(), &["validate", "plan.yaml", "--agents", &agents]).expect_code(0);
}

#[test]
fn an_answer_still_invalid_after_the_reasks_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = runtime.block_on(FakeApi::anthropic());
    for _ in 0..2 {
        fake.push(Scenario::Success(Reply::text("I would rather not.")));
    }
    let mut command = techlead(dir.path());
    command
        .args([
            "plan",
            "--objective",
            "Book rooms",
            "--executor",
            "anthropic",
        ])
        .args(["--reasks", "1", "-o", "plan.yaml"])
        .env("ANTHROPIC_BASE_URL", fake.base_url())
        .env("ANTHROPIC_API_KEY", "test-key");
    support::output_of(command)
        .expect_code(2)
        .expect_stderr(&["the planner's answer is still not a valid mission"]);
    assert_eq!(fake.requests().len(), 2);
    assert!(!dir.path().join("plan.yaml").exists());
}

#[test]
fn over_allocation_shows_the_options() {
    let dir = tempfile::tempdir().unwrap();
    // A day and a half for the API template's 32 h.
    let out = simulate(
        dir.path(),
        "Expose a REST API for invoices",
        &["--deadline", "2026-01-06T21:00:00Z", "--hours-per-day", "6"],
    );
    out.expect_code(0).expect_stderr(&[
        "Capacity to the deadline 2026-01-06T21:00:00Z (1.5 days):",
        "over by",
        "Over-allocated: 1 agent. Options:",
        "extend the deadline to 2026-01-10T17:00:00Z",
        "cut scope: drop ",
        "add a backup agent: move ",
    ]);
    let out = simulate(
        dir.path(),
        "Expose a REST API for invoices",
        &["--deadline", "2026-02-01"],
    );
    out.expect_code(0)
        .expect_stderr(&["Every agent's work fits before the deadline."]);
}

#[test]
fn an_existing_file_is_not_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mission.yaml");
    std::fs::write(&path, "keep me\n").unwrap();
    simulate(dir.path(), "Build a web app", &["-o", "mission.yaml"])
        .expect_code(2)
        .expect_stderr(&["mission.yaml exists; refusing to overwrite it", "--force"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me\n");
    simulate(dir.path(), "Build a web app", &["--yes"])
        .expect_code(2)
        .expect_stderr(&["refusing to overwrite"]);
    simulate(
        dir.path(),
        "Build a web app",
        &["-o", "mission.yaml", "--force"],
    )
    .expect_code(0);
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("project_type: web-app")
    );
}

#[test]
fn without_a_terminal_the_plan_is_printed_and_written_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = simulate(dir.path(), "Migrate to Postgres", &[]);
    out.expect_code(0)
        .expect_stderr(&["not written (stdin is not a terminal)", "Critical path"]);
    // stdout is the mission alone, ready for a redirection.
    std::fs::write(dir.path().join("piped.yaml"), &out.stdout).unwrap();
    run_to_end(dir.path(), &["validate", "piped.yaml"]).expect_code(0);
    assert!(!dir.path().join("mission.yaml").exists());
    simulate(dir.path(), "Migrate to Postgres", &["--yes"])
        .expect_code(0)
        .expect_stderr(&["wrote mission.yaml"]);
    assert!(dir.path().join("mission.yaml").exists());
}

#[test]
fn the_example_brief_plans_offline() {
    let dir = tempfile::tempdir().unwrap();
    let brief = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/planning/brief.md");
    let out = run_to_end(
        dir.path(),
        &[
            "plan",
            "--brief",
            brief.to_str().unwrap(),
            "--executor",
            "simulate",
            "--yes",
        ],
    );
    out.expect_code(0).expect_stderr(&["the web-app template"]);
    run_to_end(dir.path(), &["validate", "mission.yaml"]).expect_code(0);
}
