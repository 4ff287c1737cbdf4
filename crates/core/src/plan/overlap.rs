//! Tasks that may edit the same files at the same time.
//!
//! Parallel agents that change the same files make merge conflicts. A task
//! says what it will touch in two ways:
//!
//! - **declared**: its `paths:` (a directory covers everything under it;
//!   `src/**` and `src/*.rs` count as `src/`);
//! - **guessed**: path-like words of its title, description and
//!   `artifacts:` ([`paths_in_text`]): words with a `/` that look like a
//!   path (`src/api/users.rs`, `api/handlers/`, `crates/core`) and file
//!   names with a known extension (`Cargo.toml`, `openapi.yaml`) or a
//!   well-known name (`Dockerfile`). It is conservative: URLs, routes
//!   (`/api/users`), `and/or`, `client/server`, version numbers and
//!   framework names such as `Node.js` are not paths.
//!
//! Two tasks **overlap** when they may run at the same time (neither waits
//! for the other, directly or through others, phase order included) and a
//! path of one equals, contains or lies under a path of the other.
//! [`overlaps`] lists them; the overlap is `declared` when both tasks
//! declare the path in `paths:`.
//!
//! [`serialising_edges`] turns declared overlaps into dependencies when the
//! mission sets `defaults.serialize_overlaps: true`, so that such tasks run
//! one after another.
//!
//! Cost: paths are indexed to the tasks that name them, so only tasks that
//! share a path are ever compared. Whether two tasks can run at the same
//! time is answered from bitsets of what each task waits for, restricted to
//! the tasks that share a path with another and built a slice of them at a
//! time within a fixed memory budget.

use super::graph::Graph;
use crate::spec::{Mission, Task};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

/// Two tasks that may run at the same time and touch the same paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overlap {
    /// Task indices into [`Mission::tasks`], `a < b`.
    pub a: usize,
    pub b: usize,
    /// The paths both may touch (the more specific one of each matching
    /// pair: `api/users.rs` when one declares `api/` and the other names
    /// `api/users.rs`), sorted. A directory ends with `/`.
    pub paths: Vec<String>,
    /// True when at least one of the paths comes from both tasks' `paths:`;
    /// false when it was guessed from a title, description or artifact.
    pub declared: bool,
}

/// Every pair of tasks that may run at the same time and touch the same
/// paths, by `a` then `b`. The list grows with the pairs found: tasks that
/// share nothing cost nothing, but many tasks that can all run at once and
/// name the same path make many pairs (see [`overlaps_summary`] for a
/// bounded answer).
pub fn overlaps(mission: &Mission, graph: &Graph) -> Vec<Overlap> {
    let index = Index::build(mission);
    let mut found = Vec::new();
    index.scan(graph, |a, b, declared, keys| {
        found.push(index.overlap(a, b, declared, keys));
    });
    found.sort_by_key(|o| (o.a, o.b));
    found
}

/// The first overlaps and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverlapSummary {
    /// At most `limit` declared overlaps then at most `limit` guessed ones,
    /// each group by `a` then `b`.
    pub shown: Vec<Overlap>,
    /// Every overlap, `shown` included.
    pub total: usize,
    /// Declared overlaps among `total`.
    pub declared: usize,
    /// Every task that overlaps with another, in file order.
    pub tasks: Vec<usize>,
}

/// As [`overlaps`], keeping only the first `limit` declared and `limit`
/// guessed overlaps, so that memory stays bounded however many pairs there
/// are.
pub fn overlaps_summary(mission: &Mission, graph: &Graph, limit: usize) -> OverlapSummary {
    let index = Index::build(mission);
    // Max-heaps of the smallest pairs seen so far.
    let mut declared: BinaryHeap<(usize, usize, Vec<u32>)> = BinaryHeap::new();
    let mut guessed: BinaryHeap<(usize, usize, Vec<u32>)> = BinaryHeap::new();
    let mut total = 0;
    let mut declared_total = 0;
    let mut involved = vec![false; mission.tasks.len()];
    index.scan(graph, |a, b, is_declared, keys| {
        total += 1;
        involved[a] = true;
        involved[b] = true;
        let heap = if is_declared {
            declared_total += 1;
            &mut declared
        } else {
            &mut guessed
        };
        if heap.len() < limit {
            heap.push((a, b, keys.to_vec()));
        } else if heap.peek().is_some_and(|top| (a, b) < (top.0, top.1)) {
            heap.pop();
            heap.push((a, b, keys.to_vec()));
        }
    });
    let mut shown = Vec::new();
    for (heap, is_declared) in [(declared, true), (guessed, false)] {
        for (a, b, keys) in heap.into_sorted_vec() {
            shown.push(index.overlap(a, b, is_declared, &keys));
        }
    }
    OverlapSummary {
        shown,
        total,
        declared: declared_total,
        tasks: (0..involved.len()).filter(|&t| involved[t]).collect(),
    }
}

/// The dependencies that make tasks whose declared `paths:` overlap run one
/// after another: `(task, depends_on)` pairs of task indices, sorted. Empty
/// unless the mission sets `defaults.serialize_overlaps: true`.
///
/// Of two overlapping tasks, the one that comes later waits for the other:
/// later in file order, unless their dependencies order them the other way
/// round (tasks are taken in the first order that respects every
/// dependency and otherwise follows the file), so the new edges never make
/// a cycle. Tasks already ordered by the graph get no edge, and a group of
/// tasks sharing a path is chained (each waits for the one before) rather
/// than joined pair by pair, which orders exactly the same pairs with a
/// number of edges that grows with the group, not its square.
///
/// Adding `mission.tasks[depends_on].id` to `mission.tasks[task].depends_on`
/// for each pair (see [`serialise`]) gives the mission these edges.
pub fn serialising_edges(mission: &Mission, graph: &Graph) -> Vec<(usize, usize)> {
    if !mission.defaults.serialize_overlaps {
        return Vec::new();
    }
    let index = Index::build(mission);
    let order = Order::new(graph);
    let mut edges: HashSet<(usize, usize)> = HashSet::new();
    for key in 0..index.keys.len() {
        let holders: Vec<usize> = index.holders[key]
            .iter()
            .filter(|h| h.declared)
            .map(|h| h.task)
            .collect();
        if holders.is_empty() {
            continue;
        }
        // The tasks declaring this path, and those declaring a path under
        // it: each of the first must be ordered with every other task of
        // the group; the second need not be ordered among themselves
        // here (their own paths' groups do that if they share one).
        let mut group: Vec<(usize, bool)> = holders.iter().map(|&t| (t, true)).collect();
        for under in index.descendants(key) {
            group.extend(
                index.holders[under]
                    .iter()
                    .filter(|h| h.declared)
                    .map(|h| (h.task, false)),
            );
        }
        group.sort_by_key(|&(t, holds)| (order.position[t], Reverse(holds)));
        group.dedup_by_key(|&mut (t, _)| t);
        let mut last_holder: Option<usize> = None;
        let mut since: Vec<usize> = Vec::new();
        for (t, holds) in group {
            if holds {
                if since.is_empty() {
                    edges.extend(last_holder.map(|h| (t, h)));
                } else {
                    edges.extend(since.drain(..).map(|u| (t, u)));
                }
                last_holder = Some(t);
            } else {
                edges.extend(last_holder.map(|h| (t, h)));
                since.push(t);
            }
        }
    }
    let mut edges: Vec<(usize, usize)> = edges.into_iter().collect();
    edges.sort_unstable();
    // Drop what the graph already orders: it adds nothing.
    let mut keep = vec![true; edges.len()];
    let mut by_earlier: Vec<(usize, usize)> = (0..edges.len()).map(|i| (edges[i].1, i)).collect();
    by_earlier.sort_unstable_by_key(|&(earlier, _)| order.position[earlier]);
    let columns: Vec<usize> = {
        let mut seen = HashSet::new();
        by_earlier
            .iter()
            .map(|&(earlier, _)| earlier)
            .filter(|&t| seen.insert(t))
            .collect()
    };
    let mut next = 0;
    order.each_slice(graph, &columns, |slice| {
        while next < by_earlier.len() && slice.holds(by_earlier[next].0) {
            let (earlier, i) = by_earlier[next];
            if slice.waits_for(edges[i].0, earlier) {
                keep[i] = false;
            }
            next += 1;
        }
    });
    edges
        .into_iter()
        .zip(keep)
        .filter_map(|(edge, keep)| keep.then_some(edge))
        .collect()
}

/// Adds the [`serialising_edges`] to the mission's `depends_on`; returns
/// true when it added any, so that the caller builds its graph again.
pub fn serialise(mission: &mut Mission, graph: &Graph) -> bool {
    let edges = serialising_edges(mission, graph);
    for &(task, earlier) in &edges {
        let id = mission.tasks[earlier].id.clone();
        mission.tasks[task].depends_on.push(id);
    }
    !edges.is_empty()
}

/// The paths `task` may touch: `(path, declared)`, declared ones first,
/// each path once. Directories end with `/`.
pub fn task_paths(task: &Task) -> Vec<(String, bool)> {
    let mut found: Vec<(String, bool)> = Vec::new();
    let mut push = |path: String, declared: bool| {
        if !found.iter().any(|(p, _)| same_key(p, &path)) {
            found.push((path, declared));
        }
    };
    for path in &task.paths {
        if let Some(path) = declared_path(path) {
            push(path, true);
        }
    }
    for text in [&task.title, &task.description]
        .into_iter()
        .chain(&task.artifacts)
    {
        for path in paths_in_text(text) {
            push(path, false);
        }
    }
    found
}

fn same_key(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// A declared `paths:` entry, cleaned: `./` and a leading `/` dropped,
/// globs cut at their first wildcard (`src/**/*.rs` → `src/`). `.`, `/`
/// or `**` alone is the whole repository, `./`. `None` when empty.
pub fn declared_path(path: &str) -> Option<String> {
    let path = path.trim().replace('\\', "/");
    let mut parts: Vec<&str> = Vec::new();
    let mut dir = path.ends_with('/');
    for part in path.split('/') {
        if part.contains(['*', '?', '[', '{']) {
            dir = true;
            break;
        }
        if !part.is_empty() && part != "." {
            parts.push(part);
        }
    }
    if parts.is_empty() {
        return (!path.is_empty()).then(|| "./".to_string());
    }
    let mut clean = parts.join("/");
    if dir {
        clean.push('/');
    }
    Some(clean)
}

/// The path-like words of `text`, cleaned, each once, in order of
/// appearance. Directories end with `/`.
///
/// A word counts when, stripped of quotes, brackets, Markdown marks and
/// sentence punctuation (and of a `:line` suffix):
///
/// - it has a `/`, does not start with one (a route such as `/api/users`
///   or an absolute path), is no URL, e-mail or package scope, is made of
///   letters, digits, `.`, `_`, `-` and `/`, has no component of digits
///   only and no first component with a dot inside (a domain); and it ends
///   with `/` (`api/handlers/`), or its last part has a known extension
///   (`api/openapi.yaml`), or it has three parts or more (`src/api/users`),
///   or it starts with a usual source directory (`src/api`, `crates/core`,
///   `.github/workflows`); a single directory (`src/`) is too broad to
///   count;
/// - or it has no `/` and is a file name with a known extension
///   (`Cargo.toml`, `users.rs`) other than a name most directories have
///   (`mod.rs`, `index.ts`, `__init__.py`) or a framework's (`Node.js`),
///   or a well-known file without one (`Dockerfile`, `Makefile`).
pub fn paths_in_text(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || matches!(c, '`' | ',' | ';' | '|')) {
        if let Some(path) = path_word(word)
            && !found.contains(&path)
        {
            found.push(path);
        }
    }
    found
}

/// Extensions of files people edit, lowercase.
const EXTENSIONS: &[&str] = &[
    "rs",
    "toml",
    "lock",
    "py",
    "pyi",
    "ipynb",
    "js",
    "mjs",
    "cjs",
    "jsx",
    "ts",
    "mts",
    "cts",
    "tsx",
    "vue",
    "svelte",
    "go",
    "mod",
    "sum",
    "java",
    "kt",
    "kts",
    "scala",
    "groovy",
    "gradle",
    "swift",
    "c",
    "h",
    "cc",
    "cpp",
    "cxx",
    "hpp",
    "hh",
    "cs",
    "csproj",
    "sln",
    "rb",
    "erb",
    "php",
    "ex",
    "exs",
    "erl",
    "hrl",
    "hs",
    "ml",
    "mli",
    "clj",
    "cljs",
    "dart",
    "lua",
    "pl",
    "sql",
    "sh",
    "bash",
    "zsh",
    "fish",
    "ps1",
    "bat",
    "yaml",
    "yml",
    "json",
    "jsonc",
    "json5",
    "xml",
    "xsd",
    "html",
    "htm",
    "css",
    "scss",
    "sass",
    "less",
    "md",
    "mdx",
    "rst",
    "txt",
    "adoc",
    "proto",
    "graphql",
    "gql",
    "prisma",
    "tf",
    "tfvars",
    "hcl",
    "nix",
    "ini",
    "cfg",
    "conf",
    "env",
    "properties",
    "csv",
    "tsv",
    "svg",
    "tmpl",
    "tpl",
    "j2",
    "jinja",
    "hbs",
    "ejs",
    "pug",
    "wasm",
    "dockerfile",
    "gitignore",
    "editorconfig",
    "npmrc",
    "nvmrc",
    "prettierrc",
    "eslintrc",
    "babelrc",
];

/// Well-known files without an extension.
const NAMED_FILES: &[&str] = &[
    "Dockerfile",
    "Containerfile",
    "Makefile",
    "GNUmakefile",
    "Justfile",
    "justfile",
    "Gemfile",
    "Rakefile",
    "Procfile",
    "Jenkinsfile",
    "Vagrantfile",
    "Brewfile",
    "CODEOWNERS",
];

/// File names too common across directories to point at one file.
const GENERIC_NAMES: &[&str] = &[
    "mod.rs",
    "lib.rs",
    "main.rs",
    "build.rs",
    "__init__.py",
    "__main__.py",
    "main.py",
    "main.go",
    "index.js",
    "index.mjs",
    "index.ts",
    "index.tsx",
    "index.jsx",
    "index.html",
    "index.md",
    "readme.txt",
];

/// Names of frameworks and libraries that look like files.
const NOT_FILES: &[&str] = &[
    "node.js",
    "next.js",
    "nuxt.js",
    "vue.js",
    "react.js",
    "express.js",
    "nest.js",
    "ember.js",
    "backbone.js",
    "angular.js",
    "d3.js",
    "three.js",
    "chart.js",
    "p5.js",
    "alpine.js",
    "solid.js",
    "moment.js",
    "socket.io",
];

/// First directories that make a two-part word a path (`src/api`).
const SOURCE_DIRS: &[&str] = &[
    "src",
    "lib",
    "crates",
    "packages",
    "pkg",
    "cmd",
    "internal",
    "tests",
    "test",
    "spec",
    "docs",
    "scripts",
    "config",
    "configs",
    "bin",
    "include",
    "migrations",
    "public",
    "static",
    "assets",
    "components",
    "pages",
    "services",
    "modules",
    "examples",
    "tools",
    "deploy",
    "infra",
    "charts",
    "k8s",
    "terraform",
    "apps",
    "app",
];

/// One word as a path, or `None`.
fn path_word(word: &str) -> Option<String> {
    const OPENING: &[char] = &['"', '\'', '(', '[', '{', '<', '*', '_', '~'];
    const CLOSING: &[char] = &[
        '"', '\'', ')', ']', '}', '>', '*', '_', '~', '.', ',', ':', ';', '!', '?',
    ];
    let mut word = word.trim_start_matches(OPENING).trim_end_matches(CLOSING);
    // `src/lib.rs:42` or `src/lib.rs:42:7`: the file.
    while let Some((head, tail)) = word.rsplit_once(':') {
        if tail.is_empty() || !tail.bytes().all(|b| b.is_ascii_digit()) {
            break;
        }
        word = head;
    }
    if word.is_empty()
        || word.contains("://")
        || !word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
    {
        return None;
    }
    let word = word.strip_prefix("./").unwrap_or(word);
    if word.contains('/') {
        return slash_path(word);
    }
    file_name(word).then(|| word.to_string())
}

/// A word with a `/`, per [`paths_in_text`].
fn slash_path(word: &str) -> Option<String> {
    if word.starts_with('/') || word.contains("//") {
        return None;
    }
    let dir = word.ends_with('/');
    let parts: Vec<&str> = word.trim_end_matches('/').split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let first = parts[0];
    if first.len() > 1 && first[1..].contains('.') && first != ".." {
        return None; // github.com/…, example.org/…
    }
    let last = parts[parts.len() - 1];
    let counts = if parts.len() == 1 {
        false // a single directory: too broad
    } else {
        dir || extension(last).is_some()
            || parts.len() >= 3
            || SOURCE_DIRS.contains(&first)
            || (first.starts_with('.') && first.len() > 1 && first != "..")
    };
    counts.then(|| word.to_string())
}

/// True when a word without `/` names a file, per [`paths_in_text`].
fn file_name(word: &str) -> bool {
    if NAMED_FILES.contains(&word) {
        return true;
    }
    let lower = word.to_ascii_lowercase();
    if GENERIC_NAMES.contains(&lower.as_str()) || NOT_FILES.contains(&lower.as_str()) {
        return false;
    }
    // `.env`, `.gitignore`: the extension is the name.
    let Some(ext) = extension(word) else {
        return false;
    };
    let stem = &word[..word.len() - ext.len() - 1];
    // A stem of letters, with digits, `_`, `-` or `.` after the first
    // (not `v1.2`, `3.rs`, `e.g`).
    stem.is_empty() && word.len() > 2
        || stem.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '.')
            && !stem.ends_with('.')
}

/// The known extension of a file name (`toml` of `Cargo.toml`).
fn extension(name: &str) -> Option<&str> {
    let (_, ext) = name.rsplit_once('.')?;
    EXTENSIONS
        .contains(&ext.to_ascii_lowercase().as_str())
        .then_some(ext)
}

/// One task naming a path.
#[derive(Debug, Clone, Copy)]
struct Holder {
    task: usize,
    declared: bool,
}

/// Paths → tasks. Keys are the paths without a trailing `/`, sorted, so
/// that the paths under a key `k` are one run of keys (from `k/` to `k0`).
/// The whole repository is the empty key, first.
struct Index {
    keys: Vec<String>,
    /// Per key: shown with a trailing `/` (a directory).
    dir: Vec<bool>,
    /// Per key: the tasks naming it, each once, in file order.
    holders: Vec<Vec<Holder>>,
    /// Per task: its keys.
    paths: Vec<Vec<(u32, bool)>>,
    /// Per key: the keys that contain it, nearest last.
    ancestors: Vec<Vec<u32>>,
    /// Per key: the range of keys that lie under it.
    under: Vec<(u32, u32)>,
}

impl Index {
    fn build(mission: &Mission) -> Index {
        let per_task: Vec<Vec<(String, bool)>> = mission.tasks.iter().map(task_paths).collect();
        let mut dir_of: HashMap<&str, bool> = HashMap::new();
        for (path, _) in per_task.iter().flatten() {
            let key = key_of(path);
            *dir_of.entry(key).or_default() |= path.ends_with('/');
        }
        let mut keys: Vec<&str> = dir_of.keys().copied().collect();
        keys.sort_unstable();
        let id: HashMap<&str, u32> = keys
            .iter()
            .enumerate()
            .map(|(i, &k)| (k, i as u32))
            .collect();
        let mut holders: Vec<Vec<Holder>> = vec![Vec::new(); keys.len()];
        let paths: Vec<Vec<(u32, bool)>> = per_task
            .iter()
            .enumerate()
            .map(|(task, found)| {
                found
                    .iter()
                    .map(|(path, declared)| {
                        let key = id[key_of(path)];
                        holders[key as usize].push(Holder {
                            task,
                            declared: *declared,
                        });
                        (key, *declared)
                    })
                    .collect()
            })
            .collect();
        let ancestors = keys
            .iter()
            .map(|&k| {
                let mut up: Vec<u32> = Vec::new();
                if !k.is_empty() {
                    up.extend(id.get("").copied());
                    up.extend(
                        k.match_indices('/')
                            .filter_map(|(at, _)| id.get(&k[..at]).copied()),
                    );
                }
                up
            })
            .collect();
        // Keys under `k` start with `k/`: they sort from `k/` to `k0`
        // (`0` follows `/`), though not always right after `k` (`k-x`, `k.rs`).
        let under = keys
            .iter()
            .map(|&k| {
                if k.is_empty() {
                    return (1, keys.len() as u32);
                }
                let (low, high) = (format!("{k}/"), format!("{k}0"));
                let low = keys.partition_point(|other| *other < low.as_str());
                let high = keys.partition_point(|other| *other < high.as_str());
                (low as u32, high as u32)
            })
            .collect();
        Index {
            dir: keys.iter().map(|k| dir_of[k]).collect(),
            keys: keys.into_iter().map(String::from).collect(),
            holders,
            paths,
            ancestors,
            under,
        }
    }

    /// The keys under `key`.
    fn descendants(&self, key: usize) -> std::ops::Range<usize> {
        let (low, high) = self.under[key];
        low as usize..high as usize
    }

    fn shown(&self, key: u32) -> String {
        let key = key as usize;
        match (&*self.keys[key], self.dir[key]) {
            ("", _) => "./".to_string(),
            (k, true) => format!("{k}/"),
            (k, false) => k.to_string(),
        }
    }

    fn overlap(&self, a: usize, b: usize, declared: bool, keys: &[u32]) -> Overlap {
        let mut paths: Vec<String> = keys.iter().map(|&k| self.shown(k)).collect();
        paths.sort_unstable();
        paths.dedup();
        Overlap {
            a,
            b,
            paths,
            declared,
        }
    }

    /// True when `task` shares a path with another task.
    fn shares(&self, task: usize) -> bool {
        self.paths[task].iter().any(|&(key, _)| {
            let key = key as usize;
            self.holders[key].len() > 1
                || !self.ancestors[key].is_empty()
                || !self.descendants(key).is_empty()
        })
    }

    /// Calls `visit(a, b, declared, keys)` once for every overlapping pair
    /// (`a < b`), in no particular order.
    fn scan(&self, graph: &Graph, mut visit: impl FnMut(usize, usize, bool, &[u32])) {
        let n = self.paths.len();
        let order = Order::new(graph);
        let mut columns: Vec<usize> = (0..n).filter(|&t| self.shares(t)).collect();
        if columns.len() < 2 {
            return;
        }
        columns.sort_unstable_by_key(|&t| order.position[t]);
        // Per partner: the keys shared and whether one is declared by both.
        let mut shared: Vec<Option<(bool, Vec<u32>)>> = vec![None; n];
        let mut touched: Vec<usize> = Vec::new();
        order.each_slice(graph, &columns, |slice| {
            for &t in slice.tasks {
                // Each pair once: from the one that comes first in the
                // order, the only one the other can wait for.
                let mut meet = |u: usize, key: u32, declared: bool| {
                    if order.position[u] <= order.position[t] {
                        return;
                    }
                    let entry = shared[u].get_or_insert_with(|| {
                        touched.push(u);
                        (false, Vec::new())
                    });
                    entry.0 |= declared;
                    if !entry.1.contains(&key) {
                        entry.1.push(key);
                    }
                };
                for &(key, declared) in &self.paths[t] {
                    // Paths containing t's: t's path is the specific one.
                    for &up in self.ancestors[key as usize].iter().chain([&key]) {
                        for h in &self.holders[up as usize] {
                            meet(h.task, key, declared && h.declared);
                        }
                    }
                    for under in self.descendants(key as usize) {
                        for h in &self.holders[under] {
                            meet(h.task, under as u32, declared && h.declared);
                        }
                    }
                }
                for u in touched.drain(..) {
                    let (declared, keys) = shared[u].take().expect("touched partners have keys");
                    if !slice.waits_for(u, t) {
                        visit(t.min(u), t.max(u), declared, &keys);
                    }
                }
            }
        });
    }
}

/// The key of a cleaned path: without its trailing `/` (`./` is `""`).
fn key_of(path: &str) -> &str {
    if path == "./" {
        ""
    } else {
        path.trim_end_matches('/')
    }
}

/// The first order of the tasks that respects every dependency (phase
/// order included) and otherwise follows the file.
struct Order {
    /// Per task: its place in the order.
    position: Vec<usize>,
    /// Every node (tasks and phase barriers), dependencies first.
    nodes: Vec<usize>,
}

impl Order {
    fn new(graph: &Graph) -> Order {
        let n = graph.len();
        let total = graph.node_count();
        // A phase barrier takes the place of the first task waiting for it.
        let rank = |v: usize| -> (usize, bool) {
            if v < n {
                (v, true)
            } else {
                let first = graph.node_successors(v).iter().copied().min();
                (first.unwrap_or(usize::MAX), false)
            }
        };
        let mut waiting: Vec<usize> = (0..total).map(|v| graph.node_waits_for(v)).collect();
        let mut ready: BinaryHeap<Reverse<((usize, bool), usize)>> = (0..total)
            .filter(|&v| waiting[v] == 0)
            .map(|v| Reverse((rank(v), v)))
            .collect();
        let mut nodes = Vec::with_capacity(total);
        let mut position = vec![0; n];
        while let Some(Reverse((_, v))) = ready.pop() {
            if v < n {
                position[v] = nodes.len();
            }
            nodes.push(v);
            for &s in graph.node_successors(v) {
                waiting[s] -= 1;
                if waiting[s] == 0 {
                    ready.push(Reverse((rank(s), s)));
                }
            }
        }
        Order { position, nodes }
    }

    /// Calls `each` with slices of `columns` (tasks sorted by position),
    /// in order, each with what every node waits for among the slice's
    /// tasks. The slices are as wide as a fixed memory budget allows.
    fn each_slice(&self, graph: &Graph, columns: &[usize], mut each: impl FnMut(&Slice<'_>)) {
        /// Bytes the bitsets of one slice may take.
        const BUDGET: usize = 4 << 20;
        if columns.is_empty() {
            return;
        }
        let nodes = graph.node_count().max(1);
        let words = (BUDGET / 8 / nodes).clamp(1, columns.len().div_ceil(64).max(1));
        let width = words * 64;
        let mut column = vec![usize::MAX; graph.len()];
        let mut bits = vec![0u64; nodes * words];
        for tasks in columns.chunks(width) {
            for (c, &t) in tasks.iter().enumerate() {
                column[t] = c;
            }
            bits.fill(0);
            // Nodes before the slice's first task cannot wait for any of
            // its tasks: their rows stay empty.
            let mut row = vec![0u64; words];
            for &v in &self.nodes[self.position[tasks[0]]..] {
                row.copy_from_slice(&bits[v * words..(v + 1) * words]);
                if let Some(&c) = column.get(v).filter(|&&c| c != usize::MAX) {
                    row[c / 64] |= 1 << (c % 64);
                }
                for &s in graph.node_successors(v) {
                    let target = &mut bits[s * words..(s + 1) * words];
                    for (w, r) in target.iter_mut().zip(&row) {
                        *w |= *r;
                    }
                }
            }
            each(&Slice {
                tasks,
                column: &column,
                bits: &bits,
                words,
            });
            for &t in tasks {
                column[t] = usize::MAX;
            }
        }
    }
}

/// What every node waits for among a slice of tasks.
struct Slice<'a> {
    tasks: &'a [usize],
    column: &'a [usize],
    bits: &'a [u64],
    words: usize,
}

impl Slice<'_> {
    /// True when `task` is one of the slice's.
    fn holds(&self, task: usize) -> bool {
        self.column[task] != usize::MAX
    }

    /// True when `later` waits for `earlier` (one of the slice's tasks),
    /// directly or through others.
    fn waits_for(&self, later: usize, earlier: usize) -> bool {
        let c = self.column[earlier];
        self.bits[later * self.words + c / 64] & (1 << (c % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::graph::fixture::{mission, with_phases};

    #[test]
    fn paths_in_realistic_descriptions() {
        let cases: &[(&str, &[&str])] = &[
            (
                "Add the `GET /api/users/:id` endpoint in src/api/users.rs and document it in api/openapi.yaml.",
                &["src/api/users.rs", "api/openapi.yaml"],
            ),
            (
                "Bump tokio in Cargo.toml (and Cargo.lock), then fix the build.",
                &["Cargo.toml", "Cargo.lock"],
            ),
            (
                "Migrate the Node.js service to Next.js; see https://nextjs.org/docs/app and README.md.",
                &["README.md"],
            ),
            (
                "Set up CI/CD: a workflow in .github/workflows/ci.yml that runs on push and/or PRs.",
                &[".github/workflows/ci.yml"],
            ),
            (
                "Refactor the client/server protocol; keep I/O in crates/net and handlers under api/handlers/.",
                &["crates/net", "api/handlers/"],
            ),
            (
                "Fix the panic at src/parser.rs:142:7, e.g. when the input is empty (v1.2 regression, 24/7 service).",
                &["src/parser.rs"],
            ),
            (
                "Write the Dockerfile and a Makefile target; ask ops@example.com about github.com/acme/deploy.",
                &["Dockerfile", "Makefile"],
            ),
            (
                "Split mod.rs and index.ts into smaller modules across the src/ tree.",
                &[],
            ),
            (
                "**Update** `packages/web/src/App.tsx` (the login form) and web/src/routes.",
                &["packages/web/src/App.tsx", "web/src/routes"],
            ),
            (
                "Copy ./scripts/release.sh to scripts/release.sh.",
                &["scripts/release.sh"],
            ),
            (
                "Support @types/node 20 and read .env and .gitignore; improve UX/UI by 50%.",
                &[".env", ".gitignore"],
            ),
            (
                "Talk to the frontend/backend teams about the read/write path, 1/2 done.",
                &[],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(paths_in_text(text), *expected, "in {text:?}");
        }
    }

    #[test]
    fn declared_paths_are_cleaned() {
        assert_eq!(declared_path("./api/").as_deref(), Some("api/"));
        assert_eq!(
            declared_path("/api//users.rs").as_deref(),
            Some("api/users.rs")
        );
        assert_eq!(declared_path("src/**/*.rs").as_deref(), Some("src/"));
        assert_eq!(declared_path("web/*.ts").as_deref(), Some("web/"));
        assert_eq!(declared_path(".").as_deref(), Some("./"));
        assert_eq!(declared_path("**").as_deref(), Some("./"));
        assert_eq!(declared_path("  ").as_deref(), None);
    }

    fn with_paths(mut m: Mission, paths: &[&[&str]]) -> Mission {
        for (task, paths) in m.tasks.iter_mut().zip(paths) {
            task.paths = paths.iter().map(|p| p.to_string()).collect();
        }
        m
    }

    fn pairs(m: &Mission) -> Vec<(usize, usize, Vec<String>, bool)> {
        let g = Graph::new(m).unwrap();
        overlaps(m, &g)
            .into_iter()
            .map(|o| (o.a, o.b, o.paths, o.declared))
            .collect()
    }

    fn strings(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn a_directory_covers_the_files_under_it() {
        let m = with_paths(
            mission(&[
                ("a", &[], 1.0),
                ("b", &[], 1.0),
                ("c", &[], 1.0),
                ("d", &[], 1.0),
            ]),
            &[
                &["api/"],
                &["api/users.rs"],
                &["api-docs/", "api.rs"],
                &["apis/x.rs"],
            ],
        );
        assert_eq!(pairs(&m), [(0, 1, strings(&["api/users.rs"]), true)]);
    }

    #[test]
    fn tasks_that_wait_for_each_other_do_not_overlap() {
        // c waits for a through b; d waits for nothing; e is in phase 2,
        // after phase 1's a.
        let m = with_paths(
            mission(&[
                ("a", &[], 1.0),
                ("b", &["a"], 1.0),
                ("c", &["b"], 1.0),
                ("d", &[], 1.0),
                ("e", &[], 1.0),
            ]),
            &[&["src/"], &[], &["src/lib.rs"], &["src/main.rs"], &["src/"]],
        );
        let m = with_phases(m, &[&[0], &[4]]);
        assert_eq!(
            pairs(&m),
            [
                (0, 3, strings(&["src/main.rs"]), true),
                (2, 4, strings(&["src/lib.rs"]), true),
                (3, 4, strings(&["src/main.rs"]), true),
            ]
        );
    }

    #[test]
    fn guessed_paths_overlap_but_are_not_declared() {
        let mut m = mission(&[("a", &[], 1.0), ("b", &[], 1.0), ("c", &[], 1.0)]);
        m.tasks[0].description = "Add the endpoint in src/api/users.rs.".into();
        m.tasks[1].paths = vec!["src/api/".into()];
        m.tasks[2].title = "Bump serde in Cargo.toml".into();
        m.tasks[2].artifacts = vec!["src/api/users.rs".into()];
        assert_eq!(
            pairs(&m),
            [
                (0, 1, strings(&["src/api/users.rs"]), false),
                (0, 2, strings(&["src/api/users.rs"]), false),
                (1, 2, strings(&["src/api/users.rs"]), false),
            ]
        );
    }

    #[test]
    fn the_whole_repository_overlaps_everything() {
        let m = with_paths(
            mission(&[("a", &[], 1.0), ("b", &[], 1.0), ("c", &[], 1.0)]),
            &[&["."], &["docs/x.md"], &[]],
        );
        assert_eq!(pairs(&m), [(0, 1, strings(&["docs/x.md"]), true)]);
    }

    #[test]
    fn serialising_chains_declared_overlaps_without_cycles() {
        // a, b, c declare api/; d declares api/users.rs; e is guessed only.
        // c depends on z, which comes last in the file.
        let mut m = with_paths(
            mission(&[
                ("a", &[], 1.0),
                ("b", &[], 1.0),
                ("c", &["z"], 1.0),
                ("d", &[], 1.0),
                ("e", &[], 1.0),
                ("z", &[], 1.0),
            ]),
            &[&["api/"], &["api/"], &["api/"], &["api/users.rs"], &[], &[]],
        );
        m.tasks[4].description = "touches api/users.rs".into();
        let g = Graph::new(&m).unwrap();
        assert_eq!(serialising_edges(&m, &g), []);
        m.defaults.serialize_overlaps = true;
        let edges = serialising_edges(&m, &g);
        // Order: a, b, d, e, z, c. b waits for a, d for b, c for d.
        assert_eq!(edges, [(1, 0), (2, 3), (3, 1)]);
        assert!(serialise(&mut m, &g));
        assert_eq!(m.tasks[2].depends_on, ["z", "d"]);
        let g = Graph::new(&m).expect("no cycle");
        assert!(overlaps(&m, &g).iter().all(|o| !o.declared));
        assert_eq!(serialising_edges(&m, &g), []);
    }

    #[test]
    fn serialising_adds_nothing_already_ordered() {
        let mut m = with_paths(
            mission(&[("a", &[], 1.0), ("b", &["a"], 1.0), ("c", &["b"], 1.0)]),
            &[&["src/"], &["src/"], &["src/"]],
        );
        m.defaults.serialize_overlaps = true;
        let g = Graph::new(&m).unwrap();
        assert_eq!(serialising_edges(&m, &g), []);
    }
}
