//! The templates of `plan::template`: tasks, estimates, dependencies,
//! gates and the usual agent for each kind of project. Gates are `make`
//! targets: the one command a person is most likely to have or to add.

use super::template::{PhaseTemplate, TaskTemplate, Template};
use crate::priority::Priority::{Critical, High, Low, Medium};

const fn task(
    id: &'static str,
    title: &'static str,
    description: &'static str,
    agent: &'static str,
    priority: crate::priority::Priority,
    hours: f64,
    depends_on: &'static [&'static str],
) -> TaskTemplate {
    TaskTemplate {
        id,
        title,
        description,
        agent,
        priority,
        hours,
        depends_on,
    }
}

pub(super) static WEB_APP: Template = Template {
    phases: &[
        PhaseTemplate {
            name: "Design",
            gates: &[],
            tasks: &[
                task(
                    "SPEC",
                    "Write the product specification and user flows",
                    "Pages, user flows and acceptance criteria for each flow.",
                    "ui-ux-designer",
                    High,
                    3.0,
                    &[],
                ),
                task(
                    "ARCH",
                    "Design the architecture, data model and API contract",
                    "Components, data model and the contract between the UI and the API.",
                    "backend-architect",
                    High,
                    3.0,
                    &["SPEC"],
                ),
            ],
        },
        PhaseTemplate {
            name: "Build",
            gates: &["make test"],
            tasks: &[
                task(
                    "DB",
                    "Implement the database schema and migrations",
                    "Tables, indexes and reversible migrations for the data model.",
                    "database-architect",
                    Medium,
                    4.0,
                    &[],
                ),
                task(
                    "API",
                    "Implement the backend API",
                    "The endpoints of the contract, with validation and tests.",
                    "backend-architect",
                    High,
                    8.0,
                    &["DB"],
                ),
                task(
                    "UI",
                    "Build the user interface",
                    "The pages and components of the user flows, responsive and accessible.",
                    "frontend-developer",
                    High,
                    10.0,
                    &[],
                ),
                task(
                    "AUTH",
                    "Add sign-up, login and access control",
                    "Sessions or tokens, password reset, and who may see what.",
                    "backend-architect",
                    High,
                    5.0,
                    &["API"],
                ),
            ],
        },
        PhaseTemplate {
            name: "Ship",
            gates: &["make lint", "make test"],
            tasks: &[
                task(
                    "E2E",
                    "Write end-to-end tests of the main user flows",
                    "Browser tests that walk through every flow of the specification.",
                    "test-automator",
                    High,
                    5.0,
                    &[],
                ),
                task(
                    "SECURITY",
                    "Review security and performance",
                    "OWASP top ten, secrets, slow queries and page weight.",
                    "security-auditor",
                    Medium,
                    3.0,
                    &[],
                ),
                task(
                    "DEPLOY",
                    "Set up CI/CD and deploy to staging",
                    "A pipeline that tests, builds and deploys on every merge.",
                    "deployment-engineer",
                    High,
                    3.0,
                    &["E2E", "SECURITY"],
                ),
                task(
                    "DOCS",
                    "Write the README and the user guide",
                    "How to run, configure and use the app.",
                    "docs-architect",
                    Low,
                    2.0,
                    &[],
                ),
            ],
        },
    ],
    done: &[
        "Every user flow of the specification works end to end",
        "The app is deployed to staging by the pipeline",
    ],
};

pub(super) static SERVICE: Template = Template {
    phases: &[
        PhaseTemplate {
            name: "Design",
            gates: &[],
            tasks: &[
                task(
                    "CONTRACT",
                    "Write the API contract and error model",
                    "An OpenAPI description of every endpoint, its errors and examples.",
                    "backend-architect",
                    High,
                    3.0,
                    &[],
                ),
                task(
                    "DATA",
                    "Design the data model and migrations",
                    "Tables, indexes and reversible migrations behind the contract.",
                    "database-architect",
                    Medium,
                    3.0,
                    &["CONTRACT"],
                ),
            ],
        },
        PhaseTemplate {
            name: "Build",
            gates: &["make test"],
            tasks: &[
                task(
                    "ENDPOINTS",
                    "Implement the endpoints with validation",
                    "Every endpoint of the contract, validating input and returning its errors.",
                    "backend-architect",
                    High,
                    8.0,
                    &[],
                ),
                task(
                    "AUTH",
                    "Add authentication and rate limiting",
                    "API keys or tokens, scopes, and per-client limits.",
                    "security-auditor",
                    High,
                    4.0,
                    &[],
                ),
                task(
                    "TESTS",
                    "Write integration tests for every endpoint",
                    "Success and error cases of each endpoint against a real database.",
                    "test-automator",
                    High,
                    5.0,
                    &["ENDPOINTS"],
                ),
            ],
        },
        PhaseTemplate {
            name: "Harden",
            gates: &["make lint", "make test"],
            tasks: &[
                task(
                    "PERF",
                    "Load-test and tune the hot paths",
                    "A load test at the expected peak, and the fixes it calls for.",
                    "performance-engineer",
                    Medium,
                    4.0,
                    &[],
                ),
                task(
                    "DOCS",
                    "Publish the API reference with examples",
                    "Reference generated from the contract, and a getting-started guide.",
                    "api-documenter",
                    Low,
                    2.0,
                    &[],
                ),
                task(
                    "DEPLOY",
                    "Deploy with CI/CD, monitoring and alerts",
                    "A pipeline, dashboards for latency and errors, and alerts on them.",
                    "deployment-engineer",
                    High,
                    3.0,
                    &["PERF"],
                ),
            ],
        },
    ],
    done: &[
        "Every endpoint of the contract is implemented and tested",
        "The API reference is published",
    ],
};

pub(super) static INCIDENT: Template = Template {
    phases: &[
        PhaseTemplate {
            name: "Stabilise",
            gates: &[],
            tasks: &[
                task(
                    "TRIAGE",
                    "Triage: scope the impact and who is affected",
                    "What is broken, since when, for whom; open the incident record.",
                    "incident-responder",
                    Critical,
                    1.0,
                    &[],
                ),
                task(
                    "MITIGATE",
                    "Mitigate: roll back or fail over to stop the impact",
                    "The fastest safe way to stop the harm, before the root cause is known.",
                    "devops-troubleshooter",
                    Critical,
                    2.0,
                    &["TRIAGE"],
                ),
                task(
                    "COMMS",
                    "Tell users and stakeholders what is happening",
                    "A status update now and at each change, until resolved.",
                    "incident-responder",
                    High,
                    0.5,
                    &["TRIAGE"],
                ),
            ],
        },
        PhaseTemplate {
            name: "Fix",
            gates: &["make test"],
            tasks: &[
                task(
                    "ROOT-CAUSE",
                    "Find the root cause in logs, metrics and recent changes",
                    "The change or condition that caused the incident, with evidence.",
                    "debugger",
                    Critical,
                    3.0,
                    &[],
                ),
                task(
                    "FIX",
                    "Fix the root cause with a regression test",
                    "A fix reviewed and deployed, and a test that fails without it.",
                    "debugger",
                    Critical,
                    3.0,
                    &["ROOT-CAUSE"],
                ),
            ],
        },
        PhaseTemplate {
            name: "Learn",
            gates: &[],
            tasks: &[
                task(
                    "POSTMORTEM",
                    "Write the blameless postmortem with a timeline",
                    "Timeline, impact, root cause, what went well and what did not.",
                    "incident-responder",
                    Medium,
                    2.0,
                    &[],
                ),
                task(
                    "FOLLOW-UP",
                    "File the follow-ups: alerts, runbooks and tests",
                    "What would have caught it sooner or limited the harm.",
                    "devops-troubleshooter",
                    Low,
                    2.0,
                    &["POSTMORTEM"],
                ),
            ],
        },
    ],
    done: &[
        "The impact has stopped and the fix is in production",
        "The postmortem is written and its follow-ups are filed",
    ],
};

pub(super) static MIGRATION: Template = Template {
    phases: &[
        PhaseTemplate {
            name: "Assess",
            gates: &[],
            tasks: &[
                task(
                    "INVENTORY",
                    "Inventory everything that uses the old system",
                    "Callers, data, jobs and configuration that depend on it.",
                    "legacy-modernizer",
                    High,
                    3.0,
                    &[],
                ),
                task(
                    "PLAN",
                    "Write the migration plan with a rollback path",
                    "Steps in order, how each is verified, and how each is undone.",
                    "legacy-modernizer",
                    High,
                    2.0,
                    &["INVENTORY"],
                ),
                task(
                    "BASELINE",
                    "Capture a baseline: tests and metrics that must hold",
                    "Behaviour and performance numbers to compare against after.",
                    "test-automator",
                    Medium,
                    3.0,
                    &[],
                ),
            ],
        },
        PhaseTemplate {
            name: "Migrate",
            gates: &["make test"],
            tasks: &[
                task(
                    "DATA",
                    "Migrate the data and schema, backward compatible",
                    "Old and new code can both read and write during the move.",
                    "database-architect",
                    High,
                    6.0,
                    &[],
                ),
                task(
                    "CODE",
                    "Port the code to the new system",
                    "Every caller of the inventory moved, behind a switch.",
                    "legacy-modernizer",
                    High,
                    10.0,
                    &[],
                ),
                task(
                    "COMPAT",
                    "Run old and new side by side behind a feature flag",
                    "Adapters and a flag to move traffic in steps and back.",
                    "backend-architect",
                    Medium,
                    4.0,
                    &["CODE"],
                ),
            ],
        },
        PhaseTemplate {
            name: "Cut over",
            gates: &["make test"],
            tasks: &[
                task(
                    "VERIFY",
                    "Verify parity against the baseline",
                    "The baseline's tests pass and its numbers hold on the new system.",
                    "test-automator",
                    High,
                    3.0,
                    &[],
                ),
                task(
                    "CUTOVER",
                    "Cut over in production and watch it",
                    "Move all traffic, watch errors and latency, roll back if needed.",
                    "deployment-engineer",
                    Critical,
                    2.0,
                    &["VERIFY"],
                ),
                task(
                    "CLEANUP",
                    "Remove the old system once the new one is stable",
                    "Delete dead code, data and configuration after a quiet period.",
                    "legacy-modernizer",
                    Low,
                    2.0,
                    &["CUTOVER"],
                ),
            ],
        },
    ],
    done: &[
        "Everything in the inventory runs on the new system",
        "The old system is switched off",
    ],
};

pub(super) static GENERAL: Template = Template {
    phases: &[
        PhaseTemplate {
            name: "Plan",
            gates: &[],
            tasks: &[task(
                "DESIGN",
                "Design the approach and break down the work",
                "The options, the one chosen and why, and the steps.",
                "architect-review",
                High,
                2.0,
                &[],
            )],
        },
        PhaseTemplate {
            name: "Build",
            gates: &["make test"],
            tasks: &[
                task(
                    "BUILD",
                    "Implement the objective",
                    "The change itself, in small reviewed steps.",
                    "fullstack-developer",
                    High,
                    8.0,
                    &[],
                ),
                task(
                    "TESTS",
                    "Write the tests that prove it works",
                    "Tests of the behaviour the objective asks for.",
                    "test-automator",
                    Medium,
                    3.0,
                    &[],
                ),
            ],
        },
        PhaseTemplate {
            name: "Check",
            gates: &["make lint", "make test"],
            tasks: &[
                task(
                    "REVIEW",
                    "Review the change",
                    "Correctness, readability and risks of the whole change.",
                    "code-reviewer",
                    Medium,
                    2.0,
                    &[],
                ),
                task(
                    "DOCS",
                    "Document what changed",
                    "README, changelog and anything a user must know.",
                    "docs-architect",
                    Low,
                    1.0,
                    &[],
                ),
            ],
        },
    ],
    done: &["The objective is met and reviewed"],
};
