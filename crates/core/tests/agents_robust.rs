//! The agent parser never panics: arbitrary bytes, YAML-flavoured noise,
//! and random cuts and splices of the fixtures all either load or are
//! skipped. A seeded xorshift keeps failures reproducible without a
//! property-testing dependency.

use std::fs;
use std::path::PathBuf;
use techlead_core::agents::{Library, Scope, parse_agent};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Pieces that steer random text into every branch of the parser.
const PIECES: &[&str] = &[
    "---\n",
    "-----------\n",
    "\n",
    " ",
    "  ",
    "\t",
    "\r\n",
    "name: ",
    "description: ",
    "tools: ",
    "model: ",
    "orchestration:\n  ",
    "priority: ",
    "max_parallel: ",
    "dependencies: ",
    "command: ",
    "executor: ",
    "skills: ",
    "- ",
    ": ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\"",
    "'",
    "|",
    ">-",
    "#",
    "&a ",
    "*a",
    "!tag ",
    "<example>",
    "</example>",
    "user: \"hi\"",
    "é",
    "\u{2011}",
    "\u{feff}",
    "\0",
    "sonnet",
    "Read, Grep",
    "*",
    "?",
    "%YAML 1.2\n",
    "...\n",
];

fn fixtures() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents");
    let mut texts: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| fs::read(entry.path()).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .collect();
    texts.sort();
    texts
}

fn parse(text: &str) {
    let _ = parse_agent("fuzz/input.md", Scope::Explicit, text);
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3_000 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        parse(&text);
        parse(&format!("---\n{text}\n---\n"));
    }
}

#[test]
fn yaml_flavoured_noise_never_panics() {
    let mut rng = XorShift(42);
    for _ in 0..5_000 {
        let mut text = String::from(if rng.below(4) == 0 { "" } else { "---\n" });
        for _ in 0..rng.below(60) {
            text.push_str(PIECES[rng.below(PIECES.len())]);
        }
        parse(&text);
    }
}

#[test]
fn cuts_and_splices_of_real_files_never_panic() {
    let texts = fixtures();
    assert!(!texts.is_empty());
    let mut rng = XorShift(7);
    let mut library = Vec::new();
    for round in 0..4_000 {
        let a = texts[rng.below(texts.len())].as_bytes();
        let b = texts[rng.below(texts.len())].as_bytes();
        let (start, end) = ordered(rng.below(a.len() + 1), rng.below(a.len() + 1));
        let mut bytes = a[start..end].to_vec();
        // Splice a piece of another file at a random point.
        let at = rng.below(bytes.len() + 1);
        let (s, e) = ordered(rng.below(b.len() + 1), rng.below(b.len() + 1));
        bytes.splice(at..at, b[s..e].iter().copied());
        let text = String::from_utf8_lossy(&bytes).into_owned();
        parse(&text);
        parse(&format!("---\n{text}"));
        if round % 40 == 0 {
            library.push((format!("cut-{round}.md"), Scope::Project, text));
        }
    }
    let library = Library::from_texts(library);
    assert_eq!(
        library.len() + library.skipped().len() + duplicates(&library),
        100
    );
}

fn ordered(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

fn duplicates(library: &Library) -> usize {
    library
        .warnings()
        .iter()
        .filter(|w| w.diagnostic.code == techlead_core::agents::code::DUPLICATE_NAME)
        .count()
}

#[test]
fn pathological_nesting_and_size_never_panic() {
    let deep = [
        "- ".repeat(100_000),
        "[".repeat(100_000),
        "{a: ".repeat(50_000),
        (0..2_000)
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect(),
        "? ".repeat(50_000),
        format!("description: {}", "x: ".repeat(100_000)),
        format!("description: |\n{}", "  <example>\n".repeat(50_000)),
    ];
    for yaml in deep {
        parse(&format!("---\n{yaml}\n---\nbody"));
        parse(&format!(
            "---\nname: a\ndescription: b\nx:\n{yaml}\n---\nbody"
        ));
    }
}

#[test]
fn huge_lists_load_in_linear_time() {
    let names: Vec<String> = (0..50_000).map(|i| format!("tool{i}")).collect();
    let tools = names.join(", ");
    let text = format!(
        "---\nname: a\ndescription: b\ntools: {tools}, {tools}\nskills: {tools}\n---\nbody"
    );
    let started = std::time::Instant::now();
    let parsed = parse_agent("big.md", Scope::Project, &text);
    assert!(parsed.is_ok());
    // Not a speed target (bench/ has those): a guard against quadratic
    // work, which at this size takes minutes, not the seconds a busy
    // machine may need.
    assert!(
        started.elapsed().as_secs() < 60,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn many_keys_in_broken_yaml_load_in_linear_time() {
    let keys: String = (0..50_000).map(|i| format!("k{i}: v\n")).collect();
    let text = format!("---\nname: a\ndescription: b: c\n{keys}name: again\n---\nbody");
    let started = std::time::Instant::now();
    let parsed = parse_agent("keys.md", Scope::Project, &text);
    assert!(parsed.is_ok());
    // Not a speed target (bench/ has those): a guard against quadratic
    // work, which at this size takes minutes, not the seconds a busy
    // machine may need.
    assert!(
        started.elapsed().as_secs() < 60,
        "took {:?}",
        started.elapsed()
    );
}
