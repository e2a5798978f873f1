//! Links the `mock-server` binary as a position-dependent executable on Linux.
//!
//! A position-independent executable carries a relocation for every pointer
//! in its read-only data (vtables, string tables): about a third of a
//! megabyte here, which the loader reads and applies at every start, making
//! a private copy of each page it writes. A position-dependent executable has
//! them resolved at link time, so an idle server maps about a megabyte less
//! (docs/performance.md). The only thing given up is the randomised load
//! address of the binary itself; libraries, stack and heap stay randomised.
//! The library and the tests are built as before.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=mock-server=-no-pie");
    }
}
