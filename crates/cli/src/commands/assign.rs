//! `techlead assign`: who should do this piece of work, and why.

use crate::args::AssignArgs;
use crate::exit::{CliError, Outcome};
use crate::inputs;
use crate::render::{self, table};
use techlead_core::plan::assign::{AssignContext, Ranker};

pub fn run(args: &AssignArgs) -> Result<Outcome, CliError> {
    let library = inputs::library(&args.source)?;
    inputs::summarise_library_notes(&library);
    if library.is_empty() {
        return Err(CliError::NoAgents);
    }
    let ranker = Ranker::new(library.agents());
    let mut candidates = ranker.rank(&args.text, &AssignContext::default());
    candidates.truncate(args.top);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&candidates).expect("candidates serialise")
        );
        return Ok(Outcome::Success);
    }
    let columns = [
        table::column("#", false),
        table::column("AGENT", false),
        table::column("SCORE", false),
        table::column("WHY", true),
    ];
    let rows: Vec<Vec<String>> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            vec![
                (i + 1).to_string(),
                c.name.clone(),
                format!("{:.2}", c.score),
                c.reasons.join("; "),
            ]
        })
        .collect();
    print!("{}", table::render(&columns, &rows, render::width()));
    Ok(Outcome::Success)
}
