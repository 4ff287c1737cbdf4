//! The `claude-code` executor: runs Claude Code headless (`claude -p
//! --output-format stream-json --verbose`) as one attempt of a task. See
//! docs/executors.md.
//!
//! The child is the leader of its own process group, its stdin is the
//! prompt file, and every byte it writes goes to the attempt's log. Each
//! stdout line is read by [`stream::Stream`], which reports the session,
//! progress and usage as they come and decides the outcome from the
//! `result` line. Timeouts and cancellation stop the whole group: SIGTERM,
//! a grace period, SIGKILL.

mod stream;

use super::{AttemptSpec, ExecEvent, Executor, Outcome, OutcomeFuture};
use rustix::process::{Pid, Signal, kill_process_group};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use stream::{Exit, Fed, Stream};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

/// Runs Claude Code. [`ClaudeCodeExecutor::new`] is what missions use; the
/// `with_*` settings are for tuning and tests.
#[derive(Debug, Clone)]
pub struct ClaudeCodeExecutor {
    program: OsString,
    max_turns: Option<u32>,
    permission_mode: String,
    grace: Duration,
    drain: Duration,
}

impl ClaudeCodeExecutor {
    /// Between SIGTERM and SIGKILL.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
    /// How long the pipes may stay open after `claude` exited.
    pub const DEFAULT_DRAIN: Duration = Duration::from_millis(500);
    /// Edits in the working directory are allowed without asking; other
    /// tools that would ask are denied (there is nobody to ask).
    pub const DEFAULT_PERMISSION_MODE: &'static str = "acceptEdits";
    /// Names the `claude` program; `claude` on PATH when unset.
    pub const PROGRAM_VARIABLE: &'static str = "TECHLEAD_CLAUDE";

    /// The program comes from `TECHLEAD_CLAUDE`, else `claude` on PATH.
    pub fn new() -> ClaudeCodeExecutor {
        let program = std::env::var_os(Self::PROGRAM_VARIABLE)
            .filter(|program| !program.is_empty())
            .unwrap_or_else(|| "claude".into());
        ClaudeCodeExecutor {
            program,
            max_turns: None,
            permission_mode: Self::DEFAULT_PERMISSION_MODE.to_owned(),
            grace: Self::DEFAULT_GRACE,
            drain: Self::DEFAULT_DRAIN,
        }
    }

    /// Runs this program instead of `claude`.
    pub fn with_program(mut self, program: impl Into<OsString>) -> ClaudeCodeExecutor {
        self.program = program.into();
        self
    }

    /// Passes `--max-turns`; no limit when `None` (the default).
    pub fn with_max_turns(mut self, turns: Option<u32>) -> ClaudeCodeExecutor {
        self.max_turns = turns;
        self
    }

    /// Passes this `--permission-mode` (default `acceptEdits`).
    pub fn with_permission_mode(mut self, mode: impl Into<String>) -> ClaudeCodeExecutor {
        self.permission_mode = mode.into();
        self
    }

    /// Time between SIGTERM and SIGKILL.
    pub fn with_grace(mut self, grace: Duration) -> ClaudeCodeExecutor {
        self.grace = grace;
        self
    }

    /// Time the output pipes may stay open after `claude` exited.
    pub fn with_drain(mut self, drain: Duration) -> ClaudeCodeExecutor {
        self.drain = drain;
        self
    }

    /// The arguments (after the program) for one attempt.
    pub fn arguments(&self, spec: &AttemptSpec) -> Vec<String> {
        let mut args: Vec<String> = ["-p", "--output-format", "stream-json", "--verbose"]
            .map(str::to_owned)
            .into();
        let mut flag = |name: &str, value: String| {
            args.push(name.to_owned());
            args.push(value);
        };
        if !spec.agent_prompt.trim().is_empty() {
            flag("--append-system-prompt", spec.agent_prompt.clone());
        }
        if let Some(model) = &spec.model {
            flag("--model", model.clone());
        }
        if let Some(tools) = &spec.tools {
            flag("--allowedTools", tools.join(","));
        }
        if let Some(turns) = self.max_turns {
            flag("--max-turns", turns.to_string());
        }
        if let Some(budget) = spec.budget_usd {
            flag("--max-budget-usd", budget.to_string());
        }
        flag("--permission-mode", self.permission_mode.clone());
        if let Some(session) = &spec.resume_session {
            flag("--resume", session.clone());
        }
        args
    }
}

impl Default for ClaudeCodeExecutor {
    fn default() -> ClaudeCodeExecutor {
        ClaudeCodeExecutor::new()
    }
}

impl Executor for ClaudeCodeExecutor {
    fn name(&self) -> &'static str {
        "claude-code"
    }

    fn run(
        &self,
        spec: AttemptSpec,
        events: mpsc::UnboundedSender<ExecEvent>,
        cancel: CancellationToken,
    ) -> OutcomeFuture {
        Box::pin(run(self.clone(), spec, events, cancel))
    }
}

/// Lines longer than this are logged but not parsed.
const LINE_MAX: usize = 8 * 1024 * 1024;
const READ_SIZE: usize = 16 * 1024;

fn failed(message: String) -> Outcome {
    Outcome::Failed {
        exit_code: None,
        signal: None,
        message,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    TimedOut,
    Cancelled,
}

/// The process group; dropping it SIGKILLs whatever is left of it.
struct Group(Option<Pid>);

impl Group {
    fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.0 {
            // ESRCH (everyone has exited) is the normal end.
            let _ = kill_process_group(pgid, signal);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(Signal::KILL);
    }
}

async fn run(
    config: ClaudeCodeExecutor,
    spec: AttemptSpec,
    events: mpsc::UnboundedSender<ExecEvent>,
    cancel: CancellationToken,
) -> Outcome {
    let program = config.program.to_string_lossy().into_owned();
    let stdin = match prepare(&spec) {
        Ok(stdin) => stdin,
        Err(message) => return failed(message),
    };
    let mut log = Log::open(&spec);
    let (result_path, prompt_path) = (spec.result_path(), spec.prompt_path());
    let mut command = Command::new(&config.program);
    command
        .args(config.arguments(&spec))
        .current_dir(&spec.workdir)
        .envs(spec.env.iter().map(|(key, value)| (key, value)))
        .env("TECHLEAD_MISSION", &spec.mission_id)
        .env("TECHLEAD_TASK", &spec.task_id)
        .env("TECHLEAD_TASK_TITLE", &spec.task_title)
        .env("TECHLEAD_ATTEMPT", spec.attempt.to_string())
        .env("TECHLEAD_AGENT", &spec.agent)
        .env("TECHLEAD_WORKDIR", &spec.workdir)
        .env("TECHLEAD_RESULT", &result_path)
        .env("TECHLEAD_PROMPT_FILE", &prompt_path)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            let hint = match error.kind() {
                io::ErrorKind::NotFound if !spec.workdir.is_dir() => format!(
                    " (the working directory `{}` does not exist)",
                    spec.workdir.display()
                ),
                io::ErrorKind::NotFound => format!(
                    " (is Claude Code installed and on PATH? {} names another program)",
                    ClaudeCodeExecutor::PROGRAM_VARIABLE
                ),
                _ => String::new(),
            };
            return failed(format!("cannot start `{program}`: {error}{hint}"));
        }
    };
    let group = Group(
        child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .and_then(Pid::from_raw),
    );
    let _ = events.send(ExecEvent::Started { pid: child.id() });

    let mut reader = Reader {
        stream: Stream::new(),
        events,
        batch: Vec::new(),
        last_stderr: None,
    };
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut out_lines = Lines::default();
    let mut err_lines = Lines::default();
    let mut out_buf = vec![0; READ_SIZE];
    let mut err_buf = vec![0; READ_SIZE];

    let exit = child.wait();
    let cancelled = cancel.cancelled();
    let timeout_at = Instant::now().checked_add(spec.timeout);
    let timeout = sleep_until(timeout_at.unwrap_or_else(Instant::now));
    let kill_alarm = sleep_until(Instant::now());
    let drain_alarm = sleep_until(Instant::now());
    tokio::pin!(exit, cancelled, timeout, kill_alarm, drain_alarm);
    let mut status: Option<io::Result<ExitStatus>> = None;
    let mut stop: Option<Stop> = None;
    let mut kill_armed = false;
    let mut killed = false;
    let mut drain_armed = false;

    while status.is_none() || stdout.is_some() || stderr.is_some() {
        tokio::select! {
            exited = &mut exit, if status.is_none() => {
                status = Some(exited);
                if let Some(at) = Instant::now().checked_add(config.drain) {
                    drain_alarm.as_mut().reset(at);
                    drain_armed = true;
                }
            }
            read = read_some(&mut stdout, &mut out_buf) => match read {
                Ok(n) if n > 0 => {
                    log.write(&out_buf[..n]);
                    out_lines.push(&out_buf[..n], |line| reader.stdout(line, &mut log));
                }
                _ => {
                    out_lines.finish(|line| reader.stdout(line, &mut log));
                    stdout = None;
                }
            },
            read = read_some(&mut stderr, &mut err_buf) => match read {
                Ok(n) if n > 0 => {
                    log.write(&err_buf[..n]);
                    err_lines.push(&err_buf[..n], |line| reader.stderr(line));
                }
                _ => {
                    err_lines.finish(|line| reader.stderr(line));
                    stderr = None;
                }
            },
            () = &mut timeout, if timeout_at.is_some() && status.is_none() && stop.is_none() => {
                log.note(&format!(
                    "the attempt ran past its timeout of {:.1} s; sent SIGTERM to its process group",
                    spec.timeout.as_secs_f64()
                ));
                stop = Some(Stop::TimedOut);
                group.signal(Signal::TERM);
                kill_armed = arm(kill_alarm.as_mut(), config.grace);
            }
            () = &mut cancelled, if status.is_none() && stop.is_none() => {
                log.note("the attempt was cancelled; sent SIGTERM to its process group");
                stop = Some(Stop::Cancelled);
                group.signal(Signal::TERM);
                kill_armed = arm(kill_alarm.as_mut(), config.grace);
            }
            () = &mut kill_alarm, if kill_armed && !killed => {
                log.note(&format!(
                    "still running {:.1} s after SIGTERM; sent SIGKILL",
                    config.grace.as_secs_f64()
                ));
                group.signal(Signal::KILL);
                killed = true;
            }
            () = &mut drain_alarm, if drain_armed => {
                if killed {
                    log.note("output still open after the process group was killed; stopped reading it");
                    break;
                }
                log.note("`claude` exited but its output stayed open; killed its process group");
                group.signal(Signal::KILL);
                killed = true;
                drain_armed = arm(drain_alarm.as_mut(), config.drain);
            }
        }
        reader.send();
        log.flush();
    }
    out_lines.finish(|line| reader.stdout(line, &mut log));
    err_lines.finish(|line| reader.stderr(line));
    reader.send();
    drop(group);

    let outcome = match (stop, status) {
        (Some(Stop::TimedOut), _) => Outcome::TimedOut,
        (Some(Stop::Cancelled), _) => Outcome::Cancelled,
        (None, Some(Ok(status))) => {
            let exit = Exit {
                code: status.code(),
                signal: status.signal(),
                last_stderr: reader.last_stderr.clone(),
            };
            let outcome = reader
                .stream
                .conclude(&program, &exit, jiff::Timestamp::now());
            reader.send();
            outcome
        }
        (None, Some(Err(error))) => failed(format!("cannot wait for `{program}`: {error}")),
        (None, None) => failed(format!("lost track of `{program}`")),
    };
    log.note(&format!("outcome: {outcome:?}"));
    log.flush();
    outcome
}

fn arm(alarm: std::pin::Pin<&mut tokio::time::Sleep>, after: Duration) -> bool {
    match Instant::now().checked_add(after) {
        Some(at) => {
            alarm.reset(at);
            true
        }
        None => false,
    }
}

/// Makes the attempt directory, writes the prompt file and opens it for
/// the child's stdin.
fn prepare(spec: &AttemptSpec) -> Result<File, String> {
    fs::create_dir_all(&spec.attempt_dir).map_err(|error| {
        format!(
            "cannot create the attempt directory `{}`: {error}",
            spec.attempt_dir.display()
        )
    })?;
    let prompt_path = spec.prompt_path();
    fs::write(&prompt_path, &spec.prompt).map_err(|error| {
        format!(
            "cannot write the prompt file `{}`: {error}",
            prompt_path.display()
        )
    })?;
    match fs::remove_file(spec.result_path()) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(format!("cannot remove the old result file: {error}")),
    }
    File::open(&prompt_path).map_err(|error| {
        format!(
            "cannot open the prompt file `{}`: {error}",
            prompt_path.display()
        )
    })
}

/// The attempt's `output.log`: every byte of stdout and stderr, and
/// techlead's own notes (lines starting with `[techlead]`). A log that
/// cannot be written does not stop the attempt.
struct Log {
    path: PathBuf,
    file: Option<io::BufWriter<File>>,
    failed: bool,
}

impl Log {
    fn open(spec: &AttemptSpec) -> Log {
        Log {
            path: spec.log_path(),
            file: None,
            failed: false,
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.failed {
            return;
        }
        if self.file.is_none() {
            match fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
            {
                Ok(file) => self.file = Some(io::BufWriter::new(file)),
                Err(_) => {
                    self.failed = true;
                    return;
                }
            }
        }
        if let Some(file) = &mut self.file
            && file.write_all(bytes).is_err()
        {
            self.failed = true;
        }
    }

    fn note(&mut self, text: &str) {
        self.write(format!("[techlead] {text}\n").as_bytes());
    }

    fn flush(&mut self) {
        if let Some(file) = &mut self.file {
            let _ = file.flush();
        }
    }
}

/// Output split into lines; a line longer than [`LINE_MAX`] is dropped
/// (it is in the log already) rather than held.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    overflow: bool,
}

impl Lines {
    fn push(&mut self, mut bytes: &[u8], mut line: impl FnMut(Option<&[u8]>)) {
        while let Some(at) = bytes.iter().position(|&b| b == b'\n') {
            let (head, rest) = bytes.split_at(at);
            if self.overflow {
                line(None);
            } else if self.partial.is_empty() {
                line(Some(head));
            } else {
                self.partial.extend_from_slice(head);
                line(Some(&self.partial));
            }
            self.partial.clear();
            self.overflow = false;
            bytes = &rest[1..];
        }
        if !self.overflow {
            if self.partial.len() + bytes.len() > LINE_MAX {
                self.overflow = true;
                self.partial = Vec::new();
            } else {
                self.partial.extend_from_slice(bytes);
            }
        }
    }

    fn finish(&mut self, mut line: impl FnMut(Option<&[u8]>)) {
        if self.overflow {
            line(None);
        } else if !self.partial.is_empty() {
            line(Some(&self.partial));
        }
        self.partial = Vec::new();
        self.overflow = false;
    }
}

/// Reads stdout lines into the stream and sends what it reports.
struct Reader {
    stream: Stream,
    events: mpsc::UnboundedSender<ExecEvent>,
    batch: Vec<ExecEvent>,
    last_stderr: Option<String>,
}

impl Reader {
    fn stdout(&mut self, line: Option<&[u8]>, log: &mut Log) {
        let Some(line) = line else {
            log.note("an output line too long to read was skipped");
            return;
        };
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches(['\n', '\r']);
        if let Fed::Ignored(why) = self.stream.feed(line, &mut self.batch)
            && why != "empty line"
        {
            log.note(&format!("ignored a line of output: {why}"));
        }
    }

    fn stderr(&mut self, line: Option<&[u8]>) {
        let Some(line) = line else {
            return;
        };
        let line = String::from_utf8_lossy(line);
        let line = line.trim();
        if !line.is_empty() {
            self.last_stderr = Some(stream::short(line, 300));
        }
    }

    fn send(&mut self) {
        for event in self.batch.drain(..) {
            // Nobody listening any more is fine; the attempt goes on.
            let _ = self.events.send(event);
        }
    }
}

/// Reads the next chunk of a pipe that may be closed already (then never
/// completes).
async fn read_some<R: AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut [u8],
) -> io::Result<usize> {
    match pipe {
        Some(pipe) => pipe.read(buf).await,
        None => std::future::pending().await,
    }
}
