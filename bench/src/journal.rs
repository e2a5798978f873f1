//! The journal's memory: what one journaled call costs in resident memory,
//! and the byte bound that holds a long session's journal in place.

use super::*;

/// Calls journaled for the per-call figure (below the default bound of
/// 10,000 entries, so that none is dropped yet).
const JOURNALED: usize = 8_000;
/// The byte bound set for the second half of the phase.
const BOUND_BYTES: usize = 4 * 1024 * 1024;
/// Calls sent under that bound.
const BOUNDED_CALLS: usize = 20_000;
/// Largest RSS cost of one journaled document read (request and response
/// headers and bodies kept).
const PER_CALL_TARGET: f64 = 4096.0;

/// Sends `n` document reads, each answered 200.
fn reads(client: &mut http::Client, path: &str, n: usize) -> io::Result<()> {
    for _ in 0..n {
        let answer = client.get(path)?;
        if answer.status != 200 {
            return Err(io::Error::other(format!(
                "GET {path} answered {}: {}",
                answer.status,
                answer.text()
            )));
        }
    }
    Ok(())
}

/// How many entries the default workspace's journal holds.
fn kept(control: &mut http::Client) -> io::Result<u64> {
    let answer = control.get("/_mock/workspaces/default/journal/count")?;
    answer
        .json()
        .and_then(|v| v["data"]["count"].as_u64())
        .ok_or_else(|| io::Error::other(format!("journal count: {}", answer.text())))
}

pub(crate) fn journal_memory(cfg: &Config, targets: &mut Targets) -> io::Result<()> {
    heading(
        "2b. the journal's memory (embedded default world; GET /v1/documents/{id}, \
         headers and bodies journaled)",
    );
    let server = start_fake(cfg, None, "fake-journal.log", DEFAULT_DOC)?;
    let path = format!("/v1/documents/{DEFAULT_DOC}");
    let mut client = server.client(Some(KEY))?;
    let mut control = server.client(None)?;
    reads(&mut client, &path, 500)?;
    let before = server.memory()?;
    let entries_before = kept(&mut control)?;
    reads(&mut client, &path, JOURNALED)?;
    let after = server.memory()?;
    let entries_after = kept(&mut control)?;
    let added = entries_after.saturating_sub(entries_before).max(1);
    let per_call = after.rss_kib.saturating_sub(before.rss_kib) as f64 * 1024.0 / added as f64;
    println!(
        "{added} calls journaled: VmRSS {:.1} -> {:.1} MiB, {per_call:.0} bytes per call",
        before.rss_mib(),
        after.rss_mib()
    );
    targets.judge(
        per_call <= PER_CALL_TARGET,
        format!(
            "memory per journaled call (document read, headers and bodies kept): {per_call:.0} bytes \
             of RSS over {added} calls (target <= {PER_CALL_TARGET:.0} bytes)"
        ),
    );

    let settings = format!(r#"{{"journal_max_bytes": {BOUND_BYTES}}}"#);
    let answer = control.patch("/_mock/workspaces/default/settings", &settings)?;
    if answer.status != 200 {
        return Err(io::Error::other(format!(
            "setting journal_max_bytes answered {}: {}",
            answer.status,
            answer.text()
        )));
    }
    let bounded_before = server.memory()?;
    reads(&mut client, &path, BOUNDED_CALLS)?;
    let bounded_after = server.memory()?;
    let entries = kept(&mut control)?;
    let growth_mib = bounded_after.rss_kib as f64 / 1024.0 - bounded_before.rss_kib as f64 / 1024.0;
    println!(
        "journal_max_bytes {} MiB, then {BOUNDED_CALLS} more calls: {entries} entries kept, \
         VmRSS {:.1} -> {:.1} MiB",
        BOUND_BYTES / 1024 / 1024,
        bounded_before.rss_mib(),
        bounded_after.rss_mib()
    );
    let bound_mib = (BOUND_BYTES / 1024 / 1024) as f64;
    targets.judge(
        growth_mib <= bound_mib && (entries as usize) < BOUNDED_CALLS,
        format!(
            "journal bounded in bytes: with journal_max_bytes = {bound_mib:.0} MiB, {BOUNDED_CALLS} calls \
             keep {entries} entries and grow VmRSS by {growth_mib:.1} MiB (target <= {bound_mib:.0} MiB)"
        ),
    );
    Ok(())
}
