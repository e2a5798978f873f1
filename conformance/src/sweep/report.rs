//! The sweep's matrix: case × (exit codes, outcome per document, contract,
//! verdicts, result), then the evidence of every failure. Human text,
//! Markdown, JSON and JUnit (one `<testcase>` per case; `not applicable` is
//! `<skipped>`). The scenario reports are per step, so the matrix has
//! writers of its own; JUnit escaping is shared.

use std::fmt::Write as _;

use serde_json::json;

use super::{CaseResult, CaseStatus, SweepReport};
use crate::audit::Severity;
use crate::report::junit::escape;

/// The cells of one matrix row.
fn row(c: &CaseResult) -> [String; 6] {
    let exits = if c.runs.is_empty() {
        "-".to_owned()
    } else {
        c.runs
            .iter()
            .map(|r| match (r.timed_out, r.exit_code) {
                (true, _) => "timeout".to_owned(),
                (false, Some(code)) => code.to_string(),
                (false, None) => "signal".to_owned(),
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let outcomes = c
        .outcome_counts()
        .iter()
        .map(|(o, n)| format!("{n} {}", o.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let contract = if c.documents.is_empty() && c.runs.is_empty() {
        "-".to_owned()
    } else if c.contract_holds {
        "ok".to_owned()
    } else {
        "BROKEN".to_owned()
    };
    let verdicts = match &c.verdicts {
        Ok(v) => {
            let e = v.count(Severity::Error);
            let w = v.count(Severity::Warning);
            if e == 0 && w == 0 {
                "ok".to_owned()
            } else {
                format!("{e}E {w}W")
            }
        }
        Err(_) if c.runs.is_empty() => "-".to_owned(),
        Err(_) => "unavailable".to_owned(),
    };
    [
        c.name.clone(),
        exits,
        if outcomes.is_empty() {
            "-".into()
        } else {
            outcomes
        },
        contract,
        verdicts,
        c.status.label().to_owned(),
    ]
}

const HEAD: [&str; 6] = ["case", "exit", "outcomes", "contract", "verdicts", "result"];

/// The evidence of one case that did not pass (empty for a pass).
pub(crate) fn details(c: &CaseResult) -> String {
    let mut out = String::new();
    match &c.status {
        CaseStatus::Passed => return out,
        CaseStatus::NotApplicable(r) => {
            let _ = writeln!(out, "n/a {}: {r}", c.name);
            return out;
        }
        CaseStatus::Error(e) => {
            let _ = writeln!(out, "ERROR {}: {e}", c.name);
        }
        CaseStatus::Failed => {
            let _ = writeln!(out, "FAIL {}: {}", c.name, c.description);
        }
    }
    let _ = writeln!(out, "  source: {}", c.source);
    match &c.workspace {
        Some(ws) if c.workspace_kept => {
            let _ = writeln!(out, "  workspace: {ws} (kept, to inspect)");
        }
        Some(ws) => {
            let _ = writeln!(
                out,
                "  workspace: {ws} (removed after the case; --keep keeps it to inspect)"
            );
        }
        None => {}
    }
    // Verdict failures are shown once, below, with their advice.
    for f in c.failures.iter().filter(|f| !f.starts_with("verdict ")) {
        let _ = writeln!(out, "  ✗ {f}");
    }
    if let Ok(v) = &c.verdicts {
        for f in v.at_or_above(Severity::Warning) {
            let mark = if f.severity == Severity::Error {
                "✗"
            } else {
                "!"
            };
            let _ = write!(out, "  {mark} verdict ");
            out.push_str(crate::audit::finding_text(f, "    ").trim_start());
        }
    }
    for n in &c.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    for r in &c.runs {
        if r.output_tail.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "  run {} output (last lines, {} ms):",
            r.run, r.duration_ms
        );
        for l in r.output_tail.lines() {
            let _ = writeln!(out, "    | {l}");
        }
    }
    out
}

pub(crate) fn human(r: &SweepReport) -> String {
    let rows: Vec<[String; 6]> = r.cases.iter().map(row).collect();
    let mut width = HEAD.map(str::len);
    for cells in &rows {
        for (w, cell) in width.iter_mut().zip(cells) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = width[i].saturating_sub(cell.chars().count());
            s.push_str(cell);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&HEAD.map(str::to_owned));
    for cells in &rows {
        out.push_str(&line(cells));
    }
    out.push('\n');
    for c in &r.cases {
        let d = details(c);
        if !d.is_empty() {
            out.push_str(&d);
            out.push('\n');
        }
    }
    let _ = writeln!(out, "target: {}", r.target);
    let _ = writeln!(out, "{}", r.summary_line());
    out
}

pub(crate) fn markdown(r: &SweepReport) -> String {
    let mut out = String::from("# conformance sweep\n\n");
    let _ = writeln!(out, "`{}` against {}\n", r.command.join(" "), r.target);
    let _ = writeln!(out, "| {} |", HEAD.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(HEAD.len()));
    for c in &r.cases {
        let cells = row(c).map(|s| s.replace('|', "\\|"));
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
    for c in &r.cases {
        let d = details(c);
        if !d.is_empty() {
            let _ = writeln!(out, "```text\n{d}```\n");
        }
    }
    let _ = writeln!(out, "**{}**", r.summary_line());
    out
}

pub(crate) fn json(r: &SweepReport) -> String {
    let summary = r.summary_line();
    let v = json!({
        "target": r.target,
        "command": r.command,
        "summary": summary,
        "success": r.success(),
        "cases": r.cases,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

pub(crate) fn junit(r: &SweepReport) -> String {
    let failures = r
        .cases
        .iter()
        .filter(|c| matches!(c.status, CaseStatus::Failed))
        .count();
    let errors = r
        .cases
        .iter()
        .filter(|c| matches!(c.status, CaseStatus::Error(_)))
        .count();
    let skipped = r
        .cases
        .iter()
        .filter(|c| matches!(c.status, CaseStatus::NotApplicable(_)))
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"conformance sweep\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
        r.cases.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"sweep\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
        r.cases.len()
    );
    for c in &r.cases {
        let secs: u128 = c.runs.iter().map(|r| r.duration_ms).sum();
        let _ = write!(
            out,
            "    <testcase classname=\"sweep\" name=\"{}\" time=\"{:.3}\"",
            escape(&c.name),
            secs as f64 / 1000.0
        );
        match &c.status {
            CaseStatus::Passed => out.push_str("/>\n"),
            CaseStatus::NotApplicable(reason) => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"not applicable: {}\"/>\n    </testcase>",
                    escape(reason)
                );
            }
            CaseStatus::Failed | CaseStatus::Error(_) => {
                let tag = if matches!(c.status, CaseStatus::Failed) {
                    "failure"
                } else {
                    "error"
                };
                let first = match &c.status {
                    CaseStatus::Error(e) => e.clone(),
                    _ => c.failures.first().cloned().unwrap_or_default(),
                };
                let _ = writeln!(
                    out,
                    ">\n      <{tag} message=\"{}\">{}</{tag}>\n    </testcase>",
                    escape(&first),
                    escape(&details(c))
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
