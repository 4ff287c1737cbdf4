//! Helpers shared by the tests that run the real `techlead` binary against
//! real child processes: starting it, reading its NDJSON event stream with a
//! hang guard, killing it, and looking at what it left behind (the record,
//! the processes).
//!
//! Waits are on conditions (a line arrived, the process exited, a file
//! appeared); every wait has a generous deadline that only exists to turn a
//! hang into a failure.

pub mod git;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails as hung.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// A mission name no other test, test binary or concurrent test run on this
/// machine uses. Attempts are marked with `TECHLEAD_MISSION=<name>-N`, and a
/// run kills every process carrying the mark of its mission when it starts,
/// so two tests must never share a mission name (see the bug noted in
/// faults.rs, `same_mission_id_in_another_database_is_left_alone`).
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The `techlead` binary, with a private HOME (no agent library), no colour,
/// no TECHLEAD_DB from the outside, run in `dir`.
pub fn techlead(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_techlead"));
    command
        .current_dir(dir)
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "120")
        .env_remove("TECHLEAD_DB")
        .env_remove("TECHLEAD_MISSION")
        .stdin(Stdio::null());
    command
}

/// A finished command: exit code and both streams.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: stdout is not JSON:\n{}", self.stdout))
    }

    /// Panics with the whole transcript unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code:\n{self:#?}");
        self
    }

    /// Panics unless stderr holds every one of `words`.
    pub fn expect_stderr(&self, words: &[&str]) -> &Self {
        for word in words {
            assert!(
                self.stderr.contains(word),
                "stderr lacks {word:?}:\n{}",
                self.stderr
            );
        }
        self
    }
}

/// Runs `techlead args...` in `dir` to the end (bounded by [`HANG_GUARD`]).
pub fn run_to_end(dir: &Path, args: &[&str]) -> Output {
    let mut command = techlead(dir);
    command.args(args);
    output_of(command)
}

/// Runs `command` to the end (bounded by [`HANG_GUARD`]), capturing both
/// streams.
pub fn output_of(mut command: Command) -> Output {
    let what = format!("{command:?}");
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx
        .recv_timeout(HANG_GUARD)
        .unwrap_or_else(|_| panic!("{what} hung for {HANG_GUARD:?}"))
        .expect("the command runs");
    Output {
        code: code_of(output.status),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The exit code, or 128 + the signal number for a process killed by one
/// (as a shell reports it).
pub fn code_of(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

/// A running `techlead ... --json` whose NDJSON lines are read on a thread
/// and handed over one by one with a hang guard. stderr is collected too.
pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    /// Every stdout line received so far, in order.
    pub seen: Vec<String>,
}

impl Running {
    pub fn start(dir: &Path, args: &[&str]) -> Running {
        let mut command = techlead(dir);
        command.args(args);
        Running::start_command(command)
    }

    /// As [`Running::start`], for a command set up by the caller (its
    /// environment, say).
    pub fn start_command(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("techlead starts");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (tx, stderr) = mpsc::channel();
        let mut err = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut text);
            let _ = tx.send(text);
        });
        Running {
            child,
            lines,
            stderr,
            seen: Vec::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line, or `None` once stdout is closed (the process
    /// ended). Panics if nothing comes within [`HANG_GUARD`].
    pub fn next_line(&mut self) -> Option<String> {
        match self.lines.recv_timeout(HANG_GUARD) {
            Ok(line) => {
                self.seen.push(line.clone());
                Some(line)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                panic!("no event from techlead for {HANG_GUARD:?}")
            }
        }
    }

    /// Reads events until one satisfies `want`; returns it. Panics if the
    /// stream ends first.
    pub fn wait_for(&mut self, want: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        while let Some(line) = self.next_line() {
            let value: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: not an event: {line}"));
            if want(&value) {
                return value;
            }
        }
        let stderr = self.stderr.recv_timeout(HANG_GUARD).unwrap_or_default();
        panic!(
            "techlead ended before the awaited event; events:\n{}\nstderr:\n{stderr}",
            self.seen.join("\n")
        );
    }

    /// SIGKILL, then reap it; returns its exit code as a shell shows it
    /// (137, or what it exited with if it had ended by itself just
    /// before) and every line it had printed.
    pub fn kill(mut self) -> (i32, Vec<String>) {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait");
        (code_of(status), self.drain())
    }

    /// Waits for the process to exit by itself (bounded by [`HANG_GUARD`]);
    /// returns its exit code, all its stdout lines and its stderr.
    pub fn finish(mut self) -> (i32, Vec<String>, String) {
        let deadline = Instant::now() + HANG_GUARD;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "techlead did not exit within {HANG_GUARD:?}; events:\n{}",
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stderr = self.stderr.recv_timeout(HANG_GUARD).unwrap_or_default();
        let lines = self.drain();
        (code_of(status), lines, stderr)
    }

    fn drain(mut self) -> Vec<String> {
        while let Ok(line) = self.lines.recv_timeout(HANG_GUARD) {
            self.seen.push(line);
        }
        std::mem::take(&mut self.seen)
    }
}

/// A test that fails half way leaves no techlead running behind it.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The kind of an NDJSON event (`run_started`, `attempt_finished`, ...).
pub fn event_type(event: &serde_json::Value) -> &str {
    event["event"]["type"].as_str().unwrap_or("")
}

/// `techlead status <mission> --json --db <db>`.
pub fn status(dir: &Path, db: &Path, mission: &str) -> serde_json::Value {
    let db = db.to_str().expect("utf-8 path");
    let output = run_to_end(dir, &["status", mission, "--json", "--db", db]);
    output.expect_code(0);
    output.json()
}

/// The task named `id` in a status JSON.
pub fn task<'a>(status: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    status["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("no task {id} in {status:#}"))
}

/// The outcome kinds of a task's attempts, in order (`None` while open).
pub fn outcomes(task: &serde_json::Value) -> Vec<Option<String>> {
    task["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["outcome"]["kind"].as_str().map(String::from))
        .collect()
}

/// PIDs of live processes carrying `TECHLEAD_MISSION=<mission>`: what a
/// run of that mission started and did not clean up. Zombies do not count
/// (they have no environment left and hold nothing).
pub fn processes_of(mission: &str) -> Vec<u32> {
    let mark = format!("TECHLEAD_MISSION={mission}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|v| v == mark.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Waits until `condition` holds, polling; panics after [`HANG_GUARD`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG_GUARD;
    while !condition() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The lines of the file at `path` (the log tasks append to, to prove
/// what ran and in what order); none while it does not exist.
pub fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// Writes `text` as `mission.yaml` in `dir`; returns its path.
pub fn write_mission(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("mission.yaml");
    std::fs::write(&path, text).expect("write mission");
    path
}

/// A small deterministic PRNG (xorshift64*): reproducible kill points
/// without a dependency.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.range(1, n) == 1
    }
}
