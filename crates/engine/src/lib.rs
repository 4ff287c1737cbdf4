//! techlead's I/O edge: agent files on disk, executors that run agents,
//! and the mission actor that drives a mission durably.

pub mod executor;
pub mod forecast;
pub mod git;
pub mod library;
pub mod malloc;
pub mod mission;
pub mod orphans;
pub mod webhook;
pub mod worker;
pub mod workspace;
