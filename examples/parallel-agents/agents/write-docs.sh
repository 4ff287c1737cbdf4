#!/bin/sh
# Stands in for a coding agent (docs-writer): writes the README's usage
# section and a runnable example, examples/stats.rs (cargo test builds it,
# so the gate checks that the documented calls compile).
set -eu
echo "::progress 10 reading the public API"
sleep 0.3
cat > README.md <<'MD'
# textstats

Counts words, lines and characters in text. No dependencies.

## Usage

```rust
use textstats::count;

let text = "The quick brown fox.\nIt jumps.\n";
assert_eq!(count::words(text), 6);
assert_eq!(count::lines(text), 2);
assert_eq!(count::chars("héllo"), 5); // characters, not bytes
```

## Try it

```sh
echo "some text to count" | cargo run --example stats
```

## Tests

```sh
cargo test
```
MD
echo "::progress 60 wrote the README"
mkdir -p examples
cat > examples/stats.rs <<'RUST'
//! Prints the statistics of the text on stdin:
//! `echo "some text" | cargo run --example stats`.

use std::io::Read;
use textstats::count;

fn main() {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .expect("stdin is text");
    println!("words: {}", count::words(&text));
    println!("lines: {}", count::lines(&text));
    println!("characters: {}", count::chars(&text));
}
RUST
echo "::decision document with a runnable example rather than doctests, so the README stays short"
sleep 0.3
echo "::artifact examples/stats.rs"
echo "::summary wrote the README usage section and examples/stats.rs"
