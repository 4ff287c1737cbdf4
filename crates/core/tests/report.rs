//! The mission report (`techlead_core::report`): built from real event
//! logs folded by the state machine, then written as Markdown and HTML.
//! Durations, the burn-up, lessons from retries, backups and escalations,
//! the definition of done, escaping of hostile titles and the charts'
//! geometry.

use jiff::Timestamp;
use techlead_core::Priority;
use techlead_core::report::{self, AttemptResult, Audience, Forecast, Inputs, Report};
use techlead_core::state::{
    AttemptOutcome, Decision, DoneItem, DoneState, EscalationKind, Event, EventRecord, MissionPlan,
    MissionState, MissionStatus, NextStep, TaskPlan,
};
use techlead_core::state::{Rare, TaskDetail};

const EPOCH: i64 = 1_750_000_000;
const HOSTILE: &str = "<script>alert(\"x\")</script> | a & b";

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(EPOCH + secs).unwrap()
}

fn task(id: &str, depends_on: &[&str], hours: f64) -> TaskPlan {
    TaskPlan {
        id: id.to_string(),
        title: format!("Do {id}"),
        priority: Priority::Medium,
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        agent: "coder".to_string(),
        executor: "command".to_string(),
        command: Some(vec!["true".to_string()]),
        timeout_ms: 60_000,
        retries: 1,
        detail: Rare::of(TaskDetail {
            estimate_hours: Some(hours),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn plan(tasks: Vec<TaskPlan>) -> MissionPlan {
    MissionPlan {
        name: "demo".to_string(),
        objective: "ship the demo".to_string(),
        source: "mission.yaml".to_string(),
        source_hash: "0123abcd".to_string(),
        workdir: ".".to_string(),
        max_parallel: 4,
        failure_threshold: 0.9,
        backoff_ms: vec![5_000],
        deadline: Some(ts(10 * 3600)),
        tasks,
        done_when: vec![
            DoneItem::check("the tests pass", "make test"),
            DoneItem::statement("the docs were reviewed"),
        ],
        ..Default::default()
    }
}

/// A log being written: each event folded as it is appended, as the
/// engine does, so that a test cannot build a log the fold rejects.
struct Log {
    records: Vec<EventRecord>,
    state: MissionState,
}

impl Log {
    fn new(plan: MissionPlan) -> Log {
        let first = EventRecord {
            seq: 1,
            at: ts(0),
            event: Event::MissionCreated {
                plan: Box::new(plan),
            },
        };
        Log {
            state: MissionState::created(&first).unwrap(),
            records: vec![first],
        }
    }

    fn at(&mut self, secs: i64, event: Event) -> &mut Log {
        let record = EventRecord {
            seq: self.records.len() as u64 + 1,
            at: ts(secs),
            event,
        };
        self.state
            .apply(&record)
            .unwrap_or_else(|e| panic!("{e}: {record:?}"));
        self.records.push(record);
        self
    }

    /// An attempt claimed and started at `from`, ended at `to`.
    fn attempt(&mut self, task: &str, n: u32, agent: &str, span: (i64, i64), end: End) -> &mut Log {
        let (from, to) = span;
        self.at(
            from,
            Event::AttemptQueued {
                task: task.into(),
                attempt: n,
                agent: agent.into(),
                executor: "command".into(),
                dir: format!("runs/demo-1/{task}.{n}"),
            },
        );
        self.at(
            from,
            Event::AttemptStarted {
                task: task.into(),
                attempt: n,
            },
        );
        let (outcome, next) = match end {
            End::Done => (AttemptOutcome::Succeeded { summary: None }, NextStep::Done),
            End::Retry(agent) => (
                failed(),
                NextStep::Retry {
                    agent: agent.into(),
                    at: ts(to + 5),
                },
            ),
            End::Fail => (failed(), NextStep::Fail),
        };
        self.at(
            to,
            Event::AttemptFinished {
                task: task.into(),
                attempt: n,
                outcome,
                duration_ms: ((to - from) * 1000) as u64,
                next,
            },
        )
    }

    fn report(&self, now: i64) -> Report {
        report::build(Inputs {
            mission: "demo-1",
            state: &self.state,
            records: &self.records,
            now: ts(now),
            forecast: None,
        })
    }
}

enum End {
    Done,
    Retry(&'static str),
    Fail,
}

fn failed() -> AttemptOutcome {
    AttemptOutcome::Failed {
        exit_code: Some(1),
        signal: None,
        message: "tests failed".into(),
    }
}

/// SPEC, then API (fails twice, the backup `rescuer` brings it in) and
/// UI (with a hostile title) side by side, then DOCS after API; the
/// definition of done's check passes.
fn succeeded_mission() -> Log {
    let mut api = task("API", &["SPEC"], 2.0);
    api.detail.backup = Some("rescuer".into());
    let mut ui = task("UI", &["SPEC"], 1.0);
    ui.title = HOSTILE.into();
    let mut log = Log::new(plan(vec![
        task("SPEC", &[], 1.0),
        api,
        ui,
        task("DOCS", &["API"], 1.0),
    ]));
    log.at(0, run(1))
        .attempt("SPEC", 1, "coder", (1, 61), End::Done)
        .attempt("UI", 1, "coder", (62, 100), End::Done)
        .attempt("API", 1, "coder", (62, 122), End::Retry("coder"))
        .attempt("API", 2, "coder", (130, 190), End::Retry("rescuer"))
        .attempt("API", 3, "rescuer", (200, 260), End::Done)
        .attempt("DOCS", 1, "coder", (261, 300), End::Done)
        .at(
            301,
            Event::DoneChecked {
                item: 0,
                passed: true,
                exit_code: Some(0),
                log: "runs/demo-1/done-1.output.log".into(),
            },
        )
        .at(302, finished(MissionStatus::Succeeded));
    log
}

fn run(n: u32) -> Event {
    serde_json::from_value(serde_json::json!({
        "type": "run_started", "run": n, "pid": 1, "host": "box",
    }))
    .unwrap()
}

fn finished(status: MissionStatus) -> Event {
    Event::MissionFinished { status }
}

#[test]
fn a_succeeded_mission_has_its_times_plan_and_burnup() {
    let r = succeeded_mission().report(5_000);
    assert_eq!(r.status, MissionStatus::Succeeded);
    assert_eq!(
        (r.outcome.total, r.outcome.succeeded, r.outcome.retried),
        (4, 4, 1)
    );
    assert!(
        r.outcome
            .headline
            .starts_with("Succeeded: 4 of 4 tasks done in 5 min 01 s"),
        "{}",
        r.outcome.headline
    );
    let t = &r.timeline;
    assert_eq!(t.started_at, Some(ts(1)));
    assert_eq!(t.finished_at, Some(ts(302)));
    assert_eq!(t.elapsed_ms, 301_000, "start to finish, not to `now`");
    // SPEC, API, DOCS in a row: 4 hours by the estimates.
    assert_eq!(t.planned.hours, 4.0);
    assert_eq!(t.planned.critical_path_hours, 4.0);
    assert_eq!(t.planned.finish_at, Some(ts(1 + 4 * 3600)));
    let counts: Vec<(Timestamp, usize)> =
        vec![(ts(61), 1), (ts(100), 2), (ts(260), 3), (ts(300), 4)];
    assert_eq!(r.burnup.actual, counts);
    assert_eq!(
        r.burnup.planned,
        vec![(1.0, 1), (2.0, 2), (3.0, 3), (4.0, 4)]
    );
    let api = r.tasks.iter().find(|t| t.id == "API").unwrap();
    assert_eq!((api.attempts, api.worked_ms), (3, 180_000));
    assert_eq!(api.agent, "rescuer");
    assert_eq!(api.finished_at, Some(ts(260)));
}

#[test]
fn lessons_say_what_failed_and_how_the_backup_brought_it_in() {
    let r = succeeded_mission().report(5_000);
    assert_eq!(r.lessons.len(), 1, "{:#?}", r.lessons);
    let lesson = &r.lessons[0];
    assert_eq!(lesson.task, "API");
    assert!(lesson.resolved);
    assert_eq!(
        lesson.failures,
        [
            "attempt 1 on coder: failed (exit code 1): tests failed",
            "attempt 2 on coder: failed (exit code 1): tests failed",
        ]
    );
    assert_eq!(
        lesson.resolution,
        "the backup agent rescuer took over and succeeded on attempt 3"
    );
    assert_eq!(
        lesson.logs,
        [
            "runs/demo-1/API.1.output.log",
            "runs/demo-1/API.2.output.log"
        ]
    );
}

#[test]
fn the_definition_of_done_and_the_deadline_are_reported() {
    let r = succeeded_mission().report(5_000);
    let states: Vec<DoneState> = r.done.iter().map(|d| d.state).collect();
    assert_eq!(states, [DoneState::Met, DoneState::ToConfirm]);
    assert_eq!(
        r.done[0].log.as_deref(),
        Some("runs/demo-1/done-1.output.log")
    );
    let md = report::markdown(&r, Audience::Executive);
    assert!(
        md.contains("Deadline 2025-06-16 01:06:40 UTC: met, 9 h 54 min to spare."),
        "{md}"
    );
    assert!(
        md.contains("**Definition of done.** 2 items: 1 met, 1 to confirm."),
        "{md}"
    );
}

#[test]
fn markdown_has_the_key_lines_for_engineers() {
    let r = succeeded_mission().report(5_000);
    let md = report::markdown(&r, Audience::Engineering);
    for line in [
        "# Mission report: demo (`demo-1`)",
        "**Succeeded: 4 of 4 tasks done in 5 min 01 s (planned 4 h).**",
        "- Plan: 4 h under the mission's limits; critical path 4 h.",
        "| API | Do API | rescuer | succeeded | 3 | 3 min | 2 h | $0.00 |",
        "| API | 2 | coder | 2025-06-15 15:08:50 UTC | 1 min | failed (exit code 1): tests failed | `runs/demo-1/API.2.output.log` |",
        "  - Resolved: the backup agent rescuer took over and succeeded on attempt 3.",
        "- [x] the tests pass: met (log `runs/demo-1/done-1.output.log`)",
        "- [ ] the docs were reviewed: to confirm",
    ] {
        assert!(md.lines().any(|l| l == line), "no line {line:?} in:\n{md}");
    }
}

#[test]
fn a_hostile_title_stays_text_in_markdown_and_html() {
    let r = succeeded_mission().report(5_000);
    let md = report::markdown(&r, Audience::Engineering);
    // Every `<` is escaped: none can open a tag.
    assert!(!md.replace("\\<", "").contains('<'), "{md}");
    assert!(
        md.contains(r#"| UI | \<script\>alert("x")\</script\> \| a \& b | coder |"#),
        "{md}"
    );
    let html = report::html(&r, Audience::Engineering);
    assert!(!html.contains("<script"), "markup from a title");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; | a &amp; b"));
}

#[test]
fn the_gantt_chart_has_one_bar_per_attempt_inside_its_box() {
    let r = succeeded_mission().report(5_000);
    let html = report::html(&r, Audience::Engineering);
    assert_eq!(html.matches("class=\"attempt ").count(), r.attempts.len());
    assert_eq!(r.attempts.len(), 6);
    assert_eq!(html.matches("class=\"attempt failed\"").count(), 2);
    for rect in rects(&html) {
        let (x, w) = (attr(rect, "x"), attr(rect, "width"));
        assert!(x >= 0.0 && w > 0.0 && x + w <= 800.0, "{rect}");
    }
    // Two lanes: coder (API and UI overlapped, so two rows) and rescuer.
    assert_eq!(
        html.matches("class=\"lane\"").count(),
        2 + 2,
        "lanes and cost bars"
    );
}

#[test]
fn the_burnup_stays_inside_its_box() {
    let r = succeeded_mission().report(5_000);
    let html = report::html(&r, Audience::Engineering);
    let points: Vec<&str> = html
        .split("points=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(points.len(), 2, "actual and planned");
    for pair in points.iter().flat_map(|p| p.split(' ')) {
        let (x, y) = pair.split_once(',').unwrap();
        let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
        assert!(
            (0.0..=800.0).contains(&x) && (0.0..=230.0).contains(&y),
            "{pair}"
        );
    }
}

/// The `<rect .../>` and `<rect ...>` tags of a page.
fn rects(html: &str) -> Vec<&str> {
    html.split("<rect ")
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap())
        .collect()
}

fn attr(tag: &str, name: &str) -> f64 {
    let key = format!(" {name}=\"");
    let at = format!(" {tag}")
        .find(&key)
        .unwrap_or_else(|| panic!("{name} in {tag}"));
    let rest = &format!(" {tag}")[at + key.len()..];
    rest.split('"').next().unwrap().parse().unwrap()
}

/// FLAKY fails for good and NEXT is blocked behind it; the person
/// decides retry, and the second round succeeds.
fn failed_then_decided() -> Log {
    let mut log = Log::new(plan(vec![
        task("FLAKY", &[], 1.0),
        task("NEXT", &["FLAKY"], 1.0),
    ]));
    log.at(0, run(1))
        .attempt("FLAKY", 1, "coder", (1, 11), End::Retry("coder"))
        .attempt("FLAKY", 2, "coder", (20, 30), End::Fail)
        .at(
            31,
            Event::TaskBlocked {
                task: "NEXT".into(),
                by: "FLAKY".into(),
            },
        )
        .at(
            31,
            Event::EscalationRaised {
                id: 1,
                kind: EscalationKind::RetriesExhausted,
                message: "FLAKY failed after 2 attempts".into(),
                tasks: vec!["FLAKY".into()],
                options: vec!["retry".into(), "skip".into(), "abort".into()],
            },
        )
        .at(32, finished(MissionStatus::Failed));
    log
}

#[test]
fn a_failed_mission_reports_the_open_decision_and_its_risks() {
    let r = failed_then_decided().report(100);
    assert_eq!(r.status, MissionStatus::Failed);
    assert_eq!((r.outcome.failed, r.outcome.blocked), (1, 1));
    assert_eq!(
        r.outcome.headline,
        "Failed: 0 of 2 tasks done; 1 failed, 1 blocked."
    );
    assert!(r.escalations[0].open);
    let lesson = &r.lessons[0];
    assert!(!lesson.resolved);
    assert_eq!(
        lesson.resolution,
        "not resolved: failed after 2 attempts; escalation #1 waits for a decision"
    );
    let md = report::markdown(&r, Audience::Executive);
    for line in [
        "- 1 task failed: FLAKY.",
        "- 1 task blocked behind failed work: NEXT.",
        "- Decide escalation #1 (retries-exhausted): FLAKY failed after 2 attempts. Options: retry, skip, abort. Recommended: reassign to another agent if the log shows the task is beyond this one; retry if the cause was outside the task.",
    ] {
        assert!(md.lines().any(|l| l == line), "no line {line:?} in:\n{md}");
    }
    assert!(md.len() < 2_000, "an executive summary is short:\n{md}");
}

#[test]
fn a_decision_that_brought_the_task_in_is_its_resolution() {
    let mut log = failed_then_decided();
    log.at(
        40,
        Event::EscalationResolved {
            id: 1,
            decision: Decision::Retry,
            by: "cli:ana".into(),
            note: Some("fixed the fixture".into()),
            request: None,
        },
    )
    .at(
        40,
        Event::TaskReopened {
            task: "FLAKY".into(),
            agent: None,
        },
    )
    .at(
        40,
        Event::TaskReopened {
            task: "NEXT".into(),
            agent: None,
        },
    )
    .at(41, run(2))
    .attempt("FLAKY", 3, "coder", (42, 50), End::Done)
    .attempt("NEXT", 1, "coder", (51, 60), End::Done)
    .at(
        61,
        Event::DoneChecked {
            item: 0,
            passed: true,
            exit_code: Some(0),
            log: "runs/demo-1/done-1.output.log".into(),
        },
    )
    .at(62, finished(MissionStatus::Succeeded));
    let r = log.report(100);
    assert_eq!(r.timeline.runs, 2);
    assert_eq!(
        r.timeline.finished_at,
        Some(ts(62)),
        "the last finish counts"
    );
    assert!(!r.escalations[0].open);
    assert_eq!(
        r.lessons[0].resolution,
        "succeeded on attempt 3 (coder); escalation #1: cli:ana decided retry (\"fixed the fixture\")"
    );
    let md = report::markdown(&r, Audience::Engineering);
    assert!(
        md.contains(
            "Decided: retry by cli:ana at 2025-06-15 15:07:20 UTC (\"fixed the fixture\")."
        ),
        "{md}"
    );
}

#[test]
fn a_running_mission_is_reported_as_of_now_with_its_forecast() {
    let mut log = Log::new(plan(vec![
        task("SPEC", &[], 1.0),
        task("API", &["SPEC"], 2.0),
    ]));
    log.at(0, run(1))
        .attempt("SPEC", 1, "coder", (10, 70), End::Done)
        .at(
            71,
            Event::AttemptQueued {
                task: "API".into(),
                attempt: 1,
                agent: "coder".into(),
                executor: "command".into(),
                dir: "runs/demo-1/API.1".into(),
            },
        )
        .at(
            71,
            Event::AttemptStarted {
                task: "API".into(),
                attempt: 1,
            },
        );
    let r = report::build(Inputs {
        mission: "demo-1",
        state: &log.state,
        records: &log.records,
        now: ts(130),
        forecast: Some(Forecast {
            p50: ts(3 * 3600),
            p90: ts(11 * 3600),
        }),
    });
    assert_eq!(r.status, MissionStatus::Running);
    assert_eq!(r.timeline.finished_at, None);
    assert_eq!(r.timeline.elapsed_ms, 120_000, "from the start to now");
    let running = r.attempts.last().unwrap();
    assert_eq!(
        (running.result, running.end),
        (AttemptResult::Running, ts(130))
    );
    assert_eq!(r.outcome.headline, "Running: 1 of 2 tasks done so far.");
    let md = report::markdown(&r, Audience::Executive);
    assert!(
        md.contains("the P90 forecast 2025-06-16 02:06:40 UTC is 1 h after it."),
        "{md}"
    );
    assert!(md.contains("Forecast: half the outcomes finish by"), "{md}");
    assert!(
        md.contains("- Deadline 2025-06-16 01:06:40 UTC: 9 h 57 min left;"),
        "a forecast past the deadline is a risk:\n{md}"
    );
}

#[test]
fn a_mission_that_never_ran_has_no_charts_but_a_plan() {
    let log = Log::new(plan(vec![task("SPEC", &[], 1.5)]));
    let r = log.report(60);
    assert_eq!(r.outcome.headline, "Not started: 1 task.");
    assert_eq!(r.timeline.planned.hours, 1.5);
    let html = report::html(&r, Audience::Engineering);
    assert!(!html.contains("<svg class=\"chart gantt"));
    assert!(!html.contains("<svg class=\"chart burnup"));
    let md = report::markdown(&r, Audience::Engineering);
    assert!(
        md.contains("Not started (recorded 2025-06-15 15:06:40 UTC); the plan takes 1 h 30 min."),
        "{md}"
    );
}

#[test]
fn json_holds_the_whole_report() {
    let r = succeeded_mission().report(5_000);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["status"], "succeeded");
    assert_eq!(json["attempts"].as_array().unwrap().len(), 6);
    assert_eq!(json["lessons"][0]["task"], "API");
    assert_eq!(json["done"][1]["state"], "to_confirm");
    assert_eq!(json["timeline"]["forecast"], serde_json::Value::Null);
}

#[test]
fn an_aborted_mission_says_who_stopped_it() {
    let mut log = Log::new(plan(vec![
        task("FLAKY", &[], 1.0),
        task("NEXT", &["FLAKY"], 1.0),
    ]));
    log.at(0, run(1))
        .attempt("FLAKY", 1, "coder", (1, 11), End::Fail)
        .at(
            12,
            Event::EscalationRaised {
                id: 1,
                kind: EscalationKind::FailureRate,
                message: "too many failures".into(),
                tasks: vec!["FLAKY".into()],
                options: vec!["retry".into(), "abort".into()],
            },
        )
        .at(
            12,
            Event::DispatchPaused {
                reason: "failure rate".into(),
            },
        )
        .at(
            20,
            Event::EscalationResolved {
                id: 1,
                decision: Decision::Abort,
                by: "cli:ana".into(),
                note: None,
                request: None,
            },
        )
        .at(21, finished(MissionStatus::Aborted));
    let r = log.report(100);
    assert_eq!(r.status, MissionStatus::Aborted);
    assert_eq!(r.timeline.finished_at, Some(ts(21)));
    assert_eq!(
        r.outcome.headline,
        "Aborted by decision: 0 of 2 tasks done; 1 failed."
    );
    assert!(!r.escalations[0].open);
    assert_eq!(
        r.lessons[0].resolution,
        "not resolved: failed after 1 attempt; escalation #1: cli:ana decided abort"
    );
    let md = report::markdown(&r, Audience::Executive);
    assert!(md.starts_with("# demo: aborted\n"), "{md}");
    assert!(
        md.contains("Deadline 2025-06-16 01:06:40 UTC: the mission finished as aborted 9 h 59 min before it."),
        "{md}"
    );
}
