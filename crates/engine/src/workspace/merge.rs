//! How a task's work reaches the integration branch, without a checkout:
//! `git merge-tree --write-tree` merges two commits into a tree in the
//! object store, `commit-tree` makes the commit, and `update-ref <branch>
//! <new> <old>` moves the branch only if nobody moved it meanwhile.
//!
//! Every commit techlead puts on the integration branch carries trailers
//! (`Techlead-Mission`, `Techlead-Task`, `Techlead-Agent`, and
//! `Techlead-Commit`: the task commit it brings in), so a merge asked for
//! twice (after a crash between moving the branch and recording it) finds
//! the first one and merges nothing: a task commit is merged when the
//! integration branch contains it or a commit whose `Techlead-Commit`
//! names it.

use super::{
    Error, Result, Workspaces, conflicted_files, dirty_files, io_error, merge_in_progress,
    nul_separated,
};
use crate::git::{Git, Identity};
use std::collections::HashMap;
use std::io::Read;

/// How a task's commits reach the integration branch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strategy {
    /// One merge commit whose second parent is the task's tip.
    #[default]
    Merge,
    /// Each task commit replayed onto the integration tip (a linear
    /// history), keeping its message and author, with the trailers added.
    /// A task branch that contains a merge commit (a resolved conflict) is
    /// merged with a merge commit instead: replaying its commits one by one
    /// would meet the same conflict again. Needs git 2.40.
    Rebase,
}

/// What to merge and how to describe it.
#[derive(Debug, Clone)]
pub struct MergeRequest {
    pub task: String,
    /// The task's title, for the commit message.
    pub title: String,
    /// The agent that did the work, for the commit message.
    pub agent: String,
    pub strategy: Strategy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeResult {
    /// The integration branch now ends at `commit`.
    Merged { commit: String },
    /// The task's work conflicts with the integration branch in `files`;
    /// nothing was changed.
    Conflict { files: Vec<String> },
    /// Nothing to do: every commit of the task is already in (or was
    /// replayed onto) the integration branch; `commit` is the one that
    /// brought it in, or the integration tip when the task has no commits
    /// of its own.
    AlreadyMerged { commit: String },
}

/// The trailers of integration commits techlead wrote.
#[derive(Debug, Default)]
struct Marked {
    /// Task commit → the integration commit that brought it in.
    copies: HashMap<String, String>,
    /// The newest integration commit marked with this mission and task.
    newest: Option<String>,
}

/// A commit of the task not yet in the integration branch.
#[derive(Debug)]
struct Pending {
    commit: String,
    parents: Vec<String>,
}

/// One `merge-tree` result.
enum Tree {
    Clean(String),
    Conflict(Vec<String>),
}

/// Taken by every `merge` of this process.
static MERGES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// How often `merge` starts over when another process moved the
/// integration branch under it.
const ATTEMPTS: usize = 5;

impl Workspaces {
    /// Files the task branch changed since it forked from the integration
    /// branch (their merge base), sorted; both names of a rename.
    pub fn changed_files(&self, task: &str) -> Result<Vec<String>> {
        let range = self.fork_range(task)?;
        let output = self
            .git
            .cmd()
            .args(["diff", "--name-only", "-z", "--no-renames", "--no-ext-diff"])
            .arg(&range)
            .arg("--")
            .run()?;
        Ok(nul_separated(&output))
    }

    /// The task's diff against that merge base, cut at a line end within
    /// `max_bytes`, followed by a line saying how much was left out and how
    /// to see it all.
    pub fn diff(&self, task: &str, max_bytes: usize) -> Result<String> {
        let range = self.fork_range(task)?;
        let invocation = self
            .git
            .cmd()
            .args(["diff", "--no-color", "--no-ext-diff"])
            .arg(&range)
            .arg("--");
        let mut command = invocation.command();
        let mut child = command.spawn().map_err(|error| {
            Error::from(crate::git::Error::Io {
                command: format!("git diff {range}"),
                dir: self.git.repo().to_path_buf(),
                source: error,
            })
        })?;
        // Read stderr aside so that a chatty git cannot block on it.
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let mut kept = Vec::with_capacity(max_bytes.min(1 << 20));
        // Where the kept part ends once something is left out: after the
        // last line end within `max_bytes`.
        let mut cut: Option<usize> = None;
        let mut rest_bytes = 0usize;
        let mut headers = Headers::default();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = stdout
                .read(&mut buffer)
                .map_err(io_error(self.git.repo()))?;
            if read == 0 {
                break;
            }
            let room = max_bytes.saturating_sub(kept.len()).min(read);
            kept.extend_from_slice(&buffer[..room]);
            let extra = &buffer[room..read];
            if extra.is_empty() {
                continue;
            }
            if cut.is_none() {
                let at = kept
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(kept.len(), |i| i + 1);
                headers.line_start = at == 0 || kept[at - 1] == b'\n';
                headers.feed(&kept[at..]);
                cut = Some(at);
            }
            headers.feed(extra);
            rest_bytes += extra.len();
        }
        let status = child.wait().map_err(io_error(self.git.repo()))?;
        let stderr = errors.join().unwrap_or_default();
        if !status.success() {
            return Err(crate::git::Error::Failed {
                command: format!("git diff {range}"),
                dir: self.git.repo().to_path_buf(),
                status: status.to_string(),
                stderr,
            }
            .into());
        }
        let Some(cut) = cut else {
            return Ok(String::from_utf8_lossy(&kept).into_owned());
        };
        let rest_bytes = rest_bytes + kept.len() - cut;
        let rest_files = headers.count;
        let mut text = String::from_utf8_lossy(&kept[..cut]).into_owned();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "[techlead: the diff is cut here; {rest_bytes} more byte{} left out{}; all of it: git diff {range}]\n",
            if rest_bytes == 1 { "" } else { "s" },
            match rest_files {
                0 => String::new(),
                1 => ", including 1 more file".into(),
                n => format!(", including {n} more files"),
            }
        ));
        Ok(text)
    }

    /// `<integration>...<task>`: the task's changes since it forked.
    fn fork_range(&self, task: &str) -> Result<String> {
        self.integration_tip()?;
        self.task_tip(task)?;
        Ok(format!(
            "refs/heads/{}...refs/heads/{}",
            self.integration_branch(),
            self.task_branch(task)
        ))
    }

    /// Merges the task branch into the integration branch without a
    /// checkout (see the module documentation). Idempotent: asked again
    /// after it succeeded, it answers `AlreadyMerged`. The integration
    /// branch is unchanged unless the answer is `Merged`.
    pub fn merge(&self, request: &MergeRequest) -> Result<MergeResult> {
        let branch = self.integration_branch();
        let reference = format!("refs/heads/{branch}");
        if request.strategy == Strategy::Rebase && !self.git.at_least((2, 40)) {
            return Err(Error::GitTooOld {
                needs: "2.40",
                what: "the rebase strategy (`merge-tree --merge-base`)",
                found: self.git.version().to_string(),
            });
        }
        if let Some(worktree) = self
            .worktrees()?
            .into_iter()
            .find(|worktree| worktree.branch.as_deref() == Some(&reference))
        {
            return Err(Error::CheckedOut {
                branch,
                worktree: worktree.path,
            });
        }
        // Merges of this process take turns: they would only make each
        // other start over. Other processes are caught by the
        // compare-and-swap below.
        let _turn = MERGES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for _ in 0..ATTEMPTS {
            let old = self.integration_tip()?;
            let tip = self.task_tip(&request.task)?;
            let marked = self.marked(&old, &tip, Some(&request.task))?;
            let pending: Vec<Pending> = self
                .pending(&old, &tip)?
                .into_iter()
                .filter(|commit| !marked.copies.contains_key(&commit.commit))
                .collect();
            if pending.is_empty() {
                let commit = marked
                    .copies
                    .get(&tip)
                    .cloned()
                    .or(marked.newest)
                    .unwrap_or(old);
                return Ok(MergeResult::AlreadyMerged { commit });
            }
            let replay = request.strategy == Strategy::Rebase
                && pending.iter().all(|commit| commit.parents.len() == 1);
            let new = if replay {
                self.replay(request, &old, &pending)?
            } else {
                self.merge_commit(request, &old, &tip)?
            };
            let new = match new {
                Tree::Clean(commit) => commit,
                Tree::Conflict(files) => return Ok(MergeResult::Conflict { files }),
            };
            let moved = self
                .git
                .cmd()
                .identity(Identity::techlead())
                .args(["update-ref", "-m"])
                .arg(format!("techlead: merge task {}", request.task))
                .args([&reference, &new, &old])
                .run();
            match moved {
                Ok(_) => return Ok(MergeResult::Merged { commit: new }),
                // Someone moved the branch since we read it: start over
                // from its new tip.
                Err(error) => {
                    if self.integration_tip()? == old {
                        return Err(error.into());
                    }
                }
            }
        }
        Err(Error::Raced { branch })
    }

    /// One merge commit of `tip` into `onto`.
    fn merge_commit(&self, request: &MergeRequest, onto: &str, tip: &str) -> Result<Tree> {
        let tree = match merge_tree(&self.git, None, onto, tip)? {
            Tree::Clean(tree) => tree,
            conflict => return Ok(conflict),
        };
        let title = one_line(&request.title);
        let mut message = format!("Merge task {}", one_line(&request.task));
        if !title.is_empty() {
            message.push_str(&format!(": {title}"));
        }
        message.push_str(&format!(
            "\n\nThe work of agent {} on task {} of mission {}.\n\n",
            one_line(&request.agent),
            one_line(&request.task),
            one_line(&self.mission)
        ));
        message.push_str(&self.trailers(request, tip));
        let commit = self
            .git
            .cmd()
            .identity(Identity::techlead())
            .args([
                "commit-tree",
                "--no-gpg-sign",
                &tree,
                "-p",
                onto,
                "-p",
                tip,
                "-F",
                "-",
            ])
            .input(message)
            .run()?;
        Ok(Tree::Clean(commit.trim().to_string()))
    }

    /// Each of `pending` replayed onto `onto`, in order; the last commit.
    fn replay(&self, request: &MergeRequest, onto: &str, pending: &[Pending]) -> Result<Tree> {
        let infos = self.commit_infos(pending)?;
        let mut current = onto.to_string();
        for (commit, info) in pending.iter().zip(infos) {
            let tree = match merge_tree(
                &self.git,
                Some(&commit.parents[0]),
                &current,
                &commit.commit,
            )? {
                Tree::Clean(tree) => tree,
                conflict => return Ok(conflict),
            };
            let message = with_trailers(&info.message, &self.trailers(request, &commit.commit));
            let identity = Identity {
                author_name: info.name,
                author_email: info.email,
                author_date: Some(info.date),
            };
            current = self
                .git
                .cmd()
                .identity(identity)
                .args([
                    "commit-tree",
                    "--no-gpg-sign",
                    &tree,
                    "-p",
                    &current,
                    "-F",
                    "-",
                ])
                .input(message)
                .run()?
                .trim()
                .to_string();
        }
        Ok(Tree::Clean(current))
    }

    fn trailers(&self, request: &MergeRequest, commit: &str) -> String {
        format!(
            "Techlead-Mission: {}\nTechlead-Task: {}\nTechlead-Agent: {}\nTechlead-Commit: {commit}\n",
            one_line(&self.mission),
            one_line(&request.task),
            one_line(&request.agent),
        )
    }

    /// Authors, dates and messages of `pending`, in its order.
    fn commit_infos(&self, pending: &[Pending]) -> Result<Vec<CommitInfo>> {
        let revisions: String = pending
            .iter()
            .map(|commit| format!("{}\n", commit.commit))
            .collect();
        let output = self
            .git
            .cmd()
            .args([
                "log",
                "--no-walk=unsorted",
                "--stdin",
                "-z",
                "--date=raw",
                "--format=%an%x00%ae%x00%ad%x00%B",
            ])
            .input(revisions)
            .run()?;
        let fields: Vec<&str> = output.split('\0').collect();
        Ok(fields
            .chunks(4)
            .filter(|chunk| chunk.len() == 4)
            .map(|chunk| CommitInfo {
                name: chunk[0].to_string(),
                email: chunk[1].to_string(),
                date: chunk[2].to_string(),
                message: chunk[3].to_string(),
            })
            .collect())
    }

    /// Commits reachable from `tip` and not from `integration`, oldest
    /// first, with their parents.
    fn pending(&self, integration: &str, tip: &str) -> Result<Vec<Pending>> {
        let output = self
            .git
            .cmd()
            .args(["rev-list", "--reverse", "--topo-order", "--parents", tip])
            .arg(format!("^{integration}"))
            .arg("--")
            .run()?;
        Ok(output
            .lines()
            .filter_map(|line| {
                let mut hashes = line.split_whitespace().map(String::from);
                Some(Pending {
                    commit: hashes.next()?,
                    parents: hashes.collect(),
                })
            })
            .collect())
    }

    /// Trailers of the integration commits not reachable from `tip`: which
    /// task commits they brought in, and (for `task`) the newest of them.
    fn marked(&self, integration: &str, tip: &str, task: Option<&str>) -> Result<Marked> {
        let output = self
            .git
            .cmd()
            .args([
                "log",
                "-z",
                "--format=%H%x1f%(trailers:key=Techlead-Commit,valueonly,separator=%x1e)%x1f%(trailers:key=Techlead-Task,valueonly,separator=%x1e)%x1f%(trailers:key=Techlead-Mission,valueonly,separator=%x1e)",
                integration,
            ])
            .arg(format!("^{tip}"))
            .arg("--")
            .run()?;
        let mut marked = Marked::default();
        for record in output.split('\0') {
            let mut fields = record.trim_start_matches('\n').split('\x1f');
            let (Some(hash), Some(commits), Some(tasks), Some(missions)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            for commit in commits
                .split('\x1e')
                .map(str::trim)
                .filter(|c| !c.is_empty())
            {
                marked
                    .copies
                    .entry(commit.to_string())
                    .or_insert_with(|| hash.to_string());
            }
            let ours = |values: &str, wanted: &str| {
                values
                    .split('\x1e')
                    .any(|value| value.trim() == one_line(wanted))
            };
            if marked.newest.is_none()
                && task.is_some_and(|task| ours(tasks, task))
                && ours(missions, &self.mission)
            {
                marked.newest = Some(hash.to_string());
            }
        }
        Ok(marked)
    }

    /// Commits of `tip` the integration branch holds neither as they are
    /// nor replayed; all of them when there is no integration branch.
    pub(crate) fn unmerged(&self, tip: &str) -> Result<Vec<String>> {
        let integration = match self.integration_tip() {
            Ok(integration) => integration,
            Err(Error::NoIntegration { .. }) => {
                let output = self.git.cmd().args(["rev-list", tip, "--"]).run()?;
                return Ok(output.lines().map(String::from).collect());
            }
            Err(error) => return Err(error),
        };
        let marked = self.marked(&integration, tip, None)?;
        Ok(self
            .pending(&integration, tip)?
            .into_iter()
            .map(|commit| commit.commit)
            .filter(|commit| !marked.copies.contains_key(commit))
            .collect())
    }

    /// For an agent resolving a conflict: merges the integration branch
    /// into the task's worktree (`git merge --no-commit --no-ff`), leaving
    /// conflict markers in the files, and returns the conflicted files.
    /// [`Workspaces::save`] concludes it as a merge commit. Called again
    /// while that merge is in progress, it returns the files still
    /// conflicted. The worktree must have nothing uncommitted.
    pub fn begin_conflict_merge(&self, task: &str) -> Result<Vec<String>> {
        let path = self.existing_worktree(task)?;
        if merge_in_progress(&self.git, &path)? {
            return conflicted_files(&self.git, &path);
        }
        let files = dirty_files(&self.git, &path)?;
        if !files.is_empty() {
            return Err(Error::Dirty {
                task: task.to_string(),
                path,
                files,
            });
        }
        self.integration_tip()?;
        let output = self
            .git
            .at(&path)
            .identity(Identity::techlead())
            .args(["merge", "--no-commit", "--no-ff", "--quiet"])
            .arg(format!("refs/heads/{}", self.integration_branch()))
            .output(&[0, 1])?;
        if output.code == 1 && !merge_in_progress(&self.git, &path)? {
            return Err(crate::git::Error::Failed {
                command: "git merge --no-commit --no-ff".into(),
                dir: path,
                status: "exit status: 1".into(),
                stderr: format!("{}{}", output.stdout, output.stderr),
            }
            .into());
        }
        conflicted_files(&self.git, &path)
    }
}

struct CommitInfo {
    name: String,
    email: String,
    date: String,
    message: String,
}

/// `git merge-tree --write-tree` of `ours` and `theirs` (with `base` as
/// their merge base, for a replay).
fn merge_tree(git: &Git, base: Option<&str>, ours: &str, theirs: &str) -> Result<Tree> {
    let mut invocation = git.cmd().args([
        "merge-tree",
        "--write-tree",
        "-z",
        "--name-only",
        "--no-messages",
    ]);
    if let Some(base) = base {
        invocation = invocation.arg(format!("--merge-base={base}"));
    }
    let output = invocation.args([ours, theirs]).output(&[0, 1])?;
    let mut fields = output.stdout.split('\0');
    let tree = fields.next().unwrap_or_default().trim().to_string();
    if output.code == 0 {
        return Ok(Tree::Clean(tree));
    }
    let mut files: Vec<String> = fields
        .take_while(|field| !field.is_empty())
        .map(String::from)
        .collect();
    files.sort();
    files.dedup();
    Ok(Tree::Conflict(files))
}

/// Counts `diff --git ` at the start of lines in a stream of bytes.
#[derive(Default)]
struct Headers {
    /// Whether the next byte starts a line.
    line_start: bool,
    /// How much of the header the current line has matched so far.
    matched: usize,
    count: usize,
}

impl Headers {
    const HEADER: &[u8] = b"diff --git ";

    fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if self.line_start {
                self.matched = 0;
                self.line_start = false;
                if byte == Self::HEADER[0] {
                    self.matched = 1;
                } else {
                    self.matched = usize::MAX;
                }
            } else if self.matched < Self::HEADER.len() {
                if byte == Self::HEADER[self.matched] {
                    self.matched += 1;
                } else {
                    self.matched = usize::MAX;
                }
            }
            if self.matched == Self::HEADER.len() {
                self.count += 1;
                self.matched = usize::MAX;
            }
            if byte == b'\n' {
                self.line_start = true;
            }
        }
    }
}

/// `text` on one line, for a message or a trailer.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `message` with `trailers` added: to its trailer block when its last
/// paragraph is one (every line `Key: value`), else as a new paragraph.
fn with_trailers(message: &str, trailers: &str) -> String {
    let message = message.trim_end();
    if message.is_empty() {
        return trailers.to_string();
    }
    let last = message.rsplit("\n\n").next().unwrap_or(message);
    let is_trailer = |line: &str| {
        line.split_once(": ").is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    };
    let separator = if message.contains("\n\n") && last.lines().all(is_trailer) {
        "\n"
    } else {
        "\n\n"
    };
    format!("{message}{separator}{trailers}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_join_a_trailer_block() {
        let trailers = "Techlead-Task: t\n";
        assert_eq!(
            with_trailers("Fix\n", trailers),
            "Fix\n\nTechlead-Task: t\n"
        );
        assert_eq!(
            with_trailers("Fix\n\nSigned-off-by: A <a@b>\n", trailers),
            "Fix\n\nSigned-off-by: A <a@b>\nTechlead-Task: t\n"
        );
        assert_eq!(
            with_trailers("Fix\n\nBody: not only\ntrailers here\n", trailers),
            "Fix\n\nBody: not only\ntrailers here\n\nTechlead-Task: t\n"
        );
        assert_eq!(with_trailers("", trailers), trailers);
    }

    #[test]
    fn one_line_titles() {
        assert_eq!(one_line(" a\n b\tc "), "a b c");
    }
}
