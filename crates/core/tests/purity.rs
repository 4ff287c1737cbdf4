//! The core stays pure: no runtime, filesystem, network, process,
//! environment or database, in its dependencies or its code. This guards
//! DESIGN decision 3 against a convenient shortcut.

use std::path::Path;

const FORBIDDEN_CRATES: &[&str] = &[
    "tokio",
    "async-std",
    "rusqlite",
    "sqlx",
    "postgres",
    "tokio-postgres",
    "reqwest",
    "hyper",
    "axum",
    "walkdir",
    "dirs",
    "tempfile",
    // Forecasts draw from their own seeded generator (forecast::rng):
    // never from the operating system's entropy.
    "rand",
    "getrandom",
];
const FORBIDDEN_CODE: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "std::thread",
    "Timestamp::now",
    "SystemTime",
    "Instant::now",
    "println!",
    "eprintln!",
];

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn core_depends_on_no_io_crates() {
    let manifest = std::fs::read_to_string(manifest_dir().join("Cargo.toml")).unwrap();
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    for line in dependencies.lines().filter(|l| !l.trim().is_empty()) {
        let name = line.split(['=', ' ']).next().unwrap().trim();
        assert!(
            !FORBIDDEN_CRATES.contains(&name),
            "core depends on `{name}`"
        );
    }
}

#[test]
fn core_code_does_no_io() {
    let mut offenders = Vec::new();
    visit(&manifest_dir().join("src"), &mut offenders);
    assert_eq!(offenders, Vec::<String>::new());
}

fn visit(dir: &Path, offenders: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            visit(&path, offenders);
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Unit tests may print and read fixtures; only shipped code counts.
        let shipped = text.split("#[cfg(test)]").next().unwrap();
        for (number, line) in shipped.lines().enumerate() {
            for word in FORBIDDEN_CODE.iter().filter(|w| line.contains(**w)) {
                offenders.push(format!("{}:{}: {word}", path.display(), number + 1));
            }
        }
    }
}
