//! How long loading a whole real-world agent library takes: the walk, the
//! reads and the parsing, as `techlead` does at start-up.
//!
//! Run with `cargo bench -p techlead-engine --bench load_agents`. It needs
//! the third-party corpus at `../shared/corpus/agents` (beside the
//! repository) and says so when it is missing. The target is under 50 ms
//! for its 272 agent files; docs/agents.md records the last measurement.

use std::path::PathBuf;
use std::time::{Duration, Instant};
use techlead_core::agents::{Library, Scope};
use techlead_engine::library;

const WARM_UP: usize = 5;
const ITERATIONS: usize = 50;

fn main() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/agents");
    let Ok(corpus) = corpus.canonicalize() else {
        println!("skipped: corpus not found at {}", corpus.display());
        return;
    };
    let dirs = [corpus];
    let load = || library::load_dirs(&dirs).expect("the corpus is a directory");

    let library = load();
    println!(
        "corpus: {} agents loaded, {} files skipped, {} warnings",
        library.len(),
        library.skipped().len(),
        library.warnings().len()
    );
    report("load_dirs (walk + read + parse)", measure(|| load().len()));

    // Parsing alone, from text already in memory, to tell disk from CPU.
    let texts = read_all(&library);
    report(
        "Library::from_texts (parse only)",
        measure(|| {
            Library::from_texts(
                texts
                    .iter()
                    .map(|(s, t)| (s.as_str(), Scope::Explicit, t.as_str())),
            )
            .len()
        }),
    );
}

fn read_all(library: &Library) -> Vec<(String, String)> {
    let sources = library
        .agents()
        .iter()
        .map(|agent| agent.source.clone())
        .chain(library.warnings().iter().map(|w| w.source.clone()))
        .chain(library.skipped().iter().map(|s| s.source.clone()));
    let mut texts: Vec<(String, String)> = sources
        .filter_map(|source| {
            std::fs::read_to_string(&source)
                .ok()
                .map(|text| (source, text))
        })
        .collect();
    texts.sort();
    texts.dedup_by(|a, b| a.0 == b.0);
    texts
}

fn measure(mut run: impl FnMut() -> usize) -> Vec<Duration> {
    for _ in 0..WARM_UP {
        std::hint::black_box(run());
    }
    let mut times: Vec<Duration> = (0..ITERATIONS)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(run());
            started.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn report(name: &str, times: Vec<Duration>) {
    let min = times.first().copied().unwrap_or_default();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    let max = times.last().copied().unwrap_or_default();
    println!(
        "{name}: min {:.2} ms, median {:.2} ms, max {:.2} ms ({ITERATIONS} iterations)",
        ms(min),
        ms(median),
        ms(max)
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
