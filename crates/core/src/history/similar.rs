//! Past missions like the one being planned, with what went well and what
//! failed in them.
//!
//! Each mission is a bag of stems (`plan::text`: the same tokenizer and
//! stemmer the assignment ranker uses) from its objective and its tasks'
//! titles. Two missions are compared by the cosine of their TF-IDF vectors,
//! the IDF taken over the past missions and the new one, so words every
//! mission uses (`api`, `test`) count for little. The same `project_type`
//! adds [`SAME_TYPE_BONUS`]. Rehearsals are left out: their failures were
//! seeded.

use super::past::{PastMission, resolution_text};
use crate::plan::text::{self, Style};
use serde::Serialize;
use std::collections::HashMap;

/// Added to the text similarity when both missions name the same
/// `project_type`.
pub const SAME_TYPE_BONUS: f64 = 0.15;
/// Below this, a past mission is not shown as similar.
pub const MIN_SIMILARITY: f64 = 0.2;
/// At most this many similar missions are shown.
pub const SHOWN: usize = 3;
/// At most this many lessons of each sort per mission.
const LESSONS: usize = 3;

/// What is being planned, as text.
pub struct Query<'a> {
    pub objective: &'a str,
    pub project_type: Option<&'a str>,
    pub titles: Vec<&'a str>,
}

/// A past mission like the one being planned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimilarMission {
    pub mission: String,
    pub name: String,
    pub status: crate::state::MissionStatus,
    /// 0 to about 1: the text similarity, plus the project-type bonus.
    pub similarity: f64,
    pub same_project_type: bool,
    /// In sentences: what worked.
    pub went_well: Vec<String>,
    /// In sentences: what failed, and what resolved it.
    pub went_wrong: Vec<String>,
}

/// The past missions most like `query`, most similar first.
pub fn similar(query: &Query<'_>, missions: &[PastMission]) -> Vec<SimilarMission> {
    let past: Vec<&PastMission> = missions.iter().filter(|m| !m.simulated()).collect();
    let mut bags: Vec<HashMap<String, f64>> = past.iter().map(|m| bag_of(m)).collect();
    let mut asked = bag(query.objective, &query.titles);
    let idf = idf(&bags, &asked);
    weigh(&mut asked, &idf);
    let mut found: Vec<SimilarMission> = Vec::new();
    for (mission, bag) in past.into_iter().zip(&mut bags) {
        weigh(bag, &idf);
        let same_type = query
            .project_type
            .zip(mission.project_type.as_deref())
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b));
        let score = cosine(&asked, bag) + if same_type { SAME_TYPE_BONUS } else { 0.0 };
        if score >= MIN_SIMILARITY {
            found.push(lessons(mission, score, same_type));
        }
    }
    found.sort_by(|a, b| {
        b.similarity
            .total_cmp(&a.similarity)
            .then_with(|| a.mission.cmp(&b.mission))
    });
    found.truncate(SHOWN);
    found
}

fn bag_of(mission: &PastMission) -> HashMap<String, f64> {
    let titles: Vec<&str> = mission.tasks.iter().map(|t| t.title.as_str()).collect();
    bag(&mission.objective, &titles)
}

/// Term counts of an objective and titles. The objective says what the
/// mission is for, so it counts as much as all the titles together.
fn bag(objective: &str, titles: &[&str]) -> HashMap<String, f64> {
    let mut bag: HashMap<String, f64> = HashMap::new();
    let mut add = |text: &str, weight: f64| {
        text::for_each_word(text, Style::Prose, |word| {
            *bag.entry(text::stem(word).into_owned()).or_default() += weight;
        });
    };
    add(objective, titles.len().max(1) as f64);
    for title in titles {
        add(title, 1.0);
    }
    bag
}

/// `ln(1 + n / df)` over the past missions and the query.
fn idf(bags: &[HashMap<String, f64>], query: &HashMap<String, f64>) -> HashMap<String, f64> {
    let mut df: HashMap<&str, f64> = HashMap::new();
    for bag in bags.iter().chain(std::iter::once(query)) {
        for term in bag.keys() {
            *df.entry(term).or_default() += 1.0;
        }
    }
    let n = bags.len() as f64 + 1.0;
    df.into_iter()
        .map(|(term, df)| (term.to_string(), (1.0 + n / df).ln()))
        .collect()
}

fn weigh(bag: &mut HashMap<String, f64>, idf: &HashMap<String, f64>) {
    for (term, weight) in bag.iter_mut() {
        *weight = (1.0 + weight.ln()) * idf.get(term).copied().unwrap_or(0.0);
    }
}

fn cosine(a: &HashMap<String, f64>, b: &HashMap<String, f64>) -> f64 {
    let dot: f64 = a
        .iter()
        .filter_map(|(term, x)| b.get(term).map(|y| x * y))
        .sum();
    let norm = |v: &HashMap<String, f64>| v.values().map(|x| x * x).sum::<f64>().sqrt();
    let norms = norm(a) * norm(b);
    if norms > 0.0 { dot / norms } else { 0.0 }
}

fn lessons(mission: &PastMission, similarity: f64, same_project_type: bool) -> SimilarMission {
    SimilarMission {
        mission: mission.id.clone(),
        name: mission.name.clone(),
        status: mission.status,
        similarity,
        same_project_type,
        went_well: went_well(mission),
        went_wrong: went_wrong(mission),
    }
}

fn went_well(mission: &PastMission) -> Vec<String> {
    let clean: Vec<&str> = mission
        .tasks
        .iter()
        .filter(|t| t.succeeded && t.failures == 0)
        .map(|t| t.task.as_str())
        .collect();
    let mut well = Vec::new();
    if !clean.is_empty() {
        well.push(format!(
            "{} of {} tasks succeeded at the first attempt ({})",
            clean.len(),
            mission.tasks.len(),
            listed(&clean)
        ));
    }
    let on_time: Vec<&str> = mission
        .tasks
        .iter()
        .filter(|t| t.succeeded && t.duration_ratio().is_some_and(|r| r <= 1.0))
        .map(|t| t.task.as_str())
        .collect();
    if !on_time.is_empty() {
        well.push(format!(
            "finished within the estimate: {}",
            listed(&on_time)
        ));
    }
    well.truncate(LESSONS);
    well
}

fn went_wrong(mission: &PastMission) -> Vec<String> {
    let mut wrong: Vec<String> = mission
        .troubled()
        .take(LESSONS)
        .map(|task| {
            let first = &task.problems[0];
            let resolution = task.resolution.as_ref().map(resolution_text);
            format!(
                "{} ({}, {}): {}; {}",
                task.task,
                task.kind,
                first.agent,
                first.what,
                resolution.unwrap_or_default()
            )
        })
        .collect();
    let late: Vec<String> = mission
        .tasks
        .iter()
        .filter_map(|t| Some((t, t.duration_ratio().filter(|&r| r > 1.5)?)))
        .map(|(t, r)| format!("{} took {r:.1}× its estimate", t.task))
        .collect();
    wrong.extend(late.into_iter().take(LESSONS.saturating_sub(wrong.len())));
    wrong
}

fn listed(ids: &[&str]) -> String {
    const SHOWN_IDS: usize = 4;
    let mut text = ids
        .iter()
        .take(SHOWN_IDS)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN_IDS {
        text.push_str(&format!(" and {} more", ids.len() - SHOWN_IDS));
    }
    text
}
