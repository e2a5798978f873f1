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

const PROVIDER: &str = "dynamics365";

/// Where a case runs.
#[derive(Debug, Clone)]
pub enum World {
    /// A fake with a control API: a fresh workspace of the default world
    /// per case, frozen clock.
    Fake { seed: u64 },
    /// Any deployment: these documents, as they are now.
    Remote { docs: Vec<String> },
}

/// Why a case failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// 1-based operation number; 0 for the case's setup.
    pub op: usize,
    pub message: String,
}

/// A finished case: the outcome and the steps it sent, as scenario steps.
#[derive(Debug, Clone)]
pub struct CaseRun {
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

    fn callback_body(&self, outcome: Outcome, execution_id: &str, at_ms: i64) -> Value {
        let mut b = json!({
            "provider": PROVIDER,
            "status": outcome.as_str(),
            "execution_id": execution_id,
            "attempted_at": rfc3339_ms(at_ms),
        });
        match outcome {
            Outcome::Succeeded => b["external_record_id"] = json!(format!("crm-{execution_id}")),
            Outcome::Failed => {
                b["error_code"] = json!("crm_429");
                b["error_message"] = json!("Dataverse rate limited");
            }
            Outcome::Skipped => {
                b["error_code"] = json!("supplier_not_found");
                b["error_message"] = json!("No supplier matched vendor_name.");
            }
        }
        b
    }

    /// The recorded body with one delivery field changed.
    fn changed(body: &Value, change: u8) -> Value {
        let mut b = body.clone();
        match change % 5 {
            0 => {
                let flipped = match b["status"].as_str() {
                    Some("succeeded") => "failed",
                    Some("failed") => "skipped",
                    _ => "failed",
                };
                b["status"] = json!(flipped);
            }
            1 => {
                let at = b["attempted_at"].as_str().and_then(ms_of).unwrap_or(0);
                b["attempted_at"] = json!(rfc3339_ms(at + 1_000));
            }
            2 => {
                if b.get("external_record_id").is_some() {
                    b["external_record_id"] = json!("crm-changed");
                } else {
                    b["error_message"] = json!("a different message");
                }
            }
            3 => {
                let code = if b["error_code"] == "crm_500" {
                    "crm_503"
                } else {
                    "crm_500"
                };
                b["error_code"] = json!(code);
            }
            _ => {
                let url = b["external_url"].as_str().map_or_else(
                    || "https://crm.example/record/changed".to_owned(),
                    |u| format!("{u}/changed"),
                );
                b["external_url"] = json!(url);
            }
        }
        b
    }

    fn outcome_of(body: &Value) -> Outcome {
        match body["status"].as_str() {
            Some("failed") => Outcome::Failed,
            Some("skipped") => Outcome::Skipped,
            _ => Outcome::Succeeded,
        }
    }

    async fn callback(
        &mut self,
        doc: usize,
        outcome: Outcome,
        exec: Exec,
        at: u8,
        change: u8,
    ) -> Result<(), String> {
        let d = &self.model.docs[doc];
        let pick = |n: u8| -> Option<&super::model::Recorded> {
            (!d.recorded.is_empty()).then(|| &d.recorded[n as usize % d.recorded.len()])
        };
        let at_ms = self.model.base_ms + i64::from(at) * 1_000;
        let (body, recorded) = match exec {
            Exec::Replay(n) if pick(n).is_some() => {
                let r = pick(n).cloned().unwrap_or_else(|| unreachable!());
                // The same data, its instant possibly written another way.
                let mut body = r.body.clone();
                if let Some(ms) = body["attempted_at"].as_str().and_then(ms_of) {
                    body["attempted_at"] = json!(rfc3339_styled(ms, change));
                }
                (body, Some(r))
            }
            Exec::Changed(n) if pick(n).is_some() => {
                let r = pick(n).cloned().unwrap_or_else(|| unreachable!());
                (Self::changed(&r.body, change), Some(r))
            }
            _ => {
                let id = self.model.fresh_execution_id();
                let mut body = self.callback_body(outcome, &id, at_ms);
                body["attempted_at"] = json!(rfc3339_styled(at_ms, at));
                (body, None)
            }
        };
        let finalized = self.model.docs[doc].finalized;
        let execution_id = body["execution_id"].as_str().unwrap_or_default().to_owned();
        // What the docs promise.
        let (code, what) = match &recorded {
            _ if !finalized => (409, "callback on a document that is not finalized"),
            Some(r) if same_data(&r.body, &body) => (200, "identical replay"),
            Some(_) => (409, "changed replay"),
            None => (201, "new execution_id"),
        };
        let mut expect = json!({"status": code});
        if code == 409 {
            expect["json"] = json!({"$.error.code": {"equals": "conflict"}});
        } else {
            let shown = recorded
                .as_ref()
                .map_or(body["status"].clone(), |r| json!(r.outcome.as_str()));
            expect["json"] = json!({
                "$.data.execution_id": {"equals": execution_id},
                "$.data.status": {"equals": shown},
            });
        }
        self.record_step(json!({"request": {
            "name": format!("op {}: callback doc{doc}, {what}", self.op),
            "method": "POST",
            "path": format!("/v1/documents/{}/delivery", self.var(doc)),
            "body": body, "expect": expect,
        }}));
        let id = self.model.docs[doc].id.clone();
        let r = self
            .send(
                Method::Post,
                &format!("/v1/documents/{id}/delivery"),
                Some(&body),
            )
            .await?;
        Self::expect_status(&r, &[code], &format!("callback, {what}"))?;
        if code == 409 {
            Self::expect_conflict(&r, what)?;
        } else {
            let j = r.json.clone().unwrap_or(Value::Null);
            ensure(j["data"]["execution_id"] == execution_id.as_str(), || {
                format!(
                    "{what}: the answer must be the attempt of execution_id {execution_id}: {}",
                    short(&r.body)
                )
            })?;
            let shown = recorded
                .as_ref()
                .map_or(Self::outcome_of(&body), |r| r.outcome);
            ensure(j["data"]["status"] == shown.as_str(), || {
                format!(
                    "{what}: the attempt must show status {}: {}",
                    shown.as_str(),
                    short(&r.body)
                )
            })?;
        }
        if code == 201 {
            let outcome = Self::outcome_of(&body);
            let at_ms = body["attempted_at"]
                .as_str()
                .and_then(ms_of)
                .unwrap_or(at_ms);
            self.model.docs[doc].recorded.push(super::model::Recorded {
                execution_id,
                outcome,
                body,
            });
            self.model.record(doc, at_ms, outcome);
        }
        self.probe(doc).await
    }

    /// `GET …/delivery`: exactly one attempt per execution_id, newest first,
    /// and every attempt the case recorded, as recorded.
    async fn attempts(&mut self, doc: usize) -> Result<(), String> {
        let d = self.model.docs[doc].clone();
        let mut expect = json!({"status": 200});
        let total = d
            .prior_attempts
            .filter(|_| self.model.exact)
            .map(|p| p + d.recorded.len() + d.run_attempts.len());
        if let Some(n) = total {
            expect["json"] = json!({"$.data": {"length": n}});
        }
        self.record_step(json!({"request": {
            "name": format!("op {}: attempts of doc{doc}", self.op),
            "method": "GET",
            "path": format!("/v1/documents/{}/delivery?provider={PROVIDER}&limit=100", self.var(doc)),
            "expect": expect,
        }}));
        let r = self
            .send(
                Method::Get,
                &format!(
                    "/v1/documents/{}/delivery?provider={PROVIDER}&limit=100",
                    d.id
                ),
                None,
            )
            .await?;
        Self::expect_status(&r, &[200], "list attempts")?;
        let items = r
            .json
            .as_ref()
            .and_then(|j| j["data"].as_array())
            .cloned()
            .ok_or_else(|| format!("list attempts: no data array: {}", short(&r.body)))?;
        let mut ids = std::collections::BTreeSet::new();
        let mut last: Option<i64> = None;
        for a in &items {
            let eid = a["execution_id"].as_str().unwrap_or_default();
            ensure(ids.insert(eid.to_owned()), || {
                format!("list attempts: execution_id {eid} is listed more than once")
            })?;
            let at = a["attempted_at"].as_str().and_then(ms_of);
            if let (Some(prev), Some(at)) = (last, at) {
                ensure(at <= prev, || {
                    format!("list attempts: not newest first at execution_id {eid}")
                })?;
            }
            last = at.or(last);
        }
        for rec in &d.recorded {
            let found = items
                .iter()
                .find(|a| a["execution_id"] == rec.execution_id.as_str());
            let found = found.ok_or_else(|| {
                format!(
                    "list attempts: the recorded execution_id {} is missing",
                    rec.execution_id
                )
            })?;
            ensure(found["status"] == rec.outcome.as_str(), || {
                format!(
                    "list attempts: execution_id {} shows {}, recorded as {}",
                    rec.execution_id,
                    found["status"],
                    rec.outcome.as_str()
                )
            })?;
        }
        if let Some(n) = total {
            ensure(items.len() == n, || {
                format!(
                    "list attempts: {} attempts, the model expects {n} ({} before the case, {} callbacks, {} finished runs)",
                    items.len(),
                    d.prior_attempts.unwrap_or(0),
                    d.recorded.len(),
                    d.run_attempts.len()
                )
            })?;
            let runs: Vec<&Value> = items.iter().filter(|a| a["source"] == "dispatch").collect();
            ensure(runs.len() == d.run_attempts.len(), || {
                format!(
                    "list attempts: {} attempts from dispatch runs, the model expects {}",
                    runs.len(),
                    d.run_attempts.len()
                )
            })?;
            for a in runs {
                let want = if d.skips { "skipped" } else { "succeeded" };
                ensure(a["status"] == want, || {
                    format!(
                        "list attempts: a dispatch run of {} ended {}, the model expects {want}",
                        d.id, a["status"]
                    )
                })?;
            }
        }
        Ok(())
    }

    /// Walk the outbox with a small limit: no repeats, no pending or
    /// succeeded documents, stable order, and exactly the eligible ones.
    async fn outbox(&mut self, limit: u8, reapprove: Option<u8>) -> Result<(), String> {
        let mut eligible = self.model.eligible();
        let eligible_ids: Vec<String> = self
            .model
            .docs
            .iter()
            .zip(&eligible)
            .filter(|(_, e)| **e == Some(true))
            .map(|(d, _)| d.id.clone())
            .collect();
        let max_pages = if self.model.exact {
            eligible_ids.len() / usize::from(limit.max(1)) + 4
        } else {
            1_000
        };
        let mut eligible_ids = eligible_ids;
        // With `reapprove`: the document changed after the first page, its
        // eligibility afterwards, and how many items were seen before.
        let mut moved: Option<(usize, Option<bool>, usize)> = None;
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut cursor: Option<String> = None;
        for page in 0..max_pages {
            let mut path = format!("/v1/delivery/outbox?provider={PROVIDER}&limit={limit}");
            let mut tpl = path.clone();
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
                tpl.push_str("&cursor={{cursor}}");
            }
            let mut checks = json!({
                "$.data[*].status": {"each_one_of": ["reviewed", "push_failed"]},
            });
            if page > 0 && reapprove.is_none() {
                checks["$.data[*].document_id"] = json!({"not_contains": "{{first}}"});
            }
            self.record_step(json!({"request": {
                "name": format!("op {}: outbox page {}", self.op, page + 1),
                "method": "GET", "path": tpl,
                "expect": {"status": 200, "json": checks},
                "capture": {"cursor": "$.meta.next_cursor", "first": "$.data[0].document_id"},
            }}));
            let r = self.send(Method::Get, &path, None).await?;
            Self::expect_status(&r, &[200], "outbox")?;
            let j = r.json.clone().unwrap_or(Value::Null);
            let items = j["data"]
                .as_array()
                .ok_or_else(|| format!("outbox: no data array: {}", short(&r.body)))?;
            if items.is_empty() {
                // Nothing to capture: the scenario step must not ask for it.
                if let Some(c) = self
                    .steps
                    .last_mut()
                    .and_then(|s| s["request"]["capture"].as_object_mut())
                {
                    c.remove("first");
                }
            }
            ensure(items.len() <= usize::from(limit), || {
                format!("outbox: {} items on a page of limit {limit}", items.len())
            })?;
            for item in items {
                let id = item["document_id"].as_str().unwrap_or_default().to_owned();
                let status = item["status"].as_str().unwrap_or_default();
                ensure(matches!(status, "reviewed" | "push_failed"), || {
                    format!("outbox: lists {id} in status {status}; only reviewed and push_failed documents may be listed")
                })?;
                let relisted = moved.is_some_and(|(d, _, split)| {
                    self.model.docs[d].id == id && seen.iter().skip(split).all(|(s, _)| *s != id)
                });
                ensure(relisted || !seen.iter().any(|(s, _)| *s == id), || {
                    format!("outbox: the walk lists {id} twice (page {})", page + 1)
                })?;
                let updated = item["updated_at"].as_str().unwrap_or_default().to_owned();
                seen.push((id, updated));
            }
            match j["meta"]["next_cursor"].as_str() {
                Some(c) => {
                    ensure(!items.is_empty(), || {
                        "outbox: an empty page with a next_cursor".to_owned()
                    })?;
                    cursor = Some(c.to_owned());
                    let picked = reapprove.and_then(|n| {
                        let id = items[usize::from(n) % items.len()]["document_id"].as_str()?;
                        self.model.docs.iter().position(|d| d.id == id)
                    });
                    if let (0, Some(d)) = (page, picked) {
                        // Between the pages: a second later (so the new
                        // position is after everything listed so far), the
                        // document goes back to review and is approved again.
                        let before = (self.model.docs[d].finalized, self.model.docs[d].status);
                        self.advance(1).await?;
                        self.edit(d).await?;
                        self.approve(d).await?;
                        let after = (self.model.docs[d].finalized, self.model.docs[d].status);
                        eligible = self.model.eligible();
                        if before.0 || before != after {
                            moved = Some((d, eligible[d], seen.len()));
                        }
                        eligible_ids = self
                            .model
                            .docs
                            .iter()
                            .zip(&eligible)
                            .filter(|(_, e)| **e == Some(true))
                            .map(|(doc, _)| doc.id.clone())
                            .collect();
                    }
                }
                None => {
                    cursor = None;
                    break;
                }
            }
        }
        ensure(cursor.is_none(), || {
            format!("outbox: the walk did not end after {max_pages} pages of {limit}")
        })?;
        if let Some((d, after, split)) = moved {
            // The changed document: listed again after the change exactly
            // when it is eligible again (at its new position, the end).
            let id = &self.model.docs[d].id;
            let later = seen.iter().skip(split).filter(|(s, _)| s == id).count();
            match after {
                Some(true) => ensure(later == 1, || {
                    format!("outbox: {id} was edited and approved again after page 1 and is eligible, but the rest of the walk lists it {later} times (expected once, at its new position)")
                })?,
                Some(false) => ensure(later == 0, || {
                    format!("outbox: {id} is no longer eligible after page 1, but the rest of the walk lists it")
                })?,
                None => {}
            }
            // Only what was listed before the change keeps the old order.
            seen.retain(|(s, _)| s != id);
        }
        for w in seen.windows(2) {
            let a = (ms_of(&w[0].1), &w[0].0);
            let b = (ms_of(&w[1].1), &w[1].0);
            ensure(a <= b, || {
                format!(
                    "outbox: {} ({}) is listed before {} ({}); the order is updated_at, then id",
                    w[0].0, w[0].1, w[1].0, w[1].1
                )
            })?;
        }
        for (i, (d, e)) in self.model.docs.iter().zip(&eligible).enumerate() {
            if moved.is_some_and(|(m, _, _)| m == i) {
                continue;
            }
            let listed = seen.iter().any(|(s, _)| *s == d.id);
            match e {
                Some(true) => ensure(listed, || {
                    format!(
                        "outbox: the walk skips {}, which is eligible ({}, finalized)",
                        d.id,
                        list(&d.status.admitted())
                    )
                })?,
                Some(false) => ensure(!listed, || {
                    format!(
                        "outbox: lists {}, which is not eligible (model: {}, finalized {}, deliverable {})",
                        d.id,
                        list(&d.status.admitted()),
                        d.finalized,
                        d.deliverable
                    )
                })?,
                None => {}
            }
        }
        if self.model.exact {
            // The fake's world is known: nothing else may be listed.
            for (id, _) in &seen {
                ensure(eligible_ids.contains(id), || {
                    format!("outbox: lists {id}, which the model does not know as eligible")
                })?;
            }
            let mut checks = json!({"$.data": {"length": eligible_ids.len()}});
            if !eligible_ids.is_empty() {
                checks["$.data[*].document_id"] = json!({"each_one_of": eligible_ids});
            }
            self.record_step(json!({"request": {
                "name": format!("op {}: outbox lists exactly the eligible documents", self.op),
                "method": "GET",
                "path": format!("/v1/delivery/outbox?provider={PROVIDER}&limit=100"),
                "expect": {"status": 200, "json": checks},
            }}));
        }
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

    async fn parallel_dispatch(&mut self, doc: usize, n: u8) -> Result<(), String> {
        let id = self.model.docs[doc].id.clone();
        let allowed = self.model.docs[doc].push_allowed(false);
        let n = usize::from(n);
        let body = json!({"provider": PROVIDER});
        let mut step = json!({"parallel": {
            "name": format!("op {}: {n} dispatches of doc{doc} at once", self.op),
            "count": n,
            "request": {"method": "POST", "path": format!("/v1/documents/{}/dispatch", self.var(doc)), "body": body},
        }});
        match allowed {
            Some(true) => step["parallel"]["statuses"] = json!({"202": 1, "409": n - 1}),
            Some(false) => step["parallel"]["statuses"] = json!({"409": n}),
            None => {}
        }
        self.record_step(step);
        let path = format!("/v1/documents/{id}/dispatch");
        let sends = (0..n).map(|_| self.send(Method::Post, &path, Some(&body)));
        let answers: Vec<ResponseRecord> = join_all(sends)
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let accepted: Vec<&ResponseRecord> = answers.iter().filter(|r| r.status == 202).collect();
        for r in &answers {
            Self::expect_status(r, &[202, 409], "parallel dispatch")?;
        }
        // With a frozen clock no run finishes during the burst: exactly
        // one dispatch wins. Elsewhere a run may finish in between and,
        // unless its document then ends push_succeeded, be dispatched again.
        let d = &self.model.docs[doc];
        let settles = d.latest.map(|(_, _, s)| s) == Some(Status::PushSucceeded);
        let (least, most) = match allowed {
            Some(false) => (0, 0),
            _ if self.model.exact || settles => (usize::from(allowed == Some(true)), 1),
            _ => (usize::from(allowed == Some(true)), n),
        };
        ensure((least..=most).contains(&accepted.len()), || {
            format!(
                "parallel dispatch: {} of {n} were accepted (202); the model expects {}",
                accepted.len(),
                if least == most {
                    least.to_string()
                } else {
                    format!("{least} to {most}")
                }
            )
        })?;
        if let Some(r) = accepted.first() {
            let r = (*r).clone();
            self.accepted(doc, &r, "parallel dispatch")?;
        }
        self.probe(doc).await
    }

    async fn parallel_callback(&mut self, doc: usize, n: u8, changed: bool) -> Result<(), String> {
        let id = self.model.docs[doc].id.clone();
        let n = usize::from(n);
        let execution_id = self.model.fresh_execution_id();
        let at_ms = self.model.base_ms + 10_000;
        let base = self.callback_body(Outcome::Succeeded, &execution_id, at_ms);
        let bodies: Vec<Value> = (0..n)
            .map(|i| {
                let mut b = base.clone();
                if changed {
                    b["external_record_id"] = json!(format!("crm-par-{i}"));
                }
                b
            })
            .collect();
        let finalized = self.model.docs[doc].finalized;
        let statuses = match (finalized, changed) {
            (false, _) => json!({"409": n}),
            (true, false) => json!({"201": 1, "200": n - 1}),
            (true, true) => json!({"201": 1, "409": n - 1}),
        };
        let mut tpl = base.clone();
        if changed {
            tpl["external_record_id"] = json!("crm-par-{{index}}");
        }
        self.record_step(json!({"parallel": {
            "name": format!("op {}: {n} {} callbacks with one execution_id at once", self.op, if changed { "changed" } else { "identical" }),
            "count": n,
            "request": {"method": "POST", "path": format!("/v1/documents/{}/delivery", self.var(doc)), "body": tpl},
            "statuses": statuses,
        }}));
        let path = format!("/v1/documents/{id}/delivery");
        let sends = bodies
            .iter()
            .map(|b| self.send(Method::Post, &path, Some(b)));
        let answers: Vec<ResponseRecord> = join_all(sends)
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let count = |code: u16| answers.iter().filter(|r| r.status == code).count();
        let (c201, c200, c409) = (count(201), count(200), count(409));
        let summary = || {
            let mut codes: Vec<String> = answers.iter().map(|r| r.status.to_string()).collect();
            codes.sort();
            codes.join(", ")
        };
        match (finalized, changed) {
            (false, _) => ensure(c409 == n, || {
                format!("parallel callbacks on a document that is not finalized: statuses {}; expected all 409", summary())
            })?,
            (true, false) => {
                ensure(c201 == 1 && c200 == n - 1, || {
                    format!("{n} parallel identical callbacks: statuses {}; expected one 201 and the rest 200 (one attempt)", summary())
                })?;
                let attempt_ids: std::collections::BTreeSet<String> = answers
                    .iter()
                    .filter_map(|r| r.json.as_ref())
                    .map(|j| j["data"]["id"].to_string())
                    .collect();
                ensure(attempt_ids.len() == 1, || {
                    format!("{n} parallel identical callbacks answered with different attempts: {attempt_ids:?}")
                })?;
            }
            (true, true) => ensure(c201 == 1 && c409 == n - 1, || {
                format!("{n} parallel changed callbacks with one execution_id: statuses {}; expected one 201 and the rest 409", summary())
            })?,
        }
        if finalized {
            let winner = answers.iter().position(|r| r.status == 201).unwrap_or(0);
            let body = bodies[winner].clone();
            self.model.docs[doc].recorded.push(super::model::Recorded {
                execution_id,
                outcome: Outcome::Succeeded,
                body,
            });
            self.model.record(doc, at_ms, Outcome::Succeeded);
        }
        self.probe(doc).await
    }

    /// A dispatch and a fresh `succeeded`/`skipped` callback at once. Either
    /// may land first, and the answers say which: the callback is 201
    /// whenever the document is finalized; a 202 for the dispatch means it
    /// came first (after the callback the document is push_succeeded, which
    /// refuses a dispatch), a 409 on a document that allowed a push means
    /// the callback came first. The model then applies that order.
    async fn race_dispatch_callback(&mut self, doc: usize, outcome: Outcome) -> Result<(), String> {
        let id = self.model.docs[doc].id.clone();
        let allowed = self.model.docs[doc].push_allowed(false);
        let finalized = self.model.docs[doc].finalized;
        let execution_id = self.model.fresh_execution_id();
        // An hour ahead: newer than every attempt of the case, so the
        // callback decides the status in either order and the answers tell
        // the order apart.
        let at_ms = self.model.now_ms.max(self.model.base_ms) + 3_600_000;
        let body = self.callback_body(outcome, &execution_id, at_ms);
        let dispatch_body = json!({"provider": PROVIDER});
        let dispatch_path = format!("/v1/documents/{id}/dispatch");
        let callback_path = format!("/v1/documents/{id}/delivery");
        let (dispatch, callback) = futures_util::future::join(
            self.send(Method::Post, &dispatch_path, Some(&dispatch_body)),
            self.send(Method::Post, &callback_path, Some(&body)),
        )
        .await;
        let (dispatch, callback) = (dispatch?, callback?);
        let callback_code = if finalized { 201 } else { 409 };
        Self::expect_status(&callback, &[callback_code], "callback racing a dispatch")?;
        Self::expect_status(&dispatch, &[202, 409], "dispatch racing a callback")?;
        let dispatched_first = dispatch.status == 202;
        ensure(!dispatched_first || allowed != Some(false), || {
            format!(
                "dispatch racing a callback: 202, but the document ({}) allows no push",
                list(&self.model.docs[doc].status.admitted())
            )
        })?;
        // The scenario replays the order the answers showed, one at a time.
        let dispatch_step = json!({"request": {
            "name": format!("op {}: dispatch doc{doc} (raced a callback)", self.op),
            "method": "POST",
            "path": format!("/v1/documents/{}/dispatch", self.var(doc)),
            "body": dispatch_body, "expect": {"status": dispatch.status},
        }});
        let callback_step = json!({"request": {
            "name": format!("op {}: callback doc{doc} (raced a dispatch)", self.op),
            "method": "POST",
            "path": format!("/v1/documents/{}/delivery", self.var(doc)),
            "body": body.clone(), "expect": {"status": callback_code},
        }});
        if dispatched_first {
            self.record_step(dispatch_step);
            self.accepted(doc, &dispatch, "dispatch racing a callback")?;
            self.record_step(callback_step);
        } else {
            self.record_step(callback_step);
            self.record_step(dispatch_step);
        }
        if finalized {
            self.model.docs[doc].recorded.push(super::model::Recorded {
                execution_id,
                outcome,
                body,
            });
            self.model.record(doc, at_ms, outcome);
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

/// Prepare the case's session and model.
/// Eligible documents a fake's world gets on top of the default world's.
const EXTRA_DOCUMENTS: usize = 24;

/// The `n`-th extra document: reviewed, finalized, an invoice of a vendor
/// the default world's Dataverse knows, updated between 00:00 and 07:59.
fn extra_document(n: usize) -> Value {
    json!({
        "id": format!("props-extra-{n:02}"),
        "schema": "invoice_v2",
        "status": "reviewed",
        "finalized": true,
        "updated_at": format!("2026-03-24T{:02}:{:02}:30.000Z", n % 8, (n * 7) % 60),
        "fields": {
            "vendor_name": "Northwind Traders",
            "invoice_number": format!("INV-PROPS-{n:02}"),
            "invoice_total": 100.0,
        },
    })
}

async fn setup(
    target: &Target,
    world: &World,
    case: u64,
) -> Result<(Session, Model, Vec<Value>), String> {
    match world {
        World::Fake { seed } => {
            let session = target.open(Some(*seed), None).await?;
            let clock = session
                .control(Method::Patch, "clock", Some(&json!({"mode": "frozen"})))
                .await
                .map_err(|e| format!("freezing the clock: {}", e.message))?;
            let now = clock
                .json
                .as_ref()
                .and_then(|j| j["data"]["now"].as_str())
                .and_then(ms_of)
                .ok_or_else(|| {
                    format!(
                        "freezing the clock answered {}: {}",
                        clock.status,
                        short(&clock.body)
                    )
                })?;
            let mut steps = vec![json!({"control": {"clock": {"mode": "frozen"}}})];
            let mut docs = default_world();
            // Two dozen more eligible documents, interleaved with the
            // world's by updated_at, so outbox walks span many pages.
            for n in 0..EXTRA_DOCUMENTS {
                let doc = extra_document(n);
                let r = session
                    .control(Method::Post, "documents", Some(&doc))
                    .await
                    .map_err(|e| format!("seeding a document: {}", e.message))?;
                if r.status != 201 {
                    return Err(format!(
                        "seeding a document answered {}: {}",
                        r.status,
                        short(&r.body)
                    ));
                }
                let id = doc["id"].as_str().unwrap_or_default();
                let mut d = Doc::new(id, Status::Reviewed, true);
                d.prior_attempts = Some(0);
                docs.push(d);
                steps.push(json!({"control": {"seed_document": doc}}));
            }
            let model = Model::new(docs, true, now, now, "p".into());
            Ok((session, model, steps))
        }
        World::Remote { docs } => {
            let session = target.open(None, None).await?;
            let mut model_docs = Vec::new();
            let mut base = wall_clock_ms() + 3_600_000;
            for id in docs {
                let get = |path: String| {
                    let session = session.clone();
                    async move {
                        let out = Outgoing {
                            method: Method::Get,
                            url: format!("{}{path}", session.base_url),
                            headers: vec![(
                                "authorization".into(),
                                format!("Bearer {}", session.api_key),
                            )],
                            body: None,
                        };
                        session
                            .send(out)
                            .await
                            .map_err(|e| format!("GET {path}: {}", e.message))
                    }
                };
                let r = get(format!("/v1/documents/{id}")).await?;
                if r.status != 200 {
                    return Err(format!(
                        "document {id}: GET answered {}: {}",
                        r.status,
                        short(&r.body)
                    ));
                }
                let status = status_of(&r).ok_or_else(|| {
                    format!("document {id}: no known status in {}", short(&r.body))
                })?;
                let finalized = matches!(
                    status,
                    Status::Reviewed
                        | Status::PushPending
                        | Status::PushSucceeded
                        | Status::PushFailed
                );
                let mut d = Doc::new(id, status, finalized);
                if status == Status::PushPending {
                    d.status = Known::InFlight { after: None };
                }
                let a = get(format!(
                    "/v1/documents/{id}/delivery?provider={PROVIDER}&limit=1"
                ))
                .await?;
                let newest = a
                    .json
                    .as_ref()
                    .map(|j| j["data"][0].clone())
                    .unwrap_or(Value::Null);
                if let Some(at) = newest["attempted_at"].as_str().and_then(ms_of) {
                    base = base.max(at + 60_000);
                    // Stamped ahead of the clock (an earlier run of props):
                    // later than any run's attempt, so it keeps deciding
                    // the status when a run finishes.
                    if at > wall_clock_ms() + 600_000 {
                        let implied = Driver::outcome_of(&newest).document_status();
                        d.latest = Some((at, 0, implied));
                    }
                }
                model_docs.push(d);
            }
            // Whole seconds keep the scenario files readable.
            base = (base / 1_000 + 1) * 1_000;
            let nonce = format!("{}-{case}", wall_clock_ms());
            Ok((
                session,
                Model::new(model_docs, false, base, base, nonce),
                Vec::new(),
            ))
        }
    }
}

/// Run one case of `ops`.
pub async fn run_case(target: &Target, world: &World, case: u64, ops: &[Op]) -> CaseRun {
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
pub fn scenario_yaml(run: &CaseRun, control: bool, title: &str, description: &str) -> String {
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
