//! techlead's I/O edge. For now: finding and reading agent files on disk.

pub mod executor;
pub mod library;
