//! `techlead mcp`: the running attempt's MCP server, over stdio. The agent
//! CLIs start it for the task they run (the executors configure them);
//! each tool call becomes one line of the stdout reporting protocol, sent
//! to the attempt's report socket, where the engine reads it like a line
//! of the agent's stdout (DESIGN decision 8). Reads (`read_handoff`, the
//! answer to `ask_person`) come from the store, read-only: the mission's
//! one writer stays the only one.

mod ask;
mod tools;

use crate::args::McpArgs;
use crate::database;
use crate::exit::{CliError, Outcome};
use rmcp::ServiceExt;
use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

/// The attempt this server reports for.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub socket: PathBuf,
    pub db: PathBuf,
    pub mission: String,
    pub task: String,
    pub attempt: u32,
}

pub fn run(args: &McpArgs) -> Result<Outcome, CliError> {
    let attempt = attempt(args)?;
    name_in_environment(&attempt)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let server = tools::Tools::new(attempt);
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| mcp_error(format!("the MCP session did not start: {e}")))?;
        // Ends when the agent closes stdin.
        running
            .waiting()
            .await
            .map_err(|e| mcp_error(format!("the MCP session failed: {e}")))?;
        Ok(Outcome::Success)
    })
}

fn attempt(args: &McpArgs) -> Result<Attempt, CliError> {
    let missing = |what: &str, variable: &str| CliError::Mcp {
        message: format!("techlead mcp needs {what} (${variable})"),
        hint: "it serves one running attempt: the engine starts agents with these variables set \
               (see docs/executors.md, \"MCP\")"
            .into(),
    };
    Ok(Attempt {
        socket: args
            .socket
            .clone()
            .ok_or_else(|| missing("the attempt's report socket", "TECHLEAD_REPORT_SOCKET"))?,
        db: database::path(&args.database),
        mission: args
            .mission
            .clone()
            .ok_or_else(|| missing("the mission", "TECHLEAD_MISSION"))?,
        task: args
            .task
            .clone()
            .ok_or_else(|| missing("the task", "TECHLEAD_TASK"))?,
        attempt: args
            .attempt
            .ok_or_else(|| missing("the attempt number", "TECHLEAD_ATTEMPT"))?,
    })
}

/// The engine knows which attempt a report socket connection is for by the
/// environment of the process that made it (docs/executors.md, "MCP and
/// the report socket"). Named by flags alone, this server starts itself
/// again with the attempt in its environment, before it reads anything.
fn name_in_environment(attempt: &Attempt) -> Result<(), CliError> {
    let number = attempt.attempt.to_string();
    let names = [
        ("TECHLEAD_MISSION", attempt.mission.as_str()),
        ("TECHLEAD_TASK", attempt.task.as_str()),
        ("TECHLEAD_ATTEMPT", number.as_str()),
    ];
    let named = names
        .iter()
        .all(|(variable, value)| std::env::var_os(variable).as_deref() == Some(OsStr::new(value)));
    if named {
        return Ok(());
    }
    let error = match std::env::current_exe() {
        Ok(program) => std::process::Command::new(program)
            .args(std::env::args_os().skip(1))
            .envs(names)
            .exec(),
        Err(error) => error,
    };
    Err(CliError::Mcp {
        message: format!(
            "techlead mcp could not start again with its attempt in its environment: {error}"
        ),
        hint: "set TECHLEAD_MISSION, TECHLEAD_TASK and TECHLEAD_ATTEMPT instead of the flags"
            .into(),
    })
}

fn mcp_error(message: String) -> CliError {
    CliError::Mcp {
        message,
        hint: "the agent CLI speaks MCP on this program's stdin and stdout; run it from one".into(),
    }
}
