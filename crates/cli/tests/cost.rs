//! `techlead cost`: the usage attempts reported, summed by task, agent
//! and model, every attempt counted (a failed one was paid for too).

use crate::support;

#[test]
fn cost_sums_what_every_attempt_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state").join("techlead.db");
    let name = support::unique_name("cost");
    // Each attempt reports 1,000 tokens in, 100 out and 2 cents; FLAKY
    // fails its first attempt, so it pays twice.
    let report = r#"printf '{"usage":{"input_tokens":1000,"output_tokens":100,"cost_usd":0.02,"model":"m-%s"}}' "$TECHLEAD_TASK" > "$TECHLEAD_RESULT""#;
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  objective: spend\n  defaults: {{executor: command, backoff: [10ms]}}\n\
             tasks:\n\
             \x20 - {{id: CHEAP, title: once, command: [sh, -c, {report:?}]}}\n\
             \x20 - {{id: FLAKY, title: twice, retries: 1, command: [sh, -c, {flaky:?}]}}\n",
            flaky = format!("{report}; [ \"$TECHLEAD_ATTEMPT\" = 2 ]")
        ),
    );
    let db = db.to_str().unwrap();
    support::run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]).expect_code(0);

    let out = support::run_to_end(dir.path(), &["cost", "--db", db, "--json"]);
    out.expect_code(0);
    let json = out.json();
    assert_eq!(json["total"]["attempts"], 3);
    assert_eq!(json["total"]["input_tokens"], 3000);
    assert_eq!(json["total"]["output_tokens"], 300);
    let cost = json["total"]["cost_usd"].as_f64().unwrap();
    assert!((cost - 0.06).abs() < 1e-9, "{cost}");
    let by_task = json["by_task"].as_array().unwrap();
    assert_eq!(by_task[0]["name"], "FLAKY", "most expensive first");
    assert_eq!(by_task[0]["attempts"], 2);
    let models: Vec<&str> = json["by_model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["m-FLAKY", "m-CHEAP"]);

    let table = support::run_to_end(dir.path(), &["cost", "--db", db, "--by", "agent"]);
    table.expect_code(0);
    assert!(
        table.stdout.contains("$0.06 spent over 3 attempts"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("AGENT"), "{}", table.stdout);
}
