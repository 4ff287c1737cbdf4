//! The resolved plan a mission runs: what the mission file said, with
//! agents, executors and limits settled. It is recorded once, in the
//! mission's first event, so that resume never depends on the file again.

use super::rare::{Empty, Rare};
use crate::priority::Priority;
pub use crate::spec::OnBlocked;
use serde::{Deserialize, Serialize};

/// `Default` is for building plans in tests and tools field by field; a
/// plan to run comes from [`MissionPlan::resolve`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MissionPlan {
    pub name: String,
    #[serde(default)]
    pub objective: String,
    /// The mission file's `project_type`, for finding similar missions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_type: Option<String>,
    /// The mission file as given on the command line.
    pub source: String,
    /// A hash of the mission file's bytes, to notice edits before resume.
    pub source_hash: String,
    /// The working directory tasks run in.
    pub workdir: String,
    pub max_parallel: u32,
    /// Failed share of finished tasks above which dispatch pauses.
    pub failure_threshold: f64,
    /// Delays before retries, in milliseconds; the last one repeats.
    pub backoff_ms: Vec<u64>,
    /// Least time between two launches, in milliseconds.
    #[serde(default)]
    pub launch_delay_ms: u64,
    /// Per-executor concurrency limits.
    #[serde(default)]
    pub executor_limits: Vec<(String, u32)>,
    /// Per-agent `max_parallel`, for agents that set one.
    #[serde(default)]
    pub agent_limits: Vec<(String, u32)>,
    pub phases: Vec<PhasePlan>,
    pub tasks: Vec<TaskPlan>,
    /// Spend limits for the whole mission (none when empty).
    #[serde(default, skip_serializing_if = "Budget::is_unlimited")]
    pub budget: Budget,
    /// When the mission is due, as its file said; the report measures the
    /// finish against it. Missions recorded before it was kept have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<jiff::Timestamp>,
    /// The agents the tasks name (main and backup), as their files said
    /// when the mission was recorded, so that resume runs the same agents.
    #[serde(default)]
    pub agents: Vec<AgentPlan>,
    /// The git repository the tasks change, when the mission names one:
    /// each task then works in its own worktree, and its work merges into
    /// the mission's integration branch (docs/workspaces.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<Box<RepositoryPlan>>,
    /// The mission's definition of done, as the mission file lists it:
    /// statements the person confirms, and checks techlead runs once every
    /// task succeeded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done_when: Vec<DoneItem>,
    /// The webhooks told about escalations, failed gates and the end, so
    /// that a resumed run tells the same ones. Only the name of each
    /// secret's environment variable is recorded, never the secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<crate::webhook::Webhook>,
    /// A `priority: critical` mission: every run of it is an emergency
    /// (docs/running.md, "Emergencies").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emergency: bool,
    /// Its place among the missions that share agents with it: who goes
    /// first for a shared agent's slots (docs/portfolio.md).
    #[serde(default, skip_serializing_if = "Standing::is_default")]
    pub standing: Standing,
    /// What an agent's `::blocked` leads to (`defaults.on_blocked`).
    #[serde(default, skip_serializing_if = "OnBlocked::is_retry")]
    pub on_blocked: OnBlocked,
    /// When a slipping forecast is reported (the deadline is `deadline`).
    #[serde(default, skip_serializing_if = "ForecastPlan::is_default")]
    pub forecast: ForecastPlan,
}

/// A mission's place among the missions sharing an agent's slots
/// (`mission: {priority: 10, share: 2}`): the waiting mission with the
/// highest `priority` goes first; among equals, slots go by weighted fair
/// share (`held / share`, smallest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Standing {
    pub priority: i32,
    pub share: u32,
}

impl Standing {
    pub fn is_default(&self) -> bool {
        *self == Standing::default()
    }
}

impl Default for Standing {
    fn default() -> Self {
        Standing {
            priority: 0,
            share: 1,
        }
    }
}

/// When the live forecast reports a slip (docs/forecast.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForecastPlan {
    /// `defaults.forecast_slip`: the share by which the forecast finish
    /// may slip past the baseline before a `forecast_slipped` event (0:
    /// never).
    pub slip: f64,
}

impl ForecastPlan {
    /// The default threshold: 20 %.
    pub const SLIP: f64 = 0.2;

    fn is_default(&self) -> bool {
        *self == ForecastPlan::default()
    }
}

impl Default for ForecastPlan {
    fn default() -> Self {
        ForecastPlan {
            slip: ForecastPlan::SLIP,
        }
    }
}

/// One item of the definition of done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "DoneRecord")]
pub struct DoneItem {
    pub text: String,
    /// The shell command that checks the item (exit code 0: met); `None`:
    /// the person confirms it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

impl DoneItem {
    /// A statement the person confirms.
    pub fn statement(text: impl Into<String>) -> DoneItem {
        DoneItem {
            text: text.into(),
            run: None,
        }
    }

    /// A statement techlead checks with `run`.
    pub fn check(text: impl Into<String>, run: impl Into<String>) -> DoneItem {
        DoneItem {
            text: text.into(),
            run: Some(run.into()),
        }
    }
}

/// A definition-of-done item as records hold it: missions recorded before
/// items could be checked list plain texts.
#[derive(Deserialize)]
#[serde(untagged)]
enum DoneRecord {
    Text(String),
    Item {
        text: String,
        #[serde(default)]
        run: Option<String>,
    },
}

impl From<DoneRecord> for DoneItem {
    fn from(record: DoneRecord) -> DoneItem {
        match record {
            DoneRecord::Text(text) => DoneItem { text, run: None },
            DoneRecord::Item { text, run } => DoneItem { text, run },
        }
    }
}

/// Where a mission's work goes, settled when it is recorded so that every
/// run merges onto the same base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepositoryPlan {
    /// The repository's top level.
    pub path: String,
    /// The commit the integration branch starts from.
    pub base: String,
    /// The person's branch when the mission was recorded: what `techlead
    /// land` moves by default. `None` on a detached HEAD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default)]
    pub merge: MergeStrategy,
    /// The agent that resolves a merge conflict; `None`: the task's own
    /// agent, which knows its change best.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
    /// Whether conflicts go straight to the person instead of an agent.
    #[serde(default)]
    pub escalate_conflicts: bool,
    /// At most this many tasks wait for their gates or their merge before
    /// new work starts.
    pub wip_limit: u32,
}

/// How a task's branch joins the integration branch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeStrategy {
    /// A merge commit naming mission, task and agent.
    #[default]
    Merge,
    /// The task's commits replayed onto the integration branch.
    Rebase,
}

/// A check a task's work must pass before it counts as done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GatePlan {
    /// A shell command the person wrote; passes on exit code 0.
    Command {
        name: String,
        run: String,
        timeout_ms: u64,
    },
    /// An agent reads the change and approves it or asks for changes.
    Review {
        agent: String,
        executor: String,
        /// The reviewer's program, when its executor is `command`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        instructions: String,
        timeout_ms: u64,
    },
}

impl GatePlan {
    /// The gate's name in events, logs and tables.
    pub fn name(&self) -> String {
        match self {
            GatePlan::Command { name, .. } => name.clone(),
            GatePlan::Review { agent, .. } => format!("review by {agent}"),
        }
    }

    /// What the gate asks, for the agent's prompt.
    pub fn describe(&self) -> String {
        match self {
            GatePlan::Command { run, .. } => format!("`{run}` passes"),
            GatePlan::Review { agent, .. } => {
                format!("{agent} reviews the change and approves it")
            }
        }
    }
}

/// What an agent executor needs from an agent file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentPlan {
    pub name: String,
    /// The Markdown body: the agent's instructions (its system prompt).
    #[serde(default)]
    pub prompt: String,
    /// `None`: the user's default model (`inherit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `None`: every tool the executor allows; `Some`: only these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhasePlan {
    pub name: String,
    /// Shell commands written by the person; all must pass.
    pub gates: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskPlan {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub priority: Priority,
    /// The kind the mission file gave (`kind:`); `None`: inferred from
    /// the texts when history needs it (`history::TaskKind::infer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<crate::history::TaskKind>,
    pub depends_on: Vec<String>,
    pub agent: String,
    pub executor: String,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    pub timeout_ms: u64,
    /// Retries on the first agent before the backup (if any) takes over.
    pub retries: u32,
    /// Hours of the longest path from this task to the end (for priority).
    #[serde(default)]
    pub remaining_hours: f64,
    /// What a plain task leaves empty, one pointer until it has any.
    #[serde(flatten)]
    pub detail: Rare<TaskDetail>,
}

/// The parts of a task that a generated or plain one rarely sets: kept
/// behind one pointer ([`Rare`]), a 10,000-task plan is 2.7 MB smaller
/// (472 bytes a task before, 200 after). Its fields serialise as the
/// task's own, so the plan's JSON has the shape it always had.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskDetail {
    /// Tasks of other missions in the same database it waits for
    /// (`depends_on: [billing/API]`): it starts only once each durably
    /// succeeded there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external: Vec<super::external::ExternalDependency>,
    #[serde(default)]
    pub phase: Option<usize>,
    #[serde(default)]
    pub backup: Option<String>,
    #[serde(default)]
    pub estimate_hours: Option<f64>,
    /// What "done" means, as the mission file lists it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acceptance: Vec<String>,
    /// The checks the work must pass, in order: commands, and reviews by
    /// an agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GatePlan>,
    /// Files the task promised to produce; its handoff is flagged when one
    /// is missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<String>,
    /// What the task needs from its dependencies' work; flagged when no
    /// dependency's handoff has it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// The labels a worker must offer to run it (docs/workers.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Spend limits for this task over all its attempts.
    #[serde(default, skip_serializing_if = "Budget::is_unlimited")]
    pub budget: Budget,
    /// The agent the mission named when the library lacks it: `agent` is
    /// then the general-purpose agent, briefed with these specialists'
    /// instructions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stands_in_for: Option<StandIn>,
}

static NO_DETAIL: TaskDetail = TaskDetail {
    external: Vec::new(),
    phase: None,
    backup: None,
    estimate_hours: None,
    acceptance: Vec::new(),
    gates: Vec::new(),
    artifacts: Vec::new(),
    needs: Vec::new(),
    labels: Vec::new(),
    budget: Budget {
        usd: None,
        tokens: None,
    },
    stands_in_for: None,
};

impl Empty for TaskDetail {
    fn empty() -> &'static Self {
        &NO_DETAIL
    }
}

/// A missing specialist, and the closest ones whose context the stand-in
/// gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandIn {
    pub requested: String,
    pub context_from: Vec<String>,
}

/// Spend limits: US dollars, tokens (input and output together), or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
}

impl Budget {
    pub fn is_unlimited(&self) -> bool {
        self.usd.is_none() && self.tokens.is_none()
    }

    fn of(spec: Option<crate::spec::Budget>) -> Budget {
        spec.map_or_else(Budget::default, |b| Budget {
            usd: b.usd,
            tokens: b.tokens,
        })
    }
}

/// A plan that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("task `{0}` appears twice")]
    DuplicateTask(String),
    #[error("task `{task}` depends on unknown task `{dependency}`")]
    UnknownDependency { task: String, dependency: String },
    #[error("task `{task}` is in phase {phase}, which the plan does not have")]
    UnknownPhase { task: String, phase: usize },
}

impl MissionPlan {
    /// Checks that IDs are unique and references resolve. (Cycles are
    /// caught when the mission file is validated.)
    pub fn check(&self) -> Result<(), PlanError> {
        let mut seen = std::collections::HashSet::new();
        for task in &self.tasks {
            if !seen.insert(task.id.as_str()) {
                return Err(PlanError::DuplicateTask(task.id.clone()));
            }
        }
        for task in &self.tasks {
            if let Some(dependency) = task.depends_on.iter().find(|d| !seen.contains(d.as_str())) {
                return Err(PlanError::UnknownDependency {
                    task: task.id.clone(),
                    dependency: dependency.clone(),
                });
            }
            if let Some(phase) = task.detail.phase.filter(|&p| p >= self.phases.len()) {
                return Err(PlanError::UnknownPhase {
                    task: task.id.clone(),
                    phase,
                });
            }
        }
        Ok(())
    }

    /// The delay before retry number `retry` (1-based).
    pub fn backoff(&self, retry: u32) -> u64 {
        let index = (retry.max(1) - 1) as usize;
        self.backoff_ms
            .get(index)
            .or(self.backoff_ms.last())
            .copied()
            .unwrap_or(0)
    }
}

/// What [`MissionPlan::resolve`] needs besides the mission itself.
pub struct Resolve<'a> {
    pub library: &'a crate::agents::Library,
    /// The record of past missions: ranked tasks go to the agents `techlead
    /// plan` shows, history included.
    pub history: &'a crate::history::History,
    pub source: String,
    pub source_hash: String,
    pub workdir: String,
    /// The repository as found on disk (its top level, HEAD and branch),
    /// when the mission names one.
    pub repository: Option<Checkout>,
}

/// The person's checkout when the mission is recorded.
pub struct Checkout {
    pub path: String,
    pub head: String,
    pub branch: Option<String>,
}

impl MissionPlan {
    /// Settles everything a run needs: each task's agent (chosen as
    /// `techlead plan` chooses it), executor, command, timeout and retries,
    /// and the limits. The mission is consumed: its texts move into the
    /// plan rather than being copied, so a big mission is not held twice.
    ///
    /// Fails only on a dependency cycle, which validation reports first.
    pub fn resolve(
        mission: crate::spec::Mission,
        input: Resolve<'_>,
    ) -> Result<MissionPlan, crate::plan::graph::Cycle> {
        let mut mission = mission;
        let mut graph = crate::plan::graph::Graph::new(&mission)?;
        // Declared overlaps become dependencies when the mission asks; the
        // graph is rebuilt so that staffing and priorities see them.
        if crate::plan::overlap::serialise(&mut mission, &graph) {
            graph = crate::plan::graph::Graph::new(&mission)?;
        }
        let agents = crate::plan::staffing::agents(
            &mission,
            &graph,
            input.library,
            &input.history.assign_context(),
        );
        let remaining: Vec<f64> = (0..mission.tasks.len())
            .map(|t| graph.remaining_hours(t))
            .collect();
        drop(graph);
        let crate::spec::Mission {
            name,
            objective,
            project_type,
            defaults,
            phases,
            tasks,
            budget,
            done_when,
            merge,
            on_conflict,
            wip_limit,
            webhooks,
            priority,
            deadline,
            standing,
            ..
        } = mission;
        let mut tasks: Vec<TaskPlan> = tasks
            .into_iter()
            .zip(agents)
            .zip(remaining)
            .map(|((task, (agent, stand_in)), remaining_hours)| {
                let retries = task.effective_retries(&defaults);
                let timeout = task.timeout.unwrap_or(defaults.timeout);
                let agent_file = input.library.get(&agent);
                let executor = task
                    .executor
                    .or_else(|| task.command.as_ref().map(|_| "command".to_string()))
                    .or_else(|| agent_file.and_then(|a| a.executor.clone()))
                    .unwrap_or_else(|| defaults.executor.clone());
                let command = task
                    .command
                    .or_else(|| agent_file.and_then(|a| a.command.clone()));
                TaskPlan {
                    timeout_ms: timeout.as_millis().max(1) as u64,
                    retries,
                    id: task.id,
                    title: task.title,
                    description: task.description,
                    priority: task.priority,
                    kind: task.kind,
                    depends_on: task.depends_on,
                    agent,
                    executor,
                    command,
                    remaining_hours,
                    detail: Rare::of(TaskDetail {
                        external: task.external,
                        phase: task.phase,
                        backup: task.backup,
                        estimate_hours: task.estimate_hours,
                        acceptance: task.acceptance,
                        budget: Budget::of(task.budget),
                        stands_in_for: stand_in,
                        gates: task
                            .gates
                            .into_iter()
                            .map(|gate| gate_plan(gate, &defaults, input.library))
                            .collect(),
                        artifacts: task.artifacts,
                        needs: task.needs,
                        labels: task.labels,
                    }),
                }
            })
            .collect();
        // Collected in the tasks' own (larger) buffer: give back the rest.
        tasks.shrink_to_fit();
        Ok(MissionPlan {
            name,
            objective,
            project_type,
            source: input.source,
            source_hash: input.source_hash,
            workdir: input.workdir,
            failure_threshold: defaults.failure_threshold,
            backoff_ms: defaults
                .backoff
                .iter()
                .map(|d| d.as_millis().max(0) as u64)
                .collect(),
            launch_delay_ms: defaults.launch_delay.as_millis().max(0) as u64,
            executor_limits: defaults.concurrency,
            agent_limits: input
                .library
                .agents()
                .iter()
                .filter_map(|a| a.orchestration.max_parallel.map(|m| (a.name.clone(), m)))
                .collect(),
            phases: phases
                .into_iter()
                .map(|p| PhasePlan {
                    name: p.name,
                    gates: p
                        .gates
                        .into_iter()
                        .filter_map(|g| match g {
                            crate::spec::Gate::Command { run, .. } => Some(run),
                            crate::spec::Gate::Review { .. } => None,
                        })
                        .collect(),
                })
                .collect(),
            budget: Budget::of(budget),
            deadline,
            agents: agent_plans(&tasks, on_conflict.as_deref(), input.library),
            repository: input.repository.map(|checkout| {
                Box::new(RepositoryPlan {
                    path: checkout.path,
                    base: checkout.head,
                    branch: checkout.branch,
                    merge: match merge.as_deref() {
                        Some("rebase") => MergeStrategy::Rebase,
                        _ => MergeStrategy::Merge,
                    },
                    resolver: on_conflict
                        .clone()
                        .filter(|who| !matches!(who.as_str(), "agent" | "escalate")),
                    escalate_conflicts: on_conflict.as_deref() == Some("escalate"),
                    wip_limit: wip_limit.unwrap_or(defaults.max_parallel),
                })
            }),
            max_parallel: defaults.max_parallel,
            done_when: done_when
                .into_iter()
                .map(|d| DoneItem {
                    text: d.text,
                    run: d.run,
                })
                .collect(),
            webhooks,
            emergency: priority == Some(crate::Priority::Critical),
            standing,
            on_blocked: defaults.on_blocked,
            forecast: ForecastPlan {
                slip: defaults.forecast_slip,
            },
            tasks,
        })
    }

    pub fn agent(&self, name: &str) -> Option<&AgentPlan> {
        self.agents.iter().find(|a| a.name == name)
    }

    /// How many tasks depend on task `id` directly.
    pub fn dependents(&self, id: &str) -> usize {
        self.tasks
            .iter()
            .filter(|t| t.depends_on.iter().any(|d| d == id))
            .count()
    }
}

/// How long a review may take when the gate sets no timeout.
const REVIEW_TIMEOUT_MS: u64 = 30 * 60 * 1000;
/// How long a gate command may take when the gate sets no timeout.
const COMMAND_GATE_TIMEOUT_MS: u64 = 60 * 60 * 1000;

fn gate_plan(
    gate: crate::spec::Gate,
    defaults: &crate::spec::Defaults,
    library: &crate::agents::Library,
) -> GatePlan {
    match gate {
        crate::spec::Gate::Command { name, run, timeout } => GatePlan::Command {
            name: name.unwrap_or_else(|| run.clone()),
            run,
            timeout_ms: timeout.map_or(COMMAND_GATE_TIMEOUT_MS, |t| t.as_millis().max(1) as u64),
        },
        crate::spec::Gate::Review {
            agent,
            instructions,
        } => GatePlan::Review {
            executor: library
                .get(&agent)
                .and_then(|a| a.executor.clone())
                .unwrap_or_else(|| defaults.executor.clone()),
            command: library.get(&agent).and_then(|a| a.command.clone()),
            agent,
            instructions,
            timeout_ms: REVIEW_TIMEOUT_MS,
        },
    }
}

/// The agents `tasks` name, each once, in first-use order.
fn agent_plans(
    tasks: &[TaskPlan],
    resolver: Option<&str>,
    library: &crate::agents::Library,
) -> Vec<AgentPlan> {
    let mut plans: Vec<AgentPlan> = Vec::new();
    let names = tasks.iter().flat_map(|t| {
        std::iter::once(&t.agent)
            .chain(t.detail.backup.as_ref())
            .chain(t.detail.stands_in_for.iter().flat_map(|s| &s.context_from))
            .chain(t.detail.gates.iter().filter_map(|g| match g {
                GatePlan::Review { agent, .. } => Some(agent),
                GatePlan::Command { .. } => None,
            }))
    });
    let resolver = resolver.map(str::to_string);
    let names = names.chain(resolver.as_ref());
    for name in names {
        if plans.iter().any(|p| &p.name == name) {
            continue;
        }
        let Some(agent) = library.get(name) else {
            continue;
        };
        plans.push(AgentPlan {
            name: name.clone(),
            prompt: agent.prompt.clone(),
            model: match &agent.model {
                crate::agents::Model::Inherit => None,
                other => Some(other.as_str().to_string()),
            },
            tools: match &agent.tools {
                crate::agents::Tools::All => None,
                crate::agents::Tools::Only(names) => Some(names.clone()),
            },
        });
    }
    plans
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task as plans were written before `TaskDetail`: the same JSON.
    const RECORDED: &str = r#"{"id":"T00793","title":"t","description":"","priority":"medium","depends_on":[],"phase":null,"agent":"general-purpose","backup":null,"executor":"command","command":["true"],"timeout_ms":1800000,"retries":2,"estimate_hours":null,"remaining_hours":10.0}"#;

    #[test]
    fn a_recorded_plain_task_reads_back_without_detail() {
        let task: TaskPlan = serde_json::from_str(RECORDED).unwrap();
        assert_eq!(task.id, "T00793");
        assert_eq!(task.command.as_deref(), Some(&["true".to_string()][..]));
        assert_eq!(task.detail, Rare::new());
        let again: TaskPlan = serde_json::from_str(&serde_json::to_string(&task).unwrap()).unwrap();
        assert_eq!(again, task);
    }

    #[test]
    fn detail_fields_serialise_as_the_tasks_own_and_read_back() {
        let mut task: TaskPlan = serde_json::from_str(RECORDED).unwrap();
        task.detail.phase = Some(1);
        task.detail.backup = Some("reviewer".into());
        task.detail.labels = vec!["gpu".into()];
        task.detail.budget.usd = Some(2.5);
        let json: serde_json::Value = serde_json::to_value(&task).unwrap();
        assert_eq!(json["phase"], 1);
        assert_eq!(json["backup"], "reviewer");
        assert_eq!(json["labels"], serde_json::json!(["gpu"]));
        assert_eq!(json["budget"]["usd"], 2.5);
        assert!(json.get("detail").is_none(), "no nesting: {json}");
        let again: TaskPlan = serde_json::from_value(json).unwrap();
        assert_eq!(again, task);
    }
}
