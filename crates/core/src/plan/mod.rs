//! Planning: who does each task, in what order, and what could go wrong.
//!
//! `text` and `assign` rank agents for a task; `staffing` picks one per
//! task; `graph` and `schedule` order the work under the limits;
//! `overlap` finds parallel tasks that may edit the same files; `risk`
//! says what could go wrong; `blueprint` puts it all together.
//!
//! Planning from an objective: `request` is what a planning agent is
//! asked, `draft` turns its answer into a checked mission file,
//! `template` plans without a model, and `capacity` checks the hours
//! each agent has before the deadline.

pub mod assign;
pub mod blueprint;
pub mod capacity;
pub mod draft;
pub mod graph;
pub mod overlap;
pub mod request;
pub mod risk;
pub mod schedule;
pub mod staffing;
pub mod template;
mod template_data;
pub mod text;
mod yaml_text;
