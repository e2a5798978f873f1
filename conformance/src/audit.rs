//! Verdicts on a client: `conformance audit` and the `verdicts:` step.
//!
//! The fake judges what a client did from its journal and answers the
//! findings at `GET /_mock/workspaces/{ws}/verdicts`. This module reads them
//! (HTTP only, like the rest of the harness), prints them for people, JSON
//! or JUnit, and decides the exit code from `--fail-on`. A target without
//! that endpoint is told apart from a clean client: "verdicts unavailable".

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{UsageError, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::report::junit::escape;

/// How serious a finding is; ordered `info < warning < error`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding of the fake's verdicts endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub(crate) struct Finding {
    pub rule: String,
    pub severity: Severity,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub advice: String,
    #[serde(default)]
    pub source: String,
    /// Journal entry ids (`seq`) the finding rests on.
    #[serde(default)]
    pub evidence: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
}

/// The findings of one workspace.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub(crate) struct Verdicts {
    pub findings: Vec<Finding>,
}

impl Verdicts {
    pub(crate) fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// Findings at or above `level`.
    pub(crate) fn at_or_above(&self, level: Severity) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.severity >= level)
    }

    pub(crate) fn summary_line(&self) -> String {
        format!(
            "{} error, {} warning, {} info",
            self.count(Severity::Error),
            self.count(Severity::Warning),
            self.count(Severity::Info)
        )
    }
}

/// Why no verdicts could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unavailable {
    /// The target has no verdicts endpoint (an older fake, or no fake).
    NoEndpoint(String),
    /// Any other failure (network, bad JSON, unknown workspace).
    Failed(String),
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::NoEndpoint(m) | Unavailable::Failed(m) => f.write_str(m),
        }
    }
}

/// Read the verdicts of a workspace, given its control URL
/// (`…/_mock/workspaces/{ws}`).
pub(crate) async fn fetch(
    client: &reqwest::Client,
    control_url: &str,
) -> Result<Verdicts, Unavailable> {
    let url = format!("{control_url}/verdicts");
    let resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| Unavailable::Failed(format!("GET {url}: {e}")))?;
    let status = resp.status().as_u16();
    let text = resp
        .text()
        .await
        .map_err(|e| Unavailable::Failed(format!("GET {url}: {e}")))?;
    if status == 404 || status == 405 {
        // The workspace exists (callers check), so a 404 is the route.
        return Err(Unavailable::NoEndpoint(format!(
            "verdicts unavailable on this target: GET {url} answered {status}; the target's fake has no verdicts endpoint (update mock-server)"
        )));
    }
    if status != 200 {
        return Err(Unavailable::Failed(format!(
            "GET {url} answered {status}: {}",
            text.chars().take(300).collect::<String>()
        )));
    }
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| Unavailable::Failed(format!("GET {url}: the body is not JSON ({e})")))?;
    serde_json::from_value::<Verdicts>(v["data"].clone()).map_err(|e| {
        Unavailable::Failed(format!(
            "GET {url}: unexpected shape ({e}); expected {{\"data\": {{\"findings\": [...]}}}}"
        ))
    })
}

fn evidence_text(f: &Finding) -> String {
    if f.evidence.is_empty() {
        return "none".into();
    }
    f.evidence
        .iter()
        .map(|e| match e {
            Value::Number(n) => format!("#{n}"),
            Value::String(s) => format!("#{s}"),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One finding for people, indented by `by`.
pub(crate) fn finding_text(f: &Finding, by: &str) -> String {
    let mut out = String::new();
    let doc = f
        .document_id
        .as_deref()
        .map(|d| format!(" (document {d})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{by}{:<7} {}{doc}: {}",
        f.severity.as_str(),
        f.rule,
        f.message
    );
    if !f.advice.is_empty() {
        let _ = writeln!(out, "{by}        fix: {}", f.advice);
    }
    let _ = writeln!(
        out,
        "{by}        evidence: journal {}{}",
        evidence_text(f),
        if f.source.is_empty() {
            String::new()
        } else {
            format!("; source: {}", f.source)
        }
    );
    out
}

/// The whole audit for people; ends with the summary line.
pub(crate) fn render_human(v: &Verdicts, workspace: &str, fail_on: Severity) -> String {
    let mut out = String::new();
    let mut sorted: Vec<&Finding> = v.findings.iter().collect();
    sorted.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
    for f in sorted {
        out.push_str(&finding_text(f, ""));
    }
    let failing = v.at_or_above(fail_on).count();
    let _ = writeln!(
        out,
        "workspace {workspace}: {} ({failing} at or above {})",
        v.summary_line(),
        fail_on.as_str()
    );
    out
}

pub(crate) fn render_json(v: &Verdicts, workspace: &str, fail_on: Severity) -> String {
    let out = json!({
        "workspace": workspace,
        "fail_on": fail_on,
        "summary": {
            "error": v.count(Severity::Error),
            "warning": v.count(Severity::Warning),
            "info": v.count(Severity::Info),
        },
        "failed": v.at_or_above(fail_on).count() > 0,
        "findings": v.findings,
    });
    serde_json::to_string_pretty(&out).unwrap_or_default()
}

/// One `<testcase>` per finding (failing at or above `fail_on`), or one
/// passing case when there is none, so CI shows the audit ran.
pub(crate) fn render_junit(v: &Verdicts, workspace: &str, fail_on: Severity) -> String {
    let failures = v.at_or_above(fail_on).count();
    let tests = v.findings.len().max(1);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"conformance audit\" tests=\"{tests}\" failures=\"{failures}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"verdicts {}\" tests=\"{tests}\" failures=\"{failures}\">",
        escape(workspace)
    );
    if v.findings.is_empty() {
        let _ = writeln!(
            out,
            "    <testcase classname=\"verdicts\" name=\"no findings\"/>"
        );
    }
    for f in &v.findings {
        let name = match &f.document_id {
            Some(d) => format!("{} {d}", f.rule),
            None => f.rule.clone(),
        };
        let _ = write!(
            out,
            "    <testcase classname=\"verdicts.{}\" name=\"{}\"",
            f.severity.as_str(),
            escape(&name)
        );
        if f.severity >= fail_on {
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                escape(&f.message),
                escape(&finding_text(f, ""))
            );
        } else {
            let _ = writeln!(
                out,
                ">\n      <system-out>{}</system-out>\n    </testcase>",
                escape(&finding_text(f, ""))
            );
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuditFormat {
    Human,
    Json,
    Junit,
}

/// `conformance audit`.
#[derive(Debug, Clone, Args)]
pub(crate) struct AuditArgs {
    /// Base URL of a running fake with the control API.
    ///
    /// Example: --target http://127.0.0.1:4010
    #[arg(long, value_name = "URL")]
    pub target: String,

    /// The workspace to judge [default: the one --api-key belongs to, else
    /// `default`].
    #[arg(long, value_name = "WS")]
    pub workspace: Option<String>,

    /// Find the workspace by one of its API keys (the key the client used).
    #[arg(
        long,
        env = "NUMORA_API_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,

    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, default_value = "error", value_name = "SEVERITY")]
    pub fail_on: Severity,

    /// Report format: on stdout, or in the --report file when one is
    /// given (stdout then gets the human report). The file's extension
    /// never decides it.
    #[arg(long, value_enum, default_value = "human", value_name = "FORMAT")]
    pub format: AuditFormat,

    /// Write the --format report to this file.
    ///
    /// Example: --format junit --report target/audit.xml
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

fn render(v: &Verdicts, ws: &str, fail_on: Severity, format: AuditFormat) -> String {
    match format {
        AuditFormat::Human => render_human(v, ws, fail_on),
        AuditFormat::Json => render_json(v, ws, fail_on) + "\n",
        AuditFormat::Junit => render_junit(v, ws, fail_on),
    }
}

/// Which workspace holds `key`, from `GET /_mock/workspaces`.
async fn workspace_of_key(
    client: &reqwest::Client,
    target: &str,
    key: &str,
) -> Result<Option<String>, String> {
    let url = format!("{target}/_mock/workspaces");
    let v: Value = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    for ws in v["data"].as_array().into_iter().flatten() {
        let has = ws["api_key"] == key
            || ws["api_keys"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["key"] == key);
        if has {
            return Ok(ws["id"].as_str().map(str::to_owned));
        }
    }
    Ok(None)
}

async fn audit(args: &AuditArgs) -> Result<(Verdicts, String), UsageError> {
    let target = args.target.trim_end_matches('/').to_owned();
    if !(target.starts_with("http://") || target.starts_with("https://")) {
        return Err(UsageError(format!(
            "--target `{target}` must start with http:// or https://"
        )));
    }
    let client = crate::target::http_client();
    let health = format!("{target}/_mock/health");
    let ok = match client.get(&health).send().await {
        Ok(r) => r.status().as_u16() == 200,
        Err(e) => return Err(UsageError(format!("cannot reach {target}: {e}"))),
    };
    if !ok {
        return Err(UsageError(format!(
            "{target} has no control API (GET /_mock/health did not answer 200): verdicts come from the Numora fake (mock-server) your client ran against"
        )));
    }
    let ws = match (&args.workspace, &args.api_key) {
        (Some(ws), _) => ws.clone(),
        (None, Some(key)) => workspace_of_key(&client, &target, key)
            .await
            .map_err(UsageError)?
            .ok_or_else(|| {
                UsageError(format!(
                    "no workspace of {target} has the API key given by --api-key/NUMORA_API_KEY; pass --workspace WS"
                ))
            })?,
        (None, None) => "default".to_owned(),
    };
    let control = format!("{target}/_mock/workspaces/{ws}");
    let resp = client
        .get(&control)
        .send()
        .await
        .map_err(|e| UsageError(format!("GET {control}: {e}")))?;
    if resp.status().as_u16() != 200 {
        return Err(UsageError(format!(
            "workspace `{ws}` does not exist on {target} (GET {control} answered {}); list them with GET {target}/_mock/workspaces",
            resp.status().as_u16()
        )));
    }
    let v = fetch(&client, &control)
        .await
        .map_err(|e| UsageError(e.to_string()))?;
    Ok((v, ws))
}

/// Run `conformance audit`; returns the exit code.
pub(crate) fn command(args: &AuditArgs) -> Result<u8, UsageError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the async runtime: {e}")))?;
    let (v, ws) = match rt.block_on(audit(args)) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    // With --report the file gets --format and stdout the human text, as
    // `run` does; the file's extension never decides.
    let shown = if args.report.is_some() {
        AuditFormat::Human
    } else {
        args.format
    };
    print!("{}", render(&v, &ws, args.fail_on, shown));
    if shown != AuditFormat::Human {
        eprintln!("workspace {ws}: {}", v.summary_line());
    }
    if let Some(path) = &args.report {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(path, render(&v, &ws, args.fail_on, args.format))
            .map_err(|e| UsageError(format!("cannot write report {}: {e}", path.display())))?;
    }
    Ok(if v.at_or_above(args.fail_on).next().is_some() {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// The scenario step `verdicts:`: assert on the workspace's findings.
///
/// ```yaml
/// - verdicts:
///     none_at_or_above: error
///     includes: [retry_after_ignored]
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerdictsStep {
    #[serde(default)]
    pub name: Option<String>,
    /// No finding at or above this severity.
    #[serde(default)]
    pub none_at_or_above: Option<Severity>,
    /// Rules that must be among the findings.
    #[serde(default)]
    pub includes: Vec<String>,
    /// Rules that must not be among the findings.
    #[serde(default)]
    pub excludes: Vec<String>,
}

/// Judge a `verdicts:` step against findings; each check is
/// `(description, passed, expected, actual)`.
pub(crate) fn judge_step(step: &VerdictsStep, v: &Verdicts) -> Vec<(String, bool, Value, Value)> {
    let mut out = Vec::new();
    if let Some(level) = step.none_at_or_above {
        let found: Vec<Value> = v
            .at_or_above(level)
            .map(|f| json!(format!("{} {}: {}", f.severity.as_str(), f.rule, f.message)))
            .collect();
        out.push((
            format!("no finding at or above {}", level.as_str()),
            found.is_empty(),
            json!([]),
            Value::Array(found),
        ));
    }
    let rules: Vec<&str> = v.findings.iter().map(|f| f.rule.as_str()).collect();
    for r in &step.includes {
        out.push((
            format!("findings include `{r}`"),
            rules.contains(&r.as_str()),
            json!(r),
            json!(rules),
        ));
    }
    for r in &step.excludes {
        out.push((
            format!("findings exclude `{r}`"),
            !rules.contains(&r.as_str()),
            json!(format!("no {r}")),
            json!(rules),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, severity: Severity) -> Finding {
        Finding {
            rule: rule.into(),
            severity,
            message: "m".into(),
            advice: "a".into(),
            source: "s".into(),
            evidence: vec![json!(3), json!(4)],
            document_id: Some("doc-1".into()),
        }
    }

    #[test]
    fn the_endpoint_shape_parses_and_severities_order() {
        let v: Verdicts = serde_json::from_value(json!({
            "findings": [{"rule": "retry_after_ignored", "severity": "error", "message": "x",
                          "advice": "wait", "source": "seed 001", "evidence": [1, 2]}],
            "summary": {"error": 1, "warning": 0, "info": 0}
        }))
        .unwrap();
        assert_eq!(v.findings[0].severity, Severity::Error);
        assert!(Severity::Error > Severity::Warning && Severity::Warning > Severity::Info);
        assert_eq!(v.at_or_above(Severity::Error).count(), 1);
    }

    #[test]
    fn steps_judge_levels_and_rules() {
        let v = Verdicts {
            findings: vec![
                finding("no_request_id", Severity::Info),
                finding("retry_without_backoff", Severity::Warning),
            ],
        };
        let step = VerdictsStep {
            none_at_or_above: Some(Severity::Error),
            includes: vec!["no_request_id".into()],
            excludes: vec!["partial_write".into()],
            ..VerdictsStep::default()
        };
        assert!(judge_step(&step, &v).iter().all(|c| c.1));
        let strict = VerdictsStep {
            none_at_or_above: Some(Severity::Warning),
            includes: vec!["partial_write".into()],
            ..VerdictsStep::default()
        };
        let checks = judge_step(&strict, &v);
        assert_eq!(checks.iter().filter(|c| !c.1).count(), 2, "{checks:?}");
    }

    #[test]
    fn renderers_show_rule_advice_evidence_and_document() {
        let v = Verdicts {
            findings: vec![finding("partial_write", Severity::Error)],
        };
        let h = render_human(&v, "ws1", Severity::Error);
        assert!(
            h.contains("error   partial_write (document doc-1): m"),
            "{h}"
        );
        assert!(h.contains("fix: a") && h.contains("journal #3, #4"), "{h}");
        assert!(h.ends_with("workspace ws1: 1 error, 0 warning, 0 info (1 at or above error)\n"));
        let x = render_junit(&v, "ws1", Severity::Error);
        assert!(
            x.contains("failures=\"1\"") && x.contains("<failure"),
            "{x}"
        );
        let x = render_junit(&v, "ws1", Severity::Error.max(Severity::Error));
        assert!(x.contains("partial_write doc-1"));
        let j: Value = serde_json::from_str(&render_json(&v, "ws1", Severity::Error)).unwrap();
        assert_eq!(j["failed"], true);
        assert_eq!(j["findings"][0]["evidence"], json!([3, 4]));
    }
}
