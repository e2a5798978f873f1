//! The scenario library embedded in the binary at build time (see
//! `build.rs`), used when no PATH is given.
//!
//! It is written out once to a directory under the system's temporary
//! directory, named after the binary's version and a hash of the content,
//! so that the loader and the snapshot checks read it like any library and
//! two binaries never share a stale copy. The checkout the binary was built
//! from is never read.

use std::path::PathBuf;

include!(concat!(env!("OUT_DIR"), "/library.rs"));

/// How reports name a file of the embedded library.
pub(crate) const DISPLAY_ROOT: &str = "<embedded>";

/// FNV-1a over every name and content: cheap, stable across builds.
fn content_hash() -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, text) in FILES {
        for b in name.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The directory holding the embedded `scenarios/` (and `snapshots/`),
/// written out on first use.
pub(crate) fn scenarios_dir() -> Result<PathBuf, String> {
    if FILES.is_empty() {
        return Err(
            "this binary was built without a scenario library; give a scenario PATH".into(),
        );
    }
    let base = std::env::temp_dir().join(format!(
        "conformance-library-{}-{:016x}",
        env!("CARGO_PKG_VERSION"),
        content_hash()
    ));
    let done = base.join(".complete");
    if !done.is_file() {
        // Write a private copy, then move it into place: runs started at
        // once never see a half-written library.
        let staging = base.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        let write = || -> std::io::Result<()> {
            for (name, text) in FILES {
                let path = staging.join(name);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(path, text)?;
            }
            std::fs::write(staging.join(".complete"), "")
        };
        write().map_err(|e| format!("cannot write the embedded scenario library: {e}"))?;
        if std::fs::rename(&staging, &base).is_err() {
            // Another run moved its copy first; it is the same content.
            let _ = std::fs::remove_dir_all(&staging);
            if !done.is_file() {
                return Err(format!(
                    "cannot write the embedded scenario library to {}",
                    base.display()
                ));
            }
        }
    }
    Ok(base.join("scenarios"))
}
