//! The mission file format as JSON Schema (draft 2020-12), generated from
//! the same key tables the parser checks against. Editors use it for
//! completion and inline errors.

use super::keys::{self, Key, Kind};
use serde_json::{Map, Value, json};

const DURATION_PATTERN: &str = r"^\s*(P[0-9A-Z.]+|([0-9]+(\.[0-9]+)?\s*[a-zA-Z]+\s*)+)$";

/// The JSON Schema of mission files.
pub fn json_schema() -> Value {
    let mut schema = object(keys::TOP);
    let root = schema.as_object_mut().expect("object() builds an object");
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert(
        "$id".into(),
        json!("https://techlead.dev/schema/mission.json"),
    );
    root.insert("title".into(), json!("techlead mission"));
    root.insert(
        "description".into(),
        json!("A mission for techlead: tasks, dependencies, agents and quality gates. See docs/mission-spec.md."),
    );
    root.insert("required".into(), json!(["mission"]));
    root["properties"]["mission"]
        .as_object_mut()
        .expect("mission is an object")
        .insert("required".into(), json!(["name"]));
    required_in_items(&mut root["properties"]["tasks"], &["title"]);
    required_in_items(&mut root["properties"]["phases"], &["name"]);
    required_in_items(&mut root["properties"]["webhooks"], &["url", "secret_env"]);
    required_in_items(
        &mut root["properties"]["phases"]["items"]["properties"]["tasks"],
        &["title"],
    );
    schema
}

fn required_in_items(list: &mut Value, required: &[&str]) {
    if let Some(items) = list.get_mut("items").and_then(Value::as_object_mut) {
        items.insert("required".into(), json!(required));
    }
}

fn object(keys: &[Key]) -> Value {
    let properties: Map<String, Value> = keys
        .iter()
        .map(|key| {
            let mut property = kind(&key.kind);
            property
                .as_object_mut()
                .expect("kind() builds an object")
                .insert("description".into(), json!(key.doc));
            (key.name.to_string(), property)
        })
        .collect();
    json!({ "type": "object", "additionalProperties": false, "properties": properties })
}

fn kind(kind: &Kind) -> Value {
    let text_list = json!({ "type": "array", "items": { "type": "string" } });
    let duration = json!({ "type": "string", "pattern": DURATION_PATTERN });
    match kind {
        Kind::Text => json!({ "type": ["string", "number", "boolean"] }),
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::TextOrList => json!({ "oneOf": [{ "type": "string" }, text_list] }),
        Kind::TextList => text_list,
        Kind::Integer { minimum } => json!({ "type": "integer", "minimum": minimum }),
        Kind::Number { minimum } => json!({ "type": "number", "minimum": minimum }),
        Kind::Duration => duration,
        Kind::DurationList => json!({ "type": "array", "items": duration, "minItems": 1 }),
        Kind::Hours => json!({ "oneOf": [{ "type": "number", "exclusiveMinimum": 0 }, duration] }),
        Kind::Fraction => json!({ "oneOf": [
            { "type": "number", "minimum": 0, "maximum": 1 },
            { "type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*%\s*$" }
        ] }),
        Kind::Deadline => {
            json!({ "type": "string", "anyOf": [{ "format": "date" }, { "format": "date-time" }] })
        }
        Kind::Priority => json!({ "enum": ["critical", "high", "medium", "low"] }),
        Kind::MissionPriority => json!({ "oneOf": [
            { "enum": ["critical", "high", "medium", "low"] },
            { "type": "integer" },
        ] }),
        Kind::Argv => {
            json!({ "oneOf": [{ "type": "string", "minLength": 1 }, { "type": "array", "items": { "type": "string" }, "minItems": 1 }] })
        }
        Kind::Limits => {
            json!({ "type": "object", "additionalProperties": { "type": "integer", "minimum": 1 } })
        }
        Kind::Object(keys) => object(keys),
        Kind::Gates => {
            let mut gate = object(keys::GATE);
            gate["oneOf"] = json!([{ "required": ["run"] }, { "required": ["review"] }]);
            let one = json!({ "oneOf": [{ "type": "string" }, gate] });
            json!({ "oneOf": [one.clone(), { "type": "array", "items": one }] })
        }
        Kind::DoneList => {
            let mut check = object(keys::DONE);
            check["required"] = json!(["item"]);
            json!({ "type": "array", "items": { "oneOf": [{ "type": "string" }, check] } })
        }
        Kind::List(keys) => json!({ "type": "array", "items": object(keys) }),
        Kind::Words(words) => {
            let one = json!({ "enum": words });
            json!({ "oneOf": [one.clone(), { "type": "array", "items": one, "minItems": 1 }] })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    /// The JSON a YAML-aware editor would validate.
    fn to_json(node: &yaml::Node, source: &str) -> Value {
        match &node.value {
            yaml::Value::Null => Value::Null,
            yaml::Value::Bool(b) => json!(b),
            yaml::Value::Int(i) => json!(i),
            yaml::Value::Float(f) => json!(f),
            yaml::Value::Str(_) => json!(node.str(source)),
            yaml::Value::List(items) => items.iter().map(|i| to_json(i, source)).collect(),
            yaml::Value::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.scalar_text(source).unwrap().to_string(),
                            to_json(v, source),
                        )
                    })
                    .collect(),
            ),
        }
    }

    fn schema_errors(source: &str) -> Vec<String> {
        let validator =
            jsonschema::validator_for(&json_schema()).expect("the schema is valid JSON Schema");
        let instance = to_json(&yaml::load(source).unwrap(), source);
        validator
            .iter_errors(&instance)
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn the_examples_satisfy_the_schema() {
        for source in [
            include_str!("../../../../examples/web-platform/mission.yaml"),
            include_str!("../../../../examples/incident-response/mission.yaml"),
        ] {
            assert_eq!(schema_errors(source), Vec::<String>::new());
        }
    }

    #[test]
    fn the_schema_rejects_what_the_parser_rejects() {
        let cases = [
            "mission: {name: x}\ntasks: [{title: t, prio: high}]\n",
            "mission: {name: x}\ntasks: [{title: t, priority: urgent}]\n",
            "mission: {name: x}\ntasks: [{description: no title}]\n",
            "mission: {name: x, defaults: {max_parallel: 0}}\ntasks: [{title: t}]\n",
            "mission: {name: x}\ntasks: [{title: t, gates: [{name: only-a-name}]}]\n",
            "tasks: [{title: t}]\n",
        ];
        for case in cases {
            assert!(!schema_errors(case).is_empty(), "schema accepted: {case}");
            assert!(
                crate::spec::parse(case).has_errors(),
                "parser accepted: {case}"
            );
        }
    }

    #[test]
    fn the_definition_of_done_is_statements_or_checks() {
        let good = "mission:\n  name: x\n  definition_of_done:\n    - Reviewed\n    - {item: Tests, run: cargo test}\ntasks: [{title: t}]\n";
        assert_eq!(schema_errors(good), Vec::<String>::new());
        assert!(!crate::spec::parse(good).has_errors());
        for bad in [
            "mission:\n  name: x\n  definition_of_done: [{run: cargo test}]\ntasks: [{title: t}]\n",
            "mission:\n  name: x\n  definition_of_done: [{item: a, runs: b}]\ntasks: [{title: t}]\n",
        ] {
            assert!(!schema_errors(bad).is_empty(), "schema accepted: {bad}");
            assert!(
                crate::spec::parse(bad).has_errors(),
                "parser accepted: {bad}"
            );
        }
    }

    #[test]
    fn webhooks_need_a_url_and_a_secret_variable_and_known_events() {
        let good = "mission: {name: x}\ntasks: [{title: t}]\nwebhooks:\n  - {url: 'https://ci.example.com/h', secret_env: S, events: [gate_failed]}\n  - {name: all, url: 'http://127.0.0.1:9/', secret_env: S, events: mission_finished}\n";
        assert_eq!(schema_errors(good), Vec::<String>::new());
        assert!(!crate::spec::parse(good).has_errors());
        for bad in [
            "mission: {name: x}\ntasks: [{title: t}]\nwebhooks: [{url: 'https://c.example/'}]\n",
            "mission: {name: x}\ntasks: [{title: t}]\nwebhooks: [{secret_env: S}]\n",
            "mission: {name: x}\ntasks: [{title: t}]\nwebhooks: [{url: 'https://c.example/', secret_env: S, events: [gate_passed]}]\n",
            "mission: {name: x}\ntasks: [{title: t}]\nwebhooks: [{url: 'https://c.example/', secret_env: S, secret: x}]\n",
        ] {
            assert!(!schema_errors(bad).is_empty(), "schema accepted: {bad}");
            assert!(
                crate::spec::parse(bad).has_errors(),
                "parser accepted: {bad}"
            );
        }
        let words: Vec<&str> = crate::webhook::HookEvent::ALL.map(|e| e.as_str()).to_vec();
        assert_eq!(keys::HOOK_EVENTS, words);
    }

    #[test]
    fn every_task_key_is_in_the_schema() {
        let schema = json_schema();
        let task = &schema["properties"]["tasks"]["items"]["properties"];
        for key in keys::TASK {
            assert!(task.get(key.name).is_some(), "{} missing", key.name);
        }
        assert_eq!(
            schema["properties"]["tasks"]["items"]["additionalProperties"],
            json!(false)
        );
    }
}
