//! Every integration test of this crate, in one binary: one link
//! instead of one per file keeps a clean build's disk use and link
//! time small (see docs/testing.md). Run one file's tests with
//! `cargo test -p techlead-engine --test suite <file>::`.

mod command_executor;
mod corpus;
mod forecast;
mod library;
mod mission;
mod simulate;
mod webhook;
mod workspace;
