//! The report for people: each failure with its step, request, response
//! and a diff; skipped scenarios with their reason; the summary line last.

use std::fmt::Write as _;

use super::diff;
use crate::runner::result::{Outcome, RunReport, ScenarioResult, StepResult};
use crate::style::{duration, Style};

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
pub(crate) fn failure(s: &ScenarioResult, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} — {}",
        style.bad("FAILED"),
        style.bold(&s.id),
        s.name
    );
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
        let _ = writeln!(out, "  {} {}", style.bad("✗"), a.check);
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
pub(crate) fn render(report: &RunReport, style: Style) -> String {
    let mut out = String::new();
    let mut scenarios: Vec<&ScenarioResult> = report.scenarios.iter().collect();
    scenarios.sort_by(|a, b| a.id.cmp(&b.id));
    for s in scenarios.iter().filter(|s| s.outcome == Outcome::Failed) {
        out.push_str(&failure(s, style));
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
        // Grouped by reason: one line says what would enable them all.
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for (s, reason) in skipped {
            match groups.iter_mut().find(|(r, _)| r == reason) {
                Some((_, ids)) => ids.push(&s.id),
                None => groups.push((reason.as_str(), vec![s.id.as_str()])),
            }
        }
        groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        let _ = writeln!(out, "{}", style.warn("skipped:"));
        for (reason, ids) in groups {
            let _ = writeln!(out, "  {} × {reason}", ids.len());
            let _ = writeln!(out, "      {}", style.dim(&ids.join(", ")));
        }
        out.push('\n');
    }
    if let Some(c) = &report.coverage {
        let _ = writeln!(out, "{}", style.bold("coverage:"));
        for line in c.lines() {
            let _ = writeln!(out, "  {line}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "target: {}", report.target);
    let (_, failed, _) = report.count();
    let line = report.summary_line();
    let _ = writeln!(
        out,
        "{}",
        if failed > 0 {
            style.bad(&line)
        } else {
            style.ok(&line)
        }
    );
    out
}

/// One line of progress: a running counter, the verdict, the time. A
/// failure's details are in the report only, printed once.
pub(crate) fn progress(s: &ScenarioResult, done: usize, total: usize, style: Style) -> String {
    let width = total.to_string().len();
    let counter = style.dim(&format!("[{done:>width$}/{total}]"));
    let time = style.dim(&duration(s.duration_ms));
    match &s.outcome {
        Outcome::Passed => format!("{counter} {}      {}  {time}", style.ok("ok"), s.id),
        Outcome::Failed => {
            let at = s
                .failed_step()
                .map(|st| format!(" (step {})", st.index))
                .unwrap_or_default();
            format!("{counter} {}  {}{at}  {time}", style.bad("FAILED"), s.id)
        }
        Outcome::Skipped(_) => format!("{counter} {} {}", style.warn("skipped"), s.id),
    }
}
