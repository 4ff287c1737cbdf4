//! `techlead cost`: what a mission spent, by task, agent or model, from
//! the usage its attempts reported (every attempt counts, failed and
//! rate-limited ones too: they were paid for).

use crate::args::{CostArgs, CostBy};
use crate::database;
use crate::exit::{CliError, Outcome};
use crate::render::{self, table};
use techlead_core::state::{MissionState, Usage};

/// One row: a task, agent or model and what its attempts used.
#[derive(Debug, Default, Clone)]
struct Spend {
    name: String,
    attempts: u32,
    input_tokens: u64,
    output_tokens: u64,
    cache_read_tokens: u64,
    cache_write_tokens: u64,
    cost_usd: f64,
}

impl Spend {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "attempts": self.attempts,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": self.cost_usd,
        })
    }

    fn add(&mut self, usage: Option<&Usage>) {
        self.attempts += 1;
        let Some(usage) = usage else { return };
        self.input_tokens += usage.input_tokens;
        self.output_tokens += usage.output_tokens;
        self.cache_read_tokens += usage.cache_read_tokens;
        self.cache_write_tokens += usage.cache_write_tokens;
        self.cost_usd += usage.cost_usd;
    }
}

pub fn run(args: &CostArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, args.mission.as_deref())?;
    let state = database::state(&store, &row.id)?;
    if args.json {
        let json = serde_json::json!({
            "mission": row.id,
            "total": total(&state).json(),
            "by_task": rows_json(&state, CostBy::Task),
            "by_agent": rows_json(&state, CostBy::Agent),
            "by_model": rows_json(&state, CostBy::Model),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&json).expect("JSON values serialise")
        );
        return Ok(Outcome::Success);
    }
    let total = total(&state);
    println!(
        "{} · {} spent over {} attempts · {} tokens in, {} out, {} read from cache",
        row.id,
        dollars(total.cost_usd),
        total.attempts,
        total.input_tokens,
        total.output_tokens,
        total.cache_read_tokens
    );
    println!();
    print!("{}", spend_table(&spend_by(&state, args.by), args.by));
    Ok(Outcome::Success)
}

fn rows_json(state: &MissionState, by: CostBy) -> Vec<serde_json::Value> {
    spend_by(state, by).iter().map(Spend::json).collect()
}

fn total(state: &MissionState) -> Spend {
    let mut total = Spend {
        name: "total".to_string(),
        ..Spend::default()
    };
    for attempt in state.tasks.iter().flat_map(|t| &t.attempts) {
        total.add(attempt.usage.as_ref());
    }
    total
}

/// Rows grouped by `by`, most expensive first (ties in plan order).
fn spend_by(state: &MissionState, by: CostBy) -> Vec<Spend> {
    let mut rows: Vec<Spend> = Vec::new();
    for (task, plan) in state.tasks.iter().zip(&state.plan.tasks) {
        for attempt in &task.attempts {
            let name = match by {
                CostBy::Task => plan.id.clone(),
                CostBy::Agent => attempt.agent.clone(),
                CostBy::Model => attempt
                    .usage
                    .as_ref()
                    .and_then(|u| u.model.clone())
                    .unwrap_or_else(|| "(not reported)".to_string()),
            };
            let at = match rows.iter().position(|r| r.name == name) {
                Some(at) => at,
                None => {
                    rows.push(Spend {
                        name,
                        ..Spend::default()
                    });
                    rows.len() - 1
                }
            };
            rows[at].add(attempt.usage.as_ref());
        }
    }
    rows.sort_by(|a, b| b.cost_usd.total_cmp(&a.cost_usd));
    rows
}

fn spend_table(rows: &[Spend], by: CostBy) -> String {
    let header = match by {
        CostBy::Task => "TASK",
        CostBy::Agent => "AGENT",
        CostBy::Model => "MODEL",
    };
    let columns = [
        table::column(header, true),
        table::column("ATTEMPTS", false),
        table::column("TOKENS IN", false),
        table::column("TOKENS OUT", false),
        table::column("CACHE READ", false),
        table::column("COST", false),
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.attempts.to_string(),
                r.input_tokens.to_string(),
                r.output_tokens.to_string(),
                r.cache_read_tokens.to_string(),
                dollars(r.cost_usd),
            ]
        })
        .collect();
    table::render(&columns, &cells, render::width())
}

fn dollars(usd: f64) -> String {
    if usd > 0.0 && usd < 0.01 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}
