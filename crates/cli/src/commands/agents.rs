//! `techlead agents` and `techlead agents show NAME`.

use crate::args::{AgentsArgs, AgentsCommand};
use crate::exit::{CliError, Outcome};
use crate::inputs;
use crate::render::{self, plural, table};
use serde_json::{Value, json};
use techlead_core::agents::{Agent, Library, Resolution, Tools};

pub fn run(args: &AgentsArgs) -> Result<Outcome, CliError> {
    if let Some(AgentsCommand::Stats(stats)) = &args.show {
        return super::history::agent_stats(stats, args.json);
    }
    if let Some(AgentsCommand::Show { name, source }) = &args.show {
        let source = if source.agents.is_empty() {
            &args.source
        } else {
            source
        };
        let library = inputs::library(source)?;
        return show(&library, name, args.json);
    }
    let library = inputs::library(&args.source)?;
    inputs::print_library_notes(&library);
    if args.json {
        let agents: Vec<Value> = library.agents().iter().map(agent_json).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&agents).expect("JSON values serialise")
        );
        return Ok(Outcome::Success);
    }
    if library.is_empty() {
        return Err(CliError::NoAgents);
    }
    print!("{}", list(&library));
    eprintln!(
        "{}, {} skipped, {}",
        plural(library.len(), "agent"),
        library.skipped().len(),
        plural(library.warnings().len(), "warning"),
    );
    Ok(Outcome::Success)
}

fn list(library: &Library) -> String {
    let columns = [
        table::column("NAME", false),
        table::column("MODEL", false),
        table::column("TOOLS", false),
        table::column("DESCRIPTION", true),
        table::column("SOURCE", true),
    ];
    let rows: Vec<Vec<String>> = library
        .agents()
        .iter()
        .map(|agent| {
            vec![
                agent.name.clone(),
                agent.model.as_str().to_string(),
                tools_summary(&agent.tools),
                first_line(&agent.description),
                agent.source.clone(),
            ]
        })
        .collect();
    table::render(&columns, &rows, render::width())
}

fn tools_summary(tools: &Tools) -> String {
    match tools {
        Tools::All => "all".to_string(),
        Tools::Only(names) => names.len().to_string(),
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_string()
}

/// The JSON form of an agent: plain strings where the Rust types are
/// richer, so that `jq` filters stay simple. `tools` is null when the agent
/// may use every tool.
fn agent_json(agent: &Agent) -> Value {
    json!({
        "name": agent.name,
        "description": agent.description,
        "model": agent.model.as_str(),
        "tools": match &agent.tools { Tools::All => Value::Null, Tools::Only(t) => json!(t) },
        "source": agent.source,
        "scope": agent.scope,
        "color": agent.color,
        "priority": agent.orchestration.priority,
        "max_parallel": agent.orchestration.max_parallel,
        "dependencies": agent.orchestration.dependencies,
        "executor": agent.executor,
        "command": agent.command,
        "skills": agent.skills,
    })
}

fn show(library: &Library, name: &str, json: bool) -> Result<Outcome, CliError> {
    let agent = match library.resolve(name) {
        Resolution::Found(agent) => agent,
        Resolution::Fallback { did_you_mean, .. } => {
            let hint = match did_you_mean {
                Some(near) => format!("did you mean `{near}`? `techlead agents` lists them all"),
                None => "`techlead agents` lists the library".to_string(),
            };
            return Err(CliError::NoSuchAgent {
                name: name.to_string(),
                hint,
            });
        }
    };
    if json {
        let mut value = agent_json(agent);
        value["prompt"] = json!(agent.prompt);
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("JSON values serialise")
        );
        return Ok(Outcome::Success);
    }
    let tools = match &agent.tools {
        Tools::All => "all tools".to_string(),
        Tools::Only(names) if names.is_empty() => "none".to_string(),
        Tools::Only(names) => names.join(", "),
    };
    println!("{}", agent.name);
    println!(
        "  description  {}",
        agent.description.replace('\n', "\n               ")
    );
    println!("  model        {}", agent.model.as_str());
    println!("  tools        {tools}");
    if !agent.skills.is_empty() {
        println!("  skills       {}", agent.skills.join(", "));
    }
    if let Some(priority) = agent.orchestration.priority {
        println!("  priority     {priority}");
    }
    if let Some(max) = agent.orchestration.max_parallel {
        println!("  max parallel {max}");
    }
    if let Some(executor) = &agent.executor {
        println!("  executor     {executor}");
    }
    println!("  source       {}", agent.source);
    println!("\n{}", agent.prompt.trim_end());
    Ok(Outcome::Success)
}
