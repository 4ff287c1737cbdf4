//! Waiting for tasks of other missions (`depends_on: [billing/API]`). The
//! writer looks at the other missions' records every [`EXTERNAL_POLL`]
//! while a task waits for nothing else, and records what decides a wait
//! in its own log before acting on it: `external_succeeded` (the task may
//! start), or `external_failed` with the task blocked and the person asked
//! (`external-dependency`). Another mission that does not exist yet is
//! waited for. Each writer still writes only its own mission; the others
//! are read, never locked.

use super::{Error, Mission};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use techlead_core::state::{
    EscalationKind, Event, ExternalDependency, MissionPlan, MissionState, Seen, Verdict,
    judge_external,
};
use techlead_store::Store;

/// How often a mission looks at the other missions its tasks wait for.
pub const EXTERNAL_POLL: Duration = Duration::from_millis(250);

/// Other missions as last read, each folded from its log and brought up to
/// date by reading only the events since (a look costs one query when
/// nothing changed).
#[derive(Default)]
pub struct Others {
    /// By the name or ID the dependencies use.
    missions: HashMap<String, Other>,
}

/// A mission that is not this one, as last read.
pub struct Other {
    pub id: String,
    pub state: MissionState,
}

impl Others {
    /// The mission `reference` names (an ID, or a name for its newest run)
    /// as its record says now; `None` when there is none yet.
    pub fn look<S: Store + ?Sized>(
        &mut self,
        store: &S,
        reference: &str,
    ) -> Result<Option<&Other>, Error> {
        let Some(row) = store.find_mission(reference)? else {
            self.missions.remove(reference);
            return Ok(None);
        };
        let fresh = match self.missions.remove(reference) {
            Some(mut other) if other.id == row.id => {
                if row.last_seq > other.state.last_seq {
                    for record in store.events(&row.id, other.state.last_seq)? {
                        other.state.apply(&record)?;
                    }
                }
                other
            }
            _ => Other {
                state: MissionState::replay(&store.events(&row.id, 0)?)?,
                id: row.id,
            },
        };
        Ok(Some(
            self.missions.entry(reference.to_string()).or_insert(fresh),
        ))
    }

    /// What the writer sees of `on` now.
    pub fn judge<S: Store + ?Sized>(
        &mut self,
        store: &S,
        on: &ExternalDependency,
    ) -> Result<Verdict, Error> {
        let seen = match self.look(store, &on.mission)? {
            None => Seen::NoMission,
            Some(other) => Seen::Mission {
                id: &other.id,
                status: other.state.status,
                task: other
                    .state
                    .task_index(&on.task)
                    .map(|t| other.state.tasks[t].status),
            },
        };
        Ok(judge_external(on, seen))
    }
}

/// Refuses a plan whose tasks wait for a task another mission, already in
/// the database, does not have: a typo that would only show as a blocked
/// task later. Missions not recorded yet are waited for.
pub fn check_dependencies<S: Store + ?Sized>(store: &S, plan: &MissionPlan) -> Result<(), Error> {
    let mut others = Others::default();
    for task in &plan.tasks {
        for on in &task.detail.external {
            let Some(other) = others.look(store, &on.mission)? else {
                continue;
            };
            if other.state.task_index(&on.task).is_some() {
                continue;
            }
            let ids: Vec<&str> = other
                .state
                .plan
                .tasks
                .iter()
                .map(|t| t.id.as_str())
                .collect();
            return Err(Error::UnknownExternal {
                task: task.id.clone(),
                on: on.clone(),
                mission: other.id.clone(),
                nearest: techlead_core::diagnostic::nearest(&on.task, ids.iter().copied())
                    .map(str::to_string),
            });
        }
    }
    Ok(())
}

impl<S: Store + 'static> Mission<S> {
    /// Looks at the other missions the waiting tasks depend on, and
    /// records what decides a wait.
    pub(super) fn watch_external(&mut self) -> Result<(), Error> {
        if self.interrupting
            || self.state.aborting
            || self.state.status.is_finished()
            || self
                .external_read
                .is_some_and(|at| at.elapsed() < EXTERNAL_POLL)
        {
            return Ok(());
        }
        let due: Vec<(usize, ExternalDependency)> = self
            .state
            .external_due()
            .map(|w| (w.task, w.on.clone()))
            .collect();
        let Some(store) = self.store.as_ref().filter(|_| !due.is_empty()) else {
            return Ok(());
        };
        self.external_read = Some(Instant::now());
        let mut verdicts = Vec::with_capacity(due.len());
        for (t, on) in due {
            let verdict = match self.others.judge(store, &on) {
                Ok(verdict) => verdict,
                // The other mission's record cannot be folded here (written
                // by a newer techlead, or inconsistent): the person decides.
                Err(Error::State(error)) => Verdict::Failed {
                    mission: on.mission.clone(),
                    reason: format!("its record cannot be read: {error}"),
                },
                Err(error) => return Err(error),
            };
            verdicts.push((t, on, verdict));
        }
        for (t, on, verdict) in verdicts {
            let task = self.state.plan.tasks[t].id.clone();
            match verdict {
                Verdict::Wait(_) => {}
                Verdict::Succeeded { mission } => {
                    self.stage(Event::ExternalSucceeded { task, on, mission })?;
                }
                Verdict::Failed { mission, reason } => {
                    self.external_failed(task, on, mission, reason)?;
                }
            }
        }
        Ok(())
    }

    /// Records that `on` can no longer succeed, blocks `task` and asks
    /// the person: wait for it again (after it ran again over there), go
    /// on without the task, or stop.
    fn external_failed(
        &mut self,
        task: String,
        on: ExternalDependency,
        mission: String,
        reason: String,
    ) -> Result<(), Error> {
        self.stage(Event::ExternalFailed {
            task: task.clone(),
            on: on.clone(),
            mission,
            reason: reason.clone(),
        })?;
        self.stage(Event::TaskBlocked {
            task: task.clone(),
            by: on.to_string(),
        })?;
        let dependents = self.state.plan.dependents(&task);
        let mut message = format!("{task} waits for {on}, which can no longer succeed: {reason}");
        if dependents > 0 {
            message.push_str(&format!(
                "; {dependents} dependent task{} wait{} for {task}",
                super::plural(dependents),
                if dependents == 1 { "s" } else { "" }
            ));
        }
        self.stage(Event::EscalationRaised {
            id: self.state.escalations + 1,
            kind: EscalationKind::ExternalDependency,
            message,
            tasks: vec![task],
            options: ["retry", "skip", "abort"].map(String::from).to_vec(),
        })
    }

    /// When to look at the other missions next, while a task waits for
    /// one. A time already past is left out: the look it stands for was
    /// put off by a commit in flight (whose end wakes the actor) or by the
    /// run stopping, and would wake the actor at once, again and again.
    pub(super) fn next_external_read(&self) -> Option<Instant> {
        self.state.external_due().next()?;
        let at = self.external_read? + EXTERNAL_POLL;
        (at > Instant::now()).then_some(at)
    }
}
