//! `bench`: the fake's performance against a bare axum server, in one run.
//!
//! Run through `bash bench/run.sh`, which builds the workspace in release and
//! calls this binary with the directory holding `mock-server`, `baseline` and
//! `conformance`. It measures, all on loopback and every loop bounded in count
//! and time:
//!
//! 1. start-up to the first successful response and resident memory (idle,
//!    and with 100,000 documents loaded from a generated fixture);
//! 2. requests/s, p50/p99 latency and server CPU time per request for three
//!    endpoints under `wrk -t1 -c32`, for the fake and for the baseline;
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
mod memory;
mod process;
mod scaling;
mod wrk;

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use fixtures::World;
use process::Server;
use scaling::{callback_scaling, dispatch_flows, outbox_scaling, scenario_library};
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
/// Callback documents the open-ended POST load of the throughput table rotates over.
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
}

const USAGE: &str = "usage: bench [--bin-dir DIR] [--repo DIR] [--work-dir DIR] [--wrk PATH] \
                     [--duration SECONDS] [--rounds N] [--strict]

  --bin-dir DIR       where mock-server, baseline and conformance are (default: next to bench)
  --repo DIR          the workspace root (default: where bench was built from)
  --work-dir DIR      generated fixtures and server logs (default: BIN_DIR/bench-work)
  --wrk PATH          the wrk binary (default: wrk)
  --duration SECONDS  length of each measured wrk phase (default: 5, at most 60)
  --rounds N          interleaved rounds per comparison (default: 3, at most 10)
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
        })
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A latency in µs as `850 µs` or `1.25 ms`.
fn latency(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

fn heading(text: &str) {
    println!("\n== {text}");
}

fn read_to_string_or(path: &str, default: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|_| default.to_string())
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn machine(cfg: &Config) {
    heading("machine");
    let cpuinfo = read_to_string_or("/proc/cpuinfo", "");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = read_to_string_or("/proc/meminfo", "");
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    println!("nproc:   {cores}");
    println!("cpu:     {model}");
    println!("memory:  {:.1} GiB", mem_kib as f64 / 1024.0 / 1024.0);
    println!(
        "kernel:  {}",
        read_to_string_or("/proc/sys/kernel/osrelease", "unknown").trim()
    );
    println!(
        "wrk:     {}",
        command_line(&cfg.wrk.to_string_lossy(), &["-v"])
    );
    println!("rustc:   {}", command_line("rustc", &["--version"]));
    println!("binaries: {}", cfg.bin_dir.display());
}

struct Worlds {
    /// 1,000 eligible invoices and 1,000 callback documents.
    small: PathBuf,
    /// The callback documents of the flatness check and the long history.
    callbacks: PathBuf,
    /// 100,000 eligible invoices.
    large: PathBuf,
}

fn generate(cfg: &Config) -> io::Result<Worlds> {
    heading("fixtures");
    std::fs::create_dir_all(&cfg.work_dir)?;
    let default_world = std::fs::read_to_string(cfg.repo.join("scenarios/fixtures/default.yaml"))?;
    let small = cfg.work_dir.join("world-1k.yaml");
    let callbacks = cfg.work_dir.join("world-callbacks.yaml");
    let large = cfg.work_dir.join("world-100k.yaml");
    let small_world = World {
        eligible: 1_000,
        callback_docs: THROUGHPUT_CALLBACK_DOCS,
        history_attempts: 0,
    };
    let callback_world = World {
        eligible: 1,
        callback_docs: CALLBACKS * CALLBACK_ROUNDS,
        history_attempts: HISTORY,
    };
    let large_world = World {
        eligible: 100_000,
        callback_docs: 0,
        history_attempts: 0,
    };
    for (path, world) in [
        (&small, small_world),
        (&callbacks, callback_world),
        (&large, large_world),
    ] {
        let started = Instant::now();
        let bytes = fixtures::write(&default_world, path, &world)?;
        println!(
            "{}: {} eligible + {} callback documents + a {}-attempt history, {:.1} MiB, written in {:.0} ms",
            path.display(),
            world.eligible,
            world.callback_docs,
            world.history_attempts,
            bytes as f64 / 1024.0 / 1024.0,
            ms(started.elapsed())
        );
    }
    Ok(Worlds {
        small,
        callbacks,
        large,
    })
}

fn start_fake(
    cfg: &Config,
    fixture: Option<&Path>,
    log: &str,
    probe_doc: &str,
) -> io::Result<Server> {
    let mut args = vec!["--port".to_string(), "0".to_string()];
    if let Some(path) = fixture {
        args.push("--fixtures".into());
        args.push(path.to_string_lossy().into_owned());
    }
    Server::start(
        "mock-server",
        &cfg.bin("mock-server"),
        &args,
        &cfg.work_dir.join(log),
        &format!("/v1/documents/{probe_doc}"),
        Some(KEY),
    )
}

fn start_baseline(cfg: &Config, log: &str) -> io::Result<Server> {
    Server::start(
        "baseline",
        &cfg.bin("baseline"),
        &["--port".to_string(), "0".to_string()],
        &cfg.work_dir.join(log),
        &format!("/v1/documents/{DEFAULT_DOC}"),
        Some(KEY),
    )
}

/// Start-up and idle memory over several starts: (median ms, max ms, median RSS MiB).
fn starts(
    name: &str,
    mut start: impl FnMut() -> io::Result<Server>,
) -> io::Result<(f64, f64, f64)> {
    let mut times = Vec::with_capacity(STARTS);
    let mut rss = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let server = start()?;
        let memory = server.memory()?;
        times.push(ms(server.startup));
        rss.push(memory.rss_mib());
    }
    let max = times.iter().copied().fold(f64::MIN, f64::max);
    let min = times.iter().copied().fold(f64::MAX, f64::min);
    let (t, r) = (wrk::median(&mut times), wrk::median(&mut rss));
    println!(
        "{name:<44} start-up median {t:6.2} ms (min {min:.2}, max {max:.2}, {STARTS} starts)   idle VmRSS {r:5.2} MiB"
    );
    Ok((t, max, r))
}

fn get_load(label: &str, path: &str, duration: Duration) -> Load {
    Load {
        label: label.to_string(),
        path: path.to_string(),
        script: None,
        env: Vec::new(),
        duration,
        key: Some(KEY.to_string()),
        bounded: false,
    }
}

/// The delivery-callback load: rotating over the callback documents, or on one document.
fn callback_load(
    cfg: &Config,
    label: &str,
    tag: &str,
    doc: Option<&str>,
    offset: usize,
    max_requests: usize,
    duration: Duration,
) -> Load {
    let mut env = vec![
        ("BENCH_KEY".to_string(), KEY.to_string()),
        ("BENCH_TAG".to_string(), tag.to_string()),
        ("BENCH_DOC_PREFIX".to_string(), "cb_".to_string()),
        ("BENCH_DOC_OFFSET".to_string(), offset.to_string()),
        // A bounded run stays within its CALLBACKS documents (the few requests
        // in flight when it stops wrap around onto them); an open one rotates
        // over the callback documents of world-1k.
        (
            "BENCH_DOC_COUNT".to_string(),
            if max_requests > 0 {
                CALLBACKS
            } else {
                THROUGHPUT_CALLBACK_DOCS
            }
            .to_string(),
        ),
        ("BENCH_MAX_REQUESTS".to_string(), max_requests.to_string()),
    ];
    if let Some(doc) = doc {
        env.push(("BENCH_DOC".to_string(), doc.to_string()));
    }
    Load {
        label: label.to_string(),
        path: "/v1/documents/{id}/delivery".to_string(),
        script: Some(cfg.repo.join("bench/wrk/delivery.lua")),
        env,
        duration,
        key: None,
        bounded: max_requests > 0,
    }
}

/// A number with `decimals`, or `-` when it is unknown (NaN).
fn num(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "-".into()
    }
}

fn row(server: &str, m: &Measured, baseline: Option<&Measured>) {
    let ratio = |a: f64, b: Option<f64>| match b {
        Some(b) if (a / b).is_finite() => format!("{:.2}x", a / b),
        _ => "-".into(),
    };
    println!(
        "{:<40} {:<9} {:>9} {:>7}  {:>9} {:>9}  {:>7} {:>7}  {:>5} {:>8} {:>6}",
        m.label,
        server,
        num(m.wrk.requests_per_s, 0),
        ratio(m.wrk.requests_per_s, baseline.map(|b| b.wrk.requests_per_s)),
        latency(m.wrk.p50_us),
        latency(m.wrk.p99_us),
        num(m.cpu_us_per_request(), 1),
        ratio(
            m.cpu_us_per_request(),
            baseline.map(Measured::cpu_us_per_request)
        ),
        num(m.cores(), 2),
        m.wrk.requests,
        m.errors(),
    );
}

fn table_header() {
    println!(
        "{:<40} {:<9} {:>9} {:>7}  {:>9} {:>9}  {:>7} {:>7}  {:>5} {:>8} {:>6}",
        "endpoint",
        "server",
        "req/s",
        "ratio",
        "p50",
        "p99",
        "CPU µs",
        "ratio",
        "cores",
        "requests",
        "errors"
    );
}

/// Runs `loads` on every contender: one warm-up per (load, contender), then
/// `rounds` rounds in which the contenders take turns on each load, so a
/// change in the machine's background load hits them alike. Returns, per
/// contender, per load, the rounds.
fn interleaved(
    cfg: &Config,
    contenders: &mut [&mut Server],
    loads: &[(Load, Load)],
    ticks: u64,
) -> io::Result<Vec<Vec<Vec<Measured>>>> {
    let mut results = vec![vec![Vec::new(); loads.len()]; contenders.len()];
    for (_, warm) in loads {
        for server in contenders.iter_mut() {
            wrk::run(&cfg.wrk, server, warm)?;
        }
    }
    for _ in 0..cfg.rounds {
        for (l, (load, _)) in loads.iter().enumerate() {
            for (i, server) in contenders.iter_mut().enumerate() {
                let measured = wrk::measure(&cfg.wrk, server, load, ticks)?;
                results[i][l].push(measured);
            }
        }
    }
    Ok(results)
}

/// The per-round CPU ratios `a / b`, e.g. `1.95x 2.01x 1.90x`.
fn round_ratios(a: &[Measured], b: &[Measured]) -> String {
    a.iter()
        .zip(b)
        .map(|(a, b)| format!("{:.2}x", a.cpu_us_per_request() / b.cpu_us_per_request()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn warm(cfg: &Config, load: &Load) -> Load {
    Load {
        label: format!("{} (warm-up)", load.label),
        duration: cfg.warmup,
        ..load.clone()
    }
}

fn rounds_note(cfg: &Config) -> String {
    format!(
        "wrk -t{} -c{}; {} interleaved rounds of {} s per endpoint and server after a {} s warm-up; \
         CPU = server utime+stime per request",
        wrk::THREADS,
        wrk::CONNECTIONS,
        cfg.rounds,
        cfg.duration.as_secs(),
        cfg.warmup.as_secs()
    )
}

/// The fake against the baseline on the three endpoints.
fn throughput(cfg: &Config, worlds: &Worlds, ticks: u64, targets: &mut Targets) -> io::Result<()> {
    heading(&format!(
        "2. throughput against the baseline (fake: world-1k; {})",
        rounds_note(cfg)
    ));
    let d = cfg.duration;
    let doc_path = format!("/v1/documents/{}", fixtures::invoice_id(1));
    let outbox_path = "/v1/delivery/outbox?limit=100";
    let get_doc = get_load("GET /v1/documents/{id}", &doc_path, d);
    let outbox = get_load("GET /v1/delivery/outbox?limit=100", outbox_path, d);
    let post = callback_load(
        cfg,
        "POST /v1/documents/{id}/delivery",
        "main",
        None,
        0,
        0,
        d,
    );
    let post_warm = callback_load(cfg, "warm-up", "warm", None, 0, 0, cfg.warmup);
    let loads = [
        (get_doc.clone(), warm(cfg, &get_doc)),
        (outbox.clone(), warm(cfg, &outbox)),
        (post, post_warm),
    ];
    let mut base = start_baseline(cfg, "baseline-load.log")?;
    let base_bytes = base.client(None)?.get(&doc_path)?.body.len();
    let mut fake = start_fake(
        cfg,
        Some(&worlds.small),
        "fake-load.log",
        &fixtures::invoice_id(1),
    )?;
    println!(
        "(world-1k loaded in {:.0} ms; response bodies of GET /v1/documents/{{id}}: fake {} bytes, \
         baseline {base_bytes} bytes, the same for every request)",
        ms(fake.startup),
        fake.client(Some(KEY))?.get(&doc_path)?.body.len(),
    );
    let results = interleaved(cfg, &mut [&mut base, &mut fake], &loads, ticks)?;
    table_header();
    for (l, (load, _)) in loads.iter().enumerate() {
        let b = Measured::combine(&load.label, &results[0][l]);
        let f = Measured::combine(&load.label, &results[1][l]);
        row("baseline", &b, None);
        row("fake", &f, Some(&b));
        for m in [&b, &f] {
            if m.errors() > 0 {
                println!(
                    "WARNING: {} had {} non-2xx answers or socket errors",
                    m.label,
                    m.errors()
                );
            }
        }
    }
    println!("(ratio: fake / baseline on the same load; cores: server CPU seconds per second)");
    let b = Measured::combine("", &results[0][0]);
    let f = Measured::combine("", &results[1][0]);
    let ratio = f.cpu_us_per_request() / b.cpu_us_per_request();
    targets.judge(
        ratio <= 1.3 && f.errors() == 0,
        format!(
            "server CPU per request, GET /v1/documents/{{id}}: fake {:.1} µs vs baseline {:.1} µs = {ratio:.2}x \
             (rounds: {}) (target <= 1.30x)",
            f.cpu_us_per_request(),
            b.cpu_us_per_request(),
            round_ratios(&results[1][0], &results[0][0]),
        ),
    );
    Ok(())
}

fn startup_and_memory(cfg: &Config, targets: &mut Targets) -> io::Result<()> {
    heading("1. start-up (spawn to first successful GET /v1/documents/{id}) and idle memory");
    starts("baseline", || start_baseline(cfg, "baseline-start.log"))?;
    let (t, max, rss) = starts("fake, embedded default world", || {
        start_fake(cfg, None, "fake-start.log", DEFAULT_DOC)
    })?;
    targets.judge(
        t <= 20.0,
        format!("start-up to first response: median {t:.2} ms, max {max:.2} ms (target <= 20 ms)"),
    );
    targets.judge(
        rss <= 8.0,
        format!("idle RSS (default world): {rss:.2} MiB (target <= 8 MiB)"),
    );
    Ok(())
}

fn run(cfg: &Config) -> io::Result<Targets> {
    for name in ["mock-server", "baseline", "conformance"] {
        if !cfg.bin(name).is_file() {
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
    startup_and_memory(cfg, &mut targets)?;
    throughput(cfg, &worlds, ticks, &mut targets)?;
    outbox_scaling(cfg, &worlds, ticks, &mut targets)?;
    callback_scaling(cfg, &worlds, ticks, &mut targets)?;
    dispatch_flows(cfg, &worlds, ticks, &mut targets)?;
    memory::loading(cfg, ticks, &mut targets)?;
    memory::million(cfg, ticks, &mut targets)?;
    memory::workspaces(cfg, ticks, &mut targets)?;
    scenario_library(cfg, &mut targets)?;
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
