//! `techlead prompt`: exactly the text a task's next attempt is given, as
//! of the record now (the handoff grows as its dependencies finish).

use crate::args::PromptArgs;
use crate::database;
use crate::exit::{CliError, Outcome};
use techlead_core::prompt;

pub fn run(args: &PromptArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, Some(&args.mission))?;
    let state = database::state(&store, &row.id)?;
    let t = database::task(&state, &row.id, &args.task)?;
    print!("{}", prompt::render(&state, t));
    Ok(Outcome::Success)
}
