//! A fake `codex` (OpenAI Codex CLI, `codex exec --json`) for tests and
//! examples. No network.
//!
//! It reads its arguments like the real CLI: `exec` first, then its flags
//! (`--json`, `--sandbox read-only|workspace-write|danger-full-access`,
//! `-m`, `-C`, `--skip-git-repo-check`, ...; an unknown flag is an error,
//! exit 2), an optional `resume <THREAD_ID>` subcommand, and the prompt (an
//! argument, or `-` / none for stdin; a piped stdin besides an argument is
//! appended as a `<stdin>` block). It works in `-C DIR` and refuses to run
//! outside a git repository without `--skip-git-repo-check`, like the real
//! CLI. Then it plays a scenario: the JSON file named by
//! `FAKE_CODEX_SCENARIO`, or a default success that runs a command, writes
//! a file and answers. Output lines have the shapes of docs/reference
//! `agent-protocols.md` §2; with `--json` one event per line on stdout,
//! else progress on stderr and the last message on stdout.
//!
//! Environment:
//! - `FAKE_CODEX_SCENARIO`: path of a scenario file (below).
//! - `FAKE_CODEX_ARGV_LOG`: append `{"argv":[...],"cwd":"...","stdin":"..."}`
//!   as one JSON line per call (`cwd` is where it was started).
//!
//! A scenario: `{"sigterm": "exit" | "ignore", "shape": "current" | "first",
//! "steps": [...]}`. `sigterm` `exit` (the default) exits 143 at once;
//! `ignore` keeps going (only SIGKILL stops it). `shape` `first` prints
//! items the way the first version did (`item_type`, `assistant_message`).
//! Steps, each an object with `"step"`:
//! - `message {text}`: an agent message (`item.completed`).
//! - `reasoning {text}`: a reasoning summary.
//! - `command {command, output?, exit_code?}`: `item.started` then
//!   `item.completed` of a `command_execution`.
//! - `write_file {path, content?}`: writes the file (`{task}` in the path is
//!   `$TECHLEAD_TASK`, the content defaults to the prompt) and prints the
//!   `file_change` item.
//! - `todo {items: [[text, done], ...]}`: a `todo_list` item (started the
//!   first time, then updated).
//! - `warning {message}`: an `error` item (non-fatal).
//! - `error {message}`: a top-level `error` event (a retry notice).
//! - `turn`: ends the turn (`turn.completed` with the running usage) and
//!   starts another.
//! - `fail {message, code?}`: `turn.failed`, then exits `code` (default 1).
//! - `exit {code}`: exits at once, with nothing more.
//! - `line {text}`: prints `text` as is (unknown types, non-JSON).
//! - `stderr {text}`: prints a line on stderr.
//! - `sleep {ms}`; `wait_file {path}`: wait until the file exists.
//! - `spawn {argv}`: starts a background process in the same process group.
//!
//! After the last step the turn completes (`turn.completed`) and the fake
//! exits 0. Each message or command costs fixed tokens; the usage printed
//! is the thread's running total. `resume unknown-thread` fails like a
//! missing session.

use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};
use techlead_fakes::cli::{self, Fake, OnSigterm};

const FAKE: Fake = Fake::new("codex");

/// What each message or command costs, in tokens.
const STEP_INPUT: u64 = 1000;
const STEP_CACHED: u64 = 800;
const STEP_OUTPUT: u64 = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    #[serde(default)]
    sigterm: OnSigterm,
    #[serde(default)]
    shape: Shape,
    steps: Vec<Step>,
}

#[derive(Debug, Default, Deserialize, PartialEq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Shape {
    #[default]
    Current,
    First,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
enum Step {
    Message {
        text: String,
    },
    Reasoning {
        text: String,
    },
    Command {
        command: String,
        #[serde(default)]
        output: Option<String>,
        #[serde(default)]
        exit_code: Option<i32>,
    },
    WriteFile {
        path: String,
        #[serde(default)]
        content: Option<String>,
    },
    Todo {
        items: Vec<(String, bool)>,
    },
    Warning {
        message: String,
    },
    Error {
        message: String,
    },
    Turn,
    Fail {
        message: String,
        #[serde(default)]
        code: Option<u8>,
    },
    Exit {
        code: u8,
    },
    Line {
        text: String,
    },
    Stderr {
        text: String,
    },
    Sleep {
        ms: u64,
    },
    WaitFile {
        path: String,
    },
    Spawn {
        argv: Vec<String>,
    },
}

fn default_scenario() -> Scenario {
    let step = |value: Value| serde_json::from_value::<Step>(value).expect("a built-in step");
    Scenario {
        sigterm: OnSigterm::Exit,
        shape: Shape::Current,
        steps: vec![
            step(json!({"step": "reasoning", "text": "Planning the change."})),
            step(json!({"step": "command", "command": "bash -lc ls", "output": "README.md\n"})),
            step(json!({"step": "write_file", "path": "out/{task}.md"})),
            step(json!({"step": "message", "text": "Done: wrote out/{task}.md."})),
        ],
    }
}

/// What the command line asked for.
#[derive(Debug, Default)]
struct Args {
    json: bool,
    sandbox: Option<String>,
    model: Option<String>,
    cd: Option<PathBuf>,
    skip_git_repo_check: bool,
    resume: Option<String>,
    prompt: Option<String>,
}

/// `codex exec` flags that take a value.
const VALUED: &[&str] = &[
    "-s",
    "--sandbox",
    "-m",
    "--model",
    "-C",
    "--cd",
    "-c",
    "--config",
    "-o",
    "--output-last-message",
    "--output-schema",
    "--color",
    "-i",
    "--image",
    "-p",
    "--profile",
];

/// `codex exec` flags without a value.
const SWITCHES: &[&str] = &[
    "--json",
    "--experimental-json",
    "--skip-git-repo-check",
    "--ephemeral",
    "--full-auto",
    "--dangerously-bypass-approvals-and-sandbox",
    "--last",
];

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut rest = argv.iter();
    match rest.next().map(String::as_str) {
        Some("exec" | "e") => {}
        Some(other) => {
            return Err(format!(
                "this fake codex only runs `codex exec`, not `{other}`"
            ));
        }
        None => return Err("this fake codex only runs `codex exec`".to_owned()),
    }
    let mut args = Args::default();
    let mut positional = Vec::new();
    while let Some(arg) = rest.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        if SWITCHES.contains(&name) {
            match name {
                "--json" | "--experimental-json" => args.json = true,
                "--skip-git-repo-check" => args.skip_git_repo_check = true,
                _ => {}
            }
        } else if VALUED.contains(&name) {
            let value = match inline {
                Some(value) => value,
                None => rest.next().cloned().ok_or_else(|| {
                    format!("error: a value is required for '{name} <VALUE>' but none was supplied")
                })?,
            };
            match name {
                "-s" | "--sandbox" => {
                    if !["read-only", "workspace-write", "danger-full-access"]
                        .contains(&value.as_str())
                    {
                        return Err(format!(
                            "error: invalid value '{value}' for '--sandbox <SANDBOX_MODE>'\n  \
                             [possible values: read-only, workspace-write, danger-full-access]"
                        ));
                    }
                    args.sandbox = Some(value);
                }
                "-m" | "--model" => args.model = Some(value),
                "-C" | "--cd" => args.cd = Some(PathBuf::from(value)),
                _ => {}
            }
        } else if name.starts_with('-') && name != "-" {
            return Err(format!("error: unexpected argument '{name}' found"));
        } else {
            positional.push(arg.clone());
        }
    }
    let mut positional = positional.into_iter();
    let first = positional.next();
    if first.as_deref() == Some("resume") {
        args.resume = Some(
            positional
                .next()
                .ok_or("error: resume needs a SESSION_ID or --last")?,
        );
        args.prompt = positional.next();
    } else {
        args.prompt = first;
    }
    if let Some(extra) = positional.next() {
        return Err(format!("error: unexpected argument '{extra}' found"));
    }
    Ok(args)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(args) => args,
        Err(message) => {
            FAKE.record(&argv, "");
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let mut stdin = String::new();
    let stdin_piped = !std::io::stdin().is_terminal();
    if stdin_piped {
        let _ = std::io::stdin().read_to_string(&mut stdin);
    }
    FAKE.record(&argv, &stdin);
    let prompt = match args.prompt.as_deref() {
        None | Some("-") => stdin,
        Some(arg) if stdin.trim().is_empty() => arg.to_owned(),
        Some(arg) => format!("{arg}\n\n<stdin>\n{stdin}</stdin>"),
    };
    if prompt.trim().is_empty() {
        eprintln!(
            "No prompt provided. Either specify one as an argument or pipe the prompt into stdin."
        );
        return ExitCode::from(1);
    }
    if let Some(dir) = &args.cd
        && let Err(error) = std::env::set_current_dir(dir)
    {
        eprintln!("Error: cannot change to {}: {error}", dir.display());
        return ExitCode::from(1);
    }
    if !args.skip_git_repo_check && !in_git_repo() {
        eprintln!("Not inside a trusted directory and --skip-git-repo-check was not specified.");
        return ExitCode::from(1);
    }
    if args.resume.as_deref() == Some("unknown-thread") {
        eprintln!("Error: No saved session found with ID unknown-thread");
        return ExitCode::from(1);
    }
    let scenario = match FAKE.scenario() {
        Ok(scenario) => scenario.unwrap_or_else(default_scenario),
        Err(bad) => {
            eprintln!("fake codex: bad scenario {:?}: {}", bad.path, bad.error);
            return ExitCode::from(2);
        }
    };
    FAKE.run(scenario.sigterm, || play(args, prompt, scenario))
}

fn in_git_repo() -> bool {
    let Ok(mut dir) = std::env::current_dir() else {
        return false;
    };
    loop {
        if dir.join(".git").exists() {
            return true;
        }
        if !dir.pop() {
            return false;
        }
    }
}

async fn play(args: Args, prompt: String, scenario: Scenario) -> u8 {
    let mut player = Player {
        thread: args.resume.clone().unwrap_or_else(new_uuid_v7),
        // A resumed thread's usage continues from the earlier run's.
        usage: if args.resume.is_some() {
            (STEP_INPUT, STEP_CACHED, STEP_OUTPUT)
        } else {
            (0, 0, 0)
        },
        args,
        prompt,
        shape: scenario.shape,
        next_item: 0,
        todo_started: false,
        last_message: None,
    };
    player.run(scenario.steps).await
}

struct Player {
    args: Args,
    prompt: String,
    shape: Shape,
    thread: String,
    next_item: u32,
    /// Running totals: input (cached included), cached, output.
    usage: (u64, u64, u64),
    todo_started: bool,
    last_message: Option<String>,
}

impl Player {
    fn emit(&self, value: Value) {
        if self.args.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{value}");
            let _ = out.flush();
        } else if let Some(kind) = value.get("type").and_then(Value::as_str) {
            // Without --json, progress goes to stderr.
            eprintln!("[{kind}] {}", value.get("item").unwrap_or(&Value::Null));
        }
    }

    /// An item in the scenario's shape.
    fn item(&mut self, kind: &str, fields: Value) -> Value {
        let (type_key, kind) = match (self.shape, kind) {
            (Shape::Current, kind) => ("type", kind),
            (Shape::First, "agent_message") => ("item_type", "assistant_message"),
            (Shape::First, kind) => ("item_type", kind),
        };
        let mut item = json!({"id": format!("item_{}", self.next_item), type_key: kind});
        self.next_item += 1;
        if let (Some(item), Some(fields)) = (item.as_object_mut(), fields.as_object()) {
            for (key, value) in fields {
                item.insert(key.clone(), value.clone());
            }
        }
        item
    }

    fn spend(&mut self) {
        self.usage.0 += STEP_INPUT;
        self.usage.1 += STEP_CACHED;
        self.usage.2 += STEP_OUTPUT;
    }

    fn task(&self) -> String {
        std::env::var("TECHLEAD_TASK").unwrap_or_else(|_| "task".to_owned())
    }

    fn fill(&self, text: &str) -> String {
        text.replace("{task}", &self.task())
    }

    fn turn_completed(&self) {
        let (input, cached, output) = self.usage;
        self.emit(json!({"type": "turn.completed", "usage": {
            "input_tokens": input, "cached_input_tokens": cached, "output_tokens": output,
        }}));
    }

    async fn run(&mut self, steps: Vec<Step>) -> u8 {
        self.emit(json!({"type": "thread.started", "thread_id": self.thread}));
        self.emit(json!({"type": "turn.started"}));
        for step in steps {
            if let Some(code) = self.step(step).await {
                return code;
            }
        }
        self.turn_completed();
        if !self.args.json
            && let Some(message) = &self.last_message
        {
            println!("{message}");
        }
        0
    }

    /// Plays one step; `Some(code)` ends the run.
    async fn step(&mut self, step: Step) -> Option<u8> {
        match step {
            Step::Message { text } => {
                self.spend();
                let text = self.fill(&text);
                let item = self.item("agent_message", json!({"text": text}));
                self.emit(json!({"type": "item.completed", "item": item}));
                self.last_message = Some(text);
            }
            Step::Reasoning { text } => {
                let item = self.item("reasoning", json!({"text": text}));
                self.emit(json!({"type": "item.completed", "item": item}));
            }
            Step::Command {
                command,
                output,
                exit_code,
            } => {
                self.spend();
                let started = self.item(
                    "command_execution",
                    json!({"command": command, "aggregated_output": "",
                           "exit_code": null, "status": "in_progress"}),
                );
                self.emit(json!({"type": "item.started", "item": started.clone()}));
                let code = exit_code.unwrap_or(0);
                let mut done = started;
                done["aggregated_output"] = json!(output.unwrap_or_default());
                done["exit_code"] = json!(code);
                done["status"] = json!(if code == 0 { "completed" } else { "failed" });
                self.emit(json!({"type": "item.completed", "item": done}));
            }
            Step::WriteFile { path, content } => {
                let path = self.fill(&path);
                let existed = Path::new(&path).exists();
                let content = content.unwrap_or_else(|| self.prompt.clone());
                if let Some(parent) = Path::new(&path).parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                let status = match std::fs::write(&path, content) {
                    Ok(()) => "completed",
                    Err(error) => {
                        eprintln!("fake codex: cannot write {path}: {error}");
                        "failed"
                    }
                };
                let kind = if existed { "update" } else { "add" };
                let item = self.item(
                    "file_change",
                    json!({"changes": [{"path": path, "kind": kind}], "status": status}),
                );
                self.emit(json!({"type": "item.completed", "item": item}));
            }
            Step::Todo { items } => {
                let items: Vec<Value> = items
                    .into_iter()
                    .map(|(text, completed)| json!({"text": text, "completed": completed}))
                    .collect();
                let kind = if self.todo_started {
                    "item.updated"
                } else {
                    "item.started"
                };
                self.todo_started = true;
                let mut item = self.item("todo_list", json!({"items": items}));
                item["id"] = json!("item_todo");
                self.emit(json!({"type": kind, "item": item}));
            }
            Step::Warning { message } => {
                let item = self.item("error", json!({"message": message}));
                self.emit(json!({"type": "item.completed", "item": item}));
            }
            Step::Error { message } => self.emit(json!({"type": "error", "message": message})),
            Step::Turn => {
                self.turn_completed();
                self.emit(json!({"type": "turn.started"}));
            }
            Step::Fail { message, code } => {
                self.emit(json!({"type": "turn.failed", "error": {"message": message}}));
                if !self.args.json {
                    eprintln!("ERROR: {message}");
                }
                return Some(code.unwrap_or(1));
            }
            Step::Exit { code } => return Some(code),
            Step::Line { text } => cli::print_line(&text),
            Step::Stderr { text } => eprintln!("{text}"),
            Step::Sleep { ms } => cli::sleep_ms(ms).await,
            Step::WaitFile { path } => cli::wait_file(&path).await,
            Step::Spawn { argv } => FAKE.spawn(&argv)?,
        }
        None
    }
}

/// A UUIDv7-shaped thread ID (the time first), random enough, without a
/// dependency.
fn new_uuid_v7() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let millis = since.as_millis() as u64 & 0xffff_ffff_ffff;
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut x = u64::from(since.subsec_nanos())
        ^ (u64::from(std::process::id()) << 32)
        ^ count.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 31;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 29;
    format!(
        "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
        millis >> 16,
        millis & 0xffff,
        x & 0xfff,
        0x8000 | ((x >> 12) & 0x3fff),
        (x >> 26) & 0xffff_ffff_ffff
    )
}
