//! A fake `gemini` (Gemini CLI headless) for tests and examples. No network.
//!
//! It reads its arguments like the real CLI (`-p/--prompt`,
//! `-o/--output-format text|json|stream-json`, `-m/--model`,
//! `--approval-mode default|auto_edit|yolo|plan`, `-r/--resume`, ...; an
//! unknown flag is an error, exit 1), takes the prompt from stdin put before
//! `-p` (an empty prompt exits 42, as the real CLI does), and plays a
//! scenario: the JSON file named by `FAKE_GEMINI_SCENARIO`, or a default
//! success that writes a file. Output has the shapes of docs/reference
//! `agent-protocols.md` §3: with `-o stream-json` one event per line, each
//! with `type` and `timestamp`; with `-o json` one object at the end; else
//! the answer as text.
//!
//! Environment:
//! - `FAKE_GEMINI_SCENARIO`: path of a scenario file (below).
//! - `FAKE_GEMINI_ARGV_LOG`: append `{"argv":[...],"cwd":"...","stdin":"..."}`
//!   as one JSON line per call.
//!
//! A scenario: `{"sigterm": "exit" | "ignore", "steps": [...]}`. `sigterm`
//! `exit` (the default) exits 143 at once; `ignore` keeps going (only
//! SIGKILL stops it). Steps, each an object with `"step"`:
//! - `text {text}`: assistant text, sent as two `delta` messages.
//! - `tool {name, parameters?, output?, error?}`: `tool_use` then its
//!   `tool_result` (status `error` when `error` is given). Under
//!   `--approval-mode default` or `plan`, a tool other than `read_file`
//!   is refused with a `tool_result` error, as nobody can approve it.
//! - `write_file {path, content?}`: a `write_file` tool call that writes in
//!   the working directory (`{task}` in the path is `$TECHLEAD_TASK`, the
//!   content defaults to the prompt).
//! - `warning {message}`, `error {message}`: an `error` event of that
//!   severity (non-fatal).
//! - `fail {message, type?, code}`: a `result` with status `error`, then
//!   exits `code` (e.g. 1, 41 auth, 53 turn limit, 54 tool error).
//! - `exit {code}`: exits at once, with no result.
//! - `line {text}`: prints `text` as is (unknown types, non-JSON).
//! - `stderr {text}`: prints a line on stderr.
//! - `sleep {ms}`; `wait_file {path}`: wait until the file exists.
//! - `spawn {argv}`: starts a background process in the same process group.
//!
//! After the last step: a `result` with status `success` and the stats,
//! exit 0. Each text or tool step costs fixed tokens.

use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use techlead_fakes::cli::{self, Fake, OnSigterm};

const FAKE: Fake = Fake::new("gemini");

const MODEL: &str = "gemini-2.5-pro";
/// What each text or tool step costs, in tokens.
const STEP_INPUT: u64 = 2000;
const STEP_CACHED: u64 = 1500;
const STEP_OUTPUT: u64 = 40;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    #[serde(default)]
    sigterm: OnSigterm,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
enum Step {
    Text {
        text: String,
    },
    Tool {
        name: String,
        #[serde(default)]
        parameters: Value,
        #[serde(default)]
        output: Option<String>,
        #[serde(default)]
        error: Option<String>,
    },
    WriteFile {
        path: String,
        #[serde(default)]
        content: Option<String>,
    },
    Warning {
        message: String,
    },
    Error {
        message: String,
    },
    Fail {
        message: String,
        #[serde(default, rename = "type")]
        kind: Option<String>,
        code: u8,
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
        steps: vec![
            step(json!({"step": "text", "text": "Reading the task and planning the change."})),
            step(json!({"step": "write_file", "path": "out/{task}.md"})),
            step(json!({"step": "text", "text": "Done: wrote out/{task}.md."})),
        ],
    }
}

/// What the command line asked for.
#[derive(Debug, Default)]
struct Args {
    prompt: Option<String>,
    output_format: Option<String>,
    model: Option<String>,
    approval_mode: Option<String>,
    resume: Option<String>,
}

const VALUED: &[&str] = &[
    "-p",
    "--prompt",
    "-o",
    "--output-format",
    "-m",
    "--model",
    "--approval-mode",
    "-r",
    "--resume",
    "--include-directories",
    "--allowed-tools",
    "-e",
    "--extensions",
];

const SWITCHES: &[&str] = &[
    "-y",
    "--yolo",
    "-s",
    "--sandbox",
    "-d",
    "--debug",
    "--raw-output",
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
            if matches!(name, "-y" | "--yolo") {
                args.approval_mode = Some("yolo".to_owned());
            }
        } else if VALUED.contains(&name) {
            let value = match inline {
                Some(value) => value,
                None => rest
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("Not enough arguments following: {name}"))?,
            };
            match name {
                "-p" | "--prompt" => args.prompt = Some(value),
                "-o" | "--output-format" => {
                    if !["text", "json", "stream-json"].contains(&value.as_str()) {
                        return Err(format!(
                            "Invalid values:\n  Argument: output-format, Given: \"{value}\", \
                             Choices: \"text\", \"json\", \"stream-json\""
                        ));
                    }
                    args.output_format = Some(value);
                }
                "-m" | "--model" => args.model = Some(value),
                "--approval-mode" => {
                    if !["default", "auto_edit", "yolo", "plan"].contains(&value.as_str()) {
                        return Err(format!(
                            "Invalid values:\n  Argument: approval-mode, Given: \"{value}\", \
                             Choices: \"default\", \"auto_edit\", \"yolo\", \"plan\""
                        ));
                    }
                    args.approval_mode = Some(value);
                }
                "-r" | "--resume" => args.resume = Some(value),
                _ => {}
            }
        } else if name.starts_with('-') {
            return Err(format!(
                "Unknown argument: {}",
                name.trim_start_matches('-')
            ));
        } else {
            // A positional prompt, as newer versions accept.
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
    let mut stdin = String::new();
    if !std::io::stdin().is_terminal() {
        let _ = std::io::stdin().read_to_string(&mut stdin);
    }
    FAKE.record(&argv, &stdin);
    // stdin comes before -p.
    let prompt = match args.prompt.as_deref() {
        Some(arg) if !stdin.trim().is_empty() && !arg.is_empty() => format!("{stdin}\n\n{arg}"),
        Some(arg) if !arg.is_empty() => arg.to_owned(),
        _ => stdin,
    };
    if prompt.trim().is_empty() {
        eprintln!(
            "No input provided via stdin. Input can be provided by piping data into gemini or using the --prompt option."
        );
        return ExitCode::from(42);
    }
    if args.resume.as_deref() == Some("unknown-session") {
        eprintln!("Error resuming session: No previous session found for this project.");
        return ExitCode::from(42);
    }
    let scenario = match FAKE.scenario() {
        Ok(scenario) => scenario.unwrap_or_else(default_scenario),
        Err(bad) => {
            eprintln!("fake gemini: bad scenario {:?}: {}", bad.path, bad.error);
            return ExitCode::from(2);
        }
    };
    FAKE.run(scenario.sigterm, || play(args, prompt, scenario))
}

async fn play(args: Args, prompt: String, scenario: Scenario) -> u8 {
    let model = match args.model.as_deref() {
        None | Some("auto" | "pro") => MODEL.to_owned(),
        Some("flash") => "gemini-2.5-flash".to_owned(),
        Some("flash-lite") => "gemini-2.5-flash-lite".to_owned(),
        Some(other) => other.to_owned(),
    };
    let mut player = Player {
        session: args.resume.clone().unwrap_or_else(cli::new_uuid),
        args,
        prompt,
        model,
        started: Instant::now(),
        tokens: (0, 0, 0),
        tool_calls: 0,
        next_tool: 0,
        response: String::new(),
    };
    player.run(scenario.steps).await
}

struct Player {
    args: Args,
    prompt: String,
    session: String,
    model: String,
    started: Instant,
    /// Running totals: input (cached included), cached, output.
    tokens: (u64, u64, u64),
    tool_calls: u64,
    next_tool: u32,
    /// The assistant's text, for `-o json` and `text`.
    response: String,
}

impl Player {
    fn stream(&self) -> bool {
        self.args.output_format.as_deref() == Some("stream-json")
    }

    /// Prints one stream-json event (only with `-o stream-json`).
    fn emit(&self, kind: &str, fields: Value) {
        if !self.stream() {
            return;
        }
        let mut event = json!({"type": kind, "timestamp": timestamp()});
        if let (Some(event), Some(fields)) = (event.as_object_mut(), fields.as_object()) {
            for (key, value) in fields {
                event.insert(key.clone(), value.clone());
            }
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{event}");
        let _ = out.flush();
    }

    fn spend(&mut self) {
        self.tokens.0 += STEP_INPUT;
        self.tokens.1 += STEP_CACHED;
        self.tokens.2 += STEP_OUTPUT;
    }

    fn stats(&self) -> Value {
        let (input, cached, output) = self.tokens;
        json!({
            "total_tokens": input + output,
            "input_tokens": input,
            "output_tokens": output,
            "cached": cached,
            "input": input - cached,
            "duration_ms": u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "tool_calls": self.tool_calls,
        })
    }

    /// The `-o json` object's session metrics.
    fn session_stats(&self) -> Value {
        let (input, cached, output) = self.tokens;
        json!({
            "models": {self.model.clone(): {
                "api": {"totalRequests": 1, "totalErrors": 0, "totalLatencyMs": 100},
                "tokens": {"input": input - cached, "prompt": input, "candidates": output,
                           "total": input + output, "cached": cached, "thoughts": 0, "tool": 0},
            }},
            "tools": {"totalCalls": self.tool_calls, "totalSuccess": self.tool_calls, "totalFail": 0,
                      "totalDurationMs": 0,
                      "totalDecisions": {"accept": 0, "reject": 0, "modify": 0, "auto_accept": 0},
                      "byName": {}},
            "files": {"totalLinesAdded": 0, "totalLinesRemoved": 0},
        })
    }

    fn task(&self) -> String {
        std::env::var("TECHLEAD_TASK").unwrap_or_else(|_| "task".to_owned())
    }

    fn fill(&self, text: &str) -> String {
        text.replace("{task}", &self.task())
    }

    /// Tools run without asking only in `yolo` (and edits in `auto_edit`).
    fn allowed(&self, tool: &str) -> bool {
        match self.args.approval_mode.as_deref().unwrap_or("default") {
            "yolo" => true,
            "auto_edit" => tool != "run_shell_command",
            _ => tool == "read_file",
        }
    }

    async fn run(&mut self, steps: Vec<Step>) -> u8 {
        self.emit(
            "init",
            json!({"session_id": self.session, "model": self.model}),
        );
        self.emit("message", json!({"role": "user", "content": self.prompt}));
        for step in steps {
            if let Some(code) = self.step(step).await {
                return code;
            }
        }
        self.emit(
            "result",
            json!({"status": "success", "stats": self.stats()}),
        );
        match self.args.output_format.as_deref() {
            Some("json") => {
                let object = json!({"session_id": self.session, "response": self.response,
                                    "stats": self.session_stats()});
                println!("{object}");
            }
            Some("stream-json") => {}
            _ => println!("{}", self.response),
        }
        0
    }

    /// A tool call and its result; false when it was refused.
    fn tool(
        &mut self,
        name: &str,
        parameters: Value,
        output: Option<String>,
        error: Option<String>,
    ) -> bool {
        self.spend();
        self.tool_calls += 1;
        self.next_tool += 1;
        let id = format!(
            "{name}-{}-{}",
            self.next_tool,
            self.started.elapsed().as_micros()
        );
        self.emit(
            "tool_use",
            json!({"tool_name": name, "tool_id": id, "parameters": parameters}),
        );
        let refused = !self.allowed(name);
        let error = if refused {
            Some(format!(
                "Tool \"{name}\" requires user approval, which is not available in non-interactive mode."
            ))
        } else {
            error
        };
        match error {
            Some(message) => self.emit(
                "tool_result",
                json!({"tool_id": id, "status": "error",
                       "error": {"type": "tool_error", "message": message}}),
            ),
            None => self.emit(
                "tool_result",
                json!({"tool_id": id, "status": "success",
                       "output": output.unwrap_or_else(|| "ok".to_owned())}),
            ),
        }
        !refused
    }

    /// Plays one step; `Some(code)` ends the run.
    async fn step(&mut self, step: Step) -> Option<u8> {
        match step {
            Step::Text { text } => {
                self.spend();
                let text = self.fill(&text);
                let cut = text
                    .char_indices()
                    .nth(text.chars().count() / 2)
                    .map_or(0, |(at, _)| at);
                let (head, tail) = text.split_at(cut);
                for piece in [head, tail] {
                    if !piece.is_empty() {
                        self.emit(
                            "message",
                            json!({"role": "assistant", "content": piece, "delta": true}),
                        );
                    }
                }
                if !self.response.is_empty() {
                    self.response.push_str("\n\n");
                }
                self.response.push_str(&text);
            }
            Step::Tool {
                name,
                parameters,
                output,
                error,
            } => {
                let parameters = serde_json::from_str::<Value>(&self.fill(&parameters.to_string()))
                    .unwrap_or(Value::Null);
                self.tool(&name, parameters, output, error);
            }
            Step::WriteFile { path, content } => {
                let path = self.fill(&path);
                let content = content.unwrap_or_else(|| self.prompt.clone());
                if self.tool(
                    "write_file",
                    json!({"file_path": path, "content": content}),
                    Some(format!(
                        "Successfully created and wrote to new file: {path}"
                    )),
                    None,
                ) {
                    if let Some(parent) = Path::new(&path).parent() {
                        let _ = std::fs::create_dir_all(parent);
                    }
                    if let Err(error) = std::fs::write(&path, content) {
                        eprintln!("fake gemini: cannot write {path}: {error}");
                    }
                }
            }
            Step::Warning { message } => {
                self.emit("error", json!({"severity": "warning", "message": message}));
            }
            Step::Error { message } => {
                self.emit("error", json!({"severity": "error", "message": message}));
            }
            Step::Fail {
                message,
                kind,
                code,
            } => {
                let kind = kind.unwrap_or_else(|| "Error".to_owned());
                self.emit(
                    "result",
                    json!({"status": "error", "error": {"type": kind, "message": message},
                           "stats": self.stats()}),
                );
                match self.args.output_format.as_deref() {
                    Some("json") => {
                        let object = json!({"session_id": self.session,
                            "error": {"type": kind, "message": message, "code": code}});
                        println!("{object}");
                    }
                    Some("stream-json") => {}
                    _ => eprintln!("{message}"),
                }
                return Some(code);
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

/// Now as an ISO 8601 UTC string with milliseconds, like `Date.toISOString`.
fn timestamp() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since.as_secs();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}
