//! A fake `claude` (Claude Code headless) for tests and examples. No network.
//!
//! It reads its arguments like the real CLI (`-p`, `--output-format`,
//! `--verbose`, `--model`, `--resume`, ...; an unknown flag is an error,
//! and `--output-format stream-json` without `--verbose` is refused with
//! the real CLI's message and exit 1), reads the prompt from stdin (and a
//! positional argument), and plays a scenario: the JSON file named by
//! `FAKE_CLAUDE_SCENARIO`, or a default success that writes a file.
//! Output lines have the shapes of docs/reference `agent-protocols.md` §1.
//!
//! Environment:
//! - `FAKE_CLAUDE_SCENARIO`: path of a scenario file (below).
//! - `FAKE_CLAUDE_ARGV_LOG`: append `{"argv":[...],"cwd":"...","stdin":"..."}`
//!   as one JSON line per call.
//!
//! A scenario: `{"sigterm": "exit" | "ignore", "init": true, "steps": [...]}`.
//! `sigterm` `exit` (the default) exits 143 with no result line, as the real
//! CLI does; `ignore` keeps going (only SIGKILL stops it). Steps, each an
//! object with `"step"`:
//! - `text {text}`: an assistant turn with a text block.
//! - `tool_use {name, input?, output?}`: an assistant turn calling a tool,
//!   then the `user` line with its result.
//! - `sleep {ms}`; `wait_file {path}`: wait until the file exists.
//! - `write_file {path, content?}`: writes in the working directory;
//!   `{task}` in the path is `$TECHLEAD_TASK`, the content defaults to the
//!   prompt.
//! - `spawn {argv}`: starts a background process in the same process group.
//! - `rate_limit {status, resets_at?, error_code?}`: a `rate_limit_event`.
//! - `api_retry {attempt?, error_status?, error?}`: a `system/api_retry` line.
//! - `line {text}`: prints `text` as is (unknown types, non-JSON).
//! - `stderr {text}`: prints a line on stderr.
//! - `result {text?}`: the success result; exit 0.
//! - `api_error {status, text, error?}`: the synthetic assistant line and the
//!   `subtype:"success", is_error:true` envelope; exit 1.
//! - `error {subtype, errors, is_error?}`: `error_max_turns` and the like;
//!   exit 1.
//! - `exit {code}`: exits at once, with no result line.
//!
//! Without a result step the fake exits 0 after the last step, with no
//! result line. `--max-turns N` is honoured: turn N+1 ends the run with
//! `error_max_turns`.

use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;
use techlead_fakes::cli::{self, Fake, OnSigterm};

const FAKE: Fake = Fake::new("claude");

const VERBOSE_REFUSAL: &str =
    "Error: When using --print, --output-format=stream-json requires --verbose";
const MODEL: &str = "claude-sonnet-5";
const VERSION: &str = "2.1.240";
/// What each assistant turn costs, in tokens and dollars.
const TURN_INPUT: u64 = 100;
const TURN_OUTPUT: u64 = 20;
const TURN_CACHE_READ: u64 = 1000;
const TURN_CACHE_WRITE: u64 = 50;
const TURN_COST: f64 = 0.0025;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    #[serde(default)]
    sigterm: OnSigterm,
    #[serde(default = "yes")]
    init: bool,
    steps: Vec<Step>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
enum Step {
    Text {
        text: String,
    },
    ToolUse {
        name: String,
        #[serde(default)]
        input: Value,
        #[serde(default)]
        output: Option<String>,
    },
    Sleep {
        ms: u64,
    },
    WaitFile {
        path: String,
    },
    WriteFile {
        path: String,
        #[serde(default)]
        content: Option<String>,
    },
    Spawn {
        argv: Vec<String>,
    },
    RateLimit {
        status: String,
        #[serde(default)]
        resets_at: Option<i64>,
        #[serde(default)]
        error_code: Option<String>,
    },
    ApiRetry {
        #[serde(default)]
        attempt: Option<u32>,
        #[serde(default)]
        error_status: Option<u16>,
        #[serde(default)]
        error: Option<String>,
    },
    Line {
        text: String,
    },
    Stderr {
        text: String,
    },
    Result {
        #[serde(default)]
        text: Option<String>,
    },
    ApiError {
        status: Option<u16>,
        text: String,
        #[serde(default)]
        error: Option<String>,
    },
    Error {
        subtype: String,
        errors: Vec<String>,
        #[serde(default)]
        is_error: Option<bool>,
    },
    Exit {
        code: u8,
    },
}

fn default_scenario() -> Scenario {
    let step = |value: Value| serde_json::from_value::<Step>(value).expect("a built-in step");
    Scenario {
        sigterm: OnSigterm::Exit,
        init: true,
        steps: vec![
            step(json!({"step": "text", "text": "Reading the task and planning the change."})),
            step(json!({"step": "tool_use", "name": "Write",
                        "input": {"file_path": "out/{task}.md"}, "output": "File created"})),
            step(json!({"step": "write_file", "path": "out/{task}.md"})),
            step(json!({"step": "text", "text": "Wrote out/{task}.md."})),
            step(json!({"step": "result", "text": "Done: wrote out/{task}.md."})),
        ],
    }
}

/// What the command line asked for.
#[derive(Debug, Default)]
struct Args {
    print: bool,
    verbose: bool,
    output_format: Option<String>,
    model: Option<String>,
    resume: Option<String>,
    max_turns: Option<u32>,
    permission_mode: Option<String>,
    prompt: Option<String>,
}

/// Flags that take a value.
const VALUED: &[&str] = &[
    "--output-format",
    "--input-format",
    "--model",
    "--fallback-model",
    "--append-system-prompt",
    "--append-system-prompt-file",
    "--system-prompt",
    "--system-prompt-file",
    "--allowedTools",
    "--allowed-tools",
    "--disallowedTools",
    "--disallowed-tools",
    "--tools",
    "--permission-mode",
    "--max-turns",
    "--max-budget-usd",
    "--resume",
    "-r",
    "--session-id",
    "--agents",
    "--agent",
    "--json-schema",
    "--mcp-config",
    "--settings",
    "--setting-sources",
    "--add-dir",
];

/// Flags without a value.
const SWITCHES: &[&str] = &[
    "-p",
    "--print",
    "--verbose",
    "--include-partial-messages",
    "--dangerously-skip-permissions",
    "--no-session-persistence",
    "--strict-mcp-config",
    "--bare",
    "--continue",
    "-c",
    "--fork-session",
    "--forward-subagent-text",
];

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut args = Args::default();
    let mut rest = argv.iter();
    while let Some(arg) = rest.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        if SWITCHES.contains(&name) {
            match name {
                "-p" | "--print" => args.print = true,
                "--verbose" => args.verbose = true,
                _ => {}
            }
        } else if VALUED.contains(&name) {
            let value = match inline {
                Some(value) => value,
                None => rest
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("error: option '{name} <value>' argument missing"))?,
            };
            match name {
                "--output-format" => {
                    if !["text", "json", "stream-json"].contains(&value.as_str()) {
                        return Err(format!(
                            "error: option '--output-format <format>' argument '{value}' is invalid. \
                             Allowed choices are text, json, stream-json."
                        ));
                    }
                    args.output_format = Some(value);
                }
                "--model" => args.model = Some(value),
                "--resume" | "-r" => args.resume = Some(value),
                "--permission-mode" => args.permission_mode = Some(value),
                "--max-turns" => {
                    args.max_turns = Some(
                        value
                            .parse()
                            .map_err(|_| format!("error: invalid --max-turns value '{value}'"))?,
                    );
                }
                _ => {}
            }
        } else if name.starts_with('-') && name.len() > 1 {
            return Err(format!("error: unknown option '{name}'"));
        } else {
            args.prompt = Some(arg.clone());
        }
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
            return ExitCode::from(1);
        }
    };
    if args.print && args.output_format.as_deref() == Some("stream-json") && !args.verbose {
        FAKE.record(&argv, "");
        eprintln!("{VERBOSE_REFUSAL}");
        return ExitCode::from(1);
    }
    let mut stdin = String::new();
    // A terminal or a closed stdin is just no prompt there.
    let _ = std::io::stdin().read_to_string(&mut stdin);
    FAKE.record(&argv, &stdin);
    let prompt = match (&args.prompt, stdin.is_empty()) {
        (Some(arg), false) => format!("{stdin}\n\n{arg}"),
        (Some(arg), true) => arg.clone(),
        (None, _) => stdin,
    };
    if !args.print {
        eprintln!("this fake claude only runs headless: pass -p");
        return ExitCode::from(1);
    }
    if prompt.trim().is_empty() {
        eprintln!(
            "Error: Input must be provided either through stdin or as a prompt argument when using --print"
        );
        return ExitCode::from(1);
    }
    if args.resume.as_deref() == Some("unknown-session") {
        eprintln!("No conversation found with session ID: unknown-session");
        return ExitCode::from(1);
    }
    let scenario = match FAKE.scenario() {
        Ok(scenario) => scenario.unwrap_or_else(default_scenario),
        Err(bad) => {
            let problem = if bad.unreadable {
                "cannot read the scenario"
            } else {
                "bad scenario"
            };
            eprintln!("fake claude: {problem} {:?}: {}", bad.path, bad.error);
            return ExitCode::from(2);
        }
    };
    FAKE.run(scenario.sigterm, || play(args, prompt, scenario))
}

async fn play(args: Args, prompt: String, scenario: Scenario) -> u8 {
    let mut player = Player::new(args, prompt);
    player.run(scenario).await
}

struct Player {
    args: Args,
    prompt: String,
    session: String,
    model: String,
    started: Instant,
    turns: u32,
    /// Every line, for `--output-format json`.
    messages: Vec<Value>,
    next_id: u32,
}

impl Player {
    fn new(args: Args, prompt: String) -> Player {
        let session = args.resume.clone().unwrap_or_else(cli::new_uuid);
        let model = match args.model.as_deref() {
            None | Some("sonnet") => MODEL.to_owned(),
            Some("opus") => "claude-opus-5".to_owned(),
            Some("haiku") => "claude-haiku-5".to_owned(),
            Some(other) => other.to_owned(),
        };
        Player {
            args,
            prompt,
            session,
            model,
            started: Instant::now(),
            turns: 0,
            messages: Vec::new(),
            next_id: 0,
        }
    }

    fn format(&self) -> &str {
        self.args.output_format.as_deref().unwrap_or("text")
    }

    /// Writes one message: at once for stream-json, else kept for the end.
    fn emit(&mut self, value: Value) {
        if self.format() == "stream-json" {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{value}");
            let _ = out.flush();
        } else {
            self.messages.push(value);
        }
    }

    /// The end: the result, and for `json` and `text` everything kept.
    fn finish(&mut self, result: Value) {
        let text = result
            .get("result")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        self.emit(result);
        let mut out = std::io::stdout().lock();
        match self.format() {
            "json" if self.args.verbose => {
                let _ = writeln!(out, "{}", Value::Array(std::mem::take(&mut self.messages)));
            }
            "json" => {
                if let Some(result) = self.messages.pop() {
                    let _ = writeln!(out, "{result}");
                }
            }
            "text" => {
                let _ = writeln!(out, "{text}");
            }
            _ => {}
        }
        let _ = out.flush();
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        let tag: String = self
            .session
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect();
        format!("{prefix}_{:04}{tag}", self.next_id)
    }

    fn task(&self) -> String {
        std::env::var("TECHLEAD_TASK").unwrap_or_else(|_| "task".to_owned())
    }

    fn fill(&self, text: &str) -> String {
        text.replace("{task}", &self.task())
    }

    fn turn_usage() -> Value {
        json!({
            "input_tokens": TURN_INPUT,
            "output_tokens": TURN_OUTPUT,
            "cache_read_input_tokens": TURN_CACHE_READ,
            "cache_creation_input_tokens": TURN_CACHE_WRITE,
        })
    }

    /// Starts an assistant turn; false (after the error result) when
    /// `--max-turns` is reached.
    fn begin_turn(&mut self) -> bool {
        if let Some(max) = self.args.max_turns
            && self.turns >= max
        {
            let result = self.result_base(
                "error_max_turns",
                true,
                json!({
                    "errors": [format!("Reached maximum number of turns ({max})")],
                    "stop_reason": "tool_use",
                    "terminal_reason": "max_turns",
                }),
            );
            self.finish(result);
            return false;
        }
        self.turns += 1;
        true
    }

    fn assistant(&mut self, content: Value, stop_reason: Value) {
        let id = self.id("msg");
        let uuid = cli::new_uuid();
        let line = json!({
            "type": "assistant",
            "message": {
                "id": id, "type": "message", "role": "assistant", "model": self.model,
                "content": content, "stop_reason": stop_reason, "stop_sequence": null,
                "usage": Self::turn_usage(),
            },
            "parent_tool_use_id": null,
            "session_id": self.session,
            "uuid": uuid,
        });
        self.emit(line);
    }

    /// The result object's fields common to every subtype, plus `extra`.
    fn result_base(&self, subtype: &str, is_error: bool, extra: Value) -> Value {
        let turns = u64::from(self.turns);
        let cost = TURN_COST * f64::from(self.turns);
        let mut model_usage = serde_json::Map::new();
        if turns > 0 {
            model_usage.insert(
                self.model.clone(),
                json!({
                    "inputTokens": TURN_INPUT * turns,
                    "outputTokens": TURN_OUTPUT * turns,
                    "cacheReadInputTokens": TURN_CACHE_READ * turns,
                    "cacheCreationInputTokens": TURN_CACHE_WRITE * turns,
                    "webSearchRequests": 0,
                    "costUSD": cost,
                    "contextWindow": 200000,
                    "maxOutputTokens": 32000,
                }),
            );
        }
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut result = json!({
            "type": "result",
            "subtype": subtype,
            "is_error": is_error,
            "duration_ms": elapsed,
            "duration_api_ms": elapsed / 2,
            "num_turns": self.turns.max(1),
            "stop_reason": "end_turn",
            "session_id": self.session,
            "total_cost_usd": cost,
            "usage": {
                "input_tokens": TURN_INPUT * turns,
                "output_tokens": TURN_OUTPUT * turns,
                "cache_read_input_tokens": TURN_CACHE_READ * turns,
                "cache_creation_input_tokens": TURN_CACHE_WRITE * turns,
                "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
                "service_tier": "standard",
            },
            "modelUsage": model_usage,
            "permission_denials": [],
            "uuid": cli::new_uuid(),
        });
        if let (Some(result), Some(extra)) = (result.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                result.insert(key.clone(), value.clone());
            }
        }
        result
    }

    async fn run(&mut self, scenario: Scenario) -> u8 {
        if scenario.init {
            let cwd = std::env::current_dir()
                .map(|dir| dir.display().to_string())
                .unwrap_or_default();
            let init = json!({
                "type": "system", "subtype": "init",
                "session_id": self.session, "uuid": cli::new_uuid(),
                "cwd": cwd, "model": self.model,
                "permissionMode": self.args.permission_mode.as_deref().unwrap_or("default"),
                "tools": ["Agent", "Bash", "Edit", "Glob", "Grep", "Read", "Write"],
                "mcp_servers": [], "apiKeySource": "ANTHROPIC_API_KEY",
                "claude_code_version": VERSION, "slash_commands": [], "skills": [],
                "plugins": [], "output_style": "default",
            });
            self.emit(init);
        }
        for step in scenario.steps {
            if let Some(code) = self.step(step).await {
                return code;
            }
        }
        0
    }

    /// Plays one step; `Some(code)` ends the run.
    async fn step(&mut self, step: Step) -> Option<u8> {
        match step {
            Step::Text { text } => {
                if !self.begin_turn() {
                    return Some(1);
                }
                let text = self.fill(&text);
                self.assistant(json!([{"type": "text", "text": text}]), json!("end_turn"));
            }
            Step::ToolUse {
                name,
                input,
                output,
            } => {
                if !self.begin_turn() {
                    return Some(1);
                }
                let tool_id = self.id("toolu");
                let input = serde_json::from_str::<Value>(&self.fill(&input.to_string()))
                    .unwrap_or(Value::Null);
                self.assistant(
                    json!([{"type": "tool_use", "id": tool_id, "name": name, "input": input}]),
                    json!("tool_use"),
                );
                let output = output.unwrap_or_else(|| "ok".to_owned());
                let line = json!({
                    "type": "user",
                    "message": {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": tool_id, "content": output}
                    ]},
                    "parent_tool_use_id": null,
                    "session_id": self.session,
                    "uuid": cli::new_uuid(),
                    "tool_use_result": {"type": "text", "content": output},
                });
                self.emit(line);
            }
            Step::Sleep { ms } => cli::sleep_ms(ms).await,
            Step::WaitFile { path } => cli::wait_file(&path).await,
            Step::WriteFile { path, content } => {
                let path = self.fill(&path);
                let content = content.unwrap_or_else(|| self.prompt.clone());
                if let Some(parent) = Path::new(&path).parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                if let Err(error) = std::fs::write(&path, content) {
                    eprintln!("fake claude: cannot write {path}: {error}");
                }
            }
            Step::Spawn { argv } => FAKE.spawn(&argv)?,
            Step::RateLimit {
                status,
                resets_at,
                error_code,
            } => {
                let mut info = json!({"status": status, "rateLimitType": "five_hour",
                                      "overageStatus": "rejected"});
                if let Some(at) = resets_at {
                    info["resetsAt"] = json!(at);
                }
                if let Some(code) = error_code {
                    info["errorCode"] = json!(code);
                }
                let line = json!({"type": "rate_limit_event", "rate_limit_info": info,
                                  "session_id": self.session, "uuid": cli::new_uuid()});
                self.emit(line);
            }
            Step::ApiRetry {
                attempt,
                error_status,
                error,
            } => {
                let line = json!({
                    "type": "system", "subtype": "api_retry",
                    "attempt": attempt.unwrap_or(1), "max_retries": 10,
                    "retry_delay_ms": 500, "error_status": error_status,
                    "error": error.unwrap_or_else(|| "overloaded".to_owned()),
                    "session_id": self.session, "uuid": cli::new_uuid(),
                });
                self.emit(line);
            }
            Step::Line { text } => cli::print_line(&text),
            Step::Stderr { text } => eprintln!("{text}"),
            Step::Result { text } => {
                let text = self.fill(&text.unwrap_or_else(|| "Done.".to_owned()));
                let result = self.result_base(
                    "success",
                    false,
                    json!({
                        "result": text, "terminal_reason": "completed",
                    }),
                );
                self.finish(result);
                return Some(0);
            }
            Step::ApiError {
                status,
                text,
                error,
            } => {
                let error = error.unwrap_or_else(|| {
                    match status {
                        Some(401 | 403) => "authentication_failed",
                        Some(429) => "rate_limit",
                        Some(529) => "overloaded",
                        _ => "unknown",
                    }
                    .to_owned()
                });
                let id = self.id("msg");
                let synthetic = json!({
                    "type": "assistant",
                    "message": {
                        "id": id, "type": "message", "role": "assistant",
                        "model": "<synthetic>",
                        "content": [{"type": "text", "text": text}],
                        "stop_reason": "stop_sequence", "stop_sequence": "",
                        "usage": {"input_tokens": 0, "output_tokens": 0,
                                  "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
                    },
                    "parent_tool_use_id": null,
                    "session_id": self.session,
                    "uuid": cli::new_uuid(),
                    "error": error,
                    "is_api_error_message": true,
                });
                self.emit(synthetic);
                if self.turns == 0 {
                    self.turns = 1;
                }
                let mut result = self.result_base(
                    "success",
                    true,
                    json!({
                        "result": text, "api_error_status": status,
                        "stop_reason": "stop_sequence", "terminal_reason": "api_error",
                        "total_cost_usd": 0, "modelUsage": {},
                    }),
                );
                result["usage"] = json!({"input_tokens": 0, "output_tokens": 0});
                self.finish(result);
                return Some(1);
            }
            Step::Error {
                subtype,
                errors,
                is_error,
            } => {
                let terminal = match subtype.as_str() {
                    "error_max_turns" => "max_turns",
                    "error_max_budget_usd" => "budget_exhausted",
                    _ => "model_error",
                };
                let result = self.result_base(
                    &subtype,
                    is_error.unwrap_or(true),
                    json!({
                        "errors": errors, "stop_reason": "tool_use", "terminal_reason": terminal,
                    }),
                );
                self.finish(result);
                return Some(1);
            }
            Step::Exit { code } => return Some(code),
        }
        None
    }
}
