//! One case from set-up to verdict, and all of them `--parallel` at a time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::case::{Case, ExitRule, Mode};
use super::fake::{
    add_faults, apply_case, attempts_before, control_ok, detect_mode, journal_count,
    judge_contract, outbox, FaultError,
};
use super::process::{run_command, wall_now};
use super::result::{CaseResult, CaseStatus, SweepReport};
use crate::audit::Severity;
use crate::scenario::model::Method;
use crate::target::{Session, Target};

/// Options the cases share.
#[derive(Debug, Clone)]
pub(crate) struct SweepOptions {
    pub command: Vec<String>,
    pub fixtures: Option<Value>,
    pub mode: Option<Mode>,
    pub runs: u32,
    pub interval: Duration,
    pub timeout: Duration,
    pub keep: bool,
    pub seed: u64,
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
        let location = crate::scenario::location::Location {
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
async fn run_case(c: &Case, target: &Target, opts: &SweepOptions) -> CaseResult {
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
    result.workspace_kept = true;
    if !opts.keep {
        if let Some(ws) = &session.workspace {
            // Best effort: a workspace left behind only costs the fake memory.
            let deleted = session
                .control(Method::Delete, &format!("/_mock/workspaces/{ws}"), None)
                .await;
            result.workspace_kept = !matches!(&deleted, Ok(r) if (200..300).contains(&r.status));
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
pub(crate) async fn run_all(
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
