//! Everything the mission actor waits for arrives as one [`Input`] on one
//! channel: attempt reports and ends, gate verdicts, interrupts. Timers are
//! the only other way to wake it.

use crate::executor::Outcome;
use std::time::Instant;
use techlead_core::state::{Report, Usage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
pub enum Input {
    /// A timer fired (a retry is due, or the launch delay is over).
    Wake,
    Progress {
        task: usize,
        attempt: u32,
        percent: Option<u8>,
        message: String,
    },
    Report {
        task: usize,
        attempt: u32,
        report: Report,
    },
    Usage {
        task: usize,
        attempt: u32,
        usage: Usage,
    },
    /// The attempt's agent asks the person (`::ask`).
    Ask {
        task: usize,
        attempt: u32,
        question: String,
    },
    Finished {
        task: usize,
        attempt: u32,
        outcome: Outcome,
        duration_ms: u64,
    },
    /// What an attempt left in its worktree was committed to its branch.
    Saved {
        task: usize,
        attempt: u32,
        commit: String,
        files: Vec<String>,
    },
    /// A task gate's verdict; `None` when it was stopped by an interrupt
    /// (it runs again on resume).
    CheckFinished {
        task: usize,
        attempt: u32,
        verdict: Option<super::check::GateVerdict>,
    },
    /// The merge of a task's branch into the integration branch.
    Merged {
        task: usize,
        result: Result<crate::workspace::MergeResult, String>,
    },
    GateFinished {
        phase: usize,
        gate: String,
        passed: bool,
        exit_code: Option<i32>,
        log: String,
    },
    /// A definition-of-done check's verdict; `None` when it was stopped by
    /// an interrupt (it runs again on resume).
    DoneChecked {
        item: usize,
        verdict: Option<super::done::DoneVerdict>,
    },
    /// A live forecast, made at `at` (`mission::forecast`).
    Forecast {
        forecast: Box<techlead_core::forecast::Forecast>,
        at: jiff::Timestamp,
    },
    /// The lease of a worker running this attempt ran out (the worker died
    /// or lost the database): recorded as a crash is.
    LeaseExpired { task: usize, attempt: u32 },
    /// Ctrl-C, SIGTERM, or an [`Interrupter`].
    Interrupt,
}

pub(crate) struct Inputs {
    sender: mpsc::UnboundedSender<Input>,
    receiver: mpsc::UnboundedReceiver<Input>,
    gates: CancellationToken,
}

/// Interrupts a run from elsewhere in the process, like Ctrl-C.
#[derive(Clone)]
pub struct Interrupter(mpsc::UnboundedSender<Input>);

impl Interrupter {
    pub fn interrupt(&self) {
        let _ = self.0.send(Input::Interrupt);
    }
}

impl Inputs {
    pub fn new() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Inputs {
            sender,
            receiver,
            gates: CancellationToken::new(),
        }
    }

    pub fn sender(&self) -> mpsc::UnboundedSender<Input> {
        self.sender.clone()
    }

    pub fn interrupter(&self) -> Interrupter {
        Interrupter(self.sender.clone())
    }

    /// Cancelled when the run is interrupted: gates stop too.
    pub fn gate_token(&self) -> CancellationToken {
        self.gates.child_token()
    }

    pub fn cancel_gates(&self) {
        self.gates.cancel();
    }

    /// Ctrl-C and SIGTERM become [`Input::Interrupt`], every time they come.
    pub fn listen_for_signals(&self) {
        let sender = self.sender.clone();
        tokio::spawn(async move {
            let Ok(mut terminate) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            loop {
                tokio::select! {
                    result = tokio::signal::ctrl_c() => if result.is_err() { return },
                    _ = terminate.recv() => {}
                }
                if sender.send(Input::Interrupt).is_err() {
                    return;
                }
            }
        });
    }

    /// The next input, or [`Input::Wake`] at `wake`.
    pub async fn next(&mut self, wake: Option<Instant>) -> Input {
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            input = self.receiver.recv() => input.unwrap_or(Input::Wake),
            () = sleep => Input::Wake,
        }
    }

    /// An input already queued, without waiting.
    pub fn try_next(&mut self) -> Option<Input> {
        self.receiver.try_recv().ok()
    }
}
