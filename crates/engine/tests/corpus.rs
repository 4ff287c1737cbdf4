//! The loader against three real, third-party agent libraries (272 files,
//! many malformed) kept beside the repository in `../shared/corpus/agents`.
//! A fresh clone has no such folder; the tests then say so and pass.
//!
//! The expectations are exact: every file's outcome (loaded clean, loaded
//! with these warning codes, lost to a duplicate name, or skipped) is
//! written below, so any change in how a real file is read shows up here.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use techlead_core::agents::{Library, Model, Scope, SkipReason, Tools, code, parse_agent};
use techlead_engine::library;

const WSHOBSON: &str = "wshobson__agents/plugins";
const VIJAY: &str = "vijaythecoder__awesome-claude-agents/agents";
const LST97: &str = "lst97__claude-code-sub-agents/agents";

fn corpus() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/agents");
    match path.canonicalize() {
        Ok(path) => Some(path),
        Err(_) => {
            println!("skipped: corpus not found at {}", path.display());
            None
        }
    }
}

fn load(corpus: &Path) -> Library {
    library::load_dirs(&[corpus.to_path_buf()]).expect("the corpus is a directory")
}

fn relative(corpus: &Path, source: &str) -> String {
    source
        .strip_prefix(&format!("{}/", corpus.display()))
        .unwrap_or(source)
        .to_string()
}

/// Every file below the corpus that the loader considers (`*.md`).
fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            markdown_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "md") {
            found.push(path);
        }
    }
}

/// Files that load but warn, with their warning codes in line order.
/// Every other agent file must load without a single warning.
fn expected_warnings() -> BTreeMap<String, Vec<&'static str>> {
    let mut table = BTreeMap::new();
    let mut add = |file: String, codes: &[&'static str]| {
        table.insert(file, codes.to_vec());
    };
    for file in [
        "development/frontend-developer.md",
        "infrastructure/devops-incident-responder.md",
        "infrastructure/performance-engineer.md",
    ] {
        add(format!("{LST97}/{file}"), &[code::DUPLICATE_TOOL]);
    }
    add(
        format!("{VIJAY}/orchestrators/team-configurator.md"),
        &[code::DUPLICATE_TOOL],
    );
    for stem in [
        "devops-cicd-expert",
        "performance-expert",
        "security-expert",
        "testing-expert",
        "web-scraping-expert",
    ] {
        add(
            format!("{VIJAY}/specialized/python/{stem}.md"),
            &[code::UNUSUAL_NAME],
        );
    }
    add(
        format!("{VIJAY}/specialized/rails/rails-backend-expert.md"),
        &[code::LENIENT_YAML],
    );
    // Names the vue-component-architect file already took.
    add(
        format!("{VIJAY}/specialized/vue/vue-state-manager.md"),
        &[code::DUPLICATE_NAME],
    );
    add(
        format!("{VIJAY}/universal/frontend-developer.md"),
        &[code::LONG_CLOSING_RULE, code::DUPLICATE_NAME],
    );
    for file in [
        "agent-teams/agents/team-lead.md",
        "framework-migration/agents/legacy-modernizer.md",
    ] {
        add(format!("{WSHOBSON}/{file}"), &[code::UNKNOWN_MODEL]);
    }
    // The same agents as lst97's, which sort first and so win.
    for file in [
        "data-engineering/agents/data-engineer.md",
        "incident-response/agents/incident-responder.md",
        "javascript-typescript/agents/typescript-pro.md",
        "llm-application-dev/agents/ai-engineer.md",
        "llm-application-dev/agents/prompt-engineer.md",
        "machine-learning-ops/agents/data-scientist.md",
        "machine-learning-ops/agents/ml-engineer.md",
        "python-development/agents/python-pro.md",
        "systems-programming/agents/golang-pro.md",
        "ui-design/agents/ui-designer.md",
    ] {
        add(format!("{WSHOBSON}/{file}"), &[code::DUPLICATE_NAME]);
    }
    table
}

#[test]
fn every_corpus_file_has_its_expected_outcome() {
    let Some(corpus) = corpus() else { return };
    let library = load(&corpus);

    let mut files = Vec::new();
    markdown_files(&corpus, &mut files);
    assert_eq!(files.len(), 273, "272 agent files and the corpus README");

    let skipped: Vec<_> = library
        .skipped()
        .iter()
        .map(|s| (relative(&corpus, &s.source), s.reason.clone(), s.scope))
        .collect();
    assert_eq!(
        skipped,
        [(
            "README.md".to_string(),
            SkipReason::NoFrontMatter,
            Scope::Explicit
        )]
    );

    let mut actual: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for warning in library.warnings() {
        actual
            .entry(relative(&corpus, &warning.source))
            .or_default()
            .push(warning.diagnostic.code);
    }
    let expected = expected_warnings();
    for (file, codes) in &actual {
        assert_eq!(Some(codes), expected.get(file), "warnings of {file}");
    }
    for file in expected.keys() {
        assert!(actual.contains_key(file), "{file} should warn");
    }

    let lost = library
        .warnings()
        .iter()
        .filter(|w| w.diagnostic.code == code::DUPLICATE_NAME)
        .count();
    assert_eq!(library.len(), 260);
    assert_eq!(lost, 12);
    assert_eq!(library.len() + lost + skipped.len(), files.len());
    assert_eq!(actual.len(), 24, "files with warnings");
    assert_eq!(library.warnings().len(), 25);
}

#[test]
fn every_loaded_corpus_agent_is_usable() {
    let Some(corpus) = corpus() else { return };
    let library = load(&corpus);
    for agent in library.agents() {
        assert!(!agent.description.is_empty(), "{}", agent.source);
        assert!(!agent.prompt.is_empty(), "{}", agent.source);
        assert!(!agent.name.contains('\n'), "{}", agent.source);
        if let Tools::Only(tools) = &agent.tools {
            let unique: std::collections::HashSet<_> = tools.iter().collect();
            assert_eq!(unique.len(), tools.len(), "{}", agent.source);
        }
        assert_eq!(
            library.get(&agent.name).map(|a| &a.source),
            Some(&agent.source)
        );
    }
    let models = library
        .agents()
        .iter()
        .fold(BTreeMap::new(), |mut counts, agent| {
            *counts.entry(agent.model.as_str().to_string()).or_insert(0) += 1;
            counts
        });
    let models: Vec<_> = models.iter().map(|(m, n)| (m.as_str(), *n)).collect();
    assert_eq!(
        models,
        [
            ("fable", 2),
            ("haiku", 30),
            ("inherit", 77),
            ("opus", 51),
            ("sonnet", 100)
        ]
    );
}

fn agent<'a>(library: &'a Library, name: &str) -> &'a techlead_core::agents::Agent {
    library
        .get(name)
        .unwrap_or_else(|| panic!("agent {name} should load"))
}

fn only(tools: &[&str]) -> Tools {
    Tools::Only(tools.iter().map(|t| t.to_string()).collect())
}

#[test]
fn tricky_corpus_files_read_as_their_authors_meant() {
    let Some(corpus) = corpus() else { return };
    let library = load(&corpus);

    // Unquoted `Examples: <example>Context: …` on one line: invalid YAML.
    let rails = agent(&library, "rails-backend-expert");
    assert!(
        rails
            .description
            .starts_with("Comprehensive Rails backend developer with expertise")
    );
    assert!(
        rails
            .description
            .ends_with("Frontend can consume: [endpoints and data]\"</delegation>")
    );
    assert_eq!((&rails.model, &rails.tools), (&Model::Inherit, &Tools::All));
    assert!(rails.prompt.starts_with("# Rails Backend Expert"));

    // Folded `>` description and `tools: []`.
    let arm = agent(&library, "arm-cortex-expert");
    assert!(arm.description.starts_with("Senior embedded software engineer specializing in firmware and driver development for ARM Cortex-M"));
    assert!(!arm.description.contains('\n'));
    assert_eq!(
        (&arm.model, &arm.tools),
        (&Model::Inherit, &Tools::Only(Vec::new()))
    );

    // `>-` description with quotes inside.
    let crafter = agent(&library, "prompt-crafter");
    assert!(crafter.description.starts_with("Batch prompt writing agent. Delegates here when you need to write multiple distinct prompts at once \u{2014} for parallel"));
    assert_eq!(
        (&crafter.model, &crafter.tools),
        (&Model::Alias("haiku".into()), &Tools::All)
    );

    // Tools with a duplicate and a made-up name, kept in order once.
    let configurator = agent(&library, "team-configurator");
    assert_eq!(
        configurator.tools,
        only(&["LS", "Read", "WriteFile", "Bash", "Glob", "Grep"])
    );

    // A model that is no alias, kept as an ID.
    let lead = agent(&library, "team-lead");
    assert_eq!(lead.model, Model::Id("fable".into()));
    assert_eq!(lead.color.as_deref(), Some("blue"));
    assert_eq!(
        lead.tools,
        only(&[
            "Read",
            "Glob",
            "Grep",
            "Bash",
            "Agent",
            "TeamCreate",
            "TeamDelete",
            "TaskCreate",
            "TaskList",
            "TaskGet",
            "TaskUpdate",
            "SendMessage"
        ])
    );

    // Names with spaces and `/`, found as written and as a slug; catalogue
    // keys (version, author, tags, …) pass silently.
    let devops = agent(&library, "python-devops-ci-cd-expert");
    assert_eq!(devops.name, "Python DevOps/CI-CD Expert");
    assert!(library.get("Python DevOps/CI-CD Expert").is_some());
    assert!(
        devops
            .description
            .starts_with("Specialized agent for Python DevOps, CI/CD")
    );

    // No model and a comma string of tools with old names.
    let docs = agent(&library, "documentation-specialist");
    assert_eq!(docs.model, Model::Inherit);
    assert_eq!(
        docs.tools,
        only(&["LS", "Read", "Grep", "Glob", "Bash", "Write"])
    );

    // The name differs from the file stem; the name is what counts.
    let reviewer = agent(&library, "code-reviewer-pro");
    assert!(
        reviewer
            .source
            .ends_with("quality-testing/code-reviewer.md")
    );

    // Of two files named frontend-developer, the first by path wins.
    assert!(agent(&library, "frontend-developer").source.contains(LST97));
}

#[test]
fn the_long_rule_file_parses_on_its_own() {
    let Some(corpus) = corpus() else { return };
    let path = corpus.join(VIJAY).join("universal/frontend-developer.md");
    let text = fs::read_to_string(&path).expect("corpus file");
    let (agent, notes) =
        parse_agent("frontend-developer.md", Scope::Project, &text).expect("loads");
    assert_eq!(agent.name, "frontend-developer");
    assert!(agent.description.starts_with(
        "MUST BE USED to deliver responsive, accessible, high\u{2011}performance UIs."
    ));
    assert_eq!(
        agent.tools,
        only(&[
            "LS", "Read", "Grep", "Glob", "Bash", "Write", "Edit", "WebFetch"
        ])
    );
    assert!(
        agent
            .prompt
            .starts_with("# Frontend\u{2011}Developer \u{2013} Universal UI Builder")
    );
    let codes: Vec<_> = notes
        .iter()
        .map(|n| (n.code, n.span.map(|s| s.line)))
        .collect();
    assert_eq!(codes, [(code::LONG_CLOSING_RULE, Some(6))]);
}

#[test]
fn random_slices_of_corpus_files_never_panic() {
    let Some(corpus) = corpus() else { return };
    let mut files = Vec::new();
    markdown_files(&corpus, &mut files);
    files.sort();
    let texts: Vec<Vec<u8>> = files.iter().filter_map(|f| fs::read(f).ok()).collect();
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    for _ in 0..3_000 {
        let bytes = &texts[next(texts.len())];
        // Slices from the start keep the front matter in play most often.
        let start = if next(2) == 0 {
            0
        } else {
            next(bytes.len() + 1)
        };
        let end = start + next(bytes.len() + 1 - start);
        let text = String::from_utf8_lossy(&bytes[start..end]);
        let _ = parse_agent("slice.md", Scope::User, &text);
    }
}
