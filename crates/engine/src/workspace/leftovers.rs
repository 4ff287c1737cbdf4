//! What a mission leaves behind, for `techlead gc`: every directory under
//! the mission's worktree root and every task branch, each with what
//! removing it would lose.

use super::{INTEGRATION_DIR, Result, Workspaces, dirty_files, io_error, ref_component};
use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

/// One worktree directory or task branch of the mission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// The directory's name and the branch's last component: what
    /// [`Workspaces::remove`] takes.
    pub name: String,
    /// The directory, when there is one.
    pub path: Option<PathBuf>,
    /// The branch (`techlead/<mission>/<task>`), when it exists.
    pub branch: Option<String>,
    pub state: State,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Everything on the branch is in the integration branch and nothing is
    /// uncommitted: removing it loses nothing.
    Merged,
    /// The branch has commits the integration branch does not hold.
    Unmerged { commits: usize },
    /// The worktree has uncommitted changes (and maybe unmerged commits).
    Dirty { files: Vec<String> },
    /// A directory git does not know as a worktree (its entry was removed
    /// by hand, or it was never one): only a person can tell what is in it.
    Orphaned,
    /// The integration checkout for gates: a copy, nothing to lose.
    Integration,
}

impl Workspaces {
    /// Everything under the mission's root and every task branch, with its
    /// state, sorted by name. First drops git's entries for worktrees whose
    /// directory is gone (`git worktree prune`; their branches stay).
    pub fn leftovers(&self) -> Result<Vec<Leftover>> {
        self.worktree_admin(&["prune"])?;
        let root = self.real_root();
        let worktrees = self.worktrees()?;
        let prefix = format!("refs/heads/techlead/{}/", ref_component(&self.mission));
        let integration = format!("refs/heads/{}", self.integration_branch());
        let mut branches: BTreeMap<String, String> = self
            .git
            .cmd()
            .args(["for-each-ref", "--format=%(refname)%00%(objectname)"])
            .arg(&prefix)
            .run()?
            .lines()
            .filter_map(|line| line.split_once('\0'))
            .filter(|(reference, _)| *reference != integration)
            .filter_map(|(reference, tip)| {
                let name = reference.strip_prefix(&prefix)?;
                Some((name.to_string(), tip.to_string()))
            })
            .collect();
        let mut leftovers = Vec::new();
        let entries = match fs::read_dir(&root) {
            Ok(entries) => entries.collect::<std::io::Result<Vec<_>>>(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(error),
        }
        .map_err(io_error(&root))?;
        for entry in entries {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let branch = branches.remove(&name);
            let registered = worktrees
                .iter()
                .any(|worktree| super::same_path(&worktree.path, &path));
            let state = if !registered {
                State::Orphaned
            } else if name == INTEGRATION_DIR {
                State::Integration
            } else {
                let files = dirty_files(&self.git, &path)?;
                if !files.is_empty() {
                    State::Dirty { files }
                } else {
                    self.branch_state(branch.as_deref())?
                }
            };
            leftovers.push(Leftover {
                branch: branch.is_some().then(|| self.task_branch(&name)),
                name,
                path: Some(path),
                state,
            });
        }
        for (name, tip) in branches {
            leftovers.push(Leftover {
                state: self.branch_state(Some(&tip))?,
                branch: Some(self.task_branch(&name)),
                name,
                path: None,
            });
        }
        leftovers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(leftovers)
    }

    fn branch_state(&self, tip: Option<&str>) -> Result<State> {
        let Some(tip) = tip else {
            return Ok(State::Merged);
        };
        Ok(match self.unmerged(tip)?.len() {
            0 => State::Merged,
            commits => State::Unmerged { commits },
        })
    }
}
