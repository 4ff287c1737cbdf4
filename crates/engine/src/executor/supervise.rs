//! Running an agent CLI that prints one JSON event per line, supervised:
//! shared by the `claude-code`, `codex` and `gemini` executors.
//!
//! [`run`] writes the prompt file, starts the program in the task's working
//! directory as the leader of its own process group (with the `TECHLEAD_*`
//! variables and the task's own), logs every byte of stdout and stderr to
//! the attempt's `output.log`, hands each stdout line to a [`Parser`] and
//! sends the events it reports as they come. Timeouts and cancellation stop
//! the whole group: SIGTERM, a grace period, SIGKILL. When the program ends
//! on its own, the parser decides the outcome from what it read and how the
//! process ended ([`Exit`]).

use super::{AttemptSpec, ExecEvent, Outcome};
use rustix::process::{Pid, Signal, kill_process_group};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

/// Lines longer than this are logged but not parsed.
const LINE_MAX: usize = 8 * 1024 * 1024;
const READ_SIZE: usize = 16 * 1024;

/// What one line was, for the log.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fed {
    /// Understood (its events, if any, are returned with it).
    Used,
    /// Skipped, with the reason: an unknown type, not JSON, ...
    Ignored(String),
}

/// How the process ended, for deciding the outcome.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// The last non-empty line of stderr.
    pub last_stderr: Option<String>,
}

/// Reads one agent CLI's stdout, without I/O.
pub(crate) trait Parser: Send {
    /// Takes one line of stdout (without its newline).
    fn feed(&mut self, line: &str, events: &mut Vec<ExecEvent>) -> Fed;

    /// How the attempt ended, given how the process ended; `program` is
    /// the program's name for messages. Events pushed are sent.
    fn conclude(&mut self, program: &str, exit: &Exit, events: &mut Vec<ExecEvent>) -> Outcome;
}

/// What the child reads on stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// The prompt file, opened read-only.
    Prompt,
    /// Nothing (`/dev/null`): the prompt is in argv.
    Nothing,
}

/// One run of an agent CLI.
pub(crate) struct Launch {
    pub program: OsString,
    pub args: Vec<String>,
    pub stdin: Input,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// How long the pipes may stay open after the program exited.
    pub drain: Duration,
    /// The agent's name for messages ("Claude Code").
    pub agent: &'static str,
    /// The environment variable that names another program.
    pub program_variable: &'static str,
}

pub(crate) fn failed(message: String) -> Outcome {
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

/// Runs one attempt to its end.
pub(crate) async fn run(
    launch: Launch,
    parser: impl Parser,
    spec: AttemptSpec,
    events: mpsc::UnboundedSender<ExecEvent>,
    cancel: CancellationToken,
) -> Outcome {
    let program = launch.program.to_string_lossy().into_owned();
    let prompt = match prepare(&spec) {
        Ok(prompt) => prompt,
        Err(message) => return failed(message),
    };
    let stdin = match launch.stdin {
        Input::Prompt => Stdio::from(prompt),
        Input::Nothing => Stdio::null(),
    };
    let mut log = Log::open(&spec);
    let (result_path, prompt_path) = (spec.result_path(), spec.prompt_path());
    let mut command = Command::new(&launch.program);
    command
        .args(&launch.args)
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
        .stdin(stdin)
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
                    " (is {} installed and on PATH? {} names another program)",
                    launch.agent, launch.program_variable
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
        parser,
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
                if let Some(at) = Instant::now().checked_add(launch.drain) {
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
                kill_armed = arm(kill_alarm.as_mut(), launch.grace);
            }
            () = &mut cancelled, if status.is_none() && stop.is_none() => {
                log.note("the attempt was cancelled; sent SIGTERM to its process group");
                stop = Some(Stop::Cancelled);
                group.signal(Signal::TERM);
                kill_armed = arm(kill_alarm.as_mut(), launch.grace);
            }
            () = &mut kill_alarm, if kill_armed && !killed => {
                log.note(&format!(
                    "still running {:.1} s after SIGTERM; sent SIGKILL",
                    launch.grace.as_secs_f64()
                ));
                group.signal(Signal::KILL);
                killed = true;
            }
            () = &mut drain_alarm, if drain_armed => {
                if killed {
                    log.note("output still open after the process group was killed; stopped reading it");
                    break;
                }
                log.note(&format!(
                    "`{program}` exited but its output stayed open; killed its process group"
                ));
                group.signal(Signal::KILL);
                killed = true;
                drain_armed = arm(drain_alarm.as_mut(), launch.drain);
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
            let outcome = reader.parser.conclude(&program, &exit, &mut reader.batch);
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

/// Makes the directory of the attempt's files, writes the prompt file and
/// opens it for the child's stdin.
fn prepare(spec: &AttemptSpec) -> Result<File, String> {
    spec.create_files_dir().map_err(|error| {
        format!(
            "cannot create the directory for the attempt's files `{}`: {error}",
            spec.files_dir().display()
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

/// Reads stdout lines into the parser and sends what it reports.
struct Reader<P> {
    parser: P,
    events: mpsc::UnboundedSender<ExecEvent>,
    batch: Vec<ExecEvent>,
    last_stderr: Option<String>,
}

impl<P: Parser> Reader<P> {
    fn stdout(&mut self, line: Option<&[u8]>, log: &mut Log) {
        let Some(line) = line else {
            log.note("an output line too long to read was skipped");
            return;
        };
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches(['\n', '\r']);
        if let Fed::Ignored(why) = self.parser.feed(line, &mut self.batch)
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
            self.last_stderr = Some(short(line, 300));
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

/// At most `max` bytes of `text`, cut at a character boundary, with an
/// ellipsis when cut.
pub(crate) fn short(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The first line of `text`.
pub(crate) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// A progress report without a percentage.
pub(crate) fn progress(message: String) -> ExecEvent {
    ExecEvent::Progress {
        percent: None,
        message,
    }
}

/// How the process ended, in words: "exited with code 3", "was killed by
/// signal 9".
pub(crate) fn how_it_ended(exit: &Exit) -> String {
    match (exit.code, exit.signal) {
        (_, Some(signal)) => format!("was killed by signal {signal}"),
        (Some(code), None) => format!("exited with code {code}"),
        (None, None) => "ended".to_owned(),
    }
}

/// `code` (an HTTP status) in `text` as a number of its own, not part of a
/// longer one.
pub(crate) fn has_code(text: &str, code: &str) -> bool {
    text.match_indices(code).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// The prompt, after the agent's instructions when it has any: these CLIs
/// have no flag that adds to their system prompt, so the instructions lead
/// the prompt (and `prompt.md` holds exactly what the agent was given).
pub(crate) fn with_instructions(agent_prompt: &str, prompt: &str) -> String {
    let instructions = agent_prompt.trim();
    if instructions.is_empty() {
        prompt.to_owned()
    } else {
        format!("{instructions}\n\n---\n\n{prompt}")
    }
}

/// The agent program to run: the one named in `variable` when set and not
/// empty, else `default` looked up on PATH.
pub(crate) fn program_from(variable: &str, default: &str) -> OsString {
    std::env::var_os(variable)
        .filter(|program| !program.is_empty())
        .unwrap_or_else(|| default.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_and_keep_the_partial_tail() {
        let mut lines = Lines::default();
        let mut seen = Vec::new();
        lines.push(b"one\ntw", |line| seen.push(line.map(<[u8]>::to_vec)));
        lines.push(b"o\nthree", |line| seen.push(line.map(<[u8]>::to_vec)));
        lines.finish(|line| seen.push(line.map(<[u8]>::to_vec)));
        assert_eq!(
            seen,
            [
                Some(b"one".to_vec()),
                Some(b"two".to_vec()),
                Some(b"three".to_vec())
            ]
        );
    }

    #[test]
    fn status_codes_match_whole_numbers_only() {
        assert!(has_code("status 429 too many", "429"));
        assert!(has_code("(429)", "429"));
        assert!(!has_code("24290 tokens", "429"));
    }

    #[test]
    fn short_cuts_at_a_character_boundary() {
        assert_eq!(short("héllo", 2), "h…");
        assert_eq!(short("hello", 5), "hello");
    }
}
