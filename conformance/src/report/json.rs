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
        "coverage": report.coverage.as_ref().map(|c| json!({
            "rules_checked": c.checked(),
            "rules_total": c.rules.len(),
            "percent": c.percent(),
            "rules": c.rules,
            "endpoints": c.endpoints,
        })),
        "scenarios": report.scenarios,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
