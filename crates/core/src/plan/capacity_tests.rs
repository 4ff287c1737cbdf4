use super::*;

const NOW: &str = "2026-01-05T09:00:00Z";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn work<'a>(
    task: &'a str,
    agent: &'a str,
    hours: f64,
    priority: Priority,
    depends_on: &'a [String],
) -> Work<'a> {
    Work {
        task,
        agent,
        hours,
        priority,
        depends_on,
        backup: None,
    }
}

#[test]
fn everything_fits_when_the_hours_do() {
    // Two days at 8 h a day: 16 h each.
    let plan = [
        work("A", "dev", 10.0, Priority::High, &[]),
        work("B", "qa", 16.0, Priority::Low, &[]),
    ];
    let capacity = check(
        &plan,
        at(NOW),
        at("2026-01-07T09:00:00Z"),
        &Availability::default(),
    );
    assert_eq!(capacity.days, 2.0);
    assert_eq!(capacity.agents[0].capacity, 16.0);
    assert!(capacity.options.is_none());
}

#[test]
fn over_allocation_offers_a_later_deadline_a_cut_and_a_backup() {
    let after_b = ["B".to_string()];
    let plan = [
        work("A", "dev", 8.0, Priority::Critical, &[]),
        work("B", "dev", 6.0, Priority::Low, &[]),
        work("C", "dev", 4.0, Priority::Medium, &after_b),
        work("D", "qa", 2.0, Priority::Medium, &[]),
    ];
    // One day: dev has 18 h for 8.
    let capacity = check(
        &plan,
        at(NOW),
        at("2026-01-06T09:00:00Z"),
        &Availability::default(),
    );
    let dev = &capacity.agents[0];
    assert_eq!(
        (dev.agent.as_str(), dev.hours, dev.capacity),
        ("dev", 18.0, 8.0)
    );
    assert!(dev.over());
    assert!(!capacity.agents[1].over());
    let options = capacity.options.unwrap();
    // 18 h at 8 h a day: 2.25 days = 54 h from now.
    assert_eq!(options.extend_to, at("2026-01-07T15:00:00Z"));
    // B is the lowest priority; C waits for it and goes too: 8 h left.
    let cut = options.cut.unwrap();
    assert_eq!(cut.tasks, ["B", "C"]);
    assert_eq!(cut.hours, 10.0);
    // 10 h to move; qa has 6 h spare, not enough: nobody in the plan.
    assert_eq!(options.backups.len(), 1);
    assert_eq!(options.backups[0].agent, "dev");
    assert_eq!(options.backups[0].tasks, ["B", "C"]);
    assert_eq!(options.backups[0].backup, None);
}

#[test]
fn a_named_backup_with_room_is_offered_and_critical_work_is_never_cut() {
    let mut plan = vec![
        work("A", "dev", 10.0, Priority::Critical, &[]),
        work("B", "dev", 2.0, Priority::High, &[]),
    ];
    plan[1].backup = Some("helper");
    let availability = Availability {
        default_hours_per_day: 8.0,
        agents: [("dev".to_string(), 4.0)].into(),
    };
    let capacity = check(&plan, at(NOW), at("2026-01-06T09:00:00Z"), &availability);
    let options = capacity.options.unwrap();
    // Dropping B leaves 10 h of critical work for 4 h: no cut fits.
    assert_eq!(options.cut, None);
    let backup = &options.backups[0];
    assert_eq!(backup.tasks, ["B", "A"]);
    // `helper` has no work in the plan: 8 h free, less than 12 h.
    assert_eq!(backup.backup, None);
    assert_eq!(options.extend_to, at("2026-01-08T09:00:00Z"));
}

#[test]
fn a_passed_deadline_leaves_no_capacity() {
    let plan = [work("A", "dev", 4.0, Priority::Medium, &[])];
    let capacity = check(
        &plan,
        at(NOW),
        at("2026-01-01T00:00:00Z"),
        &Availability::default(),
    );
    assert_eq!(capacity.days, 0.0);
    assert_eq!(
        capacity.options.unwrap().extend_to,
        at("2026-01-05T21:00:00Z")
    );
}

#[test]
fn a_low_task_that_high_ones_wait_for_is_cut_after_plain_medium_work() {
    let after_a = ["A".to_string()];
    let plan = [
        work("A", "dev", 2.0, Priority::Low, &[]),
        work("B", "dev", 6.0, Priority::High, &after_a),
        work("C", "dev", 3.0, Priority::Medium, &[]),
    ];
    // One day at 8 h: 11 h of work, 3 h too many.
    let capacity = check(
        &plan,
        at(NOW),
        at("2026-01-06T09:00:00Z"),
        &Availability::default(),
    );
    let cut = capacity.options.unwrap().cut.unwrap();
    assert_eq!(cut.tasks, ["C"]);
}
