//! Embeds the scenario library (`scenarios/`) and its snapshots
//! (`snapshots/`) in the binary, so that a copied binary runs the library
//! it was built with and never reads the checkout it was built from.
//!
//! Hand-written rather than `include_dir`: a dozen lines that also tell
//! cargo to rebuild when a scenario file changes (a proc macro cannot).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repo = manifest.join("..");
    let mut code = String::from("pub(crate) static FILES: &[(&str, &str)] = &[\n");
    for top in ["scenarios", "snapshots"] {
        let dir = repo.join(top);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files = Vec::new();
        walk(&dir, &mut files);
        files.sort();
        for f in files {
            let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !matches!(ext, "yaml" | "yml" | "json" | "snap" | "md") {
                continue;
            }
            let rel = f.strip_prefix(&repo).expect("below the repository");
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let abs = f.canonicalize().expect("a readable file");
            let _ = writeln!(
                code,
                "    ({:?}, include_str!({:?})),",
                rel.join("/"),
                abs.display().to_string()
            );
        }
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("library.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
