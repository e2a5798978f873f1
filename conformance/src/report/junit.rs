//! JUnit XML: one `<testcase>` per scenario, grouped by the first path
//! segment of its id (`numora`, `dataverse`, `control`).

use std::fmt::Write as _;

use indexmap::IndexMap;

use super::human;
use crate::runner::result::{Outcome, RunReport, ScenarioResult};

pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit times are seconds with a fraction.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

pub(crate) fn render(report: &RunReport) -> String {
    let mut suites: IndexMap<String, Vec<&ScenarioResult>> = IndexMap::new();
    for s in &report.scenarios {
        let suite = s.id.split('/').next().unwrap_or("scenarios").to_owned();
        suites.entry(suite).or_default().push(s);
    }
    let (p, f, sk) = report.count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"conformance\" tests=\"{}\" failures=\"{f}\" skipped=\"{sk}\" time=\"{}\">",
        p + f + sk,
        seconds(report.duration_ms)
    );
    let coverage = report
        .coverage
        .as_ref()
        .map(|c| {
            format!(
                "      <property name=\"rules_checked\" value=\"{} of {} ({}%)\"/>\n",
                c.checked(),
                c.rules.len(),
                c.percent()
            )
        })
        .unwrap_or_default();
    let properties = format!(
        "    <properties>\n      <property name=\"seed\" value=\"{}\"/>\n      <property name=\"target\" value=\"{}\"/>\n      <property name=\"version\" value=\"{}\"/>\n{coverage}    </properties>\n",
        report.seed,
        escape(&report.target),
        escape(&report.version)
    );
    for (name, cases) in suites {
        let failures = cases
            .iter()
            .filter(|c| c.outcome == Outcome::Failed)
            .count();
        let skipped = cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Skipped(_)))
            .count();
        let time: u64 = cases.iter().map(|c| c.duration_ms).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{}\">",
            escape(&name),
            cases.len(),
            seconds(time)
        );
        out.push_str(&properties);
        for c in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" time=\"{}\"",
                escape(&name),
                escape(&c.id),
                escape(&c.file),
                seconds(c.duration_ms)
            );
            match &c.outcome {
                Outcome::Passed => out.push_str("/>\n"),
                Outcome::Skipped(r) => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(r)
                    );
                }
                Outcome::Failed => {
                    let first = c
                        .failed_step()
                        .and_then(|s| {
                            s.error
                                .clone()
                                .or_else(|| s.failed_assertions().next().map(|a| a.check.clone()))
                        })
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        escape(&first),
                        escape(&human::failure(c, crate::style::Style::PLAIN))
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
