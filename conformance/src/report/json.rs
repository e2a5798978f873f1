//! Machine-readable report: the [`RunReport`] as JSON plus the counts.

use serde_json::json;

use crate::runner::result::RunReport;

pub(crate) fn render(report: &RunReport) -> String {
    let (passed, failed, skipped) = report.count();
    let v = json!({
        "target": report.target,
        "version": report.version,
        "seed": report.seed,
        "duration_ms": report.duration_ms,
        "summary": {"passed": passed, "failed": failed, "skipped": skipped},
        "scenarios": report.scenarios,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
