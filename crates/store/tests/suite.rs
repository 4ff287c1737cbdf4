//! Every integration test of this crate, in one binary: one link
//! instead of one per file keeps a clean build's disk use and link
//! time small (see docs/testing.md). Run one file's tests with
//! `cargo test -p techlead-store --test suite <file>::`.

mod postgres;
mod slots;
mod sqlite;
mod store;
mod support;
mod webhook_deliveries;
mod work;
