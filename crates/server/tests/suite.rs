//! Every integration test of this crate, in one binary: one link
//! instead of one per file keeps a clean build's disk use and link
//! time small (see docs/testing.md). Run one file's tests with
//! `cargo test -p techlead-server --test suite <file>::`.

mod api;
mod dashboard;
mod decide;
mod feed;
mod metrics;
mod openapi;
mod portfolio;
mod postgres;
mod support;
mod views;
mod ws;
