//! A split task's branch starts again on top of its parts' work
//! (docs/workspaces.md, "Split tasks").

use super::{Abandon, Branch, Result, Workspaces};

impl Workspaces {
    /// Before the first attempt of a split task after its parts: when the
    /// task branch does not hold `parts_merge` (the merge of its last
    /// part), the branch and its worktree start again from the integration
    /// tip, which holds every part's work, so the agent finishes on top of
    /// it. The branch as it was stays under
    /// `refs/techlead/before-split/<branch>`. Returns whether it started
    /// again; a repeat after a crash half way does the rest.
    pub fn refork_after_parts(&self, task: &str, parts_merge: &str) -> Result<bool> {
        let branch = self.task_branch(task);
        let Some(tip) = self.git.resolve(&format!("refs/heads/{branch}"))? else {
            return Ok(false);
        };
        if self.git.is_ancestor(parts_merge, &tip)? {
            return Ok(false);
        }
        self.git
            .cmd()
            .args([
                "update-ref",
                &format!("refs/techlead/before-split/{branch}"),
                &tip,
            ])
            .run()?;
        self.remove(task, Branch::Delete, Abandon::Yes)?;
        Ok(true)
    }
}
