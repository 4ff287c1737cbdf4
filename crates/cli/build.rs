//! Links the `techlead` binary with packed relative relocations (`DT_RELR`,
//! `-z pack-relative-relocs`): a position-independent binary of this size
//! has some 26,000 relative relocations, which the dynamic loader reads and
//! applies at every start. Packed, their table is 7 KB instead of 610 KB,
//! and a run's peak RSS is 1.5 to 2 MB smaller (bench/README.md, "Memory").
//! Needs glibc 2.36 at run time (Debian 12 and later) and a linker that
//! knows the option (rust-lld, Rust's default on Linux, or GNU ld 2.38).

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bin=techlead=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
