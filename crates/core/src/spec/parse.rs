//! Turns mission file text into a [`Mission`], collecting every problem
//! instead of stopping at the first, so one `techlead validate` shows them
//! all.

use super::keys::{self, Key};
use super::{
    Budget, CompactSpan, Defaults, DoneItem, Gate, Mission, OnBlocked, Phase, Task, TaskSpans,
};
use crate::diagnostic::{Diagnostic, SourceSpan, nearest};
use crate::priority::Priority;
use crate::state::ExternalDependency;
use crate::yaml::{self, Node, Value};
use jiff::civil::Date;
use jiff::{SignedDuration, Span, SpanRelativeTo, Timestamp};
use std::collections::HashSet;

mod webhooks;

/// The result of parsing: the mission when the file was readable enough to
/// build one, and every diagnostic found on the way.
#[derive(Debug)]
pub struct Parsed {
    pub mission: Option<Mission>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses a mission file's text. A mission is returned whenever the
/// structure could be read, even with errors, so that later checks can
/// still report their findings.
///
/// The YAML tree is consumed as the mission is built: each task's part of
/// it is freed once the task is read, so the two are never whole at once.
pub fn parse(source: &str) -> Parsed {
    let mut reader = Reader {
        source,
        diagnostics: Vec::new(),
    };
    let mission = match yaml::load(source) {
        Ok(root) => reader.mission(root),
        Err(error) => {
            reader.diagnostics.push(yaml_diagnostic(error));
            None
        }
    };
    Parsed {
        mission,
        diagnostics: reader.diagnostics,
    }
}

struct Reader<'s> {
    source: &'s str,
    diagnostics: Vec<Diagnostic>,
}

/// The entries of one mapping, already checked against its key table.
struct Fields<'n> {
    span: SourceSpan,
    entries: Vec<(&'static str, &'n Node)>,
}

impl<'n> Fields<'n> {
    fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, node)| *node)
            .filter(|node| !matches!(node.value, Value::Null))
    }
}

/// [`Fields`] that own their values, so that big ones (task lists) can be
/// taken and consumed.
struct OwnedFields {
    span: SourceSpan,
    entries: Vec<(&'static str, Node)>,
}

impl OwnedFields {
    fn get(&self, name: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, node)| node)
            .filter(|node| !matches!(node.value, Value::Null))
    }

    fn take(&mut self, name: &str) -> Option<Node> {
        let at = self.entries.iter().position(|(key, _)| *key == name)?;
        let (_, node) = self.entries.remove(at);
        Some(node).filter(|node| !matches!(node.value, Value::Null))
    }
}

impl<'s> Reader<'s> {
    fn error(&mut self, span: SourceSpan, code: &'static str, message: String) -> &mut Diagnostic {
        self.diagnostics
            .push(Diagnostic::error(code, message).at(span));
        self.diagnostics.last_mut().expect("just pushed")
    }

    fn expected(&mut self, node: &Node, what: &str, expected: &str) {
        let found = node.value.kind();
        self.error(
            node.span(),
            "spec::type",
            format!("`{what}` must be {expected}, found {found}"),
        );
    }

    fn mission(&mut self, root: Node) -> Option<Mission> {
        if matches!(root.value, Value::Null) {
            self.error(
                root.span(),
                "spec::empty",
                "the mission file is empty".into(),
            )
            .hint = Some("start from an example in examples/, or see docs/mission-spec.md".into());
            return None;
        }
        let mut top = self.owned_fields(root, keys::TOP, "the mission file")?;
        let mut mission = Mission {
            name: String::new(),
            objective: String::new(),
            project_type: None,
            priority: None,
            standing: Default::default(),
            deadline: None,
            budget: None,
            repository: None,
            merge: None,
            on_conflict: None,
            wip_limit: None,
            agents: Vec::new(),
            defaults: Defaults::default(),
            phases: Vec::new(),
            tasks: Vec::with_capacity(self.task_entries(&top)),
            done_when: Vec::new(),
            webhooks: Vec::new(),
        };
        match top.get("mission") {
            Some(node) => self.mission_block(node, &mut mission),
            None => {
                self.error(
                    top.span,
                    "spec::missing-key",
                    "the file has no `mission:` block".into(),
                )
                .hint =
                    Some("add `mission:` with at least `name:`; see docs/mission-spec.md".into());
            }
        }
        if let Some(node) = top.take("phases") {
            for item in self.owned_list(node, "phases") {
                self.phase(item, &mut mission);
            }
        }
        if let Some(node) = top.take("tasks") {
            for item in self.owned_list(node, "tasks") {
                if let Some(task) = self.task(&item, None) {
                    mission.tasks.push(task);
                }
            }
        }
        if let Some(node) = top.get("webhooks") {
            mission.webhooks = self.webhooks(node);
        }
        if mission.tasks.is_empty() && !self.diagnostics.iter().any(Diagnostic::is_error) {
            self.error(
                top.span,
                "spec::no-tasks",
                "the mission has no tasks".into(),
            )
            .hint = Some("add a `tasks:` list, or `tasks:` under a phase".into());
        }
        assign_ids(&mut mission.tasks);
        Some(mission)
    }

    fn mission_block(&mut self, node: &Node, mission: &mut Mission) {
        let Some(fields) = self.fields(node, keys::MISSION, "mission") else {
            return;
        };
        match fields.get("name").and_then(|n| self.text(n, "name")) {
            Some(name) if !name.trim().is_empty() => mission.name = trimmed(name),
            _ => {
                self.error(
                    fields.span,
                    "spec::missing-key",
                    "`mission` has no `name`".into(),
                )
                .hint = Some("add `name: my-mission` under `mission:`".into());
            }
        }
        let text = |reader: &mut Self, key: &str| fields.get(key).and_then(|n| reader.text(n, key));
        mission.objective = text(self, "objective")
            .unwrap_or_default()
            .trim()
            .to_string();
        mission.project_type = text(self, "project_type");
        match fields.get("priority") {
            Some(n) if matches!(n.value, Value::Int(_)) => {
                let bound = i64::from(i32::MAX);
                if let Some(p) = self.integer(n, "priority", -bound) {
                    mission.standing.priority = p.min(bound) as i32;
                }
            }
            Some(n) => mission.priority = self.mission_priority(n),
            None => {}
        }
        if let Some(share) = fields
            .get("share")
            .and_then(|n| self.integer(n, "share", 1))
        {
            mission.standing.share = u32::try_from(share).unwrap_or(u32::MAX);
        }
        mission.repository = text(self, "repository");
        mission.merge = fields.get("merge").and_then(|n| {
            let value = self.text(n, "merge")?;
            if matches!(value.as_str(), "merge" | "rebase") {
                return Some(value);
            }
            self.error(
                n.span(),
                "spec::bad-value",
                format!("`merge` is `merge` or `rebase`, not `{value}`"),
            )
            .hint =
                Some("`merge` makes a merge commit per task; `rebase` replays its commits".into());
            None
        });
        mission.on_conflict = text(self, "on_conflict");
        mission.wip_limit = fields
            .get("wip_limit")
            .and_then(|n| self.integer(n, "wip_limit", 1))
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        mission.deadline = fields.get("deadline").and_then(|n| self.deadline(n));
        mission.agents = fields
            .get("agents")
            .map(|n| self.text_or_list(n, "agents"))
            .unwrap_or_default();
        mission.done_when = fields
            .get("definition_of_done")
            .map(|n| self.done_list(n))
            .unwrap_or_default();
        if let Some(node) = fields.get("budget") {
            mission.budget = self.budget(node);
        }
        if let Some(node) = fields.get("defaults") {
            self.defaults(node, &mut mission.defaults);
        }
    }

    fn budget(&mut self, node: &Node) -> Option<Budget> {
        let fields = self.fields(node, keys::BUDGET, "budget")?;
        Some(Budget {
            usd: fields.get("usd").and_then(|n| self.number(n, "usd", 0.0)),
            tokens: fields
                .get("tokens")
                .and_then(|n| self.integer(n, "tokens", 0))
                .map(|t| t as u64),
        })
    }

    fn defaults(&mut self, node: &Node, defaults: &mut Defaults) {
        let Some(fields) = self.fields(node, keys::DEFAULTS, "defaults") else {
            return;
        };
        if let Some(executor) = fields
            .get("executor")
            .and_then(|n| self.text(n, "executor"))
        {
            defaults.executor = executor;
        }
        if let Some(timeout) = fields
            .get("timeout")
            .and_then(|n| self.duration(n, "timeout"))
        {
            defaults.timeout = timeout;
        }
        defaults.retries = fields
            .get("retries")
            .and_then(|n| self.integer(n, "retries", 0))
            .map(|r| r as u32);
        if let Some(node) = fields.get("backoff") {
            let delays: Vec<_> = self
                .list(node, "backoff")
                .into_iter()
                .filter_map(|n| self.duration(n, "backoff"))
                .collect();
            if !delays.is_empty() {
                defaults.backoff = delays;
            }
        }
        if let Some(p) = fields
            .get("max_parallel")
            .and_then(|n| self.integer(n, "max_parallel", 1))
        {
            defaults.max_parallel = p as u32;
        }
        if let Some(node) = fields.get("launch_delay") {
            defaults.launch_delay = self
                .duration_or_zero(node, "launch_delay")
                .unwrap_or_default();
        }
        if let Some(node) = fields.get("concurrency") {
            defaults.concurrency = self.limits(node, "concurrency");
        }
        if let Some(node) = fields.get("on_blocked")
            && let Some(value) = self.text(node, "on_blocked")
        {
            match value.as_str() {
                "retry" => defaults.on_blocked = OnBlocked::Retry,
                "split" => defaults.on_blocked = OnBlocked::Split,
                "ask" => defaults.on_blocked = OnBlocked::Ask,
                _ => {
                    self.error(
                        node.span(),
                        "spec::bad-value",
                        format!("`on_blocked` is `retry`, `split` or `ask`, not `{value}`"),
                    )
                    .hint = Some(
                        "`retry` tells the next attempts what blocked the last, then tries the backup; `split` splits the task into the parts its agent proposed (`::split`); `ask` asks you at once"
                            .into(),
                    );
                }
            }
        }
        if let Some(b) = fields
            .get("serialize_overlaps")
            .and_then(|n| self.boolean(n, "serialize_overlaps"))
        {
            defaults.serialize_overlaps = b;
        }
        if let Some(f) = fields
            .get("failure_threshold")
            .and_then(|n| self.fraction(n, "failure_threshold"))
        {
            defaults.failure_threshold = f;
        }
        if let Some(f) = fields
            .get("forecast_slip")
            .and_then(|n| self.fraction(n, "forecast_slip"))
        {
            defaults.forecast_slip = f;
        }
    }

    /// How many task entries the file has, phases' included: the size of
    /// [`Mission::tasks`], reserved at once rather than grown by doubling.
    fn task_entries(&self, top: &OwnedFields) -> usize {
        let list_len = |node: Option<&Node>| match node.map(|n| &n.value) {
            Some(Value::List(items)) => items.len(),
            _ => 0,
        };
        let in_phases = match top.get("phases").map(|n| &n.value) {
            Some(Value::List(phases)) => phases
                .iter()
                .map(|phase| match &phase.value {
                    Value::Map(entries) => list_len(
                        entries
                            .iter()
                            .find(|(key, _)| key.scalar_text(self.source) == Some("tasks"))
                            .map(|(_, value)| value),
                    ),
                    _ => 0,
                })
                .sum(),
            _ => 0,
        };
        list_len(top.get("tasks")) + in_phases
    }

    fn phase(&mut self, node: Node, mission: &mut Mission) {
        let Some(mut fields) = self.owned_fields(node, keys::PHASE, "phase") else {
            return;
        };
        let index = mission.phases.len();
        let name = fields.get("name").and_then(|n| self.text(n, "name"));
        let name = name.unwrap_or_else(|| {
            self.error(
                fields.span,
                "spec::missing-key",
                "a phase has no `name`".into(),
            )
            .hint = Some("add `name: Foundation` (or any name) to the phase".into());
            format!("phase {}", index + 1)
        });
        let gates = fields
            .get("gates")
            .map(|n| self.gates(n))
            .unwrap_or_default();
        let description = fields
            .get("description")
            .and_then(|n| self.text(n, "description"))
            .unwrap_or_default();
        let mut tasks = Vec::new();
        if let Some(list) = fields.take("tasks") {
            for item in self.owned_list(list, "tasks") {
                if let Some(task) = self.task(&item, Some(index)) {
                    tasks.push(mission.tasks.len());
                    mission.tasks.push(task);
                }
            }
        }
        if tasks.is_empty() {
            self.diagnostics.push(
                Diagnostic::warning("spec::empty-phase", format!("phase `{name}` has no tasks"))
                    .at(fields.span)
                    .hint("add `tasks:` to the phase or remove it"),
            );
        }
        mission.phases.push(Phase {
            name,
            description,
            gates,
            tasks,
            span: fields.span,
        });
    }

    fn task(&mut self, node: &Node, phase: Option<usize>) -> Option<Task> {
        let fields = self.fields(node, keys::TASK, "task")?;
        let id_node = fields.get("id");
        let id = id_node.and_then(|n| self.task_id(n));
        let title = fields.get("title").and_then(|n| self.text(n, "title"));
        let title = match title {
            Some(title) if !title.trim().is_empty() => trimmed(title),
            _ => {
                let which = id.as_deref().map_or(String::new(), |id| format!(" `{id}`"));
                self.error(
                    fields.span,
                    "spec::missing-key",
                    format!("task{which} has no `title`"),
                )
                .hint = Some("add `title:` with one line saying what to do".into());
                String::new()
            }
        };
        let text = |reader: &mut Self, key: &str| fields.get(key).and_then(|n| reader.text(n, key));
        let list = |reader: &mut Self, key: &str| {
            fields
                .get(key)
                .map(|n| reader.text_list(n, key))
                .unwrap_or_default()
        };
        let depends_on_nodes = fields
            .get("depends_on")
            .map(|n| self.text_nodes(n, "depends_on"));
        let (mut depends_on, mut depends_on_spans) = (Vec::new(), Vec::new());
        let (mut external, mut external_spans) = (Vec::new(), Vec::new());
        for (text, span) in depends_on_nodes.unwrap_or_default() {
            match ExternalDependency::parse(&text) {
                None => {
                    depends_on.push(text);
                    depends_on_spans.push(span);
                }
                Some(Ok(dependency)) => {
                    external.push(dependency);
                    external_spans.push(span);
                }
                Some(Err(why)) => {
                    self.error(span.into(), "spec::bad-dependency", why).hint = Some(
                        "a task of another mission is `mission/TASK`, e.g. `billing/API`".into(),
                    );
                }
            }
        }
        let entry = CompactSpan::from(fields.span);
        let spans = TaskSpans {
            entry,
            id: id_node.map_or(entry, Node::compact_span),
            agent: fields.get("agent").map(Node::compact_span),
            backup: fields.get("backup").map(Node::compact_span),
            depends_on: depends_on_spans.into_boxed_slice(),
            external: external_spans.into_boxed_slice(),
        };
        Some(Task {
            id_assigned: id.is_none(),
            id: id.unwrap_or_default(),
            title,
            description: text(self, "description")
                .unwrap_or_default()
                .trim()
                .to_string(),
            agent: text(self, "agent"),
            backup: text(self, "backup"),
            priority: fields
                .get("priority")
                .and_then(|n| self.priority(n))
                .unwrap_or_default(),
            kind: fields.get("kind").and_then(|n| self.task_kind(n)),
            depends_on,
            external,
            estimate_hours: fields.get("estimate").and_then(|n| self.hours(n)),
            timeout: fields
                .get("timeout")
                .and_then(|n| self.duration(n, "timeout")),
            retries: fields
                .get("retries")
                .and_then(|n| self.integer(n, "retries", 0))
                .map(|r| r as u32),
            executor: text(self, "executor"),
            command: fields.get("command").and_then(|n| self.argv(n)),
            gates: fields
                .get("gates")
                .map(|n| self.gates(n))
                .unwrap_or_default(),
            acceptance: list(self, "acceptance"),
            artifacts: list(self, "artifacts"),
            needs: list(self, "needs"),
            paths: list(self, "paths"),
            labels: fields
                .get("labels")
                .map(|n| self.labels(n))
                .unwrap_or_default(),
            budget: fields.get("budget").and_then(|n| self.budget(n)),
            phase,
            spans,
        })
    }

    fn task_kind(&mut self, node: &Node) -> Option<crate::history::TaskKind> {
        let value = self.text(node, "kind")?;
        if let Some(kind) = crate::history::TaskKind::parse(value.trim()) {
            return Some(kind);
        }
        let names: Vec<&str> = crate::history::TaskKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect();
        self.error(
            node.span(),
            "spec::bad-value",
            format!("`kind` is one of the task kinds, not `{value}`"),
        )
        .hint = Some(format!(
            "use one of {}, or leave `kind` out to infer it from the title",
            names.join(", ")
        ));
        None
    }

    fn task_id(&mut self, node: &Node) -> Option<String> {
        let id = self.text(node, "id")?;
        let valid = id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            self.error(node.span(), "spec::bad-id", format!("task ID `{id}` is not usable"))
                .hint = Some("use letters, digits, `-`, `_` and `.`, starting with a letter or digit (e.g. API-003)".into());
            return None;
        }
        Some(id)
    }

    fn gates(&mut self, node: &Node) -> Vec<Gate> {
        let items: Vec<&Node> = match &node.value {
            Value::List(items) => items.iter().collect(),
            _ => vec![node],
        };
        items
            .into_iter()
            .filter_map(|item| self.gate(item))
            .collect()
    }

    fn gate(&mut self, node: &Node) -> Option<Gate> {
        if let Some(run) = node.str(self.source) {
            return Some(Gate::Command {
                name: None,
                run: run.to_string(),
                timeout: None,
            });
        }
        let fields = self.fields(node, keys::GATE, "gate")?;
        let text = |reader: &mut Self, key: &str| fields.get(key).and_then(|n| reader.text(n, key));
        let (run, review) = (text(self, "run"), text(self, "review"));
        match (run, review) {
            (Some(run), None) => Some(Gate::Command {
                name: text(self, "name"),
                run,
                timeout: fields
                    .get("timeout")
                    .and_then(|n| self.duration(n, "timeout")),
            }),
            (None, Some(agent)) => Some(Gate::Review {
                agent,
                instructions: text(self, "instructions").unwrap_or_default(),
            }),
            (run, _) => {
                let message = if run.is_some() {
                    "a gate has both `run` and `review`"
                } else {
                    "a gate needs `run` (a command) or `review` (an agent)"
                };
                self.error(fields.span, "spec::bad-gate", message.into()).hint =
                    Some("write `- run: cargo test` or `- review: code-reviewer`; a plain string is a command".into());
                None
            }
        }
    }

    /// The definition of done: each item a statement the person confirms,
    /// or `{item, run}`, a statement techlead checks with a command.
    fn done_list(&mut self, node: &Node) -> Vec<DoneItem> {
        self.list(node, "definition_of_done")
            .into_iter()
            .filter_map(|item| self.done_item(item))
            .collect()
    }

    fn done_item(&mut self, node: &Node) -> Option<DoneItem> {
        if !matches!(node.value, Value::Map(_)) {
            let text = self.text(node, "definition_of_done")?;
            return Some(DoneItem {
                text: trimmed(text),
                run: None,
            });
        }
        let fields = self.fields(node, keys::DONE, "a definition_of_done item")?;
        let text = fields.get("item").and_then(|n| self.text(n, "item"));
        let run = fields.get("run").and_then(|n| self.text(n, "run"));
        let Some(text) = text.map(trimmed).filter(|t| !t.is_empty()) else {
            self.error(
                fields.span,
                "spec::bad-done",
                "a definition_of_done item needs `item`: the statement it checks".into(),
            )
            .hint = Some(
                "write `- {item: Tests pass, run: cargo test}`; a plain string is a statement you confirm"
                    .into(),
            );
            return None;
        };
        let run = match run.map(trimmed) {
            Some(run) if run.is_empty() => {
                let span = fields.get("run").map_or(fields.span, Node::span);
                self.error(
                    span,
                    "spec::bad-done",
                    format!("the check of `{text}` has an empty `run`"),
                )
                .hint = Some(
                    "write the shell command that passes when the item holds, or leave `run` out for the person to confirm it"
                        .into(),
                );
                return None;
            }
            run => run,
        };
        Some(DoneItem { text, run })
    }

    /// Checks a mapping's keys against `table`, reporting unknown ones with
    /// the nearest known key as a hint.
    fn fields<'n>(&mut self, node: &'n Node, table: &[Key], what: &str) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            self.expected(node, what, "a mapping of `key: value` lines");
            return None;
        };
        let mut fields = Fields {
            span: node.span(),
            entries: Vec::new(),
        };
        for (key, value) in entries {
            let name = key.scalar_text(self.source).unwrap_or_default();
            match table.iter().find(|k| k.name == name) {
                Some(known) => fields.entries.push((known.name, value)),
                None => self.unknown_key(key.span(), name, table, what),
            }
        }
        Some(fields)
    }

    /// As [`Reader::fields`], keeping the values.
    fn owned_fields(&mut self, node: Node, table: &[Key], what: &str) -> Option<OwnedFields> {
        if !matches!(node.value, Value::Map(_)) {
            self.expected(&node, what, "a mapping of `key: value` lines");
            return None;
        }
        let span = node.span();
        let Value::Map(entries) = node.value else {
            unreachable!("checked above")
        };
        let mut fields = OwnedFields {
            span,
            entries: Vec::new(),
        };
        for (key, value) in entries {
            let name = key.scalar_text(self.source).unwrap_or_default();
            match table.iter().find(|k| k.name == name) {
                Some(known) => fields.entries.push((known.name, value)),
                None => self.unknown_key(key.span(), name, table, what),
            }
        }
        Some(fields)
    }

    fn unknown_key(&mut self, span: SourceSpan, name: &str, table: &[Key], what: &str) {
        let hint = match nearest(name, keys::names(table)) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!(
                "known keys of {what}: {}",
                keys::names(table).collect::<Vec<_>>().join(", ")
            ),
        };
        self.error(
            span,
            "spec::unknown-key",
            format!("unknown key `{name}` in {what}"),
        )
        .hint = Some(hint);
    }

    fn list<'n>(&mut self, node: &'n Node, what: &str) -> Vec<&'n Node> {
        match &node.value {
            Value::List(items) => items.iter().collect(),
            _ => {
                self.expected(node, what, "a list");
                Vec::new()
            }
        }
    }

    /// As [`Reader::list`], by value: each item is freed once consumed.
    fn owned_list(&mut self, node: Node, what: &str) -> Vec<Node> {
        match node.value {
            Value::List(items) => items.into_vec(),
            _ => {
                self.expected(&node, what, "a list");
                Vec::new()
            }
        }
    }

    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        let text = node.scalar_text(self.source);
        if text.is_none() {
            self.expected(node, what, "text");
        }
        text.map(str::to_string)
    }

    fn text_nodes(&mut self, node: &Node, what: &str) -> Vec<(String, CompactSpan)> {
        let items: Vec<&Node> = match &node.value {
            Value::List(items) => items.iter().collect(),
            _ => vec![node],
        };
        items
            .into_iter()
            .filter_map(|item| {
                self.text(item, what)
                    .map(|t| (trimmed(t), item.compact_span()))
            })
            .collect()
    }

    fn text_or_list(&mut self, node: &Node, what: &str) -> Vec<String> {
        self.text_nodes(node, what)
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    }

    fn text_list(&mut self, node: &Node, what: &str) -> Vec<String> {
        self.list(node, what)
            .into_iter()
            .filter_map(|item| self.text(item, what))
            .collect()
    }

    /// A task's labels, each checked as `techlead worker --labels` checks
    /// them, sorted and without repeats.
    fn labels(&mut self, node: &Node) -> Vec<String> {
        let mut labels = self.text_list(node, "labels");
        if let Some(error) = labels
            .iter()
            .find_map(|l| crate::work::check_label(l).err())
        {
            self.error(node.span(), "spec::bad-label", error.to_string())
                .hint = Some("e.g. `labels: [gpu, claude-login]`".into());
        }
        labels.sort();
        labels.dedup();
        labels
    }

    fn argv(&mut self, node: &Node) -> Option<Vec<String>> {
        let argv = match &node.value {
            Value::List(_) => self.text_list(node, "command"),
            _ => self
                .text(node, "command")?
                .split_whitespace()
                .map(String::from)
                .collect(),
        };
        if argv.is_empty() {
            self.error(
                node.span(),
                "spec::bad-command",
                "`command` is empty".into(),
            )
            .hint =
                Some("write the program and its arguments, e.g. `command: [make, test]`".into());
            return None;
        }
        Some(argv)
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        let Value::Bool(value) = node.value else {
            self.expected(node, what, "`true` or `false`");
            return None;
        };
        Some(value)
    }

    fn integer(&mut self, node: &Node, what: &str, minimum: i64) -> Option<i64> {
        let Value::Int(value) = node.value else {
            self.expected(node, what, "a whole number");
            return None;
        };
        self.at_least(node, what, value, minimum)
    }

    /// `value` if it is at least `minimum`, else an out-of-range error.
    fn at_least<T: PartialOrd + std::fmt::Display>(
        &mut self,
        node: &Node,
        what: &str,
        value: T,
        minimum: T,
    ) -> Option<T> {
        if value < minimum {
            self.error(
                node.span(),
                "spec::out-of-range",
                format!("`{what}` must be at least {minimum}, found {value}"),
            );
            return None;
        }
        Some(value)
    }

    fn number(&mut self, node: &Node, what: &str, minimum: f64) -> Option<f64> {
        let value = match node.value {
            Value::Int(i) => i as f64,
            Value::Float(f) if f.is_finite() => f,
            _ => {
                self.expected(node, what, "a number");
                return None;
            }
        };
        self.at_least(node, what, value, minimum)
    }

    fn fraction(&mut self, node: &Node, what: &str) -> Option<f64> {
        let text = node.str(self.source).unwrap_or_default();
        let value = match &node.value {
            Value::Str(_) if text.trim_end().ends_with('%') => text
                .trim_end()
                .trim_end_matches('%')
                .trim()
                .parse::<f64>()
                .ok()
                .map(|p| p / 100.0),
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        };
        match value {
            Some(v) if (0.0..=1.0).contains(&v) => Some(v),
            _ => {
                self.error(
                    node.span(),
                    "spec::out-of-range",
                    format!("`{what}` must be a fraction between 0 and 1 or a percentage"),
                )
                .hint = Some("write `0.5` or `50%`".into());
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, what: &str) -> Option<SignedDuration> {
        let text = node.scalar_text(self.source).unwrap_or_default();
        match parse_duration(text) {
            Some(d) if d.is_positive() => Some(d),
            Some(_) => {
                self.error(
                    node.span(),
                    "spec::bad-duration",
                    format!("`{what}` must be longer than zero"),
                );
                None
            }
            None => {
                self.error(
                    node.span(),
                    "spec::bad-duration",
                    format!("`{what}` is not a duration: `{text}`"),
                )
                .hint = Some("write a number with a unit: `90s`, `45m`, `1h30m`, `2d`".into());
                None
            }
        }
    }

    fn duration_or_zero(&mut self, node: &Node, what: &str) -> Option<SignedDuration> {
        let text = node.scalar_text(self.source).unwrap_or_default();
        if matches!(text.trim(), "0" | "0s") {
            return Some(SignedDuration::ZERO);
        }
        self.duration(node, what)
    }

    fn limits(&mut self, node: &Node, what: &str) -> Vec<(String, u32)> {
        let Value::Map(entries) = &node.value else {
            self.expected(node, what, "a mapping of executor names to numbers");
            return Vec::new();
        };
        entries
            .iter()
            .filter_map(|(key, value)| {
                let name = self.text(key, what)?;
                let limit = self.integer(value, what, 1)?;
                Some((name, limit as u32))
            })
            .collect()
    }

    fn hours(&mut self, node: &Node) -> Option<f64> {
        let hours = match node.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => node
                .scalar_text(self.source)
                .and_then(parse_duration)
                .map(|d| d.as_secs_f64() / 3600.0),
        };
        match hours {
            Some(h) if h.is_finite() && h > 0.0 => Some(h),
            _ => {
                self.error(
                    node.span(),
                    "spec::bad-duration",
                    "`estimate` must be a positive number of hours or a duration".into(),
                )
                .hint = Some("write `estimate: 4` (hours) or `estimate: 90m`".into());
                None
            }
        }
    }

    fn deadline(&mut self, node: &Node) -> Option<Timestamp> {
        let text = node.scalar_text(self.source).unwrap_or_default();
        let text = text.trim();
        if let Ok(timestamp) = text.parse::<Timestamp>() {
            return Some(timestamp);
        }
        let end_of_day = text
            .parse::<Date>()
            .ok()
            .and_then(|date| format!("{date}T23:59:59Z").parse::<Timestamp>().ok());
        if end_of_day.is_none() {
            self.error(
                node.span(),
                "spec::bad-deadline",
                format!("`deadline` is not a date: `{text}`"),
            )
            .hint = Some("write `2026-12-15` or `2026-12-15T17:00:00+01:00`".into());
        }
        end_of_day
    }

    /// A mission's `priority` word: only `critical` means something (an
    /// emergency); a number is its place among missions, read above.
    fn mission_priority(&mut self, node: &Node) -> Option<Priority> {
        let priority = self.priority(node);
        if priority.is_none()
            && let Some(diagnostic) = self.diagnostics.last_mut()
            && diagnostic.code == "spec::bad-priority"
        {
            diagnostic.hint = Some(
                "a mission's priority is `critical` (an emergency) or a whole number (the highest waiting mission goes first for shared agents)".into(),
            );
        }
        priority
    }

    fn priority(&mut self, node: &Node) -> Option<Priority> {
        let text = self.text(node, "priority")?;
        let priority = text.parse::<Priority>().ok();
        if priority.is_none() {
            let names = Priority::ALL.map(Priority::as_str);
            let hint = match nearest(&text.to_lowercase(), names) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "use critical, high, medium or low".to_string(),
            };
            self.error(
                node.span(),
                "spec::bad-priority",
                format!("unknown priority `{text}`"),
            )
            .hint = Some(hint);
        }
        priority
    }
}

fn yaml_diagnostic(error: yaml::YamlError) -> Diagnostic {
    Diagnostic::error("spec::yaml", format!("invalid YAML: {}", error.message))
        .at(error.span)
        .label("the YAML parser stopped here")
        .hint("check indentation and quoting; text containing `: ` or starting with `*`, `&`, `!` or `{` must be quoted")
}

/// A duration such as `90s`, `45m`, `1h30m`, `2d` or ISO 8601 `PT1H`.
/// Days are 24 hours: agents do not keep office hours.
pub(crate) fn parse_duration(text: &str) -> Option<SignedDuration> {
    let span: Span = text.trim().parse().ok()?;
    span.to_duration(SpanRelativeTo::days_are_24_hours()).ok()
}

/// `text` without surrounding white space, reusing its buffer.
fn trimmed(mut text: String) -> String {
    let end = text.trim_end().len();
    text.truncate(end);
    let start = text.len() - text.trim_start().len();
    text.drain(..start);
    text
}

/// Gives IDs to tasks that have none, as REQ-001, REQ-002, ... in file
/// order, skipping numbers already taken.
fn assign_ids(tasks: &mut [Task]) {
    if !tasks.iter().any(|t| t.id_assigned) {
        return;
    }
    let mut taken: HashSet<String> = tasks
        .iter()
        .filter(|t| !t.id_assigned)
        .map(|t| t.id.clone())
        .collect();
    let mut next = 1;
    for task in tasks.iter_mut().filter(|t| t.id_assigned) {
        let id = loop {
            let candidate = format!("REQ-{next:03}");
            next += 1;
            if !taken.contains(&candidate) {
                break candidate;
            }
        };
        taken.insert(id.clone());
        task.id = id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `code line:column: message` of every diagnostic (also for the
    /// tests of `parse`'s submodules).
    pub(in crate::spec::parse) fn problems(source: &str) -> Vec<String> {
        parse(source)
            .diagnostics
            .iter()
            .map(|d| {
                let span = d.span.expect("a place");
                format!("{} {}:{}: {}", d.code, span.line, span.column, d.message)
            })
            .collect()
    }

    #[test]
    fn definition_of_done_items_are_statements_or_checks() {
        let source = "mission:\n  name: m\n  definition_of_done:\n    - The docs are reviewed\n    - item: The tests pass\n      run: cargo test --workspace\n    - {item: '  Spaced  ', run: '  make  '}\n    - {item: Only a statement}\ntasks: [{title: t}]\n";
        let parsed = parse(source);
        assert_eq!(parsed.diagnostics, []);
        let done = parsed.mission.unwrap().done_when;
        let item = |text: &str, run: Option<&str>| DoneItem {
            text: text.into(),
            run: run.map(String::from),
        };
        assert_eq!(
            done,
            [
                item("The docs are reviewed", None),
                item("The tests pass", Some("cargo test --workspace")),
                item("Spaced", Some("make")),
                item("Only a statement", None),
            ]
        );
    }

    #[test]
    fn a_definition_of_done_check_needs_its_item_and_a_command() {
        let source = "mission:\n  name: m\n  definition_of_done:\n    - run: cargo test\n    - {item: Lint, run: ''}\n    - {item: Bench, runs: ./bench}\n    - [nested]\n    - ok\ntasks: [{title: t}]\n";
        assert_eq!(
            problems(source),
            [
                "spec::bad-done 4:7: a definition_of_done item needs `item`: the statement it checks",
                "spec::bad-done 5:25: the check of `Lint` has an empty `run`",
                "spec::unknown-key 6:21: unknown key `runs` in a definition_of_done item",
                "spec::type 7:7: `definition_of_done` must be text, found a list",
            ]
        );
        let parsed = parse(source);
        let hint = parsed.diagnostics[2].hint.as_deref();
        assert_eq!(hint, Some("did you mean `run`?"));
        // What could be read is kept.
        let done = parsed.mission.unwrap().done_when;
        assert_eq!(done.len(), 2);
        assert_eq!(
            (done[0].text.as_str(), done[0].run.as_deref()),
            ("Bench", None)
        );
        assert_eq!(done[1].text, "ok");
    }
}
