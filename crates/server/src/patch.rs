//! `git diff` output read into files, hunks and numbered lines, the shape
//! a review screen draws: a person reads which files changed and how, not
//! a patch to apply. Only what techlead's own `git diff` prints is read
//! (no colour, `a/` and `b/` prefixes, `core.quotePath` off).

use serde::Serialize;

#[derive(Debug, Serialize, PartialEq)]
pub struct File {
    /// The path after the change (before it, for a deleted file).
    pub path: String,
    /// The path before a rename or copy.
    pub old_path: Option<String>,
    /// `added`, `deleted`, `modified`, `renamed` or `copied`.
    pub status: &'static str,
    pub binary: bool,
    pub additions: u32,
    pub deletions: u32,
    pub hunks: Vec<Hunk>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Hunk {
    /// The `@@ -a,b +c,d @@ context` line.
    pub header: String,
    pub lines: Vec<Line>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Line {
    /// `context`, `add`, `del`, or `note` (`\ No newline at end of file`).
    pub kind: &'static str,
    /// Its number in the old file (none for an added line).
    pub old: Option<u32>,
    /// Its number in the new file (none for a deleted line).
    pub new: Option<u32>,
    pub text: String,
}

/// The files of a `git diff` output, in its order.
pub fn parse(text: &str) -> Vec<File> {
    let mut files: Vec<File> = Vec::new();
    let (mut old_line, mut new_line) = (0u32, 0u32);
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("diff --git ") {
            let (a, b) = split_header(header);
            files.push(File {
                path: b,
                old_path: Some(a),
                status: "modified",
                binary: false,
                additions: 0,
                deletions: 0,
                hunks: Vec::new(),
            });
            continue;
        }
        let Some(file) = files.last_mut() else {
            continue;
        };
        if let Some(hunk) = file.hunks.last_mut() {
            let (kind, rest) = match line.as_bytes().first() {
                Some(b'+') => ("add", &line[1..]),
                Some(b'-') => ("del", &line[1..]),
                Some(b' ') => ("context", &line[1..]),
                Some(b'\\') => ("note", line),
                // An empty line is an empty context line whose space an
                // editor trimmed; anything else ends the hunk.
                None => ("context", ""),
                Some(_) => ("", line),
            };
            if !kind.is_empty() && !line.starts_with("@@") {
                let (old, new) = match kind {
                    "add" => (None, Some(new_line)),
                    "del" => (Some(old_line), None),
                    "note" => (None, None),
                    _ => (Some(old_line), Some(new_line)),
                };
                match kind {
                    "add" => {
                        new_line += 1;
                        file.additions += 1;
                    }
                    "del" => {
                        old_line += 1;
                        file.deletions += 1;
                    }
                    "context" => {
                        old_line += 1;
                        new_line += 1;
                    }
                    _ => {}
                }
                hunk.lines.push(Line {
                    kind,
                    old,
                    new,
                    text: rest.to_string(),
                });
                continue;
            }
        }
        if line.starts_with("@@") {
            let (old, new) = hunk_starts(line);
            (old_line, new_line) = (old, new);
            file.hunks.push(Hunk {
                header: line.to_string(),
                lines: Vec::new(),
            });
        } else if line.starts_with("new file mode") {
            file.status = "added";
        } else if line.starts_with("deleted file mode") {
            file.status = "deleted";
        } else if let Some(from) = line.strip_prefix("rename from ") {
            file.status = "renamed";
            file.old_path = Some(unquote(from));
        } else if let Some(to) = line.strip_prefix("rename to ") {
            file.path = unquote(to);
        } else if let Some(from) = line.strip_prefix("copy from ") {
            file.status = "copied";
            file.old_path = Some(unquote(from));
        } else if let Some(to) = line.strip_prefix("copy to ") {
            file.path = unquote(to);
        } else if let Some(old) = line.strip_prefix("--- ") {
            if old != "/dev/null" {
                file.old_path = Some(strip_side(old, "a/"));
            }
        } else if let Some(new) = line.strip_prefix("+++ ") {
            if new != "/dev/null" {
                file.path = strip_side(new, "b/");
            }
        } else if line.starts_with("Binary files ") || line == "GIT binary patch" {
            file.binary = true;
        }
    }
    for file in &mut files {
        if file.status == "deleted" {
            file.path = file.old_path.take().unwrap_or_default();
        } else if !matches!(file.status, "renamed" | "copied") {
            file.old_path = None;
        }
    }
    files
}

/// The two paths of `a/x b/y`. Ambiguous when a path holds ` b/`; the
/// `---`, `+++` and rename lines that follow settle it where git prints
/// them (binary files and mode changes have only this line).
fn split_header(header: &str) -> (String, String) {
    if let Some(rest) = header.strip_prefix('"')
        && let Some((a, b)) = rest.split_once("\" ")
    {
        return (strip_side(a, "a/"), strip_side(b, "b/"));
    }
    let middle = header.len() / 2;
    let at = header
        .match_indices(" b/")
        .min_by_key(|(i, _)| i.abs_diff(middle))
        .map(|(i, _)| i);
    match at {
        Some(i) => (
            strip_side(&header[..i], "a/"),
            strip_side(&header[i + 1..], "b/"),
        ),
        None => (header.to_string(), header.to_string()),
    }
}

fn strip_side(path: &str, prefix: &str) -> String {
    let path = unquote(path);
    path.strip_prefix(prefix).unwrap_or(&path).to_string()
}

/// A path as git quotes one with control characters or `"`: `"a\tb"`.
fn unquote(path: &str) -> String {
    let path = path.trim_end_matches('\t');
    let Some(inner) = path.strip_prefix('"').and_then(|p| p.strip_suffix('"')) else {
        return path.to_string();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The first old and new line numbers of `@@ -a,b +c,d @@`.
fn hunk_starts(header: &str) -> (u32, u32) {
    let mut old = 0;
    let mut new = 0;
    for part in header.split(' ').skip(1).take(2) {
        let number = |s: &str| s.split(',').next().and_then(|n| n.parse().ok());
        if let Some(n) = part.strip_prefix('-').and_then(number) {
            old = n;
        } else if let Some(n) = part.strip_prefix('+').and_then(number) {
            new = n;
        }
    }
    (old, new)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "\
diff --git a/src/lib.rs b/src/lib.rs
index 1111111..2222222 100644
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,3 +1,4 @@ mod a;
 fn one() {}
-fn two() {}
+fn two() -> u8 { 2 }
+fn three() {}

\\ No newline at end of file
diff --git a/new file.txt b/new file.txt
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/new file.txt
@@ -0,0 +1 @@
+hello
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 4444444..0000000
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
diff --git a/old.rs b/moved.rs
similarity index 100%
rename from old.rs
rename to moved.rs
diff --git a/logo.png b/logo.png
new file mode 100644
index 0000000..5555555
Binary files /dev/null and b/logo.png differ
";

    #[test]
    fn files_hunks_and_numbered_lines() {
        let files = parse(DIFF);
        let summary: Vec<_> = files
            .iter()
            .map(|f| (f.path.as_str(), f.old_path.as_deref(), f.status, f.binary))
            .collect();
        assert_eq!(
            summary,
            [
                ("src/lib.rs", None, "modified", false),
                ("new file.txt", None, "added", false),
                ("gone.txt", None, "deleted", false),
                ("moved.rs", Some("old.rs"), "renamed", false),
                ("logo.png", None, "added", true),
            ]
        );
        let lib = &files[0];
        assert_eq!((lib.additions, lib.deletions), (2, 1));
        let lines: Vec<_> = lib.hunks[0]
            .lines
            .iter()
            .map(|l| (l.kind, l.old, l.new, l.text.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                ("context", Some(1), Some(1), "fn one() {}"),
                ("del", Some(2), None, "fn two() {}"),
                ("add", None, Some(2), "fn two() -> u8 { 2 }"),
                ("add", None, Some(3), "fn three() {}"),
                ("context", Some(3), Some(4), ""),
                ("note", None, None, "\\ No newline at end of file"),
            ]
        );
        assert_eq!(files[1].hunks[0].lines[0].new, Some(1));
        assert_eq!(files[2].hunks[0].lines[0].old, Some(1));
    }

    #[test]
    fn quoted_and_ambiguous_paths() {
        assert_eq!(unquote("\"a\\tb\\\"c\""), "a\tb\"c");
        assert_eq!(
            split_header("a/x b/y b/x b/y"),
            ("x b/y".to_string(), "x b/y".to_string())
        );
        assert_eq!(hunk_starts("@@ -12,7 +14 @@ fn x"), (12, 14));
    }
}
