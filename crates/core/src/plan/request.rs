//! What a planning agent is asked for `techlead plan --objective`: the
//! objective, the agents it may staff, the format and its rules; and, when
//! its answer was not a valid mission, the same again with the problems.

use super::draft::quote_diagnostics;
use crate::diagnostic::Diagnostic;
use jiff::Timestamp;

/// The planning agent's instructions when the library's agent is not used.
pub const PLANNER_SYSTEM: &str = "You are a senior tech lead. You break an objective down \
into a mission file for techlead: tasks with IDs, dependencies, estimates in hours, the best \
specialist agent for each, and quality gates. You answer with the YAML mission file only.";

/// Everything the prompt is made of.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub objective: &'a str,
    /// The library: (name, description).
    pub agents: Vec<(&'a str, &'a str)>,
    pub now: Timestamp,
    pub deadline: Option<Timestamp>,
    /// The executor the mission's tasks should run on.
    pub executor: &'a str,
    /// Where an agent with file tools should also write the file.
    pub answer_path: Option<&'a str>,
}

/// Descriptions with long examples would drown the list: the first
/// sentence-ish part is enough to choose.
const DESCRIPTION_CHARS: usize = 160;
/// A large library is cut, so that the prompt stays affordable.
const MAX_AGENTS: usize = 200;

/// The first prompt.
pub fn prompt(request: &Request<'_>) -> String {
    let mut out = String::new();
    out.push_str("Plan this objective as a techlead mission file.\n\n## Objective\n\n");
    out.push_str(request.objective.trim());
    out.push_str("\n\n## Agents you may assign (name: what it does)\n\n");
    for (name, description) in request.agents.iter().take(MAX_AGENTS) {
        out.push_str(&format!("- {name}: {}\n", short(description)));
    }
    if request.agents.len() > MAX_AGENTS {
        out.push_str(&format!(
            "- ... and {} more; prefer the ones above\n",
            request.agents.len() - MAX_AGENTS
        ));
    }
    out.push_str(&format!("\n## Rules\n\n{}", rules(request)));
    out.push_str(FORMAT);
    if let Some(path) = request.answer_path {
        out.push_str(&format!(
            "\nIf you can write files, also write the mission file to `{path}`.\n"
        ));
    }
    out
}

/// The prompt again, with the previous answer and what was wrong with it:
/// a planner run through an executor keeps no conversation.
pub fn reask(request: &Request<'_>, answer: &str, diagnostics: &[Diagnostic]) -> String {
    format!(
        "{}\n## Your previous answer was not a valid mission file\n\n\
         techlead's validator found these errors (lines are those of your answer below):\n\n\
         {}\nYour previous answer:\n\n```yaml\n{}```\n\n\
         Answer again with the whole corrected mission file, YAML only.\n",
        prompt(request),
        quote_diagnostics(answer, diagnostics),
        answer
    )
}

fn short(description: &str) -> String {
    let flat = description.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= DESCRIPTION_CHARS {
        return flat;
    }
    let mut cut: String = flat.chars().take(DESCRIPTION_CHARS).collect();
    cut.push('…');
    cut
}

fn rules(request: &Request<'_>) -> String {
    let deadline = match request.deadline {
        Some(deadline) => format!("- Set `mission.deadline: {deadline}`.\n"),
        None => String::new(),
    };
    format!(
        "- It is now {now}.\n{deadline}\
         - Give every task a short upper-case `id` (letters, digits, `-`), a `title`, a \
           `description`, an `agent` from the list above (leave it out when none fits: \
           techlead then picks one), a `priority` (critical, high, medium, low) and an `estimate` in hours.\n\
         - Use `depends_on` only where a task needs another's result; independent work runs \
           in parallel.\n\
         - Group the work into `phases` when milestones help; give phases or tasks `gates`: \
           shell commands that check the work (`make test`) or `review: <agent>`.\n\
         - Set `mission.defaults.executor: {executor}`.\n\
         - Answer with the YAML only: no prose, no code fences.\n",
        now = request.now,
        executor = request.executor,
    )
}

const FORMAT: &str = "
## Format (an example; the keys are the only ones allowed)

mission:
  name: team-booking
  objective: Ship a room booking web app for teams.
  project_type: web-app
  defaults:
    executor: claude-code
    max_parallel: 3
  definition_of_done:
    - Every user flow works end to end
phases:
  - name: Build
    gates: [make test]
    tasks:
      - id: API
        title: Implement the booking API
        description: CRUD for rooms and bookings, double bookings refused.
        agent: backend-architect
        priority: high
        estimate: 6
      - id: UI
        title: Build the booking pages
        agent: frontend-developer
        estimate: 8
        depends_on: [API]
        gates:
          - review: code-reviewer
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Diagnostic, SourceSpan};

    fn request() -> Request<'static> {
        Request {
            objective: "Build a booking web app",
            agents: vec![("backend-architect", "Designs APIs.\nAnd more.")],
            now: "2026-01-05T09:00:00Z".parse().unwrap(),
            deadline: Some("2026-01-09T17:00:00Z".parse().unwrap()),
            executor: "claude-code",
            answer_path: Some("/tmp/x/answer.md"),
        }
    }

    #[test]
    fn the_prompt_lists_the_agents_the_rules_and_the_deadline() {
        let text = prompt(&request());
        assert!(text.contains("- backend-architect: Designs APIs. And more.\n"));
        assert!(text.contains("mission.deadline: 2026-01-09T17:00:00Z"));
        assert!(text.contains("mission.defaults.executor: claude-code"));
        assert!(text.contains("write the mission file to `/tmp/x/answer.md`"));
    }

    #[test]
    fn asking_again_quotes_the_errors_with_their_lines_and_the_answer() {
        let answer = "mission:\n  name: x\n  objetive: y\n";
        let diagnostic =
            Diagnostic::error("spec::unknown-key", "unknown key `objetive` in mission")
                .at(SourceSpan::at(answer, 21, 8))
                .hint("did you mean `objective`?");
        let text = reask(&request(), answer, &[diagnostic]);
        assert!(text.contains(
            "- line 3, column 3: unknown key `objetive` in mission\n    |   objetive: y\n    hint: did you mean `objective`?"
        ), "{text}");
        assert!(text.contains("```yaml\nmission:\n  name: x\n  objetive: y\n```"));
    }
}
