//! Every integration test of this crate, in one binary: one link
//! instead of one per file keeps a clean build's disk use and link
//! time small (see docs/testing.md). Run one file's tests with
//! `cargo test -p techlead-cli --test suite <file>::`.

mod budget;
mod claims;
mod cli;
mod cost;
mod crash;
mod cross_mission;
mod decisions;
mod done;
mod emergency;
mod escalations;
mod example_parallel_agents;
mod example_portfolio;
mod faults;
mod forecast;
mod history;
mod land;
mod logs;
mod mcp;
mod overlap;
mod plan_objective;
mod portfolio;
mod postgres;
mod prompt;
mod rate_limit;
mod report;
mod serve;
mod shares;
mod split;
mod support;
mod watch;
mod webhooks;
mod workers;
mod workspaces;
