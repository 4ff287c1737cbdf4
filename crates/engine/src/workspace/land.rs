//! `techlead land`: handing the mission's result to the person, by
//! fast-forwarding one of their branches or by a new branch they merge or
//! open a pull request from. Never a merge, never a forced move: when the
//! branch has moved on, the person merges.

use super::{Error, Result, Workspaces};
use crate::git::Identity;
use std::fs;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landed {
    /// `branch` moved forward from `from` to `to`.
    FastForwarded {
        branch: String,
        from: String,
        to: String,
    },
    /// `branch` already pointed at the integration tip.
    UpToDate { branch: String, commit: String },
    /// A new branch at the integration tip.
    Created { branch: String, commit: String },
}

impl Workspaces {
    /// Fast-forwards the branch `target` to the integration tip. When it is
    /// checked out in one of the person's worktrees, that worktree must have
    /// no changes to tracked files and no merge or rebase in progress; it is
    /// then moved with `git merge --ff-only` there (untracked files stay;
    /// git refuses if one would be overwritten). Refuses when it would not
    /// be a fast-forward.
    pub fn land(&self, target: &str) -> Result<Landed> {
        let target = target.strip_prefix("refs/heads/").unwrap_or(target);
        let reference = format!("refs/heads/{target}");
        let integration = self.integration_branch();
        let tip = self.integration_tip()?;
        let from = self
            .git
            .resolve(&reference)?
            .ok_or_else(|| Error::NoSuchBranch {
                branch: target.to_string(),
            })?;
        if from == tip {
            return Ok(Landed::UpToDate {
                branch: target.to_string(),
                commit: tip,
            });
        }
        if !self.git.is_ancestor(&from, &tip)? {
            return Err(Error::NotFastForward {
                target: target.to_string(),
                integration,
            });
        }
        let worktrees = self.worktrees()?;
        for worktree in worktrees.iter().filter(|w| w.branch.is_none()) {
            if self.rebasing(&worktree.path, &reference)? {
                return Err(Error::CheckedOut {
                    branch: target.to_string(),
                    worktree: worktree.path.clone(),
                });
            }
        }
        match worktrees
            .into_iter()
            .find(|worktree| worktree.branch.as_deref() == Some(&reference))
        {
            Some(worktree) => {
                let here = &worktree.path;
                let mut files = self.tracked_changes(here)?;
                if super::merge_in_progress(&self.git, here)? {
                    files.push("(a merge in progress)".into());
                }
                if !files.is_empty() {
                    return Err(Error::TargetDirty {
                        target: target.to_string(),
                        worktree: worktree.path,
                        files,
                    });
                }
                self.git
                    .at(here)
                    .identity(Identity::techlead())
                    .args(["merge", "--ff-only", "--quiet", &tip])
                    .run()?;
            }
            None => {
                self.git
                    .cmd()
                    .identity(Identity::techlead())
                    .args(["update-ref", "-m"])
                    .arg(format!("techlead land: mission {}", self.mission))
                    .args([&reference, &tip, &from])
                    .run()?;
            }
        }
        Ok(Landed::FastForwarded {
            branch: target.to_string(),
            from,
            to: tip,
        })
    }

    /// Creates the branch `name` at the integration tip, for the person to
    /// merge or open a pull request from. Asked again, it answers
    /// `UpToDate`; a branch of that name elsewhere is refused.
    pub fn land_as_branch(&self, name: &str) -> Result<Landed> {
        let valid = !name.starts_with('-')
            && self
                .git
                .cmd()
                .args(["check-ref-format", "--branch", name])
                .output(&[0, 1, 128])?
                .code
                == 0;
        if !valid {
            return Err(Error::BadBranchName {
                name: name.to_string(),
            });
        }
        let reference = format!("refs/heads/{name}");
        let tip = self.integration_tip()?;
        if let Some(commit) = self.git.resolve(&reference)? {
            return if commit == tip {
                Ok(Landed::UpToDate {
                    branch: name.to_string(),
                    commit,
                })
            } else {
                Err(Error::BranchExists {
                    branch: name.to_string(),
                    commit,
                })
            };
        }
        self.git
            .cmd()
            .identity(Identity::techlead())
            .args(["update-ref", "-m"])
            .arg(format!("techlead land: mission {}", self.mission))
            .args([&reference, &tip, ""])
            .run()?;
        Ok(Landed::Created {
            branch: name.to_string(),
            commit: tip,
        })
    }

    /// Changes to tracked files (staged or not) in the worktree at `dir`.
    fn tracked_changes(&self, dir: &Path) -> Result<Vec<String>> {
        let output = self
            .git
            .at(dir)
            .args(["status", "--porcelain=v1", "-z", "--untracked-files=no"])
            .run()?;
        let mut files = Vec::new();
        let mut fields = output.split('\0').filter(|field| !field.is_empty());
        while let Some(entry) = fields.next() {
            let (status, file) = entry.split_at(entry.len().min(3));
            files.push(file.to_string());
            if status.starts_with(['R', 'C']) {
                fields.next();
            }
        }
        Ok(files)
    }

    /// Whether the (detached) worktree at `dir` is in the middle of
    /// rebasing `reference`, which will move it when the rebase ends.
    fn rebasing(&self, dir: &Path, reference: &str) -> Result<bool> {
        for state in ["rebase-merge", "rebase-apply"] {
            let path = self
                .git
                .at(dir)
                .args(["rev-parse", "--path-format=absolute", "--git-path"])
                .arg(format!("{state}/head-name"))
                .run()?;
            let head = fs::read_to_string(path.trim()).unwrap_or_default();
            if head.trim() == reference {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
