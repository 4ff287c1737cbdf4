//! Planning: who does each task, in what order, and what could go wrong.

pub mod assign;
pub mod graph;
pub mod risk;
pub mod schedule;
pub mod text;
