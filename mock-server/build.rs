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
//!
//! It also writes the embedded default world as JSON (`OUT_DIR/default-world.json`),
//! keys in the YAML file's order: reading it at start-up then takes the JSON
//! parser, which every server runs anyway, instead of the YAML parser, whose
//! code (a few hundred kilobytes) would otherwise be paged in by every idle
//! server. The YAML file stays the source; a test checks that both read alike.
use std::path::PathBuf;

const DEFAULT_WORLD: &str = "../scenarios/fixtures/default.yaml";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={DEFAULT_WORLD}");
    let yaml = std::fs::read_to_string(DEFAULT_WORLD)
        .unwrap_or_else(|e| panic!("cannot read {DEFAULT_WORLD}: {e}"));
    let world: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml)
        .unwrap_or_else(|e| panic!("{DEFAULT_WORLD} is not valid YAML: {e}"));
    let json = serde_json::to_string(&world)
        .unwrap_or_else(|e| panic!("{DEFAULT_WORLD} has no JSON form: {e}"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("default-world.json"), json)
        .unwrap_or_else(|e| panic!("cannot write the default world's JSON: {e}"));
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=mock-server=-no-pie");
    }
}
