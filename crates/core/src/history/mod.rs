//! What past missions teach (docs/history.md): each task's outcome
//! (`outcome`) and kind (`kind`), the figures per agent and per (agent,
//! kind) that assignment and risk lean on (`stats`), the record as a
//! whole with the work still under way (`past`), and past missions like
//! a new one with their lessons (`similar`).
//!
//! Everything here is a pure function of folded missions
//! ([`crate::state::MissionState`]); reading them from a store is the
//! caller's part.

mod kind;
pub mod outcome;
pub mod past;
pub mod similar;
pub mod stats;

pub use kind::TaskKind;
pub use outcome::{AgentPart, TaskOutcome, outcomes};
pub use past::{Commitment, History, MIN_SAMPLES, PastMission};
pub use similar::SimilarMission;
pub use stats::AgentStats;
