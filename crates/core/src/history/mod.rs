//! What past missions teach: each task's outcome (`outcome`), its kind
//! (`kind`), and the figures planning leans on (docs/history.md).
//!
//! Everything here is a pure function of folded missions
//! ([`crate::state::MissionState`]); reading them from a store is the
//! caller's part.

mod kind;
pub mod outcome;

pub use kind::TaskKind;
pub use outcome::{AgentPart, TaskOutcome, outcomes};
