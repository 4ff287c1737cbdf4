//! Planning: who does each task, in what order, and what could go wrong.
//!
//! `text` and `assign` rank agents for a task; `staffing` picks one per
//! task; `graph` and `schedule` order the work under the limits;
//! `overlap` finds parallel tasks that may edit the same files; `risk`
//! says what could go wrong; `blueprint` puts it all together.

pub mod assign;
pub mod blueprint;
pub mod graph;
pub mod overlap;
pub mod risk;
pub mod schedule;
pub mod staffing;
pub mod text;
