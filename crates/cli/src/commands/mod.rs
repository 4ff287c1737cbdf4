//! One module per command; `run` dispatches.

mod agents;
mod ask;
mod assign;
mod cost;
mod decide;
mod decisions;
mod escalations;
mod fmt;
mod forecast;
mod gc;
mod history;
mod land;
mod logs;
mod mcp;
mod plan;
mod portfolio;
mod prompt;
mod report;
mod run;
mod schema;
mod serve;
mod status;
mod validate;
mod watch;
mod webhooks;
mod worker;

use crate::args::{Cli, Command};
use crate::exit::{CliError, Outcome};

pub fn run(cli: Cli) -> Result<Outcome, CliError> {
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Resume(args) => run::resume(&args),
        Command::Worker(args) => worker::run(&args),
        Command::Status(args) => status::status(&args),
        Command::Watch(args) => watch::run(&args),
        Command::Logs(args) => logs::run(&args),
        Command::Forecast(args) => forecast::run(&args),
        Command::Cost(args) => cost::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Decisions(args) => decisions::run(&args),
        Command::Escalations(args) => escalations::run(&args),
        Command::Decide(args) => decide::run(&args),
        Command::Webhooks(args) => webhooks::run(&args),
        Command::Prompt(args) => prompt::run(&args),
        Command::Land(args) => land::run(&args),
        Command::Gc(args) => gc::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Mcp(args) => mcp::run(&args),
        Command::Missions(args) => status::missions(&args),
        Command::History(args) => history::run(&args),
        Command::Portfolio(args) => portfolio::run(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Agents(args) => agents::run(&args),
        Command::Assign(args) => assign::run(&args),
        Command::Schema => schema::run(),
        Command::Fmt(args) => fmt::run(&args),
    }
}
