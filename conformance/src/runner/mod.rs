//! Running scenarios against a target. Returns results; never prints
//! (progress goes to an [`Events`] sink, reports are written by `report`).

pub(crate) mod expect;
pub(crate) mod jsonpath;
pub(crate) mod result;
pub(crate) mod snapshot;
pub(crate) mod step;
pub(crate) mod wait;
pub(crate) mod webhooks;

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::scenario::model::Level;
use crate::scenario::parse::LoadedScenario;
use crate::target::Target;
use result::{Outcome, RunReport, ScenarioResult, StepResult};
use snapshot::SnapshotConfig;

/// Options of a run that are not about the target.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    /// Scenarios run at once.
    pub jobs: usize,
    /// `--var name=value`.
    pub vars: IndexMap<String, Value>,
    pub snapshots: SnapshotConfig,
    /// `--seed`, recorded in reports.
    pub seed: u64,
    /// `--state-hook CMD`.
    pub state_hook: Option<String>,
    /// `{{run_id}}`: unique per run, so that what a run creates (e.g. an
    /// `external_id`) never collides with an earlier run's.
    pub run_id: String,
}

/// A nonce for `{{run_id}}`: the wall clock and the process id, in base 36.
/// The workspace bans wall clocks so that none reaches a response of the
/// fake; here it only names what the harness creates.
#[allow(clippy::disallowed_methods)]
pub(crate) fn run_nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut n = nanos ^ (u128::from(std::process::id()) << 64);
    let mut out = String::new();
    while n > 0 && out.len() < 12 {
        let d = (n % 36) as u32;
        out.push(char::from_digit(d, 36).unwrap_or('0'));
        n /= 36;
    }
    out
}

/// Progress notifications, for a live display on stderr.
pub(crate) trait Events: Send + Sync {
    /// Before the first scenario starts: how many will run.
    fn run_started(&self, _total: usize) {}
    fn scenario_finished(&self, _result: &ScenarioResult) {}
}

/// An [`Events`] sink that ignores everything.
#[derive(Debug)]
pub(crate) struct Quiet;
impl Events for Quiet {}

/// Why a scenario cannot run on this target, if it cannot.
pub(crate) fn skip_reason(
    s: &LoadedScenario,
    target: &Target,
    vars: &IndexMap<String, Value>,
    hook: Option<&str>,
) -> Option<String> {
    let caps = target.capabilities;
    if s.needs_control() && !caps.control {
        return Some("needs the control API of the fake; the target has none".into());
    }
    if s.sends_writes() && !caps.writes {
        return Some("sends writes (POST/PUT/PATCH/DELETE); pass --allow-writes to run it against this target".into());
    }
    if s.dispatches() && !caps.dispatch {
        return Some("dispatches a document, which reaches the deployment's CRM; pass --allow-dispatch (with --allow-writes) to run it".into());
    }
    if !caps.control && hook.is_none() {
        if let Some(state) = &s.scenario.state {
            let missing: Vec<String> = s
                .scenario
                .requires
                .vars
                .iter()
                .filter(|v| !vars.contains_key(*v))
                .map(|v| format!("--var {v}=…"))
                .collect();
            if missing.is_empty() && !s.scenario.requires.vars.is_empty() {
                // Every part of the state was given with --var.
            } else if missing.is_empty() {
                return Some(format!(
                    "needs the provider state `{state}`: pass --state-hook CMD (run as `CMD {state}`)"
                ));
            } else {
                return Some(format!(
                    "needs the provider state `{state}`: pass --state-hook CMD (run as `CMD {state}`), or {}",
                    missing.join(" ")
                ));
            }
        }
    }
    if !caps.control {
        let missing: Vec<String> = s
            .keys
            .iter()
            .filter(|k| !vars.contains_key(&format!("keys.{k}")))
            .map(|k| format!("--var keys.{k}=KEY"))
            .collect();
        if !missing.is_empty() {
            return Some(format!(
                "needs another API key of the workspace: pass {}",
                missing.join(" ")
            ));
        }
    }
    if !caps.control && s.scenario.state.is_none() {
        let missing: Vec<&str> = s
            .scenario
            .requires
            .vars
            .iter()
            .filter(|v| !vars.contains_key(*v))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let flags: Vec<String> = missing.iter().map(|v| format!("--var {v}=…")).collect();
            return Some(format!("needs {}", flags.join(" ")));
        }
    }
    None
}

/// Run `CMD STATE` through the shell; its stdout must be one JSON object
/// whose values are strings (they become variables).
async fn run_state_hook(hook: &str, state: &str) -> Result<IndexMap<String, Value>, String> {
    let line = format!("{hook} {state}");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(line)
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r.map_err(|e| e.to_string()))
    .map_err(|e| format!("--state-hook `{hook}` cannot start: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "--state-hook `{hook} {state}` exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!("--state-hook `{hook} {state}` must print a JSON object of strings: {e}")
    })?;
    let Value::Object(map) = v else {
        return Err(format!(
            "--state-hook `{hook} {state}` must print a JSON object of strings, not {v}"
        ));
    };
    let mut vars = IndexMap::new();
    for (k, v) in map {
        match v {
            Value::String(_) => {
                vars.insert(k, v);
            }
            other => {
                return Err(format!(
                    "--state-hook `{hook} {state}`: `{k}` must be a string, not {other}"
                ))
            }
        }
    }
    Ok(vars)
}

fn skeleton(s: &LoadedScenario, outcome: Outcome) -> ScenarioResult {
    ScenarioResult {
        id: s.id.clone(),
        name: s.scenario.name.clone(),
        file: s.path.display().to_string(),
        source: s.scenario.source.clone(),
        level: s.scenario.level,
        tags: s.scenario.tags.clone(),
        outcome,
        steps: Vec::new(),
        rules: s.scenario.rules.clone(),
        endpoints: s.endpoints.clone(),
        duration_ms: 0,
    }
}

/// Run one scenario in its own session (a fresh workspace on a fake).
pub(crate) async fn run_scenario(
    s: &LoadedScenario,
    target: &Target,
    opts: &RunOptions,
) -> ScenarioResult {
    let started = crate::style::stopwatch();
    let mut result = run_scenario_untimed(s, target, opts).await;
    result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    result
}

async fn run_scenario_untimed(
    s: &LoadedScenario,
    target: &Target,
    opts: &RunOptions,
) -> ScenarioResult {
    if let Some(reason) = skip_reason(s, target, &opts.vars, opts.state_hook.as_deref()) {
        return skeleton(s, Outcome::Skipped(reason));
    }
    // A declared provider state on a target without control: the hook
    // makes it and names its parts.
    let mut state_vars = IndexMap::new();
    if let (Some(state), Some(hook), false) = (
        &s.scenario.state,
        &opts.state_hook,
        target.capabilities.control,
    ) {
        let made = run_state_hook(hook, state).await.and_then(|v| {
            let missing: Vec<&str> = s
                .scenario
                .requires
                .vars
                .iter()
                .filter(|name| !v.contains_key(*name) && !opts.vars.contains_key(*name))
                .map(String::as_str)
                .collect();
            if missing.is_empty() {
                Ok(v)
            } else {
                Err(format!(
                    "--state-hook `{hook} {state}` printed no {}",
                    missing.join(", ")
                ))
            }
        });
        match made {
            Ok(v) => state_vars = v,
            Err(e) => {
                let mut result = skeleton(s, Outcome::Failed);
                result.steps.push(StepResult {
                    index: 0,
                    kind: "setup",
                    name: Some(format!("state hook for `{state}`")),
                    location: s.step_location(0),
                    request: None,
                    response: None,
                    assertions: Vec::new(),
                    error: Some(e),
                    notes: Vec::new(),
                });
                return result;
            }
        }
    }
    let mut result = skeleton(s, Outcome::Passed);
    let session = match target
        .open(s.scenario.seed, s.scenario.fixtures.as_ref())
        .await
    {
        Ok(session) => session,
        Err(e) => {
            result.outcome = Outcome::Failed;
            result.steps.push(StepResult {
                index: 0,
                kind: "setup",
                name: Some("open a session".into()),
                location: s.step_location(0),
                request: None,
                response: None,
                assertions: Vec::new(),
                error: Some(e),
                notes: Vec::new(),
            });
            return result;
        }
    };
    let mut vars = session.builtin_vars();
    for (k, v) in &s.scenario.vars {
        vars.insert(k.clone(), v.clone());
    }
    vars.insert("run_id".into(), Value::String(opts.run_id.clone()));
    for (k, v) in state_vars.iter().chain(&opts.vars) {
        vars.insert(k.clone(), v.clone());
    }
    let file = s.path.display().to_string();
    let snapshots = SnapshotConfig {
        dir: snapshot::effective_dir(&opts.snapshots.dir, &s.given_root, &s.library_root),
        update: opts.snapshots.update,
    };
    let mut ctx = step::StepContext {
        target,
        session: &session,
        vars,
        snapshot: Some((&snapshots, s.library_id.as_str(), file.as_str())),
        receivers: IndexMap::new(),
        advancing: webhooks::Advancing::default(),
    };
    for (i, st) in s.scenario.steps.iter().enumerate() {
        let r = step::run_step(i, st, s.step_location(i), &mut ctx).await;
        let failed = !r.passed();
        result.steps.push(r);
        if failed {
            result.outcome = Outcome::Failed;
            break;
        }
    }
    // Stop the scenario's webhook receivers before its workspace goes.
    drop(ctx);
    if let Some(ws) = &session.workspace {
        // Best effort: a workspace left behind only costs the fake memory.
        let _ = session
            .control(
                crate::scenario::model::Method::Delete,
                &format!("/_mock/workspaces/{ws}"),
                None,
            )
            .await;
    }
    result
}

/// Run scenarios, `jobs` at a time; results come back in input order.
pub(crate) async fn run_all(
    scenarios: Vec<LoadedScenario>,
    target: Arc<Target>,
    opts: Arc<RunOptions>,
    events: Arc<dyn Events>,
) -> RunReport {
    let started = crate::style::stopwatch();
    events.run_started(scenarios.len());
    let limit = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let mut handles = Vec::new();
    for s in scenarios {
        let (target, opts, events, limit) =
            (target.clone(), opts.clone(), events.clone(), limit.clone());
        handles.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let r = run_scenario(&s, &target, &opts).await;
            events.scenario_finished(&r);
            r
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        match h.await {
            Ok(r) => out.push(r),
            Err(e) => out.push(ScenarioResult {
                id: "<panic>".into(),
                name: "a scenario task panicked".into(),
                file: String::new(),
                source: String::new(),
                level: Level::Fake,
                tags: Vec::new(),
                outcome: Outcome::Failed,
                steps: vec![StepResult {
                    index: 0,
                    kind: "setup",
                    name: None,
                    location: crate::scenario::location::Location {
                        file: Default::default(),
                        line: 0,
                        column: 0,
                    },
                    request: None,
                    response: None,
                    assertions: Vec::new(),
                    error: Some(e.to_string()),
                    notes: Vec::new(),
                }],
                rules: Vec::new(),
                endpoints: Vec::new(),
                duration_ms: 0,
            }),
        }
    }
    RunReport {
        target: target.label.clone(),
        scenarios: out,
        seed: opts.seed,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        coverage: None,
    }
}
