//! History in planning: the figures per agent and kind, assignment that
//! leans on them, the history risks, and similar past missions.

use super::support::{Log, failed, ok, plan, retry, t};
use jiff::Timestamp;
use techlead_core::agents::{Library, Scope};
use techlead_core::history::similar::{Query, similar};
use techlead_core::history::{History, PastMission, TaskKind};
use techlead_core::plan::blueprint::{Blueprint, blueprint};
use techlead_core::plan::risk::{Level, RiskKind};
use techlead_core::spec;
use techlead_core::state::{Event, MissionStatus, NextStep};

fn now() -> Timestamp {
    "2026-01-05T09:00:00Z".parse().unwrap()
}

fn finished(log: &mut Log, status: MissionStatus) -> &mut Log {
    log.push(Event::MissionFinished { status })
}

/// Three fix missions: `alpha` failed each of its fixes (its backup
/// `beta` fixed them), every fix took 3× its estimate.
fn fixes() -> Vec<PastMission> {
    (1..=3)
        .map(|n| {
            let mut log = Log::new(plan(
                "fixes",
                "Repair the checkout",
                &[t("F", "Fix the checkout crash", "alpha", Some(1.0))],
                false,
            ));
            log.attempt("F", 1, "alpha", 60, failed("panic"), retry("beta"))
                .attempt("F", 2, "beta", 180, ok(), NextStep::Done);
            finished(&mut log, MissionStatus::Succeeded);
            PastMission::new(&format!("fixes-{n}"), &log.state())
        })
        .collect()
}

fn library() -> Library {
    let agent = |name: &str| {
        (
            format!("{name}.md"),
            Scope::Explicit,
            format!(
                "---\nname: {name}\ndescription: Fixes bugs in Python services.\n---\nYou fix bugs.\n"
            ),
        )
    };
    Library::from_texts(vec![agent("alpha"), agent("beta")])
}

fn planned(mission: &str, history: &History) -> Blueprint {
    let mission = spec::parse(mission).mission.expect("a mission");
    blueprint(mission, &library(), history, now()).unwrap()
}

#[test]
fn stats_add_up_per_agent_and_kind_without_rehearsals() {
    let mut missions = fixes();
    let mut rehearsal = Log::new(plan(
        "r",
        "",
        &[t("F", "Fix it", "alpha", Some(1.0))],
        false,
    ));
    rehearsal.attempt_on("F", 1, "alpha", "simulate", 10, ok(), NextStep::Done);
    missions.push(PastMission::new("r-1", &rehearsal.state()));
    let history = History::new(missions);
    let alpha = history.agent("alpha", Some(TaskKind::Fix)).unwrap();
    assert_eq!((alpha.tasks, alpha.succeeded, alpha.attempts), (3, 0, 3));
    assert_eq!(alpha.success_rate(), Some(0.0));
    assert_eq!(alpha.duration_ratio, None, "it made nothing succeed");
    let beta = history.agent("beta", None).unwrap();
    assert_eq!((beta.tasks, beta.succeeded, beta.retries), (3, 3, 0));
    assert_eq!(beta.duration_ratio, Some(3.0));
    assert_eq!(history.estimate_ratio(TaskKind::Fix), Some((4.0, 3)));
    assert!(history.agent("alpha", Some(TaskKind::Test)).is_none());
}

#[test]
fn a_ranked_task_goes_to_the_agent_that_succeeds_at_its_kind() {
    let mission =
        "mission:\n  name: next\ntasks:\n  - {id: F, title: Fix the crash in the Python service}\n";
    let without = planned(mission, &History::default());
    assert_eq!(without.steps[0].agent, "alpha", "equal texts: by name");
    assert!(!without.steps[0].why.contains("history"));
    let with = planned(mission, &History::new(fixes()));
    assert_eq!(with.steps[0].agent, "beta");
    assert!(
        with.steps[0]
            .why
            .contains("history: succeeded 3 of 3 past fix tasks"),
        "{}",
        with.steps[0].why
    );
}

#[test]
fn an_agent_that_fails_at_a_kind_and_drifting_estimates_are_risks() {
    let mission = "mission:\n  name: next\ntasks:\n  - {id: F, title: Fix the login crash, agent: alpha, estimate: 2}\n  - {id: D, title: Write the docs, agent: beta, estimate: 1}\n";
    let plan = planned(mission, &History::new(fixes()));
    let low = plan
        .risks
        .iter()
        .find(|r| r.kind == RiskKind::LowSuccess)
        .expect("a low-success risk");
    assert_eq!(low.level, Level::High, "F is on the critical path");
    assert_eq!(low.tasks, ["F"]);
    assert!(low.message.contains("succeeded on 0 of 3 past fix tasks"));
    assert!(low.mitigation.contains("`beta` (succeeded on 3 of 3"));
    let drift = plan
        .risks
        .iter()
        .find(|r| r.kind == RiskKind::EstimateDrift)
        .expect("an estimate-drift risk");
    assert_eq!(drift.tasks, ["F"], "docs have no history");
    assert!(drift.message.contains("4.0×"), "{}", drift.message);
    let none = planned(mission, &History::default());
    assert!(none.risks.iter().all(|r| !matches!(
        r.kind,
        RiskKind::LowSuccess | RiskKind::EstimateDrift | RiskKind::BusyElsewhere
    )));
}

#[test]
fn work_held_by_missions_under_way_makes_an_agent_busy_elsewhere() {
    let mut running = Log::new(plan(
        "other",
        "",
        &[
            t("X", "Add search", "beta", Some(5.0)),
            t("Y", "Add filters", "beta", None),
        ],
        false,
    ));
    running.attempt("X", 1, "beta", 1, ok(), NextStep::Done);
    let mut missions = vec![PastMission::new("other-1", &running.state())];
    let mut done = Log::new(plan(
        "old",
        "",
        &[t("Z", "Add export", "beta", Some(9.0))],
        false,
    ));
    done.attempt("Z", 1, "beta", 1, ok(), NextStep::Done);
    finished(&mut done, MissionStatus::Succeeded);
    missions.push(PastMission::new("old-1", &done.state()));
    let history = History::new(missions);
    let commitments = history.commitments();
    assert_eq!(commitments.len(), 1, "finished missions hold nobody");
    assert_eq!((commitments[0].tasks, commitments[0].hours), (1, 1.0));
    let plan = planned(
        "mission:\n  name: next\n  deadline: 2026-01-05T09:30:00Z\ntasks:\n  - {id: A, title: Add paging, agent: beta, estimate: 1}\n",
        &history,
    );
    let busy = plan
        .risks
        .iter()
        .find(|r| r.kind == RiskKind::BusyElsewhere)
        .expect("a busy-elsewhere risk");
    assert_eq!(busy.agent.as_deref(), Some("beta"));
    assert_eq!(busy.level, Level::High, "2 h of work in half an hour");
    assert!(busy.message.contains("other-1"), "{}", busy.message);
}

#[test]
fn similar_missions_come_with_their_lessons() {
    let mut booking = Log::new(plan(
        "booking",
        "Build a booking web app for teams",
        &[
            t("API", "Add the booking API", "alpha", Some(2.0)),
            t("UI", "Add the booking calendar page", "beta", Some(1.0)),
        ],
        false,
    ));
    booking
        .attempt("API", 1, "alpha", 60, ok(), NextStep::Done)
        .attempt(
            "UI",
            1,
            "beta",
            60,
            failed("npm test failed"),
            retry("beta"),
        )
        .attempt("UI", 2, "beta", 60, ok(), NextStep::Done);
    finished(&mut booking, MissionStatus::Succeeded);
    let mut missions = vec![PastMission::new("booking-1", &booking.state())];
    missions.extend(fixes());
    let query = Query {
        objective: "A booking app for teams, on the web",
        project_type: None,
        titles: vec!["Booking calendar", "Booking API"],
    };
    let found = similar(&query, &missions);
    assert_eq!(found.len(), 1, "{found:#?}");
    let booking = &found[0];
    assert_eq!(booking.mission, "booking-1");
    assert_eq!(
        booking.went_well,
        [
            "1 of 2 tasks succeeded at the first attempt (API)",
            "finished within the estimate: API"
        ]
    );
    assert_eq!(
        booking.went_wrong,
        [
            "UI (implement, beta): failed: npm test failed; succeeded after 2 attempts",
            "UI took 2.0× its estimate"
        ]
    );
}
