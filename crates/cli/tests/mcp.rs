//! `techlead mcp` end to end: a real mission runs a command task that
//! waits; an MCP client (rmcp's, over a child `techlead mcp` on stdio, as
//! an agent CLI would start it) calls every tool with the attempt's
//! environment, and the reports land in the store as the stdout protocol's
//! would. `ask_person` raises a `question` escalation, `techlead decide ...
//! answer` answers it, and the tool returns the answer.

use crate::support;

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use techlead_core::state::{EscalationKind, Event, Report};
use techlead_store::Store;
use techlead_store::sqlite::SqliteStore;

/// The attempt's environment, as the task's script saw it.
pub(crate) fn attempt_env(dir: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(dir.join("env.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("TECHLEAD_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn events(db: &Path, mission: &str) -> Vec<Event> {
    let store = SqliteStore::open(db).unwrap();
    let records = store.events(mission, 0).unwrap();
    records.into_iter().map(|r| r.event).collect()
}

fn reports(db: &Path, mission: &str) -> Vec<Report> {
    events(db, mission)
        .into_iter()
        .filter_map(|e| match e {
            Event::AttemptReported { task, report, .. } if task == "MAIN" => Some(report),
            _ => None,
        })
        .collect()
}

pub(crate) async fn call(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    tool: &str,
    arguments: Value,
) -> (bool, String) {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("");
    (result.is_error == Some(true), text)
}

type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

/// An MCP client of a `techlead mcp` child started with the attempt's
/// environment `env`, as an agent CLI starts it.
pub(crate) async fn client(root: &Path, env: &HashMap<String, String>) -> Client {
    serve(root, |cmd| {
        cmd.envs(env);
    })
    .await
}

/// `techlead mcp` with its attempt named by flags, its environment empty.
async fn client_by_flags(root: &Path, env: &HashMap<String, String>) -> Client {
    serve(root, |cmd| {
        for (flag, variable) in [
            ("--socket", "TECHLEAD_REPORT_SOCKET"),
            ("--db", "TECHLEAD_DB"),
            ("--mission", "TECHLEAD_MISSION"),
            ("--task", "TECHLEAD_TASK"),
            ("--attempt", "TECHLEAD_ATTEMPT"),
        ] {
            cmd.arg(flag).arg(&env[variable]);
        }
    })
    .await
}

/// `techlead mcp` in `root` with nothing inherited, named by `name`.
async fn serve(root: &Path, name: impl FnOnce(&mut tokio::process::Command)) -> Client {
    let transport = TokioChildProcess::new(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_techlead")).configure(|cmd| {
            cmd.arg("mcp").current_dir(root).env_clear();
            name(cmd);
        }),
    )
    .unwrap();
    ().serve(transport).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_reaches_the_store_and_ask_person_gets_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let db = root.join("techlead.db");
    let name = support::unique_name("mcp");
    // MAIN records its environment, then works until the test is done (or
    // its directory is gone: a failed test).
    let main = format!(
        "env > env.txt; while [ ! -e finish ] && [ -d '{}' ]; do sleep 0.05; done",
        root.display()
    );
    support::write_mission(
        root,
        &format!(
            "mission:\n  name: {name}\n  objective: report over MCP\n  defaults: {{executor: command}}\n\
             tasks:\n\
             \x20 - {{id: DEP, title: make the schema, command: [sh, -c, 'echo ::summary the schema is in db/schema.sql; echo ::decision use sqlite']}}\n\
             \x20 - {{id: MAIN, title: build on it, depends_on: DEP, command: [sh, -c, {main:?}]}}\n"
        ),
    );
    let run = support::Running::start(
        root,
        &[
            "run",
            "mission.yaml",
            "--db",
            db.to_str().unwrap(),
            "--json",
        ],
    );
    support::wait_until("MAIN to start", || root.join("env.txt").exists());
    support::wait_until("MAIN's environment", || {
        attempt_env(root).contains_key("TECHLEAD_REPORT_SOCKET")
    });
    let env = attempt_env(root);
    let mission = env["TECHLEAD_MISSION"].clone();
    assert_eq!(env["TECHLEAD_TASK"], "MAIN");
    assert_eq!(env["TECHLEAD_ATTEMPT"], "1");
    assert_eq!(Path::new(&env["TECHLEAD_DB"]), db);
    let socket = env["TECHLEAD_REPORT_SOCKET"].clone();
    assert!(
        socket.ends_with(&format!("/runs/{mission}/report.sock")),
        "{socket}"
    );

    let client = client(root, &env).await;
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ask_person",
            "publish_artifact",
            "read_handoff",
            "record_decision",
            "report_blocker",
            "report_progress",
            "set_summary"
        ]
    );

    let ok = |(error, text): (bool, String)| {
        assert!(!error, "{text}");
        text
    };
    ok(call(
        &client,
        "report_progress",
        json!({"percent": 40, "message": "wiring\nthe API"}),
    )
    .await);
    ok(call(&client, "record_decision", json!({"text": "use axum"})).await);
    ok(call(&client, "publish_artifact", json!({"path": "out/api.md"})).await);
    let blocked = ok(call(
        &client,
        "report_blocker",
        json!({"reason": "need the API key", "parts": ["get a key", "wire the\nclient"]}),
    )
    .await);
    assert!(blocked.contains("2 parts proposed"), "{blocked}");
    // Progress after a blocker says the agent went on (else the attempt
    // would count as blocked).
    ok(call(
        &client,
        "report_progress",
        json!({"percent": 90, "message": "found it"}),
    )
    .await);
    ok(call(&client, "set_summary", json!({"text": "the API is wired"})).await);
    let (error, text) = call(&client, "set_summary", json!({"text": "  "})).await;
    assert!(error && text.contains("empty"), "{text}");

    let handoff = ok(call(&client, "read_handoff", json!({"task": "DEP"})).await);
    assert!(
        handoff.contains("the schema is in db/schema.sql"),
        "{handoff}"
    );
    assert!(handoff.contains("use sqlite"), "{handoff}");
    let (error, text) = call(&client, "read_handoff", json!({"task": "NOPE"})).await;
    assert!(error && text.contains("DEP, MAIN"), "{text}");

    support::wait_until("the reports in the store", || {
        reports(&db, &mission).len() >= 6
    });
    assert_eq!(
        reports(&db, &mission),
        [
            Report::Decision("use axum".into()),
            Report::Artifact("out/api.md".into()),
            Report::Split("get a key".into()),
            Report::Split("wire the client".into()),
            Report::Blocked("need the API key".into()),
            Report::Summary("the API is wired".into()),
        ]
    );
    assert!(events(&db, &mission).iter().any(|e| matches!(
        e,
        Event::AttemptProgress { task, percent: Some(40), message, .. }
            if task == "MAIN" && message == "wiring the API"
    )));

    // Started by hand, outside the attempt, named by flags: its reports
    // still reach the attempt.
    let by_hand = client_by_flags(root, &env).await;
    ok(call(
        &by_hand,
        "report_progress",
        json!({"percent": 95, "message": "by hand"}),
    )
    .await);
    support::wait_until("the report of the server started by hand", || {
        events(&db, &mission).iter().any(|e| {
            matches!(
                e,
                Event::AttemptProgress { task, percent: Some(95), message, .. }
                    if task == "MAIN" && message == "by hand"
            )
        })
    });
    by_hand.cancel().await.unwrap();

    // ask_person waits for the person; the attempt keeps running.
    let asking = tokio::spawn(async move {
        let answer = call(
            &client,
            "ask_person",
            json!({"question": "staging or prod?"}),
        )
        .await;
        (answer, client)
    });
    let escalation = {
        let db = db.clone();
        let mission = mission.clone();
        tokio::task::spawn_blocking(move || {
            let mut found = None;
            support::wait_until("the question escalation", || {
                found = events(&db, &mission).into_iter().find_map(|e| match e {
                    Event::EscalationRaised {
                        id,
                        kind: EscalationKind::Question,
                        tasks,
                        message,
                        options,
                    } => {
                        assert_eq!(tasks, ["MAIN"]);
                        assert_eq!(options, ["answer", "abort"]);
                        assert!(message.ends_with("asks: staging or prod?"), "{message}");
                        Some(id)
                    }
                    _ => None,
                });
                found.is_some()
            });
            found.unwrap()
        })
        .await
        .unwrap()
    };
    assert!(!asking.is_finished(), "the tool waits for the answer");
    let escalation = escalation.to_string();
    let decided = tokio::task::spawn_blocking({
        let root = root.to_path_buf();
        let db = db.clone();
        let mission = mission.clone();
        move || {
            // A question takes an answer, not a retry.
            support::run_to_end(
                &root,
                &[
                    "decide",
                    &mission,
                    &escalation,
                    "retry",
                    "--db",
                    db.to_str().unwrap(),
                ],
            )
            .expect_code(1)
            .expect_stderr(&["answer"]);
            support::run_to_end(
                &root,
                &[
                    "decide",
                    &mission,
                    &escalation,
                    "answer",
                    "staging, always",
                    "--db",
                    db.to_str().unwrap(),
                ],
            )
            .expect_code(0);
        }
    });
    decided.await.unwrap();
    let ((error, answer), client) = asking.await.unwrap();
    assert!(!error, "{answer}");
    assert_eq!(answer, "staging, always");
    client.cancel().await.unwrap();

    // The attempt ends: it succeeds, and its socket is gone with it.
    std::fs::write(root.join("finish"), "").unwrap();
    let (code, _, stderr) = tokio::task::spawn_blocking(move || run.finish())
        .await
        .unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(!Path::new(&socket).exists());
}
