//! How often the ranker picks an agent a tech lead would accept, measured
//! on real agent libraries (../shared/corpus/agents) and the labelled tasks
//! in tests/data/assignment-labels.yaml.
//!
//! Run with `cargo test -p techlead-core --test assign_accuracy --
//! --nocapture` to see the figures, the misses and the experiments that
//! docs/assignment.md reports.

use saphyr::{LoadableYamlNode, Yaml};
use std::path::{Path, PathBuf};
use std::time::Instant;
use techlead_core::agents::{Agent, Library, Scope};
use techlead_core::plan::assign::{AssignContext, FieldParams, Params, Ranker};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/agents");
const LABELS: &str = include_str!("data/assignment-labels.yaml");

/// The top-1 accuracy the default model must keep.
const MIN_TOP1: f64 = 0.80;

struct Labelled {
    title: String,
    description: String,
    accepted: Vec<String>,
}

impl Labelled {
    fn text(&self) -> String {
        // As `spec::Task::text` builds it.
        format!("{}\n{}", self.title, self.description)
    }
}

fn labels() -> Vec<Labelled> {
    let docs = Yaml::load_from_str(LABELS).expect("labels are valid YAML");
    let tasks = docs[0]
        .as_mapping_get("tasks")
        .and_then(Yaml::as_sequence)
        .expect("labels have a `tasks:` list");
    tasks
        .iter()
        .map(|task| {
            let text = |key: &str| {
                task.as_mapping_get(key)
                    .and_then(Yaml::as_str)
                    .unwrap_or_else(|| panic!("a task without `{key}`: {task:?}"))
                    .to_string()
            };
            let mut accepted = Vec::new();
            flatten(
                task.as_mapping_get("agents")
                    .expect("a task without agents"),
                &mut accepted,
            );
            Labelled {
                title: text("title"),
                description: text("description"),
                accepted,
            }
        })
        .collect()
}

/// Agent names from a list that may hold group aliases (nested lists).
fn flatten(node: &Yaml, out: &mut Vec<String>) {
    match node.as_sequence() {
        Some(items) => items.iter().for_each(|item| flatten(item, out)),
        None => out.push(
            node.as_str()
                .unwrap_or_else(|| panic!("not an agent name: {node:?}"))
                .to_string(),
        ),
    }
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "md")
            && path.file_name().is_some_and(|name| name != "README.md")
        {
            out.push(path);
        }
    }
}

fn corpus() -> Option<Vec<Agent>> {
    let root = Path::new(CORPUS);
    if !root.is_dir() {
        return None;
    }
    let mut files = Vec::new();
    markdown_files(root, &mut files);
    let texts = files.iter().map(|path| {
        let source = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        (
            source,
            Scope::Explicit,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    });
    Some(Library::from_texts(texts).agents().to_vec())
}

struct Score {
    top1: usize,
    top3: usize,
    total: usize,
    misses: Vec<String>,
}

impl Score {
    fn top1(&self) -> f64 {
        self.top1 as f64 / self.total as f64
    }

    fn top3(&self) -> f64 {
        self.top3 as f64 / self.total as f64
    }
}

fn evaluate(ranker: &Ranker, tasks: &[Labelled]) -> Score {
    let context = AssignContext::default();
    let mut score = Score {
        top1: 0,
        top3: 0,
        total: tasks.len(),
        misses: Vec::new(),
    };
    for task in tasks {
        let ranked = ranker.rank_top(&task.text(), &context, 3);
        let accepted = |name: &String| task.accepted.contains(name);
        let in_top3 = ranked.iter().any(|c| accepted(&c.name));
        score.top3 += usize::from(in_top3);
        if ranked.first().is_some_and(|c| accepted(&c.name)) {
            score.top1 += 1;
            continue;
        }
        let got = ranked
            .iter()
            .map(|c| {
                let mark = if accepted(&c.name) { "*" } else { "" };
                format!("{mark}{} {:.2} [{}]", c.name, c.score, c.reasons.join("; "))
            })
            .collect::<Vec<_>>()
            .join("\n      ");
        let mut want = task.accepted.iter().take(6).cloned().collect::<Vec<_>>();
        if task.accepted.len() > want.len() {
            want.push(format!("(+{} more)", task.accepted.len() - want.len()));
        }
        score.misses.push(format!(
            "{}: {}\n    want one of: {}\n    got: {got}",
            if in_top3 { "top-3" } else { "MISS " },
            task.title,
            want.join(", "),
        ));
    }
    score
}

#[test]
fn ranker_picks_an_accepted_agent() {
    let Some(agents) = corpus() else {
        println!("skipped: corpus not found at {CORPUS}");
        return;
    };
    let tasks = labels();
    assert!(
        tasks.len() >= 60,
        "the labelled set has {} tasks",
        tasks.len()
    );
    let known: std::collections::HashSet<&str> = agents.iter().map(|a| a.name.as_str()).collect();
    for task in &tasks {
        for name in &task.accepted {
            assert!(
                known.contains(name.as_str()),
                "label {name:?} of {:?} names no agent in the corpus",
                task.title
            );
        }
    }

    let started = Instant::now();
    let ranker = Ranker::new(&agents);
    let built = started.elapsed();
    let started = Instant::now();
    let score = evaluate(&ranker, &tasks);
    let ranked = started.elapsed();

    println!(
        "{} agents, {} labelled tasks; index built in {built:?}, tasks ranked in {ranked:?}",
        ranker.len(),
        tasks.len()
    );
    println!(
        "top-1 accuracy {:.3} ({}/{}), top-3 accuracy {:.3} ({}/{})",
        score.top1(),
        score.top1,
        score.total,
        score.top3(),
        score.top3,
        score.total
    );
    for miss in &score.misses {
        println!("  {miss}");
    }
    assert!(
        score.top1() >= MIN_TOP1,
        "top-1 accuracy {:.3} is below {MIN_TOP1}",
        score.top1()
    );
}

/// What each modelling choice buys, printed for docs/assignment.md; only
/// the default model is held to a threshold.
#[test]
fn experiments() {
    let Some(agents) = corpus() else {
        println!("skipped: corpus not found at {CORPUS}");
        return;
    };
    let tasks = labels();
    let base = Params::default();
    let field = |weight: f64, b: f64| FieldParams { weight, b };
    let variants: Vec<(&str, Params)> = vec![
        ("default", base),
        (
            "plain BM25 (every field weight 1)",
            Params {
                name: field(1.0, 0.75),
                skills: field(1.0, 0.75),
                description: field(1.0, 0.75),
                prompt: field(1.0, 0.75),
                ..base
            },
        ),
        (
            "name weight 1.5",
            Params {
                name: field(1.5, base.name.b),
                ..base
            },
        ),
        (
            "name weight 6",
            Params {
                name: field(6.0, base.name.b),
                ..base
            },
        ),
        (
            "no prompt field",
            Params {
                prompt: field(0.0, base.prompt.b),
                ..base
            },
        ),
        (
            "prompt weight 0.03",
            Params {
                prompt: field(0.03, base.prompt.b),
                ..base
            },
        ),
        (
            "prompt weight 0.3",
            Params {
                prompt: field(0.3, base.prompt.b),
                ..base
            },
        ),
        (
            "prompt b 1.0",
            Params {
                prompt: field(base.prompt.weight, 1.0),
                ..base
            },
        ),
        (
            "examples kept in descriptions",
            Params {
                strip_examples: false,
                ..base
            },
        ),
        (
            "title weight 1 (title like the rest)",
            Params {
                title_weight: 1.0,
                ..base
            },
        ),
        (
            "title weight 2",
            Params {
                title_weight: 2.0,
                ..base
            },
        ),
        ("k1 0.9", Params { k1: 0.9, ..base }),
        ("k1 2.0", Params { k1: 2.0, ..base }),
    ];
    for (label, params) in variants {
        let score = evaluate(&Ranker::with_params(&agents, params), &tasks);
        println!(
            "{label:<38} top-1 {:.3}  top-3 {:.3}",
            score.top1(),
            score.top3()
        );
    }
}
