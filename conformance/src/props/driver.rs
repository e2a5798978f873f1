//! Runs one case: applies each operation to the target over HTTP and to
//! the model, and checks after every step that the two agree. Every request
//! is also written down as a scenario step, so that a failing case can be
//! saved as a regression scenario.

use futures_util::future::join_all;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::model::{default_world, Doc, Known, Model, Status};
use super::ops::{Exec, Op, Outcome};
use crate::runner::result::ResponseRecord;
use crate::scenario::model::Method;
use crate::target::{Outgoing, Session, Target};

mod callbacks;
mod listings;
mod parallel;
mod setup;
use setup::setup;

const PROVIDER: &str = "dynamics365";

/// Where a case runs.
#[derive(Debug, Clone)]
pub(crate) enum World {
    /// A fake with a control API: a fresh workspace of the default world
    /// per case, frozen clock.
    Fake { seed: u64 },
    /// Any deployment: these documents, as they are now.
    Remote { docs: Vec<String> },
}

/// Why a case failed.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// 1-based operation number; 0 for the case's setup.
    pub op: usize,
    pub message: String,
}

/// A finished case: the outcome and the steps it sent, as scenario steps.
#[derive(Debug, Clone)]
pub(crate) struct CaseRun {
    pub result: Result<(), Failure>,
    pub steps: Vec<Value>,
    /// `doc0`, `doc1`, … → document id.
    pub vars: Vec<(String, String)>,
}

struct Driver {
    session: Session,
    model: Model,
    steps: Vec<Value>,
    /// The last status seen of each document, to check transitions.
    seen: Vec<Option<Status>>,
    op: usize,
}

fn ms_of(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

fn rfc3339_ms(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The instant `ms` written in one of several valid RFC 3339 forms: UTC with
/// milliseconds, `+02:00` in whole seconds, `-05:30` with microseconds, or
/// UTC without a fraction. The docs compare `attempted_at` as an instant,
/// so every form of one instant is the same data.
fn rfc3339_styled(ms: i64, style: u8) -> String {
    let utc = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (hours, minutes) = match style % 4 {
        1 => (2, 0),
        2 => (-5, -30),
        _ => (0, 0),
    };
    let offset = time::UtcOffset::from_hms(hours, minutes, 0).unwrap_or(time::UtcOffset::UTC);
    let t = utc.to_offset(offset);
    let date = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let whole = t.millisecond() == 0;
    match style % 4 {
        1 if whole => format!("{date}+02:00"),
        1 => format!("{date}.{:03}+02:00", t.millisecond()),
        2 => format!("{date}.{:06}-05:30", t.microsecond()),
        3 if whole => format!("{date}Z"),
        _ => rfc3339_ms(ms),
    }
}

/// Whether two callback bodies carry the same data: every field equal, and
/// `attempted_at` the same instant however it is written.
fn same_data(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter().all(|k| {
        if k == "attempted_at" {
            let instant = |v: Option<&Value>| v.and_then(Value::as_str).and_then(ms_of);
            instant(a.get(k)).is_some() && instant(a.get(k)) == instant(b.get(k))
        } else {
            a.get(k).unwrap_or(&Value::Null) == b.get(k).unwrap_or(&Value::Null)
        }
    })
}

#[allow(clippy::disallowed_methods)] // a shared target needs ids and instants no earlier case used
fn wall_clock_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(0)
}

fn ensure(ok: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(message())
    }
}

fn short(body: &str) -> String {
    let mut s: String = body.chars().take(400).collect();
    if s.len() < body.len() {
        s.push('…');
    }
    s
}

fn status_of(r: &ResponseRecord) -> Option<Status> {
    r.json
        .as_ref()
        .and_then(|j| j["data"]["status"].as_str())
        .and_then(Status::parse)
}

fn list(statuses: &[Status]) -> String {
    statuses
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The scenario expectation of one status code or several.
fn status_expect(codes: &[u16]) -> Value {
    if codes.len() == 1 {
        json!(codes[0])
    } else {
        json!(codes)
    }
}

fn admitted_expect(known: Known) -> Value {
    let all: Vec<&str> = known.admitted().iter().map(|s| s.as_str()).collect();
    if all.len() == 1 {
        json!({"equals": all[0]})
    } else {
        json!({"one_of": all})
    }
}

impl Driver {
    fn var(&self, doc: usize) -> String {
        format!("{{{{doc{doc}}}}}")
    }

    fn record_step(&mut self, step: Value) {
        self.steps.push(step);
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<ResponseRecord, String> {
        let mut headers = vec![(
            "authorization".to_owned(),
            format!("Bearer {}", self.session.api_key),
        )];
        let body = body.map(|b| {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
            serde_json::to_vec(b).unwrap_or_default()
        });
        let out = Outgoing {
            method,
            url: format!("{}{path}", self.session.base_url),
            headers,
            body,
        };
        self.session
            .send(out)
            .await
            .map_err(|e| format!("{} {path}: {}", method.as_str(), e.message))
    }

    async fn control(&self, method: Method, path: &str, body: &Value) -> Result<Value, String> {
        let r = self
            .session
            .control(method, path, Some(body))
            .await
            .map_err(|e| format!("control {} {path}: {}", method.as_str(), e.message))?;
        ensure((200..300).contains(&r.status), || {
            format!(
                "control {} {path} answered {}: {}",
                method.as_str(),
                r.status,
                short(&r.body)
            )
        })?;
        Ok(r.json.unwrap_or(Value::Null))
    }

    fn expect_status(r: &ResponseRecord, codes: &[u16], what: &str) -> Result<(), String> {
        ensure(codes.contains(&r.status), || {
            format!(
                "{what}: expected status {}, got {}: {}",
                codes
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(" or "),
                r.status,
                short(&r.body)
            )
        })
    }

    fn expect_conflict(r: &ResponseRecord, what: &str) -> Result<(), String> {
        let code = r.json.as_ref().map(|j| j["error"]["code"].clone());
        ensure(code == Some(json!("conflict")), || {
            format!(
                "{what}: a 409 must carry error.code \"conflict\": {}",
                short(&r.body)
            )
        })
    }

    /// A status the target showed: it must be one the model admits, and
    /// reachable from the last one seen.
    fn saw(&mut self, doc: usize, s: Status, what: &str) -> Result<(), String> {
        let known = self.model.docs[doc].status;
        ensure(known.admits(s), || {
            format!(
                "{what}: document {} is {}, but the model expects {}",
                self.model.docs[doc].id,
                s.as_str(),
                list(&known.admitted())
            )
        })?;
        if let Some(prev) = self.seen[doc] {
            ensure(prev.may_become(s), || {
                format!(
                    "{what}: document {} moved from {} to {}, which no documented transition allows",
                    self.model.docs[doc].id,
                    prev.as_str(),
                    s.as_str()
                )
            })?;
        }
        self.seen[doc] = Some(s);
        self.model.observed(doc, s);
        Ok(())
    }

    /// `GET /v1/documents/{id}` after a step: the status the model expects.
    async fn probe(&mut self, doc: usize) -> Result<(), String> {
        let id = self.model.docs[doc].id.clone();
        let path = format!("/v1/documents/{id}");
        let known = self.model.docs[doc].status;
        let step = json!({"request": {
            "name": format!("op {}: doc{doc} status", self.op),
            "method": "GET",
            "path": format!("/v1/documents/{}", self.var(doc)),
            "expect": {"status": 200, "json": {"$.data.status": admitted_expect(known)}},
        }});
        self.record_step(step);
        let r = self.send(Method::Get, &path, None).await?;
        Self::expect_status(&r, &[200], "GET document")?;
        let s = status_of(&r)
            .ok_or_else(|| format!("GET document: no known data.status in {}", short(&r.body)))?;
        self.saw(doc, s, "GET document")
    }

    async fn push(&mut self, doc: usize, retry: bool) -> Result<(), String> {
        let id = self.model.docs[doc].id.clone();
        let (path, tpl, what) = if retry {
            (
                format!("/v1/documents/{id}/actions/retry-push"),
                format!("/v1/documents/{}/actions/retry-push", self.var(doc)),
                "retry-push",
            )
        } else {
            (
                format!("/v1/documents/{id}/dispatch"),
                format!("/v1/documents/{}/dispatch", self.var(doc)),
                "dispatch",
            )
        };
        let codes: &[u16] = match self.model.docs[doc].push_allowed(retry) {
            Some(true) => &[202],
            Some(false) => &[409],
            None => &[202, 409],
        };
        let body = json!({"provider": PROVIDER});
        let mut expect = json!({"status": status_expect(codes)});
        if codes == [202] {
            expect["json"] = json!({"$.data.status": {"equals": "push_pending"}, "$.meta.run_id": {"type": "string"}});
        } else if codes == [409] {
            expect["json"] = json!({"$.error.code": {"equals": "conflict"}});
        }
        self.record_step(json!({"request": {
            "name": format!("op {}: {what} doc{doc}", self.op),
            "method": "POST", "path": tpl, "body": body, "expect": expect,
        }}));
        let r = self.send(Method::Post, &path, Some(&body)).await?;
        Self::expect_status(&r, codes, what)?;
        if r.status == 202 {
            self.accepted(doc, &r, what)?;
        } else {
            Self::expect_conflict(&r, what)?;
        }
        self.probe(doc).await
    }

    /// A 202 to dispatch or retry-push: the document is push_pending now.
    fn accepted(&mut self, doc: usize, r: &ResponseRecord, what: &str) -> Result<(), String> {
        let j = r.json.clone().unwrap_or(Value::Null);
        ensure(j["data"]["status"] == "push_pending", || {
            format!(
                "{what}: a 202 must show the document push_pending: {}",
                short(&r.body)
            )
        })?;
        let run_id = j["meta"]["run_id"]
            .as_str()
            .ok_or_else(|| format!("{what}: a 202 must carry meta.run_id: {}", short(&r.body)))?
            .to_owned();
        // The transition is checked against what was seen before.
        if let Some(prev) = self.seen[doc] {
            ensure(prev.may_become(Status::PushPending), || {
                format!(
                    "{what}: document moved from {} to push_pending",
                    prev.as_str()
                )
            })?;
        }
        self.model.pushed(doc, run_id);
        self.seen[doc] = Some(Status::PushPending);
        Ok(())
    }

    async fn advance(&mut self, secs: u8) -> Result<(), String> {
        let ms = i64::from(secs) * 1_000;
        let due: Vec<usize> = self
            .model
            .runs
            .iter()
            .filter(|r| r.due_ms <= self.model.now_ms + ms)
            .map(|r| r.doc)
            .collect();
        self.record_step(json!({"control": {"advance_clock": format!("{secs}s")}}));
        self.control(
            Method::Post,
            "clock/advance",
            &json!({"by": format!("{secs}s")}),
        )
        .await?;
        self.model.advance(ms);
        let mut probed = Vec::new();
        for doc in due {
            if !probed.contains(&doc) {
                probed.push(doc);
                self.probe(doc).await?;
            }
        }
        Ok(())
    }

    async fn edit(&mut self, doc: usize) -> Result<(), String> {
        let id = self.model.docs[doc].id.clone();
        let fields = json!({"invoice_total": 4242.0});
        self.record_step(
            json!({"control": {"edit_document": {"id": self.var(doc), "fields": fields}}}),
        );
        self.control(
            Method::Patch,
            &format!("documents/{id}"),
            &json!({"fields": fields}),
        )
        .await?;
        self.model.edited(doc);
        self.probe(doc).await
    }

    async fn approve(&mut self, doc: usize) -> Result<(), String> {
        let id = self.model.docs[doc].id.clone();
        self.record_step(json!({"request": {
            "name": format!("op {}: read doc{doc} before approving", self.op),
            "method": "GET", "path": format!("/v1/documents/{}", self.var(doc)),
            "expect": {"status": 200},
            "capture": {"updated_at": "$.data.updated_at"},
        }}));
        let r = self
            .send(Method::Get, &format!("/v1/documents/{id}"), None)
            .await?;
        Self::expect_status(&r, &[200], "GET document")?;
        let updated = r
            .json
            .as_ref()
            .map(|j| j["data"]["updated_at"].clone())
            .unwrap_or(Value::Null);
        let allowed = self.model.docs[doc].status == Known::Exactly(Status::ReviewRequired);
        let code = if allowed { 200 } else { 409 };
        self.record_step(json!({"request": {
            "name": format!("op {}: approve doc{doc}", self.op),
            "method": "POST",
            "path": format!("/v1/documents/{}/actions/approve", self.var(doc)),
            "body": {"expected_updated_at": "{{updated_at}}", "review_state": null},
            "expect": {"status": code},
        }}));
        let body = json!({"expected_updated_at": updated, "review_state": null});
        let r = self
            .send(
                Method::Post,
                &format!("/v1/documents/{id}/actions/approve"),
                Some(&body),
            )
            .await?;
        Self::expect_status(&r, &[code], "approve")?;
        if allowed {
            let d = &mut self.model.docs[doc];
            d.finalized = true;
            d.status = Known::Exactly(Status::Reviewed);
        }
        self.probe(doc).await
    }
    async fn apply(&mut self, op: &Op) -> Result<(), String> {
        let exact = self.model.exact;
        match *op {
            Op::Dispatch { doc } => self.push(self.model.index(doc), false).await,
            Op::RetryPush { doc } => self.push(self.model.index(doc), true).await,
            Op::Callback {
                doc,
                outcome,
                exec,
                at,
                change,
            } => {
                self.callback(self.model.index(doc), outcome, exec, at, change)
                    .await
            }
            Op::GetStatus { doc } => self.probe(self.model.index(doc)).await,
            Op::ListAttempts { doc } => self.attempts(self.model.index(doc)).await,
            Op::OutboxWalk { limit, reapprove } => {
                self.outbox(limit.max(1), reapprove.filter(|_| exact)).await
            }
            Op::RaceDispatchCallback { doc, outcome } => {
                self.race_dispatch_callback(self.model.index(doc), outcome)
                    .await
            }
            Op::EditQueuedRun { doc } => {
                let doc = self.model.index(doc);
                self.push(doc, false).await?;
                if exact {
                    self.edit(doc).await?;
                    let delay = u8::try_from(super::model::RUN_DELAY_MS / 1_000).unwrap_or(2);
                    self.advance(delay).await?;
                }
                Ok(())
            }
            Op::AdvanceClock { secs } if exact => self.advance(secs).await,
            Op::Edit { doc } if exact => self.edit(self.model.index(doc)).await,
            Op::AdvanceClock { .. } | Op::Edit { .. } => Ok(()),
            Op::Approve { doc } => self.approve(self.model.index(doc)).await,
            Op::ParallelDispatch { doc, n } => {
                self.parallel_dispatch(self.model.index(doc), n).await
            }
            Op::ParallelCallback { doc, n, changed } => {
                self.parallel_callback(self.model.index(doc), n, changed)
                    .await
            }
        }
    }
}

/// Run one case of `ops`.
pub(crate) async fn run_case(target: &Target, world: &World, case: u64, ops: &[Op]) -> CaseRun {
    let (session, model, steps) = match setup(target, world, case).await {
        Ok(x) => x,
        Err(message) => {
            return CaseRun {
                result: Err(Failure { op: 0, message }),
                steps: Vec::new(),
                vars: Vec::new(),
            }
        }
    };
    let vars = model
        .docs
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("doc{i}"), d.id.clone()))
        .collect();
    let seen = model
        .docs
        .iter()
        .map(|d| match d.status {
            Known::Exactly(s) => Some(s),
            Known::InFlight { .. } => None,
        })
        .collect();
    let mut driver = Driver {
        session,
        model,
        steps,
        seen,
        op: 0,
    };
    let mut result = Ok(());
    for (i, op) in ops.iter().enumerate() {
        driver.op = i + 1;
        if let Err(message) = driver.apply(op).await {
            result = Err(Failure { op: i + 1, message });
            break;
        }
    }
    if let Some(ws) = driver.session.workspace.clone() {
        // Best effort: a left-over workspace only costs the fake memory.
        let _ = driver
            .session
            .control(Method::Delete, &format!("/_mock/workspaces/{ws}"), None)
            .await;
    }
    CaseRun {
        result,
        steps: driver.steps,
        vars,
    }
}

/// The scenario text of a case: its steps, replayable by `conformance run`.
pub(crate) fn scenario_yaml(
    run: &CaseRun,
    control: bool,
    title: &str,
    description: &str,
) -> String {
    let mut vars = Map::new();
    for (k, v) in &run.vars {
        vars.insert(k.clone(), json!(v));
    }
    let mut requires = json!({"writes": true});
    if control {
        requires["control"] = json!(true);
    } else {
        requires["vars"] = json!(run.vars.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>());
    }
    let doc = json!({
        "name": title,
        "description": description,
        "tags": ["props", "regression"],
        "source": "DESIGN 4.2-4.4, seed 001 \"Idempotency Rules\" (conformance props)",
        "level": if control { "fake" } else { "documented" },
        "requires": requires,
        "vars": vars,
        "steps": run.steps,
    });
    let text = serde_yaml_ng::to_string(&yaml_value(&doc)).unwrap_or_default();
    format!("# Written by `conformance props`: a shrunk failing case, replayable with `conformance run`.\n{text}")
}

/// JSON → YAML, with all-digit keys (`statuses: {409: 3}`) as numbers.
fn yaml_value(v: &Value) -> serde_yaml_ng::Value {
    match v {
        Value::Object(m) => {
            let mut out = serde_yaml_ng::Mapping::new();
            for (k, v) in m {
                let key = match k.parse::<u64>() {
                    Ok(n) if !k.is_empty() && k.chars().all(|c| c.is_ascii_digit()) => {
                        serde_yaml_ng::Value::Number(n.into())
                    }
                    _ => serde_yaml_ng::Value::String(k.clone()),
                };
                out.insert(key, yaml_value(v));
            }
            serde_yaml_ng::Value::Mapping(out)
        }
        Value::Array(a) => serde_yaml_ng::Value::Sequence(a.iter().map(yaml_value).collect()),
        other => serde_yaml_ng::to_value(other).unwrap_or(serde_yaml_ng::Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_with_milliseconds() {
        let ms = ms_of("2026-03-24T09:00:05.120Z").unwrap();
        assert_eq!(rfc3339_ms(ms), "2026-03-24T09:00:05.120Z");
        assert_eq!(ms_of("2026-03-24T09:00:05.120+00:00"), Some(ms));
    }

    #[test]
    fn every_style_writes_the_same_instant() {
        let ms = ms_of("2026-03-24T09:00:05.000Z").unwrap();
        let written: Vec<String> = (0..4).map(|s| rfc3339_styled(ms, s)).collect();
        assert_eq!(
            written,
            [
                "2026-03-24T09:00:05.000Z",
                "2026-03-24T11:00:05+02:00",
                "2026-03-24T03:30:05.000000-05:30",
                "2026-03-24T09:00:05Z",
            ]
        );
        for w in &written {
            assert_eq!(ms_of(w), Some(ms), "{w}");
        }
        let odd = ms + 7;
        assert_eq!(rfc3339_styled(odd, 1), "2026-03-24T11:00:05.007+02:00");
        assert_eq!(rfc3339_styled(odd, 3), "2026-03-24T09:00:05.007Z");
    }

    #[test]
    fn same_data_compares_instants_not_text() {
        let a = json!({"status": "failed", "attempted_at": "2026-03-24T09:00:05.000Z"});
        let b = json!({"status": "failed", "attempted_at": "2026-03-24T11:00:05+02:00"});
        assert!(same_data(&a, &b));
        let later = json!({"status": "failed", "attempted_at": "2026-03-24T09:00:05.001Z"});
        assert!(!same_data(&a, &later));
        let other = json!({"status": "skipped", "attempted_at": "2026-03-24T09:00:05.000Z"});
        assert!(!same_data(&a, &other));
        let extra = json!({"status": "failed", "attempted_at": "2026-03-24T09:00:05.000Z", "error_code": "x"});
        assert!(!same_data(&a, &extra));
    }

    #[test]
    fn changed_replays_differ() {
        let d = Driver::changed;
        let b = json!({"status": "succeeded", "external_record_id": "x", "attempted_at": "2026-03-24T09:00:00.000Z"});
        for c in 0..5 {
            assert_ne!(d(&b, c), b);
            assert!(!same_data(&d(&b, c), &b), "change {c}");
        }
    }
}
