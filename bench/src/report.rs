//! What the bench prints: the machine, the tables, and small formatters.

use super::*;

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A latency in µs as `850 µs` or `1.25 ms`.
pub(crate) fn latency(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

pub(crate) fn heading(text: &str) {
    println!("\n== {text}");
}

pub(crate) fn read_to_string_or(path: &str, default: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|_| default.to_string())
}

pub(crate) fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn machine(cfg: &Config) {
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

/// A number with `decimals`, or `-` when it is unknown (NaN).
pub(crate) fn num(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "-".into()
    }
}

pub(crate) fn row(server: &str, m: &Measured, baseline: Option<&Measured>) {
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

pub(crate) fn table_header() {
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

/// The per-round CPU ratios `a / b`, e.g. `1.95x 2.01x 1.90x`.
pub(crate) fn round_ratios(a: &[Measured], b: &[Measured]) -> String {
    a.iter()
        .zip(b)
        .map(|(a, b)| format!("{:.2}x", a.cpu_us_per_request() / b.cpu_us_per_request()))
        .collect::<Vec<_>>()
        .join(" ")
}
