//! The webhook steps: a receiver inside the harness (`webhook_receiver:`)
//! and checks on what it received (`webhooks:`).
//!
//! Deliveries are judged by the verifier of `conformance listen`
//! ([`crate::listen::verify`]), with "now" read from the target's virtual
//! clock at the moment each delivery arrives. The docs promise neither
//! ordering nor exactly-once delivery (seed 003 "Ordering", "Retry
//! Behavior"), so expected events are matched as a set and an event id may
//! arrive any number of times unless a scenario forbids redelivery.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt as _;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::jsonpath::Path;
use super::result::{AssertionResult, StepResult};
use super::wait::parse_duration;
use crate::listen::{self, ListenConfig, NowSource, Received, Verdict};
use crate::scenario::model::{Method, SignatureExpect, WebhookReceiver, WebhooksStep};
use crate::scenario::template::{render, render_value, Vars};
use crate::target::Session;

/// A running receiver of one scenario. Dropping it stops the server.
pub(crate) struct Receiver {
    cfg: ListenConfig,
    rx: mpsc::UnboundedReceiver<Received>,
    /// Every request received so far, in arrival order.
    pub log: Vec<Received>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    fn drain(&mut self) {
        while let Ok(r) = self.rx.try_recv() {
            self.log.push(r);
        }
    }
}

/// The start of a clock advance the harness is making, while it is under
/// way. A fake makes the attempts due inside an advance before answering
/// it, with the clock already at the end, so an attempt that arrives then
/// was made somewhere between the start and the clock's reading.
///
/// It also counts the advances begun and keeps the start of the last one:
/// a delivery can arrive just before an advance begins and have its clock
/// read after the advance moved the clock (the two requests race), and it
/// is then judged against that advance's window as well.
#[derive(Debug, Clone, Default)]
pub(crate) struct Advancing(Arc<Mutex<AdvanceState>>);

#[derive(Debug, Clone, Copy, Default)]
struct AdvanceState {
    /// The clock when the advance under way began.
    current: Option<OffsetDateTime>,
    /// The clock when the last advance began.
    last_start: Option<OffsetDateTime>,
    /// Advances begun so far.
    begun: u64,
}

impl Advancing {
    fn begin(&self, start: Option<OffsetDateTime>) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        s.current = start;
        s.last_start = start;
        s.begun += 1;
    }

    fn end(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).current = None;
    }

    fn get(&self) -> AdvanceState {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The session's virtual clock (`GET …/clock`); never ticks it.
async fn read_clock(session: &Session) -> Option<OffsetDateTime> {
    let r = session.control(Method::Get, "clock", None).await.ok()?;
    let now = r.json.as_ref()?["data"]["now"].as_str()?.to_owned();
    OffsetDateTime::parse(&now, &Rfc3339).ok()
}

/// "Now" for a delivery: the virtual clock when it arrives. During an
/// advance, the instant in the advanced window closest to the delivery's
/// own timestamp, so that only a timestamp outside what the window allows
/// is judged stale.
fn virtual_clock(session: &Session, advancing: &Advancing) -> Option<NowSource> {
    session.control_url.as_ref()?;
    let session = session.clone();
    let advancing = advancing.clone();
    Some(Arc::new(move |stamped| {
        let session = session.clone();
        let advancing = advancing.clone();
        let before = advancing.get();
        async move {
            let now = read_clock(&session).await?;
            let after = advancing.get();
            // Under way when the delivery arrived, or begun while its clock
            // was being read: the window of that advance.
            let from = before.current.or(if after.begun != before.begun {
                after.last_start
            } else {
                None
            });
            Some(match (from, stamped) {
                (Some(from), Some(t)) if from <= now => t.clamp(from, now),
                _ => now,
            })
        }
        .boxed()
    }))
}

/// A clock advance (`POST …/clock/advance`) with [`Advancing`] set while
/// it runs.
pub(crate) async fn advance(
    session: &Session,
    advancing: &Advancing,
    body: &Value,
) -> Result<super::result::ResponseRecord, crate::target::SendError> {
    advancing.begin(read_clock(session).await);
    let r = session
        .control(Method::Post, "clock/advance", Some(body))
        .await;
    advancing.end();
    r
}

/// Start a receiver on `127.0.0.1:0` and register it with the workspace.
pub(crate) async fn start(
    spec: &WebhookReceiver,
    session: &Session,
    advancing: &Advancing,
    vars: &mut Vars,
    result: &mut StepResult,
) -> Option<Receiver> {
    let rendered = (|| -> Result<(String, Vec<String>), String> {
        let secret = render(&spec.secret, vars)?;
        let events = spec
            .events
            .iter()
            .map(|e| render(e, vars))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((secret, events))
    })();
    let (secret, events) = match rendered {
        Ok(x) => x,
        Err(e) => {
            result.error = Some(e);
            return None;
        }
    };
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            result.error = Some(format!("cannot start a webhook receiver: {e}"));
            return None;
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            result.error = Some(format!("cannot start a webhook receiver: {e}"));
            return None;
        }
    };
    let url = format!("http://{addr}/webhooks/{}", spec.name);
    let cfg = ListenConfig {
        secret: secret.clone(),
        status: 200,
        fail_first: 0,
        fail_status: 500,
        respond: spec.respond.clone(),
        tolerance: spec.tolerance,
        now: None,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(listen::serve_with(
        listener,
        cfg.clone(),
        tx,
        virtual_clock(session, advancing),
    ));
    let receiver = Receiver {
        cfg,
        rx,
        log: Vec::new(),
        task,
    };
    vars.insert(format!("receivers.{}", spec.name), json!(url));
    result
        .notes
        .push(format!("receiver `{}` at {url}", spec.name));
    if spec.register {
        let body = json!({"url": url, "secret": secret, "events": events});
        match session.control(Method::Post, "webhooks", Some(&body)).await {
            Ok(resp) => {
                result.request = Some(resp.request.clone());
                result.assertions.push(
                    AssertionResult::new(
                        "receiver registered",
                        (200..300).contains(&resp.status),
                        json!("2xx"),
                        json!(resp.status.to_string()),
                    )
                    .with_message(format!(
                        "POST webhooks: {}",
                        resp.body.chars().take(300).collect::<String>()
                    )),
                );
                result.response = Some(resp);
            }
            Err(e) => {
                result.request = Some(e.request);
                result.error = Some(format!("cannot register the receiver: {}", e.message));
            }
        }
    }
    Some(receiver)
}

/// An expected event with its variables filled in.
struct Wanted {
    event_type: String,
    id: Option<String>,
    data: Option<Value>,
    min_attempts: usize,
    shown: Value,
}

/// `want` is contained in `got`: objects key by key (recursively), anything
/// else by equality.
fn subset(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|x| subset(v, x))),
        _ => want == got,
    }
}

impl Wanted {
    fn matches(&self, r: &Received) -> bool {
        let Some(body) = &r.body else {
            return false;
        };
        body["type"].as_str() == Some(self.event_type.as_str())
            && self
                .id
                .as_ref()
                .is_none_or(|id| body["id"].as_str() == Some(id.as_str()))
            && self.data.as_ref().is_none_or(|d| subset(d, &body["data"]))
    }

    /// Requests per matching event id.
    fn arrivals<'a>(&self, log: &'a [Received]) -> Vec<(String, Vec<&'a Received>)> {
        let mut by_id: Vec<(String, Vec<&Received>)> = Vec::new();
        for r in log.iter().filter(|r| self.matches(r)) {
            let id = r.id.clone().unwrap_or_default();
            match by_id.iter_mut().find(|(i, _)| *i == id) {
                Some((_, v)) => v.push(r),
                None => by_id.push((id, vec![r])),
            }
        }
        by_id
    }

    fn met(&self, log: &[Received]) -> bool {
        self.arrivals(log)
            .iter()
            .any(|(_, v)| v.len() >= self.min_attempts)
    }
}

fn wanted(w: &WebhooksStep, vars: &Vars) -> Result<Vec<Wanted>, String> {
    w.expect
        .iter()
        .map(|e| {
            let event_type = render(&e.event_type, vars)?;
            let id = e.id.as_ref().map(|i| render(i, vars)).transpose()?;
            let data = e.data.as_ref().map(|d| render_value(d, vars)).transpose()?;
            let min_attempts = e.min_attempts.unwrap_or(w.min_attempts).max(1);
            let mut shown = json!({"type": event_type});
            if let Some(id) = &id {
                shown["id"] = json!(id);
            }
            if let Some(d) = &data {
                shown["data"] = d.clone();
            }
            if min_attempts > 1 {
                shown["min_attempts"] = json!(min_attempts);
            }
            Ok(Wanted {
                event_type,
                id,
                data,
                min_attempts,
                shown,
            })
        })
        .collect()
}

/// `type id` of every delivery, for the "actual" side of a failure.
fn summary(log: &[Received]) -> Value {
    Value::Array(
        log.iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "type": r.event_type,
                    "data": r.body.as_ref().map(|b| b["data"].clone()),
                    "answered": r.answered,
                })
            })
            .collect(),
    )
}

fn verdict_text(r: &Received) -> String {
    match &r.verdict {
        Verdict::Valid => "valid".into(),
        _ => listen::describe(r),
    }
}

/// Wait until the expected events arrived, then judge what was received.
pub(crate) async fn check(
    w: &WebhooksStep,
    receiver: &mut Receiver,
    session: &Session,
    advancing: &Advancing,
    vars: &mut Vars,
    result: &mut StepResult,
) {
    let wanted = match wanted(w, vars) {
        Ok(x) => x,
        Err(e) => {
            result.error = Some(e);
            return;
        }
    };
    let interval = match parse_duration(&w.interval) {
        Ok(d) => d,
        Err(e) => {
            result.error = Some(e);
            return;
        }
    };
    let max = w.max_attempts.max(1);
    let mut polls = 0;
    loop {
        receiver.drain();
        polls += 1;
        let all_met = wanted.iter().all(|x| x.met(&receiver.log));
        // With nothing expected, give the target one interval to send.
        if all_met && (!wanted.is_empty() || polls > 1) || polls > max {
            break;
        }
        if let Err(e) = pass_time(session, advancing, interval).await {
            result.error = Some(e);
            return;
        }
    }
    let log = &receiver.log;
    result.notes.push(format!(
        "{} request(s) received after {} check(s), {} apart",
        log.len(),
        polls.min(max + 1),
        w.interval
    ));
    let mut nth: HashMap<&str, usize> = HashMap::new();
    for r in log {
        // listen's "(duplicate)" means "id seen before"; here retries are
        // expected, so say which request of the id this was.
        let n = nth.entry(r.id.as_deref().unwrap_or("-")).or_default();
        *n += 1;
        let mut shown = r.clone();
        shown.duplicate = false;
        result.notes.push(format!(
            "{}  [request {n} of this id]",
            listen::describe(&shown)
        ));
    }

    // Each expected event arrived (often enough).
    for x in &wanted {
        let arrivals = x.arrivals(log);
        let most = arrivals.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
        let label = if x.min_attempts > 1 {
            format!(
                "event {} reached the receiver at least {} times",
                x.event_type, x.min_attempts
            )
        } else {
            format!("event {} arrived", x.event_type)
        };
        let actual = if arrivals.is_empty() {
            summary(log)
        } else {
            json!({"event ids": arrivals.iter().map(|(id, v)| json!({"id": id, "requests": v.len()})).collect::<Vec<_>>()})
        };
        result.assertions.push(AssertionResult::new(
            label,
            most >= x.min_attempts,
            x.shown.clone(),
            actual,
        ));
    }

    // Signatures: the expected events' deliveries, or all of them.
    if w.signature == SignatureExpect::Valid {
        let judged: Vec<&Received> = if w.all_signed {
            log.iter().collect()
        } else {
            log.iter()
                .filter(|r| wanted.iter().any(|x| x.matches(r)))
                .collect()
        };
        let bad: Vec<String> = judged
            .iter()
            .filter(|r| !r.verdict.is_valid())
            .map(|r| verdict_text(r))
            .collect();
        let which = if w.all_signed {
            "every delivery"
        } else {
            "every delivery of an expected event"
        };
        result.assertions.push(
            AssertionResult::new(
                format!("{which} verifies (id, timestamp and signature headers; HMAC-SHA256 of \"<timestamp>.<body>\"; timestamp within {}s)", receiver.cfg.tolerance),
                bad.is_empty(),
                json!("valid"),
                if bad.is_empty() { json!(format!("{} valid", judged.len())) } else { json!(bad) },
            ),
        );
        let untyped: Vec<String> = judged
            .iter()
            .filter(|r| {
                r.headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_none_or(|v| !v.starts_with("application/json"))
            })
            .map(|r| {
                format!(
                    "{}: {:?}",
                    r.id.as_deref().unwrap_or("-"),
                    r.headers.get("content-type")
                )
            })
            .collect();
        result.assertions.push(AssertionResult::new(
            format!("{which} is sent with Content-Type: application/json"),
            untyped.is_empty(),
            json!("application/json"),
            if untyped.is_empty() {
                json!("application/json")
            } else {
                json!(untyped)
            },
        ));
        // The verifier is not vacuous on these very deliveries.
        if let Some(r) = judged.iter().find(|r| r.verdict.is_valid()) {
            tamper_checks(&receiver.cfg, r, result);
        }
    }

    // Redelivery after a 2xx answer.
    if !w.duplicates_allowed {
        let mut accepted: HashMap<&str, bool> = HashMap::new();
        let mut again = Vec::new();
        for r in log {
            let Some(id) = r.id.as_deref() else { continue };
            if accepted.get(id).copied().unwrap_or(false) {
                again.push(id.to_owned());
            }
            if (200..300).contains(&r.answered) {
                accepted.insert(id, true);
            }
        }
        result.assertions.push(AssertionResult::new(
            "no event is delivered again after it was answered 2xx",
            again.is_empty(),
            json!([]),
            json!(again),
        ));
    }

    if w.only {
        let stray: Vec<&Received> = log
            .iter()
            .filter(|r| !wanted.iter().any(|x| x.matches(r)))
            .collect();
        result.assertions.push(AssertionResult::new(
            "no delivery besides the expected events",
            stray.is_empty(),
            Value::Array(wanted.iter().map(|x| x.shown.clone()).collect()),
            summary(&stray.into_iter().cloned().collect::<Vec<_>>()),
        ));
    }

    if !result.passed() {
        return;
    }
    for (x, e) in wanted.iter().zip(&w.expect) {
        let Some(body) = log
            .iter()
            .find(|r| x.matches(r))
            .and_then(|r| r.body.as_ref())
        else {
            continue;
        };
        for (name, path) in &e.capture {
            match Path::parse(path).map(|p| p.select(body).value()) {
                Ok(Some(v)) => {
                    vars.insert(name.clone(), v);
                }
                Ok(None) => {
                    result.error = Some(format!(
                        "capture `{name}`: nothing at {path} in the {} event",
                        x.event_type
                    ));
                    return;
                }
                Err(err) => {
                    result.error = Some(err);
                    return;
                }
            }
        }
    }
}

/// A copy of a valid delivery with one body byte changed must fail the
/// signature, and the same delivery judged past the tolerance must be
/// stale: proof that "valid" above was a real check.
fn tamper_checks(cfg: &ListenConfig, r: &Received, result: &mut StepResult) {
    let mut tampered = r.raw_body.to_vec();
    if let Some(b) = tampered
        .iter_mut()
        .rev()
        .find(|b| b.is_ascii_alphanumeric())
    {
        *b = if *b == b'0' { b'1' } else { b'0' };
    } else {
        tampered.push(b' ');
    }
    let now = r.judged_at.unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let v = listen::verify(cfg, &r.headers, &tampered, now);
    result.assertions.push(AssertionResult::new(
        "a copy of a delivery with one body byte changed is rejected",
        v == Verdict::BadSignature,
        json!("bad_signature"),
        json!(format!("{v:?}")),
    ));
    if cfg.tolerance > 0 {
        let later = now + time::Duration::seconds(cfg.tolerance as i64 + 1);
        let v = listen::verify(cfg, &r.headers, &r.raw_body, later);
        result.assertions.push(AssertionResult::new(
            format!(
                "the same delivery judged {}s later is rejected as stale",
                cfg.tolerance + 1
            ),
            matches!(v, Verdict::StaleTimestamp(_)),
            json!("stale_timestamp"),
            json!(format!("{v:?}")),
        ));
    }
}

/// Let `by` pass: the virtual clock on a target with control (an advance
/// answers only after the webhook attempts due in it were made), else real
/// time.
async fn pass_time(session: &Session, advancing: &Advancing, by: Duration) -> Result<(), String> {
    if session.control_url.is_none() {
        tokio::time::sleep(by).await;
        return Ok(());
    }
    let body = json!({"by": format!("{}ms", by.as_millis())});
    match advance(session, advancing, &body).await {
        Ok(r) if (200..300).contains(&r.status) => Ok(()),
        Ok(r) => Err(format!(
            "advancing the virtual clock failed: {} {}",
            r.status, r.body
        )),
        Err(e) => Err(format!("advancing the virtual clock failed: {}", e.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_matched_as_a_subset() {
        let got = json!({"document_id": "d1", "schema": "invoice_v2", "nested": {"a": 1, "b": 2}});
        assert!(subset(&json!({"document_id": "d1"}), &got));
        assert!(subset(&json!({"nested": {"a": 1}}), &got));
        assert!(!subset(&json!({"document_id": "d2"}), &got));
        assert!(!subset(&json!({"missing": null}), &got));
    }
}
