//! Agent files as real libraries write them: one fixture per case, each
//! checked for what loads, what is assumed (warning codes and lines) and
//! what is skipped.

use std::fs;
use std::path::PathBuf;
use techlead_core::Diagnostic;
use techlead_core::agents::{Agent, Library, Model, Scope, SkipReason, Tools, code, parse_agent};
use techlead_core::priority::Priority;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/agents")
        .join(name);
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8(bytes).expect("fixtures are UTF-8")
}

fn load(name: &str) -> (Agent, Vec<Diagnostic>) {
    parse_agent(&format!("agents/{name}"), Scope::Project, &fixture(name))
        .unwrap_or_else(|skipped| panic!("{name} was skipped: {skipped}"))
}

/// `(code, line)` of every warning, in line order.
fn warnings(name: &str) -> Vec<(&'static str, usize)> {
    load(name)
        .1
        .iter()
        .map(|d| (d.code, d.span.map_or(0, |s| s.line)))
        .collect()
}

fn only(tools: &[&str]) -> Tools {
    Tools::Only(tools.iter().map(|t| t.to_string()).collect())
}

#[test]
fn every_fixture_has_the_expected_outcome() {
    let loaded: &[(&str, &[(&str, usize)])] = &[
        ("plain.md", &[]),
        ("model-id.md", &[]),
        ("tools-empty-list.md", &[]),
        ("no-model-no-tools.md", &[]),
        ("unquoted-colon.md", &[(code::LENIENT_YAML, 3)]),
        ("inline-examples.md", &[(code::LENIENT_YAML, 3)]),
        ("long-rule.md", &[(code::LONG_CLOSING_RULE, 5)]),
        (
            "indented.md",
            &[
                (code::LEADING_BLANK_LINES, 2),
                (code::INDENTED_FRONT_MATTER, 2),
            ],
        ),
        ("blank-lines-between-keys.md", &[]),
        ("missing-name.md", &[(code::MISSING_NAME, 1)]),
        ("odd-name.md", &[(code::UNUSUAL_NAME, 2)]),
        ("unknown-keys.md", &[(code::UNKNOWN_KEY, 10)]),
        ("orchestration.md", &[]),
        ("command-list.md", &[]),
        (
            "orchestration-top-level.md",
            &[
                (code::ORCHESTRATION_AT_TOP_LEVEL, 4),
                (code::ORCHESTRATION_AT_TOP_LEVEL, 5),
            ],
        ),
        (
            "bad-values.md",
            &[
                (code::INVALID_FIELD, 4),
                (code::UNUSED_COMMAND, 6),
                (code::INVALID_FIELD, 9),
                (code::INVALID_FIELD, 10),
                (code::UNKNOWN_KEY, 11),
            ],
        ),
        ("folded-description.md", &[]),
        ("duplicate-tools.md", &[(code::DUPLICATE_TOOL, 4)]),
        ("space-tools.md", &[(code::SPACE_SEPARATED_TOOLS, 4)]),
        ("description-mapping.md", &[(code::LENIENT_YAML, 3)]),
        ("non-ascii.md", &[]),
        ("empty-body.md", &[(code::EMPTY_PROMPT, 1)]),
        ("crlf.md", &[]),
    ];
    for (name, expected) in loaded {
        assert_eq!(warnings(name), *expected, "warnings of {name}");
    }
    let skipped = [
        ("no-front-matter.md", SkipReason::NoFrontMatter),
        ("no-description.md", SkipReason::NoDescription),
        ("unclosed.md", SkipReason::Unclosed { line: 1 }),
        ("empty.md", SkipReason::Empty),
        ("binary.md", SkipReason::Binary),
    ];
    for (name, reason) in skipped.clone() {
        let outcome = parse_agent(name, Scope::User, &fixture(name));
        assert_eq!(
            outcome.map(|_| ()).map_err(|s| s.reason),
            Err(reason),
            "{name}"
        );
    }
    let count =
        fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents"))
            .map(|dir| dir.count())
            .unwrap_or(0);
    assert_eq!(
        count,
        loaded.len() + skipped.len(),
        "every fixture is in a table"
    );
}

#[test]
fn a_plain_file_loads_every_field() {
    let (agent, _) = load("plain.md");
    assert_eq!(agent.name, "code-reviewer");
    assert_eq!(
        agent.description,
        "Reviews code for correctness and style. Use after every change."
    );
    assert_eq!(agent.tools, only(&["Read", "Grep", "Glob", "Bash"]));
    assert_eq!(agent.model, Model::Alias("sonnet".into()));
    assert_eq!(agent.prompt, "You are a careful code reviewer.");
    assert_eq!(agent.source, "agents/plain.md");
    assert_eq!(agent.scope, Scope::Project);
}

#[test]
fn models_are_inherit_aliases_or_ids() {
    assert_eq!(load("no-model-no-tools.md").0.model, Model::Inherit);
    assert_eq!(load("tools-empty-list.md").0.model, Model::Inherit);
    assert_eq!(
        load("model-id.md").0.model,
        Model::Id("claude-sonnet-4-20250514".into())
    );
}

#[test]
fn tools_are_all_a_list_or_nothing() {
    assert_eq!(load("no-model-no-tools.md").0.tools, Tools::All);
    assert_eq!(load("tools-empty-list.md").0.tools, Tools::Only(Vec::new()));
    assert_eq!(
        load("model-id.md").0.tools,
        only(&["Read", "Write", "mcp__context7__get-library-docs"])
    );
    assert_eq!(
        load("duplicate-tools.md").0.tools,
        only(&["LS", "Read", "WriteFile", "Bash", "mcp__x__y"])
    );
    assert_eq!(
        load("space-tools.md").0.tools,
        only(&["Read", "Grep", "Bash(git diff:*)"])
    );
    assert_eq!(load("bad-values.md").0.tools, Tools::All);
}

#[test]
fn invalid_yaml_descriptions_are_read_as_the_text_people_see() {
    assert_eq!(
        load("unquoted-colon.md").0.description,
        "Reviews data handling. Triggers on: 'GDPR', 'privacy', 'PII'."
    );
    let (agent, notes) = load("inline-examples.md");
    assert!(agent.description.starts_with("Use this agent when tests are missing. Examples:\n\n<example>\nContext: The user added a parser.\nuser: \"I wrote"));
    assert!(agent.description.ends_with("</commentary>\n</example>"));
    assert_eq!(agent.model, Model::Alias("haiku".into()));
    assert_eq!(agent.color.as_deref(), Some("green"));
    assert_eq!(
        notes[0].label.as_deref(),
        Some("read as plain text: `description` (line 3)")
    );
    assert_eq!(
        load("description-mapping.md").0.description,
        "Triggers on: anything about invoices"
    );
    assert_eq!(
        load("folded-description.md").0.description,
        "Batch prompt writer. Use when several prompts are needed at once (e.g., \"5 logo concepts\")."
    );
}

#[test]
fn odd_layouts_still_find_the_front_matter() {
    let (agent, _) = load("long-rule.md");
    assert_eq!(agent.tools, only(&["Read", "Write"]));
    assert_eq!(agent.prompt, "# Frontend builder\n\nBuild the UI.");
    let (agent, _) = load("indented.md");
    assert_eq!(
        (agent.name.as_str(), agent.prompt.as_str()),
        ("indented-agent", "Body text.")
    );
    assert_eq!(agent.tools, only(&["Read"]));
    let (agent, _) = load("blank-lines-between-keys.md");
    assert_eq!(agent.name, "spaced-out");
    assert_eq!(agent.model, Model::Alias("opus".into()));
    assert_eq!(agent.prompt, "No trailing newline.");
    let (agent, _) = load("crlf.md");
    assert_eq!(agent.tools, only(&["Read", "Grep"]));
    assert_eq!(agent.prompt, "Prompt.");
    let (agent, _) = load("non-ascii.md");
    assert!(
        agent
            .description
            .contains("high\u{2011}performance UIs \u{2014}")
    );
}

#[test]
fn names_fall_back_to_the_file_stem_and_odd_names_are_kept() {
    assert_eq!(load("missing-name.md").0.name, "missing-name");
    let (agent, notes) = load("odd-name.md");
    assert_eq!(agent.name, "Data Scientist v2.0/beta");
    assert_eq!(
        notes[0].hint.as_deref(),
        Some(
            "tasks can name it as written or as `data-scientist-v2-0-beta`; consider `name: data-scientist-v2-0-beta`"
        )
    );
}

#[test]
fn unknown_keys_pass_and_typos_get_a_hint() {
    let (agent, notes) = load("unknown-keys.md");
    assert_eq!(agent.color.as_deref(), Some("chartreuse"));
    assert_eq!(agent.model, Model::Inherit, "a misspelt key is not read");
    assert_eq!(notes[0].hint.as_deref(), Some("did you mean `model`?"));
}

#[test]
fn orchestration_and_techlead_keys_are_read() {
    let (agent, _) = load("orchestration.md");
    assert_eq!(agent.orchestration.priority, Some(Priority::High));
    assert_eq!(agent.orchestration.max_parallel, Some(2));
    assert_eq!(
        agent.orchestration.dependencies,
        ["api-designer", "database-architect"]
    );
    assert_eq!(
        agent.executor.as_deref(),
        Some("command"),
        "implied by command"
    );
    assert_eq!(
        agent.command,
        Some(vec!["./run-agent.sh".to_string(), "--fast".to_string()])
    );
    assert_eq!(agent.skills, ["rust", "sql", "http"]);

    let (agent, _) = load("command-list.md");
    assert_eq!(
        agent.command,
        Some(
            ["python3", "agent.py", "--task file"]
                .map(String::from)
                .to_vec()
        )
    );
    assert_eq!(agent.skills, ["scripting"]);
}

#[test]
fn misplaced_and_invalid_orchestration_values_are_recovered_or_dropped() {
    let (agent, _) = load("orchestration-top-level.md");
    assert_eq!(agent.orchestration.priority, Some(Priority::Critical));
    assert_eq!(agent.orchestration.max_parallel, Some(1), "the block wins");
    let (agent, notes) = load("bad-values.md");
    assert_eq!(agent.orchestration.priority, None);
    assert_eq!(agent.orchestration.max_parallel, None);
    assert!(agent.orchestration.dependencies.is_empty());
    assert_eq!(agent.executor.as_deref(), Some("codex"));
    let typo = notes.iter().find(|n| n.code == code::UNKNOWN_KEY);
    assert_eq!(
        typo.and_then(|n| n.hint.as_deref()),
        Some("did you mean `dependencies`?")
    );
}

#[test]
fn a_library_of_fixtures_loads_the_good_and_lists_the_rest() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents");
    let mut files: Vec<(String, Scope, String)> = Vec::new();
    for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        files.push((name.clone(), Scope::Explicit, fixture(&name)));
    }
    let library = Library::from_texts(files);
    assert_eq!(library.len(), 23);
    assert_eq!(library.skipped().len(), 5);
    assert!(library.get("Privacy-Reviewer").is_some());
    assert!(library.get("data-scientist-v2-0-beta").is_some());
    assert!(library.resolve("nobody").is_fallback());
}
