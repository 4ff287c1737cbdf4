#!/bin/sh
# Stands in for a coding agent (module-dev): writes the new module
# src/frequency.rs with its unit tests, and declares it in src/lib.rs.
set -eu
echo "::progress 10 designing the frequency API"
sleep 0.3
cat > src/frequency.rs <<'RUST'
//! How often each word occurs.

use std::collections::HashMap;

/// The `n` most common words with their counts, most frequent first, ties
/// in alphabetical order. Words are runs of letters and digits, compared
/// without case.
pub fn most_common(text: &str, n: usize) -> Vec<(String, usize)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if !word.is_empty() {
            *counts.entry(word.to_lowercase()).or_insert(0) += 1;
        }
    }
    let mut common: Vec<(String, usize)> = counts.into_iter().collect();
    common.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    common.truncate(n);
    common
}

#[cfg(test)]
mod tests {
    use super::most_common;

    fn owned(pairs: &[(&str, usize)]) -> Vec<(String, usize)> {
        pairs
            .iter()
            .map(|&(word, n)| (word.to_string(), n))
            .collect()
    }

    #[test]
    fn most_frequent_first_then_alphabetical() {
        let text = "the cat and the dog and THE bird";
        assert_eq!(
            most_common(text, 3),
            owned(&[("the", 3), ("and", 2), ("bird", 1)])
        );
    }

    #[test]
    fn punctuation_is_not_part_of_a_word() {
        assert_eq!(most_common("Stop. stop, STOP!", 5), owned(&[("stop", 3)]));
    }

    #[test]
    fn empty_text_has_no_words() {
        assert!(most_common("  ...  ", 3).is_empty());
    }
}
RUST
echo "::progress 60 wrote src/frequency.rs"
echo "::decision words are compared in lower case, and ties sort alphabetically so results are stable"
echo "pub mod frequency;" >> src/lib.rs
sleep 0.3
echo "::progress 90 declared the module in src/lib.rs"
echo "::artifact src/frequency.rs"
echo "::summary added the frequency module (most_common) with three tests"
