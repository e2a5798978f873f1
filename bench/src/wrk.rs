//! Driving a server with `wrk` and reading its report.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::Server;

/// Connections held open by every load phase.
pub(crate) const CONNECTIONS: u32 = 32;
/// One wrk thread: the other core is left to the server, and a Lua counter
/// sees every request.
pub(crate) const THREADS: u32 = 1;

/// What to send.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    pub label: String,
    /// Path and query of the GET (ignored by a script that builds its own requests).
    pub path: String,
    /// A wrk Lua script, and the environment it reads.
    pub script: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    /// `-d`: how long to run (an upper bound when the script stops itself).
    pub duration: Duration,
    pub key: Option<String>,
    /// The script stops after a number of responses: wrk still reports the
    /// whole `-d` as elapsed, so requests/s is unknown (NaN).
    pub bounded: bool,
}

/// wrk's report.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    pub requests: u64,
    pub elapsed_s: f64,
    pub requests_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub non_2xx: u64,
    pub socket_errors: u64,
}

/// A wrk run and what the server spent on it.
#[derive(Debug, Clone)]
pub(crate) struct Measured {
    pub label: String,
    pub wrk: Report,
    /// Server utime + stime during the run, in seconds.
    pub cpu_s: f64,
}

impl Measured {
    /// Server CPU time per request, in microseconds.
    pub(crate) fn cpu_us_per_request(&self) -> f64 {
        if self.wrk.requests == 0 {
            return f64::NAN;
        }
        self.cpu_s * 1e6 / self.wrk.requests as f64
    }

    /// Cores the server kept busy on average.
    pub(crate) fn cores(&self) -> f64 {
        if self.wrk.elapsed_s <= 0.0 {
            return f64::NAN;
        }
        self.cpu_s / self.wrk.elapsed_s
    }

    pub(crate) fn errors(&self) -> u64 {
        self.wrk.non_2xx + self.wrk.socket_errors
    }

    /// Several rounds of one load as one figure: requests, time and CPU add
    /// up; p50 and p99 are the medians of the rounds'.
    pub(crate) fn combine(label: &str, rounds: &[Measured]) -> Measured {
        let sum = |f: fn(&Measured) -> f64| rounds.iter().map(f).sum::<f64>();
        let requests = rounds.iter().map(|m| m.wrk.requests).sum::<u64>();
        let elapsed_s = sum(|m| m.wrk.elapsed_s);
        let mut p50: Vec<f64> = rounds.iter().map(|m| m.wrk.p50_us).collect();
        let mut p99: Vec<f64> = rounds.iter().map(|m| m.wrk.p99_us).collect();
        Measured {
            label: label.to_string(),
            wrk: Report {
                requests,
                elapsed_s,
                requests_per_s: requests as f64 / elapsed_s,
                p50_us: median(&mut p50),
                p99_us: median(&mut p99),
                non_2xx: rounds.iter().map(|m| m.wrk.non_2xx).sum(),
                socket_errors: rounds.iter().map(|m| m.wrk.socket_errors).sum(),
            },
            cpu_s: sum(|m| m.cpu_s),
        }
    }
}

/// The median (NaN for none).
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Runs wrk against `server` and measures the server's CPU time around it.
pub(crate) fn measure(
    wrk: &Path,
    server: &mut Server,
    load: &Load,
    ticks_per_s: u64,
) -> io::Result<Measured> {
    server.check_alive()?;
    let before = server.cpu_ticks()?;
    let report = run(wrk, server, load)?;
    let after = server.cpu_ticks()?;
    server.check_alive()?;
    Ok(Measured {
        label: load.label.clone(),
        wrk: report,
        cpu_s: after.saturating_sub(before) as f64 / ticks_per_s as f64,
    })
}

/// Runs wrk once and parses its report.
pub(crate) fn run(wrk: &Path, server: &Server, load: &Load) -> io::Result<Report> {
    let mut cmd = Command::new(wrk);
    cmd.arg(format!("-t{THREADS}"))
        .arg(format!("-c{CONNECTIONS}"))
        // wrk reads whole seconds (`5s`), not milliseconds.
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("10s")
        .arg("--latency");
    if let Some(key) = &load.key {
        cmd.arg("-H").arg(format!("Authorization: Bearer {key}"));
    }
    if let Some(script) = &load.script {
        cmd.arg("-s").arg(script);
    }
    for (name, value) in &load.env {
        cmd.env(name, value);
    }
    cmd.arg(format!("http://{}{}", server.addr, load.path));
    let output = cmd
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", wrk.display())))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "wrk failed ({}): {}{}",
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let mut report = parse(&text)
        .ok_or_else(|| io::Error::other(format!("cannot read wrk's report:\n{text}")))?;
    if load.bounded {
        report.requests_per_s = f64::NAN;
        report.elapsed_s = f64::NAN;
    }
    Ok(report)
}

/// A wrk duration such as `188.00us`, `1.23ms`, `5.00s` or `1.50m`, in microseconds.
fn parse_time_us(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e6)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60e6)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600e6)
    } else {
        return None;
    };
    number.trim().parse::<f64>().ok().map(|n| n * scale)
}

/// Reads the parts of wrk's report the benchmark uses.
pub(crate) fn parse(text: &str) -> Option<Report> {
    let mut report = Report::default();
    let mut saw_total = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("50%") {
            report.p50_us = parse_time_us(rest)?;
        } else if let Some(rest) = line.strip_prefix("99%") {
            report.p99_us = parse_time_us(rest)?;
        } else if let Some((count, rest)) = line.split_once(" requests in ") {
            report.requests = count.trim().parse().ok()?;
            report.elapsed_s = parse_time_us(rest.split(',').next()?)? / 1e6;
            saw_total = true;
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            report.non_2xx = rest.trim().parse().ok()?;
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            report.socket_errors = rest
                .split(',')
                .filter_map(|part| part.split_whitespace().last())
                .filter_map(|n| n.parse::<u64>().ok())
                .sum();
        } else if let Some(rest) = line.strip_prefix("Requests/sec:") {
            report.requests_per_s = rest.trim().parse().ok()?;
        }
    }
    saw_total.then_some(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 5s test @ http://127.0.0.1:40000/v1/documents/inv_000001
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms  302.11us   9.87ms   88.00%
    Req/Sec    29.10k     1.20k   31.00k    80.00%
  Latency Distribution
     50%  988.00us
     75%    1.20ms
     90%    1.40ms
     99%    2.50ms
  144810 requests in 5.00s, 112.34MB read
  Non-2xx or 3xx responses: 3
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  28962.00
Transfer/sec:     22.47MB
";

    #[test]
    fn reads_a_report() {
        let r = parse(SAMPLE).expect("parsed");
        assert_eq!(r.requests, 144_810);
        assert!((r.elapsed_s - 5.0).abs() < 1e-9);
        assert!((r.requests_per_s - 28_962.0).abs() < 1e-9);
        assert!((r.p50_us - 988.0).abs() < 1e-9);
        assert!((r.p99_us - 2_500.0).abs() < 1e-9);
        assert_eq!((r.non_2xx, r.socket_errors), (3, 3));
    }

    #[test]
    fn rounds_combine_into_one_figure() {
        let round = |requests: u64, cpu_s: f64, p50_us: f64| Measured {
            label: String::new(),
            wrk: Report {
                requests,
                elapsed_s: 5.0,
                p50_us,
                p99_us: p50_us * 2.0,
                ..Report::default()
            },
            cpu_s,
        };
        let all = Measured::combine(
            "x",
            &[
                round(1000, 0.5, 10.0),
                round(3000, 0.7, 30.0),
                round(2000, 0.6, 20.0),
            ],
        );
        assert_eq!(all.wrk.requests, 6000);
        assert!((all.cpu_us_per_request() - 300.0).abs() < 1e-9);
        assert!((all.wrk.requests_per_s - 400.0).abs() < 1e-9);
        assert_eq!((all.wrk.p50_us, all.wrk.p99_us), (20.0, 40.0));
    }

    #[test]
    fn reads_every_time_unit() {
        assert_eq!(parse_time_us("12.00us"), Some(12.0));
        assert_eq!(parse_time_us("1.50ms"), Some(1_500.0));
        assert_eq!(parse_time_us("2.00s"), Some(2_000_000.0));
        assert_eq!(parse_time_us("1.00m"), Some(60_000_000.0));
        assert_eq!(parse_time_us("soon"), None);
    }
}
