//! Checking a task's work after its attempt succeeded: its gates, one at a
//! time in the order the mission lists them, then its merge into the
//! integration branch (missions with a repository).
//!
//! A command gate runs the person's command with `sh -c` in the task's
//! worktree, through the command executor (process group, timeout, capped
//! log). A review gate runs the reviewing agent on its own executor with
//! the task's diff and reads its verdict (`core::review`).

use super::{Error, Input, Mission};
use crate::executor::command::CommandExecutor;
use crate::executor::{Executor, Outcome};
use crate::workspace::{MergeRequest, Strategy, Workspaces};
use jiff::Timestamp;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use techlead_core::retry;
use techlead_core::review;
use techlead_core::state::{EscalationKind, Event, NextStep};
use techlead_core::state::{GatePlan, MergeStrategy};
use techlead_store::Store;
use tokio::sync::mpsc;

/// A gate's verdict as the actor records it.
#[derive(Debug)]
pub struct GateVerdict {
    pub gate: String,
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub reasons: Vec<String>,
    /// The gate's output file, relative to the data directory.
    pub log: String,
}

/// The most of a diff a reviewer is shown.
const REVIEW_DIFF_BYTES: usize = 200_000;
/// Lines of a failed command gate's output passed back to the agent.
const OUTPUT_LINES: usize = 40;

/// Runs gate number `index` of task `t` on its last attempt's work.
pub fn spawn_gate<S: Store>(mission: &Mission<S>, t: usize, index: usize, gate: GatePlan) {
    let state = &mission.state;
    let task = &state.plan.tasks[t];
    let attempt = state.tasks[t].attempts.len() as u32;
    let relative = format!(
        "{}.gate-{}",
        super::attempt::relative_dir(&mission.id, &task.id, attempt),
        index + 1
    );
    let who = (task.id.clone(), task.title.clone(), attempt);
    let mut spec = super::gate::check_spec(mission, who, &relative);
    if let Some(workspaces) = &mission.workspaces {
        spec.workdir = workspaces.task_path(&task.id);
    }
    let log = format!("{relative}.output.log");
    let name = gate.name();
    let run = match gate {
        GatePlan::Command {
            run, timeout_ms, ..
        } => {
            spec.command = Some(super::gate::shell(&run));
            spec.timeout = Duration::from_millis(timeout_ms);
            let executor: Arc<dyn Executor> =
                Arc::new(CommandExecutor::new().with_grace(mission.settings.gate_grace));
            Run::Command(executor)
        }
        GatePlan::Review {
            agent,
            executor,
            command,
            instructions,
            timeout_ms,
        } => {
            let Some(executor) = mission.executor(&executor) else {
                let message = format!("no executor `{executor}` for the reviewer {agent}");
                send_verdict(
                    &mission.inputs.sender(),
                    t,
                    attempt,
                    failed(name, log, message),
                );
                return;
            };
            let plan = state.plan.agent(&agent);
            spec.agent_prompt = plan.map(|a| a.prompt.clone()).unwrap_or_default();
            spec.model = plan.and_then(|a| a.model.clone());
            spec.tools = plan.and_then(|a| a.tools.clone());
            spec.agent = agent;
            spec.command = command;
            spec.timeout = Duration::from_millis(timeout_ms);
            let ask = review::question(state, t, &instructions);
            Run::Review(executor, ask, mission.workspaces.clone())
        }
    };
    let inputs = mission.inputs.sender();
    let cancel = mission.inputs.gate_token();
    let data_dir = mission.settings.data_dir.clone();
    tokio::spawn(async move {
        let verdict = match run {
            Run::Command(executor) => {
                let (events, _ignored) = mpsc::unbounded_channel();
                let outcome = executor.run(spec, events, cancel).await;
                command_verdict(name, log, outcome, &data_dir)
            }
            Run::Review(executor, ask, workspaces) => {
                spec.prompt = ask.render(&diff(workspaces, &spec.task_id).await);
                let log_path = spec.log_path();
                let (events, _ignored) = mpsc::unbounded_channel();
                let outcome = executor.run(spec, events, cancel).await;
                review_verdict(name, log, outcome, &log_path)
            }
        };
        send_verdict(&inputs, t, attempt, verdict);
    });
}

enum Run {
    Command(Arc<dyn Executor>),
    Review(Arc<dyn Executor>, review::Question, Option<Arc<Workspaces>>),
}

/// The task's change for its reviewer, read off the actor's thread.
async fn diff(workspaces: Option<Arc<Workspaces>>, task: &str) -> String {
    match workspaces {
        Some(workspaces) => {
            let task = task.to_string();
            super::work::blocking(move || workspaces.diff(&task, REVIEW_DIFF_BYTES))
                .await
                .unwrap_or_else(|error| format!("(the diff could not be read: {error})"))
        }
        None => "(this mission has no repository, so there is no diff: review the files in \
                 the working directory)"
            .to_string(),
    }
}

fn send_verdict(
    inputs: &mpsc::UnboundedSender<Input>,
    task: usize,
    attempt: u32,
    verdict: Option<GateVerdict>,
) {
    let _ = inputs.send(Input::CheckFinished {
        task,
        attempt,
        verdict,
    });
}

fn failed(gate: String, log: String, reason: String) -> Option<GateVerdict> {
    Some(GateVerdict {
        gate,
        passed: false,
        exit_code: None,
        reasons: vec![reason],
        log,
    })
}

fn command_verdict(
    gate: String,
    log: String,
    outcome: Outcome,
    data_dir: &Path,
) -> Option<GateVerdict> {
    let (passed, exit_code, why) = match outcome {
        Outcome::Succeeded { .. } => (true, Some(0), None),
        Outcome::Failed {
            exit_code, message, ..
        } => (false, exit_code, Some(message)),
        Outcome::TimedOut => (false, None, Some("the gate timed out".to_string())),
        Outcome::Cancelled => return None,
        Outcome::RateLimited { message, .. } | Outcome::NeedsPerson { message } => {
            (false, None, Some(message))
        }
    };
    let mut reasons = Vec::new();
    if !passed {
        reasons.extend(tail(&data_dir.join(&log), OUTPUT_LINES));
        reasons.extend(why.filter(|w| !w.is_empty()));
    }
    Some(GateVerdict {
        gate,
        passed,
        exit_code,
        reasons,
        log,
    })
}

fn review_verdict(
    gate: String,
    log: String,
    outcome: Outcome,
    log_path: &Path,
) -> Option<GateVerdict> {
    let answer = match outcome {
        Outcome::Succeeded { summary } => summary.unwrap_or_default(),
        Outcome::Cancelled => return None,
        Outcome::Failed { message, .. } => {
            return failed(gate, log, format!("the reviewer failed: {message}"));
        }
        Outcome::TimedOut => return failed(gate, log, "the reviewer timed out".to_string()),
        Outcome::RateLimited { message, .. } | Outcome::NeedsPerson { message } => {
            return failed(gate, log, format!("the reviewer could not run: {message}"));
        }
    };
    let verdict =
        review::verdict(&answer).or_else(|| review::verdict(&tail(log_path, 400).join("\n")));
    let Some(verdict) = verdict else {
        let reason = "the reviewer gave no verdict (a JSON object with \"verdict\": \
                      \"approve\" or \"request_changes\")";
        return failed(gate, log, reason.to_string());
    };
    Some(GateVerdict {
        gate,
        passed: verdict.approve,
        exit_code: None,
        reasons: verdict.reasons,
        log,
    })
}

/// The last `lines` lines of a file (empty when it cannot be read).
fn tail(path: &Path, lines: usize) -> Vec<String> {
    let Ok(text) = std::fs::read(path) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// Merges task `t`'s branch into the integration branch, off the actor.
pub fn spawn_merge<S: Store>(mission: &Mission<S>, t: usize, workspaces: Arc<Workspaces>) {
    let state = &mission.state;
    let repository = state
        .plan
        .repository
        .as_ref()
        .expect("a mission with a repository");
    let request = MergeRequest {
        task: state.plan.tasks[t].id.clone(),
        title: state.plan.tasks[t].title.clone(),
        agent: state.tasks[t].agent.clone(),
        strategy: match repository.merge {
            MergeStrategy::Merge => Strategy::Merge,
            MergeStrategy::Rebase => Strategy::Rebase,
        },
    };
    let inputs = mission.inputs.sender();
    tokio::spawn(async move {
        let result = super::work::blocking(move || workspaces.merge(&request)).await;
        let _ = inputs.send(Input::Merged { task: t, result });
    });
}

/// The actor's side: what happens to tasks being checked, and to the
/// verdicts and merges that come back.
impl<S: Store + 'static> Mission<S> {
    /// Tasks being checked take their next step: the next gate, or, once
    /// every gate passed, the merge (one at a time) or, without a
    /// repository, acceptance.
    pub(super) fn check(&mut self) -> Result<(), Error> {
        let waiting: Vec<usize> = self
            .state
            .checking()
            .filter(|t| !self.checks.contains(t))
            .collect();
        for t in waiting {
            if let Some((index, gate)) = self.state.next_gate(t) {
                let gate = gate.clone();
                self.checks.insert(t);
                spawn_gate(self, t, index, gate);
                continue;
            }
            match self.workspaces.clone() {
                None => {
                    let task = self.state.plan.tasks[t].id.clone();
                    self.stage(Event::TaskAccepted { task, merge: None })?;
                }
                Some(workspaces) if !self.merging => {
                    self.merging = true;
                    self.checks.insert(t);
                    spawn_merge(self, t, workspaces);
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Records a gate's verdict; a rejection sends the task back to its
    /// agent (a retry) or, with none left, fails it and tells the person.
    pub(super) fn gate_verdict(
        &mut self,
        t: usize,
        attempt: u32,
        verdict: GateVerdict,
    ) -> Result<(), Error> {
        let next =
            (!verdict.passed).then(|| retry::after_rejection(&self.state, t, Timestamp::now()));
        let task = self.state.plan.tasks[t].id.clone();
        let failed = next == Some(NextStep::Fail);
        let gate = verdict.gate.clone();
        self.stage(Event::TaskGateFinished {
            task: task.clone(),
            attempt,
            gate: verdict.gate,
            passed: verdict.passed,
            exit_code: verdict.exit_code,
            reasons: verdict.reasons,
            log: verdict.log,
            next,
        })?;
        if failed {
            self.stage(Event::EscalationRaised {
                id: self.state.escalations + 1,
                kind: EscalationKind::Gate,
                message: match self.workspaces.is_some() {
                    true => format!(
                        "{task} did not pass `{gate}` after its retries; its work is on branch {}",
                        self.task_branch(&task)
                    ),
                    false => format!("{task} did not pass `{gate}` after its retries"),
                },
                tasks: vec![task],
                options: ["retry", "skip", "reassign", "abort"]
                    .map(String::from)
                    .to_vec(),
            })?;
        }
        Ok(())
    }

    /// Records a merge: accepted, or a conflict that the resolving agent
    /// takes on once, after which the person decides.
    pub(super) fn merged(
        &mut self,
        t: usize,
        result: Result<crate::workspace::MergeResult, String>,
    ) -> Result<(), Error> {
        use crate::workspace::MergeResult;
        let task = self.state.plan.tasks[t].id.clone();
        let merge = match result {
            Err(message) => return Err(Error::Merge { task, message }),
            Ok(MergeResult::Merged { commit } | MergeResult::AlreadyMerged { commit }) => commit,
            Ok(MergeResult::Conflict { files }) => return self.conflicted(t, files),
        };
        self.stage(Event::TaskAccepted {
            task: task.clone(),
            merge: Some(merge),
        })?;
        self.clean_up(task);
        Ok(())
    }

    pub(super) fn conflicted(&mut self, t: usize, files: Vec<String>) -> Result<(), Error> {
        let task = self.state.plan.tasks[t].id.clone();
        let repository = self
            .state
            .plan
            .repository
            .as_ref()
            .expect("merges need a repository");
        let resolver = (self.state.tasks[t].work.conflicts == 0 && !repository.escalate_conflicts)
            .then(|| {
                repository
                    .resolver
                    .clone()
                    .unwrap_or_else(|| self.state.tasks[t].agent.clone())
            });
        let next = match resolver {
            Some(agent) => NextStep::Retry {
                agent,
                at: Timestamp::now(),
            },
            None => NextStep::Fail,
        };
        let escalate = next == NextStep::Fail;
        self.stage(Event::MergeConflicted {
            task: task.clone(),
            files: files.clone(),
            next,
        })?;
        if escalate {
            self.escalate_conflict(task, &files)?;
        }
        Ok(())
    }

    /// Asks the person to settle a merge conflict no agent resolved.
    pub(super) fn escalate_conflict(
        &mut self,
        task: String,
        files: &[String],
    ) -> Result<(), Error> {
        self.stage(Event::EscalationRaised {
            id: self.state.escalations + 1,
            kind: EscalationKind::Conflict,
            message: format!(
                "{task}'s work conflicts with the integration branch {} in {}; it is on branch {}",
                self.integration_branch(),
                files.join(", "),
                self.task_branch(&task)
            ),
            tasks: vec![task],
            // Resolving it by hand on the branch, then `retry`, merges it.
            options: ["retry", "reassign", "skip", "abort"]
                .map(String::from)
                .to_vec(),
        })
    }

    /// Removes a merged task's worktree (its branch stays, for history).
    /// Failing to is not worth stopping for: `techlead gc` lists it.
    pub(super) fn clean_up(&self, task: String) {
        let Some(workspaces) = self.workspaces.clone() else {
            return;
        };
        tokio::task::spawn_blocking(move || {
            use crate::workspace::{Abandon, Branch};
            let _ = workspaces.remove(&task, Branch::Keep, Abandon::No);
        });
    }

    pub(super) fn task_branch(&self, task: &str) -> String {
        self.workspaces
            .as_ref()
            .map_or_else(String::new, |w| w.task_branch(task))
    }

    pub(super) fn integration_branch(&self) -> String {
        self.workspaces
            .as_ref()
            .map_or_else(String::new, |w| w.integration_branch())
    }
}
