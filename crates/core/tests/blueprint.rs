//! `techlead plan --json` writes a lazy blueprint, whose steps are made as
//! they are written: its JSON must be the materialised blueprint's, byte
//! for byte.

use std::fs;
use std::path::{Path, PathBuf};
use techlead_core::agents::{Library, Scope};
use techlead_core::history::History;
use techlead_core::plan::blueprint::{blueprint, lazy_blueprint};
use techlead_core::spec;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn library(dir: &Path) -> Library {
    let files = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            (
                name,
                Scope::Explicit,
                fs::read_to_string(entry.path()).unwrap(),
            )
        })
        .collect::<Vec<_>>();
    Library::from_texts(files)
}

fn assert_same_json(source: &str, library: &Library) -> String {
    let mission = spec::parse(source).mission.expect("the mission parses");
    let now = "2026-11-20T09:00:00Z".parse().unwrap();
    let context = History::default();
    let whole = blueprint(mission.clone(), library, &context, now).unwrap();
    let lazy = lazy_blueprint(mission, library, &context, now).unwrap();
    let json = serde_json::to_string_pretty(&whole).unwrap();
    assert_eq!(serde_json::to_string_pretty(&lazy).unwrap(), json);
    json
}

#[test]
fn the_examples_plan_the_same_lazily() {
    for (mission, agents) in [
        ("web-platform", ".claude/agents"),
        ("incident-response", ".claude/agents"),
        ("quickstart", "agents"),
    ] {
        let dir = root().join("examples").join(mission);
        let source = fs::read_to_string(dir.join("mission.yaml")).unwrap();
        assert_same_json(&source, &library(&dir.join(agents)));
    }
}

/// Ranked tasks whose choice depends on the load before them, named,
/// missing and backed-up agents, phases with gates.
#[test]
fn a_mixed_mission_plans_the_same_lazily() {
    let library = library(&root().join("examples/web-platform/.claude/agents"));
    let mut source = String::from(
        "mission: {name: mixed, defaults: {max_parallel: 3}}\nphases:\n  - name: first\n    gates: [make check]\n    tasks:\n",
    );
    let titles = [
        "Design the REST API for bookings",
        "Write the React booking form",
        "Set up the deployment pipeline",
        "Review the database schema for rooms",
        "Audit the login flow for security holes",
        "Document the API for partners",
    ];
    for i in 0..30 {
        let title = titles[i % titles.len()];
        let agent = match i % 7 {
            3 => ", agent: frontend-developer",
            5 => ", agent: kotlin-wizard",
            _ => "",
        };
        let backup = if i % 11 == 4 {
            ", backup: code-reviewer"
        } else {
            ""
        };
        let depends = if i >= 6 {
            format!(", depends_on: [P{:02}]", i - 6)
        } else {
            String::new()
        };
        source.push_str(&format!(
            "      - {{id: P{i:02}, title: {title} part {i}, estimate: {}{agent}{backup}{depends}}}\n",
            1 + i % 3
        ));
    }
    source.push_str("tasks:\n");
    for i in 0..40 {
        let title = titles[(i * 5) % titles.len()];
        source.push_str(&format!(
            "  - {{id: T{i:02}, title: {title}, depends_on: [P{:02}]}}\n",
            i % 30
        ));
    }
    let json = assert_same_json(&source, &library);
    for shown in [
        "\"kind\": \"ranked\"",
        "\"kind\": \"named\"",
        "\"kind\": \"fallback\"",
        "already assigned",
        "\"backup_suggested\": true",
    ] {
        assert!(json.contains(shown), "no {shown} in the plan");
    }
}
