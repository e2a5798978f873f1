//! `conformance`: replays YAML scenarios against the Numora fake or any
//! real deployment and reports where the target breaks the documented
//! contract.
//!
//! The harness speaks HTTP only. It never reads the fake's code or types
//! (one exception: [`target::embedded`] starts the fake in-process through
//! its public builder), so it can catch the fake's own bugs.
//!
//! # Layout
//!
//! - [`cli`] raw arguments (clap) → [`config`] validated configuration.
//! - [`scenario`] the YAML format: [`scenario::model`] serde types,
//!   [`scenario::parse`] located errors and validation,
//!   [`scenario::template`] `{{var}}` interpolation.
//! - [`target`] what a run talks to: [`target::remote`] probes a URL,
//!   `target::embedded` starts the fake; [`target::Session`] is one
//!   scenario's client, and refuses writes the run may not make.
//! - [`runner`] executes steps and checks expectations; returns
//!   [`runner::result::RunReport`] and never prints.
//! - [`report`] human text with diffs, JSON, JUnit.
//! - [`listen`] a webhook receiver that verifies signatures.
//! - [`props`] model-based property tests (`conformance props`).
//! - [`audit`] the fake's verdicts on a client (`conformance audit`).
//! - [`sweep`] a client command under every failure case (`conformance sweep`).
//! - [`app`] the commands, from configuration to exit code.
//!
//! # Public surface
//!
//! The binary is the product; the library exposes only what the binary
//! and the black-box tests need: [`main`], [`check_scenario_text`],
//! [`scenario_files`], [`ScenarioError`] and, with the `embedded` feature,
//! [`start_embedded_fake`]. Everything else is `pub(crate)`.

#![warn(unreachable_pub, missing_debug_implementations)]

pub(crate) mod app;
pub(crate) mod audit;
pub(crate) mod cli;
pub(crate) mod compare;
pub(crate) mod config;
pub(crate) mod coverage;
pub(crate) mod error;
pub(crate) mod library;
pub(crate) mod listen;
pub(crate) mod props;
pub(crate) mod report;
pub(crate) mod runner;
pub(crate) mod scenario;
pub(crate) mod style;
pub(crate) mod sweep;
pub(crate) mod target;

use std::path::{Path, PathBuf};

pub use scenario::location::{ErrorKind, Location, ScenarioError};

/// Parse the process's command line, run the command, and return the exit
/// status: 0 all passed, 1 a check failed, 2 usage or scenario error.
pub fn main() -> u8 {
    cli::main()
}

/// Parse and validate one scenario file's text, as `conformance check`
/// does; `path` is only used in error locations.
pub fn check_scenario_text(path: &Path, text: &str) -> Result<(), ScenarioError> {
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    scenario::parse(path, &id, text).map(|_| ())
}

/// The scenario files of a library directory (or the file itself), sorted.
pub fn scenario_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    scenario::parse::discover(root)
}

/// The fake, started in-process on an ephemeral loopback port, as a run
/// without `--target` starts it. Stops when dropped.
#[cfg(feature = "embedded")]
#[derive(Debug)]
pub struct EmbeddedFake {
    /// Its origin, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    _target: target::Target,
}

/// Start the fake in-process with `seed` and without its control API, as
/// a stand-in for a real deployment (call inside a Tokio runtime); its
/// world is `fixtures_yaml` when given (a fixture file's text).
#[cfg(feature = "embedded")]
pub async fn start_embedded_fake_without_control(
    seed: u64,
    fixtures_yaml: Option<String>,
) -> Result<EmbeddedFake, String> {
    let t = target::embedded::start_without_control(seed, fixtures_yaml).await?;
    Ok(EmbeddedFake {
        url: t.url.clone(),
        _target: t,
    })
}

/// Start the fake in-process with `seed` (call inside a Tokio runtime).
#[cfg(feature = "embedded")]
pub async fn start_embedded_fake(seed: u64) -> Result<EmbeddedFake, String> {
    let t = target::embedded::start(seed, None).await?;
    Ok(EmbeddedFake {
        url: t.url.clone(),
        _target: t,
    })
}
