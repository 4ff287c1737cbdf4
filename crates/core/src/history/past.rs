//! Past missions as history keeps them: the texts similar missions are
//! found by, the status, and each task's outcome; and [`History`], all of
//! them with the figures planning asks for.

use super::kind::TaskKind;
use super::outcome::{Resolution, TaskOutcome, outcomes};
use super::stats::{AgentStats, median, records, stats};
use crate::plan::assign::AssignContext;
use crate::state::{MissionState, MissionStatus};
use jiff::Timestamp;
use serde::Serialize;

/// One mission of the record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PastMission {
    pub id: String,
    pub name: String,
    pub objective: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_type: Option<String>,
    pub status: MissionStatus,
    pub created_at: Timestamp,
    /// The time of its last event.
    pub updated_at: Timestamp,
    pub tasks: Vec<TaskOutcome>,
}

impl PastMission {
    pub fn new(id: &str, state: &MissionState) -> PastMission {
        PastMission {
            id: id.to_string(),
            name: state.plan.name.clone(),
            objective: state.plan.objective.clone(),
            project_type: state.plan.project_type.clone(),
            status: state.status,
            created_at: state.created_at,
            updated_at: state.last_event_at,
            tasks: outcomes(id, state),
        }
    }

    /// Whether it is under way: running, or paused for the person. (A
    /// mission interrupted or never run holds no agent's time.)
    pub fn active(&self) -> bool {
        matches!(self.status, MissionStatus::Running | MissionStatus::Paused)
    }

    /// A rehearsal: some of its work ran on the `simulate` executor.
    pub fn simulated(&self) -> bool {
        self.tasks.iter().any(|t| t.simulated)
    }

    pub fn duration_ms(&self) -> u64 {
        self.tasks.iter().map(|t| t.duration_ms).sum()
    }

    pub fn cost_usd(&self) -> f64 {
        self.tasks.iter().map(|t| t.cost_usd).sum()
    }

    pub fn succeeded(&self) -> usize {
        self.tasks.iter().filter(|t| t.succeeded).count()
    }

    /// Tasks that had problems, each with what became of them.
    pub fn troubled(&self) -> impl Iterator<Item = &TaskOutcome> {
        self.tasks.iter().filter(|t| t.resolution.is_some())
    }
}

/// The whole record, and the figures drawn from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct History {
    /// Newest first, as the store lists them.
    pub missions: Vec<PastMission>,
    /// Per agent and per (agent, kind), rehearsals left out.
    pub stats: Vec<AgentStats>,
}

/// Past tasks needed before a figure counts: an agent's success rate on a
/// kind, or a kind's estimates (docs/history.md, "Thresholds").
pub const MIN_SAMPLES: u32 = 3;

impl History {
    pub fn new(missions: Vec<PastMission>) -> History {
        let all: Vec<TaskOutcome> = missions.iter().flat_map(|m| m.tasks.clone()).collect();
        History {
            stats: stats(&all),
            missions,
        }
    }

    /// What the assignment ranker weighs: each agent's record, overall
    /// and per kind.
    pub fn assign_context(&self) -> AssignContext {
        let (history, kinds) = records(&self.stats);
        AssignContext {
            history,
            kinds,
            ..AssignContext::default()
        }
    }

    /// One agent's figures on one kind of task (or every kind).
    pub fn agent(&self, agent: &str, kind: Option<TaskKind>) -> Option<&AgentStats> {
        self.stats
            .iter()
            .find(|s| s.agent == agent && s.kind == kind)
    }

    /// The median of run time over estimate of the succeeded tasks of
    /// `kind` (any agent, rehearsals left out), and how many there were.
    pub fn estimate_ratio(&self, kind: TaskKind) -> Option<(f64, u32)> {
        let mut ratios: Vec<f64> = self
            .missions
            .iter()
            .flat_map(|m| &m.tasks)
            .filter(|t| t.kind == kind && t.succeeded && !t.simulated)
            .filter_map(TaskOutcome::duration_ratio)
            .collect();
        let samples = ratios.len() as u32;
        median(&mut ratios).map(|r| (r, samples))
    }

    /// The unfinished tasks each agent has in missions still under way,
    /// with their estimated hours (1 hour without an estimate), by agent.
    pub fn commitments(&self) -> Vec<Commitment> {
        let mut found: Vec<Commitment> = Vec::new();
        for mission in self.missions.iter().filter(|m| m.active()) {
            for task in mission.tasks.iter().filter(|t| !t.settled()) {
                let at = match found.iter().position(|c| c.agent == task.agent) {
                    Some(at) => at,
                    None => {
                        found.push(Commitment::new(&task.agent));
                        found.len() - 1
                    }
                };
                found[at].add(mission, task);
            }
        }
        found.sort_by(|a, b| a.agent.cmp(&b.agent));
        found
    }
}

/// An agent's unfinished work in missions under way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Commitment {
    pub agent: String,
    pub tasks: u32,
    pub hours: f64,
    /// The missions' IDs.
    pub missions: Vec<String>,
}

impl Commitment {
    fn new(agent: &str) -> Commitment {
        Commitment {
            agent: agent.to_string(),
            tasks: 0,
            hours: 0.0,
            missions: Vec::new(),
        }
    }

    fn add(&mut self, mission: &PastMission, task: &TaskOutcome) {
        self.tasks += 1;
        self.hours += task.estimate_hours.unwrap_or(1.0);
        if !self.missions.contains(&mission.id) {
            self.missions.push(mission.id.clone());
        }
    }
}

/// One line on how a troubled task ended: `retried: succeeded on attempt
/// 3`, `reassigned: senior-dev succeeded`, ...
pub fn resolution_text(resolution: &Resolution) -> String {
    match resolution {
        Resolution::Retried { attempts } => format!("succeeded after {attempts} attempts"),
        Resolution::Reassigned { agent } => format!("{agent} took over and succeeded"),
        Resolution::Approved => "the person approved the work as it was".to_string(),
        Resolution::Skipped => "the person skipped it".to_string(),
        Resolution::Unresolved => "unresolved".to_string(),
    }
}
