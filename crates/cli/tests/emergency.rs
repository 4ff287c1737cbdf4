//! Emergencies: `techlead run --emergency` takes the agents it needs from
//! the missions already running. Their non-critical attempts on those
//! agents are stopped, recorded as suspended and requeued without using a
//! retry; once the emergency is over they run again, and each task still
//! succeeds exactly once.

use crate::support;

use std::path::Path;
use support::Running;

fn log(dir: &Path) -> Vec<String> {
    support::lines_of(&dir.join("log"))
}

fn mission(dir: &Path, name: &str, priority: &str, tasks: &str) {
    // Agents of their own, so that each task runs on the agent it names.
    let agents = dir.join(".claude/agents");
    std::fs::create_dir_all(&agents).unwrap();
    for (agent, what) in [
        ("backend-dev", "Builds servers"),
        ("frontend-dev", "Builds pages"),
    ] {
        std::fs::write(
            agents.join(format!("{agent}.md")),
            format!("---\nname: {agent}\ndescription: {what}\n---\nYou build things.\n"),
        )
        .unwrap();
    }
    support::write_mission(
        dir,
        &format!(
            "mission:\n  name: {name}\n  objective: emergency\n{priority}  defaults: {{executor: command, retries: 0}}\ntasks:\n{tasks}"
        ),
    );
}

#[test]
fn an_emergency_suspends_shared_work_elsewhere_which_resumes_after_it() {
    emergency(Declared::Flag);
}

#[test]
fn a_critical_mission_is_an_emergency_without_the_flag() {
    emergency(Declared::Priority);
}

/// How the second mission says it is an emergency.
enum Declared {
    Flag,
    Priority,
}

fn emergency(declared: Declared) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let running = support::unique_name("feature");
    let urgent = support::unique_name("hotfix");
    // SLOW says when it starts and when it is stopped, and waits for `go`.
    let slow = r#"trap 'echo "SLOW stopped $TECHLEAD_ATTEMPT" >> ../log; exit 143' TERM; echo "SLOW started $TECHLEAD_ATTEMPT" >> ../log; while [ ! -e ../go ]; do sleep 0.02; done; echo "SLOW done $TECHLEAD_ATTEMPT" >> ../log"#;
    let other = r#"echo "OTHER started $TECHLEAD_ATTEMPT" >> ../log; while [ ! -e ../go ]; do sleep 0.02; done"#;
    mission(
        &dir.path().join("feature"),
        &running,
        "",
        &format!(
            "  - {{id: SLOW, title: slow work, agent: backend-dev, command: [sh, -c, {slow:?}]}}\n\
             \x20 - {{id: OTHER, title: other work, agent: frontend-dev, command: [sh, -c, {other:?}]}}\n"
        ),
    );
    // FIX needs the backend agent to itself: it waits until SLOW stopped.
    let fix = r#"while ! grep -q 'SLOW stopped' ../log; do sleep 0.02; done; echo FIX >> ../log"#;
    mission(
        &dir.path().join("hotfix"),
        &urgent,
        match declared {
            Declared::Flag => "",
            Declared::Priority => "  priority: critical\n",
        },
        &format!(
            "  - {{id: FIX, title: fix production, agent: backend-dev, command: [sh, -c, {fix:?}]}}\n"
        ),
    );

    let mut feature = Running::start(
        &dir.path().join("feature"),
        &["run", "mission.yaml", "--json", "--db", db],
    );
    support::wait_until("SLOW and OTHER to start", || {
        let log = log(dir.path());
        log.contains(&"SLOW started 1".to_string()) && log.contains(&"OTHER started 1".to_string())
    });

    let hotfix = support::run_to_end(
        &dir.path().join("hotfix"),
        &match declared {
            Declared::Flag => vec!["run", "mission.yaml", "--emergency", "--db", db],
            Declared::Priority => vec!["run", "mission.yaml", "--db", db],
        },
    );
    hotfix
        .expect_code(0)
        .expect_stderr(&["emergency: its first task started", "ms after techlead did"]);
    feature.wait_for(|e| {
        support::event_type(e) == "attempt_started"
            && e["event"]["task"] == "SLOW"
            && e["event"]["attempt"] == 2
    });
    std::fs::write(dir.path().join("go"), "").unwrap();
    let (code, events, stderr) = feature.finish();
    assert_eq!(code, 0, "{stderr}");

    let kinds: Vec<serde_json::Value> = events
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let position = |want: &dyn Fn(&serde_json::Value) -> bool| {
        kinds
            .iter()
            .position(want)
            .unwrap_or_else(|| panic!("missing event in {events:#?}"))
    };
    let preempted = position(&|e| support::event_type(e) == "preempted");
    assert_eq!(kinds[preempted]["event"]["by"], format!("{urgent}-1"));
    let suspended = position(&|e| {
        support::event_type(e) == "attempt_finished"
            && e["event"]["task"] == "SLOW"
            && e["event"]["outcome"]["kind"] == "suspended"
    });
    let ended = position(&|e| support::event_type(e) == "preemption_ended");
    assert!(preempted < suspended && suspended < ended, "{events:#?}");
    let lines = log(dir.path());
    let at = |line: &str| {
        lines
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no `{line}` in {lines:?}"))
    };
    assert!(
        at("SLOW stopped 1") < at("FIX") && at("FIX") < at("SLOW started 2"),
        "{lines:?}"
    );
    assert!(!lines.contains(&"SLOW done 1".to_string()), "{lines:?}");
    // Work on other agents went on; the suspension used no retry.
    let id = format!("{running}-1");
    let status = support::status(&dir.path().join("feature"), Path::new(db), &id);
    assert_eq!(
        support::outcomes(support::task(&status, "OTHER")),
        [Some("succeeded".into())]
    );
    assert_eq!(
        support::outcomes(support::task(&status, "SLOW")),
        [Some("suspended".into()), Some("succeeded".into())]
    );
}
