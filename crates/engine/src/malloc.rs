//! glibc malloc's settings for the process that drives a mission.
//!
//! - **One arena.** glibc gives each thread that allocates while another
//!   holds the main arena an arena of its own, and keeps what those arenas
//!   freed. A run has one thread that owns the mission and short-lived
//!   blocking threads (the store's commits, the live forecast), whose
//!   allocations then sat in arenas of their own beside the memory
//!   start-up freed instead of reusing it. The threads rarely allocate at
//!   the same moment, so sharing the main arena costs no measurable time.
//! - **A fixed mmap threshold** (128 KiB, glibc's starting value). glibc
//!   raises the threshold to the size of each large block freed, so after
//!   start-up wrote the plan's JSON (2.7 MB at 10,000 tasks) every later
//!   block under that size came from the heap, which fragments and never
//!   shrinks; fixed, a large block is its own mapping, returned when freed.
//!
//! Together 2 to 2.5 MB less peak RSS at 10,000 tasks (bench/README.md,
//! "Memory"). `mallopt` is an FFI call, hence the second module with
//! `unsafe` in techlead (docs/executors.md, "Cost per attempt", has the
//! first and the policy).

#![allow(unsafe_code)]

/// Sets malloc up for a run. Call it before the process starts a thread;
/// elsewhere than glibc it does nothing.
pub fn tune_for_run() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt changes parameters of malloc and is called before
    // any other thread exists; a refusal (0) leaves glibc's default.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
