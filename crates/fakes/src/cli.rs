//! Plumbing shared by the fake agent CLIs (`src/bin`: `claude`, `codex`,
//! `gemini`): the scenario file, the call log, SIGTERM, and the steps every
//! fake plays the same way (waiting, printing as is, spawning).
//!
//! Each fake reads `FAKE_<NAME>_SCENARIO` (a scenario file) and appends
//! each call to `FAKE_<NAME>_ARGV_LOG` as one JSON line
//! `{"argv":[...],"cwd":"...","stdin":"..."}`.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::ffi::OsString;
use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a fake does on SIGTERM (a scenario's `sigterm`).
#[derive(Debug, Default, Deserialize, PartialEq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum OnSigterm {
    /// Exits 143 at once, like the real CLIs.
    #[default]
    Exit,
    /// Keeps going: only SIGKILL stops it.
    Ignore,
}

/// A scenario file that could not be used.
#[derive(Debug)]
pub struct ScenarioError {
    pub path: OsString,
    /// The file could not be read (else it did not parse).
    pub unreadable: bool,
    pub error: String,
}

/// One fake CLI, by its name (`claude`, `codex`, `gemini`).
pub struct Fake {
    name: &'static str,
}

impl Fake {
    pub const fn new(name: &'static str) -> Fake {
        Fake { name }
    }

    /// `FAKE_<NAME>_<what>`.
    fn var(&self, what: &str) -> Option<OsString> {
        std::env::var_os(format!("FAKE_{}_{what}", self.name.to_uppercase()))
    }

    /// Appends this call to `FAKE_<NAME>_ARGV_LOG`, if set.
    pub fn record(&self, argv: &[String], stdin: &str) {
        let Some(path) = self.var("ARGV_LOG") else {
            return;
        };
        let cwd = std::env::current_dir()
            .map(|dir| dir.display().to_string())
            .unwrap_or_default();
        let line = json!({"argv": argv, "cwd": cwd, "stdin": stdin}).to_string();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        if let Ok(mut file) = file {
            let _ = writeln!(file, "{line}");
        }
    }

    /// The scenario in `FAKE_<NAME>_SCENARIO`; none when it is not set.
    pub fn scenario<S: DeserializeOwned>(&self) -> Result<Option<S>, ScenarioError> {
        let Some(path) = self.var("SCENARIO") else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                return Err(ScenarioError {
                    path,
                    unreadable: true,
                    error: error.to_string(),
                });
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|error| ScenarioError {
                path,
                unreadable: false,
                error: error.to_string(),
            })
    }

    /// Runs `play()` on a single-threaded runtime to its exit code, or
    /// 143 on SIGTERM unless `on_sigterm` ignores it (the turn in progress
    /// is then left unfinished). 2 when SIGTERM cannot be handled.
    pub fn run<F: Future<Output = u8>>(
        &self,
        on_sigterm: OnSigterm,
        play: impl FnOnce() -> F,
    ) -> ExitCode {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        ExitCode::from(runtime.block_on(self.until_sigterm(on_sigterm, play)))
    }

    async fn until_sigterm<F: Future<Output = u8>>(
        &self,
        on_sigterm: OnSigterm,
        play: impl FnOnce() -> F,
    ) -> u8 {
        let mut sigterm =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    eprintln!("fake {}: cannot handle SIGTERM: {error}", self.name);
                    return 2;
                }
            };
        let run = play();
        tokio::pin!(run);
        loop {
            tokio::select! {
                code = &mut run => return code,
                _ = sigterm.recv() => {
                    if on_sigterm != OnSigterm::Ignore {
                        return 143;
                    }
                }
            }
        }
    }

    /// Starts `argv` in the background, in this process group, with no
    /// standard streams. None when `argv` is empty.
    pub fn spawn(&self, argv: &[String]) -> Option<()> {
        let (program, rest) = argv.split_first()?;
        let spawned = std::process::Command::new(program)
            .args(rest)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if let Err(error) = spawned {
            eprintln!("fake {}: cannot spawn {program}: {error}", self.name);
        }
        Some(())
    }
}

/// Prints `text` on stdout as is, at once.
pub fn print_line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Sleeps `ms` milliseconds.
pub async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Waits until `path` exists.
pub async fn wait_file(path: &str) {
    while !Path::new(path).exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A random-enough UUID (version 4 layout) without a dependency.
pub fn new_uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let count = u128::from(COUNTER.fetch_add(1, Ordering::Relaxed));
    let pid = u128::from(std::process::id());
    let mut x = nanos ^ (pid << 64) ^ (count << 96) ^ 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834;
    // splitmix-style scrambling so that nearby inputs look unrelated.
    x ^= x >> 31;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9_94d0_49bb_1331_11eb);
    x ^= x >> 29;
    let hex = format!("{x:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}
