//! One module per command; `run` dispatches.

mod agents;
mod assign;
mod fmt;
mod plan;
mod schema;
mod validate;

use crate::args::{Cli, Command};
use crate::exit::{CliError, Outcome};

pub fn run(cli: Cli) -> Result<Outcome, CliError> {
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Agents(args) => agents::run(&args),
        Command::Assign(args) => assign::run(&args),
        Command::Schema => schema::run(),
        Command::Fmt(args) => fmt::run(&args),
    }
}
