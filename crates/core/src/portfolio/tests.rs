//! The portfolio's arithmetic and risks over small folded missions whose
//! answers are worked out by hand.

use super::*;
use crate::plan::risk::Level;
use crate::state::{MissionPlan, TaskStatus};
use serde_json::json;

fn now() -> Timestamp {
    "2026-06-01T00:00:00Z".parse().unwrap()
}

/// A task: (id, agent, estimate hours, dependencies).
type Spec<'a> = (&'a str, &'a str, f64, &'a [&'a str]);

fn mission(tasks: &[Spec], deadline: Option<&str>, limits: &[(&str, u32)]) -> MissionState {
    let tasks: Vec<_> = tasks
        .iter()
        .map(|(id, agent, hours, deps)| {
            json!({
                "id": id, "title": id, "priority": "medium", "depends_on": deps,
                "agent": agent, "executor": "command", "timeout_ms": 1000,
                "retries": 0, "estimate_hours": hours,
            })
        })
        .collect();
    let plan: MissionPlan = serde_json::from_value(json!({
        "name": "demo", "source": "m.yaml", "source_hash": "0", "workdir": ".",
        "max_parallel": 4, "failure_threshold": 0.5, "backoff_ms": [],
        "phases": [], "tasks": tasks, "deadline": deadline,
        "agent_limits": limits,
    }))
    .unwrap();
    MissionState::new(plan, now()).unwrap()
}

fn agent<'a>(p: &'a Portfolio, name: &str) -> &'a Allocation {
    p.agents.iter().find(|a| a.agent == name).unwrap()
}

fn risk(p: &Portfolio, kind: PortfolioRiskKind) -> &PortfolioRisk {
    p.risks.iter().find(|r| r.kind == kind).unwrap()
}

fn risk_level(p: &Portfolio, kind: PortfolioRiskKind) -> Level {
    risk(p, kind).level
}

fn kinds(p: &Portfolio) -> Vec<(PortfolioRiskKind, &str, Level)> {
    p.risks
        .iter()
        .map(|r| (r.kind, r.agent.as_str(), r.level))
        .collect()
}

#[test]
fn without_deadlines_allocation_is_hours_over_slots_times_horizon() {
    let a = mission(
        &[("A", "dev", 40.0, &[]), ("B", "ops", 8.0, &[])],
        None,
        &[],
    );
    let b = mission(&[("X", "dev", 44.0, &[])], None, &[("dev", 2)]);
    let p = build(&[("a-1", &a), ("b-1", &b)], now(), Params::default());
    let dev = agent(&p, "dev");
    assert_eq!(dev.slots, 2, "the largest max_parallel recorded");
    assert_eq!((dev.tasks, dev.hours), (2, 84.0));
    // 84 h due within the week, against 2 × 168 h.
    assert_eq!(dev.percent, Some(25.0));
    assert!(!dev.over);
    assert_eq!(dev.mission_ids(), ["a-1", "b-1"]);
    let ops = agent(&p, "ops");
    assert_eq!(ops.slots, 1);
    assert!((ops.percent.unwrap() - 8.0 / 168.0 * 100.0).abs() < 1e-9);
    // Each mission's one dev task is its critical path; nobody is over.
    assert_eq!(
        kinds(&p),
        [(PortfolioRiskKind::SharedCriticalPath, "dev", Level::Medium)]
    );
}

#[test]
fn the_tightest_deadline_window_sets_the_allocation() {
    // Due in 10 h: 6 h of work (60 %). Due in 20 h: 6 + 12 = 18 h (90 %).
    // Without a deadline, at 168 h: 18 + 1 = 19 h. The 20 h window binds.
    let soon = mission(&[("A", "dev", 6.0, &[])], Some("2026-06-01T10:00:00Z"), &[]);
    let later = mission(
        &[("B", "dev", 12.0, &[])],
        Some("2026-06-01T20:00:00Z"),
        &[],
    );
    let open = mission(&[("C", "dev", 1.0, &[])], None, &[]);
    let p = build(
        &[("soon", &soon), ("later", &later), ("open", &open)],
        now(),
        Params::default(),
    );
    let dev = agent(&p, "dev");
    assert_eq!(dev.percent, Some(90.0));
    assert_eq!(
        (
            dev.window_hours,
            dev.window_work_hours,
            dev.window_capacity_hours
        ),
        (20.0, 18.0, 20.0)
    );
    assert!(!dev.over, "90 % is the threshold, not over it");

    let strict = Params {
        threshold: 80.0,
        ..Params::default()
    };
    let p = build(&[("soon", &soon), ("later", &later)], now(), strict);
    assert!(agent(&p, "dev").over);
    let risk = risk(&p, PortfolioRiskKind::OverAllocation);
    assert_eq!(
        risk.level,
        Level::Medium,
        "over the threshold, within 100 %"
    );
    // Over-allocated, its place on both critical paths weighs more.
    assert_eq!(
        risk_level(&p, PortfolioRiskKind::SharedCriticalPath),
        Level::High
    );
    assert!(risk.message.contains("90% of the 20 h"), "{}", risk.message);
}

#[test]
fn over_a_hundred_percent_is_high_and_a_passed_deadline_critical() {
    let a = mission(
        &[("A", "dev", 30.0, &[])],
        Some("2026-06-01T20:00:00Z"),
        &[],
    );
    let p = build(&[("a", &a)], now(), Params::default());
    assert_eq!(agent(&p, "dev").percent, Some(150.0));
    assert_eq!(
        kinds(&p),
        [(PortfolioRiskKind::OverAllocation, "dev", Level::High)]
    );

    let late = mission(&[("A", "dev", 1.0, &[])], Some("2026-05-31T00:00:00Z"), &[]);
    let p = build(&[("late", &late)], now(), Params::default());
    let dev = agent(&p, "dev");
    assert_eq!((dev.percent, dev.over), (None, true));
    assert_eq!(p.risks[0].level, Level::Critical);
}

#[test]
fn finished_work_and_finished_missions_hold_no_time() {
    let mut a = mission(
        &[
            ("A", "dev", 10.0, &[]),
            ("B", "dev", 4.0, &["A"]),
            ("C", "dev", 2.0, &[]),
        ],
        None,
        &[],
    );
    a.tasks[0].status = TaskStatus::Succeeded;
    // A running task keeps what its reported progress leaves.
    a.tasks[1].status = TaskStatus::Running;
    a.tasks[1].progress = Some((Some(25), "half way".into()));
    let mut done = mission(&[("X", "dev", 50.0, &[])], None, &[]);
    done.status = MissionStatus::Succeeded;
    let p = build(&[("a", &a), ("done", &done)], now(), Params::default());
    assert_eq!(p.missions.len(), 1);
    let dev = agent(&p, "dev");
    assert_eq!((dev.tasks, dev.hours), (2, 5.0));
    assert_eq!(p.missions[0].critical_path, ["B"]);
}

#[test]
fn an_agent_on_two_critical_paths_is_a_shared_risk() {
    // dev carries the long chain of both missions; qa only a short branch
    // of one, and ops the long chain of one.
    let a = mission(
        &[
            ("A1", "dev", 8.0, &[]),
            ("A2", "ops", 8.0, &["A1"]),
            ("A3", "qa", 1.0, &[]),
        ],
        None,
        &[],
    );
    let b = mission(
        &[("B1", "dev", 5.0, &[]), ("B2", "qa", 2.0, &[])],
        None,
        &[],
    );
    let p = build(&[("a", &a), ("b", &b)], now(), Params::default());
    assert_eq!(
        kinds(&p),
        [(PortfolioRiskKind::SharedCriticalPath, "dev", Level::Medium)]
    );
    let risk = &p.risks[0];
    assert_eq!(risk.tasks, ["a/A1", "b/B1"]);
    assert_eq!(risk.missions, ["a", "b"]);
    assert_eq!(p.missions[0].critical_path, ["A1", "A2"]);
    assert_eq!(p.missions[0].critical_hours, 16.0);
}

#[test]
fn deadlines_within_the_window_on_a_shared_agent_cluster() {
    let at = |h: &str| mission(&[("T", "dev", 1.0, &[])], Some(h), &[]);
    let (a, b, c) = (
        at("2026-06-03T00:00:00Z"),
        at("2026-06-03T20:00:00Z"),
        at("2026-06-05T00:00:00Z"),
    );
    let other = mission(&[("T", "ops", 1.0, &[])], Some("2026-06-03T01:00:00Z"), &[]);
    let p = build(
        &[("a", &a), ("b", &b), ("c", &c), ("other", &other)],
        now(),
        Params::default(),
    );
    let clusters: Vec<&PortfolioRisk> = p
        .risks
        .iter()
        .filter(|r| r.kind == PortfolioRiskKind::DeadlineCluster)
        .collect();
    assert_eq!(
        clusters.len(),
        1,
        "c is 48 h after a; other shares no agent"
    );
    assert_eq!(clusters[0].missions, ["a", "b"]);
    assert_eq!(clusters[0].tasks, ["a/T", "b/T"]);
    assert_eq!(clusters[0].level, Level::Medium);
}

#[test]
fn rehearsals_hold_no_agent() {
    let mut a = mission(&[("A", "dev", 100.0, &[])], None, &[]);
    a.plan.tasks[0].executor = "simulate".into();
    let p = build(&[("a", &a)], now(), Params::default());
    assert!(p.agents.is_empty());
    assert_eq!(p.missions[0].tasks, 0);
}

#[test]
fn missions_show_their_standing_and_what_they_wait_for_elsewhere() {
    let plan: MissionPlan = serde_json::from_value(json!({
        "name": "reports", "source": "m.yaml", "source_hash": "0", "workdir": ".",
        "max_parallel": 4, "failure_threshold": 0.5, "backoff_ms": [], "phases": [],
        "standing": {"priority": 10, "share": 2},
        "tasks": [{
            "id": "REPORT", "title": "report", "priority": "medium", "depends_on": [],
            "external": ["billing/API"], "agent": "dev", "executor": "command",
            "timeout_ms": 1000, "retries": 0,
        }],
    }))
    .unwrap();
    let reports = MissionState::new(plan, now()).unwrap();
    let plain = mission(&[("A", "dev", 1.0, &[])], None, &[]);
    let p = build(
        &[("reports-1", &reports), ("a-1", &plain)],
        now(),
        Params::default(),
    );
    let (reports, plain) = (&p.missions[0], &p.missions[1]);
    assert_eq!((reports.priority, reports.share), (10, 2));
    assert_eq!((plain.priority, plain.share), (0, 1));
    assert_eq!(reports.waits_for.len(), 1);
    assert_eq!(
        serde_json::to_value(&reports.waits_for[0]).unwrap(),
        json!({"task": "REPORT", "on": "billing/API", "state": "waiting"})
    );
    assert!(
        !serde_json::to_string(plain).unwrap().contains("waits_for"),
        "left out when empty"
    );
}
