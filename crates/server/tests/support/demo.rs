//! A mission as a person would watch one, for the dashboard's tests: ten
//! command tasks in a real git repository, in layers of dependencies,
//! writing code (so they have diffs) and logs with progress lines. `OPS-1`
//! fails at once and `API-2` once `UI-2` runs; the failure threshold is
//! low, so the second failure raises an escalation while `UI-2` still
//! runs: it waits until the test creates the `release` file. The failed
//! tasks' dependents are blocked. Once the `fixed` file exists, `API-2`
//! succeeds (the person fixed the test database and asked for a retry).

use crate::support::{Fixture, task};
use std::path::{Path, PathBuf};
use std::process::Command;
use techlead_core::state::{MergeStrategy, MissionPlan, RepositoryPlan};

pub struct Demo {
    pub plan: MissionPlan,
    /// `UI-2` finishes once this file exists.
    #[allow(dead_code)] // only the browser's test releases it
    pub release: PathBuf,
    /// `API-2` succeeds once this file exists.
    #[allow(dead_code)]
    pub fixed: PathBuf,
}

fn git(repo: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", "person")
        .env("GIT_AUTHOR_EMAIL", "person@localhost")
        .env("GIT_COMMITTER_NAME", "person")
        .env("GIT_COMMITTER_EMAIL", "person@localhost")
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// A repository with one commit on `main`.
pub fn repository(fixture: &Fixture) -> PathBuf {
    let repo = fixture.path("repo");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "# shop\n\nA small shop.\n").unwrap();
    std::fs::write(
        repo.join("src/lib.rs"),
        "pub fn greet() -> &'static str {\n    \"hello\"\n}\n\npub fn version() -> u32 {\n    1\n}\n",
    )
    .unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "start"]);
    repo.canonicalize().unwrap()
}

pub fn demo(fixture: &Fixture) -> Demo {
    let repo = repository(fixture);
    let release = fixture.path("release");
    let fixed = fixture.path("fixed");
    let wait = format!(
        "while [ ! -e '{}' ]; do sleep 0.02; done",
        release.display()
    );
    // API-2 fails once UI-2 runs, so that the escalation (two failures)
    // pauses dispatch while UI-2 is at work, not before it started.
    let marker = fixture.path("ui-2-started");
    let started = format!("while [ ! -e '{}' ]; do sleep 0.02; done", marker.display());
    let step = |id: &str, agent: &str, title: &str, deps: &[&str], script: &str, hours: f64| {
        let mut t = task(id, deps, script);
        t.agent = agent.into();
        t.title = title.into();
        t.detail.estimate_hours = Some(hours);
        t
    };
    let tasks = vec![
        step(
            "SPEC-1",
            "architect",
            "Write the API spec",
            &[],
            "echo '::progress 50 outlining'; mkdir -p docs; printf '# API\\n\\nPOST /login\\nGET /session\\n' > docs/api.md; echo 'wrote docs/api.md'",
            2.0,
        ),
        step(
            "OPS-1",
            "devops",
            "CI pipeline",
            &[],
            "echo 'pulling the runner image'; echo 'error: the runner image ci:latest was not found' >&2; exit 1",
            1.0,
        ),
        step(
            "DB-1",
            "backend",
            "Schema migration",
            &["SPEC-1"],
            "mkdir -p migrations; printf 'CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\\n' > migrations/001.sql; sed -i 's/    1/    2/' src/lib.rs; echo '::progress 80 migrating'; echo 'migration 001 ready'",
            3.0,
        ),
        step(
            "API-1",
            "backend",
            "Login endpoint",
            &["DB-1"],
            "printf '\\npub fn login(user: &str) -> bool {\\n    !user.is_empty()\\n}\\n' >> src/lib.rs; echo 'login endpoint added'",
            4.0,
        ),
        step(
            "API-2",
            "backend",
            "Session store",
            &["DB-1"],
            &format!(
                "echo '::progress 30 connecting to the test database'; {started}; if [ -e '{}' ]; then echo 'session store ready'; exit 0; fi; echo 'error: cannot connect to the test database at 127.0.0.1:5432' >&2; exit 3",
                fixed.display()
            ),
            5.0,
        ),
        step(
            "UI-1",
            "frontend",
            "Login form",
            &["SPEC-1"],
            "mkdir -p web; printf '<form>\\n  <input name=user>\\n</form>\\n' > web/login.html; echo 'form drawn'",
            2.0,
        ),
        step(
            "UI-2",
            "frontend",
            "Dashboard page",
            &["UI-1"],
            &format!(
                "echo '::progress 40 laying out the page'; echo 'first pass of the layout'; touch '{}'; {wait}; printf '<main>dashboard</main>\\n' > web/index.html; echo 'page done'",
                marker.display()
            ),
            3.0,
        ),
        step(
            "DOC-1",
            "writer",
            "User guide",
            &["SPEC-1"],
            "printf '\\n## Signing in\\n\\nUse your name.\\n' >> README.md; echo 'guide written'",
            1.5,
        ),
        step(
            "E2E-1",
            "qa",
            "End-to-end tests",
            &["API-1", "API-2", "UI-2"],
            "echo 'all flows pass'",
            2.0,
        ),
        step(
            "REL-1",
            "writer",
            "Release notes",
            &["E2E-1", "DOC-1"],
            "printf 'v2: sign in\\n' > CHANGES; echo 'notes written'",
            0.5,
        ),
    ];
    let mut plan = fixture.plan(tasks);
    plan.objective = "Let people sign in to the shop".into();
    plan.workdir = repo.display().to_string();
    plan.failure_threshold = 0.05;
    plan.repository = Some(Box::new(RepositoryPlan {
        path: repo.display().to_string(),
        base: git(&repo, &["rev-parse", "HEAD"]),
        branch: Some("main".into()),
        merge: MergeStrategy::Merge,
        resolver: None,
        escalate_conflicts: false,
        wip_limit: 4,
    }));
    Demo {
        plan,
        release,
        fixed,
    }
}
