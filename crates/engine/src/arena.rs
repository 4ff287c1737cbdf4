//! One malloc arena for the process that drives a mission.
//!
//! glibc gives each thread that allocates while another holds the main
//! arena an arena of its own, and keeps what those arenas freed. A run
//! has one thread that owns the mission and short-lived blocking threads
//! (the store's commits, the live forecast) whose allocations then sit in
//! arenas of their own beside the memory start-up freed, instead of
//! reusing it: 1.5 to 2 MB more peak RSS at 10,000 tasks (bench/README.md,
//! "Memory"). The threads rarely allocate at the same moment, so sharing
//! the main arena costs no measurable time.
//!
//! `mallopt` is an FFI call, hence the second `unsafe` block in techlead
//! (docs/executors.md, "Cost per attempt", has the first and the policy).

#![allow(unsafe_code)]

/// Makes every thread of this process allocate from glibc's main arena.
/// Call it before the process starts a thread; elsewhere than glibc it
/// does nothing.
pub fn share_one() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt changes a parameter of malloc and is called before
    // any other thread exists; a refusal (0) leaves the default, which is
    // only larger.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
