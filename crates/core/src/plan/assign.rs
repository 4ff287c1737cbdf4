//! Who should do a task: rank the library's agents for a task's text.
//!
//! The model is BM25F, the field-weighted form of the BM25 ranking function
//! that search engines use, over four fields of each agent: its name, its
//! `skills:`, its description and its prompt (the Markdown body). A term
//! found in the name counts most, in the prompt least; each field's length
//! is normalised on its own, so a long prompt does not drown a short name.
//! Rare terms (Terraform, Flutter) weigh more than common ones (build,
//! code) through inverse document frequency over the library.
//!
//! Text relevance is normalised so the best candidate scores 1.0, then
//! adjusted modestly:
//!
//! - **load**: each task already assigned to an agent in this plan takes a
//!   little off its score, less for an agent whose `max_parallel` says it
//!   can run several at once, so near-equal candidates share the work;
//! - **history**: an agent with at least three past tasks of the task's
//!   kind (or, without them, three past tasks of any kind) gains or
//!   loses up to 15 % by its (smoothed) success rate on them, and its
//!   reasons say so (docs/history.md).
//!
//! Ties are broken by name, so the same library and text always give the
//! same order. docs/assignment.md explains the choices and the measured
//! accuracy on a labelled set of tasks.

use super::text::{self, Style};
use crate::agents::Agent;
use crate::history::TaskKind;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// How many candidates [`Ranker::rank`] returns at most.
pub const DEFAULT_LIMIT: usize = 10;

/// What the ranker knows about the plan and the past when ranking a task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssignContext {
    /// Tasks already assigned to each agent (by name) in this plan.
    pub load: HashMap<String, u32>,
    /// Past outcomes of each agent (by name).
    pub history: HashMap<String, AgentRecord>,
    /// Past outcomes of each agent (by name) per kind of task: preferred
    /// to `history` when the agent has enough of the task's kind.
    pub kinds: HashMap<String, HashMap<TaskKind, AgentRecord>>,
}

/// The start of the reason that history gives for a candidate.
pub const HISTORY_REASON: &str = "history: ";

/// How an agent did on past tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    pub successes: u32,
    pub failures: u32,
}

impl AgentRecord {
    pub fn attempts(&self) -> u32 {
        self.successes.saturating_add(self.failures)
    }
}

/// One agent proposed for a task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub name: String,
    /// Text relevance relative to the best match (1.0), after the load and
    /// history adjustments.
    pub score: f64,
    /// Why, in sentences a person can check.
    pub reasons: Vec<String>,
}

/// The weight and length normalisation of one field.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FieldParams {
    /// How much one occurrence of a term in this field counts.
    pub weight: f64,
    /// BM25's `b`: 0 ignores the field's length, 1 divides by it fully.
    pub b: f64,
}

/// The ranking model's constants. [`Params::default`] holds the measured
/// choice; the accuracy test varies them to show what each one buys.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {
    /// BM25's term-frequency saturation: how quickly repeats stop adding.
    pub k1: f64,
    pub name: FieldParams,
    pub skills: FieldParams,
    pub description: FieldParams,
    pub prompt: FieldParams,
    /// Drop `<example>...</example>` dialogue from descriptions before
    /// indexing them.
    pub strip_examples: bool,
    /// How much more a word of the text's first line (a task's title)
    /// counts than a word of the rest.
    pub title_weight: f64,
    /// Score taken off per task already assigned, divided by the agent's
    /// `max_parallel` (1 when unset).
    pub load_step: f64,
    /// The most the load can take off.
    pub max_load_penalty: f64,
    /// Past attempts needed before history counts.
    pub min_history: u32,
    /// Swing of the history adjustment: the score is multiplied by
    /// `1 + history_weight * (rate - 0.5)`, with the success rate smoothed
    /// as `(successes + 1) / (attempts + 2)`.
    pub history_weight: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            k1: 1.2,
            name: FieldParams {
                weight: 3.0,
                b: 0.5,
            },
            skills: FieldParams {
                weight: 2.0,
                b: 0.5,
            },
            description: FieldParams {
                weight: 1.0,
                b: 0.75,
            },
            prompt: FieldParams {
                weight: 0.1,
                b: 0.75,
            },
            strip_examples: true,
            title_weight: 1.5,
            load_step: 0.06,
            max_load_penalty: 0.3,
            min_history: 3,
            history_weight: 0.3,
        }
    }
}

const NAME: usize = 0;
const SKILLS: usize = 1;
const DESCRIPTION: usize = 2;
const PROMPT: usize = 3;
const FIELDS: usize = 4;

/// An index over a library's agents, built once and asked many times.
#[derive(Debug, Clone)]
pub struct Ranker {
    params: Params,
    agents: Vec<Entry>,
    /// Stem -> term number.
    vocabulary: HashMap<String, u32>,
    /// By term number: the agents whose fields hold the term, by agent.
    postings: Vec<Vec<Posting>>,
    /// By term number.
    idf: Vec<f64>,
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    max_parallel: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Posting {
    agent: u32,
    /// The BM25F term weight, saturated: `tf * (k1 + 1) / (k1 + tf)` where
    /// `tf` is the field-weighted, length-normalised term frequency. It
    /// does not depend on the query, so it is computed once here.
    weight: f64,
    /// Bit `f` set when field `f` holds the term.
    fields: u8,
}

impl Ranker {
    /// Indexes `agents` with the default parameters. When two agents share
    /// a name the first one is kept (a [`crate::agents::Library`] has
    /// already resolved such clashes).
    pub fn new(agents: &[Agent]) -> Ranker {
        Ranker::with_params(agents, Params::default())
    }

    pub fn with_params(agents: &[Agent], params: Params) -> Ranker {
        let mut builder = Builder::default();
        let mut seen = HashSet::new();
        let mut entries = Vec::with_capacity(agents.len());
        for agent in agents {
            if !seen.insert(agent.name.as_str()) {
                continue;
            }
            entries.push(Entry {
                name: agent.name.clone(),
                max_parallel: agent.orchestration.max_parallel,
            });
            let description = if params.strip_examples {
                strip_examples(&agent.description)
            } else {
                Cow::Borrowed(agent.description.as_str())
            };
            builder.add(&agent.name, &agent.skills, &description, &agent.prompt);
        }
        let (vocabulary, postings, idf) = builder.finish(&params);
        Ranker {
            params,
            agents: entries,
            vocabulary,
            postings,
            idf,
        }
    }

    /// The parameters the index was built with.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// How many agents the index holds.
    pub fn len(&self) -> usize {
        self.agents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// The best [`DEFAULT_LIMIT`] agents for a task's text, best first.
    /// Agents that match no word of the text are left out; an empty answer
    /// means nobody fits and the general-purpose agent should take it.
    pub fn rank(&self, text: &str, context: &AssignContext) -> Vec<Candidate> {
        self.rank_top(text, context, DEFAULT_LIMIT)
    }

    /// As [`Ranker::rank`], with at most `limit` candidates.
    pub fn rank_top(&self, text: &str, context: &AssignContext, limit: usize) -> Vec<Candidate> {
        self.rank_explained(text, context, limit, limit)
    }

    /// As [`Ranker::rank_top`], with reasons for the first `explained`
    /// candidates only (the others' are empty): a plan keeps only a few.
    pub fn rank_explained(
        &self,
        text: &str,
        context: &AssignContext,
        limit: usize,
        explained: usize,
    ) -> Vec<Candidate> {
        self.rank_kind(text, None, context, limit, explained)
    }

    /// As [`Ranker::rank_explained`] for a task of `kind`: history on that
    /// kind counts when there is enough of it.
    pub fn rank_kind(
        &self,
        text: &str,
        kind: Option<TaskKind>,
        context: &AssignContext,
        limit: usize,
        explained: usize,
    ) -> Vec<Candidate> {
        let query = self.query(text);
        if query.is_empty() || limit == 0 {
            return Vec::new();
        }
        let mut relevance = vec![0.0; self.agents.len()];
        for term in &query {
            for posting in &self.postings[term.id as usize] {
                relevance[posting.agent as usize] += term.weight * posting.weight;
            }
        }
        let best = relevance.iter().copied().fold(0.0, f64::max);
        if best <= 0.0 {
            return Vec::new();
        }
        let mut scored: Vec<(usize, f64)> = relevance
            .iter()
            .enumerate()
            .filter(|&(_, &r)| r > 0.0)
            .map(|(agent, &r)| (agent, r / best * self.adjustment(agent, context, kind)))
            .collect();
        let by_score = |a: &(usize, f64), b: &(usize, f64)| {
            b.1.partial_cmp(&a.1)
                .unwrap_or(Ordering::Equal)
                .then_with(|| self.agents[a.0].name.cmp(&self.agents[b.0].name))
        };
        if scored.len() > limit {
            scored.select_nth_unstable_by(limit - 1, by_score);
            scored.truncate(limit);
        }
        scored.sort_by(by_score);
        scored
            .into_iter()
            .enumerate()
            .map(|(rank, (agent, score))| Candidate {
                name: self.agents[agent].name.clone(),
                score,
                reasons: if rank < explained {
                    self.reasons(agent, &query, context, kind)
                } else {
                    Vec::new()
                },
            })
            .collect()
    }

    /// The distinct known terms of a text with their query weights.
    fn query(&self, text: &str) -> Vec<QueryTerm> {
        let mut query: Vec<QueryTerm> = Vec::new();
        let title_end = text.find('\n').unwrap_or(text.len());
        let title = text::terms(&text[..title_end], Style::Prose);
        let titled = title.len();
        let rest = text::terms(&text[title_end..], Style::Prose);
        for (index, term) in title.into_iter().chain(rest).enumerate() {
            let in_title = index < titled;
            let Some(&id) = self.vocabulary.get(&term.stem) else {
                continue;
            };
            match query.iter_mut().find(|q| q.id == id) {
                Some(q) => {
                    q.in_title |= in_title;
                    if !q.words.contains(&term.word) {
                        q.words.push(term.word);
                    }
                }
                None => query.push(QueryTerm {
                    id,
                    in_title,
                    words: vec![term.word],
                    weight: 0.0,
                }),
            }
        }
        for term in &mut query {
            let title = if term.in_title {
                self.params.title_weight
            } else {
                1.0
            };
            term.weight = self.idf[term.id as usize] * title;
        }
        query
    }

    /// The load and history factor for one agent.
    fn adjustment(&self, agent: usize, context: &AssignContext, kind: Option<TaskKind>) -> f64 {
        let entry = &self.agents[agent];
        let mut factor = 1.0;
        if let Some(&load) = context.load.get(&entry.name) {
            let capacity = f64::from(entry.max_parallel.unwrap_or(1).max(1));
            let penalty = self.params.load_step * f64::from(load) / capacity;
            factor *= 1.0 - penalty.min(self.params.max_load_penalty);
        }
        if let Some((record, _)) = self.record(&entry.name, context, kind) {
            factor *= 1.0 + self.params.history_weight * (success_rate(record) - 0.5);
        }
        factor
    }

    /// The record history judges an agent by: on tasks of `kind` when it
    /// has enough of them (with the kind), else on all its tasks.
    fn record<'c>(
        &self,
        agent: &str,
        context: &'c AssignContext,
        kind: Option<TaskKind>,
    ) -> Option<(&'c AgentRecord, Option<TaskKind>)> {
        let enough = |r: &&AgentRecord| r.attempts() >= self.params.min_history;
        let of_kind = kind.and_then(|k| {
            let record = context.kinds.get(agent)?.get(&k).filter(enough)?;
            Some((record, Some(k)))
        });
        of_kind.or_else(|| {
            let record = context.history.get(agent).filter(enough)?;
            Some((record, None))
        })
    }

    fn reasons(
        &self,
        agent: usize,
        query: &[QueryTerm],
        context: &AssignContext,
        kind: Option<TaskKind>,
    ) -> Vec<String> {
        // Query terms this agent holds, strongest first.
        let mut hits: Vec<(f64, u8, &QueryTerm)> = query
            .iter()
            .filter_map(|term| {
                let postings = &self.postings[term.id as usize];
                let at = postings
                    .binary_search_by_key(&(agent as u32), |p| p.agent)
                    .ok()?;
                let posting = postings[at];
                Some((term.weight * posting.weight, posting.fields, term))
            })
            .collect();
        hits.sort_by(|a, b| {
            b.0.partial_cmp(&a.0)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.2.words[0].cmp(&b.2.words[0]))
        });
        let words_in = |field: usize| -> Vec<&str> {
            hits.iter()
                .filter(|(_, fields, _)| fields & (1 << field) != 0)
                .map(|(_, _, term)| term.words[0].as_str())
                .take(4)
                .collect()
        };
        let mut reasons = Vec::new();
        let name = words_in(NAME);
        if !name.is_empty() {
            reasons.push(format!("name matches {}", quoted(&name)));
        }
        let skills = words_in(SKILLS);
        if !skills.is_empty() {
            let verb = if skills.len() == 1 {
                "matches"
            } else {
                "match"
            };
            reasons.push(format!("skills {verb} {}", quoted(&skills)));
        }
        let description = words_in(DESCRIPTION);
        if !description.is_empty() {
            reasons.push(format!("matches {} in description", quoted(&description)));
        }
        let prompt = words_in(PROMPT);
        if reasons.is_empty() && !prompt.is_empty() {
            reasons.push(format!("matches {} in its prompt", quoted(&prompt)));
        }
        let entry = &self.agents[agent];
        if let Some(&load) = context.load.get(&entry.name)
            && load > 0
        {
            let tasks = if load == 1 { "task" } else { "tasks" };
            let limit = entry
                .max_parallel
                .map(|m| format!(" (max_parallel {m})"))
                .unwrap_or_default();
            reasons.push(format!("{load} {tasks} already assigned{limit}"));
        }
        if let Some((record, kind)) = self.record(&entry.name, context, kind) {
            let kind = kind.map(|k| format!("{k} ")).unwrap_or_default();
            reasons.push(format!(
                "{HISTORY_REASON}succeeded {} of {} past {kind}tasks",
                record.successes,
                record.attempts()
            ));
        }
        reasons
    }
}

/// The success rate with one success and one failure assumed, so three
/// attempts do not swing it to 0 or 1.
fn success_rate(record: &AgentRecord) -> f64 {
    (f64::from(record.successes) + 1.0) / (f64::from(record.attempts()) + 2.0)
}

fn quoted(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A description without its `<example>...</example>` dialogue blocks
/// (Claude Code's convention for showing when to delegate). An unclosed
/// block runs to the end.
pub fn strip_examples(description: &str) -> Cow<'_, str> {
    const OPEN: &str = "<example>";
    const CLOSE: &str = "</example>";
    if !description.contains(OPEN) {
        return Cow::Borrowed(description);
    }
    let mut out = String::with_capacity(description.len());
    let mut rest = description;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        out.push(' ');
        rest = match rest[start..].find(CLOSE) {
            Some(end) => &rest[start + end + CLOSE.len()..],
            None => "",
        };
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[derive(Debug)]
struct QueryTerm {
    id: u32,
    /// Whether the term is on the text's first line (a task's title).
    in_title: bool,
    /// The words of the text that gave this stem, first seen first.
    words: Vec<String>,
    weight: f64,
}

/// Collects term counts field by field while agents are added.
#[derive(Default)]
struct Builder {
    vocabulary: HashMap<String, u32>,
    /// Word as written -> term number, so each distinct word is stemmed once.
    stems: HashMap<String, u32>,
    /// One per agent: (term, count per field), sorted by term.
    counts: Vec<Vec<(u32, [u32; FIELDS])>>,
    /// One per agent: terms per field.
    lengths: Vec<[u32; FIELDS]>,
    scratch: HashMap<u32, [u32; FIELDS]>,
}

impl Builder {
    fn add(&mut self, name: &str, skills: &[String], description: &str, prompt: &str) {
        let mut lengths = [0u32; FIELDS];
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let mut count = |builder: &mut Builder, field: usize, text: &str, style: Style| {
            text::for_each_word(text, style, |word| {
                let id = builder.term(word);
                scratch.entry(id).or_default()[field] += 1;
                lengths[field] += 1;
            });
        };
        count(self, NAME, name, Style::Identifier);
        for skill in skills {
            count(self, SKILLS, skill, Style::Prose);
        }
        count(self, DESCRIPTION, description, Style::Prose);
        count(self, PROMPT, prompt, Style::Prose);
        let mut terms: Vec<(u32, [u32; FIELDS])> = scratch.drain().collect();
        terms.sort_unstable_by_key(|&(id, _)| id);
        self.counts.push(terms);
        self.lengths.push(lengths);
        self.scratch = scratch;
    }

    fn term(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.stems.get(word) {
            return id;
        }
        let stem = text::stem(word);
        let next = self.vocabulary.len() as u32;
        let id = *self.vocabulary.entry(stem.into_owned()).or_insert(next);
        self.stems.insert(word.to_string(), id);
        id
    }

    fn finish(self, params: &Params) -> (HashMap<String, u32>, Vec<Vec<Posting>>, Vec<f64>) {
        let fields = [
            params.name,
            params.skills,
            params.description,
            params.prompt,
        ];
        let agents = self.counts.len();
        let mut average = [0.0f64; FIELDS];
        for lengths in &self.lengths {
            for (sum, &len) in average.iter_mut().zip(lengths) {
                *sum += f64::from(len);
            }
        }
        for sum in &mut average {
            *sum = if agents == 0 || *sum == 0.0 {
                1.0
            } else {
                *sum / agents as f64
            };
        }
        let mut postings: Vec<Vec<Posting>> = vec![Vec::new(); self.vocabulary.len()];
        for (agent, terms) in self.counts.iter().enumerate() {
            let lengths = &self.lengths[agent];
            for &(id, counts) in terms {
                let mut tf = 0.0;
                let mut mask = 0u8;
                for field in 0..FIELDS {
                    if counts[field] == 0 {
                        continue;
                    }
                    mask |= 1 << field;
                    let FieldParams { weight, b } = fields[field];
                    let norm = 1.0 - b + b * f64::from(lengths[field]) / average[field];
                    tf += weight * f64::from(counts[field]) / norm;
                }
                if tf <= 0.0 {
                    continue;
                }
                postings[id as usize].push(Posting {
                    agent: agent as u32,
                    weight: tf * (params.k1 + 1.0) / (params.k1 + tf),
                    fields: mask,
                });
            }
        }
        let n = agents as f64;
        let idf = postings
            .iter()
            .map(|list| {
                let df = list.len() as f64;
                (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
            })
            .collect();
        (self.vocabulary, postings, idf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{Model, Orchestration, Scope, Tools};

    fn agent(name: &str, description: &str) -> Agent {
        Agent {
            name: name.to_string(),
            description: description.to_string(),
            model: Model::Inherit,
            tools: Tools::All,
            prompt: String::new(),
            source: format!("{name}.md"),
            scope: Scope::Project,
            color: None,
            orchestration: Orchestration::default(),
            executor: None,
            command: None,
            skills: Vec::new(),
        }
    }

    fn names(candidates: &[Candidate]) -> Vec<&str> {
        candidates.iter().map(|c| c.name.as_str()).collect()
    }

    fn library() -> Vec<Agent> {
        vec![
            agent(
                "frontend-developer",
                "Builds React components and responsive layouts.",
            ),
            agent(
                "ui-designer",
                "Designs interfaces, mockups and frontend component libraries.",
            ),
            agent(
                "deployment-engineer",
                "Owns CI/CD pipelines and the deployment of services.",
            ),
            agent(
                "database-admin",
                "Backups, replication and tuning of PostgreSQL databases.",
            ),
        ]
    }

    #[test]
    fn a_term_in_the_name_beats_the_same_term_in_a_description() {
        let ranker = Ranker::new(&library());
        let ranked = ranker.rank(
            "Frontend work on the settings page",
            &AssignContext::default(),
        );
        assert_eq!(names(&ranked), ["frontend-developer", "ui-designer"]);
        assert_eq!(ranked[0].score, 1.0);
        assert_eq!(ranked[0].reasons, [r#"name matches "frontend""#]);
        assert_eq!(ranked[1].reasons, [r#"matches "frontend" in description"#]);
    }

    #[test]
    fn stemming_meets_other_word_forms() {
        let ranker = Ranker::new(&library());
        let ranked = ranker.rank("Deploying the new release", &AssignContext::default());
        assert_eq!(names(&ranked), ["deployment-engineer"]);
        assert_eq!(
            ranked[0].reasons,
            [
                r#"name matches "deploying""#,
                r#"matches "deploying" in description"#
            ]
        );
    }

    #[test]
    fn stopwords_and_boilerplate_match_nothing() {
        let mut agents = library();
        agents.push(agent(
            "boilerplate",
            "Expert agent. Use PROACTIVELY. MUST BE USED for the things.",
        ));
        let ranker = Ranker::new(&agents);
        let ranked = ranker.rank(
            "Use the expert agent proactively for all of this",
            &AssignContext::default(),
        );
        assert!(ranked.is_empty(), "{ranked:?}");
    }

    #[test]
    fn abbreviations_meet_their_spelled_out_form() {
        let ranker = Ranker::new(&library());
        let ranked = ranker.rank("Tune the Postgres DB", &AssignContext::default());
        assert_eq!(names(&ranked), ["database-admin"]);
    }

    #[test]
    fn load_spreads_near_equal_candidates() {
        let agents = vec![
            agent("alpha", "Writes Python services."),
            agent("beta", "Writes Python services."),
        ];
        let ranker = Ranker::new(&agents);
        let mut context = AssignContext::default();
        let first = ranker.rank("Python service", &context);
        assert_eq!(names(&first), ["alpha", "beta"], "ties break by name");
        context.load.insert("alpha".to_string(), 1);
        let second = ranker.rank("Python service", &context);
        assert_eq!(names(&second), ["beta", "alpha"]);
        assert!(
            second[1]
                .reasons
                .contains(&"1 task already assigned".to_string())
        );
    }

    #[test]
    fn max_parallel_softens_the_load_penalty() {
        let mut wide = agent("wide", "Writes Python services.");
        wide.orchestration.max_parallel = Some(4);
        let agents = vec![wide, agent("narrow", "Writes Python services.")];
        let ranker = Ranker::new(&agents);
        let mut context = AssignContext::default();
        context.load.insert("wide".to_string(), 2);
        context.load.insert("narrow".to_string(), 1);
        let ranked = ranker.rank("Python service", &context);
        assert_eq!(names(&ranked), ["wide", "narrow"]);
        assert!(ranked[0].score > ranked[1].score);
        assert!(
            ranked[0]
                .reasons
                .contains(&"2 tasks already assigned (max_parallel 4)".to_string())
        );
    }

    #[test]
    fn load_does_not_override_a_clearly_better_match() {
        let ranker = Ranker::new(&library());
        let mut context = AssignContext::default();
        context.load.insert("frontend-developer".to_string(), 3);
        let ranked = ranker.rank("Frontend React components", &context);
        assert_eq!(ranked[0].name, "frontend-developer");
    }

    #[test]
    fn history_counts_from_three_attempts() {
        let agents = vec![
            agent("alpha", "Writes Python services."),
            agent("beta", "Writes Python services."),
        ];
        let ranker = Ranker::new(&agents);
        let mut context = AssignContext::default();
        let two_failures = AgentRecord {
            successes: 0,
            failures: 2,
        };
        context.history.insert("alpha".to_string(), two_failures);
        let ranked = ranker.rank("Python service", &context);
        assert_eq!(names(&ranked), ["alpha", "beta"], "two attempts: too few");
        assert_eq!(ranked[0].reasons.len(), 1);

        let record = AgentRecord {
            successes: 1,
            failures: 9,
        };
        context.history.insert("alpha".to_string(), record);
        let ranked = ranker.rank("Python service", &context);
        assert_eq!(names(&ranked), ["beta", "alpha"]);
        assert!(
            ranked[1]
                .reasons
                .contains(&"history: succeeded 1 of 10 past tasks".to_string())
        );

        let record = AgentRecord {
            successes: 9,
            failures: 1,
        };
        context.history.insert("beta".to_string(), record);
        context.history.remove("alpha");
        let ranked = ranker.rank("Python service", &context);
        assert_eq!(names(&ranked), ["beta", "alpha"]);
        assert!(ranked[0].score > 1.0 && ranked[0].score < 1.15);
    }

    #[test]
    fn history_on_the_task_kind_wins_over_the_whole_record() {
        let agents = vec![
            agent("alpha", "Writes Python services."),
            agent("beta", "Writes Python services."),
        ];
        let ranker = Ranker::new(&agents);
        let mut context = AssignContext::default();
        let record = |successes, failures| AgentRecord {
            successes,
            failures,
        };
        // Alpha does well overall but fails at fixes; beta is the reverse.
        context.history.insert("alpha".into(), record(9, 3));
        context.history.insert("beta".into(), record(3, 9));
        context.kinds.insert(
            "alpha".into(),
            HashMap::from([(TaskKind::Fix, record(0, 3))]),
        );
        context.kinds.insert(
            "beta".into(),
            HashMap::from([(TaskKind::Fix, record(3, 0))]),
        );
        let fix = ranker.rank_kind("Python service", Some(TaskKind::Fix), &context, 2, 2);
        assert_eq!(names(&fix), ["beta", "alpha"]);
        assert!(
            fix[0]
                .reasons
                .contains(&"history: succeeded 3 of 3 past fix tasks".to_string())
        );
        // Without enough of a kind, the whole record speaks.
        let test = ranker.rank_kind("Python service", Some(TaskKind::Test), &context, 2, 2);
        assert_eq!(names(&test), ["alpha", "beta"]);
        assert!(
            test[0]
                .reasons
                .contains(&"history: succeeded 9 of 12 past tasks".to_string())
        );
    }

    #[test]
    fn ranking_is_deterministic_and_independent_of_input_order() {
        let agents = library();
        let mut reversed = agents.clone();
        reversed.reverse();
        let context = AssignContext::default();
        let text = "Design frontend components and deploy them";
        let a = Ranker::new(&agents).rank(text, &context);
        let b = Ranker::new(&reversed).rank(text, &context);
        assert_eq!(a, b);
        assert_eq!(a, Ranker::new(&agents).rank(text, &context));
    }

    #[test]
    fn duplicate_names_keep_the_first_agent() {
        let agents = vec![
            agent("same", "Writes Rust."),
            agent("same", "Writes Haskell."),
        ];
        let ranker = Ranker::new(&agents);
        assert_eq!(ranker.len(), 1);
        assert!(ranker.rank("Haskell", &AssignContext::default()).is_empty());
        assert_eq!(ranker.rank("Rust", &AssignContext::default()).len(), 1);
    }

    #[test]
    fn skills_and_prompt_count_and_say_so() {
        let mut skilled = agent("one", "Does things.");
        skilled.skills = vec!["kafka".to_string()];
        let mut prompted = agent("two", "Does things.");
        prompted.prompt = "You know Kafka well.".to_string();
        let ranker = Ranker::new(&[skilled, prompted]);
        let ranked = ranker.rank("Kafka consumer lag", &AssignContext::default());
        assert_eq!(names(&ranked), ["one", "two"]);
        assert_eq!(ranked[0].reasons, [r#"skills matches "kafka""#]);
        assert_eq!(ranked[1].reasons, [r#"matches "kafka" in its prompt"#]);
    }

    #[test]
    fn examples_are_stripped_from_descriptions() {
        assert_eq!(
            strip_examples("Builds APIs. <example>user: \"cook\"</example> Fast."),
            "Builds APIs.   Fast."
        );
        assert_eq!(strip_examples("A <example>never closed"), "A  ");
        let agents = vec![agent(
            "api",
            "Builds APIs. <example>user: \"bake bread\"</example>",
        )];
        let ranker = Ranker::new(&agents);
        assert!(
            ranker
                .rank("bake bread", &AssignContext::default())
                .is_empty()
        );
    }

    #[test]
    fn limits_and_empty_inputs() {
        let ranker = Ranker::new(&library());
        let context = AssignContext::default();
        assert!(ranker.rank("", &context).is_empty());
        assert!(ranker.rank("quantum knitting", &context).is_empty());
        assert!(ranker.rank_top("frontend", &context, 0).is_empty());
        assert_eq!(ranker.rank_top("frontend", &context, 1).len(), 1);
        assert!(Ranker::new(&[]).rank("frontend", &context).is_empty());
    }
}
