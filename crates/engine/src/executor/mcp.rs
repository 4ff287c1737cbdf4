//! How the agent CLIs are told about techlead's MCP server: `techlead mcp`
//! (this very program), started by the agent over stdio for the running
//! attempt, with the variables that name the attempt's report socket and
//! the store. Pure: the attempt's spec in, configuration out.

use super::AttemptSpec;
use super::report_socket::VARIABLE;
use serde_json::{Value, json};

/// The server's name in the agents' configuration; Claude Code's tools are
/// then `mcp__techlead__<tool>`.
pub const SERVER: &str = "techlead";

/// Set to `off` (or `0`, `false`) in techlead's environment to run agents
/// without the MCP server (they can still report on stdout).
pub const OPT_OUT: &str = "TECHLEAD_MCP";

/// The MCP server of one attempt: the program, its arguments and its
/// environment.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServer {
    pub command: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl McpServer {
    /// The server for `spec`, or `None` when the attempt has no report
    /// socket (it could not be opened) or MCP is turned off.
    pub fn for_attempt(spec: &AttemptSpec) -> Option<McpServer> {
        let off = std::env::var(OPT_OUT).is_ok_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "off" | "0" | "false"
            )
        });
        if off {
            return None;
        }
        let named = |key: &str| {
            spec.env
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| (key.to_string(), v.clone()))
        };
        let socket = named(VARIABLE)?;
        let command = std::env::current_exe().ok()?.to_string_lossy().into_owned();
        let mut env = vec![
            socket,
            ("TECHLEAD_MISSION".into(), spec.mission_id.clone()),
            ("TECHLEAD_TASK".into(), spec.task_id.clone()),
            ("TECHLEAD_ATTEMPT".into(), spec.attempt.to_string()),
        ];
        env.extend(named("TECHLEAD_DB"));
        Some(McpServer {
            command,
            args: vec!["mcp".into()],
            env,
        })
    }

    fn env_object(&self) -> Value {
        Value::Object(
            self.env
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }

    /// The `mcpServers` JSON that Claude Code's `--mcp-config` and Gemini
    /// CLI's settings file take.
    pub fn json(&self) -> Value {
        json!({"mcpServers": {SERVER: {
            "type": "stdio",
            "command": self.command,
            "args": self.args,
            "env": self.env_object(),
        }}})
    }

    /// Codex's `-c key=value` overrides (values in TOML; a JSON string is a
    /// TOML basic string).
    pub fn codex_overrides(&self) -> Vec<String> {
        let string = |s: &str| Value::String(s.to_string()).to_string();
        let args: Vec<String> = self.args.iter().map(|a| string(a)).collect();
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", string(v)))
            .collect();
        vec![
            format!("mcp_servers.{SERVER}.command={}", string(&self.command)),
            format!("mcp_servers.{SERVER}.args=[{}]", args.join(", ")),
            format!("mcp_servers.{SERVER}.env={{{}}}", env.join(", ")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> McpServer {
        McpServer {
            command: "/bin/tech lead".into(),
            args: vec!["mcp".into()],
            env: vec![
                (VARIABLE.into(), "/d/runs/m/report.sock".into()),
                ("TECHLEAD_TASK".into(), "a\"b".into()),
            ],
        }
    }

    #[test]
    fn claude_and_gemini_json() {
        assert_eq!(
            server().json(),
            json!({"mcpServers": {"techlead": {"type": "stdio", "command": "/bin/tech lead",
                "args": ["mcp"], "env": {"TECHLEAD_REPORT_SOCKET": "/d/runs/m/report.sock",
                "TECHLEAD_TASK": "a\"b"}}}})
        );
    }

    #[test]
    fn codex_overrides_are_toml() {
        assert_eq!(
            server().codex_overrides(),
            [
                r#"mcp_servers.techlead.command="/bin/tech lead""#,
                r#"mcp_servers.techlead.args=["mcp"]"#,
                r#"mcp_servers.techlead.env={TECHLEAD_REPORT_SOCKET="/d/runs/m/report.sock", TECHLEAD_TASK="a\"b"}"#,
            ]
        );
    }
}
