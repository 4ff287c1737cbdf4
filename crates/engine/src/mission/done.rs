//! The definition of done's checks: the shell commands the mission file
//! gives as `{item, run}`, run once every task and phase gate succeeded,
//! one at a time in list order (in a mission with a repository, on a
//! checkout of the integration branch, which holds the mission's whole
//! work). They run through the command executor (`sh -c`) like phase
//! gates: process group, timeout, capped log in
//! `runs/<mission>/done/item-<n>.output.log`.

use super::{Error, Input, Mission};
use crate::executor::command::CommandExecutor;
use crate::executor::{Executor, Outcome};
use std::path::Path;
use std::time::Duration;
use techlead_core::state::{EscalationKind, Event};
use techlead_store::Store;
use tokio::sync::mpsc;

/// Checks that hang are stopped after this long.
const CHECK_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// A check's verdict as the actor records it.
#[derive(Debug)]
pub struct DoneVerdict {
    pub passed: bool,
    pub exit_code: Option<i32>,
    /// The check's output file, relative to the data directory.
    pub log: String,
    /// Why it failed, for the escalation: what the command printed last,
    /// or why it could not run.
    pub reason: Option<String>,
}

/// Runs the check of item `item` of the definition of done.
pub fn spawn<S: Store>(mission: &Mission<S>, item: usize) {
    let plan = &mission.state.plan;
    let run = plan.done_when[item]
        .run
        .clone()
        .expect("only items with a command are checked");
    let relative = format!("runs/{}/done/item-{}", mission.id, item + 1);
    let who = (
        format!("done-{}", item + 1),
        plan.done_when[item].text.clone(),
        1,
    );
    let mut spec = super::gate::check_spec(mission, who, &relative);
    spec.agent = "done".to_string();
    spec.command = Some(super::gate::shell(&run));
    spec.timeout = CHECK_TIMEOUT;
    let log = format!("{relative}.output.log");
    let log_path = mission.settings.data_dir.join(&log);
    let inputs = mission.inputs.sender();
    let cancel = mission.inputs.gate_token();
    let grace = mission.settings.gate_grace;
    let workspaces = mission.workspaces.clone();
    tokio::spawn(async move {
        let mut spec = spec;
        // The mission's whole work, merged.
        if let Err(message) = super::gate::on_merged_work(&mut spec, workspaces).await {
            let verdict = DoneVerdict {
                passed: false,
                exit_code: None,
                log,
                reason: Some(format!("the integration checkout failed: {message}")),
            };
            let _ = inputs.send(Input::DoneChecked {
                item,
                verdict: Some(verdict),
            });
            return;
        }
        let (events, _ignored) = mpsc::unbounded_channel();
        let outcome = CommandExecutor::new()
            .with_grace(grace)
            .run(spec, events, cancel)
            .await;
        let verdict = verdict(outcome, log, &log_path);
        let _ = inputs.send(Input::DoneChecked { item, verdict });
    });
}

/// The verdict on a check's run; `None` when the run was stopped by an
/// interrupt (no verdict: it runs again on resume).
fn verdict(outcome: Outcome, log: String, log_path: &Path) -> Option<DoneVerdict> {
    let (passed, exit_code, why) = match outcome {
        Outcome::Succeeded { .. } => (true, Some(0), None),
        Outcome::Cancelled => return None,
        Outcome::Failed { exit_code, .. } => (false, exit_code, None),
        Outcome::TimedOut => (
            false,
            None,
            Some(format!("it timed out after {}", humantime(CHECK_TIMEOUT))),
        ),
        Outcome::RateLimited { message, .. } | Outcome::NeedsPerson { message } => {
            (false, None, Some(message))
        }
    };
    let reason = match (passed, why) {
        (true, _) => None,
        (false, Some(why)) => Some(why),
        (false, None) => last_line(log_path),
    };
    Some(DoneVerdict {
        passed,
        exit_code,
        log,
        reason,
    })
}

/// The last line with text in a file, if it can be read.
fn last_line(path: &Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    String::from_utf8_lossy(&text)
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(String::from)
}

fn humantime(d: Duration) -> String {
    match d.as_secs() {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

impl<S: Store + 'static> Mission<S> {
    /// Records a definition-of-done check's verdict; a failed check makes
    /// the mission fail once the others have run, and the person is told
    /// which item is not met.
    pub(super) fn done_checked(&mut self, item: usize, verdict: DoneVerdict) -> Result<(), Error> {
        let passed = verdict.passed;
        self.stage(Event::DoneChecked {
            item,
            passed,
            exit_code: verdict.exit_code,
            log: verdict.log.clone(),
        })?;
        if passed {
            return Ok(());
        }
        let done = &self.state.plan.done_when[item];
        let run = done.run.as_deref().unwrap_or_default();
        let how = match verdict.exit_code {
            Some(code) => format!("`{run}` exited with code {code}"),
            None => format!("`{run}` did not finish"),
        };
        let why = verdict
            .reason
            .map(|reason| format!(": {reason}"))
            .unwrap_or_default();
        let on = match self.workspaces.is_some() {
            true => format!(" on {}", self.integration_branch()),
            false => String::new(),
        };
        let message = format!(
            "the definition of done is not met: \"{}\" ({how}{on}{why}); its output is in {}",
            done.text, verdict.log
        );
        self.stage(Event::EscalationRaised {
            id: self.state.escalations + 1,
            kind: EscalationKind::DefinitionOfDone,
            message,
            tasks: Vec::new(),
            // Fixed by hand, `retry` runs the check again; `techlead land
            // --force` lands the work as it is.
            options: ["retry", "abort"].map(String::from).to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_gives_its_last_line_as_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("output.log");
        std::fs::write(&path, "compiling\n3 tests failed\n\n").unwrap();
        let failed = Outcome::Failed {
            exit_code: Some(1),
            signal: None,
            message: "`sh` exited with code 1".into(),
        };
        let verdict = verdict(failed, "runs/m/done/item-1/output.log".into(), &path).unwrap();
        assert!(!verdict.passed);
        assert_eq!(verdict.exit_code, Some(1));
        assert_eq!(verdict.reason.as_deref(), Some("3 tests failed"));

        let passed = verdict_of(Outcome::Succeeded { summary: None }, &path);
        assert!(passed.passed && passed.reason.is_none());
        assert!(super::verdict(Outcome::Cancelled, String::new(), &path).is_none());
        let timed_out = verdict_of(Outcome::TimedOut, &path);
        assert_eq!(timed_out.reason.as_deref(), Some("it timed out after 1h"));
    }

    fn verdict_of(outcome: Outcome, path: &Path) -> DoneVerdict {
        verdict(outcome, String::new(), path).unwrap()
    }
}
