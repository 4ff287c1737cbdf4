//! The mission file's `webhooks:` list: each entry's URL, events and
//! secret variable checked where it is written, names unique (derived from
//! the URL's host when not given).

use super::{Reader, keys};
use crate::diagnostic::{SourceSpan, nearest};
use crate::spec::CompactSpan;
use crate::webhook::{HookEvent, Webhook};
use crate::yaml::Node;
use std::collections::HashMap;

/// A webhook entry as read, before names are settled. A part with an
/// error is `None`; the name still counts, so that its duplicates are
/// reported in the same pass.
struct Entry {
    name: Option<(String, CompactSpan)>,
    url: Option<String>,
    events: Option<Vec<HookEvent>>,
    secret_env: Option<String>,
}

impl Reader<'_> {
    pub(super) fn webhooks(&mut self, node: &Node) -> Vec<Webhook> {
        let entries: Vec<Entry> = self
            .list(node, "webhooks")
            .into_iter()
            .filter_map(|item| self.webhook(item))
            .collect();
        // Given names first, so that a derived name never takes one.
        let mut taken: HashMap<String, usize> = HashMap::new();
        for (name, span) in entries.iter().filter_map(|e| e.name.as_ref()) {
            if let Some(line) = taken.get(name) {
                self.error(
                    (*span).into(),
                    "spec::duplicate-webhook",
                    format!("webhook name `{name}` is used twice"),
                )
                .hint = Some(format!(
                    "webhook names must be unique (they are part of every delivery ID); the first `{name}` is on line {line}"
                ));
            } else {
                taken.insert(name.clone(), span.line());
            }
        }
        entries
            .into_iter()
            .filter_map(|entry| {
                let (url, events, secret_env) = (entry.url?, entry.events?, entry.secret_env?);
                Some(Webhook {
                    name: match entry.name {
                        Some((name, _)) => name,
                        None => derived_name(&url, &mut taken),
                    },
                    url,
                    events,
                    secret_env,
                })
            })
            .collect()
    }

    fn webhook(&mut self, node: &Node) -> Option<Entry> {
        let fields = self.fields(node, keys::WEBHOOK, "a webhook")?;
        let name = fields.get("name").and_then(|n| {
            let name = self.text(n, "name")?;
            if is_name(&name) {
                return Some((name, n.compact_span()));
            }
            self.error(n.span(), "spec::bad-name", format!("webhook name `{name}` is not usable"))
                .hint = Some("use letters, digits, `-`, `_` and `.`, starting with a letter or digit (e.g. ci-bot)".into());
            None
        });
        let url = match fields.get("url") {
            Some(n) => self.url(n),
            None => {
                self.missing(
                    fields.span,
                    "url",
                    "add `url: https://ci.example.com/hooks/techlead`",
                );
                None
            }
        };
        let events = match fields.get("events") {
            Some(n) => self.hook_events(n),
            None => Some(HookEvent::ALL.to_vec()),
        };
        let secret_env = match fields.get("secret_env") {
            Some(n) => self.secret_env(n),
            None => {
                self.missing(
                    fields.span,
                    "secret_env",
                    "add `secret_env: NAME`, the environment variable holding the secret that signs each delivery",
                );
                None
            }
        };
        Some(Entry {
            name,
            url,
            events,
            secret_env,
        })
    }

    fn missing(&mut self, span: SourceSpan, key: &str, hint: &str) {
        self.error(
            span,
            "spec::missing-key",
            format!("a webhook has no `{key}`"),
        )
        .hint = Some(hint.into());
    }

    fn url(&mut self, node: &Node) -> Option<String> {
        let text = self.text(node, "url")?;
        let text = text.trim();
        let problem = match url::Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => return Some(text.to_string()),
            Ok(url) => format!(
                "webhooks are sent over http or https, not `{}`",
                url.scheme()
            ),
            Err(error) => format!("`url` is not a URL: {error}"),
        };
        self.error(node.span(), "spec::bad-url", problem).hint =
            Some("write the whole address, e.g. `https://ci.example.com/hooks/techlead`".into());
        None
    }

    fn hook_events(&mut self, node: &Node) -> Option<Vec<HookEvent>> {
        let mut events = Vec::new();
        let mut ok = true;
        for (text, span) in self.text_nodes(node, "events") {
            match HookEvent::parse(&text) {
                Some(event) if events.contains(&event) => {}
                Some(event) => events.push(event),
                None => {
                    ok = false;
                    let hint = match nearest(&text, keys::HOOK_EVENTS.iter().copied()) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!("a webhook hears {}", keys::HOOK_EVENTS.join(", ")),
                    };
                    self.error(
                        span.into(),
                        "spec::unknown-event",
                        format!("unknown webhook event `{text}`"),
                    )
                    .hint = Some(hint);
                }
            }
        }
        if ok && events.is_empty() {
            self.error(node.span(), "spec::bad-value", "`events` is empty".into())
                .hint = Some("list at least one event, or leave `events` out for all three".into());
            return None;
        }
        ok.then_some(events)
    }

    fn secret_env(&mut self, node: &Node) -> Option<String> {
        let name = self.text(node, "secret_env")?;
        let name = name.trim();
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            return Some(name.to_string());
        }
        // The value is not repeated: it may be the secret itself.
        self.error(
            node.span(),
            "spec::bad-secret-env",
            "`secret_env` must be the name of an environment variable (letters, digits and `_`)".into(),
        )
        .hint = Some("keep the secret out of the file: `export CI_BOT_SECRET=...` before `techlead run`, and write `secret_env: CI_BOT_SECRET`".into());
        None
    }
}

fn is_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// The URL's host (`ci.example.com`), else `webhook`; `-2`, `-3`, ... when
/// that is taken.
fn derived_name(url: &str, taken: &mut HashMap<String, usize>) -> String {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .filter(|h| is_name(h))
        .unwrap_or_else(|| "webhook".to_string());
    let mut name = host.clone();
    let mut n = 1;
    while taken.contains_key(&name) {
        n += 1;
        name = format!("{host}-{n}");
    }
    taken.insert(name.clone(), 0);
    name
}

#[cfg(test)]
mod tests {
    use crate::spec::parse;
    use crate::spec::parse::tests::problems;
    use crate::webhook::HookEvent;

    #[test]
    fn webhooks_are_read_with_defaults_and_derived_names() {
        let source = "mission: {name: m}\ntasks: [{title: t}]\nwebhooks:\n  - name: ci-bot\n    url: https://ci.example.com/hooks\n    events: [gate_failed, mission_finished]\n    secret_env: CI_BOT_SECRET\n  - {url: 'http://127.0.0.1:8080/x', secret_env: S, events: escalation_raised}\n  - {url: 'http://127.0.0.1:9090/', secret_env: S}\n";
        let parsed = parse(source);
        assert_eq!(parsed.diagnostics, []);
        let hooks = parsed.mission.unwrap().webhooks;
        let summary: Vec<_> = hooks
            .iter()
            .map(|h| {
                (
                    h.name.as_str(),
                    h.url.as_str(),
                    h.events.clone(),
                    h.secret_env.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "ci-bot",
                    "https://ci.example.com/hooks",
                    vec![HookEvent::GateFailed, HookEvent::MissionFinished],
                    "CI_BOT_SECRET"
                ),
                (
                    "127.0.0.1",
                    "http://127.0.0.1:8080/x",
                    vec![HookEvent::EscalationRaised],
                    "S"
                ),
                (
                    "127.0.0.1-2",
                    "http://127.0.0.1:9090/",
                    HookEvent::ALL.to_vec(),
                    "S"
                ),
            ]
        );
    }

    #[test]
    fn bad_webhooks_are_reported_where_they_are_written() {
        let source = "mission: {name: m}\ntasks: [{title: t}]\nwebhooks:\n  - name: ci\n    url: ftp://ci.example.com/\n    secret_env: S\n  - name: ci\n    url: not a url\n    events: [gate_failed, escalation_rased]\n    secret_env: hunter2 is my password\n  - {url: 'https://x.example/', events: []}\n  - {nme: x, url: 'https://x.example/', secret_env: S}\n";
        assert_eq!(
            problems(source),
            [
                "spec::bad-url 5:10: webhooks are sent over http or https, not `ftp`",
                "spec::bad-url 8:10: `url` is not a URL: relative URL without a base",
                "spec::unknown-event 9:27: unknown webhook event `escalation_rased`",
                "spec::bad-secret-env 10:17: `secret_env` must be the name of an environment variable (letters, digits and `_`)",
                "spec::bad-value 11:41: `events` is empty",
                "spec::missing-key 11:5: a webhook has no `secret_env`",
                "spec::unknown-key 12:6: unknown key `nme` in a webhook",
                "spec::duplicate-webhook 7:11: webhook name `ci` is used twice",
            ]
        );
        let parsed = parse(source);
        let hint = |code: &str| {
            parsed
                .diagnostics
                .iter()
                .find(|d| d.code == code)
                .and_then(|d| d.hint.clone())
                .unwrap()
        };
        assert_eq!(
            hint("spec::unknown-event"),
            "did you mean `escalation_raised`?"
        );
        assert!(hint("spec::duplicate-webhook").contains("the first `ci` is on line 4"));
        // The secret someone wrote by mistake is not repeated back.
        assert!(
            parsed
                .diagnostics
                .iter()
                .all(|d| !d.message.contains("hunter2"))
        );
    }
}
