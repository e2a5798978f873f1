//! `bench`: the fake's performance against a bare axum server, in one run.
//!
//! Run through `bash bench/run.sh`, which builds the workspace in release and
//! calls this binary with the directory holding `mock-server`, `baseline` and
//! `conformance`. It measures, all on loopback and every loop bounded in count
//! and time:
//!
//! 1. start-up to the first successful response and resident memory (idle,
//!    and with 100,000 documents loaded from a generated fixture);
//! 2. requests/s, p50/p99 latency and server CPU time per request under
//!    `wrk -t1 -c32`, for the fake and for the baseline: a document read and
//!    a delivery callback on the embedded default world (the fake as users
//!    run it), and an outbox page of 100 against the baseline serving the
//!    same page's bytes; then the journal's memory per call;
//! 3. scaling: an outbox page at 1k vs 100k eligible documents, a delivery
//!    callback with 1 vs 10,000 prior attempts, and 1,000 dispatch flows;
//! 4. the wall time of the scenario library against the embedded fake;
//!
//! and prints a `PASS`/`FAIL` line per target. See docs/performance.md.

// A benchmark measures wall time; .clippy.toml bans the OS clock so that it
// never reaches the fake's responses, which this crate does not serve.
#![allow(clippy::disallowed_methods)]

mod fixtures;
mod http;
mod journal;
mod memory;
mod process;
mod report;
mod scaling;
mod servers;
mod throughput;
mod wrk;

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use fixtures::World;
use journal::journal_memory;
use process::Server;
use report::*;
use scaling::{callback_scaling, dispatch_flows, outbox_scaling, scenario_library};
use servers::*;
use throughput::*;
use wrk::{Load, Measured};

/// The default world's API key (kept in every generated fixture).
const KEY: &str = "sk_test_numora_mock_default";
/// A document of the default world (the start-up probe).
const DEFAULT_DOC: &str = "4be38121-3791-4856-80d5-c57dbec2cf78";
/// How many times start-up is measured (the median is judged).
const STARTS: usize = 10;
/// Callbacks per case and round of the "flat in prior attempts" check.
const CALLBACKS: usize = 10_000;
/// Rounds of that check (each round posts to fresh one-attempt documents).
const CALLBACK_ROUNDS: usize = 4;
/// How long a bounded callback case may take at most (wrk waits it out).
const CALLBACK_CAP: Duration = Duration::from_secs(3);
/// Callback documents of world-1k (an open-ended callback load rotates over them).
const THROUGHPUT_CALLBACK_DOCS: usize = 1_000;
/// Prior attempts of the long-history document.
const HISTORY: usize = 10_000;
/// Dispatch flows driven through the control API.
const FLOWS: usize = 1_000;
/// Runs of the scenario library (the median is judged).
const CONFORMANCE_RUNS: usize = 3;

struct Config {
    bin_dir: PathBuf,
    repo: PathBuf,
    work_dir: PathBuf,
    wrk: PathBuf,
    duration: Duration,
    warmup: Duration,
    rounds: usize,
    strict: bool,
    /// The phases to run (all when empty).
    only: Vec<String>,
}

/// The phases, by the names `--only` takes.
const PHASES: [&str; 10] = [
    "startup",
    "cpu",
    "journal",
    "outbox-scaling",
    "callback-scaling",
    "flows",
    "loading",
    "million",
    "workspaces",
    "library",
];

const USAGE: &str = "usage: bench [--bin-dir DIR] [--repo DIR] [--work-dir DIR] [--wrk PATH] \
                     [--duration SECONDS] [--rounds N] [--only PHASE,...] [--strict]

  --bin-dir DIR       where mock-server, baseline and conformance are (default: next to bench)
  --repo DIR          the workspace root (default: where bench was built from)
  --work-dir DIR      generated fixtures and server logs (default: BIN_DIR/bench-work)
  --wrk PATH          the wrk binary (default: wrk)
  --duration SECONDS  length of each measured wrk phase (default: 5, at most 60)
  --rounds N          interleaved rounds per comparison (default: 3, at most 10)
  --only PHASE,...    run only these phases: startup, cpu, journal, outbox-scaling,
                      callback-scaling, flows, loading, million, workspaces,
                      library (default: all)
  --strict            exit 1 when a target fails";

impl Config {
    fn from_args() -> Result<Config, String> {
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        let mut bin_dir = exe_dir;
        let mut repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut work_dir = None;
        let mut wrk = PathBuf::from("wrk");
        let mut seconds = 5u64;
        let mut rounds = 3usize;
        let mut strict = false;
        let mut only = Vec::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                "--bin-dir" => bin_dir = PathBuf::from(value("--bin-dir")?),
                "--repo" => repo = PathBuf::from(value("--repo")?),
                "--work-dir" => work_dir = Some(PathBuf::from(value("--work-dir")?)),
                "--wrk" => wrk = PathBuf::from(value("--wrk")?),
                "--duration" => {
                    let text = value("--duration")?;
                    seconds = text
                        .parse()
                        .ok()
                        .filter(|s| (1..=60).contains(s))
                        .ok_or(format!("--duration: '{text}' is not 1..=60 seconds"))?;
                }
                "--rounds" => {
                    let text = value("--rounds")?;
                    rounds = text
                        .parse()
                        .ok()
                        .filter(|r| (1..=10).contains(r))
                        .ok_or(format!("--rounds: '{text}' is not 1..=10"))?;
                }
                "--only" => {
                    for name in value("--only")?.split(',').map(str::trim) {
                        if !PHASES.contains(&name) {
                            return Err(format!(
                                "--only: unknown phase '{name}' (phases: {})",
                                PHASES.join(", ")
                            ));
                        }
                        only.push(name.to_string());
                    }
                }
                "--strict" => strict = true,
                "-h" | "--help" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
            }
        }
        let work_dir = work_dir.unwrap_or_else(|| bin_dir.join("bench-work"));
        Ok(Config {
            bin_dir,
            repo,
            work_dir,
            wrk,
            duration: Duration::from_secs(seconds),
            warmup: Duration::from_secs(1),
            rounds,
            strict,
            only,
        })
    }

    fn runs(&self, phase: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == phase)
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }
}

/// The targets, judged as the run goes and printed together at the end.
#[derive(Default)]
struct Targets {
    lines: Vec<(bool, String)>,
}

impl Targets {
    fn judge(&mut self, pass: bool, text: String) {
        self.lines.push((pass, text));
    }
}

fn run(cfg: &Config) -> io::Result<Targets> {
    for name in ["mock-server", "baseline", "conformance"] {
        let needed = name != "conformance" || cfg.runs("library");
        if needed && !cfg.bin(name).is_file() {
            return Err(io::Error::other(format!(
                "{} is missing: build with `cargo build --release -p mock-server -p conformance -p bench` \
                 (or run bash bench/run.sh)",
                cfg.bin(name).display()
            )));
        }
    }
    let ticks = process::clock_ticks_per_second();
    let mut targets = Targets::default();
    let started = Instant::now();
    machine(cfg);
    let worlds = generate(cfg)?;
    if cfg.runs("startup") {
        startup_and_memory(cfg, &mut targets)?;
    }
    if cfg.runs("cpu") {
        throughput(cfg, &worlds, ticks, &mut targets)?;
    }
    if cfg.runs("journal") {
        journal_memory(cfg, &mut targets)?;
    }
    if cfg.runs("outbox-scaling") {
        outbox_scaling(cfg, &worlds, ticks, &mut targets)?;
    }
    if cfg.runs("callback-scaling") {
        callback_scaling(cfg, &worlds, ticks, &mut targets)?;
    }
    if cfg.runs("flows") {
        dispatch_flows(cfg, &worlds, ticks, &mut targets)?;
    }
    if cfg.runs("loading") {
        memory::loading(cfg, ticks, &mut targets)?;
    }
    if cfg.runs("million") {
        memory::million(cfg, ticks, &mut targets)?;
    }
    if cfg.runs("workspaces") {
        memory::workspaces(cfg, ticks, &mut targets)?;
    }
    if cfg.runs("library") {
        scenario_library(cfg, &mut targets)?;
    }
    heading(&format!(
        "targets (benchmark took {:.0} s)",
        started.elapsed().as_secs_f64()
    ));
    for (pass, text) in &targets.lines {
        println!("{} {text}", if *pass { "PASS" } else { "FAIL" });
    }
    let passed = targets.lines.iter().filter(|(p, _)| *p).count();
    println!("{passed} of {} targets passed", targets.lines.len());
    Ok(targets)
}

fn main() -> ExitCode {
    let cfg = match Config::from_args() {
        Ok(cfg) => cfg,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(&cfg) {
        Ok(targets) if cfg.strict && targets.lines.iter().any(|(p, _)| !p) => ExitCode::FAILURE,
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(2)
        }
    }
}
