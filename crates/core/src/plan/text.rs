//! Words for ranking: how task texts and agent files become the terms the
//! assignment ranker ([`super::assign`]) compares.
//!
//! A text goes through these steps, the same for tasks and agents so both
//! sides meet on the same terms:
//!
//! 1. **Split** into runs of letters and digits; anything else separates
//!    (`ci/cd` is `ci`, `cd`; `backend-architect` is `backend`,
//!    `architect`). A few spellings that punctuation would destroy are kept:
//!    `C#` becomes `csharp`, `C++` becomes `cpp`, `.NET` becomes `dotnet`,
//!    and the `.js` of `Next.js` or `Node.js` is dropped so the framework's
//!    own name carries the meaning. An apostrophe's `s` is dropped.
//!    Identifiers (agent names) are also split at case changes:
//!    `backendArchitect` gives `backendarchitect`, `backend`, `architect`.
//! 2. **Lowercase.**
//! 3. **Aliases**: a short table of abbreviations that tickets use and agent
//!    files spell out (`k8s` for Kubernetes); see [`ALIASES`].
//! 4. **Stopwords**: English function words and the boilerplate of agent
//!    descriptions ("Use PROACTIVELY", "MUST BE USED", "Expert ...
//!    specialist"), which say nothing about what an agent is good at; see
//!    [`is_stopword`].
//! 5. **Stemming** with the Snowball English stemmer, so `deploying`,
//!    `deploys` and `deployment` meet as `deploy`, except for a few words
//!    whose stem would join a different meaning (`accessibility` is not
//!    `access`); see [`stem`].
//!
//! A word made of letters and then digits (`oauth2`, `vue3`, `python3`)
//! also yields its letters (`oauth`, `vue`, `python`) when they are at least
//! three long, so versions do not hide the product. Numbers alone and
//! single letters (except `c` and `r`, which name languages) are dropped.

use rust_stemmers::{Algorithm, Stemmer};
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::OnceLock;

/// One term of a text: the stem the ranker indexes and the word as it
/// appeared (lowercased, after aliases), for explaining a match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub stem: String,
    pub word: String,
}

/// How a text is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Sentences: product names such as `JavaScript` or `GraphQL` stay whole.
    Prose,
    /// Names such as `backend-architect` or `backendArchitect`: also split
    /// at case changes, keeping the whole word too.
    Identifier,
}

/// Abbreviations that tickets use and agent files usually spell out,
/// mapped to the spelled-out word. Each entry is here because the short
/// form is common in tickets and has one meaning in software work:
///
/// - `k8s`: Kubernetes; `js`, `ts`: JavaScript, TypeScript (after `.js`
///   suffixes of framework names are dropped, a lone `JS` is the language);
/// - `db`, `dbs`: database; `postgres`: PostgreSQL; `mongo`: MongoDB;
/// - `golang`: Go (`golang-pro` and "Go expert" meet);
/// - `nodejs`, `nextjs`, `vuejs`, `nuxtjs`, `reactjs`: the framework's name,
///   as `Node.js` and friends are tokenised;
/// - `auth`: authentication; `a11y`: accessibility; `i18n`:
///   internationalization; `l10n`: localization;
/// - `infra`: infrastructure; `perf`: performance; `repo(s)`: repository;
///   `doc(s)`: documentation; `config(s)`: configuration; `env`:
///   environment.
///
/// Deliberately absent: `ui` (interface work is frontend *and* design, and
/// agent files say "UI" themselves), `ml` (files write both "ML" and
/// "machine learning"; expanding it would make `learning` match tutorials),
/// `tf` (Terraform or TensorFlow).
pub const ALIASES: &[(&str, &str)] = &[
    ("a11y", "accessibility"),
    ("auth", "authentication"),
    ("config", "configuration"),
    ("configs", "configuration"),
    ("db", "database"),
    ("dbs", "databases"),
    ("doc", "documentation"),
    ("docs", "documentation"),
    ("env", "environment"),
    ("golang", "go"),
    ("i18n", "internationalization"),
    ("infra", "infrastructure"),
    ("js", "javascript"),
    ("k8s", "kubernetes"),
    ("l10n", "localization"),
    ("mongo", "mongodb"),
    ("nextjs", "next"),
    ("nodejs", "node"),
    ("nuxtjs", "nuxt"),
    ("perf", "performance"),
    ("postgres", "postgresql"),
    ("reactjs", "react"),
    ("repo", "repository"),
    ("repos", "repositories"),
    ("ts", "typescript"),
    ("vuejs", "vue"),
];

/// English function words: the list usually paired with the Snowball
/// stemmer (with the fragments contractions split into), plus a few more
/// such words (`every`, `many`, `per`, `without`, ...) that it lacks.
#[rustfmt::skip]
const ENGLISH: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "am", "among", "an", "and",
    "another", "any", "are", "aren", "as", "at", "be", "because", "been", "before", "being",
    "below", "between", "both", "but", "by", "can", "could", "couldn", "d", "did", "didn", "do",
    "does", "doesn", "doing", "don", "down", "during", "each", "either", "etc", "even", "ever",
    "every", "few", "for", "from", "further", "had", "hadn", "has", "hasn", "have", "haven",
    "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "however",
    "i", "if", "in", "into", "is", "isn", "it", "its", "itself", "just", "ll", "m", "ma", "many",
    "may", "me", "might", "mightn", "more", "most", "much", "mustn", "my", "myself", "needn", "no",
    "nor", "not", "now", "o", "of", "off", "on", "once", "one", "only", "onto", "or", "other",
    "our", "ours", "ourselves", "out", "over", "own", "per", "re", "s", "same", "shall", "shan",
    "she", "should", "shouldn", "so", "some", "still", "such", "t", "than", "that", "the", "their",
    "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through",
    "thus", "to", "too", "under", "until", "up", "upon", "ve", "very", "via", "was", "wasn", "we",
    "were", "weren", "what", "when", "where", "whether", "which", "while", "who", "whom", "whose",
    "why", "will", "with", "without", "won", "would", "wouldn", "y", "yet", "you", "your", "yours",
    "yourself", "yourselves",
];

/// The boilerplate of agent files: words nearly every description uses
/// ("Expert ... specialist. Use PROACTIVELY ... MUST BE USED"), the
/// vocabulary of `<example>` dialogue, role nouns that qualify rather than
/// describe (`pro`, `expert`, `master`), and the same boilerplate in the
/// French descriptions real libraries contain ("DOIT ÊTRE UTILISÉ pour").
#[rustfmt::skip]
const BOILERPLATE: &[&str] = &[
    // how descriptions tell Claude when to delegate
    "use", "uses", "using", "used", "proactively", "proactive", "must", "always", "whenever",
    "invoke", "delegate", "delegates", "trigger", "triggers", "e", "g", "eg", "ie",
    // example dialogue
    "example", "examples", "assistant", "user", "users", "commentary", "context",
    // what every agent calls itself
    "agent", "agents", "subagent", "expert", "experts", "expertise", "specialist", "specialists",
    "specialized", "specialised", "specializing", "specialising", "specializes", "specialises",
    "specialize", "specialise", "pro", "professional", "master", "masters", "mastering", "elite",
    "senior", "sophisticated", "highly", "modern", "advanced", "comprehensive", "best",
    "practices", "practice", "leverage", "leverages", "leveraging", "ensure", "ensures",
    "ensuring", "including", "includes", "task", "tasks", "also", "within", "across", "like",
    // French boilerplate and function words
    "doit", "être", "utilisé", "utilisée", "pour", "les", "des", "le", "la", "de", "du", "et",
    "en", "avec", "dans", "un", "une", "l", "spécialisé", "spécialisée",
];

/// Whether a lowercased word carries no meaning for ranking.
pub fn is_stopword(word: &str) -> bool {
    static STOPWORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    STOPWORDS
        .get_or_init(|| ENGLISH.iter().chain(BOILERPLATE).copied().collect())
        .contains(word)
}

/// The spelled-out form of an abbreviation, if [`ALIASES`] has one.
pub fn alias(word: &str) -> Option<&'static str> {
    ALIASES
        .binary_search_by(|(short, _)| short.cmp(&word))
        .ok()
        .map(|index| ALIASES[index].1)
}

/// Words whose Snowball stem would join a different meaning in software
/// work, kept apart: `accessibility` is not `access` (tokens, control),
/// `container` is not `contains`, `integrity` is not `integration`.
const STEM_EXCEPTIONS: &[(&str, &str)] = &[
    ("accessibility", "accessibility"),
    ("accessible", "accessibility"),
    ("container", "container"),
    ("containerization", "container"),
    ("containerize", "container"),
    ("containerized", "container"),
    ("containers", "container"),
    ("integrity", "integrity"),
];

/// The Snowball English stem of a lowercased word, except for the few
/// words in [`STEM_EXCEPTIONS`].
pub fn stem(word: &str) -> Cow<'_, str> {
    match STEM_EXCEPTIONS.binary_search_by(|(w, _)| w.cmp(&word)) {
        Ok(index) => Cow::Borrowed(STEM_EXCEPTIONS[index].1),
        Err(_) => Stemmer::create(Algorithm::English).stem(word),
    }
}

/// The terms of a text, in order.
pub fn terms(text: &str, style: Style) -> Vec<Term> {
    let mut out = Vec::new();
    for_each_word(text, style, |word| {
        out.push(Term {
            stem: stem(word).into_owned(),
            word: word.to_string(),
        });
    });
    out
}

/// Calls `f` with every word of `text` that survives splitting, aliases
/// and stopwords, lowercased but not stemmed (callers that see the same
/// word many times can cache its stem).
pub fn for_each_word(text: &str, style: Style, mut f: impl FnMut(&str)) {
    let mut lower = String::new();
    for run in Runs::new(text) {
        let raw = &text[run.start..run.end];
        let before = text[..run.start].chars().next_back();
        let after = &text[run.end..];
        lower.clear();
        lower.extend(raw.chars().flat_map(char::to_lowercase));
        // `Next.js`, `Node.js`: the framework's name says it all.
        if lower == "js" && before == Some('.') && preceded_by_word(text, run.start) {
            continue;
        }
        // An apostrophe's `s`: `today's`.
        if lower == "s" && matches!(before, Some('\'' | '\u{2019}')) {
            continue;
        }
        if lower == "net" && before == Some('.') {
            lower.replace_range(.., "dotnet");
        } else if after.starts_with("++") {
            lower.push_str("pp");
        } else if after.starts_with('#') && raw.chars().count() == 1 {
            lower.push_str("sharp");
        }
        emit(&lower, &mut f);
        if style == Style::Identifier {
            let parts = case_parts(raw);
            if parts.len() > 1 {
                for part in parts {
                    let part: String = part.chars().flat_map(char::to_lowercase).collect();
                    emit(&part, &mut f);
                }
            }
        }
    }
}

/// Applies aliases, stopwords and the letters-then-digits rule to one
/// lowercased run.
fn emit(word: &str, f: &mut impl FnMut(&str)) {
    let word = alias(word).unwrap_or(word);
    if word.chars().all(|c| c.is_ascii_digit()) || is_stopword(word) {
        return;
    }
    if word.chars().count() == 1 && !matches!(word, "c" | "r") {
        return;
    }
    f(word);
    // `oauth2` also counts as `oauth`, `vue3` as `vue`.
    let letters = word.trim_end_matches(|c: char| c.is_ascii_digit());
    if letters.len() < word.len()
        && letters.len() >= 3
        && letters.chars().all(char::is_alphabetic)
        && !is_stopword(letters)
    {
        f(alias(letters).unwrap_or(letters));
    }
}

/// Whether the character before `start`'s preceding dot is part of a word
/// (`next.js`, not `.js` alone).
fn preceded_by_word(text: &str, start: usize) -> bool {
    text[..start]
        .strip_suffix('.')
        .and_then(|head| head.chars().next_back())
        .is_some_and(char::is_alphanumeric)
}

/// Splits an identifier run at case changes: `backendArchitect` ->
/// `backend`, `Architect`; `HTTPServer` -> `HTTP`, `Server`. Digits stay
/// with the letters before them.
fn case_parts(run: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = run.char_indices().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..chars.len() {
        let (at, c) = chars[i];
        let prev = chars[i - 1].1;
        let next = chars.get(i + 1).map(|&(_, c)| c);
        let boundary = c.is_uppercase()
            && (prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next.is_some_and(char::is_lowercase)));
        if boundary {
            parts.push(&run[start..at]);
            start = at;
        }
    }
    parts.push(&run[start..]);
    parts
}

/// Byte ranges of the runs of letters and digits in a text.
struct Runs<'a> {
    text: &'a str,
    at: usize,
}

struct Run {
    start: usize,
    end: usize,
}

impl<'a> Runs<'a> {
    fn new(text: &'a str) -> Self {
        Runs { text, at: 0 }
    }
}

impl Iterator for Runs<'_> {
    type Item = Run;

    fn next(&mut self) -> Option<Run> {
        let rest = &self.text[self.at..];
        let offset = rest.find(char::is_alphanumeric)?;
        let start = self.at + offset;
        let end = self.text[start..]
            .find(|c: char| !c.is_alphanumeric())
            .map_or(self.text.len(), |len| start + len);
        self.at = end;
        Some(Run { start, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, style: Style) -> Vec<String> {
        terms(text, style).into_iter().map(|t| t.word).collect()
    }

    fn stems(text: &str) -> Vec<String> {
        terms(text, Style::Prose)
            .into_iter()
            .map(|t| t.stem)
            .collect()
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(ENGLISH.windows(2).all(|w| w[0] < w[1]));
        assert!(ALIASES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(STEM_EXCEPTIONS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn splits_on_punctuation_and_lowercases() {
        assert_eq!(
            words("Set up CI/CD for K8S", Style::Prose),
            ["set", "ci", "cd", "kubernetes"]
        );
        assert_eq!(
            words("backend-architect", Style::Identifier),
            ["backend", "architect"]
        );
        assert_eq!(
            words("data_engineer", Style::Identifier),
            ["data", "engineer"]
        );
    }

    #[test]
    fn identifiers_split_at_case_changes_and_keep_the_whole() {
        assert_eq!(
            words("backendArchitect", Style::Identifier),
            ["backendarchitect", "backend", "architect"]
        );
        assert_eq!(
            words("HTTPServer", Style::Identifier),
            ["httpserver", "http", "server"]
        );
        // Prose keeps product names whole.
        assert_eq!(
            words("JavaScript and GraphQL", Style::Prose),
            ["javascript", "graphql"]
        );
    }

    #[test]
    fn keeps_language_names_that_punctuation_would_destroy() {
        assert_eq!(
            words("C# and C++ on .NET", Style::Prose),
            ["csharp", "cpp", "dotnet"]
        );
        assert_eq!(
            words("ASP.NET Core", Style::Prose),
            ["asp", "dotnet", "core"]
        );
        assert_eq!(
            words("Next.js with Node.js", Style::Prose),
            ["next", "node"]
        );
        assert_eq!(words("plain JS", Style::Prose), ["plain", "javascript"]);
        assert_eq!(words("write it in C", Style::Prose), ["write", "c"]);
    }

    #[test]
    fn versions_do_not_hide_the_product() {
        assert_eq!(
            words("OAuth2 in Vue3", Style::Prose),
            ["oauth2", "oauth", "vue3", "vue"]
        );
        assert_eq!(words("EC2 and S3", Style::Prose), ["ec2", "s3"]);
        assert_eq!(
            words("the 3 services on port 8080", Style::Prose),
            ["services", "port"]
        );
    }

    #[test]
    fn drops_stopwords_and_boilerplate() {
        assert!(
            words(
                "Use PROACTIVELY: MUST BE USED by the agent, an expert specialist.",
                Style::Prose
            )
            .is_empty()
        );
        assert_eq!(
            words("the user's profile page", Style::Prose),
            ["profile", "page"]
        );
        assert_eq!(
            words("DOIT ÊTRE UTILISÉ pour Django", Style::Prose),
            ["django"]
        );
    }

    #[test]
    fn stems_meet_across_word_forms() {
        assert_eq!(
            stems("deploying deployment deploys"),
            ["deploy", "deploy", "deploy"]
        );
        assert_eq!(stems("tests testing"), ["test", "test"]);
        assert_eq!(stem("optimization"), stem("optimizing"));
        assert_ne!(stem("accessibility"), stem("access"));
        assert_eq!(stem("containers"), stem("containerized"));
    }

    #[test]
    fn unicode_text_does_not_panic() {
        let text = "Ünïcödé — em dash, U+2011‑hyphen, emoji 🔴 and 日本語";
        let all = words(text, Style::Identifier);
        assert!(all.contains(&"ünïcödé".to_string()));
    }
}
