//! History: what past missions teach (`techlead_core::history`) and how
//! planning uses it.

mod outcome;
mod planning;
mod support;
