//! Executing one step of a scenario.

use indexmap::IndexMap;
use serde_json::{json, Value};

use super::expect::{evaluate, CheckContext};
use super::jsonpath::Path;
use super::result::{AssertionResult, ResponseRecord, StepResult};
use super::wait::parse_duration;
use crate::scenario::model::{
    Auth, Capture, ConnectionExpect, ControlAction, ControlStep, Expect, Method, ParallelStep,
    Request, RequestStep, Step, WaitStep, WebhookReceiver, WebhooksStep,
};
use crate::scenario::template::{render, render_value, Vars};
use crate::target::{origin_of, Outgoing, SendError, Session, Target};

/// The state a scenario's steps share.
pub(crate) struct StepContext<'a> {
    pub target: &'a Target,
    pub session: &'a Session,
    pub vars: Vars,
    pub snapshot: Option<(&'a super::snapshot::SnapshotConfig, &'a str, &'a str)>,
    /// Webhook receivers started by `webhook_receiver` steps, by name.
    pub receivers: IndexMap<String, super::webhooks::Receiver>,
    /// Set while the harness advances the clock (for the receivers).
    pub advancing: super::webhooks::Advancing,
}

impl StepContext<'_> {
    fn checks(&self) -> CheckContext<'_> {
        CheckContext {
            vars: &self.vars,
            target: self.target,
            snapshot: self
                .snapshot
                .map(|(config, id, file)| super::snapshot::SnapshotContext {
                    config,
                    scenario_id: id,
                    scenario_file: file,
                }),
        }
    }
}

/// The URL a request goes to: `path` on the session's base URL, or an
/// absolute `url` (or a `path` that renders to one, e.g. a captured
/// `@odata.nextLink`), which must be on the target's origin: the harness
/// sends the session's credentials only to the target.
pub(crate) fn request_url(req: &Request, session: &Session, vars: &Vars) -> Result<String, String> {
    let text = match &req.url {
        Some(u) => render(u, vars)?,
        None => render(&req.path, vars)?,
    };
    let absolute = text.starts_with("http://") || text.starts_with("https://");
    if !absolute {
        if req.url.is_some() {
            return Err(format!(
                "url `{text}` is not absolute (http:// or https://)"
            ));
        }
        return Ok(format!("{}{text}", session.base_url));
    }
    let origin = origin_of(&text);
    let mut allowed = vec![origin_of(&session.base_url)];
    if let Some(c) = &session.control_url {
        allowed.push(origin_of(c));
    }
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(&origin)) {
        Ok(text)
    } else {
        Err(format!(
            "refused to send to {text}: its origin {origin} is not the target's ({})",
            allowed[0]
        ))
    }
}

/// Turn a scenario request into an HTTP request.
pub(crate) fn build(req: &Request, session: &Session, vars: &Vars) -> Result<Outgoing, String> {
    let url = request_url(req, session, vars)?;
    let mut headers: Vec<(String, String)> = Vec::new();
    match &req.auth {
        None => headers.push((
            "authorization".into(),
            format!("Bearer {}", session.api_key),
        )),
        Some(Auth::None) => {}
        Some(Auth::Bearer(t)) => headers.push((
            "authorization".into(),
            format!("Bearer {}", render(t, vars)?),
        )),
        Some(Auth::Raw(t)) => headers.push(("authorization".into(), render(t, vars)?)),
    }
    let body = match (&req.body, &req.raw_body) {
        (Some(b), _) => {
            headers.push(("content-type".into(), "application/json".into()));
            Some(serde_json::to_vec(&render_value(b, vars)?).map_err(|e| e.to_string())?)
        }
        (None, Some(raw)) => {
            headers.push(("content-type".into(), "application/json".into()));
            Some(render(raw, vars)?.into_bytes())
        }
        (None, None) => None,
    };
    for (k, v) in &req.headers {
        let k = render(k, vars)?.to_ascii_lowercase();
        headers.retain(|(name, _)| *name != k);
        headers.push((k, render(v, vars)?));
    }
    Ok(Outgoing {
        method: req.method,
        url,
        headers,
        body,
    })
}

fn empty_result(
    index: usize,
    step: &Step,
    location: crate::scenario::location::Location,
) -> StepResult {
    StepResult {
        index: index + 1,
        kind: step.kind(),
        name: step.name().map(str::to_owned),
        location,
        request: None,
        response: None,
        assertions: Vec::new(),
        error: None,
        notes: Vec::new(),
    }
}

fn take_send(
    result: &mut StepResult,
    r: Result<ResponseRecord, SendError>,
) -> Option<ResponseRecord> {
    match r {
        Ok(resp) => {
            result.request = Some(resp.request.clone());
            Some(resp)
        }
        Err(e) => {
            result.request = Some(e.request);
            result.error = Some(e.message);
            None
        }
    }
}

/// Store captures in the variables; a capture that finds nothing is an error.
fn capture(
    spec: &IndexMap<String, String>,
    resp: &ResponseRecord,
    vars: &mut Vars,
) -> Result<(), String> {
    for (name, what) in spec {
        let value = match Capture::parse(what)? {
            Capture::Status => json!(resp.status),
            Capture::Header(h) => resp
                .header(&h)
                .map(|v| json!(v))
                .ok_or_else(|| format!("capture `{name}`: no header `{h}` in the response"))?,
            Capture::Json(p) => {
                let body = resp
                    .json
                    .as_ref()
                    .ok_or_else(|| format!("capture `{name}`: the response body is not JSON"))?;
                Path::parse(&p)?
                    .select(body)
                    .value()
                    .ok_or_else(|| format!("capture `{name}`: nothing at {p}"))?
            }
        };
        vars.insert(name.clone(), value);
    }
    Ok(())
}

pub(crate) async fn run_step(
    index: usize,
    step: &Step,
    location: crate::scenario::location::Location,
    ctx: &mut StepContext<'_>,
) -> StepResult {
    let mut result = empty_result(index, step, location);
    match step {
        Step::Request(r) => request_step(r, ctx, &mut result).await,
        Step::Control(c) => control_step(c, ctx, &mut result).await,
        Step::WaitUntil(w) => wait_step(w, ctx, &mut result).await,
        Step::Parallel(p) => parallel_step(p, ctx, &mut result).await,
        Step::WebhookReceiver(r) => receiver_step(r, ctx, &mut result).await,
        Step::Webhooks(w) => webhooks_step(w, ctx, &mut result).await,
        Step::Verdicts(v) => verdicts_step(v, ctx, &mut result).await,
    }
    result
}

async fn finish(
    resp: ResponseRecord,
    expect: &Expect,
    captures: &IndexMap<String, String>,
    ctx: &mut StepContext<'_>,
    result: &mut StepResult,
) {
    result
        .assertions
        .extend(evaluate(expect, &resp, &ctx.checks()).await);
    if result.passed() {
        if let Err(e) = capture(captures, &resp, &mut ctx.vars) {
            result.error = Some(e);
        }
    }
    result.response = Some(resp);
}

async fn request_step(r: &RequestStep, ctx: &mut StepContext<'_>, result: &mut StepResult) {
    let out = match build(&r.request(), ctx.session, &ctx.vars) {
        Ok(o) => o,
        Err(e) => {
            result.error = Some(e);
            return;
        }
    };
    let sent = ctx.session.send(out).await;
    if r.expect.connection == Some(ConnectionExpect::Dropped) {
        expect_dropped(sent, result);
        return;
    }
    if let Some(resp) = take_send(result, sent) {
        finish(resp, &r.expect, &r.capture, ctx, result).await;
    }
}

/// Whether a send error is the connection closing without an answer (not
/// a refusal, and not a timeout: a hang is not a drop).
fn is_drop(e: &SendError) -> bool {
    e.message.starts_with("no response:") && !e.message.contains("timed out")
}

/// `expect: {connection: dropped}`: pass only when no HTTP response came.
fn expect_dropped(sent: Result<ResponseRecord, SendError>, result: &mut StepResult) {
    match sent {
        Ok(resp) => {
            result.request = Some(resp.request.clone());
            result.assertions.push(AssertionResult::new(
                "connection dropped",
                false,
                json!("no response (connection closed)"),
                json!(format!("a {} response", resp.status)),
            ));
            result.response = Some(resp);
        }
        Err(e) => {
            let dropped = is_drop(&e);
            result.request = Some(e.request);
            result.assertions.push(AssertionResult::new(
                "connection dropped",
                dropped,
                json!("no response (connection closed)"),
                json!(e.message),
            ));
        }
    }
}

/// The HTTP call a control action stands for.
fn control_call(
    action: &ControlAction,
    vars: &Vars,
) -> Result<(Method, String, Option<Value>), String> {
    Ok(match action {
        ControlAction::SeedDocument(doc) => (
            Method::Post,
            "documents".into(),
            Some(render_value(doc, vars)?),
        ),
        ControlAction::EditDocument(e) => (
            Method::Patch,
            format!("documents/{}", render(&e.id, vars)?),
            Some(json!({"fields": render_value(&e.fields, vars)?})),
        ),
        ControlAction::Fault(f) => (Method::Post, "faults".into(), Some(render_value(f, vars)?)),
        ControlAction::DeleteFault(id) => (
            Method::Delete,
            format!("faults/{}", render(id, vars)?),
            None,
        ),
        ControlAction::AdvanceClock(by) => (
            Method::Post,
            "clock/advance".into(),
            Some(json!({"by": by})),
        ),
        ControlAction::Clock(clock) => (
            Method::Patch,
            "clock".into(),
            Some(render_value(clock, vars)?),
        ),
        ControlAction::Call(call) => {
            let body = call
                .body
                .as_ref()
                .map(|b| render_value(b, vars))
                .transpose()?;
            (call.method, render(&call.path, vars)?, body)
        }
    })
}

async fn receiver_step(spec: &WebhookReceiver, ctx: &mut StepContext<'_>, result: &mut StepResult) {
    if ctx.receivers.contains_key(&spec.name) {
        result.error = Some(format!(
            "a receiver named `{}` is already running",
            spec.name
        ));
        return;
    }
    if let Some(r) =
        super::webhooks::start(spec, ctx.session, &ctx.advancing, &mut ctx.vars, result).await
    {
        ctx.receivers.insert(spec.name.clone(), r);
    }
}

async fn webhooks_step(w: &WebhooksStep, ctx: &mut StepContext<'_>, result: &mut StepResult) {
    let Some(receiver) = ctx.receivers.get_mut(&w.receiver) else {
        result.error = Some(format!("no receiver named `{}` was started", w.receiver));
        return;
    };
    super::webhooks::check(
        w,
        receiver,
        ctx.session,
        &ctx.advancing,
        &mut ctx.vars,
        result,
    )
    .await;
}

async fn control_step(c: &ControlStep, ctx: &mut StepContext<'_>, result: &mut StepResult) {
    let (method, path, body) = match control_call(&c.action, &ctx.vars) {
        Ok(x) => x,
        Err(e) => {
            result.error = Some(e);
            return;
        }
    };
    let sent = match (
        &body,
        matches!(c.action, ControlAction::AdvanceClock(_)) && !ctx.receivers.is_empty(),
    ) {
        (Some(b), true) => super::webhooks::advance(ctx.session, &ctx.advancing, b).await,
        _ => ctx.session.control(method, &path, body.as_ref()).await,
    };
    let Some(resp) = take_send(result, sent) else {
        return;
    };
    if c.expect.status.is_none() {
        result.assertions.push(
            AssertionResult::new(
                "control call succeeded",
                (200..300).contains(&resp.status),
                json!("2xx"),
                json!(resp.status),
            )
            .with_message(format!(
                "{method} {path}: {}",
                resp.body.chars().take(300).collect::<String>(),
                method = method.as_str()
            )),
        );
    }
    finish(resp, &c.expect, &c.capture, ctx, result).await;
}

async fn wait_step(w: &WaitStep, ctx: &mut StepContext<'_>, result: &mut StepResult) {
    let interval = match parse_duration(&w.interval) {
        Ok(d) => d,
        Err(e) => {
            result.error = Some(e);
            return;
        }
    };
    let mut last: Option<(ResponseRecord, Vec<AssertionResult>)> = None;
    for attempt in 1..=w.max_attempts.max(1) {
        let out = match build(&w.request, ctx.session, &ctx.vars) {
            Ok(o) => o,
            Err(e) => {
                result.error = Some(e);
                return;
            }
        };
        let sent = ctx.session.send(out).await;
        let Some(resp) = take_send(result, sent) else {
            return;
        };
        let until = evaluate(&w.until, &resp, &ctx.checks()).await;
        if until.iter().all(|a| a.passed) {
            result
                .notes
                .push(format!("condition met after {attempt} attempt(s)"));
            finish(resp, &w.expect, &w.capture, ctx, result).await;
            return;
        }
        last = Some((resp, until));
        if attempt < w.max_attempts {
            // Advance the fake's virtual clock; a real target gets real time.
            if ctx.session.control_url.is_some() {
                let by = json!({"by": format!("{}ms", interval.as_millis())});
                let sent = if ctx.receivers.is_empty() {
                    ctx.session
                        .control(Method::Post, "clock/advance", Some(&by))
                        .await
                } else {
                    super::webhooks::advance(ctx.session, &ctx.advancing, &by).await
                };
                match sent {
                    Ok(r) if (200..300).contains(&r.status) => {}
                    Ok(r) => {
                        result.error = Some(format!(
                            "advancing the virtual clock failed: {} {}",
                            r.status, r.body
                        ));
                        return;
                    }
                    Err(e) => {
                        result.error =
                            Some(format!("advancing the virtual clock failed: {}", e.message));
                        return;
                    }
                }
            } else {
                tokio::time::sleep(interval).await;
            }
        }
    }
    if let Some((resp, until)) = last {
        result.notes.push(format!(
            "condition not met after {} attempts, {} apart",
            w.max_attempts, w.interval
        ));
        result.assertions.extend(until.into_iter().map(|mut a| {
            a.check = format!("until {}", a.check);
            a
        }));
        result.response = Some(resp);
    }
}

async fn parallel_step(p: &ParallelStep, ctx: &mut StepContext<'_>, result: &mut StepResult) {
    let mut outs = Vec::with_capacity(p.count);
    for i in 0..p.count {
        let mut vars = ctx.vars.clone();
        vars.insert("index".into(), json!(i));
        match build(&p.request, ctx.session, &vars) {
            Ok(o) => outs.push(o),
            Err(e) => {
                result.error = Some(e);
                return;
            }
        }
    }
    let session = ctx.session;
    let responses = futures_util::future::join_all(outs.into_iter().map(|o| session.send(o))).await;
    let mut counts: IndexMap<u16, usize> = IndexMap::new();
    let mut shown: Option<ResponseRecord> = None;
    for (i, r) in responses.into_iter().enumerate() {
        match r {
            Ok(resp) => {
                *counts.entry(resp.status).or_default() += 1;
                let mut vars = ctx.vars.clone();
                vars.insert("index".into(), json!(i));
                let checks = CheckContext {
                    vars: &vars,
                    target: ctx.target,
                    snapshot: None,
                };
                let each = evaluate(&p.each, &resp, &checks).await;
                let failed = each.iter().any(|a| !a.passed);
                for mut a in each.into_iter().filter(|a| !a.passed) {
                    a.check = format!("request #{i}: {}", a.check);
                    result.assertions.push(a);
                }
                if shown.is_none()
                    || failed && shown.as_ref().is_some_and(|_| result.assertions.len() <= 1)
                {
                    result.request = Some(resp.request.clone());
                    shown = Some(resp);
                }
            }
            Err(e) => {
                result.request = Some(e.request);
                result.error = Some(format!("request #{i}: {}", e.message));
            }
        }
    }
    if !p.statuses.is_empty() {
        let mut want: Vec<(u16, usize)> = p.statuses.iter().map(|(k, v)| (*k, *v)).collect();
        want.sort();
        let mut got: Vec<(u16, usize)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
        got.sort();
        let as_json = |v: &[(u16, usize)]| {
            Value::Object(v.iter().map(|(k, n)| (k.to_string(), json!(n))).collect())
        };
        result.assertions.push(AssertionResult::new(
            format!("statuses of {} parallel requests", p.count),
            want == got,
            as_json(&want),
            as_json(&got),
        ));
    }
    result.notes.push(format!(
        "statuses: {}",
        counts
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    result.response = shown;
}

/// `verdicts:`: read the workspace's findings and judge them.
async fn verdicts_step(
    v: &crate::audit::VerdictsStep,
    ctx: &mut StepContext<'_>,
    result: &mut StepResult,
) {
    let Some(control) = ctx.session.control_url.as_deref() else {
        result.error = Some("a verdicts step needs the control API of the fake".into());
        return;
    };
    match crate::audit::fetch(ctx.target.client(), control).await {
        Ok(found) => {
            for (check, passed, expected, actual) in crate::audit::judge_step(v, &found) {
                result
                    .assertions
                    .push(AssertionResult::new(check, passed, expected, actual));
            }
            for f in &found.findings {
                result
                    .notes
                    .push(crate::audit::finding_text(f, "").trim_end().to_owned());
            }
        }
        Err(e) => result.error = Some(e.to_string()),
    }
}
