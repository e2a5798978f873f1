//! Servers under test as child processes, and what /proc says about them.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::http::Client;

/// A running server (the fake or the baseline), killed when dropped.
pub(crate) struct Server {
    pub name: String,
    child: Child,
    pub addr: SocketAddr,
    /// From spawn to the first successful response of the start-up probe.
    pub startup: Duration,
}

/// How long a server may take to print its address and answer the probe.
const START_DEADLINE: Duration = Duration::from_secs(120);

impl Server {
    /// Starts `program args…`, waits for its `listening on http://ADDR` line,
    /// then sends `GET probe` (with `key`) until it answers 2xx. stderr goes to `log`.
    pub(crate) fn start(
        name: &str,
        program: &Path,
        args: &[String],
        log: &Path,
        probe: &str,
        key: Option<&str>,
    ) -> io::Result<Server> {
        let stderr = File::create(log)?;
        let started = Instant::now();
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", program.display())))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel::<String>();
        // Forwards the first line, then keeps draining stdout until the child exits.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let mut first = true;
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) if first => {
                        first = false;
                        let _ = tx.send(line.trim_end().to_string());
                    }
                    Ok(_) => {}
                }
            }
        });
        let fail = |child: &mut Child, message: String| {
            let _ = child.kill();
            let _ = child.wait();
            io::Error::other(format!("{name}: {message} (stderr: {})", log.display()))
        };
        let line = match rx.recv_timeout(START_DEADLINE) {
            Ok(line) => line,
            Err(_) => return Err(fail(&mut child, "printed no address".into())),
        };
        let addr: SocketAddr = match line
            .strip_prefix("listening on http://")
            .and_then(|a| a.trim().parse().ok())
        {
            Some(addr) => addr,
            None => return Err(fail(&mut child, format!("unexpected first line '{line}'"))),
        };
        let deadline = started + START_DEADLINE;
        let startup = loop {
            let answer = Client::connect(addr, key).and_then(|mut c| c.get(probe));
            match answer {
                Ok(r) if (200..300).contains(&r.status) => break started.elapsed(),
                Ok(r) if Instant::now() > deadline => {
                    return Err(fail(
                        &mut child,
                        format!("probe GET {probe} answered {}: {}", r.status, r.text()),
                    ))
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(fail(&mut child, format!("probe GET {probe} failed: {e}")))
                }
                _ => std::thread::sleep(Duration::from_micros(200)),
            }
        };
        Ok(Server {
            name: name.to_string(),
            child,
            addr,
            startup,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn client(&self, key: Option<&str>) -> io::Result<Client> {
        Client::connect(self.addr, key)
    }

    /// utime + stime so far, in clock ticks.
    pub(crate) fn cpu_ticks(&self) -> io::Result<u64> {
        cpu_ticks(self.pid())
    }

    pub(crate) fn memory(&self) -> io::Result<Memory> {
        memory(self.pid())
    }

    /// Fails if the server has exited (a crash mid-benchmark).
    pub(crate) fn check_alive(&mut self) -> io::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(io::Error::other(format!(
                "{} exited during the benchmark: {status}",
                self.name
            ))),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Our own child, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a process (all its threads, live and exited), in clock ticks.
pub(crate) fn cpu_ticks(pid: u32) -> io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat).ok_or_else(|| io::Error::other(format!("cannot parse /proc/{pid}/stat")))
}

/// Fields 14 and 15 of /proc/PID/stat; the command name (field 2) may hold
/// spaces and parentheses, so counting starts after its last ')'.
pub(crate) fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14 → index 11.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Resident memory, from /proc/PID/status.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memory {
    /// VmRSS, in KiB.
    pub rss_kib: u64,
    /// VmHWM (peak RSS), in KiB.
    pub peak_kib: u64,
}

impl Memory {
    pub(crate) fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }
    pub(crate) fn peak_mib(&self) -> f64 {
        self.peak_kib as f64 / 1024.0
    }
}

pub(crate) fn memory(pid: u32) -> io::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_memory(&status).ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

pub(crate) fn parse_memory(status: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we know).
pub(crate) fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_after_the_command_name() {
        let stat = "4242 (mock (server) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 \
                    150 37 0 0 20 0 3 0 100 1000 200";
        assert_eq!(parse_cpu_ticks(stat), Some(187));
    }

    #[test]
    fn reads_vmrss_and_vmhwm() {
        let status = "Name:\tmock-server\nVmHWM:\t   9000 kB\nVmRSS:\t   6144 kB\n";
        let m = parse_memory(status).expect("parsed");
        assert_eq!((m.rss_kib, m.peak_kib), (6144, 9000));
    }
}
