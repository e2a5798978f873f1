//! `conformance sweep`: run a client command once per failure case, each in
//! a fresh workspace of the fake, and judge what it left behind.
//!
//! Per case: create a workspace, apply the case (settings, clock,
//! documents, control calls, faults), note the documents the outbox offers,
//! clear the journal, then run the command `--runs` times (between runs the
//! virtual clock advances by `--interval` and a run boundary is marked in
//! the journal). Then judge: the fault fired (else `not applicable`), the
//! verdicts have no `error`, the case's expectations hold, and every
//! document eligible at the start ended in an outcome the case allows
//! ([`judge`]).
//!
//! The command is started with `tokio::process` (no shell); its environment
//! names the workspace (`NUMORA_BASE_URL`, `NUMORA_API_KEY`,
//! `NUMORA_WORKSPACE`, `NUMORA_CONTROL_URL`, `NUMORA_CASE`, `NUMORA_RUN`).

pub mod case;
pub mod judge;
pub mod report;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::{json, Value};

use crate::audit::{Severity, Verdicts};
use crate::error::{UsageError, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::runner::result::StepResult;
use crate::scenario::model::Method;
use crate::target::{Session, Target};
use case::{Case, DocOutcome, ExitRule, Mode};
use judge::{Attempt, DocFacts, DocJudgement};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SweepFormat {
    Human,
    Json,
    Junit,
    Md,
}

/// `conformance sweep [OPTIONS] -- CMD [ARGS…]`.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Base URL of a running fake with the control API [default: the fake,
    /// in-process].
    ///
    /// Example: --target http://127.0.0.1:4010
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,

    /// The world of every case: a fixture file (YAML or JSON) [default: the
    /// fake's default world].
    #[arg(long, value_name = "FILE")]
    pub fixtures: Option<PathBuf>,

    /// A YAML file of cases (`cases: [...]`) that adds to the catalog or
    /// replaces catalog cases by name (format: docs/sweep.md).
    #[arg(long, value_name = "FILE")]
    pub cases: Option<PathBuf>,

    /// Run only these cases (comma-separated or repeated).
    ///
    /// Example: --only clean,dataverse_429_line_item
    #[arg(long, value_delimiter = ',', value_name = "NAME,…")]
    pub only: Vec<String>,

    /// The delivery mode the client uses [default: detected from the
    /// journal]. Cases for the other mode are then not run.
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<Mode>,

    /// Runs of the command per case, as a scheduled flow runs again on its
    /// next tick (so recovery is judged).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub runs: u32,

    /// The schedule's interval: between runs the virtual clock advances by
    /// it.
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub interval: String,

    /// Longest wall time of one run; the command is killed after it.
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    pub timeout: String,

    /// Cases run at once.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub parallel: usize,

    /// Keep each case's workspace (its id is in the report) to inspect.
    #[arg(long)]
    pub keep: bool,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "human", value_name = "FORMAT")]
    pub format: SweepFormat,

    /// Also write the report to this file (`.xml` JUnit, `.json` JSON,
    /// `.md` Markdown, anything else human).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Seed of the embedded fake and of the workspaces.
    #[arg(long, default_value_t = 7, value_name = "SEED")]
    pub seed: u64,

    /// List the cases (name, modes, source) and exit.
    #[arg(long)]
    pub list: bool,

    /// No progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// The client command and its arguments, after `--`.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// One run of the command.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub run: u32,
    /// `None` when it was killed (timeout) or could not start.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u128,
    /// The last lines of its stdout and stderr.
    pub output_tail: String,
}

/// The verdict on one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum CaseStatus {
    Passed,
    Failed,
    NotApplicable(String),
    /// The case could not be set up or judged.
    Error(String),
}

impl CaseStatus {
    pub fn label(&self) -> &'static str {
        match self {
            CaseStatus::Passed => "PASS",
            CaseStatus::Failed => "FAIL",
            CaseStatus::NotApplicable(_) => "n/a",
            CaseStatus::Error(_) => "ERROR",
        }
    }

    pub fn holds(&self) -> bool {
        matches!(self, CaseStatus::Passed | CaseStatus::NotApplicable(_))
    }
}

/// Everything known about one case after it ran.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub name: String,
    pub source: String,
    pub description: String,
    pub status: CaseStatus,
    pub workspace: Option<String>,
    pub mode: Option<Mode>,
    pub runs: Vec<RunRecord>,
    /// Whether a fault of the case acted on a call (`None`: no fault).
    pub fault_fired: Option<bool>,
    pub documents: Vec<DocJudgement>,
    pub contract_holds: bool,
    /// `Err` says why no verdicts could be read. In JSON:
    /// `{"findings": [...]}` or `{"unavailable": "why"}`.
    #[serde(serialize_with = "verdicts_json")]
    pub verdicts: Result<Verdicts, String>,
    pub expectations: Vec<StepResult>,
    /// Why the case failed, one line each, with the evidence.
    pub failures: Vec<String>,
    pub notes: Vec<String>,
}

fn verdicts_json<S: serde::Serializer>(
    v: &Result<Verdicts, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Ok(v) => v.serialize(s),
        Err(why) => json!({ "unavailable": why }).serialize(s),
    }
}

impl CaseResult {
    fn new(c: &Case) -> CaseResult {
        CaseResult {
            name: c.name.clone(),
            source: c.source.clone(),
            description: c.description.clone(),
            status: CaseStatus::Passed,
            workspace: None,
            mode: None,
            runs: Vec::new(),
            fault_fired: None,
            documents: Vec::new(),
            contract_holds: true,
            verdicts: Err("not read".into()),
            expectations: Vec::new(),
            failures: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Count of each outcome, in a fixed order.
    pub fn outcome_counts(&self) -> Vec<(DocOutcome, usize)> {
        [
            DocOutcome::Delivered,
            DocOutcome::Skipped,
            DocOutcome::Failed,
            DocOutcome::Untouched,
            DocOutcome::Broken,
        ]
        .into_iter()
        .map(|o| (o, self.documents.iter().filter(|d| d.outcome == o).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// The whole sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub target: String,
    pub command: Vec<String>,
    pub cases: Vec<CaseResult>,
}

impl SweepReport {
    pub fn success(&self) -> bool {
        self.cases.iter().all(|c| c.status.holds())
    }

    pub fn summary_line(&self) -> String {
        let n = |f: fn(&CaseStatus) -> bool| self.cases.iter().filter(|c| f(&c.status)).count();
        format!(
            "{} passed, {} failed, {} not applicable",
            n(|s| *s == CaseStatus::Passed),
            n(|s| matches!(s, CaseStatus::Failed | CaseStatus::Error(_))),
            n(|s| matches!(s, CaseStatus::NotApplicable(_)))
        )
    }
}

/// Options the cases share.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub command: Vec<String>,
    pub fixtures: Option<Value>,
    pub mode: Option<Mode>,
    pub runs: u32,
    pub interval: Duration,
    pub timeout: Duration,
    pub keep: bool,
    pub seed: u64,
}

const TAIL_LINES: usize = 20;

/// Wall time, for the durations and progress the report shows about the
/// user's command (a real process: the virtual clock does not apply).
#[allow(clippy::disallowed_methods)]
fn wall_now() -> Instant {
    Instant::now()
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

async fn control_ok(
    session: &Session,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let r = session
        .control(method, path, body)
        .await
        .map_err(|e| format!("{} {path}: {}", method.as_str(), e.message))?;
    if !(200..300).contains(&r.status) {
        return Err(format!(
            "{} {path} answered {}: {}",
            method.as_str(),
            r.status,
            r.body.chars().take(400).collect::<String>()
        ));
    }
    Ok(r.json.unwrap_or(Value::Null))
}

/// A public GET with the workspace's key.
async fn public_get(target: &Target, session: &Session, path: &str) -> Result<Value, String> {
    let url = format!("{}{path}", session.base_url);
    let r = target
        .client()
        .get(&url)
        .bearer_auth(&session.api_key)
        .header("x-request-id", "conformance-sweep-judge")
        .send()
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    let status = r.status().as_u16();
    let text = r.text().await.map_err(|e| format!("GET {path}: {e}"))?;
    if status != 200 {
        return Err(format!(
            "GET {path} answered {status}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    serde_json::from_str(&text).map_err(|e| format!("GET {path}: not JSON ({e})"))
}

/// Every document the outbox offers now (following `next_cursor`).
async fn outbox(target: &Target, session: &Session) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let path = match &cursor {
            Some(c) => format!("/v1/delivery/outbox?provider=dynamics365&limit=100&cursor={c}"),
            None => "/v1/delivery/outbox?provider=dynamics365&limit=100".to_owned(),
        };
        let v = public_get(target, session, &path).await?;
        for d in v["data"].as_array().into_iter().flatten() {
            if let Some(id) = d["document_id"].as_str() {
                ids.push(id.to_owned());
            }
        }
        match v["meta"]["next_cursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = Some(c.to_owned()),
            _ => return Ok(ids),
        }
    }
    Err("the outbox kept answering a next_cursor after 200 pages".into())
}

async fn apply_case(c: &Case, session: &Session) -> Result<(), String> {
    if let Some(s) = &c.settings {
        control_ok(session, Method::Patch, "settings", Some(s)).await?;
    }
    if let Some(clock) = &c.clock {
        control_ok(session, Method::Patch, "clock", Some(clock)).await?;
    }
    for d in &c.documents {
        control_ok(session, Method::Post, "documents", Some(d)).await?;
    }
    for call in &c.setup {
        control_ok(session, call.method, &call.path, call.body.as_ref()).await?;
    }
    Ok(())
}

/// Why the case's faults could not be added.
enum FaultError {
    /// The fake refused the rule (400): it cannot inject this failure.
    Refused(String),
    Other(String),
}

async fn add_faults(c: &Case, session: &Session) -> Result<Vec<String>, FaultError> {
    let mut ids = Vec::new();
    for f in &c.faults {
        let r = session
            .control(Method::Post, "faults", Some(f))
            .await
            .map_err(|e| FaultError::Other(format!("POST faults: {}", e.message)))?;
        if r.status == 400 {
            return Err(FaultError::Refused(format!(
                "this fake cannot inject the case's fault {f}: {}",
                r.body.chars().take(300).collect::<String>()
            )));
        }
        if !(200..300).contains(&r.status) {
            return Err(FaultError::Other(format!(
                "POST faults answered {}: {}",
                r.status,
                r.body.chars().take(300).collect::<String>()
            )));
        }
        if let Some(id) = r.json.as_ref().and_then(|v| v["data"]["id"].as_str()) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

async fn run_command(
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

async fn journal_count(session: &Session, query: &str) -> Result<u64, String> {
    let v = control_ok(
        session,
        Method::Get,
        &format!("journal/count?{query}"),
        None,
    )
    .await?;
    v["data"]["count"]
        .as_u64()
        .ok_or_else(|| format!("journal/count?{query}: no data.count"))
}

async fn detect_mode(session: &Session) -> Result<Option<Mode>, String> {
    let dispatched = journal_count(
        session,
        "method=POST&path=/v1/documents/*/dispatch&internal=false",
    )
    .await?;
    let called_back = journal_count(
        session,
        "method=POST&path=/v1/documents/*/delivery&internal=false",
    )
    .await?;
    Ok(match (dispatched > 0, called_back > 0) {
        (true, false) => Some(Mode::Dispatch),
        (false, true) => Some(Mode::Executor),
        (true, true) => Some(if dispatched >= called_back {
            Mode::Dispatch
        } else {
            Mode::Executor
        }),
        (false, false) => None,
    })
}

async fn attempts_before(session: &Session) -> Result<HashMap<String, usize>, String> {
    let v = control_ok(session, Method::Get, "documents", None).await?;
    Ok(v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some((
                d["id"].as_str()?.to_owned(),
                d["attempts"].as_array().map_or(0, Vec::len),
            ))
        })
        .collect())
}

/// Gather the facts and judge every document eligible at the start.
async fn judge_contract(
    target: &Target,
    session: &Session,
    eligible: &[String],
    before: &HashMap<String, usize>,
    allow: &[DocOutcome],
) -> Result<Vec<DocJudgement>, String> {
    let rows = |set: &str| format!("dataverse/{set}");
    let invoices = control_ok(session, Method::Get, &rows("otcm_inboundinvoices"), None).await?;
    let lines = control_ok(
        session,
        Method::Get,
        &rows("otcm_inboundinvoicelineitems"),
        None,
    )
    .await?;
    let suppliers = control_ok(session, Method::Get, &rows("otcm_suppliers"), None).await?;
    let supplier_names: Vec<String> = suppliers["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["otcm_name"].as_str().map(str::to_owned))
        .collect();
    let still = outbox(target, session).await?;
    let mut facts = Vec::new();
    let mut attempts_by_doc = HashMap::new();
    for id in eligible {
        let doc = public_get(target, session, &format!("/v1/documents/{id}")).await?;
        let atts = public_get(
            target,
            session,
            &format!("/v1/documents/{id}/delivery?provider=dynamics365&limit=100"),
        )
        .await?;
        let result = public_get(target, session, &format!("/v1/documents/{id}/result")).await?;
        let attempts: Vec<Attempt> = atts["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(Attempt::from_json)
            .collect();
        attempts_by_doc.insert(id.clone(), attempts.clone());
        let vendor = result["data"]["data"]["fields"]["vendor_name"]["value"].as_str();
        facts.push(DocFacts {
            id: id.clone(),
            status: doc["data"]["status"].as_str().unwrap_or("").to_owned(),
            attempts,
            attempts_before: before.get(id).copied().unwrap_or(0),
            in_outbox: still.contains(id),
            result_lines: result["data"]["data"]["line_items"]
                .as_array()
                .map_or(0, Vec::len),
            invoices: Vec::new(),
            supplier_exists: vendor.map(|v| supplier_names.iter().any(|s| s == v)),
        });
    }
    let empty = Vec::new();
    let linked = judge::link_rows(
        invoices["data"].as_array().unwrap_or(&empty),
        lines["data"].as_array().unwrap_or(&empty),
        &attempts_by_doc,
    );
    Ok(facts
        .into_iter()
        .map(|mut f| {
            f.invoices = linked.get(&f.id).cloned().unwrap_or_default();
            judge::classify(&f, allow)
        })
        .collect())
}

async fn run_expectations(c: &Case, target: &Target, session: &Session, result: &mut CaseResult) {
    let mut ctx = crate::runner::step::StepContext {
        target,
        session,
        vars: session.builtin_vars(),
        snapshot: None,
        receivers: indexmap::IndexMap::new(),
        advancing: crate::runner::webhooks::Advancing::default(),
    };
    for (i, step) in c.expect.iter().enumerate() {
        let location = crate::scenario::Location {
            file: PathBuf::from(format!("case {}", c.name)),
            line: 0,
            column: i + 1,
        };
        let r = crate::runner::step::run_step(i, step, location, &mut ctx).await;
        if !r.passed() {
            let what = r
                .error
                .clone()
                .or_else(|| {
                    r.failed_assertions()
                        .next()
                        .map(|a| format!("{}: expected {}, got {}", a.check, a.expected, a.actual))
                })
                .unwrap_or_default();
            result.failures.push(format!(
                "expectation {} ({}{}) failed: {what}",
                i + 1,
                r.kind,
                r.name
                    .as_deref()
                    .map(|n| format!(" \"{n}\""))
                    .unwrap_or_default()
            ));
        }
        result.expectations.push(r);
    }
}

/// Run and judge one case.
pub async fn run_case(c: &Case, target: &Target, opts: &SweepOptions) -> CaseResult {
    let mut result = CaseResult::new(c);
    if let Some(m) = opts.mode {
        if !c.modes.is_empty() && !c.modes.contains(&m) {
            result.mode = Some(m);
            result.status = CaseStatus::NotApplicable(format!(
                "for {} mode only; the client uses {} mode",
                c.modes
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join("/"),
                m.as_str()
            ));
            return result;
        }
    }
    let fixtures = c.fixtures.as_ref().or(opts.fixtures.as_ref());
    let session = match target
        .open(Some(c.seed.unwrap_or(opts.seed)), fixtures)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            result.status = CaseStatus::Error(e);
            return result;
        }
    };
    result.workspace = session.workspace.clone();
    if let Err(e) = judge_case(c, target, &session, opts, &mut result).await {
        result.status = CaseStatus::Error(e);
    }
    if !opts.keep {
        if let Some(ws) = &session.workspace {
            // Best effort: a workspace left behind only costs the fake memory.
            let _ = session
                .control(Method::Delete, &format!("/_mock/workspaces/{ws}"), None)
                .await;
        }
    }
    result
}

async fn judge_case(
    c: &Case,
    target: &Target,
    session: &Session,
    opts: &SweepOptions,
    result: &mut CaseResult,
) -> Result<(), String> {
    apply_case(c, session)
        .await
        .map_err(|e| format!("setting up the case: {e}"))?;
    let eligible = outbox(target, session).await?;
    let before = attempts_before(session).await?;
    // The harness's own reads are not the client's: start a clean record,
    // and inject the failure only now.
    control_ok(session, Method::Delete, "journal", None).await?;
    let fault_ids = match add_faults(c, session).await {
        Ok(ids) => ids,
        Err(FaultError::Refused(why)) => {
            result.status = CaseStatus::NotApplicable(why);
            return Ok(());
        }
        Err(FaultError::Other(e)) => return Err(format!("setting up the case: {e}")),
    };
    let runs = c.runs.unwrap_or(opts.runs).max(1);
    let mut marks = true;
    for run in 1..=runs {
        if run > 1 {
            let by = json!({"by": format!("{}ms", opts.interval.as_millis())});
            control_ok(session, Method::Post, "clock/advance", Some(&by)).await?;
        }
        if marks {
            let label = json!({"label": format!("run {run}")});
            let r = session
                .control(Method::Post, "journal/mark", Some(&label))
                .await;
            if !matches!(&r, Ok(resp) if (200..300).contains(&resp.status)) {
                marks = false;
                result.notes.push(
                    "the target cannot mark run boundaries in its journal (POST journal/mark); retry-after waits are judged across runs".into(),
                );
            }
        }
        let record = run_command(opts, c, session, run).await?;
        if record.timed_out {
            result.failures.push(format!(
                "run {run} timed out after {} s",
                opts.timeout.as_secs()
            ));
        } else if record.exit_code != Some(0) && c.exit == ExitRule::Zero {
            result.failures.push(format!(
                "run {run} exited {} (this case needs exit 0): {}",
                record
                    .exit_code
                    .map_or("by a signal".to_owned(), |c| c.to_string()),
                record.output_tail.lines().last().unwrap_or("")
            ));
        }
        result.runs.push(record);
    }

    // Did the failure happen at all?
    let mut fired = None;
    if !fault_ids.is_empty() {
        let v = control_ok(session, Method::Get, "faults", None).await?;
        let hits: u64 = v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| {
                f["id"]
                    .as_str()
                    .is_some_and(|id| fault_ids.iter().any(|k| k == id))
            })
            .map(|f| f["hits"].as_u64().unwrap_or(0))
            .sum();
        fired = Some(hits > 0);
    }
    if let Some(q) = &c.applies_if_journal {
        let n = journal_count(session, q).await?;
        fired = Some(fired.unwrap_or(true) && n > 0);
    }
    result.fault_fired = fired;
    // Disarm the case's faults: the judge's reads must not meet them.
    for id in &fault_ids {
        control_ok(session, Method::Delete, &format!("faults/{id}"), None).await?;
    }
    let detected = detect_mode(session).await?;
    result.mode = opts.mode.or(detected);

    // The verdicts first: the judge's own reads below are journaled too.
    let control = session.control_url.clone().unwrap_or_default();
    result.verdicts = crate::audit::fetch(target.client(), &control)
        .await
        .map_err(|e| e.to_string());
    match &result.verdicts {
        Ok(v) => {
            for f in v.at_or_above(Severity::Error) {
                result.failures.push(format!(
                    "verdict {}{}: {} (journal {})",
                    f.rule,
                    f.document_id
                        .as_deref()
                        .map(|d| format!(" on {d}"))
                        .unwrap_or_default(),
                    f.message,
                    f.evidence
                        .iter()
                        .map(|e| format!("#{e}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Err(e) => result.notes.push(e.clone()),
    }
    run_expectations(c, target, session, result).await;
    result.documents = judge_contract(target, session, &eligible, &before, &c.allow).await?;
    for d in &result.documents {
        for p in &d.problems {
            result.contract_holds = false;
            result.failures.push(format!("contract: {}: {p}", d.id));
        }
    }

    result.status = if let Some(m) = result
        .mode
        .filter(|m| !c.modes.is_empty() && !c.modes.contains(m))
    {
        CaseStatus::NotApplicable(format!("the client uses {} mode", m.as_str()))
    } else if fired == Some(false) {
        CaseStatus::NotApplicable(
            "the case's failure never happened: no fault rule acted on a call".into(),
        )
    } else if result.failures.is_empty() {
        CaseStatus::Passed
    } else {
        CaseStatus::Failed
    };
    Ok(())
}

/// Run the cases, `parallel` at a time; results in case order.
pub async fn run_all(
    cases: Vec<Case>,
    target: Arc<Target>,
    opts: Arc<SweepOptions>,
    parallel: usize,
    progress: bool,
) -> SweepReport {
    let started = wall_now();
    let total = cases.len();
    let limit = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut handles = Vec::new();
    for c in cases {
        let (target, opts, limit, done) =
            (target.clone(), opts.clone(), limit.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let r = run_case(&c, &target, &opts).await;
            let i = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if progress {
                eprintln!(
                    "sweep: case {i} of {total}: {:<5} {} ({:.1} s elapsed)",
                    r.status.label(),
                    r.name,
                    started.elapsed().as_secs_f64()
                );
            }
            (c, r)
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        match h.await {
            Ok((_, r)) => out.push(r),
            Err(e) => out.push(CaseResult {
                status: CaseStatus::Error(format!("the case task failed: {e}")),
                ..CaseResult::new(&Case {
                    name: "<panic>".into(),
                    description: String::new(),
                    source: String::new(),
                    modes: Vec::new(),
                    fixtures: None,
                    seed: None,
                    settings: None,
                    clock: None,
                    documents: Vec::new(),
                    setup: Vec::new(),
                    faults: Vec::new(),
                    applies_if_journal: None,
                    allow: Vec::new(),
                    exit: ExitRule::Any,
                    runs: None,
                    expect: Vec::new(),
                })
            }),
        }
    }
    SweepReport {
        target: target.label.clone(),
        command: opts.command.clone(),
        cases: out,
    }
}

fn read_fixtures(path: &std::path::Path) -> Result<Value, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read --fixtures {}: {e}", path.display())))?;
    serde_yaml_ng::from_str::<Value>(&text).map_err(|e| {
        UsageError(format!(
            "--fixtures {}: not YAML or JSON: {e}",
            path.display()
        ))
    })
}

async fn open_target(args: &SweepArgs) -> Result<Target, UsageError> {
    match &args.target {
        Some(url) => {
            // The key is never used: a target without control is refused.
            let t = crate::target::remote::connect(url, Some(String::new()), false, None)
                .await
                .map_err(UsageError)?;
            if !t.capabilities.control {
                return Err(UsageError(format!(
                    "{url} has no control API (GET /_mock/health did not answer): a sweep needs the Numora fake (mock-server) to give each case a fresh workspace, inject its failure and read what the client wrote. Start mock-server and pass its URL, e.g. --target http://127.0.0.1:4010"
                )));
            }
            Ok(t)
        }
        None => {
            #[cfg(feature = "embedded")]
            {
                crate::target::embedded::start(args.seed, None)
                    .await
                    .map_err(UsageError)
            }
            #[cfg(not(feature = "embedded"))]
            {
                Err(UsageError(
                    "this build has no embedded fake; pass --target URL".into(),
                ))
            }
        }
    }
}

fn render(r: &SweepReport, format: SweepFormat) -> String {
    match format {
        SweepFormat::Human => report::human(r),
        SweepFormat::Json => report::json(r) + "\n",
        SweepFormat::Junit => report::junit(r),
        SweepFormat::Md => report::markdown(r),
    }
}

/// Run `conformance sweep`; returns the exit code.
pub fn command(args: &SweepArgs) -> Result<u8, UsageError> {
    let cases = case::load(args.cases.as_deref()).map_err(UsageError)?;
    if args.list {
        for c in &cases {
            let modes = if c.modes.is_empty() {
                "both".to_owned()
            } else {
                c.modes
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            println!("{}\t{modes}\t{}", c.name, c.source);
        }
        return Ok(EXIT_OK);
    }
    let cases = case::select(cases, &args.only).map_err(UsageError)?;
    if args.command.is_empty() {
        return Err(UsageError(
            "no client command: give it after `--`, e.g. conformance sweep --target http://127.0.0.1:4010 -- n8n execute --id myFlow".into(),
        ));
    }
    let interval = crate::runner::wait::parse_duration(&args.interval)
        .map_err(|e| UsageError(format!("--interval: {e}")))?;
    let timeout = crate::runner::wait::parse_duration(&args.timeout)
        .map_err(|e| UsageError(format!("--timeout: {e}")))?;
    if args.runs == 0 {
        return Err(UsageError("--runs must be at least 1".into()));
    }
    let fixtures = args.fixtures.as_deref().map(read_fixtures).transpose()?;
    let opts = SweepOptions {
        command: args.command.clone(),
        fixtures,
        mode: args.mode,
        runs: args.runs,
        interval,
        timeout,
        keep: args.keep,
        seed: args.seed,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the async runtime: {e}")))?;
    let report = rt.block_on(async {
        let target = match open_target(args).await {
            Ok(t) => t,
            Err(e) => return Err(e),
        };
        Ok(run_all(
            cases,
            Arc::new(target),
            Arc::new(opts),
            args.parallel,
            !args.quiet,
        )
        .await)
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    print!("{}", render(&report, args.format));
    if args.format != SweepFormat::Human {
        eprintln!("{}", report.summary_line());
    }
    if let Some(path) = &args.report {
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("xml") => SweepFormat::Junit,
            Some("json") => SweepFormat::Json,
            Some("md") => SweepFormat::Md,
            _ => SweepFormat::Human,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(path, render(&report, format))
            .map_err(|e| UsageError(format!("cannot write report {}: {e}", path.display())))?;
    }
    Ok(if report.success() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}
