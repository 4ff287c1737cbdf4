//! Every integration test of this crate, in one binary: one link
//! instead of one per file keeps a clean build's disk use and link
//! time small (see docs/testing.md). Run one file's tests with
//! `cargo test -p techlead-fakes --test suite <file>::`.

mod anthropic;
mod claude_code;
mod codex;
mod gemini;
mod openai;
mod support;
