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
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! use std::sync::Arc;
//! let (scenarios, errors) = conformance::scenario::load_all(&["scenarios".into()]);
//! assert!(errors.is_empty());
//! let target = conformance::target::remote::connect("http://127.0.0.1:4010", None, false, None).await?;
//! let opts = conformance::runner::RunOptions {
//!     jobs: 4,
//!     vars: Default::default(),
//!     snapshots: conformance::runner::snapshot::SnapshotConfig { dir: "snapshots".into(), update: false },
//! };
//! let report = conformance::runner::run_all(scenarios, Arc::new(target), Arc::new(opts), Arc::new(conformance::runner::Quiet)).await;
//! println!("{}", report.summary_line());
//! # Ok(()) }
//! ```

pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod error;
pub mod listen;
pub mod props;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod sweep;
pub mod target;
