//! The keys a mission file may use, in one table per mapping. The parser
//! checks keys against these tables (with a nearest-key hint for typos) and
//! the JSON Schema is generated from them, so the two cannot drift apart.

/// One key of a mapping.
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    pub doc: &'static str,
}

/// The shape of a key's value.
pub enum Kind {
    Text,
    /// `true` or `false`.
    Bool,
    /// Text, or a list of texts.
    TextOrList,
    TextList,
    Integer {
        minimum: i64,
    },
    Number {
        minimum: f64,
    },
    /// A duration such as `90s`, `45m`, `1h30m` or `2d`.
    Duration,
    DurationList,
    /// Hours as a number, or a duration.
    Hours,
    /// A fraction such as `0.5` or a percentage such as `50%`.
    Fraction,
    /// A date (`2026-12-15`) or a timestamp with offset.
    Deadline,
    Priority,
    /// A priority word, or a whole number (a mission's place among
    /// missions).
    MissionPriority,
    /// An argv list, or one string split on whitespace.
    Argv,
    /// A mapping of names to whole numbers of at least 1.
    Limits,
    Object(&'static [Key]),
    Gates,
    /// The definition of done: a list whose items are texts (statements the
    /// person confirms) or mappings of [`DONE`] (checks techlead runs).
    DoneList,
    List(&'static [Key]),
    /// One of these words, or a list of them.
    Words(&'static [&'static str]),
}

const fn key(name: &'static str, kind: Kind, doc: &'static str) -> Key {
    Key { name, kind, doc }
}

pub const TOP: &[Key] = &[
    key(
        "mission",
        Kind::Object(MISSION),
        "What the mission is and its defaults.",
    ),
    key(
        "phases",
        Kind::List(PHASE),
        "Ordered groups of tasks; a phase's gates must pass before the next phase starts.",
    ),
    key("tasks", Kind::List(TASK), "Tasks outside any phase."),
    key(
        "webhooks",
        Kind::List(WEBHOOK),
        "HTTP endpoints told when an escalation is raised, a gate fails or the mission finishes; each delivery is signed and retried.",
    ),
];

pub const MISSION: &[Key] = &[
    key("name", Kind::Text, "Short name of the mission (required)."),
    key(
        "objective",
        Kind::Text,
        "What the mission must achieve, in free text.",
    ),
    key(
        "project_type",
        Kind::Text,
        "Kind of project, e.g. web-app, api, incident-response, migration.",
    ),
    key(
        "priority",
        Kind::MissionPriority,
        "A number: its place among missions sharing an agent's slots (default 0; the highest waiting goes first). `critical`: the mission is an emergency (as `techlead run --emergency`): other running missions' non-critical work on its agents waits until it ends.",
    ),
    key(
        "share",
        Kind::Integer { minimum: 1 },
        "Its weight among missions of the same priority sharing an agent's slots (default 1): slots go to the smallest held / share first.",
    ),
    key(
        "deadline",
        Kind::Deadline,
        "When the mission must be done: a date (end of that day, UTC) or a timestamp with offset.",
    ),
    key(
        "budget",
        Kind::Object(BUDGET),
        "Spend limits for the whole mission.",
    ),
    key(
        "repository",
        Kind::Text,
        "Path of the git repository the agents work on, relative to this file.",
    ),
    key(
        "merge",
        Kind::Text,
        "How a task's work joins the integration branch: `merge` (a merge commit, the default) or `rebase` (its commits replayed).",
    ),
    key(
        "on_conflict",
        Kind::Text,
        "Who resolves a merge conflict: `agent` (the task's own agent, the default), an agent's name, or `escalate` (you).",
    ),
    key(
        "wip_limit",
        Kind::Integer { minimum: 1 },
        "At most this many tasks wait for their gates or merge before new work starts (default: max_parallel).",
    ),
    key(
        "agents",
        Kind::TextOrList,
        "Agent directories, relative to this file; replaces .claude/agents discovery.",
    ),
    key(
        "defaults",
        Kind::Object(DEFAULTS),
        "Defaults that tasks may override.",
    ),
    key(
        "definition_of_done",
        Kind::DoneList,
        "What must hold for the mission to be done: statements you confirm, or `{item, run}` checks techlead runs once every task succeeded.",
    ),
];

pub const BUDGET: &[Key] = &[
    key(
        "usd",
        Kind::Number { minimum: 0.0 },
        "Maximum spend in US dollars.",
    ),
    key(
        "tokens",
        Kind::Integer { minimum: 0 },
        "Maximum tokens, input and output together.",
    ),
];

pub const DEFAULTS: &[Key] = &[
    key(
        "executor",
        Kind::Text,
        "Executor for tasks that name none (default claude-code).",
    ),
    key(
        "timeout",
        Kind::Duration,
        "Time limit of one attempt (default 30m).",
    ),
    key(
        "retries",
        Kind::Integer { minimum: 0 },
        "Retries after a failed attempt (default: 3 for critical and high priority, 2 otherwise).",
    ),
    key(
        "backoff",
        Kind::DurationList,
        "Delays before each retry (default [5s, 15s, 30s]); the last repeats.",
    ),
    key(
        "max_parallel",
        Kind::Integer { minimum: 1 },
        "Tasks running at once, at most (default 4).",
    ),
    key(
        "failure_threshold",
        Kind::Fraction,
        "Failed share of tasks above which dispatch pauses and the person is asked (default 50%).",
    ),
    key(
        "forecast_slip",
        Kind::Fraction,
        "How far the live forecast's finish may slip past the forecast made when the run started before a `forecast_slipped` event (dashboard, terminal, webhooks): default 20%, 0 never.",
    ),
    key(
        "launch_delay",
        Kind::Duration,
        "Least time between two task launches (default 0s).",
    ),
    key(
        "concurrency",
        Kind::Limits,
        "Attempts running at once per executor, e.g. {claude-code: 2}.",
    ),
    key(
        "serialize_overlaps",
        Kind::Bool,
        "Run tasks whose `paths` overlap one after another instead of at the same time: the later task waits for the earlier (default false).",
    ),
    key(
        "on_blocked",
        Kind::Text,
        "When an agent reports `::blocked`: `retry` (default: retries told what blocked it, then the backup, then the person), `split` (as retry, but a task whose agent proposed smaller parts with `::split` becomes those parts at once) or `ask` (the person at once).",
    ),
];

pub const PHASE: &[Key] = &[
    key("name", Kind::Text, "Name of the phase (required)."),
    key("description", Kind::Text, "What the phase delivers."),
    key(
        "gates",
        Kind::Gates,
        "Checks that must pass before the next phase starts.",
    ),
    key("tasks", Kind::List(TASK), "The phase's tasks."),
];

pub const TASK: &[Key] = &[
    key(
        "id",
        Kind::Text,
        "Unique ID; assigned as REQ-001, REQ-002, ... in file order when missing.",
    ),
    key(
        "title",
        Kind::Text,
        "One line saying what to do (required).",
    ),
    key(
        "description",
        Kind::Text,
        "Details, context and constraints.",
    ),
    key(
        "agent",
        Kind::Text,
        "Agent to run the task; chosen by the planner when missing.",
    ),
    key(
        "backup",
        Kind::Text,
        "Agent to try when the first agent's retries are exhausted.",
    ),
    key(
        "priority",
        Kind::Priority,
        "critical, high, medium (default) or low.",
    ),
    key(
        "kind",
        Kind::Text,
        "What sort of work: implement, test, fix, docs, review, design, migrate, deploy, research or other; inferred from the title when missing.",
    ),
    key(
        "depends_on",
        Kind::TextOrList,
        "IDs of tasks that must succeed first; `mission/TASK` names a task of another mission in the same database (its newest run, or `mission-N/TASK`).",
    ),
    key(
        "estimate",
        Kind::Hours,
        "Expected effort: hours as a number, or a duration such as 90m.",
    ),
    key(
        "timeout",
        Kind::Duration,
        "Time limit of one attempt; overrides the mission default.",
    ),
    key(
        "retries",
        Kind::Integer { minimum: 0 },
        "Retries after a failed attempt; overrides the default.",
    ),
    key(
        "executor",
        Kind::Text,
        "Executor for this task: command, claude-code, codex, gemini, anthropic, openai or simulate.",
    ),
    key(
        "command",
        Kind::Argv,
        "For the command executor: the program and its arguments, run without a shell.",
    ),
    key("gates", Kind::Gates, "Checks the task's result must pass."),
    key(
        "acceptance",
        Kind::TextList,
        "Acceptance criteria given to the agent.",
    ),
    key(
        "artifacts",
        Kind::TextList,
        "Files or outputs the task must produce.",
    ),
    key(
        "needs",
        Kind::TextList,
        "Files or outputs this task needs from its dependencies; flagged when their handoffs lack one.",
    ),
    key(
        "labels",
        Kind::TextList,
        "Labels a worker must offer to run this task (`techlead worker --labels`), e.g. [gpu].",
    ),
    key(
        "paths",
        Kind::TextList,
        "Paths the task expects to change, used to warn about parallel edits.",
    ),
    key(
        "budget",
        Kind::Object(BUDGET),
        "Spend limits for this task, over all its attempts.",
    ),
];

pub const GATE: &[Key] = &[
    key("name", Kind::Text, "Label shown in plans and reports."),
    key(
        "run",
        Kind::Text,
        "Shell command written by the person; the gate passes on exit code 0.",
    ),
    key("timeout", Kind::Duration, "Time limit of the command."),
    key(
        "review",
        Kind::Text,
        "Agent that reviews the work and approves or requests changes.",
    ),
    key(
        "instructions",
        Kind::Text,
        "What the reviewing agent must check.",
    ),
];

pub const DONE: &[Key] = &[
    key(
        "item",
        Kind::Text,
        "The statement, as the report shows it (required).",
    ),
    key(
        "run",
        Kind::Text,
        "Shell command techlead runs once every task succeeded (on the integration branch, in a mission with a repository); the item is met on exit code 0.",
    ),
];

pub const WEBHOOK: &[Key] = &[
    key(
        "name",
        Kind::Text,
        "Unique name of the webhook, in delivery IDs and reports (default: the URL's host).",
    ),
    key(
        "url",
        Kind::Text,
        "The http or https URL each event is POSTed to (required).",
    ),
    key(
        "events",
        Kind::Words(HOOK_EVENTS),
        "What to send: escalation_raised, gate_failed, mission_finished, forecast_slipped (default: all four).",
    ),
    key(
        "secret_env",
        Kind::Text,
        "Name of the environment variable holding the HMAC secret that signs each delivery (required; never the secret itself).",
    ),
];

/// The values of a webhook's `events`.
pub const HOOK_EVENTS: &[&str] = &[
    "escalation_raised",
    "gate_failed",
    "mission_finished",
    "forecast_slipped",
];

pub fn names(keys: &[Key]) -> impl Iterator<Item = &'static str> + '_ {
    keys.iter().map(|k| k.name)
}
