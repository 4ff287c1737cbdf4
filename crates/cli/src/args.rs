//! Command-line arguments. Every command that reads agents takes
//! `--agents DIR` (repeatable), which replaces the default discovery.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  techlead run examples/quickstart/mission.yaml
  techlead status
  techlead watch
  techlead resume quickstart
  techlead validate examples/web-platform/mission.yaml
  techlead plan examples/web-platform/mission.yaml
  techlead plan examples/incident-response/mission.yaml --format markdown > plan.md
  techlead forecast examples/web-platform/mission.yaml
  techlead agents --agents ~/agent-library
  techlead agents stats --kind fix
  techlead history
  techlead portfolio
  techlead assign \"Add OAuth2 login with refresh tokens\"
  techlead schema > mission.schema.json
  techlead report quickstart --format html -o report.html
  techlead land quickstart
  techlead gc --yes

Exit codes: 0 success, 1 a mission failed or a check found something (fmt --check),
2 invalid input, 3 a mission paused for your decision, 130 interrupted.
Docs: docs/mission-spec.md, docs/agents.md, docs/planning.md, docs/cli.md";

/// techlead: an AI tech lead for a team of AI coding agents.
///
/// It reads a mission file (tasks, dependencies, quality gates), assigns each
/// task to the best specialist agent from your Claude Code agent library, and
/// plans the run: waves, critical path, risks.
#[derive(Debug, Parser)]
#[command(name = "techlead", version, after_help = EXAMPLES, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a mission: dispatch its tasks to agents, durably, until done.
    #[command(
        after_help = "Examples:\n  techlead run examples/quickstart/mission.yaml\n  techlead run mission.yaml --json > events.ndjson\n\nExit codes: 0 succeeded, 1 finished with failed tasks, 2 invalid input,\n3 paused for a decision (see `techlead status`), 130 interrupted (resume with `techlead resume`)."
    )]
    Run(RunArgs),
    /// Continue a mission after a crash, Ctrl-C or a pause.
    #[command(
        after_help = "Examples:\n  techlead resume team-booking-platform\n  techlead resume team-booking-platform-2 --json\n  techlead resume team-booking-platform --budget-usd 50"
    )]
    Resume(ResumeArgs),
    /// Run tasks that missions dispatch to workers (`run --workers`) from a PostgreSQL database.
    #[command(
        after_help = "The worker claims queued attempts (FOR UPDATE SKIP LOCKED), holds each under a lease it\nrenews every third of --lease-ms, runs it with its own executor in its own directory, and\nsends reports and the end back; the mission's coordinator records them. A lease that\nexpires (the worker died or lost the database) gives the task back. docs/workers.md.\n\nExamples:\n  techlead worker --db postgres://tl@db.internal/techlead\n  techlead worker --db $TECHLEAD_DB --capacity 4 --executor command,claude-code\n  techlead worker --labels gpu,cuda-12 --name gpu-box-1 --json\n\nExit codes: 130 stopped by Ctrl-C or SIGTERM (its attempts are stopped and run again elsewhere),\n2 invalid input or no database."
    )]
    Worker(WorkerArgs),
    /// Show where a mission stands (the newest one without an argument).
    #[command(after_help = "Examples:\n  techlead status\n  techlead status incident-1 --json")]
    Status(StatusArgs),
    /// Follow a mission another techlead is running (the newest one without an argument).
    #[command(
        after_help = "Reads the database only: it never changes the mission, and Ctrl-C stops watching, not the run.\nA finished mission's events are shown and watch exits.\n\nExamples:\n  techlead watch                         # the newest mission\n  techlead watch team-booking-platform-2\n  techlead watch incident-1 --json > events.ndjson   # every event from the first, as `run --json`\n\nExit codes: as `techlead run`: 0 succeeded, 1 finished with failed tasks, 2 invalid input\n(no such mission), 3 paused for a decision, 130 interrupted, not being run, or Ctrl-C."
    )]
    Watch(WatchArgs),
    /// Print the output of a task's attempt.
    #[command(
        after_help = "Examples:\n  techlead logs quickstart API-001\n  techlead logs quickstart API-001 --attempt 2\n  techlead logs quickstart API-001 --follow"
    )]
    Logs(LogsArgs),
    /// Forecast when a mission finishes and what it costs: P50/P90, the deadline's odds, the risks.
    #[command(
        after_help = "A Monte Carlo over the mission's tasks: each takes its estimate times a ratio drawn from what\npast tasks of its agent took against theirs (the missions in the database), scheduled under the\nmission's limits. A mission file forecasts all its work from now; a recorded mission (ID or\nname) forecasts what is left of it. The same runs and seed give the same forecast.\ndocs/forecast.md explains the model and how well calibrated it is.\n\nExamples:\n  techlead forecast examples/web-platform/mission.yaml\n  techlead forecast team-booking-platform-2          # the remaining work of a recorded mission\n  techlead forecast mission.yaml --runs 10000 --seed 7\n  techlead forecast mission.yaml --json | jq '.forecast.finish_hours.p90'"
    )]
    Forecast(ForecastArgs),
    /// Show what a mission spent: tokens and US dollars by task, agent and model.
    #[command(
        after_help = "Examples:\n  techlead cost\n  techlead cost team-booking-platform --by agent\n  techlead cost incident-1 --json"
    )]
    Cost(CostArgs),
    /// Write a mission's report: outcome, timeline against the plan, cost, gates, decisions, lessons.
    #[command(
        after_help = "Markdown on stdout unless --format or --output says otherwise. HTML is one self-contained\npage (inline CSS and SVG charts: attempts by agent, burn-up against the plan, cost by agent;\nno script), fit to mail or print. JSON is the whole report as data, for any audience.\nWorks for running, paused, failed, aborted and succeeded missions. docs/report.md.\n\nExamples:\n  techlead report                                   # the newest mission, for engineers\n  techlead report quickstart --audience executive   # a few lines for stakeholders\n  techlead report quickstart --format html -o report.html\n  techlead report incident-1 --format json | jq '.lessons'"
    )]
    Report(ReportArgs),
    /// List the decisions a mission's agents reported, in order, with task and agent.
    #[command(
        after_help = "Examples:\n  techlead decisions team-booking-platform\n  techlead decisions team-booking-platform --task API-001\n  techlead decisions incident-1 --json | jq -r '.[].text'"
    )]
    Decisions(DecisionsArgs),
    /// List a mission's escalations: what waits for your decision, its options and a recommendation.
    #[command(
        after_help = "Examples:\n  techlead escalations                      # the newest mission's open escalations\n  techlead escalations incident-1 --all     # decided ones too\n  techlead escalations incident-1 --json\n\nDecide one with `techlead decide MISSION N ACTION`."
    )]
    Escalations(EscalationsArgs),
    /// Decide an escalation: retry, reassign AGENT, split, skip or abort.
    #[command(
        after_help = "retry     another round for the escalation's tasks, with fresh retries (a failed mission runs again)\nreassign  the same, on AGENT (one of the mission's agents)\nedit      the same, with GUIDANCE added to the tasks' prompts\nsplit     the failed task becomes smaller ones, run in order before it: the PARTS given,\n          or those its agent proposed (`::split`); the task then finishes what remains\napprove   accept as it is: work its gates rejected merges; a failed definition-of-done check counts as met\nskip      go on without the failed tasks: their dependents start\nanswer    the answer to an agent's question (a `question` escalation): TEXT goes to the agent\nabort     stop the mission for good\n\nA run that holds the mission carries the decision out within a second; otherwise\n`techlead resume MISSION` does. The decision is recorded either way.\n\nExamples:\n  techlead decide incident-1 2 retry\n  techlead decide incident-1 2 reassign senior-backend --note \"needs the schema change\"\n  techlead decide team-booking-platform 1 skip\n  techlead decide incident-1 3 answer \"use the staging database\"\n  techlead decide incident-1 4 edit \"use the read replica, not the primary\"\n  techlead decide incident-1 5 split                     # into the parts its agent proposed\n  techlead decide incident-1 5 split \"add the column\" \"backfill it\" \"switch reads\"\n\nExit codes: 0 carried out or recorded, 1 refused (already decided, unknown agent...), 2 invalid input."
    )]
    Decide(DecideArgs),
    /// List what a mission told its webhooks: each delivery, its state and its tries.
    #[command(
        after_help = "A delivery is one event (escalation_raised, gate_failed, mission_finished) for one webhook:\npending, retrying, delivered, refused (a 4xx: not retried) or gave up (every try failed).\nTries left are made again by `techlead resume`. docs/running.md, \"Webhooks\".\n\nExamples:\n  techlead webhooks team-booking-platform\n  techlead webhooks incident-1 --json | jq '.[] | select(.state != \"delivered\")'"
    )]
    Webhooks(WebhooksArgs),
    /// Print exactly the prompt a task's next attempt gets, handoff included.
    #[command(
        after_help = "Examples:\n  techlead prompt quickstart API\n  techlead prompt team-booking-platform-2 REQ-004 > prompt.md"
    )]
    Prompt(PromptArgs),
    /// Bring a mission's result (its integration branch) to your branch, by fast-forward.
    #[command(
        after_help = "Examples:\n  techlead land team-booking-platform                 # onto the branch it started from\n  techlead land team-booking-platform --into develop\n  techlead land team-booking-platform --as-branch booking   # a new branch, for a pull request\n  techlead land incident-1 --force                    # did not succeed: land what merged\n\nExit codes: 0 landed (or already there), 1 refused (see the hint: not finished, uncommitted\nchanges, not a fast-forward), 2 invalid input or a run holds the mission."
    )]
    Land(LandArgs),
    /// List the worktrees and branches missions left behind; remove what is safe with --yes.
    #[command(
        after_help = "Examples:\n  techlead gc                           # only lists, and says what --yes would do\n  techlead gc --yes                     # removes merged work; never unmerged or uncommitted work\n  techlead gc --mission incident-1 --json\n  techlead gc --abandon incident-1/API-002 --yes   # give up a task's work\n\nExit codes: 0 done (kept leftovers are listed with what to do), 1 a removal failed, 2 invalid input.\nA mission being run is skipped."
    )]
    Gc(GcArgs),
    /// Serve the missions' record as a JSON API and a live event feed (local, token-protected).
    #[command(
        after_help = "Listens on 127.0.0.1:7420 unless --bind says otherwise. Every request but GET /api/health\nneeds `Authorization: Bearer <token>`; the token is made on the first start, printed, and kept\nin server.token beside the database (mode 0600; for PostgreSQL, in .techlead/ at the top of\nthe git repository). Reads only: it never changes a mission.\nCtrl-C stops it. docs/server.md lists the endpoints.\n\nExamples:\n  techlead serve\n  techlead serve --db ~/work/.techlead/techlead.db --bind 127.0.0.1:8080\n  techlead serve --db postgres://ann@db.example/techlead\n  curl -H \"Authorization: Bearer $(cat .techlead/server.token)\" http://127.0.0.1:7420/api/missions\n  curl -N -H \"Authorization: Bearer $(cat .techlead/server.token)\" \\\n    http://127.0.0.1:7420/api/missions/quickstart/stream"
    )]
    Serve(ServeArgs),
    /// Serve the running attempt's MCP tools over stdio (started by the agent CLIs).
    #[command(
        after_help = "Agent CLIs start it for the task they run (claude --mcp-config, codex -c mcp_servers...,\nGemini's settings): it reads TECHLEAD_REPORT_SOCKET, TECHLEAD_DB, TECHLEAD_MISSION,\nTECHLEAD_TASK and TECHLEAD_ATTEMPT, which the engine sets for every attempt.\nTools: report_progress, report_blocker, record_decision, publish_artifact, set_summary,\nread_handoff, ask_person. docs/executors.md describes them."
    )]
    Mcp(McpArgs),
    /// List the missions in the database.
    Missions(MissionsArgs),
    /// What past missions taught: outcome, tasks, run time, cost, and what failed and how it ended.
    #[command(
        after_help = "Rehearsals (the simulate executor) are listed and marked; agent stats and planning leave\nthem out. docs/history.md says what is measured.\n\nExamples:\n  techlead history                          # every mission, newest first\n  techlead history team-booking-platform-2  # one mission, task by task\n  techlead history --json | jq '.[] | select(.status == \"failed\")'"
    )]
    History(HistoryArgs),
    /// Agents' allocation across the missions under way, over-allocation flagged, and portfolio risks.
    #[command(
        after_help = "Counts every mission not finished (running, paused, interrupted, created). Per agent: the\nhours its unfinished tasks still need (estimates, less reported progress), against what it can\ngive before each mission is due (max_parallel × hours to the deadline, or to the horizon).\nThe tightest window is its allocation. docs/portfolio.md explains the arithmetic and risks.\n\nExamples:\n  techlead portfolio\n  techlead portfolio --threshold 80             # flag agents over 80 %\n  techlead portfolio --horizon 40               # missions without a deadline are due in 40 h\n  techlead portfolio --json | jq '.agents[] | select(.over)'\n  techlead portfolio --db ~/work/.techlead/techlead.db\n\nExit codes: 0 shown, 2 no missions under way or invalid input."
    )]
    Portfolio(PortfolioArgs),
    /// Check a mission file and report every problem with file:line:col.
    #[command(after_help = "Example:\n  techlead validate examples/web-platform/mission.yaml")]
    Validate(MissionArgs),
    /// Print the execution blueprint: who does what, in which wave, and the risks.
    #[command(
        override_usage = "techlead plan <MISSION> [OPTIONS]\n       techlead plan --objective <TEXT> [OPTIONS]\n       techlead plan --brief <FILE> [OPTIONS]",
        after_help = "Examples:\n  techlead plan examples/web-platform/mission.yaml\n  techlead plan mission.yaml --json | jq '.critical_path'\n  techlead plan mission.yaml --format markdown > PLAN.md\n\nPlanning from an objective (a planning agent writes the mission file; you accept, edit or\nregenerate it; docs/planning.md, \"Planning from an objective\"):\n  techlead plan --objective \"Build a booking web app for teams\" --executor simulate\n  techlead plan --brief examples/planning/brief.md --executor simulate -o mission.yaml --yes\n  techlead plan --objective \"Checkout returns 500s\" --executor anthropic -o incident.yaml\n  techlead plan --brief brief.md --deadline 2026-12-18 --availability backend-architect=4\n\nNot a terminal on stdin: the mission goes to stdout unless -o or --yes writes it.\nExit codes: 0 planned (and written if asked), 1 not accepted, 2 invalid input or no valid plan."
    )]
    Plan(PlanArgs),
    /// List the agent library, show one agent, or how agents did on past missions.
    #[command(
        after_help = "Examples:\n  techlead agents\n  techlead agents --json --agents .claude/agents\n  techlead agents show code-reviewer\n  techlead agents stats\n  techlead agents stats --agent backend-architect --kind fix --json"
    )]
    Agents(AgentsArgs),
    /// Rank the agents for a piece of work.
    #[command(
        after_help = "Example:\n  techlead assign \"Fix the flaky Cypress tests in checkout\" --top 3"
    )]
    Assign(AssignArgs),
    /// Print the JSON Schema of mission files.
    #[command(after_help = "Example:\n  techlead schema > mission.schema.json")]
    Schema,
    /// Write auto-assigned task IDs (REQ-001, ...) into a mission file.
    #[command(
        after_help = "Examples:\n  techlead fmt mission.yaml\n  techlead fmt --check mission.yaml   # exit 1 if IDs are missing"
    )]
    Fmt(FmtArgs),
}

#[derive(Debug, Args)]
pub struct AgentSource {
    /// Read agents from DIR instead of .claude/agents discovery (repeatable).
    #[arg(long = "agents", value_name = "DIR")]
    pub agents: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MissionArgs {
    /// The mission file (YAML).
    pub mission: PathBuf,
    #[command(flatten)]
    pub source: AgentSource,
    /// Print diagnostics as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The mission file (YAML).
    #[arg(required_unless_present_any = ["objective", "brief"], conflicts_with_all = ["objective", "brief"])]
    pub mission: Option<PathBuf>,
    #[command(flatten)]
    pub source: AgentSource,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Plan as of this time instead of now (deadline checks), e.g. 2026-12-01T09:00:00Z.
    #[arg(long, value_name = "TIMESTAMP")]
    pub as_of: Option<jiff::Timestamp>,
    /// The record of past missions assignment, risks and similar missions learn from.
    #[command(flatten)]
    pub database: Database,
    #[command(flatten)]
    pub from: ObjectiveArgs,
}

/// `techlead plan --objective`: a mission file made by a planning agent.
#[derive(Debug, Args)]
pub struct ObjectiveArgs {
    /// What the mission should achieve; a planning agent breaks it down.
    #[arg(long, value_name = "TEXT", conflicts_with = "brief")]
    pub objective: Option<String>,
    /// A file holding a short brief (Markdown or text) instead of --objective.
    #[arg(long, value_name = "FILE")]
    pub brief: Option<PathBuf>,
    /// Who plans: an executor, or `simulate` for the offline templates.
    #[arg(long, value_enum, default_value = "claude-code")]
    pub executor: PlannerExecutor,
    /// The library's agent that plans (its instructions and model).
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// How many times an invalid answer is sent back with its errors.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub reasks: u32,
    /// Accept the plan without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Where to write the mission file (default with --yes: mission.yaml).
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// The deadline when the plan sets none: 2026-12-18 or 2026-12-18T17:00:00Z.
    #[arg(long, value_name = "DATE")]
    pub deadline: Option<String>,
    /// The hours an agent works a day, for the capacity check.
    #[arg(long, value_name = "HOURS", default_value_t = 8.0)]
    pub hours_per_day: f64,
    /// One agent's hours a day, as NAME=HOURS (repeatable).
    #[arg(long, value_name = "NAME=HOURS")]
    pub availability: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlannerExecutor {
    ClaudeCode,
    Codex,
    Anthropic,
    Openai,
    Gemini,
    Simulate,
}

#[derive(Debug, Args)]
pub struct AgentsArgs {
    #[command(subcommand)]
    pub show: Option<AgentsCommand>,
    #[command(flatten)]
    pub source: AgentSource,
    /// Print a JSON array of the loaded agents (skipped files and warnings go to stderr).
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Show one agent: its settings, source file and system prompt.
    Show {
        /// The agent's name.
        name: String,
        #[command(flatten)]
        source: AgentSource,
    },
    /// How each agent did on past missions, per kind of task (docs/history.md).
    #[command(
        after_help = "Columns: tasks its part in is over, attempts with a verdict, success rate (tasks it made\nsucceed), retries (attempts beyond the first), run time over estimate and cost over budget\n(medians), gates passed at the first try. Each agent's first row covers every kind.\nRehearsals (the simulate executor) are left out.\n\nExamples:\n  techlead agents stats\n  techlead agents stats --agent backend-architect\n  techlead agents stats --kind test --json"
    )]
    Stats(StatsArgs),
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Only this agent.
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// Only this kind of task: implement, test, fix, docs, review, design,
    /// migrate, deploy, research or other.
    #[arg(long, value_name = "KIND", value_parser = task_kind)]
    pub kind: Option<techlead_core::history::TaskKind>,
    #[command(flatten)]
    pub database: Database,
}

fn task_kind(text: &str) -> Result<techlead_core::history::TaskKind, String> {
    techlead_core::history::TaskKind::parse(text).ok_or_else(|| {
        let names: Vec<&str> = techlead_core::history::TaskKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect();
        format!("`{text}` is not a kind of task: use {}", names.join(", "))
    })
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// One mission's ID or name, task by task (default: every mission).
    pub mission: Option<String>,
    #[command(flatten)]
    pub database: Database,
    /// Print JSON: an array of missions, or the one mission with its tasks.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PortfolioArgs {
    #[command(flatten)]
    pub database: Database,
    /// Flag agents whose allocation is over this percent.
    #[arg(long, value_name = "PERCENT", default_value_t = techlead_core::portfolio::DEFAULT_THRESHOLD,
          value_parser = percent)]
    pub threshold: f64,
    /// Hours within which the work of a mission without a deadline is due.
    #[arg(long, value_name = "HOURS", default_value_t = techlead_core::portfolio::DEFAULT_HORIZON_HOURS,
          value_parser = positive_hours)]
    pub horizon: f64,
    /// Deadlines this many hours apart or closer, on a shared agent, are a cluster.
    #[arg(long, value_name = "HOURS", default_value_t = techlead_core::portfolio::DEFAULT_WINDOW_HOURS,
          value_parser = positive_hours)]
    pub window: f64,
    /// As of this time instead of now, e.g. 2026-12-01T09:00:00Z.
    #[arg(long, value_name = "TIMESTAMP")]
    pub as_of: Option<jiff::Timestamp>,
    /// Print the portfolio as JSON.
    #[arg(long)]
    pub json: bool,
}

fn percent(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(p) if p.is_finite() && p > 0.0 => Ok(p),
        _ => Err(format!("`{text}` is not a percentage above 0 (e.g. 90)")),
    }
}

fn positive_hours(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(h) if h.is_finite() && h > 0.0 => Ok(h),
        _ => Err(format!(
            "`{text}` is not a number of hours above 0 (e.g. 168)"
        )),
    }
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    /// What the task is about: a title, optionally with its description.
    pub text: String,
    #[command(flatten)]
    pub source: AgentSource,
    /// How many candidates to show.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Print a JSON array of candidates, best first.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// The mission file (YAML).
    pub mission: PathBuf,
    /// Change nothing; exit 1 if the file would change.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct Database {
    /// The techlead database: a SQLite file, or a PostgreSQL database as
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE (default:
    /// .techlead/techlead.db at the top of the git repository you are in,
    /// else in the current directory).
    #[arg(long, value_name = "PATH|URL", env = "TECHLEAD_DB", global = true)]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The mission file (YAML).
    pub mission: PathBuf,
    #[command(flatten)]
    pub source: AgentSource,
    #[command(flatten)]
    pub database: Database,
    /// Print every event as one JSON object per line (NDJSON) on stdout.
    #[arg(long)]
    pub json: bool,
    /// When the mission needs your decision, wait for it (`techlead decide`,
    /// the dashboard or the API) instead of stopping.
    #[arg(long)]
    pub wait_for_decisions: bool,
    /// An emergency: other running missions suspend their non-critical
    /// work on this mission's agents until it ends.
    #[arg(long)]
    pub emergency: bool,
    /// Ask at the terminal as each escalation is raised (answers are read
    /// from stdin), and wait for decisions instead of stopping.
    #[arg(long)]
    pub interactive: bool,
    /// Dispatch the tasks to `techlead worker`s through the PostgreSQL
    /// database (--db postgres://...) instead of running them here.
    #[arg(long)]
    pub workers: bool,
    /// How workers reach the mission's repository, as git takes it
    /// (ssh://host/path/repo, file:///path/repo); default: its path here.
    /// Workers fetch from it and push their work to it.
    #[arg(long, value_name = "URL", requires = "workers")]
    pub repository_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The mission's ID, or its name for the newest mission of that name.
    pub mission: String,
    #[command(flatten)]
    pub database: Database,
    /// Print every event as one JSON object per line (NDJSON) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Resume even though the mission file changed since the run began
    /// (the recorded plan runs, not the edited file).
    #[arg(long)]
    pub ignore_changes: bool,
    /// A new dollar budget for the whole mission (after a budget pause).
    #[arg(long, value_name = "USD", value_parser = non_negative)]
    pub budget_usd: Option<f64>,
    /// A new token budget for the whole mission, input and output together.
    #[arg(long, value_name = "TOKENS")]
    pub budget_tokens: Option<u64>,
    /// When the mission needs your decision, wait for it (`techlead decide`,
    /// the dashboard or the API) instead of stopping.
    #[arg(long)]
    pub wait_for_decisions: bool,
    /// An emergency: other running missions suspend their non-critical
    /// work on this mission's agents until it ends.
    #[arg(long)]
    pub emergency: bool,
    /// Ask at the terminal as each escalation is raised (answers are read
    /// from stdin), and wait for decisions instead of stopping.
    #[arg(long)]
    pub interactive: bool,
    /// Dispatch the tasks to `techlead worker`s through the PostgreSQL
    /// database (--db postgres://...) instead of running them here.
    #[arg(long)]
    pub workers: bool,
    /// How workers reach the mission's repository, as git takes it
    /// (ssh://host/path/repo, file:///path/repo); default: its path here.
    /// Workers fetch from it and push their work to it.
    #[arg(long, value_name = "URL", requires = "workers")]
    pub repository_url: Option<String>,
    /// Wait while another techlead holds the mission, and take it over
    /// when that one dies (its lock is released with its connection).
    #[arg(long)]
    pub standby: bool,
}

/// `techlead worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub database: Database,
    /// The executors this worker runs, comma-separated; it claims only
    /// tasks on one of them.
    #[arg(long, value_name = "NAMES", default_value = "command")]
    pub executor: String,
    /// Attempts at once.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub capacity: u32,
    /// What this worker offers, comma-separated (gpu, claude-login, ...):
    /// it claims only tasks whose `labels:` are all here.
    #[arg(long, value_name = "LABELS", default_value = "")]
    pub labels: String,
    /// How it names itself in the queue (default: HOST:PID).
    #[arg(long)]
    pub name: Option<String>,
    /// Its own directory: tasks run in work/<mission>, attempt files go in
    /// runs/ (default: .techlead/worker).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// How long a claim holds without a heartbeat, in milliseconds; the
    /// worker renews it every third of that.
    #[arg(long, value_name = "MS", env = "TECHLEAD_WORKER_LEASE_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(300..))]
    pub lease_ms: u64,
    /// One JSON object per claim and end on stdout.
    #[arg(long)]
    pub json: bool,
}

fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd >= 0.0 => Ok(usd),
        _ => Err(format!(
            "`{text}` is not an amount of dollars (e.g. 25 or 12.50)"
        )),
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The mission's ID or name (default: the newest mission).
    pub mission: Option<String>,
    #[command(flatten)]
    pub database: Database,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The mission's ID or name (default: the newest mission).
    pub mission: Option<String>,
    #[command(flatten)]
    pub database: Database,
    /// Print every event as NDJSON on stdout, from the first, as `run --json` does.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: Database,
    /// The address to listen on. Anything but a loopback address exposes
    /// the record (prompts, code) to the network, behind the token only.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7420")]
    pub bind: std::net::SocketAddr,
    /// The token file (default: server.token beside the database, or in
    /// .techlead/ for PostgreSQL). Made with a new token if missing;
    /// refused if others may read it.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PromptArgs {
    /// The mission's ID or name.
    pub mission: String,
    /// The task's ID.
    pub task: String,
    #[command(flatten)]
    pub database: Database,
}

#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// A mission file (YAML), or a recorded mission's ID or name.
    pub mission: String,
    #[command(flatten)]
    pub source: AgentSource,
    #[command(flatten)]
    pub database: Database,
    /// How many times the mission is simulated.
    #[arg(long, value_name = "N", default_value_t = techlead_core::forecast::DEFAULT_RUNS,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub runs: u32,
    /// The simulation's seed: the same seed, the same forecast.
    #[arg(long, value_name = "S", default_value_t = techlead_core::forecast::DEFAULT_SEED)]
    pub seed: u64,
    /// Forecast as of this time instead of now, e.g. 2026-12-01T09:00:00Z.
    #[arg(long, value_name = "TIMESTAMP")]
    pub as_of: Option<jiff::Timestamp>,
    /// Print the forecast as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CostArgs {
    /// The mission's ID or name (default: the newest mission).
    pub mission: Option<String>,
    /// Group the rows by task, agent or model.
    #[arg(long, value_enum, default_value_t = CostBy::Task)]
    pub by: CostBy,
    #[command(flatten)]
    pub database: Database,
    /// Print every grouping as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CostBy {
    Task,
    Agent,
    Model,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The mission's ID or name (default: the newest mission).
    pub mission: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
    /// Who reads it: a few lines for stakeholders, or everything.
    #[arg(long, value_enum, default_value_t = ReportAudience::Engineering)]
    pub audience: ReportAudience,
    /// Write the report to FILE (replaced whole, never half-written) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub database: Database,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Html,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportAudience {
    /// Outcome, dates against the deadline, cost against the budget, risks and decisions needed.
    Executive,
    /// Everything: tasks, attempts, gates, escalations, lessons, logs by path.
    Engineering,
}

#[derive(Debug, Args)]
pub struct DecisionsArgs {
    /// The mission's ID or name.
    pub mission: String,
    /// Only the decisions of this task.
    #[arg(long, value_name = "ID")]
    pub task: Option<String>,
    #[command(flatten)]
    pub database: Database,
    /// Print a JSON array of {at, task, attempt, agent, text}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EscalationsArgs {
    /// The mission's ID or name (default: the newest mission).
    pub mission: Option<String>,
    /// Decided escalations too, with the decision.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub database: Database,
    /// Print a JSON array of escalations.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// The attempt's report socket.
    #[arg(long, value_name = "PATH", env = "TECHLEAD_REPORT_SOCKET")]
    pub socket: Option<PathBuf>,
    /// The mission's ID.
    #[arg(long, env = "TECHLEAD_MISSION")]
    pub mission: Option<String>,
    /// The task the attempt runs.
    #[arg(long, env = "TECHLEAD_TASK")]
    pub task: Option<String>,
    /// The attempt's number.
    #[arg(long, env = "TECHLEAD_ATTEMPT")]
    pub attempt: Option<u32>,
    #[command(flatten)]
    pub database: Database,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The mission's ID or name.
    pub mission: String,
    /// The escalation's number (`techlead escalations` lists them).
    pub escalation: u32,
    /// retry, reassign, edit, split, approve, skip, answer or abort.
    pub action: String,
    /// For `reassign`: the agent to hand the tasks to; for `edit` and
    /// `answer`: the text (in quotes); for `split`: the parts' titles, one
    /// argument each (none: the parts the agent proposed).
    pub arguments: Vec<String>,
    /// Why, for the record.
    #[arg(long)]
    pub note: Option<String>,
    /// Record the decision and return, without waiting for the run to carry it out.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub database: Database,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WebhooksArgs {
    /// The mission's ID or name.
    pub mission: String,
    #[command(flatten)]
    pub database: Database,
    /// Print a JSON array of deliveries, each with its tries.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The mission's ID or name.
    pub mission: String,
    /// The task's ID.
    pub task: String,
    /// Which attempt (default: the latest).
    #[arg(long)]
    pub attempt: Option<u32>,
    /// Keep printing new output until the attempt ends.
    #[arg(long, short)]
    pub follow: bool,
    #[command(flatten)]
    pub database: Database,
}

#[derive(Debug, Args)]
pub struct MissionsArgs {
    #[command(flatten)]
    pub database: Database,
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LandArgs {
    /// The mission's ID, or its name for the newest mission of that name.
    pub mission: String,
    /// Fast-forward this branch instead of the one the mission started from.
    #[arg(long, value_name = "BRANCH", conflicts_with = "as_branch")]
    pub into: Option<String>,
    /// Create a new branch at the mission's result instead (for a pull request).
    #[arg(long, value_name = "NAME")]
    pub as_branch: Option<String>,
    /// Land a mission that did not succeed (paused, interrupted, failed):
    /// only the work merged so far.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub database: Database,
    /// Print what moved as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Only this mission (ID or name; default: every mission in the database).
    #[arg(long, value_name = "ID")]
    pub mission: Option<String>,
    /// Remove what is safe to remove (without it, gc only lists).
    #[arg(long)]
    pub yes: bool,
    /// Give up the work of MISSION/TASK: remove its worktree and branch
    /// whatever they hold (with --yes). Repeatable.
    #[arg(long, value_name = "MISSION/TASK", conflicts_with = "mission")]
    pub abandon: Vec<String>,
    #[command(flatten)]
    pub database: Database,
    /// Print the leftovers and what was done as JSON.
    #[arg(long)]
    pub json: bool,
}
