#!/bin/sh
# Stands in for a coding agent (feature-dev): adds count::sentences and its
# unit tests to src/count.rs. Runs in the task's own git worktree; techlead
# commits what it leaves there to the task's branch.
set -eu
echo "::progress 10 reading src/count.rs"
grep -q 'pub fn chars' src/count.rs
sleep 0.3
echo "::progress 50 adding count::sentences"
cat >> src/count.rs <<'RUST'

/// The number of sentences: runs of text ended by `.`, `!` or `?`, plus a
/// last one without an end mark.
pub fn sentences(text: &str) -> usize {
    text.split(['.', '!', '?'])
        .filter(|sentence| !sentence.trim().is_empty())
        .count()
}

#[cfg(test)]
mod sentence_tests {
    use super::sentences;

    #[test]
    fn counts_sentences_by_their_end_marks() {
        assert_eq!(sentences("One. Two! Three?"), 3);
        assert_eq!(sentences("No end mark"), 1);
        assert_eq!(sentences("Wait... what?"), 2);
        assert_eq!(sentences(""), 0);
    }
}
RUST
echo "::decision count an ellipsis as one sentence end: empty runs between end marks are dropped"
sleep 0.3
echo "::progress 90 added two tests"
echo "::summary added count::sentences with its tests in src/count.rs"
