//! Text statistics: counts of words, lines and characters.

pub mod count;
