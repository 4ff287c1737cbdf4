//! `techlead report` end to end: a real mission of real commands with a
//! retry, a backup agent, a task that fails for good (an escalation and a
//! blocked dependent) and a hostile title, run into a real SQLite file;
//! then the report as Markdown for engineers and executives, as HTML
//! (well-formed, one Gantt bar per attempt, no markup from titles), as
//! JSON, written to a file, after the person's decision, and for a
//! mission that does not exist.

use crate::support;

use quick_xml::events::Event;
use std::path::Path;

const HOSTILE: &str = "<script>alert(1)</script> & co";

/// `coder` and `rescuer` agents in the project's library, a mission whose
/// tasks are shell commands: SPEC reports a cost; FLAKY fails its first
/// attempt; RESCUED fails on `coder` and succeeds on its backup
/// `rescuer`; BROKEN fails until the file `fixed` exists, and AFTER waits
/// for it.
fn mission(dir: &Path, name: &str) {
    let agents = dir.join(".claude").join("agents");
    std::fs::create_dir_all(&agents).unwrap();
    for agent in ["coder", "rescuer"] {
        std::fs::write(
            agents.join(format!("{agent}.md")),
            format!("---\nname: {agent}\ndescription: {agent} writes code\n---\nYou write code.\n"),
        )
        .unwrap();
    }
    let cost = r#"printf '{"usage":{"input_tokens":1000,"output_tokens":100,"cost_usd":0.25}}' > "$TECHLEAD_RESULT""#;
    let flaky = r#"[ "$TECHLEAD_ATTEMPT" != 1 ] || { echo 'connection reset' >&2; exit 1; }"#;
    let rescued = r#"[ "$TECHLEAD_AGENT" = rescuer ] || { echo 'cannot do it' >&2; exit 1; }"#;
    let broken = r#"test -f fixed || { echo 'tests failed' >&2; exit 1; }"#;
    support::write_mission(
        dir,
        &format!(
            "mission:\n  name: {name}\n  objective: report on it\n  deadline: 2099-01-01\n\
             \x20 defaults: {{executor: command, backoff: [10ms], retries: 1, max_parallel: 2}}\n\
             \x20 definition_of_done:\n    - The release notes are written\n\
             tasks:\n\
             \x20 - {{id: SPEC, title: write the spec, agent: coder, estimate: 1, command: [sh, -c, {cost:?}]}}\n\
             \x20 - {{id: FLAKY, title: flaky on its first try, agent: coder, estimate: 2, depends_on: [SPEC], command: [sh, -c, {flaky:?}]}}\n\
             \x20 - {{id: RESCUED, title: {HOSTILE:?}, agent: coder, backup: rescuer, retries: 0, estimate: 1, command: [sh, -c, {rescued:?}]}}\n\
             \x20 - {{id: BROKEN, title: broken until fixed, agent: coder, retries: 0, estimate: 1, command: [sh, -c, {broken:?}]}}\n\
             \x20 - {{id: AFTER, title: after the broken one, agent: coder, depends_on: [BROKEN], estimate: 1, command: [true]}}\n"
        ),
    );
}

fn report(dir: &Path, db: &str, args: &[&str]) -> support::Output {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--db", db]);
    support::run_to_end(dir, &all)
}

/// The failed mission of [`mission`], run; its ID.
fn failed_mission(dir: &Path, db: &str) -> String {
    let name = support::unique_name("report");
    mission(dir, &name);
    support::run_to_end(dir, &["run", "mission.yaml", "--db", db]).expect_code(1);
    format!("{name}-1")
}

#[test]
fn a_failed_mission_reports_its_lessons_risks_and_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let id = failed_mission(dir.path(), db);

    let out = report(dir.path(), db, &[&id]);
    out.expect_code(0);
    let md = &out.stdout;
    let name = name_of(&id);
    for line in [
        format!("# Mission report: {name} (`{id}`)"),
        "**Failed: 3 of 5 tasks done; 1 failed, 1 blocked.**".to_string(),
        "- 1 task failed: BROKEN.".to_string(),
        "- 1 task blocked behind failed work: AFTER.".to_string(),
        "  - Resolved: succeeded on attempt 2 (coder).".to_string(),
        "  - Resolved: the backup agent rescuer took over and succeeded on attempt 2.".to_string(),
        "  - Open: not resolved: failed after 1 attempt; escalation #1 waits for a decision."
            .to_string(),
        "- [ ] The release notes are written: to confirm".to_string(),
    ] {
        assert!(md.lines().any(|l| l == line), "no line {line:?} in:\n{md}");
    }
    assert!(
        md.contains(
            "| RESCUED | \\<script\\>alert(1)\\</script\\> \\& co | rescuer | succeeded | 2 |"
        ),
        "{md}"
    );
    assert!(
        md.contains(&format!("`runs/{id}/FLAKY.1.output.log`")),
        "{md}"
    );
    assert!(
        md.contains("$0.25 over 6 attempts (1000 tokens in, 100 out); no budget set."),
        "{md}"
    );

    let executive = report(dir.path(), db, &[&id, "--audience", "executive"]);
    executive.expect_code(0);
    let text = &executive.stdout;
    assert!(
        text.starts_with(&format!("# {}: failed\n", name_of(&id))),
        "{text}"
    );
    assert!(
        text.contains("- Decide escalation #1 (retries-exhausted): "),
        "{text}"
    );
    assert!(
        text.contains("Deadline 2099-01-01 23:59:59 UTC: the mission finished as failed"),
        "{text}"
    );
    assert!(
        !text.contains("## Attempts"),
        "executives get no tables:\n{text}"
    );
}

/// The mission's name, from its ID `name-N`.
fn name_of(id: &str) -> &str {
    id.rsplit_once('-').unwrap().0
}

#[test]
fn the_html_page_is_well_formed_and_charts_every_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let id = failed_mission(dir.path(), db);

    let file = dir.path().join("out").join("report.html");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let out = report(
        dir.path(),
        db,
        &[&id, "--format", "html", "--output", file.to_str().unwrap()],
    );
    out.expect_code(0).expect_stderr(&["wrote the report of"]);
    assert_eq!(out.stdout, "", "the page goes to the file only");
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    let page = parse(&html);
    // SPEC 1, FLAKY 2, RESCUED 2, BROKEN 1, AFTER none.
    assert_eq!(page.attempt_bars, 6, "one bar per attempt");
    assert_eq!(page.failed_bars, 3);
    assert_eq!(page.svgs, 3, "Gantt, burn-up, cost");
    assert!(page.texts.iter().any(|t| t == HOSTILE), "the title as text");
    assert!(
        !page.elements.iter().any(|e| e == "script"),
        "no script at all"
    );
    assert_eq!(html.matches("http://").count(), 3, "only the SVG namespace");
    assert!(!html.contains("https://"), "nothing fetched");
    in_a_browser(&file, page.attempt_bars);
}

/// Chromium, where Debian puts it or on PATH.
fn chromium() -> Option<std::path::PathBuf> {
    let usual = Path::new("/usr/bin/chromium");
    if usual.exists() {
        return Some(usual.into());
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join("chromium"))
        .find(|p| p.exists())
}

/// The page in headless Chromium: it loads with nothing on the console,
/// and the browser's own parse has every bar. Skipped without Chromium,
/// unless `TECHLEAD_REQUIRE_BROWSER=1` (CI), where that is a failure.
fn in_a_browser(file: &Path, bars: usize) {
    let Some(chromium) = chromium() else {
        assert_ne!(
            std::env::var("TECHLEAD_REQUIRE_BROWSER").as_deref(),
            Ok("1"),
            "TECHLEAD_REQUIRE_BROWSER=1 and no chromium"
        );
        eprintln!("skipped the browser check: no chromium");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(chromium);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        &format!("--user-data-dir={}", profile.path().display()),
        "--dump-dom",
        &format!("file://{}", file.display()),
    ]);
    let out = support::output_of(command);
    out.expect_code(0);
    // Every console message is logged as `INFO:CONSOLE`.
    assert!(!out.stderr.contains(":CONSOLE"), "{}", out.stderr);
    let dom = &out.stdout;
    assert!(dom.contains("</html>"), "{dom}");
    assert_eq!(dom.matches("<rect class=\"attempt ").count(), bars);
}

/// What a strict XML parser found in a page that must be well-formed.
struct Page {
    elements: Vec<String>,
    texts: Vec<String>,
    svgs: usize,
    attempt_bars: usize,
    failed_bars: usize,
}

fn parse(html: &str) -> Page {
    let mut reader = quick_xml::Reader::from_str(html);
    let mut page = Page {
        elements: Vec::new(),
        texts: Vec::new(),
        svgs: 0,
        attempt_bars: 0,
        failed_bars: 0,
    };
    let mut open: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed at {}: {e}", reader.buffer_position()));
        match event {
            Event::Start(ref tag) | Event::Empty(ref tag) => {
                let name = tag.name().as_ref().to_string();
                let class = tag
                    .try_get_attribute("class")
                    .unwrap()
                    .map(|a| a.value.to_string())
                    .unwrap_or_default();
                page.svgs += usize::from(name == "svg");
                if name == "rect" && class.starts_with("attempt ") {
                    page.attempt_bars += 1;
                    page.failed_bars += usize::from(class == "attempt failed");
                }
                if matches!(event, Event::Start(_)) {
                    open.push(name.clone());
                }
                page.elements.push(name);
                page.texts.push(std::mem::take(&mut text));
            }
            Event::End(tag) => {
                let name = tag.name().as_ref().to_string();
                assert_eq!(open.pop().as_deref(), Some(name.as_str()), "unbalanced");
                page.texts.push(std::mem::take(&mut text));
            }
            Event::Text(t) => text.push_str(&t),
            Event::GeneralRef(r) => {
                let name: &str = &r;
                let known = ["amp", "lt", "gt", "quot", "apos"];
                let c = match name {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => r
                        .resolve_char_ref()
                        .unwrap()
                        .unwrap_or_else(|| panic!("&{name}; is not an XML entity ({known:?})")),
                };
                text.push(c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty(), "left open: {open:?}");
    page
}

#[test]
fn json_and_a_decided_mission_and_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let id = failed_mission(dir.path(), db);

    // The person fixes it and retries; the mission succeeds.
    std::fs::write(dir.path().join("fixed"), "").unwrap();
    support::run_to_end(
        dir.path(),
        &[
            "decide",
            &id,
            "1",
            "retry",
            "--note",
            "fixed it",
            "--no-wait",
            "--db",
            db,
        ],
    )
    .expect_code(0);
    support::run_to_end(dir.path(), &["resume", &id, "--db", db]).expect_code(0);

    let out = report(dir.path(), db, &[&id, "--format", "json"]);
    out.expect_code(0);
    let json = out.json();
    assert_eq!(json["status"], "succeeded");
    assert_eq!(json["timeline"]["runs"], 2);
    assert_eq!(json["attempts"].as_array().unwrap().len(), 8);
    let broken = json["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["task"] == "BROKEN")
        .unwrap();
    assert_eq!(broken["resolved"], true);
    let resolution = broken["resolution"].as_str().unwrap();
    assert!(
        resolution.contains("decided retry (\"fixed it\")"),
        "{resolution}"
    );

    let unknown = report(dir.path(), db, &["no-such-mission"]);
    unknown.expect_code(2).expect_stderr(&[
        "no mission `no-such-mission`",
        &format!("missions in this database, newest first: {id}"),
    ]);
    let near = report(dir.path(), db, &[&id[..id.len() - 1]]);
    near.expect_code(2)
        .expect_stderr(&[&format!("did you mean `{id}`?")]);
}
