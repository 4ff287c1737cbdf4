use super::*;
use crate::agents::Scope;

fn library() -> Library {
    let agent = |name: &str, description: &str| {
        (
            format!("{name}.md"),
            Scope::Explicit,
            format!("---\nname: {name}\ndescription: {description}\n---\nYou are {name}.\n"),
        )
    };
    Library::from_texts([
        agent(
            "backend-developer",
            "Builds server-side APIs, databases and services.",
        ),
        agent(
            "frontend-developer",
            "Builds React user interfaces and pages.",
        ),
    ])
}

const MISSION: &str =
    "mission:\n  name: x\ntasks:\n  - id: API\n    title: Build the API\n    agent: backend-dev\n";

#[test]
fn fences_and_introductions_are_stripped() {
    let answer = format!("Here is the plan:\n\n```yaml\n{MISSION}```\n\nGood luck!");
    let draft = extract(&answer);
    assert_eq!(draft.text, MISSION);
    assert_eq!(draft.repairs, ["stripped Markdown code fences"]);

    let draft = extract(&format!("Sure! The mission:\n{MISSION}"));
    assert_eq!(draft.text, MISSION);
    assert_eq!(draft.repairs, ["dropped the text before the mission"]);

    let draft = extract(MISSION);
    assert_eq!(draft.text, MISSION);
    assert!(draft.repairs.is_empty());
}

#[test]
fn a_fence_without_a_mission_is_skipped_and_an_unclosed_one_is_taken() {
    let answer = format!("```sh\nmake test\n```\n```\n{MISSION}");
    let draft = extract(&answer);
    assert_eq!(draft.text, MISSION);
}

#[test]
fn check_reports_what_validate_reports() {
    let checked = check(
        "mission:\n  name: x\n  objetive: y\ntasks:\n  - title: t\n",
        &library(),
    );
    assert!(checked.mission.is_none());
    assert_eq!(checked.errors(), 1);
    assert_eq!(checked.diagnostics[0].code, "spec::unknown-key");
    assert_eq!(checked.diagnostics[0].span.unwrap().line, 3);
}

#[test]
fn unknown_agents_become_the_nearest_and_only_their_values_change() {
    let text = "mission:\n  name: x\ntasks:\n  - id: API\n    title: Build the API\n    agent: backend-dev  # typo\n    backup: \"frontend-dev\"\n  - id: POEM\n    title: Write a sonnet\n    agent: poet\n";
    let library = library();
    let mission = check(text, &library).mission.unwrap();
    let mut draft = Draft {
        text: text.to_string(),
        repairs: Vec::new(),
    };
    repair_agents(&mut draft, &mission, &library);
    assert_eq!(
        draft.text,
        "mission:\n  name: x\ntasks:\n  - id: API\n    title: Build the API\n    agent: backend-developer  # typo\n    backup: frontend-developer\n  - id: POEM\n    title: Write a sonnet\n"
    );
    assert_eq!(
        draft.repairs,
        [
            "task API: agent `backend-dev` is not in the library; `backend-developer` instead",
            "task API: backup `frontend-dev` is not in the library; `frontend-developer` instead",
            "task POEM: agent `poet` is not in the library and none fits; the general-purpose agent runs it",
        ]
    );
    assert!(check(&draft.text, &library).diagnostics.is_empty());
}
