use super::*;

fn no_exit() -> Exit {
    Exit {
        code: Some(0),
        signal: None,
        last_stderr: None,
    }
}

fn exit_1() -> Exit {
    Exit {
        code: Some(1),
        signal: None,
        last_stderr: None,
    }
}

fn now() -> Timestamp {
    "2026-03-10T12:00:00Z".parse().unwrap()
}

/// Feeds every line; returns the events.
fn feed(stream: &mut Stream, lines: &[&str]) -> Vec<ExecEvent> {
    let mut events = Vec::new();
    for line in lines {
        stream.feed(line, &mut events);
    }
    events
}

fn end(lines: &[&str], exit: Exit) -> (Vec<ExecEvent>, Outcome) {
    let mut stream = Stream::new();
    let events = feed(&mut stream, lines);
    let outcome = stream.conclude("claude", &exit, now());
    (events, outcome)
}

const INIT: &str = r#"{"type":"system","subtype":"init","session_id":"3f0c","uuid":"u1","cwd":"/work/repo","model":"claude-sonnet-5","permissionMode":"default","tools":["Bash","Read"],"mcp_servers":[],"apiKeySource":"ANTHROPIC_API_KEY","claude_code_version":"2.1.240","slash_commands":[],"skills":[],"plugins":[],"output_style":"default"}"#;
const TOOL: &str = r#"{"type":"assistant","message":{"id":"msg_01A","type":"message","role":"assistant","model":"claude-sonnet-5","content":[{"type":"tool_use","id":"toolu_01X","name":"Read","input":{"file_path":"/work/repo/README.md"}}],"stop_reason":null,"usage":{"input_tokens":12,"output_tokens":40,"cache_read_input_tokens":9000,"cache_creation_input_tokens":0}},"parent_tool_use_id":null,"session_id":"3f0c","uuid":"u2"}"#;
const USER: &str = r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01X","content":"Demo"}]},"parent_tool_use_id":null,"session_id":"3f0c","uuid":"u3"}"#;
const TEXT: &str = r#"{"type":"assistant","message":{"id":"msg_01B","type":"message","role":"assistant","model":"claude-sonnet-5","content":[{"type":"text","text":"The README describes a demo.\nMore."}],"stop_reason":"end_turn","usage":{"input_tokens":30,"output_tokens":9}},"parent_tool_use_id":null,"session_id":"3f0c","uuid":"u4"}"#;
const SUCCESS: &str = r#"{"type":"result","subtype":"success","is_error":false,"duration_ms":5230,"duration_api_ms":4810,"num_turns":2,"result":"The README describes a demo.","stop_reason":"end_turn","session_id":"3f0c","total_cost_usd":0.0123,"usage":{"input_tokens":42,"output_tokens":49,"cache_read_input_tokens":9000,"cache_creation_input_tokens":0},"modelUsage":{"claude-sonnet-5":{"inputTokens":42,"outputTokens":49,"cacheReadInputTokens":9000,"cacheCreationInputTokens":0,"webSearchRequests":0,"costUSD":0.0123,"contextWindow":200000,"maxOutputTokens":32000}},"permission_denials":[],"terminal_reason":"completed","uuid":"u5"}"#;

fn api_error(status: u32, text: &str) -> String {
    format!(
        r#"{{"type":"result","subtype":"success","is_error":true,"api_error_status":{status},"duration_ms":315,"duration_api_ms":0,"num_turns":1,"result":"{text}","stop_reason":"stop_sequence","session_id":"3f0c","total_cost_usd":0,"usage":{{"input_tokens":0,"output_tokens":0}},"modelUsage":{{}},"permission_denials":[],"terminal_reason":"api_error","uuid":"u9"}}"#
    )
}

#[test]
fn init_reports_the_session() {
    let mut stream = Stream::new();
    let events = feed(&mut stream, &[INIT]);
    assert_eq!(events, vec![ExecEvent::Session("3f0c".into())]);
}

#[test]
fn assistant_lines_give_progress_turns_tools_and_running_usage() {
    let mut stream = Stream::new();
    let events = feed(&mut stream, &[INIT, TOOL, USER, TEXT]);
    let progress: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            ExecEvent::Progress { message, .. } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(progress, ["using Read", "The README describes a demo."]);
    let usage = stream.usage();
    assert_eq!(usage.turns, 2);
    assert_eq!(usage.tool_uses, 1);
    assert_eq!(usage.input_tokens, 42);
    assert_eq!(usage.output_tokens, 49);
    assert_eq!(usage.cache_read_tokens, 9000);
    assert_eq!(usage.model.as_deref(), Some("claude-sonnet-5"));
    assert!(matches!(events.last(), Some(ExecEvent::Usage(u)) if u.input_tokens == 42));
}

#[test]
fn lines_of_one_message_count_once() {
    let mut stream = Stream::new();
    feed(&mut stream, &[TOOL, TOOL]);
    let usage = stream.usage();
    assert_eq!(usage.turns, 1);
    assert_eq!(usage.input_tokens, 12);
    assert_eq!(usage.tool_uses, 2);
}

#[test]
fn success_takes_usage_and_cost_from_model_usage() {
    let mut stream = Stream::new();
    let events = feed(&mut stream, &[INIT, TOOL, USER, TEXT, SUCCESS]);
    let Some(ExecEvent::Usage(usage)) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(usage.cost_usd, 0.0123);
    assert_eq!(usage.input_tokens, 42);
    assert_eq!(usage.turns, 2);
    assert!(stream.has_result());
    let outcome = stream.conclude("claude", &no_exit(), now());
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            summary: Some("The README describes a demo.".into())
        }
    );
}

#[test]
fn without_model_usage_the_total_cost_counts() {
    let mut stream = Stream::new();
    let result = SUCCESS.replace(
        r#""modelUsage":{"claude-sonnet-5":{"inputTokens":42,"outputTokens":49,"cacheReadInputTokens":9000,"cacheCreationInputTokens":0,"webSearchRequests":0,"costUSD":0.0123,"contextWindow":200000,"maxOutputTokens":32000}}"#,
        r#""modelUsage":{}"#,
    );
    feed(&mut stream, &[&result]);
    let usage = stream.usage();
    assert_eq!(usage.cost_usd, 0.0123);
    assert_eq!(usage.output_tokens, 49);
}

#[test]
fn long_results_are_cut_for_the_summary() {
    let long = "é".repeat(300);
    let result = SUCCESS.replace("The README describes a demo.", &long);
    let (_, outcome) = end(&[&result], no_exit());
    let Outcome::Succeeded {
        summary: Some(summary),
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(summary.len() <= 200 + "…".len(), "{}", summary.len());
    assert!(summary.ends_with('…'));
}

#[test]
fn unknown_types_and_subtypes_and_non_json_are_ignored() {
    let mut stream = Stream::new();
    let mut events = Vec::new();
    for line in [
        r#"{"type":"brand_new_thing","x":1}"#,
        r#"{"type":"system","subtype":"hook_started","session_id":"3f0c"}"#,
        "plain text, not JSON",
        "[1, 2",
        "",
    ] {
        assert!(
            matches!(stream.feed(line, &mut events), Fed::Ignored(_) | Fed::Used),
            "{line}"
        );
    }
    assert!(matches!(
        stream.feed(r#"{"type":"brand_new_thing"}"#, &mut events),
        Fed::Ignored(why) if why.contains("brand_new_thing")
    ));
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn an_unfinished_array_does_not_swallow_the_rest_for_ever() {
    // A lone "[" starts an array that never closes: its lines are read one
    // by one at the end.
    let (_, outcome) = end(&["[", "{\"type\"", SUCCESS], no_exit());
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
}

#[test]
fn api_retry_is_a_progress_note() {
    let mut stream = Stream::new();
    let events = feed(
        &mut stream,
        &[
            r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"retry_delay_ms":1500,"error_status":529,"error":"overloaded","session_id":"3f0c","uuid":"r"}"#,
        ],
    );
    assert_eq!(
        events,
        vec![ExecEvent::Progress {
            percent: None,
            message: "API error overloaded (HTTP 529); retry 1 of 10 in 1.5 s".into()
        }]
    );
}

#[test]
fn is_error_401_needs_a_person() {
    let (_, outcome) = end(
        &[INIT, &api_error(401, "Invalid API key · Please run /login")],
        exit_1(),
    );
    assert_eq!(
        outcome,
        Outcome::NeedsPerson {
            message: "Invalid API key · Please run /login".into()
        }
    );
}

#[test]
fn not_logged_in_needs_a_person_without_a_status() {
    let result = api_error(401, "Not logged in · Please run /login")
        .replace(r#""api_error_status":401"#, r#""api_error_status":null"#);
    let (_, outcome) = end(&[&result], exit_1());
    assert!(
        matches!(outcome, Outcome::NeedsPerson { .. }),
        "{outcome:?}"
    );
}

#[test]
fn is_error_429_with_resets_is_rate_limited_until_then() {
    let (_, outcome) = end(
        &[&api_error(
            429,
            "You've hit your session limit · resets 4:50pm (Europe/London)",
        )],
        exit_1(),
    );
    // 12:00 UTC on 10 March is 12:00 in London (GMT): 4:50pm the same day.
    let until: Timestamp = "2026-03-10T16:50:00Z".parse().unwrap();
    assert_eq!(
        outcome,
        Outcome::RateLimited {
            until: Some(until),
            message: "You've hit your session limit · resets 4:50pm (Europe/London)".into()
        }
    );
}

#[test]
fn is_error_529_is_rate_limited() {
    let (_, outcome) = end(&[&api_error(529, "Overloaded")], exit_1());
    assert_eq!(
        outcome,
        Outcome::RateLimited {
            until: None,
            message: "Overloaded".into()
        }
    );
}

#[test]
fn a_rejected_rate_limit_event_gives_the_reset_time() {
    let event = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1773165000,"rateLimitType":"five_hour"},"session_id":"3f0c","uuid":"e"}"#;
    let result = api_error(429, "limit").replace("429", "null");
    let (_, outcome) = end(&[event, &result], exit_1());
    assert_eq!(
        outcome,
        Outcome::RateLimited {
            until: Some(Timestamp::from_second(1773165000).unwrap()),
            message: "limit".into()
        }
    );
    // Allowed warnings change nothing.
    let warning = event.replace("rejected", "allowed_warning");
    let (_, outcome) = end(&[&warning, SUCCESS], no_exit());
    assert!(matches!(outcome, Outcome::Succeeded { .. }));
}

#[test]
fn error_max_turns_fails_with_the_errors() {
    let line = r#"{"type":"result","subtype":"error_max_turns","is_error":true,"duration_ms":90211,"duration_api_ms":80110,"num_turns":3,"stop_reason":"tool_use","session_id":"3f0c","total_cost_usd":0.41,"usage":{"input_tokens":0,"output_tokens":0},"modelUsage":{},"permission_denials":[],"errors":["Reached maximum number of turns (3)"],"terminal_reason":"max_turns","uuid":"u"}"#;
    let (events, outcome) = end(&[line], exit_1());
    assert_eq!(
        outcome,
        Outcome::Failed {
            exit_code: Some(1),
            signal: None,
            message: "Claude Code reached its maximum number of turns: \
                      Reached maximum number of turns (3)"
                .into()
        }
    );
    assert!(matches!(events.last(), Some(ExecEvent::Usage(u)) if u.cost_usd == 0.41));
    // Seen in the wild: the same with is_error false. Still a failure.
    let (_, outcome) = end(
        &[&line.replace(r#""is_error":true"#, r#""is_error":false"#)],
        no_exit(),
    );
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
}

#[test]
fn the_array_form_is_read_on_one_line_or_several() {
    let one_line = format!("[{INIT},{TEXT},{SUCCESS}]");
    let (events, outcome) = end(&[&one_line], no_exit());
    assert!(events.contains(&ExecEvent::Session("3f0c".into())));
    assert!(matches!(outcome, Outcome::Succeeded { summary: Some(_) }));

    let (_, outcome) = end(&["[", INIT, ",", TEXT, ",", SUCCESS, "]"], no_exit());
    assert!(
        matches!(outcome, Outcome::Succeeded { summary: Some(_) }),
        "{outcome:?}"
    );
}

#[test]
fn no_result_fails_with_the_exit_and_the_last_stderr_line() {
    let exit = Exit {
        code: Some(143),
        signal: None,
        last_stderr: None,
    };
    let (_, outcome) = end(&[INIT, TEXT], exit);
    assert_eq!(
        outcome,
        Outcome::Failed {
            exit_code: Some(143),
            signal: None,
            message: "`claude` exited with code 143 without a result".into()
        }
    );
    let refusal = "Error: When using --print, --output-format=stream-json requires --verbose";
    let exit = Exit {
        code: Some(1),
        signal: None,
        last_stderr: Some(refusal.into()),
    };
    let (_, outcome) = end(&[], exit);
    let Outcome::Failed { message, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(message.ends_with(refusal), "{message}");
}

#[test]
fn reset_times_are_read_in_their_zone() {
    let now = now();
    let at = |text: &str| reset_time(text, now).map(|t| t.to_string());
    assert_eq!(
        at("resets 4:50pm (Europe/London)").as_deref(),
        Some("2026-03-10T16:50:00Z")
    );
    assert_eq!(
        at("resets 5pm (UTC)").as_deref(),
        Some("2026-03-10T17:00:00Z")
    );
    // Already past today: tomorrow.
    assert_eq!(
        at("resets 9am (UTC)").as_deref(),
        Some("2026-03-11T09:00:00Z")
    );
    assert_eq!(
        at("resets 12am (UTC)").as_deref(),
        Some("2026-03-11T00:00:00Z")
    );
    assert_eq!(
        at("resets 16:50 (America/New_York)").as_deref(),
        Some("2026-03-10T20:50:00Z")
    );
    assert_eq!(at("resets 4:50pm"), None);
    assert_eq!(at("resets 13pm (UTC)"), None);
    assert_eq!(at("resets 4:50pm (Not/AZone)"), None);
    assert_eq!(at("no reset here"), None);
}
