//! `techlead cost`: what a mission spent, by task, agent or model, from
//! the usage its attempts reported (every attempt counts, failed and
//! rate-limited ones too: they were paid for).

use crate::args::{CostArgs, CostBy};
use crate::database;
use crate::exit::{CliError, Outcome};
use crate::render::{self, table};
use techlead_core::spend::{self, By, Spend};
use techlead_core::state::MissionState;

pub fn run(args: &CostArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, args.mission.as_deref())?;
    let state = database::state(&store, &row.id)?;
    if args.json {
        let json = serde_json::json!({
            "mission": row.id,
            "total": json(&spend::total(&state)),
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
    let total = spend::total(&state);
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
    spend_by(state, by).iter().map(json).collect()
}

fn json(spend: &Spend) -> serde_json::Value {
    serde_json::to_value(spend).expect("a spend row serialises")
}

fn spend_by(state: &MissionState, by: CostBy) -> Vec<Spend> {
    let by = match by {
        CostBy::Task => By::Task,
        CostBy::Agent => By::Agent,
        CostBy::Model => By::Model,
    };
    spend::grouped(state, by)
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

use crate::render::dollars;
