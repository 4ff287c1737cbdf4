//! Task workspaces: each code-changing task works in its own git worktree
//! on its own branch, and its work reaches the mission's integration branch
//! through [`Workspaces::merge`], which never checks anything out. The
//! person's checked-out branch, index and working tree are never touched;
//! only `land` moves a branch of theirs, and only by fast-forward.
//!
//! Branches: `techlead/<mission>/_integration` for the mission and
//! `techlead/<mission>/<task>` for each task (IDs made into valid ref
//! components by [`ref_component`]). Worktrees live in
//! `<data_dir>/worktrees/<mission>/<task>`, the integration checkout for
//! gates in `.../_integration`; `<data_dir>/.gitignore` keeps all of it
//! out of the person's `git status`.
//!
//! Submodules: `merge` (how work reaches the integration branch: merge
//! commit or replay, conflicts, idempotence), `leftovers` (what `techlead
//! gc` finds), `land` (handing the result to the person).
//! docs/workspaces.md has the whole story. Everything here blocks on git:
//! call it from a blocking thread.

mod land;
mod leftovers;
mod merge;
mod refork;

pub use land::Landed;
pub use leftovers::{Leftover, State};
pub use merge::{MergeRequest, MergeResult, Strategy};

use crate::git::{self, Git, Identity};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use techlead_core::fingerprint::fnv1a;

/// Taken by every `git worktree` command of this process (see
/// `Workspaces::worktree_admin`).
static WORKTREE_ADMIN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The name of the integration checkout's directory; task directories never
/// start with `_` ([`ref_component`]).
const INTEGRATION_DIR: &str = "_integration";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Git(#[from] git::Error),
    #[error("cannot use `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{base}` names no commit in this repository")]
    BadBase { base: String },
    #[error("the integration branch `{branch}` does not exist")]
    NoIntegration { branch: String },
    #[error("task `{task}` has no branch (`{branch}`)")]
    NoBranch { task: String, branch: String },
    #[error("task `{task}` has no worktree at `{}`", path.display())]
    NoWorktree { task: String, path: PathBuf },
    #[error("the worktree of task `{task}` is at {head}, which does not build on `{branch}`")]
    OffBranch {
        task: String,
        branch: String,
        head: String,
    },
    #[error("`{}` is in the way: a directory git does not know as a worktree", path.display())]
    Orphaned { path: PathBuf },
    #[error(
        "the worktree of task `{task}` has uncommitted changes ({})",
        list(files)
    )]
    Dirty {
        task: String,
        path: PathBuf,
        files: Vec<String>,
    },
    #[error("the work of task `{task}` is not merged: {commits} commit{} of `{branch}` not in the integration branch", if *commits == 1 { "" } else { "s" })]
    Unmerged {
        task: String,
        branch: String,
        commits: usize,
    },
    #[error("`{branch}` is checked out in `{}`; techlead will not move a checked-out branch", worktree.display())]
    CheckedOut { branch: String, worktree: PathBuf },
    #[error("`{branch}` kept moving while techlead was merging into it")]
    Raced { branch: String },
    #[error("there is no branch `{branch}`")]
    NoSuchBranch { branch: String },
    #[error(
        "`{target}` is not an ancestor of `{integration}`: landing would not be a fast-forward"
    )]
    NotFastForward { target: String, integration: String },
    #[error("`{target}` is checked out in `{}`, which has uncommitted changes ({})", worktree.display(), list(files))]
    TargetDirty {
        target: String,
        worktree: PathBuf,
        files: Vec<String>,
    },
    #[error("branch `{branch}` already exists (at {commit})")]
    BranchExists { branch: String, commit: String },
    #[error("{what} needs git {needs} or newer; this is git {found}")]
    GitTooOld {
        needs: &'static str,
        what: &'static str,
        found: String,
    },
    #[error("`{name}` is not a valid branch name")]
    BadBranchName { name: String },
}

/// The first few of `files`, for a message.
fn list(files: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = files
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > SHOWN {
        text.push_str(&format!(" and {} more", files.len() - SHOWN));
    }
    text
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::Git(error) => return error.hint(),
            Error::Io { .. } => return None,
            Error::BadBase { .. } => "name a branch or commit that exists (`git log` lists them)".into(),
            Error::NoIntegration { .. } => "the mission's integration branch is made when the mission starts; it was deleted since: `techlead resume` makes it again from the base".into(),
            Error::NoBranch { .. } => "the task has not started yet, or its branch was deleted".into(),
            Error::NoWorktree { .. } => "prepare the task's worktree first".into(),
            Error::OffBranch { branch, .. } => format!(
                "something in the worktree switched away from `{branch}` (a checkout or reset); `git reflog` in the worktree shows where the work went"
            ),
            Error::Orphaned { path } => format!(
                "look at what is in `{}`, move anything worth keeping, then delete it (or `techlead gc`)",
                path.display()
            ),
            Error::Dirty { path, .. } => format!(
                "commit or discard the changes in `{}`, or abandon the task's work",
                path.display()
            ),
            Error::Unmerged { branch, .. } => format!(
                "merge the task first, or abandon its work; `git log {branch}` shows it"
            ),
            Error::CheckedOut { branch, .. } => format!(
                "switch that worktree to another branch (`git switch --detach`) so that `{branch}` can move"
            ),
            Error::Raced { .. } => "another process is merging into this mission; run one techlead per mission".into(),
            Error::NoSuchBranch { .. } => "land onto an existing branch, or land as a new branch".into(),
            Error::NotFastForward { target, integration } => format!(
                "`{target}` has moved on since the mission started: merge the mission yourself (`git switch {target} && git merge {integration}`), or land it as a new branch and open a pull request"
            ),
            Error::TargetDirty { worktree, .. } => format!(
                "commit or stash the changes in `{}`, then land again; or land as a new branch",
                worktree.display()
            ),
            Error::BranchExists { .. } => "pick another name, or delete that branch first".into(),
            Error::GitTooOld { needs, .. } => format!("upgrade git to {needs} or newer, or use the merge strategy"),
            Error::BadBranchName { .. } => "see `git help check-ref-format` for what a branch name may contain".into(),
        })
    }
}

pub type Result<T> = std::result::Result<T, Error>;

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The longest ID kept as it is; longer ones are cut and given a hash.
const MAX_COMPONENT: usize = 72;

/// `id` as one valid ref component (`git check-ref-format`) and directory
/// name, deterministically: an ID made of ASCII letters, digits, `-`, `_`
/// and single inner dots, not starting with `_` or `.`, not ending in `.`
/// or `.lock`, and at most 72 bytes long stays as it is. Anything else has
/// each other character replaced by `-`, is cut to 63 bytes, and gets `-`
/// and eight hex digits of a hash of the original, so that two IDs that
/// differ only in replaced characters still get different names. Applying
/// it twice changes nothing.
pub fn ref_component(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        let keep = c.is_ascii_alphanumeric()
            || c == '-'
            || c == '_'
            || (c == '.' && !out.is_empty() && !out.ends_with('.'));
        out.push(if keep { c } else { '-' });
    }
    let clean = |out: &str| {
        !out.is_empty()
            && out.len() <= MAX_COMPONENT
            && !out.starts_with('_')
            && !out.ends_with('.')
            && !out.ends_with(".lock")
    };
    if out == id && clean(&out) {
        return out;
    }
    out.truncate(MAX_COMPONENT - 9);
    if out.starts_with('_') {
        out.replace_range(..1, "-");
    }
    while out.ends_with('.') {
        out.pop();
    }
    let hash = fnv1a(id.bytes()) as u32;
    out.push_str(&format!("-{hash:08x}"));
    out
}

/// `techlead/<mission>/_integration`: where the mission's finished work is
/// merged. Not `techlead/<mission>`, which git could not have next to
/// `techlead/<mission>/<task>`; no task's name starts with `_`.
pub fn integration_branch(mission: &str) -> String {
    format!("techlead/{}/_integration", ref_component(mission))
}

/// `techlead/<mission>/<task>`: where the task's work is committed.
pub fn task_branch(mission: &str, task: &str) -> String {
    format!(
        "techlead/{}/{}",
        ref_component(mission),
        ref_component(task)
    )
}

/// Writes `<data_dir>/.gitignore` containing `*` when there is none, so that
/// the database, attempt files and worktrees under it stay out of the
/// person's `git status` when the data directory is inside the repository.
pub fn ignore_data_dir(data_dir: &Path) -> Result<()> {
    fs::create_dir_all(data_dir).map_err(io_error(data_dir))?;
    let path = data_dir.join(".gitignore");
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(mut file) => io::Write::write_all(&mut file, b"*\n").map_err(io_error(&path)),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(io_error(&path)(error)),
    }
}

/// What [`Workspaces::save`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The task branch's tip afterwards.
    pub commit: String,
    /// Whether a commit was made (`false`: nothing had changed).
    pub committed: bool,
    /// Files of a concluded conflict merge that still hold conflict markers
    /// (`<<<<<<<` and `>>>>>>>` lines): the conflict was not resolved.
    pub unresolved: Vec<String>,
}

/// Whether [`Workspaces::remove`] may throw work away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandon {
    /// Refuse unless the work is merged and nothing is uncommitted.
    No,
    /// Remove whatever state it is in.
    Yes,
}

/// What [`Workspaces::remove`] does with the task's branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Branch {
    Keep,
    Delete,
}

/// One entry of `git worktree list`.
#[derive(Debug, Clone)]
pub(crate) struct Worktree {
    pub path: PathBuf,
    /// `refs/heads/...`, or `None` when detached.
    pub branch: Option<String>,
    pub locked: Option<String>,
    pub prunable: bool,
}

/// The worktrees of one mission in one repository.
#[derive(Debug, Clone)]
pub struct Workspaces {
    git: Git,
    /// `<data_dir>/worktrees/<mission>`.
    root: PathBuf,
    data_dir: PathBuf,
    mission: String,
}

impl Workspaces {
    /// Nothing is created until it is needed.
    pub fn new(git: Git, data_dir: &Path, mission: &str) -> Workspaces {
        Workspaces {
            root: data_dir.join("worktrees").join(ref_component(mission)),
            data_dir: data_dir.to_path_buf(),
            git,
            mission: mission.to_string(),
        }
    }

    pub fn git(&self) -> &Git {
        &self.git
    }

    pub fn mission(&self) -> &str {
        &self.mission
    }

    /// `<data_dir>/worktrees/<mission>`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// This mission's integration branch.
    pub fn integration_branch(&self) -> String {
        integration_branch(&self.mission)
    }

    /// This mission's branch for `task`.
    pub fn task_branch(&self, task: &str) -> String {
        task_branch(&self.mission, task)
    }

    /// Where the task's worktree is (whether or not it exists).
    pub fn task_path(&self, task: &str) -> PathBuf {
        self.root.join(ref_component(task))
    }

    /// Creates the root and the data directory's `.gitignore`; returns the
    /// root as git writes it (symbolic links resolved).
    fn ensure_root(&self) -> Result<PathBuf> {
        ignore_data_dir(&self.data_dir)?;
        fs::create_dir_all(&self.root).map_err(io_error(&self.root))?;
        fs::canonicalize(&self.root).map_err(io_error(&self.root))
    }

    /// The root with symbolic links resolved, if it exists.
    fn real_root(&self) -> PathBuf {
        fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone())
    }

    /// The integration branch's tip.
    pub fn integration_tip(&self) -> Result<String> {
        let branch = self.integration_branch();
        self.git
            .resolve(&format!("refs/heads/{branch}"))?
            .ok_or(Error::NoIntegration { branch })
    }

    /// The task branch's tip.
    fn task_tip(&self, task: &str) -> Result<String> {
        let branch = self.task_branch(task);
        self.git
            .resolve(&format!("refs/heads/{branch}"))?
            .ok_or(Error::NoBranch {
                task: task.to_string(),
                branch,
            })
    }

    /// Creates the integration branch at `base` when it does not exist and
    /// returns its tip. A second call (after a crash, or on resume) returns
    /// the existing tip whatever `base` says.
    pub fn ensure_integration(&self, base: &str) -> Result<String> {
        let branch = self.integration_branch();
        let reference = format!("refs/heads/{branch}");
        if let Some(tip) = self.git.resolve(&reference)? {
            return Ok(tip);
        }
        let commit = self.git.resolve(base)?.ok_or_else(|| Error::BadBase {
            base: base.to_string(),
        })?;
        // The empty old value: create it only if it still does not exist
        // (another process may have just created it; then that tip holds).
        let created = self
            .git
            .cmd()
            .identity(Identity::techlead())
            .args(["update-ref", "-m"])
            .arg(format!(
                "techlead: mission {} starts at {base}",
                self.mission
            ))
            .args([&reference, &commit, ""])
            .run();
        match self.git.resolve(&reference)? {
            Some(tip) => Ok(tip),
            None => Err(match created {
                Err(error) => error.into(),
                Ok(_) => Error::NoIntegration { branch },
            }),
        }
    }

    /// Every worktree of the repository.
    pub(crate) fn worktrees(&self) -> Result<Vec<Worktree>> {
        let output = self.worktree_admin(&["list", "--porcelain", "-z"])?;
        let mut worktrees = Vec::new();
        let mut current: Option<Worktree> = None;
        for field in output.split('\0') {
            if field.is_empty() {
                worktrees.extend(current.take());
                continue;
            }
            let (key, value) = field.split_once(' ').unwrap_or((field, ""));
            match (key, current.as_mut()) {
                ("worktree", _) => {
                    worktrees.extend(current.take());
                    current = Some(Worktree {
                        path: PathBuf::from(value),
                        branch: None,
                        locked: None,
                        prunable: false,
                    });
                }
                ("branch", Some(worktree)) => worktree.branch = Some(value.to_string()),
                ("locked", Some(worktree)) => worktree.locked = Some(value.to_string()),
                ("prunable", Some(worktree)) => worktree.prunable = true,
                _ => {}
            }
        }
        worktrees.extend(current);
        Ok(worktrees)
    }

    /// `git worktree <args>`, one at a time in this process, and again
    /// (a few times) when another process made it fail: these commands read
    /// every worktree's administrative files and die on one that another
    /// `worktree add` is half way through writing (`failed to read
    /// .git/worktrees/<name>/commondir`), and `prune` could take such a
    /// half-made entry for a stale one.
    fn worktree_admin<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<String> {
        let _turn = WORKTREE_ADMIN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut tries = 0;
        loop {
            match self.git.cmd().arg("worktree").args(args).run() {
                Err(git::Error::Failed { stderr, .. })
                    if tries < 5
                        && stderr.contains("failed to read")
                        && stderr.contains("worktrees") =>
                {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10 << tries));
                }
                result => return Ok(result?),
            }
        }
    }

    /// Drops git's worktree at `path` (its directory, if any, with it) and
    /// any entries whose directory is gone. The branch stays.
    fn drop_worktree(&self, path: &Path) -> Result<()> {
        let removed = self.worktree_admin(&[
            "remove".as_ref(),
            "--force".as_ref(),
            "--force".as_ref(),
            path.as_os_str(),
        ]);
        // A directory already gone makes `remove` fail; prune drops it.
        match removed {
            Err(error) if path.exists() => return Err(error),
            _ => {}
        }
        self.worktree_admin(&["prune"])?;
        Ok(())
    }

    /// The registered worktree at `path`, if any.
    fn worktree_at(&self, path: &Path) -> Result<Option<Worktree>> {
        let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Ok(self
            .worktrees()?
            .into_iter()
            .find(|worktree| same_path(&worktree.path, &path)))
    }

    /// The task's worktree, which must exist.
    fn existing_worktree(&self, task: &str) -> Result<PathBuf> {
        let path = self.real_root().join(ref_component(task));
        match self.worktree_at(&path)? {
            Some(_) if path.is_dir() => Ok(path),
            _ => Err(Error::NoWorktree {
                task: task.to_string(),
                path,
            }),
        }
    }

    /// The task's worktree, created when missing: on a new branch from the
    /// integration tip (the integration branch must exist), on the existing
    /// branch when only the directory was lost, and reused as it is when it
    /// exists (a retry continues on the saved work and whatever was left
    /// uncommitted). Returns its path.
    pub fn prepare(&self, task: &str) -> Result<PathBuf> {
        let root = self.ensure_root()?;
        let path = root.join(ref_component(task));
        let branch = self.task_branch(task);
        let reference = format!("refs/heads/{branch}");
        if let Some(worktree) = self.worktree_at(&path)? {
            let initializing = worktree.locked.as_deref() == Some("initializing");
            if path.is_dir() && !worktree.prunable && !initializing {
                return Ok(path);
            }
            // The directory was deleted, or a `worktree add` was cut off
            // half way through its checkout (whose files would look
            // deleted): drop the entry and check the branch out again.
            // Nothing committed is lost; the branch stays.
            self.drop_worktree(&path)?;
        }
        if path.exists() {
            let empty = fs::read_dir(&path)
                .map_err(io_error(&path))?
                .next()
                .is_none();
            if !empty {
                return Err(Error::Orphaned { path });
            }
            fs::remove_dir(&path).map_err(io_error(&path))?;
        }
        if self.git.resolve(&reference)?.is_some() {
            self.worktree_admin(&[
                "add".as_ref(),
                "--quiet".as_ref(),
                path.as_os_str(),
                branch.as_ref(),
            ])?;
        } else {
            let tip = self.integration_tip()?;
            self.worktree_admin(&[
                "add".as_ref(),
                "--quiet".as_ref(),
                "--no-track".as_ref(),
                "-b".as_ref(),
                branch.as_ref(),
                path.as_os_str(),
                tip.as_ref(),
            ])?;
        }
        Ok(path)
    }

    /// Commits everything in the task's worktree (modified, deleted and
    /// untracked files; not ignored ones) to the task branch as techlead,
    /// skipping hooks and signing. A merge in progress is concluded as a
    /// merge commit. Nothing to commit is not an error.
    ///
    /// An agent that switched the worktree to a branch of its own, or to a
    /// detached HEAD, built on the task branch is followed: the task branch
    /// is moved to where it went and the worktree put back on it (without
    /// touching its files). Anywhere else is an error.
    pub fn save(&self, task: &str, message: &str) -> Result<Saved> {
        let path = self.existing_worktree(task)?;
        self.back_on_branch(task, &path)?;
        let merging = merge_in_progress(&self.git, &path)?;
        let conflicted = if merging {
            conflicted_files(&self.git, &path)?
        } else {
            Vec::new()
        };
        self.git.at(&path).args(["add", "--all"]).run()?;
        let staged = self
            .git
            .at(&path)
            .args(["diff", "--cached", "--quiet", "--no-ext-diff"])
            .output(&[0, 1])?
            .code
            == 1;
        let committed = staged || merging;
        if committed {
            let message = if message.trim().is_empty() {
                format!("techlead: work of task {task}")
            } else {
                message.to_string()
            };
            self.git
                .at(&path)
                .identity(Identity::techlead())
                .args([
                    "commit",
                    "--quiet",
                    "--no-verify",
                    "--no-gpg-sign",
                    "--cleanup=whitespace",
                    "--file=-",
                ])
                .input(message)
                .run()?;
        }
        let commit = self
            .git
            .at(&path)
            .args(["rev-parse", "--verify", "HEAD"])
            .run()?
            .trim()
            .to_string();
        let unresolved = conflicted
            .into_iter()
            .filter(|file| has_conflict_markers(&path.join(file)))
            .collect();
        Ok(Saved {
            commit,
            committed,
            unresolved,
        })
    }

    /// Puts the worktree at `path` back on the task branch when it left it
    /// for commits built on it.
    fn back_on_branch(&self, task: &str, path: &Path) -> Result<()> {
        let branch = self.task_branch(task);
        let reference = format!("refs/heads/{branch}");
        let symbolic = self
            .git
            .at(path)
            .args(["symbolic-ref", "--quiet", "HEAD"])
            .output(&[0, 1])?;
        if symbolic.code == 0 && symbolic.stdout.trim() == reference {
            return Ok(());
        }
        let head = self
            .git
            .at(path)
            .args(["rev-parse", "--verify", "HEAD"])
            .run()?
            .trim()
            .to_string();
        let tip = self.task_tip(task)?;
        if !self.git.is_ancestor(&tip, &head)? {
            return Err(Error::OffBranch {
                task: task.to_string(),
                branch,
                head,
            });
        }
        let message = format!("techlead: task {task} continued on another branch");
        self.git
            .cmd()
            .identity(Identity::techlead())
            .args(["update-ref", "-m", &message, &reference, &head, &tip])
            .run()?;
        self.git
            .at(path)
            .args(["symbolic-ref", "-m", &message, "HEAD", &reference])
            .run()?;
        Ok(())
    }

    /// Puts the task's worktree (created when missing) on `commit`, work a
    /// worker pushed to `remote_ref` of this repository (or of `url`, from
    /// where it is fetched when this repository lacks it): the task branch
    /// moves there, so gates and the merge see it as they see local work.
    /// The worker built it on the task branch, so nothing of the branch is
    /// lost; the worktree holds no work of its own on a coordinator.
    pub fn adopt(&self, task: &str, commit: &str, url: &str, remote_ref: &str) -> Result<()> {
        if self.git.resolve(commit)?.is_none() {
            self.git
                .cmd()
                .args(["fetch", "--quiet", "--no-tags", "--end-of-options", url])
                .arg(format!("+{remote_ref}:{remote_ref}"))
                .run()?;
        }
        let path = self.prepare(task)?;
        self.git
            .at(&path)
            .args(["reset", "--quiet", "--hard", commit])
            .run()?;
        Ok(())
    }

    /// A detached worktree at the integration tip, for phase gates and
    /// review: `<root>/_integration`, created, or moved to the tip and
    /// cleaned of everything (build output included) that is not in it.
    pub fn integration_checkout(&self) -> Result<PathBuf> {
        let root = self.ensure_root()?;
        let path = root.join(INTEGRATION_DIR);
        let tip = self.integration_tip()?;
        let registered = self.worktree_at(&path)?;
        if registered.as_ref().is_some_and(|w| !w.prunable) && path.is_dir() {
            let here = self.git.at(&path);
            here.args(["reset", "--quiet", "--hard", &tip]).run()?;
            self.git.at(&path).args(["clean", "-ffdxq"]).run()?;
            return Ok(path);
        }
        if registered.is_some() {
            self.drop_worktree(&path)?;
        }
        // Only ever a copy of the integration branch: nothing to keep.
        if path.exists() {
            fs::remove_dir_all(&path).map_err(io_error(&path))?;
        }
        self.worktree_admin(&[
            "add".as_ref(),
            "--quiet".as_ref(),
            "--detach".as_ref(),
            path.as_os_str(),
            tip.as_ref(),
        ])?;
        Ok(path)
    }

    /// Removes the integration checkout, if there is one.
    pub fn remove_integration_checkout(&self) -> Result<()> {
        let path = self.real_root().join(INTEGRATION_DIR);
        if self.worktree_at(&path)?.is_some() {
            self.drop_worktree(&path)?;
        }
        if path.exists() {
            fs::remove_dir_all(&path).map_err(io_error(&path))?;
        }
        Ok(())
    }

    /// Removes the task's worktree, and its branch with `Branch::Delete`.
    /// Without `Abandon::Yes` it refuses when the worktree has uncommitted
    /// changes, when the branch has commits the integration branch does not
    /// hold (merged or replayed), and when the directory is not a worktree
    /// git knows. `task` may also be a directory name from
    /// [`Workspaces::leftovers`].
    pub fn remove(&self, task: &str, branch: Branch, abandon: Abandon) -> Result<()> {
        let path = self.real_root().join(ref_component(task));
        let registered = self.worktree_at(&path)?;
        let branch_name = self.task_branch(task);
        let tip = self.git.resolve(&format!("refs/heads/{branch_name}"))?;
        if abandon == Abandon::No {
            if registered.is_some() && path.is_dir() {
                let files = dirty_files(&self.git, &path)?;
                if !files.is_empty() {
                    return Err(Error::Dirty {
                        task: task.to_string(),
                        path,
                        files,
                    });
                }
            } else if path.exists() {
                return Err(Error::Orphaned { path });
            }
            if let Some(tip) = &tip {
                let commits = self.unmerged(tip)?.len();
                if commits > 0 {
                    return Err(Error::Unmerged {
                        task: task.to_string(),
                        branch: branch_name,
                        commits,
                    });
                }
            }
        }
        if registered.is_some() {
            self.drop_worktree(&path)?;
        }
        if path.exists() {
            fs::remove_dir_all(&path).map_err(io_error(&path))?;
        }
        if let (Branch::Delete, Some(tip)) = (branch, tip) {
            let reference = format!("refs/heads/{branch_name}");
            // Someone (the person, say) has it checked out elsewhere.
            if let Some(worktree) = self
                .worktrees()?
                .into_iter()
                .find(|worktree| worktree.branch.as_deref() == Some(&reference))
            {
                return Err(Error::CheckedOut {
                    branch: branch_name,
                    worktree: worktree.path,
                });
            }
            self.git
                .cmd()
                .args(["update-ref", "-d", &reference, &tip])
                .run()?;
        }
        Ok(())
    }
}

/// Whether two paths name the same place (the second one resolved).
fn same_path(listed: &Path, resolved: &Path) -> bool {
    listed == resolved || fs::canonicalize(listed).is_ok_and(|listed| listed == resolved)
}

/// Whether a merge is in progress in the worktree at `dir`.
fn merge_in_progress(git: &Git, dir: &Path) -> Result<bool> {
    Ok(git
        .at(dir)
        .args(["rev-parse", "--quiet", "--verify", "MERGE_HEAD"])
        .output(&[0, 1])?
        .code
        == 0)
}

/// Files with unresolved conflicts in the index of the worktree at `dir`.
fn conflicted_files(git: &Git, dir: &Path) -> Result<Vec<String>> {
    let output = git
        .at(dir)
        .args(["diff", "--name-only", "-z", "--diff-filter=U"])
        .run()?;
    Ok(nul_separated(&output))
}

/// Files with uncommitted changes (staged, unstaged or untracked, not
/// ignored) in the worktree at `dir`.
pub(crate) fn dirty_files(git: &Git, dir: &Path) -> Result<Vec<String>> {
    let output = git
        .at(dir)
        .args(["status", "--porcelain=v1", "-z", "--untracked-files=all"])
        .run()?;
    let mut files = Vec::new();
    let mut fields = output.split('\0').filter(|field| !field.is_empty());
    while let Some(entry) = fields.next() {
        let (status, file) = entry.split_at(entry.len().min(3));
        files.push(file.to_string());
        // A rename or copy is followed by the name it had.
        if status.starts_with(['R', 'C']) {
            fields.next();
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// The non-empty NUL-separated fields of `output`, sorted.
fn nul_separated(output: &str) -> Vec<String> {
    let mut files: Vec<String> = output
        .split('\0')
        .filter(|field| !field.is_empty())
        .map(String::from)
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Whether the file still has both halves of a conflict marker.
fn has_conflict_markers(path: &Path) -> bool {
    let Ok(bytes) = fs::read(path) else {
        return false;
    };
    let marker = |line: &[u8], sign: u8| {
        line.len() >= 7
            && line[..7].iter().all(|&b| b == sign)
            && line.get(7).is_none_or(|&b| b == b' ' || b == b'\r')
    };
    let lines = || bytes.split(|&b| b == b'\n');
    lines().any(|line| marker(line, b'<')) && lines().any(|line| marker(line, b'>'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_ids_stay_as_they_are() {
        for id in ["API-003", "web-platform-1", "a.b", "x_y", "T1"] {
            assert_eq!(ref_component(id), id);
        }
    }

    #[test]
    fn other_ids_are_made_valid_and_distinct() {
        let cases = [
            "a b",
            "a-b-",
            "_integration",
            ".hidden",
            "a..b",
            "end.",
            "x.lock",
            "",
            "ü",
            "a/b",
            "a:b",
            "a~1^2",
            "@",
            "a@{1}",
            "back\\slash",
            "star*",
            "q?",
            "[x",
            "tab\t",
        ];
        let mut seen = std::collections::HashSet::new();
        for id in cases {
            let name = ref_component(id);
            assert!(seen.insert(name.clone()), "{id:?} → {name} twice");
            assert_eq!(ref_component(&name), name, "not stable for {id:?}");
            assert!(!name.starts_with(['_', '.']), "{name}");
            assert!(!name.ends_with('.') && !name.ends_with(".lock"), "{name}");
            assert!(!name.contains(".."), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                "{name}"
            );
        }
        let long = "x".repeat(200);
        let name = ref_component(&long);
        assert_eq!(name.len(), MAX_COMPONENT);
        assert_eq!(ref_component(&name), name);
        assert_ne!(ref_component(&"x".repeat(201)), name);
    }

    #[test]
    fn branch_names() {
        assert_eq!(integration_branch("m-1"), "techlead/m-1/_integration");
        assert_eq!(task_branch("m-1", "API-3"), "techlead/m-1/API-3");
        assert_ne!(task_branch("m", "_integration"), integration_branch("m"));
    }

    #[test]
    fn conflict_markers() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> other\n").unwrap();
        assert!(has_conflict_markers(&file));
        fs::write(&file, "Title\n=======\n<<<<<<<<<< not one\n").unwrap();
        assert!(!has_conflict_markers(&file));
    }
}
