use super::*;
use crate::agents::Library;
use crate::plan::draft;

#[test]
fn keywords_choose_the_template() {
    let kind = |text| choose(text).kind;
    assert_eq!(
        kind("Build a booking web app with a React frontend"),
        ProjectKind::WebApp
    );
    assert_eq!(kind("Expose a REST API for invoices"), ProjectKind::Api);
    assert_eq!(
        kind("Checkout is down: 5xx since the deploy"),
        ProjectKind::IncidentResponse
    );
    assert_eq!(
        kind("Migrate the billing database from MySQL to Postgres"),
        ProjectKind::Migration
    );
    assert_eq!(kind("Write a haiku"), ProjectKind::General);
}

#[test]
fn ties_go_to_the_more_urgent_kind_and_prefixes_match_whole_word_starts() {
    // One keyword each: migration beats API.
    assert_eq!(choose("Migrating our API").kind, ProjectKind::Migration);
    // "restore" is not "rest", "pager" is not "page".
    assert_eq!(
        choose("restore the pager rota").kind,
        ProjectKind::IncidentResponse
    );
    assert_eq!(choose("restore backups").kind, ProjectKind::General);
}

#[test]
fn the_reason_names_the_keywords_or_says_it_fell_back() {
    let choice = choose("Outage: the API returns 5xx");
    assert_eq!(choice.kind, ProjectKind::IncidentResponse);
    assert_eq!(
        choice.reason(),
        "the incident-response template, for: outage, 5xx"
    );
    assert!(choose("Tidy up").reason().contains("general template"));
}

#[test]
fn names_come_from_the_first_words() {
    assert_eq!(
        mission_name("Build a booking web app for teams"),
        "build-booking-web-app-teams"
    );
    assert_eq!(mission_name("!!!"), "planned-mission");
}

/// Every template is a valid mission, with every task estimated and
/// staffed, and its agents map onto an empty library without error.
#[test]
fn every_template_is_a_valid_mission() {
    let library = Library::from_texts(Vec::<(String, crate::agents::Scope, String)>::new());
    let kinds = [
        ProjectKind::WebApp,
        ProjectKind::Api,
        ProjectKind::IncidentResponse,
        ProjectKind::Migration,
        ProjectKind::General,
    ];
    for kind in kinds {
        let request = Request {
            objective: "Line one: with a colon\n\nand a second paragraph",
            deadline: Some("2026-03-01T17:00:00Z".parse().unwrap()),
            executor: "simulate",
        };
        let text = mission_text(kind, &request);
        let checked = draft::check(&text, &library);
        assert_eq!(
            checked.errors(),
            0,
            "{kind:?}:\n{text}\n{:#?}",
            checked.diagnostics
        );
        let mission = checked.mission.unwrap();
        assert_eq!(
            mission.objective,
            "Line one: with a colon\n\nand a second paragraph"
        );
        assert_eq!(mission.project_type.as_deref(), Some(kind.as_str()));
        assert_eq!(mission.defaults.executor, "simulate");
        assert!(mission.tasks.len() >= 5);
        assert!(
            mission
                .tasks
                .iter()
                .all(|t| t.estimate_hours.is_some() && t.agent.is_some())
        );
        let mut repaired = draft::Draft {
            text,
            repairs: Vec::new(),
        };
        draft::repair_agents(&mut repaired, &mission, &library);
        let again = draft::check(&repaired.text, &library);
        assert!(
            again.diagnostics.is_empty(),
            "{kind:?}: {:#?}",
            again.diagnostics
        );
    }
}
