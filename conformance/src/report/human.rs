//! The report for people: each failure with its step, request, response
//! and a diff; skipped scenarios with their reason; the summary line last.

use std::fmt::Write as _;

use super::diff;
use crate::runner::result::{Outcome, RunReport, ScenarioResult, StepResult};

const BODY_LIMIT: usize = 2_000;

fn clip(s: &str) -> String {
    if s.len() <= BODY_LIMIT {
        return s.to_owned();
    }
    let mut end = BODY_LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &s[..end], s.len())
}

fn indent(text: &str, by: &str) -> String {
    text.lines().map(|l| format!("{by}{l}\n")).collect()
}

fn step_title(step: &StepResult) -> String {
    let name = step
        .name
        .as_deref()
        .map(|n| format!(" \"{n}\""))
        .unwrap_or_default();
    format!(
        "step {} ({}{name}) at {}",
        step.index, step.kind, step.location
    )
}

/// One failed scenario.
pub fn failure(s: &ScenarioResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "FAILED {} — {}", s.id, s.name);
    let _ = writeln!(out, "  rule: {} [{}]", s.source, s.level.as_str());
    let Some(step) = s.failed_step() else {
        return out;
    };
    let _ = writeln!(out, "  {}", step_title(step));
    if let Some(req) = &step.request {
        let _ = writeln!(out, "  > {} {}", req.method, req.url);
        for (k, v) in &req.headers {
            let _ = writeln!(out, "  > {k}: {v}");
        }
        if let Some(b) = &req.body {
            out.push_str(&indent(&clip(b), "  > "));
        }
    }
    if let Some(resp) = &step.response {
        let _ = writeln!(out, "  < {}", resp.status);
        for (k, v) in &resp.headers {
            let _ = writeln!(out, "  < {k}: {v}");
        }
        if !resp.body.is_empty() {
            let body = resp
                .json
                .as_ref()
                .and_then(|j| serde_json::to_string_pretty(j).ok())
                .unwrap_or_else(|| resp.body.clone());
            out.push_str(&indent(&clip(&body), "  < "));
        }
    }
    if let Some(e) = &step.error {
        let _ = writeln!(out, "  error: {e}");
    }
    for a in step.failed_assertions() {
        let _ = writeln!(out, "  ✗ {}", a.check);
        out.push_str(&diff::render(&a.expected, &a.actual, "      "));
        if let Some(m) = &a.message {
            out.push_str(&indent(m, "      note: "));
        }
    }
    for n in &step.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    out
}

/// The whole report; ends with the summary line.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let mut scenarios: Vec<&ScenarioResult> = report.scenarios.iter().collect();
    scenarios.sort_by(|a, b| a.id.cmp(&b.id));
    for s in scenarios.iter().filter(|s| s.outcome == Outcome::Failed) {
        out.push_str(&failure(s));
        out.push('\n');
    }
    let skipped: Vec<_> = scenarios
        .iter()
        .filter_map(|s| match &s.outcome {
            Outcome::Skipped(r) => Some((s, r)),
            _ => None,
        })
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(out, "skipped:");
        for (s, reason) in skipped {
            let _ = writeln!(out, "  {}: {reason}", s.id);
        }
        out.push('\n');
    }
    let _ = writeln!(out, "target: {}", report.target);
    let _ = writeln!(out, "{}", report.summary_line());
    out
}

/// One line of progress.
pub fn progress(s: &ScenarioResult) -> String {
    match &s.outcome {
        Outcome::Passed => format!("ok      {}", s.id),
        Outcome::Failed => {
            let at = s
                .failed_step()
                .map(|st| format!(" (step {})", st.index))
                .unwrap_or_default();
            format!("FAILED  {}{at}", s.id)
        }
        Outcome::Skipped(r) => format!("skipped {}: {r}", s.id),
    }
}
