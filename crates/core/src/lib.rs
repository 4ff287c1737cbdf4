//! techlead's pure domain: mission specs, agent files and planning.
//!
//! Nothing here touches the filesystem, the clock, the environment, a
//! database or an async runtime. Callers hand in text and time; this crate
//! hands back plain data and diagnostics. That keeps every rule testable
//! directly and usable from the CLI, the engine and the server alike.

pub mod agents;
pub mod budget;
pub mod diagnostic;
pub mod dispatch;
pub mod fingerprint;
pub mod forecast;
pub mod history;
pub mod plan;
pub mod portfolio;
pub mod priority;
pub mod prompt;
pub mod report;
pub mod retry;
pub mod review;
pub mod spec;
pub mod spend;
pub mod state;
pub mod webhook;
pub mod work;
mod yaml;

pub use diagnostic::{Diagnostic, Severity, SourceSpan};
pub use priority::Priority;
