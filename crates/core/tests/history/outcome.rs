//! `history::outcomes`: each task's outcome, derived from a folded log.

use super::support::{Log, failed, ok, plan, retry, t};
use techlead_core::history::outcome::Resolution;
use techlead_core::history::{TaskKind, outcomes};
use techlead_core::state::{NextStep, TaskStatus};

#[test]
fn a_first_time_success_has_no_problems() {
    let mut log = Log::new(plan(
        "m",
        "",
        &[t("A", "Add the login page", "frontend", Some(2.0))],
        false,
    ));
    log.costing(0.5)
        .attempt("A", 1, "frontend", 90, ok(), NextStep::Done);
    let [a] = outcomes("m-1", &log.state()).try_into().unwrap();
    assert_eq!(a.mission, "m-1");
    assert_eq!(a.kind, TaskKind::Implement);
    assert_eq!(a.agent, "frontend");
    assert!(a.succeeded && a.settled());
    assert_eq!((a.attempts, a.failures), (1, 0));
    assert_eq!(a.duration_ms, 90 * 60_000);
    assert_eq!(a.duration_ratio(), Some(0.75));
    assert_eq!((a.cost_usd, a.tokens), (0.5, 150));
    assert!(a.problems.is_empty());
    assert_eq!(a.resolution, None);
    assert_eq!(a.first_gate_passed, None);
    assert!(!a.simulated);
}

#[test]
fn a_backup_that_succeeds_after_failures_is_a_reassignment() {
    let mut log = Log::new(plan(
        "m",
        "",
        &[t("A", "Fix the checkout crash", "junior", Some(1.0))],
        false,
    ));
    log.attempt(
        "A",
        1,
        "junior",
        30,
        failed("panic at cart.rs:10"),
        retry("junior"),
    )
    .attempt(
        "A",
        2,
        "junior",
        30,
        failed("still panics"),
        retry("senior"),
    )
    .attempt("A", 3, "senior", 60, ok(), NextStep::Done);
    let [a] = outcomes("m-1", &log.state()).try_into().unwrap();
    assert_eq!(a.kind, TaskKind::Fix);
    assert_eq!(a.agent, "senior");
    assert_eq!((a.attempts, a.failures), (3, 2));
    assert_eq!(a.duration_ratio(), Some(2.0));
    let parts: Vec<_> = a
        .agents
        .iter()
        .map(|p| {
            (
                p.agent.as_str(),
                p.attempts,
                p.failures,
                p.succeeded,
                p.settled,
            )
        })
        .collect();
    assert_eq!(
        parts,
        [("junior", 2, 2, false, true), ("senior", 1, 0, true, true)]
    );
    assert_eq!(a.problems.len(), 2);
    assert_eq!(a.problems[0].what, "failed: panic at cart.rs:10");
    assert_eq!(
        a.resolution,
        Some(Resolution::Reassigned {
            agent: "senior".into()
        })
    );
}

#[test]
fn gate_rejections_count_as_failures_and_the_first_verdict_is_kept() {
    let mut log = Log::new(plan(
        "m",
        "",
        &[t("A", "Write tests for the API", "qa", Some(1.0))],
        true,
    ));
    log.attempt("A", 1, "qa", 10, ok(), NextStep::Check)
        .gate("A", 1, false, Some(retry("qa")))
        .attempt("A", 2, "qa", 10, ok(), NextStep::Check)
        .gate("A", 2, true, None)
        .accept("A");
    let [a] = outcomes("m-1", &log.state()).try_into().unwrap();
    assert_eq!(a.kind, TaskKind::Test);
    assert_eq!((a.attempts, a.failures), (2, 1));
    assert_eq!(a.first_gate_passed, Some(false));
    assert_eq!(a.agents[0].first_gate_passed, Some(false));
    assert_eq!(a.problems[0].what, "rejected by tests");
    assert_eq!(a.resolution, Some(Resolution::Retried { attempts: 2 }));
}

#[test]
fn a_task_that_failed_is_unresolved_and_one_still_running_is_not_settled() {
    let mut log = Log::new(plan(
        "m",
        "",
        &[
            t("A", "Deploy to staging", "ops", None),
            t("B", "Research caching", "ops", None),
        ],
        false,
    ));
    log.attempt("A", 1, "ops", 5, failed("no credentials"), NextStep::Fail);
    log.push(techlead_core::state::Event::AttemptQueued {
        task: "B".into(),
        attempt: 1,
        agent: "ops".into(),
        executor: "simulate".into(),
        dir: "runs/B.1".into(),
    });
    let [a, b] = outcomes("m-1", &log.state()).try_into().unwrap();
    assert_eq!(a.status, TaskStatus::Failed);
    assert_eq!(a.resolution, Some(Resolution::Unresolved));
    assert_eq!(a.duration_ratio(), None, "no estimate, no ratio");
    assert!(a.agents[0].settled && !a.agents[0].succeeded);
    assert!(!b.settled());
    assert!(!b.agents[0].settled);
    assert_eq!(b.attempts, 0, "an attempt without an end has no verdict");
    assert!(b.simulated);
}

#[test]
fn an_explicit_kind_wins_over_the_title() {
    let mut plan = plan("m", "", &[t("A", "Add the login page", "fe", None)], false);
    plan.tasks[0].kind = Some(TaskKind::Review);
    let log = Log::new(plan);
    assert_eq!(outcomes("m-1", &log.state())[0].kind, TaskKind::Review);
}
