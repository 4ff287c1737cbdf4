//! Showing a run as it happens: progress bars on a terminal, one plain
//! line per event when piped, NDJSON with `--json`. Every view is fed the
//! same committed events. The rows under the bars are in `rows`.

mod rows;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rows::Panel;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use techlead_core::state::{
    AttemptOutcome, Event, EventRecord, MissionState, NextStep, Report, Tally, TaskStatus,
};

/// How the run is shown.
pub enum View {
    Bars(Bars),
    Lines(Lines),
    Json(Json),
}

impl View {
    /// Bars on a terminal, lines otherwise, JSON when asked.
    pub fn choose(json: bool, mission: &str, state: &MissionState) -> View {
        if json {
            View::Json(Json::new(mission))
        } else if std::io::stderr().is_terminal() {
            View::Bars(Bars::new(mission, state))
        } else {
            View::Lines(Lines::new())
        }
    }

    /// The same views for a mission read back from its record (`watch`):
    /// plain lines are timed by when each event was recorded, from the
    /// mission's creation, rather than by when they are shown.
    pub fn replaying(json: bool, mission: &str, state: &MissionState) -> View {
        match View::choose(json, mission, state) {
            View::Lines(_) => View::Lines(Lines {
                clock: Clock::Recorded(state.created_at),
                out: String::new(),
            }),
            View::Bars(mut bars) => {
                bars.replaying = true;
                View::Bars(bars)
            }
            view => view,
        }
    }

    /// Shows one committed event; `tally` counts the tasks as of that
    /// event, `state` gives the plan.
    pub fn observe(&mut self, record: &EventRecord, tally: &Tally, state: &MissionState) {
        match self {
            View::Bars(bars) => bars.observe(record, tally, state),
            View::Lines(lines) => {
                if let Some(line) = describe(record, tally, state) {
                    lines.print(&line, record);
                }
            }
            View::Json(json) => json.print(record),
        }
    }

    /// Writes out what the last commit's events printed: one write per
    /// commit, not per event.
    pub fn flush(&mut self) {
        match self {
            View::Lines(lines) => lines.flush(),
            View::Json(json) => json.flush(),
            View::Bars(_) => {}
        }
    }

    /// A live forecast from the engine: the bars' ETA becomes its P50
    /// and P90 (lines and JSON show the recorded baseline and slips).
    pub fn forecast(&mut self, forecast: &techlead_core::forecast::Forecast, at: jiff::Timestamp) {
        if let View::Bars(bars) = self {
            let after = techlead_core::forecast::slip::after;
            *bars.eta.lock().unwrap_or_else(|e| e.into_inner()) = Some((
                after(at, forecast.finish_hours.p50),
                after(at, forecast.finish_hours.p90),
            ));
        }
    }

    /// Why ready tasks wait for agents other missions share: a row of the
    /// bars, or a line each time it changes.
    pub fn shared(&mut self, waits: &[String]) {
        match self {
            View::Bars(bars) => {
                *bars.shared.lock().unwrap_or_else(|e| e.into_inner()) = waits.to_vec();
                bars.panel
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .set_shared(waits.to_vec());
                bars.rows.tick();
            }
            View::Lines(lines) => {
                let at = lines.elapsed();
                for wait in waits {
                    lines.out.push_str(&format!("[{}] ⧗ {wait}\n", clock(at)));
                }
                lines.flush();
            }
            View::Json(_) => {}
        }
    }

    pub fn finish(&mut self) {
        self.flush();
        if let View::Bars(bars) = self {
            bars.finish();
        }
    }
}

/// One JSON object per event on stdout: the event record with the
/// mission's ID first.
pub struct Json {
    /// `{"mission":"<id>",`, written before each record's fields.
    head: Vec<u8>,
    out: Vec<u8>,
}

impl Json {
    fn new(mission: &str) -> Json {
        let mut head = b"{\"mission\":".to_vec();
        serde_json::to_writer(&mut head, mission).expect("a string serialises");
        head.push(b',');
        Json {
            head,
            out: Vec::new(),
        }
    }

    fn print(&mut self, record: &EventRecord) {
        let start = self.out.len();
        serde_json::to_writer(&mut self.out, record).expect("events serialise");
        // Replace the record's opening brace with the head.
        self.out.splice(start..start + 1, self.head.iter().copied());
        self.out.push(b'\n');
    }

    fn flush(&mut self) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(&self.out);
        let _ = stdout.flush();
        self.out.clear();
    }
}

/// Plain lines with the time since the run began.
pub struct Lines {
    clock: Clock,
    out: String,
}

/// What a line's time counts from.
enum Clock {
    /// The moment the view began: events are shown as they happen.
    Started(Instant),
    /// This moment of the record: each event's recorded time counts.
    Recorded(jiff::Timestamp),
}

impl Lines {
    pub fn new() -> Self {
        Lines {
            clock: Clock::Started(Instant::now()),
            out: String::new(),
        }
    }

    fn print(&mut self, line: &str, record: &EventRecord) {
        let elapsed = match self.clock {
            Clock::Started(started) => started.elapsed(),
            Clock::Recorded(origin) => {
                Duration::try_from(record.at.duration_since(origin)).unwrap_or_default()
            }
        };
        self.out.push_str(&format!("[{}] {line}\n", clock(elapsed)));
    }

    fn flush(&mut self) {
        let _ = std::io::stderr().lock().write_all(self.out.as_bytes());
        self.out.clear();
    }

    /// The time a line printed now shows.
    fn elapsed(&self) -> Duration {
        match self.clock {
            Clock::Started(started) => started.elapsed(),
            Clock::Recorded(origin) => {
                Duration::try_from(jiff::Timestamp::now().duration_since(origin))
                    .unwrap_or_default()
            }
        }
    }
}

fn clock(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    format!(
        "{:02}:{:02}.{:03}",
        secs / 60,
        secs % 60,
        elapsed.subsec_millis()
    )
}

/// A bar for the mission and, under it, the rows of `rows`: a row per
/// agent at work, then what waits. Event lines scroll above them.
pub struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    /// Draws the panel's rows at every tick, so that elapsed times move.
    rows: ProgressBar,
    panel: Arc<Mutex<Panel>>,
    mission: String,
    /// The last escalation's message while it is open.
    escalation: Option<String>,
    /// Events are read back from the record (`watch`): elapsed time counts
    /// from the run's start as recorded.
    replaying: bool,
    /// The live forecast's P50 and P90 finish, once there is one: the
    /// ETA shown instead of the bar's straight-line guess.
    eta: Arc<Mutex<Option<Eta>>>,
    /// Why ready tasks wait for agents other missions share, as the
    /// engine last said.
    shared: Arc<Mutex<Vec<String>>>,
}

/// A forecast's P50 and P90 finish.
type Eta = (jiff::Timestamp, jiff::Timestamp);

impl Bars {
    fn new(mission: &str, state: &MissionState) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let overall = multi.add(ProgressBar::new(state.tasks.len() as u64));
        let eta: Arc<Mutex<Option<Eta>>> = Arc::default();
        let forecast = eta.clone();
        overall.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:30.green/dim}] {pos}/{len} tasks · {msg} · {elapsed} elapsed, ETA {forecast}")
                .expect("a valid template")
                .progress_chars("█▉▊▋▌▍▎▏ ")
                .with_key(
                    "forecast",
                    move |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                        let eta = *forecast.lock().unwrap_or_else(|e| e.into_inner());
                        let _ = out.write_str(&eta_text(eta, state.eta(), jiff::Timestamp::now()));
                    },
                ),
        );
        overall.set_prefix(state.plan.name.clone());
        overall.enable_steady_tick(Duration::from_millis(200));
        let panel = Arc::new(Mutex::new(Panel::default()));
        let rows = multi.add(ProgressBar::new(0));
        let shown = panel.clone();
        let colour = std::env::var_os("NO_COLOR").is_none();
        rows.set_style(
            ProgressStyle::with_template("{rows}")
                .expect("a valid template")
                .with_key(
                    "rows",
                    move |_: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                        let panel = shown.lock().unwrap_or_else(|e| e.into_inner());
                        let rows = panel.rows(jiff::Timestamp::now(), stderr_width());
                        let lines: Vec<String> = rows
                            .into_iter()
                            .map(|row| match row.alert && colour {
                                true => format!("\x1b[1;33m{}\x1b[0m", row.text),
                                false => row.text,
                            })
                            .collect();
                        let _ = out.write_str(&lines.join("\n"));
                    },
                ),
        );
        rows.enable_steady_tick(Duration::from_millis(200));
        let bars = Bars {
            multi,
            overall,
            rows,
            panel,
            mission: mission.to_string(),
            escalation: None,
            replaying: false,
            eta,
            shared: Arc::default(),
        };
        bars.update_overall(&state.tally(), state);
        bars
    }

    fn observe(&mut self, record: &EventRecord, tally: &Tally, state: &MissionState) {
        match &record.event {
            Event::EscalationRaised { message, .. } => self.escalation = Some(message.clone()),
            Event::DispatchResumed | Event::RunStarted { .. } => self.escalation = None,
            Event::EscalationResolved { .. } if state.open_escalations.is_empty() => {
                self.escalation = None
            }
            _ => {}
        }
        if let Event::RunStarted { .. } = &record.event
            && self.replaying
        {
            let since = jiff::Timestamp::now().duration_since(record.at);
            self.overall
                .set_elapsed(Duration::try_from(since).unwrap_or_default());
        }
        // The bars first: a line printed redraws them as last drawn (the
        // steady tick catches up within 200 ms when the draw rate did not
        // allow a draw now).
        self.update_overall(tally, state);
        let mut panel = Panel::of(
            &self.mission,
            state,
            self.escalation.as_deref(),
            jiff::Timestamp::now(),
        );
        panel.set_shared(
            self.shared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        );
        *self.panel.lock().unwrap_or_else(|e| e.into_inner()) = panel;
        self.rows.tick();
        // Starts and progress show in the rows, not as lines of their own.
        if !matches!(
            record.event,
            Event::AttemptStarted { .. } | Event::AttemptProgress { .. }
        ) && let Some(line) = describe(record, tally, state)
        {
            let _ = self.multi.println(line);
        }
    }

    fn update_overall(&self, tally: &Tally, state: &MissionState) {
        self.overall.set_position(tally.finished() as u64);
        let mut parts = vec![format!("{} running", tally.count(TaskStatus::Running))];
        for (status, word) in [
            (TaskStatus::Queued, "queued"),
            (TaskStatus::Checking, "checking"),
            (TaskStatus::Retrying, "retrying"),
            (TaskStatus::Failed, "failed"),
            (TaskStatus::Blocked, "blocked"),
            (TaskStatus::Skipped, "skipped"),
        ] {
            let n = tally.count(status);
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        // What it costs, as it goes: a person watching spend wants it here.
        if state.spent_usd > 0.0 {
            parts.push(format!("${:.2}", state.spent_usd));
        } else if state.spent_tokens > 0 {
            parts.push(format!("{} tokens", state.spent_tokens));
        }
        self.overall.set_message(parts.join(" · "));
    }

    fn finish(&mut self) {
        self.rows.finish_and_clear();
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// The bar's ETA: the forecast's P50 with its P90 when there is one
/// (time left from `now`), else the bar's own guess at the pace so far.
fn eta_text(forecast: Option<Eta>, guess: Duration, now: jiff::Timestamp) -> String {
    let left = |at: jiff::Timestamp| {
        crate::render::duration(at.duration_since(now).as_secs().max(0) as u64)
    };
    match forecast {
        Some((p50, p90)) => format!("{} (P90 {})", left(p50), left(p90)),
        None => crate::render::duration(guess.as_secs()),
    }
}

/// The terminal's width on stderr, where the bars are drawn.
fn stderr_width() -> usize {
    terminal_size::terminal_size_of(std::io::stderr())
        .map_or(80, |(terminal_size::Width(w), _)| usize::from(w))
}

/// One line about an event a person cares about, or `None`.
pub fn describe(record: &EventRecord, tally: &Tally, state: &MissionState) -> Option<String> {
    Some(match &record.event {
        Event::MissionCreated { plan } => format!(
            "mission {} recorded with {} tasks",
            plan.name,
            plan.tasks.len()
        ),
        Event::RunStarted { run, .. } => format!(
            "run {run} of {} started: {} tasks, {} done, max_parallel {}",
            state.plan.name,
            tally.total(),
            tally.finished(),
            state.plan.max_parallel
        ),
        // A claim is bookkeeping; the person hears when the attempt starts.
        Event::AttemptQueued { .. } | Event::AttemptWithdrawn { .. } => return None,
        Event::AttemptStarted { task, attempt } => format!(
            "▶ {task} attempt {attempt} on {}",
            agent_of(state, task, *attempt)
        ),
        Event::AttemptProgress {
            task,
            percent,
            message,
            ..
        } => match percent {
            Some(p) => format!("… {task} {p}% {message}"),
            None => format!("… {task} {message}"),
        },
        Event::AttemptReported { task, report, .. } => match report {
            Report::Blocked(text) => format!("! {task} is blocked: {text}"),
            Report::Artifact(path) => format!("+ {task} produced {path}"),
            Report::Decision(text) => format!("◆ {task} decided: {text}"),
            Report::Split(title) => format!("✂ {task} proposes a part: {title}"),
            Report::Summary(_) | Report::Session(_) => return None,
        },
        Event::AttemptFinished {
            task,
            attempt,
            outcome,
            duration_ms,
            next,
        } => {
            let line = finished(task, outcome, *duration_ms, next, record.at);
            match spent(state, task, *attempt) {
                Some(spent) => format!("{line} · {spent}"),
                None => line,
            }
        }
        Event::TaskBlocked { task, by } => format!("⊘ {task} blocked by {by}"),
        Event::WorkSaved {
            task,
            commit,
            files,
            ..
        } => format!(
            "⎘ {task} work saved as {} ({} file{} changed)",
            short(commit),
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        ),
        Event::TaskGateFinished {
            task,
            gate,
            passed: true,
            ..
        } => format!("✓ {task} passed `{gate}`"),
        Event::HandoffIncomplete { task, missing } => format!(
            "! {task} needs {}, which the work it builds on does not have",
            missing.join(", ")
        ),
        Event::TaskGateFinished {
            task,
            gate,
            reasons,
            next,
            ..
        } => {
            let why = reasons
                .last()
                .map(|r| format!(": {}", r.trim()))
                .unwrap_or_default();
            let then = next
                .as_ref()
                .map(|next| then(next, record.at))
                .unwrap_or_default();
            format!("✗ {task} did not pass `{gate}`{why}{then}")
        }
        Event::TaskAccepted {
            task,
            merge: Some(commit),
        } => format!("✓ {task} succeeded and merged as {}", short(commit)),
        Event::TaskAccepted { task, merge: None } => format!("✓ {task} succeeded"),
        Event::MergeConflicted { task, files, next } => format!(
            "✗ {task} conflicts with the integration branch in {}{}",
            files.join(", "),
            match next {
                NextStep::Retry { agent, .. } => format!("; {agent} resolves it"),
                _ => "; you decide".to_string(),
            }
        ),
        Event::AttemptUsage { .. } => return None,
        Event::ExecutorPaused {
            executor,
            until,
            reason,
        } => format!(
            "⏸ {executor} paused until {} (its tasks wait, none fails): {reason}",
            until.strftime("%H:%M:%S")
        ),
        Event::PhaseGateFinished {
            phase,
            gate,
            passed,
            ..
        } => format!(
            "{} gate of phase {} ({}): `{gate}`",
            if *passed { "✓" } else { "✗" },
            phase + 1,
            state.plan.phases[*phase].name
        ),
        Event::DoneChecked {
            item,
            passed,
            exit_code,
            ..
        } => {
            let done = &state.plan.done_when[*item];
            let run = done.run.as_deref().unwrap_or_default();
            match (passed, exit_code) {
                (true, _) => format!("✓ done: {} (`{run}` passed)", done.text),
                (false, Some(code)) => {
                    format!(
                        "✗ not done: {} (`{run}` exited with code {code})",
                        done.text
                    )
                }
                (false, None) => format!("✗ not done: {} (`{run}` did not finish)", done.text),
            }
        }
        Event::DispatchPaused { reason } => format!("⏸ dispatch paused: {reason}"),
        Event::BudgetChanged { budget } => format!(
            "$ budget set: {}",
            match (budget.usd, budget.tokens) {
                (Some(usd), Some(tokens)) => format!("${usd:.2}, {tokens} tokens"),
                (Some(usd), None) => format!("${usd:.2}"),
                (None, Some(tokens)) => format!("{tokens} tokens"),
                (None, None) => "no limit".to_string(),
            }
        ),
        Event::DispatchResumed => "▶ dispatch resumed".to_string(),
        Event::EscalationRaised {
            id,
            message,
            options,
            ..
        } => {
            format!(
                "? escalation #{id}: {message} (decide: {})",
                options.join(", ")
            )
        }
        Event::EscalationResolved {
            id, decision, by, ..
        } => format!("✓ escalation #{id} decided: {decision} (by {by})"),
        Event::TaskReopened { task, agent } => match agent {
            Some(agent) => format!("↻ {task} waits again, on {agent}"),
            None => format!("↻ {task} waits again"),
        },
        Event::TaskSkipped { task } => format!("» {task} skipped: its dependents go on"),
        Event::TaskSplit { task, parts } => {
            let parts: Vec<String> = parts
                .iter()
                .map(|p| format!("{} ({})", p.id, p.title))
                .collect();
            format!(
                "✂ {task} split into {}; it finishes after them",
                parts.join(", ")
            )
        }
        Event::TaskApproved { task } => {
            format!("✓ {task}'s work approved by you: it merges without its gates")
        }
        Event::Preempted { by, agents } => format!(
            "⏸ emergency {by} holds {}: their non-critical work here waits",
            agents.join(", ")
        ),
        Event::ExternalSucceeded { task, on, mission } => {
            format!("✓ {on} succeeded in {mission}: {task} no longer waits for it")
        }
        Event::ExternalFailed {
            task, on, reason, ..
        } => format!("⊘ {task} cannot wait for {on} any more: {reason}"),
        Event::PreemptionEnded { by } => format!("▶ emergency {by} is over: held work goes on"),
        Event::DecisionRefused {
            request,
            escalation,
            reason,
        } => format!("✗ decision {request} on escalation #{escalation} refused: {reason}"),
        Event::ForecastBaseline { p50, p90, runs } => format!(
            "◷ forecast: P50 finish {}, P90 {} ({runs} runs)",
            when(*p50),
            when(*p90),
        ),
        Event::ForecastSlipped {
            baseline,
            forecast,
            p90,
            slip,
            drivers,
        } => format!(
            "⚠ forecast slipped {:.0}%: P50 finish {} (baseline {}), P90 {}{}",
            slip * 100.0,
            when(*forecast),
            when(*baseline),
            when(*p90),
            if drivers.is_empty() {
                String::new()
            } else {
                format!("; driven by {}", drivers.join(", "))
            }
        ),
        Event::RunInterrupted { reason } => format!("■ run interrupted: {reason}"),
        Event::MissionFinished { status } => {
            let spent = techlead_core::budget::mission_spent(state);
            let spent = if spent.tokens > 0 || spent.usd > 0.0 {
                format!(" · {} tokens, ${:.4} spent", spent.tokens, spent.usd)
            } else {
                String::new()
            };
            format!(
                "mission {status}: {} of {} tasks succeeded, {} failed, {} blocked{}{spent}",
                tally.count(TaskStatus::Succeeded),
                tally.total(),
                tally.count(TaskStatus::Failed),
                tally.count(TaskStatus::Blocked),
                done_checks(state)
            )
        }
    })
}

/// How the definition of done's checks went, for the mission's last line:
/// ` · definition of done: 1 of 2 checks passed`, or nothing without checks.
fn done_checks(state: &MissionState) -> String {
    let checks = state
        .plan
        .done_when
        .iter()
        .filter(|d| d.run.is_some())
        .count();
    if checks == 0 {
        return String::new();
    }
    if state.done.iter().all(Option::is_none) {
        return " · definition of done not checked".to_string();
    }
    let passed = state.done.iter().flatten().filter(|r| r.passed).count();
    format!(
        " · definition of done: {passed} of {checks} check{} passed",
        if checks == 1 { "" } else { "s" }
    )
}

/// What attempt `attempt` of `task` reported using, as a person reads it.
fn spent(state: &MissionState, task: &str, attempt: u32) -> Option<String> {
    let t = state.task_index(task)?;
    let usage = state.tasks[t]
        .attempts
        .get((attempt as usize).checked_sub(1)?)?
        .detail
        .usage
        .as_ref()?;
    let tokens = usage.input_tokens + usage.output_tokens;
    Some(if usage.cost_usd > 0.0 {
        format!("{tokens} tokens, ${:.4}", usage.cost_usd)
    } else {
        format!("{tokens} tokens")
    })
}

/// The agent of attempt `attempt` of `task`, as claimed.
fn agent_of(state: &MissionState, task: &str, attempt: u32) -> String {
    state
        .task_index(task)
        .and_then(|t| {
            state.tasks[t]
                .attempts
                .get((attempt as usize).checked_sub(1)?)
        })
        .map_or_else(|| "?".to_string(), |a| a.agent.clone())
}

fn finished(
    task: &str,
    outcome: &AttemptOutcome,
    duration_ms: u64,
    next: &NextStep,
    at: jiff::Timestamp,
) -> String {
    let took = seconds(duration_ms);
    let what = match outcome {
        AttemptOutcome::Succeeded { .. } if *next == NextStep::Check => {
            return format!("● {task} finished its work in {took}; checking it");
        }
        AttemptOutcome::Succeeded {
            summary: Some(summary),
        } => return format!("✓ {task} succeeded in {took}: {summary}"),
        AttemptOutcome::Succeeded { summary: None } => {
            return format!("✓ {task} succeeded in {took}");
        }
        AttemptOutcome::Failed {
            exit_code: Some(code),
            message,
            ..
        } if message.is_empty() => format!("failed (exit {code})"),
        AttemptOutcome::Failed {
            exit_code: Some(code),
            message,
            ..
        } => format!("failed (exit {code}): {message}"),
        AttemptOutcome::Failed {
            signal: Some(signal),
            ..
        } => format!("killed by signal {signal}"),
        AttemptOutcome::Failed { message, .. } => format!("failed: {message}"),
        AttemptOutcome::TimedOut => "timed out".to_string(),
        AttemptOutcome::Cancelled => "cancelled".to_string(),
        AttemptOutcome::Interrupted => "was cut off when techlead stopped".to_string(),
        AttemptOutcome::RateLimited { message, .. } => format!("hit a rate limit: {message}"),
        AttemptOutcome::NeedsPerson { message } => format!("needs you: {message}"),
        AttemptOutcome::Suspended { by } => {
            return format!(
                "⏸ {task} suspended after {took} for the emergency {by}; it runs again once that is over"
            );
        }
    };
    format!("✗ {task} {what} after {took}{}", then(next, at))
}

/// What happens to a task next, as the end of a line; a retry's delay
/// counts from `now`, the event's time (a record read back later says
/// what it said then).
fn then(next: &NextStep, now: jiff::Timestamp) -> String {
    match next {
        NextStep::Retry { agent, at } => {
            let wait = at.duration_since(now).as_secs_f64().max(0.0);
            format!("; retrying on {agent} in {wait:.0}s")
        }
        NextStep::Fail => "; no retries left".to_string(),
        NextStep::Requeue => "; it will run again".to_string(),
        NextStep::Split => "; splitting it into the parts its agent proposed".to_string(),
        NextStep::Done | NextStep::Check => String::new(),
    }
}

/// A commit as people quote it.
/// A forecast time to the minute, in UTC.
fn when(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

pub fn seconds(ms: u64) -> String {
    if ms < 10_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}s", ms / 1000)
    }
}
