//! The `command` executor: runs any program as one attempt of a task,
//! supervised. See docs/executors.md for what an agent sees.
//!
//! The child's stdin is the prompt file itself, opened read-only: there is
//! nothing to feed. One attempt is a small state machine driven by one
//! `select!` loop over every source: the child's exit (looked for once
//! its output closed, or from [`WATCH_AFTER`] on), its stdout and stderr,
//! the timeout, the cancel token, the SIGKILL deadline after a
//! SIGTERM, and the drain deadline after the child exits:
//!
//! ```text
//!  running ──timeout / cancel──► terminating (SIGTERM to the group)
//!     │                              │ grace elapsed → SIGKILL to the group
//!     ▼ child exits                  ▼ child exits
//!  draining: read the pipes until EOF; if a grandchild keeps them open past
//!  the drain period, SIGKILL the group, read what is left, and stop
//!     │
//!     ▼
//!  SIGKILL the group (harmless if empty), read the result file → Outcome
//! ```
//!
//! Parts: `process` (spawning, the process group, signals), `spawn` (the
//! `clone` that starts the child, with `malloc.rs` the workspace's only
//! `unsafe`), `lines` (output split into lines with bounded memory),
//! `protocol` (`::progress` and the other report lines), `log` (the
//! capped, rotated log), `result` (the result file).

mod lines;
mod log;
mod process;
mod protocol;
mod result;
mod spawn;

pub(crate) use protocol::parse_line;

use super::{AttemptSpec, ExecEvent, Executor, Outcome, OutcomeFuture};
use lines::{LineBuffer, Piece};
use log::RotatingLog;
use process::{Launch, ProcessGroup};
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::pin::Pin;
use std::process::ExitStatus;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep, sleep_until};
use tokio_util::sync::CancellationToken;

/// Runs a program given as an argv list, directly (no shell), in its own
/// process group. Configuration is for tests and tuning; [`Default`] is what
/// missions use.
#[derive(Debug, Clone)]
pub struct CommandExecutor {
    log_cap: u64,
    log_keep: usize,
    grace: Duration,
    drain: Duration,
}

impl CommandExecutor {
    /// A log file is rotated when it would grow past this many bytes.
    pub const DEFAULT_LOG_CAP: u64 = 8 * 1024 * 1024;
    /// Rotated log files kept besides the current one.
    pub const DEFAULT_LOG_KEEP: usize = 2;
    /// Between SIGTERM and SIGKILL.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
    /// How long the pipes may stay open after the child exited (held by a
    /// grandchild) before the group is killed.
    pub const DEFAULT_DRAIN: Duration = Duration::from_millis(500);

    pub fn new() -> CommandExecutor {
        CommandExecutor {
            log_cap: Self::DEFAULT_LOG_CAP,
            log_keep: Self::DEFAULT_LOG_KEEP,
            grace: Self::DEFAULT_GRACE,
            drain: Self::DEFAULT_DRAIN,
        }
    }

    /// Rotates `output.log` when it would pass `bytes`, keeping at most
    /// `keep` older files (`output.log.1` ... `output.log.<keep>`).
    pub fn with_log_cap(mut self, bytes: u64, keep: usize) -> CommandExecutor {
        self.log_cap = bytes;
        self.log_keep = keep;
        self
    }

    /// Time between SIGTERM and SIGKILL when an attempt times out or is
    /// cancelled.
    pub fn with_grace(mut self, grace: Duration) -> CommandExecutor {
        self.grace = grace;
        self
    }

    /// Time the output pipes may stay open after the child exited.
    pub fn with_drain(mut self, drain: Duration) -> CommandExecutor {
        self.drain = drain;
        self
    }
}

impl Default for CommandExecutor {
    fn default() -> CommandExecutor {
        CommandExecutor::new()
    }
}

impl Executor for CommandExecutor {
    fn name(&self) -> &'static str {
        "command"
    }

    fn reports_over_socket(&self) -> bool {
        true
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

/// Output lines are handed on whole up to this length; longer ones in
/// pieces of this size.
const LINE_MAX: usize = 64 * 1024;

/// From this long after its start, a child's exit is watched for even
/// while its output is open: what a background process holding the output
/// delays the drain period by at most.
const WATCH_AFTER: Duration = Duration::from_millis(10);

/// Why the attempt was stopped before its child exited by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    TimedOut,
    Cancelled,
}

fn failed(message: String) -> Outcome {
    Outcome::Failed {
        exit_code: None,
        signal: None,
        message,
    }
}

async fn run(
    config: CommandExecutor,
    spec: AttemptSpec,
    events: mpsc::UnboundedSender<ExecEvent>,
    cancel: CancellationToken,
) -> Outcome {
    let argv = match spec.command.as_deref() {
        Some(argv @ [program, ..]) if !program.is_empty() => argv,
        _ => {
            return failed(format!(
                "task `{}` has no command to run: the `command` executor needs a program \
                 and its arguments (an argv list)",
                spec.task_id
            ));
        }
    };
    let program = argv[0].clone();
    let stdin = match prepare(&spec) {
        Ok(stdin) => stdin,
        Err(message) => return failed(message),
    };
    // Created on the first byte of output or the first note.
    let log = RotatingLog::new(spec.log_path(), config.log_cap, config.log_keep);
    let (result_path, prompt_path) = (spec.result_path(), spec.prompt_path());
    let attempt = spec.attempt.to_string();
    let own: [(&str, &OsStr); 8] = [
        ("TECHLEAD_MISSION", spec.mission_id.as_ref()),
        ("TECHLEAD_TASK", spec.task_id.as_ref()),
        ("TECHLEAD_TASK_TITLE", spec.task_title.as_ref()),
        ("TECHLEAD_ATTEMPT", attempt.as_ref()),
        ("TECHLEAD_AGENT", spec.agent.as_ref()),
        ("TECHLEAD_WORKDIR", spec.workdir.as_os_str()),
        ("TECHLEAD_RESULT", result_path.as_os_str()),
        ("TECHLEAD_PROMPT_FILE", prompt_path.as_os_str()),
    ];
    // The spec's own variables first, then techlead's, which win.
    let env: Vec<(&str, &OsStr)> = spec
        .env
        .iter()
        .map(|(key, value)| (key.as_str(), OsStr::new(value)))
        .chain(own)
        .collect();
    let launch = Launch {
        argv,
        workdir: &spec.workdir,
        env: &env,
        stdin,
    };
    let (mut child, group) = match process::spawn(launch) {
        Ok(spawned) => spawned,
        Err(message) => return failed(message),
    };
    let _ = events.send(ExecEvent::Started { pid: child.id() });

    let mut output = Output {
        log,
        events,
        last_summary: None,
        reported: Vec::new(),
        last_line: None,
    };
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut out_lines = LineBuffer::new(LINE_MAX);
    let mut err_lines = LineBuffer::new(LINE_MAX);
    // Read buffers grow with what the child writes; see `read_some`.
    let mut out_buf = Vec::new();
    let mut err_buf = Vec::new();

    // Every future of the loop is made once, so that a turn of the loop
    // does not register (and drop) a timer or a cancellation waiter again.
    // The exit is waited for once the output closed (the child has then
    // mostly exited, and is reaped without its pidfd ever being watched),
    // or from `WATCH_AFTER` on, for a child whose output outlives it.
    let exit = child.wait();
    let watch_alarm = sleep_until(Instant::now() + WATCH_AFTER);
    let mut watching = false;
    let cancelled = cancel.cancelled();
    let timeout_at = deadline(spec.timeout);
    let timeout = sleep_until(timeout_at.unwrap_or_else(Instant::now));
    // Set by `arm`; an alarm not armed is never polled.
    let kill_alarm = sleep_until(Instant::now());
    let drain_alarm = sleep_until(Instant::now());
    tokio::pin!(
        exit,
        watch_alarm,
        cancelled,
        timeout,
        kill_alarm,
        drain_alarm
    );
    let mut status: Option<io::Result<ExitStatus>> = None;
    let mut stop: Option<Stop> = None;
    let mut kill_armed = false;
    let mut killed = false;
    let mut drain_armed = false;

    while status.is_none() || stdout.is_some() || stderr.is_some() {
        tokio::select! {
            exited = &mut exit, if status.is_none()
                && (watching || (stdout.is_none() && stderr.is_none())) => {
                status = Some(exited);
                drain_armed = arm(drain_alarm.as_mut(), config.drain);
            }
            () = &mut watch_alarm, if !watching && status.is_none() => watching = true,
            read = read_some(&mut stdout, &mut out_buf) => match read {
                Ok(n) if n > 0 => out_lines.push(&out_buf, |piece| output.stdout(piece)),
                _ => {
                    out_lines.finish(|piece| output.stdout(piece));
                    stdout = None;
                }
            },
            read = read_some(&mut stderr, &mut err_buf) => match read {
                Ok(n) if n > 0 => err_lines.push(&err_buf, |piece| output.stderr(piece)),
                _ => {
                    err_lines.finish(|piece| output.stderr(piece));
                    stderr = None;
                }
            },
            () = &mut timeout, if timeout_at.is_some() && status.is_none() && stop.is_none() => {
                output.log.note(&format!(
                    "the attempt ran past its timeout of {}; stopping process group {}",
                    seconds(spec.timeout),
                    group_name(&group),
                ));
                stop = Some(Stop::TimedOut);
                group.terminate();
                kill_armed = arm(kill_alarm.as_mut(), config.grace);
            }
            () = &mut cancelled, if status.is_none() && stop.is_none() => {
                output.log.note(&format!(
                    "the attempt was cancelled; stopping process group {}",
                    group_name(&group),
                ));
                stop = Some(Stop::Cancelled);
                group.terminate();
                kill_armed = arm(kill_alarm.as_mut(), config.grace);
            }
            () = &mut kill_alarm, if kill_armed && !killed => {
                output.log.note(&format!(
                    "still running {} after SIGTERM; sent SIGKILL",
                    seconds(config.grace),
                ));
                group.kill();
                killed = true;
            }
            () = &mut drain_alarm, if drain_armed => {
                if killed {
                    // Something outside the group still holds the pipes.
                    output.log.note("output still open after the process group was killed; \
                                     stopped reading it");
                    break;
                }
                output.log.note(&format!(
                    "the program exited but its output stayed open for {} \
                     (a background process?); killed process group {}",
                    seconds(config.drain),
                    group_name(&group),
                ));
                group.kill();
                killed = true;
                drain_armed = arm(drain_alarm.as_mut(), config.drain);
            }
        }
        // What arrived reaches the file now, for `techlead logs --follow`.
        output.log.flush();
    }
    out_lines.finish(|piece| output.stdout(piece));
    err_lines.finish(|piece| output.stderr(piece));
    output.log.flush();
    // Whatever is left of the group goes with the attempt (dropping the
    // group sends the SIGKILL).
    drop(group);

    let outcome = match (stop, status) {
        (Some(Stop::TimedOut), _) => Outcome::TimedOut,
        (Some(Stop::Cancelled), _) => Outcome::Cancelled,
        (None, Some(Ok(status))) => conclude(&program, status, &spec, &mut output),
        (None, Some(Err(error))) => failed(format!("cannot wait for `{program}`: {error}")),
        (None, None) => failed(format!("lost track of `{program}`")),
    };
    if let Some(error) = output.log.take_error() {
        // The attempt's own result stands; the person hears that its log is
        // incomplete.
        let note = format!(
            "writing the log `{}` failed, so it is incomplete: {error}",
            spec.log_path().display()
        );
        return match outcome {
            Outcome::Failed {
                exit_code,
                signal,
                message,
            } => Outcome::Failed {
                exit_code,
                signal,
                message: format!("{message} ({note})"),
            },
            other => {
                let _ = output.events.send(ExecEvent::Progress {
                    percent: None,
                    message: note,
                });
                other
            }
        };
    }
    outcome
}

/// Writes the prompt file, removes a stale result file so that only this
/// attempt's result counts, and opens the prompt file read-only for the
/// child's stdin.
///
/// The prompt file is created with `O_EXCL`: when that works the attempt's
/// files are new and there is nothing stale to remove, so the usual attempt
/// costs one `open` to write its prompt and one to read it. The mission's
/// directory is made only when the first attempt finds it missing.
fn prepare(spec: &AttemptSpec) -> Result<File, String> {
    let prompt_path = spec.prompt_path();
    let cannot_write = |error: io::Error| {
        format!(
            "cannot write the prompt file `{}`: {error}",
            prompt_path.display()
        )
    };
    let mut file = match create_new(&prompt_path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            spec.create_files_dir().map_err(|error| {
                format!(
                    "cannot create the directory for the attempt's files `{}`: {error}",
                    spec.files_dir().display()
                )
            })?;
            create_new(&prompt_path)
        }
        other => other,
    };
    if matches!(&file, Err(error) if error.kind() == io::ErrorKind::AlreadyExists) {
        // This attempt ran before (a gate run again): its old result goes.
        match fs::remove_file(spec.result_path()) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(format!(
                    "cannot remove the old result file `{}`: {error}",
                    spec.result_path().display()
                ));
            }
        }
        file = File::create(&prompt_path);
    }
    file.and_then(|mut file| file.write_all(spec.prompt.as_bytes()))
        .map_err(cannot_write)?;
    File::open(&prompt_path).map_err(|error| {
        format!(
            "cannot open the prompt file `{}` for the program's stdin: {error}",
            prompt_path.display()
        )
    })
}

/// Creates `path` for writing; fails when it exists.
fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// The outcome of a child that exited by itself: its exit status, read
/// together with the result file.
fn conclude(program: &str, status: ExitStatus, spec: &AttemptSpec, output: &mut Output) -> Outcome {
    let result = match result::read(&spec.result_path()) {
        Ok(result) => result,
        Err(warning) => {
            output.log.note(&format!(
                "warning: {warning} (`{}`)",
                spec.result_path().display()
            ));
            None
        }
    };
    let result = result.unwrap_or_default();
    if let Some(usage) = result.usage.clone() {
        output.report(ExecEvent::Usage(usage));
    }
    for artifact in result.artifacts {
        output.report(ExecEvent::Artifact(artifact));
    }
    for decision in result.decisions {
        output.report(ExecEvent::Decision(decision));
    }
    let summary = result.summary.or(output.last_summary.take());
    let detail = result
        .message
        .clone()
        .or_else(|| output.last_line.clone())
        .map(|text| format!(": {text}"))
        .unwrap_or_default();

    let said = || result.message.clone().unwrap_or_default();
    match result.status {
        Some(result::Status::RateLimited) => {
            return Outcome::RateLimited {
                until: result.retry_at,
                message: said(),
            };
        }
        Some(result::Status::NeedsPerson) => return Outcome::NeedsPerson { message: said() },
        _ => {}
    }
    if let Some(signal) = status.signal() {
        let name = process::signal_name(signal)
            .map(|name| format!(" ({name})"))
            .unwrap_or_default();
        return Outcome::Failed {
            exit_code: None,
            signal: Some(signal),
            message: format!("`{program}` was killed by signal {signal}{name}{detail}"),
        };
    }
    match status.code() {
        Some(0) if result.status == Some(result::Status::Failure) => Outcome::Failed {
            exit_code: Some(0),
            signal: None,
            message: format!(
                "`{program}` exited with code 0 but its result file reports failure{}",
                result
                    .message
                    .map(|text| format!(": {text}"))
                    .unwrap_or_default()
            ),
        },
        Some(0) => Outcome::Succeeded { summary },
        code => Outcome::Failed {
            exit_code: code,
            signal: None,
            message: match code {
                Some(code) => format!("`{program}` exited with code {code}{detail}"),
                None => format!("`{program}` ended without an exit code{detail}"),
            },
        },
    }
}

/// Where the child's output goes: every byte to the log, report lines on
/// stdout to the event channel.
struct Output {
    log: RotatingLog,
    events: mpsc::UnboundedSender<ExecEvent>,
    last_summary: Option<String>,
    /// Artifacts and decisions already reported, so the result file does
    /// not repeat them.
    reported: Vec<ExecEvent>,
    /// The last non-empty line of output, for failure messages.
    last_line: Option<String>,
}

/// Longest piece of output quoted in a failure message.
const QUOTE_MAX: usize = 200;

impl Output {
    fn stdout(&mut self, piece: Piece<'_>) {
        self.log.write(piece.bytes());
        if let Piece::Line(bytes) = piece {
            let line = String::from_utf8_lossy(bytes);
            let line = line.trim_end_matches(['\n', '\r']);
            match protocol::parse_line(line) {
                Some(event) => self.report(event),
                None => self.remember(line),
            }
        }
    }

    fn stderr(&mut self, piece: Piece<'_>) {
        self.log.write(piece.bytes());
        if let Piece::Line(bytes) = piece {
            let line = String::from_utf8_lossy(bytes);
            self.remember(line.trim_end_matches(['\n', '\r']));
        }
    }

    fn remember(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let mut end = line.len().min(QUOTE_MAX);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        let ellipsis = if end < line.len() { "…" } else { "" };
        self.last_line = Some(format!("{}{ellipsis}", &line[..end]));
    }

    fn report(&mut self, event: ExecEvent) {
        match &event {
            ExecEvent::Summary(text) => self.last_summary = Some(text.clone()),
            ExecEvent::Artifact(_) | ExecEvent::Decision(_) => {
                if self.reported.contains(&event) {
                    return;
                }
                self.reported.push(event.clone());
            }
            _ => {}
        }
        // A closed channel means nobody listens any more; the attempt goes on.
        let _ = self.events.send(event);
    }
}

/// Reads the next chunk of a pipe that may be closed already (then never
/// completes) into `buf`, replacing what it held. The buffer starts small
/// and doubles, up to `LINE_MAX`, each time a read fills it, so a child
/// that prints little costs little; it is never zeroed.
async fn read_some<R: AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    let Some(pipe) = pipe else {
        return std::future::pending().await;
    };
    let full = buf.len() == buf.capacity();
    buf.clear();
    if full && buf.capacity() < LINE_MAX {
        buf.reserve_exact((buf.capacity() * 2).clamp(READ_START, LINE_MAX));
    }
    pipe.read_buf(buf).await
}

/// The first read buffer's size.
const READ_START: usize = 512;

/// Sets `alarm` to go off `after` from now; false (the alarm stays off)
/// when that is past the end of time.
fn arm(alarm: Pin<&mut Sleep>, after: Duration) -> bool {
    match deadline(after) {
        Some(at) => {
            alarm.reset(at);
            true
        }
        None => false,
    }
}

/// `after` from now, or never when that is past the end of time.
fn deadline(after: Duration) -> Option<Instant> {
    Instant::now().checked_add(after)
}

fn group_name(group: &ProcessGroup) -> String {
    group
        .id()
        .map(|id| id.to_string())
        .unwrap_or_else(|| "(unknown)".to_owned())
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}
