//! Links the `techlead` binary with packed relative relocations (`DT_RELR`,
//! `-z pack-relative-relocs`): a position-independent binary of this size
//! has some 26,000 relative relocations, which the dynamic loader reads and
//! applies at every start. Packed, their table is 7 KB instead of 610 KB,
//! and a run's peak RSS is 1.5 to 2 MB smaller (bench/README.md, "Memory").
//!
//! Such a binary starts only on glibc 2.36 or later (Debian 12, Ubuntu
//! 22.10), so the option is used only when building for this machine and
//! its glibc is that recent: elsewhere (Ubuntu 22.04's 2.35, a cross
//! build) the binary is linked as before. The linker must know the option:
//! rust-lld, Rust's default on Linux, and GNU ld 2.38 do.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if packs_relocations() {
        println!("cargo:rustc-link-arg-bin=techlead=-Wl,-z,pack-relative-relocs");
    }
}

fn packs_relocations() -> bool {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let native = var("TARGET") == var("HOST");
    native
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && glibc_version().is_some_and(|version| version >= (2, 36))
}

/// This machine's glibc, from `getconf GNU_LIBC_VERSION` ("glibc 2.36").
fn glibc_version() -> Option<(u32, u32)> {
    let output = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let (major, minor) = text.trim().strip_prefix("glibc ")?.split_once('.')?;
    let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}
