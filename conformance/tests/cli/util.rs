//! Shared helpers: run the binary, start small HTTP servers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub(crate) fn scenarios() -> PathBuf {
    repo().join("scenarios")
}

/// Run the built binary with `args`, with NUMORA_API_KEY cleared.
pub(crate) fn conformance(args: &[&str]) -> Output {
    conformance_in(&repo(), args)
}

/// Run the built binary in the working directory `dir`.
pub(crate) fn conformance_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args(args)
        .env_remove("NUMORA_API_KEY")
        .env("INSTA_UPDATE", "no")
        .current_dir(dir)
        .output()
        .expect("the conformance binary runs")
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch directory unique to the test.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("conformance-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Serve `router` on an ephemeral loopback port in a background thread
/// with its own runtime; returns the origin.
pub(crate) fn serve(router: axum::Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr"))
                .expect("send addr");
            axum::serve(listener, router).await.expect("serve");
        });
    });
    format!("http://{}", rx.recv().expect("server address"))
}
