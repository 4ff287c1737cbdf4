//! Reading an agent CLI's error text for refusals that are not the task's
//! fault: credentials or money (a person must act) or a rate or usage
//! limit (later). Each CLI words its errors its own way, so each has its
//! own [`Refusals`]; the reading is the same.

use crate::executor::Outcome;
use crate::executor::supervise::has_code;

/// What "quota" in an error text means for a CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quota {
    /// Money or a plan's allowance (Codex, whose `insufficient_quota` is a
    /// 429 but means billing): a person must act.
    NeedsPerson,
    /// A per-minute or per-day limit (Gemini's `RESOURCE_EXHAUSTED`): later.
    RateLimited,
}

/// The status codes (as whole numbers in the text) and words (in the
/// lower-cased text) that say one thing.
#[derive(Debug)]
pub(crate) struct Signs {
    pub(crate) codes: &'static [&'static str],
    pub(crate) words: &'static [&'static str],
}

impl Signs {
    /// Whether `lower` (lower-cased already) names one of these.
    fn found(&self, lower: &str) -> bool {
        self.codes.iter().any(|code| has_code(lower, code))
            || self.words.iter().any(|word| lower.contains(word))
    }
}

/// How one CLI's error texts are read.
#[derive(Debug)]
pub(crate) struct Refusals {
    /// Credentials, billing: a person must act. Read first.
    pub(crate) needs_person: Signs,
    /// Rate and usage limits: later.
    pub(crate) limited: Signs,
    /// Where "quota" belongs.
    pub(crate) quota: Quota,
}

impl Refusals {
    /// `NeedsPerson` or `RateLimited` (until unknown) with `message` when
    /// its text says so; `None`: an ordinary failure.
    pub(crate) fn classify(&self, message: String) -> Option<Outcome> {
        let lower = message.to_lowercase();
        let quota = lower.contains("quota");
        if self.needs_person.found(&lower) || (quota && self.quota == Quota::NeedsPerson) {
            return Some(Outcome::NeedsPerson { message });
        }
        let limited = self.limited.found(&lower) || (quota && self.quota == Quota::RateLimited);
        limited.then_some(Outcome::RateLimited {
            until: None,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: Refusals = Refusals {
        needs_person: Signs {
            codes: &["401"],
            words: &["api key"],
        },
        limited: Signs {
            codes: &["429"],
            words: &["too many requests"],
        },
        quota: Quota::NeedsPerson,
    };

    fn class(rules: &Refusals, text: &str) -> &'static str {
        match rules.classify(text.to_owned()) {
            Some(Outcome::NeedsPerson { message }) => {
                assert_eq!(message, text);
                "person"
            }
            Some(Outcome::RateLimited {
                until: None,
                message,
            }) => {
                assert_eq!(message, text);
                "later"
            }
            None => "failed",
            Some(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn codes_and_words_say_person_or_later_and_the_text_is_kept() {
        assert_eq!(class(&RULES, "HTTP 401 from the API"), "person");
        assert_eq!(class(&RULES, "Invalid API Key"), "person");
        assert_eq!(class(&RULES, "status 429"), "later");
        assert_eq!(class(&RULES, "Too Many Requests"), "later");
        assert_eq!(class(&RULES, "disk full"), "failed");
    }

    #[test]
    fn a_code_counts_only_as_a_whole_number() {
        assert_eq!(class(&RULES, "read 4010 bytes"), "failed");
        assert_eq!(class(&RULES, "24290 tokens"), "failed");
    }

    #[test]
    fn the_person_is_read_before_the_limit() {
        assert_eq!(class(&RULES, "429: api key over its limit"), "person");
    }

    #[test]
    fn quota_goes_where_the_cli_says() {
        let later = Refusals {
            quota: Quota::RateLimited,
            ..RULES
        };
        assert_eq!(class(&RULES, "Quota exceeded"), "person");
        assert_eq!(class(&later, "Quota exceeded"), "later");
        // The person's signs still come first.
        assert_eq!(class(&later, "quota of this API key"), "person");
    }
}
