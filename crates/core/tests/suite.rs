//! Every integration test of this crate, in one binary: one link
//! instead of one per file keeps a clean build's disk use and link
//! time small (see docs/testing.md). Run one file's tests with
//! `cargo test -p techlead-core --test suite <file>::`.

mod agents;
mod agents_robust;
mod assign_accuracy;
mod blueprint;
mod external;
mod forecast;
mod forecast_calibration;
mod history;
mod overlap;
mod purity;
mod report;
mod slots;
mod spec;
mod state;
