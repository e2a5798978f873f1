//! The client command: started once per run with the case's workspace in
//! its environment, killed after `--timeout`, the tail of its output kept.

use std::time::Instant;

use super::case::Case;
use super::result::RunRecord;
use super::run::SweepOptions;
use crate::target::Session;

const TAIL_LINES: usize = 20;

/// Wall time, for the durations and progress the report shows about the
/// user's command (a real process: the virtual clock does not apply).
#[allow(clippy::disallowed_methods)]
pub(super) fn wall_now() -> Instant {
    Instant::now()
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

pub(super) async fn run_command(
    opts: &SweepOptions,
    c: &Case,
    session: &Session,
    run: u32,
) -> Result<RunRecord, String> {
    let (program, args) = opts
        .command
        .split_first()
        .ok_or("no command given after --")?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env("NUMORA_BASE_URL", &session.base_url)
        .env("NUMORA_API_KEY", &session.api_key)
        .env(
            "NUMORA_WORKSPACE",
            session.workspace.as_deref().unwrap_or(""),
        )
        .env(
            "NUMORA_CONTROL_URL",
            session.control_url.as_deref().unwrap_or(""),
        )
        .env("NUMORA_CASE", &c.name)
        .env("NUMORA_RUN", run.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let started = wall_now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    match tokio::time::timeout(opts.timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            let mut text = tail(&out.stdout);
            let err = tail(&out.stderr);
            if !err.is_empty() {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&err);
            }
            Ok(RunRecord {
                run,
                exit_code: out.status.code(),
                timed_out: false,
                duration_ms: started.elapsed().as_millis(),
                output_tail: text,
            })
        }
        Ok(Err(e)) => Err(format!("waiting for `{program}`: {e}")),
        // Dropping the future kills the child (kill_on_drop).
        Err(_) => Ok(RunRecord {
            run,
            exit_code: None,
            timed_out: true,
            duration_ms: started.elapsed().as_millis(),
            output_tail: format!("killed after {} s (--timeout)", opts.timeout.as_secs()),
        }),
    }
}
