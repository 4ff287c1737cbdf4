#!/bin/sh
# Stands in for a coding agent (docs-writer, second task): runs after the
# Build phase, on the integration branch where all three changes are
# merged, and writes the changelog from what it finds there.
set -eu
echo "::progress 20 reading the merged work"
grep -q 'pub fn sentences' src/count.rs
grep -q 'pub fn most_common' src/frequency.rs
grep -q '## Usage' README.md
cat > CHANGELOG.md <<'MD'
# Changelog

## Unreleased

- `count::sentences`: the number of sentences in a text.
- `frequency::most_common`: the most common words, with their counts.
- README: usage, and `examples/stats.rs` to try it on any text.
MD
echo "::artifact CHANGELOG.md"
echo "::summary wrote CHANGELOG.md for the three merged changes"
