//! Parallel tasks that may edit the same files: found from mission files
//! as people write them, reported as risks, serialised on request, and
//! fast on big missions.

use std::time::Duration;
use techlead_core::agents::Library;
use techlead_core::history::History;
use techlead_core::plan::blueprint::blueprint;
use techlead_core::plan::graph::Graph;
use techlead_core::plan::overlap::{
    Overlap, overlaps, overlaps_summary, serialise, serialising_edges, task_paths,
};
use techlead_core::plan::risk::RiskKind;
use techlead_core::spec::{self, Mission};

fn parse(source: &str) -> Mission {
    let parsed = spec::parse(source);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.mission.expect("the mission parses")
}

const SHOP: &str = r#"
mission:
  name: shop
  objective: ship the shop
  defaults:
    max_parallel: 8
phases:
  - name: design
    tasks:
      - id: DESIGN
        title: Write the API design in docs/api.md
  - name: build
    tasks:
      - id: USERS
        title: Users endpoint
        description: |
          Add `GET /api/users/{id}` in src/api/users.rs, register the route in
          src/api/mod.rs and describe it in api/openapi.yaml.
        paths: [src/api/]
      - id: ORDERS
        title: Orders endpoint
        description: Add the orders handlers; update api/openapi.yaml.
        paths: [src/api/orders.rs]
      - id: DEPS
        title: Bump axum in Cargo.toml
        paths: [Cargo.toml, Cargo.lock]
      - id: UI
        title: Order page
        description: The React page in web/src/pages/orders.tsx, with Node.js 22.
        paths: [web/]
      - id: DOCS
        title: Document the API
        depends_on: [USERS, ORDERS]
        description: Update docs/api.md and api/openapi.yaml from the code.
tasks:
  - id: CI
    title: CI workflow
    description: Add .github/workflows/ci.yml running cargo test; touch Cargo.toml if needed.
"#;

fn ids(mission: &Mission, overlap: &Overlap) -> (String, String) {
    (
        mission.tasks[overlap.a].id.clone(),
        mission.tasks[overlap.b].id.clone(),
    )
}

#[test]
fn overlaps_of_a_mission_file() {
    let mission = parse(SHOP);
    let graph = Graph::new(&mission).unwrap();
    let found: Vec<((String, String), Vec<String>, bool)> = overlaps(&mission, &graph)
        .iter()
        .map(|o| (ids(&mission, o), o.paths.clone(), o.declared))
        .collect();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    let paths = |p: &[&str]| p.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    // DESIGN and DOCS both name docs/api.md, but DOCS runs a phase later;
    // DOCS waits for USERS and ORDERS. CI is outside the phases: it runs
    // alongside all of them.
    assert_eq!(
        found,
        [
            // Declared on both sides: src/api/ covers src/api/orders.rs.
            (
                pair("USERS", "ORDERS"),
                paths(&["api/openapi.yaml", "src/api/orders.rs"]),
                true
            ),
            (pair("DEPS", "CI"), paths(&["Cargo.toml"]), false),
        ]
    );
    // What each task is taken to touch.
    let users = task_paths(&mission.tasks[1]);
    assert_eq!(
        users,
        [
            ("src/api/".to_string(), true),
            ("src/api/users.rs".to_string(), false),
            ("src/api/mod.rs".to_string(), false),
            ("api/openapi.yaml".to_string(), false),
        ],
        "the route is no file"
    );
    let ui = task_paths(&mission.tasks[4]);
    assert_eq!(
        ui,
        [
            ("web/".to_string(), true),
            ("web/src/pages/orders.tsx".to_string(), false)
        ]
    );
}

#[test]
fn plan_reports_overlaps_as_risks_and_serialises_declared_ones_on_request() {
    let mission = parse(SHOP);
    let now = "2026-11-20T09:00:00Z".parse().unwrap();
    let library = Library::default();
    let plan = blueprint(mission.clone(), &library, &History::default(), now).unwrap();
    let risks: Vec<(&str, &str)> = plan
        .risks
        .iter()
        .filter(|r| r.kind == RiskKind::ParallelEdits)
        .map(|r| (r.level.as_str(), r.message.as_str()))
        .collect();
    assert_eq!(
        risks,
        [
            (
                "medium",
                "USERS and ORDERS may edit the same files at the same time: api/openapi.yaml, src/api/orders.rs"
            ),
            (
                "low",
                "DEPS and CI may edit the same files at the same time: Cargo.toml (guessed from their titles, descriptions and artifacts)"
            ),
        ]
    );

    let serial = parse(&SHOP.replace(
        "    max_parallel: 8\n",
        "    max_parallel: 8\n    serialize_overlaps: true\n",
    ));
    assert!(serial.defaults.serialize_overlaps);
    let graph = Graph::new(&serial).unwrap();
    // ORDERS (index 2) waits for USERS (1); guessed overlaps stay.
    assert_eq!(serialising_edges(&serial, &graph), [(2, 1)]);
    let plan = blueprint(serial, &library, &History::default(), now).unwrap();
    let step = |id: &str| plan.steps.iter().find(|s| s.id == id).unwrap();
    assert_eq!(step("ORDERS").depends_on, ["USERS"]);
    assert!(step("ORDERS").start_hour >= step("USERS").finish_hour);
    let kinds: Vec<_> = plan
        .risks
        .iter()
        .filter(|r| r.kind == RiskKind::ParallelEdits)
        .map(|r| r.level.as_str())
        .collect();
    assert_eq!(kinds, ["low"]);
}

#[test]
fn serialize_overlaps_is_a_documented_boolean() {
    let parsed = spec::parse(
        "mission: {name: m, defaults: {serialize_overlaps: yes}}\ntasks: [{title: t}]\n",
    );
    let errors: Vec<String> = parsed
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect();
    assert_eq!(
        errors,
        ["`serialize_overlaps` must be `true` or `false`, found text"]
    );
    let schema = spec::json_schema();
    let key = &schema["properties"]["mission"]["properties"]["defaults"]["properties"]["serialize_overlaps"];
    assert_eq!(key["type"], "boolean", "{key:#}");
    assert!(
        key["description"]
            .as_str()
            .unwrap()
            .contains("one after another")
    );
}

/// A mission of `n` tasks: in groups of ten, each task names its own file
/// (`svc<group>/file<i>.rs`) in `paths:` and another in its description;
/// one task in ten declares its whole group's directory; every task
/// waits for the one two places before it.
fn big(n: usize, serialize: bool) -> Mission {
    let mut source =
        format!("mission:\n  name: big\n  defaults: {{serialize_overlaps: {serialize}}}\ntasks:\n");
    for i in 0..n {
        let group = i / 10;
        let paths = if i.is_multiple_of(10) {
            format!("[svc{group}/]")
        } else {
            format!("[svc{group}/file{i}.rs]")
        };
        let depends = if i >= 2 {
            format!(", depends_on: [T{}]", i - 2)
        } else {
            String::new()
        };
        source.push_str(&format!(
            "  - {{id: T{i}, title: \"Task {i}\", description: \"Edit src/gen/out{i}.rs and docs/n{}.md\", paths: {paths}{depends}}}\n",
            i % 997
        ));
    }
    parse(&source)
}

#[test]
fn ten_thousand_tasks_are_quick() {
    let mission = big(10_000, true);
    let graph = Graph::new(&mission).unwrap();
    let started = std::time::Instant::now();
    let found = overlaps(&mission, &graph);
    let edges = serialising_edges(&mission, &graph);
    let elapsed = started.elapsed();
    // In a group, the directory's task (even) overlaps with the 5 odd
    // tasks (the even ones wait for it); docs/n<k>.md is shared by tasks
    // 997 apart, of other parities, which run in parallel.
    let declared = found.iter().filter(|o| o.declared).count();
    assert_eq!(declared, 1000 * 5);
    assert!(
        found
            .iter()
            .any(|o| !o.declared && o.paths[0].starts_with("docs/n"))
    );
    assert_eq!(edges.len(), 1000 * 5);
    // Generous for debug builds on a busy machine; a release build takes
    // a few milliseconds.
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");

    let mut mission = mission;
    assert!(serialise(&mut mission, &graph));
    let graph = Graph::new(&mission).expect("serialising makes no cycle");
    assert!(overlaps(&mission, &graph).iter().all(|o| !o.declared));
}

#[test]
fn many_tasks_on_one_path_stay_bounded() {
    // 3,000 independent tasks all declaring src/: 4.5 million pairs.
    let mut source =
        "mission:\n  name: one-path\n  defaults: {serialize_overlaps: true}\ntasks:\n".to_string();
    for i in 0..3_000 {
        source.push_str(&format!("  - {{id: T{i}, title: t, paths: [src/]}}\n"));
    }
    let mission = parse(&source);
    let graph = Graph::new(&mission).unwrap();
    let summary = overlaps_summary(&mission, &graph, 10);
    assert_eq!(summary.total, 3_000 * 2_999 / 2);
    assert_eq!(summary.declared, summary.total);
    assert_eq!(summary.shown.len(), 10);
    assert_eq!((summary.shown[9].a, summary.shown[9].b), (0, 10));
    assert_eq!(summary.tasks.len(), 3_000);
    // A chain, not every pair.
    let edges = serialising_edges(&mission, &graph);
    assert_eq!(edges.len(), 2_999);
    assert!(edges.iter().all(|&(t, d)| t == d + 1));
}
