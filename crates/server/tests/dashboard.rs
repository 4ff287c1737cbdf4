//! The dashboard in a real headless Chromium, driven over WebDriver
//! (chromedriver, through `fantoccini`), while the real engine runs a
//! mission of ten tasks in a real git repository: the page signs in with
//! the address `techlead serve` prints, shows the tasks' states and
//! follows them live as the mission moves (no reload) until an escalation
//! pauses it, follows a running attempt's log, shows a task's diff, and
//! answers the escalations from the page: a retry that the run carries out
//! at once, then a skip that lets the mission finish.
//!
//! Without chromedriver the test says it skipped, unless
//! `TECHLEAD_REQUIRE_BROWSER=1` (CI), where that is a failure. With
//! `TECHLEAD_SCREENSHOTS=<dir>` it saves what the browser showed.

use crate::support;
use crate::support::demo;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Fixture, HANG_GUARD, Served};
use techlead_engine::executor::command::CommandExecutor;
use techlead_engine::mission::{Mission, Settings, observer};

/// Where Debian puts them; otherwise found on PATH.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

fn on_path(name: &str, usual: &str) -> Option<PathBuf> {
    if Path::new(usual).exists() {
        return Some(usual.into());
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.exists())
}

/// chromedriver and a browser session in a fresh profile; ended on drop,
/// browser included: chromedriver runs in a process group of its own, and
/// the whole group is killed, so that no Chromium outlives the test.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(group) = rustix::process::Pid::from_raw(self.driver.id() as i32) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.driver.wait();
    }
}

async fn browser() -> Option<Browser> {
    let Some(driver_path) = on_path("chromedriver", CHROMEDRIVER) else {
        if std::env::var("TECHLEAD_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!(
                "chromedriver is not installed and TECHLEAD_REQUIRE_BROWSER=1: apt-get install chromium chromium-driver"
            );
        }
        eprintln!("skipped: no chromedriver (apt-get install chromium chromium-driver)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Command::new(driver_path)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().unwrap();
    let mut options = json!({
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--window-size=1440,1000",
            format!("--user-data-dir={}", profile.path().display()),
        ],
    });
    if let Some(chromium) = on_path("chromium", CHROMIUM) {
        options["binary"] = json!(chromium);
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    let url = format!("http://127.0.0.1:{port}");
    // chromedriver listens a moment after it starts.
    let deadline = Instant::now() + HANG_GUARD;
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => break client,
            Err(e) if Instant::now() > deadline => panic!("no WebDriver session: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    Some(Browser {
        client,
        driver,
        _profile: profile,
    })
}

/// Evaluates `script` (a function body) in the page.
async fn eval(client: &Client, script: &str) -> Value {
    client
        .execute(script, vec![])
        .await
        .expect("the script runs")
}

/// Waits until `script` returns something truthy, and returns it.
async fn until(client: &Client, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        let value = eval(client, script).await;
        let truthy = !matches!(&value, Value::Null | Value::Bool(false))
            && value != json!("")
            && value != json!(0);
        if truthy {
            return value;
        }
        if Instant::now() > deadline {
            let body = eval(client, "return document.body.innerText").await;
            panic!(
                "timed out waiting for {what}; the page says:\n{}",
                body.as_str().unwrap_or("")
            );
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// A script's expression for the status the graph shows for `task`.
fn status_of(task: &str) -> String {
    format!("return document.querySelector('.node[data-task=\"{task}\"]')?.dataset.status")
}

async fn screenshot(client: &Client, name: &str) {
    let Some(dir) = std::env::var_os("TECHLEAD_SCREENSHOTS") else {
        return;
    };
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(Path::new(&dir).join(format!("{name}.png")), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_follows_a_running_mission_and_answers_its_escalation() {
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    let fixture = Fixture::new();
    let demo = demo::demo(&fixture);
    let id = fixture.create(&demo.plan);
    let served = Served::start(&fixture.db()).await;
    let settings = Settings {
        data_dir: fixture.dir.path().to_path_buf(),
        executors: vec![Arc::new(
            CommandExecutor::new().with_grace(Duration::from_millis(200)),
        )],
        gate_grace: Duration::from_millis(200),
        workers: None,
    };
    let mut mission =
        Mission::open(fixture.store(), &id, settings, observer(|_, _, _| {})).unwrap();
    // As `techlead run --wait-for-decisions`: the run waits for the
    // person's answers instead of stopping.
    mission.await_decisions(true);
    let run = tokio::spawn(mission.run());

    sign_in(client, &served, &id).await;
    let address = client.current_url().await.unwrap();
    assert_eq!(address.fragment(), Some("/"), "the token left the address");
    client
        .find(Locator::Css(&format!("tr[data-mission=\"{id}\"] a")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // Everything from here arrives through the feed, on the same page.
    until(
        client,
        "the graph",
        "return document.querySelector('.node')",
    )
    .await;
    eval(client, "window.samePage = true; return true").await;
    // The graph shows the states as the mission reaches them: API-2
    // fails, which raises an escalation, while UI-2 runs (it waits for the
    // release file) and E2E-1, which needs both, is blocked.
    for (task, status) in [
        ("SPEC-1", "succeeded"),
        ("UI-2", "running"),
        ("API-2", "failed"),
        ("E2E-1", "blocked"),
    ] {
        until(
            client,
            &format!("{task} {status}"),
            &format!("{} === '{status}'", status_of(task)),
        )
        .await;
    }
    until(
        client,
        "the escalation",
        "return document.querySelector('.escalation.open button[data-action=\"retry\"]')",
    )
    .await;
    let message = eval(
        client,
        "return document.querySelector('.escalation.open .message').textContent",
    )
    .await;
    assert!(message.as_str().unwrap().contains("API-2"), "{message}");
    // The critical path runs through the unfinished work only.
    let critical = eval(client, "return [...document.querySelectorAll('.node.crit')].map(n => [n.dataset.task, n.dataset.status])").await;
    let critical = critical.as_array().unwrap();
    assert!(!critical.is_empty());
    assert!(
        critical
            .iter()
            .all(|c| !["succeeded", "failed", "blocked"].contains(&c[1].as_str().unwrap())),
        "{critical:?}"
    );
    // Its swim lanes: a lane per agent of the plan.
    let lanes = eval(
        client,
        "return [...document.querySelectorAll('.lane-name')].map(t => t.textContent)",
    )
    .await;
    assert_eq!(
        lanes,
        json!(["architect", "backend", "devops", "frontend", "qa", "writer"])
    );

    // The running attempt's log, followed as it grows.
    client
        .find(Locator::Css(".node[data-task=\"UI-2\"]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(client, "UI-2's log", "return document.querySelector('pre.log')?.textContent.includes('first pass of the layout')").await;
    screenshot(client, "1-escalation").await;

    assert_eq!(
        eval(client, "return window.samePage === true").await,
        true,
        "no reload"
    );

    // A task's diff, as a review shows it.
    client
        .goto(&format!("{}/#/m/{id}/t/DB-1/diff", served.base))
        .await
        .unwrap();
    until(client, "DB-1's diff", "return [...document.querySelectorAll('.diff-file header')].map(h => h.textContent).join(' | ').includes('migrations/001.sql')").await;
    let added = eval(
        client,
        "return [...document.querySelectorAll('tr.ln.add td.code')].map(td => td.textContent)",
    )
    .await;
    assert!(
        added.as_array().unwrap().contains(&json!("    2")),
        "{added}"
    );
    screenshot(client, "3-diff").await;

    // The escalation's answer: the person fixed the test database, and
    // the button asks for another round; the run carries it out, live.
    client
        .goto(&format!("{}/#/m/{id}/t/API-2", served.base))
        .await
        .unwrap();
    let api2 = until(
        client,
        "API-2's escalation",
        "return [...document.querySelectorAll('.escalation.open')].find(e => e.querySelector('.message').textContent.startsWith('API-2 failed'))?.dataset.escalation",
    )
    .await;
    let api2 = api2.as_str().unwrap().to_string();
    std::fs::write(&demo.fixed, "").unwrap();
    click(
        client,
        &format!(".escalation[data-escalation=\"{api2}\"] button[data-action=\"retry\"]"),
    )
    .await;
    let state = until(
        client,
        "the decision carried out",
        &format!("return document.querySelector('.escalation[data-escalation=\"{api2}\"] .decision')?.dataset.state === 'applied'"),
    )
    .await;
    assert_eq!(state, true);
    until(
        client,
        "API-2 succeeded",
        &format!("{} === 'succeeded'", status_of("API-2")),
    )
    .await;
    screenshot(client, "4-decision").await;
    let inbox = techlead_store::Store::decisions(&fixture.store(), &id, false).unwrap();
    assert_eq!(inbox.len(), 1, "one decision in the mission's inbox");
    assert!(inbox[0].applied_seq.is_some(), "{inbox:?}");

    // UI-2 finishes; the person goes on without OPS-1, and the rest of the
    // mission runs to its end.
    std::fs::write(&demo.release, "").unwrap();
    let ops1 = until(
        client,
        "OPS-1's escalation",
        "return [...document.querySelectorAll('.escalation.open')].find(e => e.querySelector('.message').textContent.startsWith('OPS-1 failed'))?.dataset.escalation",
    )
    .await;
    let ops1 = ops1.as_str().unwrap().to_string();
    click(
        client,
        &format!(".escalation[data-escalation=\"{ops1}\"] button[data-action=\"skip\"]"),
    )
    .await;
    until(
        client,
        "REL-1 succeeded",
        &format!("{} === 'succeeded'", status_of("REL-1")),
    )
    .await;
    until(
        client,
        "OPS-1 skipped",
        &format!("{} === 'skipped'", status_of("OPS-1")),
    )
    .await;
    let status = tokio::time::timeout(HANG_GUARD, run)
        .await
        .expect("the run ends")
        .unwrap()
        .unwrap();
    assert_eq!(status, techlead_core::state::MissionStatus::Succeeded);
    served.stop().await;
}

/// Signs in as the printed address does (the token in its fragment, which
/// the page trades for the cookie and takes out of the address) and waits
/// for mission `id` in the list.
async fn sign_in(client: &Client, served: &Served, id: &str) {
    client
        .goto(&format!("{}/#token={}", served.base, served.token))
        .await
        .unwrap();
    until(
        client,
        "the mission in the list",
        &format!("return document.querySelector('tr[data-mission=\"{id}\"] a')"),
    )
    .await;
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// The mission list's portfolio panel: a bar per agent, the one past the
/// threshold highlighted, the missions in the order they are served, and
/// the portfolio's risks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mission_list_shows_each_agents_allocation() {
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    let fixture = Fixture::new();
    // `builder` owes 100 h to each of two missions within the 168 h
    // horizon, on one slot (119 %); `writer` owes 2 h (1 %). B's mission
    // goes first for the shared slot (priority 10).
    for (id, agent, hours, priority) in [
        ("A", "builder", 100.0, 0),
        ("B", "builder", 100.0, 10),
        ("C", "writer", 2.0, 0),
    ] {
        let mut t = support::task(id, &[], "true");
        t.agent = agent.into();
        t.detail.estimate_hours = Some(hours);
        let mut plan = fixture.plan(vec![t]);
        plan.standing.priority = priority;
        fixture.create(&plan);
    }
    let served = Served::start(&fixture.db()).await;
    client
        .goto(&format!("{}/#token={}", served.base, served.token))
        .await
        .unwrap();
    let over = until(
        client,
        "builder's allocation, highlighted",
        "return document.querySelector('.alloc-row.over[data-agent=\"builder\"]')?.textContent",
    )
    .await;
    assert!(over.as_str().unwrap().contains("119%"), "{over}");
    let writer = eval(
        client,
        "const row = document.querySelector('.alloc-row[data-agent=\"writer\"]'); \
         return [row.classList.contains('over'), row.textContent]",
    )
    .await;
    assert_eq!(writer[0], false, "{writer}");
    assert!(writer[1].as_str().unwrap().contains("1%"), "{writer}");
    let risks = eval(
        client,
        "return [...document.querySelectorAll('.alloc-risks li')].map(li => li.textContent)",
    )
    .await;
    let risks = risks.as_array().unwrap();
    assert!(
        risks
            .iter()
            .any(|r| r.as_str().unwrap().starts_with("high · over-allocation")),
        "{risks:?}"
    );
    let missions = eval(
        client,
        "return [...document.querySelectorAll('.portfolio-missions li')].map(li => li.textContent)",
    )
    .await;
    let missions = missions.as_array().unwrap();
    assert_eq!(missions.len(), 3, "{missions:?}");
    let first = missions[0].as_str().unwrap();
    assert!(
        first.contains("priority 10 · share 1") && first.contains("1 task, 100 h left"),
        "{missions:?}"
    );
    assert!(
        missions[1].as_str().unwrap().contains("priority 0"),
        "{missions:?}"
    );
    screenshot(client, "portfolio").await;
    served.stop().await;
}

/// A task that waits for another mission's task says which, and where it
/// stands, in its panel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_panel_names_the_other_missions_task_it_waits_for() {
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    let fixture = Fixture::new();
    let mut report = support::task("REPORT", &["SPEC"], "true");
    report.detail.external = vec![
        techlead_core::state::ExternalDependency::parse("billing/API")
            .unwrap()
            .unwrap(),
    ];
    let id = fixture.create(&fixture.plan(vec![support::task("SPEC", &[], "true"), report]));
    let served = Served::start(&fixture.db()).await;
    sign_in(client, &served, &id).await;
    client
        .goto(&format!("{}/#/m/{id}/t/REPORT", served.base))
        .await
        .unwrap();
    let waits = until(
        client,
        "what REPORT waits for",
        "const dt = [...document.querySelectorAll('.facts dt')].find(d => d.textContent === 'waits for'); \
         return dt?.nextElementSibling.textContent",
    )
    .await;
    assert_eq!(waits, json!("SPEC, billing/API (waiting)"));
    let empty = until(
        client,
        "why no attempt yet",
        "return document.querySelector('.empty')?.textContent",
    )
    .await;
    assert_eq!(
        empty,
        json!("No attempt yet: the task waits for SPEC, billing/API.")
    );
    served.stop().await;
}
