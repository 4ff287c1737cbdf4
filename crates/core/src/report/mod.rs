//! The mission report (`techlead report`, docs/report.md): outcome,
//! timeline against the plan and the deadline, cost, quality gates,
//! escalations and decisions, lessons and the definition of done, for an
//! executive or an engineering audience.
//!
//! `build` derives a [`Report`] from the record (the folded state and the
//! events); `markdown` and `html` write it. The HTML page stands alone:
//! inline CSS and SVG charts drawn here (`chart`), no script, nothing
//! fetched. Every text from a mission file or an agent is escaped by the
//! writer that prints it.

mod attempts;
mod build;
mod chart;
mod html;
mod lessons;
mod markdown;
mod model;
mod planned;
mod summary;
mod text;

pub use build::{Inputs, build};
pub use html::html;
pub use markdown::markdown;
pub use model::{
    AttemptBar, AttemptResult, Audience, BurnUp, Cost, DoneLine, EscalationLine, Forecast,
    GateLine, Lesson, Outcome, Planned, Report, TaskLine, Timeline,
};
