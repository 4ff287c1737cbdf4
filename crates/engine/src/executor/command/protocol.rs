//! The reporting protocol on stdout (DESIGN decision 8): workflow-command
//! lines such as `::progress 40 wiring the API`. Pure: one line in, at most
//! one report out.

use crate::executor::ExecEvent;

/// Reads one line of the child's stdout (without its line ending) as a
/// report. Anything that is not a known command, including an unknown
/// `::name`, is plain output and gives `None`.
///
/// - `::progress [PERCENT[%]] [MESSAGE]`: a first word that is a whole number
///   from 0 to 100 is the percentage; otherwise it all is the message.
/// - `::blocked [REASON]`: blocked even without a reason.
/// - `::artifact PATH`, `::decision TEXT`, `::summary TEXT`, `::ask
///   QUESTION`, `::split TITLE`: ignored when the text is empty.
pub(crate) fn parse_line(line: &str) -> Option<ExecEvent> {
    let rest = line.strip_prefix("::")?;
    let (name, text) = match rest.split_once([' ', '\t']) {
        Some((name, text)) => (name, text.trim()),
        None => (rest.trim_end(), ""),
    };
    match name {
        "progress" => Some(progress(text)),
        "blocked" => Some(ExecEvent::Blocked(text.to_owned())),
        "artifact" if !text.is_empty() => Some(ExecEvent::Artifact(text.to_owned())),
        "decision" if !text.is_empty() => Some(ExecEvent::Decision(text.to_owned())),
        "summary" if !text.is_empty() => Some(ExecEvent::Summary(text.to_owned())),
        "ask" if !text.is_empty() => Some(ExecEvent::Ask(text.to_owned())),
        "split" if !text.is_empty() => Some(ExecEvent::Split(text.to_owned())),
        _ => None,
    }
}

fn progress(text: &str) -> ExecEvent {
    let (first, message) = match text.split_once([' ', '\t']) {
        Some((first, message)) => (first, message.trim_start()),
        None => (text, ""),
    };
    let number = first.strip_suffix('%').unwrap_or(first);
    match number.parse::<u8>() {
        Ok(percent) if percent <= 100 && number.bytes().all(|b| b.is_ascii_digit()) => {
            ExecEvent::Progress {
                percent: Some(percent),
                message: message.to_owned(),
            }
        }
        _ => ExecEvent::Progress {
            percent: None,
            message: text.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(percent: Option<u8>, message: &str) -> Option<ExecEvent> {
        Some(ExecEvent::Progress {
            percent,
            message: message.to_owned(),
        })
    }

    #[test]
    fn progress_with_and_without_percent() {
        assert_eq!(
            parse_line("::progress 40 wiring the API"),
            progress(Some(40), "wiring the API")
        );
        assert_eq!(
            parse_line("::progress 40% half"),
            progress(Some(40), "half")
        );
        assert_eq!(parse_line("::progress 100"), progress(Some(100), ""));
        assert_eq!(parse_line("::progress 0 start"), progress(Some(0), "start"));
        assert_eq!(parse_line("::progress wiring"), progress(None, "wiring"));
        assert_eq!(
            parse_line("::progress 150 rows"),
            progress(None, "150 rows")
        );
        assert_eq!(parse_line("::progress +5 rows"), progress(None, "+5 rows"));
        assert_eq!(parse_line("::progress"), progress(None, ""));
        assert_eq!(parse_line("::progress\t7\tx "), progress(Some(7), "x"));
    }

    #[test]
    fn the_other_commands() {
        assert_eq!(
            parse_line("::blocked need the API key"),
            Some(ExecEvent::Blocked("need the API key".into()))
        );
        assert_eq!(
            parse_line("::blocked"),
            Some(ExecEvent::Blocked(String::new()))
        );
        assert_eq!(
            parse_line("::artifact target/report.html"),
            Some(ExecEvent::Artifact("target/report.html".into()))
        );
        assert_eq!(
            parse_line("::decision use sqlx over diesel"),
            Some(ExecEvent::Decision("use sqlx over diesel".into()))
        );
        assert_eq!(
            parse_line("::split  write the schema "),
            Some(ExecEvent::Split("write the schema".into()))
        );
        assert_eq!(parse_line("::split"), None);
        assert_eq!(
            parse_line("::summary all done "),
            Some(ExecEvent::Summary("all done".into()))
        );
        assert_eq!(
            parse_line("::ask which database, staging or prod? "),
            Some(ExecEvent::Ask("which database, staging or prod?".into()))
        );
    }

    #[test]
    fn plain_output_is_not_a_report() {
        for line in [
            "",
            "hello",
            " ::progress 40 indented",
            ":progress 40",
            "::Progress 40",
            "::progressive 40",
            "::xyz something",
            "::",
            "::artifact",
            "::summary   ",
            "::decision",
            "::ask",
            "::ask   ",
            "::Ask why",
            "echo ::summary x",
        ] {
            assert_eq!(parse_line(line), None, "{line:?}");
        }
    }
}
