//! Seed 003: signed webhook deliveries, retries on the virtual clock, and the
//! webhook fault rules, observed by a real receiver on a local socket.
//!
//! The receiver pushes every request into a channel and answers statuses from
//! a script. Tests await the channel (with a generous guard) and move the
//! fake's frozen clock; they never sleep.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::helpers::*;

const SECRET: &str = "whsec_test_9f8e7d6c5b4a";
/// Only a guard against a hang; every wait ends as soon as its event arrives.
const GUARD: Duration = Duration::from_secs(20);
/// How old a delivery timestamp the test's consumer still accepts.
const TOLERANCE: time::Duration = time::Duration::minutes(5);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    content_type: String,
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("the webhook body is JSON")
    }

    fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_string()
    }

    fn at(&self) -> OffsetDateTime {
        OffsetDateTime::parse(&self.timestamp, &Rfc3339).expect("an RFC 3339 timestamp")
    }
}

#[derive(Clone)]
struct Script {
    tx: mpsc::UnboundedSender<Hit>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
    /// A consumer done right: verify with this secret at this instant, 401 on failure.
    verify_with: Option<(String, OffsetDateTime)>,
}

struct Receiver {
    base: String,
    rx: mpsc::UnboundedReceiver<Hit>,
}

impl Receiver {
    /// Answers `statuses` in turn, then 200 to everything.
    async fn start(statuses: &[u16]) -> Receiver {
        Self::with_verification(statuses, None).await
    }

    /// A receiver that checks signatures and timestamps as seed 003 asks
    /// (answering 401 to a delivery that fails), its clock at `now`.
    async fn verifying(secret: &str, now: OffsetDateTime) -> Receiver {
        Self::with_verification(&[], Some((secret.to_string(), now))).await
    }

    async fn with_verification(
        statuses: &[u16],
        verify_with: Option<(String, OffsetDateTime)>,
    ) -> Receiver {
        let (tx, rx) = mpsc::unbounded_channel();
        let script = Script {
            tx,
            statuses: Arc::new(Mutex::new(statuses.iter().copied().collect())),
            verify_with,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("receiver binds");
        let addr = listener.local_addr().expect("receiver address");
        let app = axum::Router::new().fallback(record).with_state(script);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            base: format!("http://{addr}"),
            rx,
        }
    }

    fn url(&self) -> String {
        format!("{}/hooks/numora", self.base)
    }

    async fn next(&mut self) -> Hit {
        tokio::time::timeout(GUARD, self.rx.recv())
            .await
            .expect("a webhook arrives")
            .expect("the receiver is running")
    }

    /// The next webhook about `doc` (the default world has other documents
    /// on the clock, e.g. one still processing).
    async fn next_about(&mut self, doc: &str) -> Hit {
        loop {
            let hit = self.next().await;
            if hit.json()["data"]["document_id"] == doc {
                return hit;
            }
        }
    }

    async fn take(&mut self, n: usize) -> Vec<Hit> {
        let mut hits = Vec::new();
        for _ in 0..n {
            hits.push(self.next().await);
        }
        hits
    }

    /// Nothing more arrives, however far the clock moves: settles the fake
    /// through the virtual clock first (an hour past every retry the backoff
    /// could schedule, then every logged attempt has its outcome), so every
    /// request that will ever reach this receiver has already reached it.
    async fn assert_quiet(&mut self, app: &App) {
        settle(app).await;
        if let Ok(hit) = self.rx.try_recv() {
            panic!("unexpected webhook: {hit:?}");
        }
    }
}

async fn record(State(s): State<Script>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut status = s.statuses.lock().unwrap().pop_front().unwrap_or(200);
    let hit = Hit {
        path: uri.path().to_string(),
        content_type: header("content-type"),
        id: header("x-numora-webhook-id"),
        timestamp: header("x-numora-webhook-timestamp"),
        signature: header("x-numora-webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    if let Some((secret, now)) = &s.verify_with {
        if verify_hit(secret, &hit, *now).is_err() {
            status = 401;
        }
    }
    let _ = s.tx.send(hit);
    StatusCode::from_u16(status).unwrap()
}

/// The consumer's check, written from the seed: read the raw body and the
/// timestamp, recompute the HMAC with the secret, compare, reject stale ones.
fn verify(
    secret: &str,
    timestamp: &str,
    signature: &str,
    raw_body: &str,
    now: OffsetDateTime,
) -> Result<(), String> {
    let mut t = None;
    let mut v1 = None;
    for part in signature.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => return Err(format!("malformed signature part '{part}'")),
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err("signature lacks t= or v1=".into());
    };
    if t != timestamp {
        return Err("the signed timestamp is not the delivery timestamp".into());
    }
    let sent = OffsetDateTime::parse(t, &Rfc3339).map_err(|e| format!("timestamp: {e}"))?;
    if (now - sent).abs() > TOLERANCE {
        return Err("stale timestamp".into());
    }
    let expected = hex::decode(v1).map_err(|e| format!("v1 is not hex: {e}"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(raw_body.as_bytes());
    mac.verify_slice(&expected)
        .map_err(|_| "signature mismatch".to_string())
}

fn verify_hit(secret: &str, hit: &Hit, now: OffsetDateTime) -> Result<(), String> {
    verify(secret, &hit.timestamp, &hit.signature, &hit.body, now)
}

async fn frozen() -> App {
    app_with(
        mock_server::MockServer::builder()
            .seed(7)
            .clock(mock_server::ClockMode::Frozen),
    )
    .await
}

/// Registers an endpoint on the default workspace; returns its id.
async fn subscribe(app: &App, url: &str, secret: &str, events: &[&str]) -> String {
    let body = json!({"url": url, "secret": secret, "events": events}).to_string();
    let r = app.control("POST", "/webhooks", Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!r.text.contains(secret), "the secret leaked: {}", r.text);
    assert_eq!(r.json()["data"]["has_secret"], true);
    r.json()["data"]["id"].as_str().unwrap().to_string()
}

async fn virtual_now(app: &App) -> OffsetDateTime {
    let clock = app.control("GET", "/clock", None).await.json();
    OffsetDateTime::parse(clock["data"]["now"].as_str().unwrap(), &Rfc3339).unwrap()
}

async fn approve(app: &App, doc: &str) {
    let current = app.get(&format!("/v1/documents/{doc}")).await.json();
    let updated_at = current["data"]["updated_at"].as_str().unwrap().to_string();
    let body = json!({"expected_updated_at": updated_at, "review_state": null}).to_string();
    let r = app
        .post(&format!("/v1/documents/{doc}/actions/approve"), &body)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn dispatch(app: &App, doc: &str) -> String {
    let r = app
        .post(
            &format!("/v1/documents/{doc}/dispatch"),
            r#"{"provider":"dynamics365"}"#,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    r.json()["meta"]["run_id"].as_str().unwrap().to_string()
}

async fn add_fault(app: &App, rule: Value) {
    let r = app
        .control("POST", "/faults", Some(&rule.to_string()))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// The delivery log of one endpoint.
async fn log(app: &App, endpoint_id: &str) -> Vec<Value> {
    let r = app.control("GET", "/webhooks/deliveries", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["endpoint_id"] == endpoint_id)
        .cloned()
        .collect()
}

/// The log once every attempt has an outcome (an outcome is recorded just
/// after the receiver answers, so it may trail the request by a moment).
async fn settled_log(app: &App, endpoint_id: &str, attempts: usize) -> Vec<Value> {
    let wait = async {
        loop {
            let deliveries = log(app, endpoint_id).await;
            let all: Vec<&Value> = deliveries
                .iter()
                .flat_map(|d| d["attempts"].as_array().unwrap().iter())
                .collect();
            let done = all
                .iter()
                .all(|a| !a["status"].is_null() || !a["error"].is_null());
            if all.len() >= attempts && done {
                return deliveries;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(GUARD, wait)
        .await
        .expect("the delivery log settles")
}

/// Moves the clock an hour (far past the last retry of any backoff) and waits
/// until every attempt in the log, of every endpoint, has its outcome. The
/// receiver records a request before it answers, so once the log settles
/// every request sent has been recorded.
async fn settle(app: &App) {
    app.advance("1h").await;
    let wait = async {
        loop {
            let r = app.control("GET", "/webhooks/deliveries", None).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let body = r.json();
            let open = body["data"].as_array().unwrap().iter().any(|d| {
                d["state"] == "pending"
                    && d["attempts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|a| a["status"].is_null() && a["error"].is_null())
            });
            if !open {
                return;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(GUARD, wait)
        .await
        .expect("the delivery log settles");
}

/// A frozen fake whose own background work (the fixture document still
/// processing, due 5 s after start) is done, so a receiver subscribed to
/// every event hears only what the test causes.
async fn frozen_after_background() -> App {
    let app = frozen().await;
    app.advance("10s").await;
    app
}

fn attempt_instants(delivery: &Value) -> Vec<OffsetDateTime> {
    delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| OffsetDateTime::parse(a["at"].as_str().unwrap(), &Rfc3339).unwrap())
        .collect()
}

fn statuses(delivery: &Value) -> Vec<Value> {
    delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].clone())
        .collect()
}

fn secs(n: i64) -> time::Duration {
    time::Duration::seconds(n)
}

#[tokio::test]
async fn deliveries_carry_the_documented_body_and_headers_and_verify() {
    let app = frozen().await;
    let mut rx = Receiver::start(&[]).await;
    let endpoint = subscribe(&app, &rx.url(), SECRET, &[]).await;
    approve(&app, REVIEW_DOC).await;
    let hit = rx.next().await;
    let now = virtual_now(&app).await;

    assert_eq!(hit.path, "/hooks/numora");
    assert_eq!(hit.content_type, "application/json");
    let body = hit.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{body}");
    assert!(body["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(body["type"], "document.reviewed");
    assert_eq!(
        body["data"],
        json!({"document_id": REVIEW_DOC, "schema": "invoice_v2", "status": "reviewed"})
    );
    assert_eq!(hit.id, body["id"].as_str().unwrap());
    // First attempt at the emitting instant; seconds, no fraction.
    assert_eq!(hit.timestamp, body["created_at"].as_str().unwrap());
    assert_eq!(hit.timestamp.len(), "2026-03-21T14:24:11Z".len());
    assert!(hit.timestamp.ends_with('Z') && !hit.timestamp.contains('.'));
    let v1 = hit
        .signature
        .strip_prefix(&format!("t={},v1=", hit.timestamp))
        .expect("t=<timestamp>,v1=<hex>");
    assert_eq!(v1.len(), 64);
    assert!(v1
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));

    assert_eq!(verify_hit(SECRET, &hit, now), Ok(()));
    let tampered = hit.body.replace("reviewed\"}", "push_succeeded\"}");
    assert_ne!(tampered, hit.body);
    assert_eq!(
        verify(SECRET, &hit.timestamp, &hit.signature, &tampered, now),
        Err("signature mismatch".into())
    );
    assert!(verify(
        "whsec_other",
        &hit.timestamp,
        &hit.signature,
        &hit.body,
        now
    )
    .is_err());
    assert_eq!(
        verify_hit(SECRET, &hit, now + time::Duration::minutes(10)),
        Err("stale timestamp".into())
    );
    let moved = "2026-01-01T00:00:00Z";
    let resigned = hit.signature.replace(&hit.timestamp, moved);
    assert!(verify(SECRET, moved, &resigned, &hit.body, now).is_err());

    let deliveries = settled_log(&app, &endpoint, 1).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0]["event"], body);
    assert_eq!(statuses(&deliveries[0]), [json!(200)]);
    for path in ["/webhooks", "/webhooks/deliveries"] {
        let r = app.control("GET", path, None).await;
        assert!(!r.text.contains(SECRET), "{path} shows the secret");
    }
}

#[tokio::test]
async fn failed_attempts_are_retried_after_1_2_4_seconds_of_virtual_time() {
    let app = frozen().await;
    let mut rx = Receiver::start(&[500, 503, 500]).await;
    let endpoint = subscribe(&app, &rx.url(), SECRET, &["document.reviewed"]).await;
    approve(&app, REVIEW_DOC).await;
    let first = rx.next().await;
    let t0 = first.at();

    app.advance("1s").await;
    let second = rx.next().await;
    assert_eq!(second.at(), t0 + secs(1));

    app.advance("1s").await;
    // Not due yet: the third attempt waits 2 s after the second.
    assert_eq!(
        log(&app, &endpoint).await[0]["attempts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.advance("1s").await;
    let third = rx.next().await;
    assert_eq!(third.at(), t0 + secs(3));

    app.advance("3s").await;
    assert_eq!(
        log(&app, &endpoint).await[0]["attempts"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    app.advance("1s").await;
    let fourth = rx.next().await;
    assert_eq!(fourth.at(), t0 + secs(7));

    let now = virtual_now(&app).await;
    for hit in [&first, &second, &third, &fourth] {
        assert_eq!(hit.id, first.id, "every attempt carries the event id");
        assert_eq!(hit.body, first.body, "every attempt sends the same body");
        assert_eq!(verify_hit(SECRET, hit, now), Ok(()));
    }
    assert_ne!(
        first.signature, second.signature,
        "each attempt signs its own timestamp"
    );

    let deliveries = settled_log(&app, &endpoint, 4).await;
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    assert_eq!(
        statuses(d),
        [json!(500), json!(503), json!(500), json!(200)]
    );
    assert_eq!(
        attempt_instants(d),
        [t0, t0 + secs(1), t0 + secs(3), t0 + secs(7)]
    );
    assert_eq!(d["state"], "delivered");
    // Delivered: no further attempts, however far the clock moves.
    app.advance("1h").await;
    assert_eq!(
        settled_log(&app, &endpoint, 4).await[0]["attempts"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    rx.assert_quiet(&app).await;
}

#[tokio::test]
async fn a_delivery_fails_after_the_configured_number_of_attempts() {
    let app = frozen().await;
    let mut rx = Receiver::start(&[]).await;
    let endpoint = subscribe(&app, &rx.url(), SECRET, &["document.reviewed"]).await;
    // Every attempt is answered 500 by the fault, without contacting the receiver.
    add_fault(&app, json!({"api": "webhook", "respond": {"status": 500}})).await;
    approve(&app, REVIEW_DOC).await;
    let t0 = virtual_now(&app).await;
    // One advance runs every retry that falls due in it, each at its own instant.
    app.advance("60s").await;
    app.advance("10m").await;
    let deliveries = settled_log(&app, &endpoint, 6).await;
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    assert_eq!(
        statuses(d),
        vec![json!(500); 6],
        "six attempts (the default)"
    );
    assert_eq!(
        attempt_instants(d),
        [0, 1, 3, 7, 15, 31].map(|s| t0 + secs(s))
    );
    assert_eq!(d["state"], "failed", "the last attempt failed: {d}");
    rx.assert_quiet(&app).await;
}

/// `settings.webhook_max_attempts` from the fixture replaces the default six:
/// the third failed attempt ends the delivery `failed`, and the clock moving
/// on brings no fourth.
#[tokio::test]
async fn a_fixture_max_attempts_ends_the_delivery_at_that_count() {
    let yaml = mock_server::fixtures::DEFAULT_WORLD
        .replace(
            "  run_delay: 2s\n",
            "  run_delay: 2s\n  webhook_max_attempts: 3\n",
        )
        .replace("mode: step", "mode: frozen");
    assert!(yaml.contains("webhook_max_attempts: 3"));
    let app = app_with(
        mock_server::MockServer::builder()
            .seed(7)
            .fixtures_yaml(yaml),
    )
    .await;
    let mut rx = Receiver::start(&[500, 503, 500, 500]).await;
    let endpoint = subscribe(&app, &rx.url(), SECRET, &["document.reviewed"]).await;
    approve(&app, REVIEW_DOC).await;
    let t0 = virtual_now(&app).await;
    app.advance("1s").await;
    app.advance("2s").await;
    let hits = rx.take(3).await;
    assert_eq!(
        hits.iter().map(Hit::at).collect::<Vec<_>>(),
        [t0, t0 + secs(1), t0 + secs(3)]
    );
    rx.assert_quiet(&app).await;
    let deliveries = settled_log(&app, &endpoint, 3).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        statuses(&deliveries[0]),
        [json!(500), json!(503), json!(500)],
        "three attempts, not the default six"
    );
    assert_eq!(deliveries[0]["state"], "failed");
}

#[tokio::test]
async fn respond_and_drop_faults_fail_attempts_and_the_retry_reaches_the_receiver() {
    let app = frozen_after_background().await;
    let mut rx = Receiver::start(&[]).await;
    let endpoint = subscribe(&app, &rx.url(), SECRET, &[]).await;
    add_fault(
        &app,
        json!({"api": "webhook", "method": "POST", "path": "/hooks/*",
               "event": "document.reviewed", "document_id": REVIEW_DOC,
               "times": 1, "respond": {"status": 502}}),
    )
    .await;
    add_fault(
        &app,
        json!({"api": "webhook", "times": 1, "drop_connection": true}),
    )
    .await;
    approve(&app, REVIEW_DOC).await;
    let t0 = virtual_now(&app).await;
    app.advance("1s").await;
    app.advance("2s").await;
    let hit = rx.next().await;
    assert_eq!(hit.kind(), "document.reviewed");
    assert_eq!(
        hit.at(),
        t0 + secs(3),
        "the third attempt is the first sent"
    );
    let deliveries = settled_log(&app, &endpoint, 3).await;
    let attempts = deliveries[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["status"], 502);
    assert_eq!(attempts[1]["status"], Value::Null);
    assert_eq!(attempts[1]["error"], "timeout");
    assert_eq!(attempts[2]["status"], 200);
    let faults = app.control("GET", "/faults", None).await.json();
    for rule in faults["data"].as_array().unwrap() {
        assert_eq!(rule["hits"], 1, "{rule}");
    }
    rx.assert_quiet(&app).await;
}

#[tokio::test]
async fn a_refused_connection_is_logged_and_retried() {
    let app = frozen().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let endpoint = subscribe(&app, &format!("http://{closed}/hook"), SECRET, &[]).await;
    approve(&app, REVIEW_DOC).await;
    let deliveries = settled_log(&app, &endpoint, 1).await;
    let first = &deliveries[0]["attempts"][0];
    assert_eq!(first["status"], Value::Null);
    assert_eq!(first["error"], "connection refused");
    app.advance("1s").await;
    let deliveries = settled_log(&app, &endpoint, 2).await;
    assert_eq!(deliveries[0]["attempts"][1]["error"], "connection refused");
}

#[tokio::test]
async fn endpoints_get_only_the_events_they_subscribe_to() {
    let app = frozen().await;
    let mut only_push = Receiver::start(&[]).await;
    let mut all = Receiver::start(&[]).await;
    let push_endpoint = subscribe(&app, &only_push.url(), SECRET, &["push.succeeded"]).await;
    subscribe(&app, &all.url(), "whsec_second", &[]).await;

    approve(&app, REVIEW_DOC).await;
    dispatch(&app, SEED_DOC).await;
    app.advance("2s").await;

    let hits = all.take(2).await;
    let kinds: Vec<String> = hits.iter().map(Hit::kind).collect();
    assert_eq!(kinds, ["document.reviewed", "push.succeeded"]);
    let now = virtual_now(&app).await;
    assert_eq!(verify_hit("whsec_second", &hits[0], now), Ok(()));
    assert!(
        verify_hit(SECRET, &hits[0], now).is_err(),
        "each endpoint its own secret"
    );

    // One lane per receiver, in order: a document.reviewed would have come first.
    let hit = only_push.next().await;
    assert_eq!(hit.kind(), "push.succeeded");
    assert_eq!(hit.json()["data"]["document_id"], SEED_DOC);
    assert_eq!(hit.json()["data"]["status"], "push_succeeded");
    assert_eq!(hit.id, hits[1].id, "one event, one id, for every endpoint");
    assert_eq!(verify_hit(SECRET, &hit, now), Ok(()));
    assert_eq!(log(&app, &push_endpoint).await.len(), 1);
    only_push.assert_quiet(&app).await;
}

#[tokio::test]
async fn a_duplicate_fault_delivers_the_same_signed_event_twice() {
    let app = frozen_after_background().await;
    let mut rx = Receiver::start(&[]).await;
    let endpoint = subscribe(&app, &rx.url(), SECRET, &[]).await;
    add_fault(
        &app,
        json!({"api": "webhook", "event": "document.reviewed", "times": 1, "duplicate": true}),
    )
    .await;
    approve(&app, REVIEW_DOC).await;
    let hits = rx.take(2).await;
    let now = virtual_now(&app).await;
    assert_eq!(hits[0].id, hits[1].id);
    assert_eq!(hits[0].timestamp, hits[1].timestamp);
    assert_eq!(hits[0].signature, hits[1].signature);
    assert_eq!(hits[0].body, hits[1].body);
    assert_eq!(verify_hit(SECRET, &hits[1], now), Ok(()));
    let deliveries = settled_log(&app, &endpoint, 2).await;
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[0]["event"], deliveries[1]["event"]);
    assert_ne!(deliveries[0]["id"], deliveries[1]["id"]);
    // `times: 1`: the next event is not duplicated.
    dispatch(&app, SEED_DOC).await;
    app.advance("2s").await;
    assert_eq!(rx.next().await.kind(), "push.succeeded");
    assert_eq!(settled_log(&app, &endpoint, 3).await.len(), 3);
    rx.assert_quiet(&app).await;
}

#[tokio::test]
async fn a_dataverse_429_emits_push_failed_and_run_failed() {
    let app = frozen().await;
    let mut rx = Receiver::start(&[]).await;
    subscribe(&app, &rx.url(), SECRET, &[]).await;
    add_fault(
        &app,
        json!({"api": "dataverse", "method": "POST", "entity_set": "otcm_inboundinvoices",
               "respond": {"status": 429}}),
    )
    .await;
    let run_id = dispatch(&app, SEED_DOC).await;
    app.advance("2s").await;
    let mut hits = rx.take(2).await;
    // The docs promise no total order: compare as a set.
    hits.sort_by_key(Hit::kind);
    let now = virtual_now(&app).await;
    let push = hits[0].json();
    let run = hits[1].json();
    assert_eq!(push["type"], "push.failed");
    assert_eq!(run["type"], "run.failed");
    for event in [&push, &run] {
        assert_eq!(event["data"]["document_id"], SEED_DOC);
        assert_eq!(event["data"]["schema"], "invoice_v2");
        assert_eq!(event["data"]["status"], "push_failed");
    }
    assert_eq!(run["data"]["run_id"], run_id.as_str());
    assert!(push["data"].get("run_id").is_none());
    assert_ne!(push["id"], run["id"]);
    for hit in &hits {
        assert_eq!(verify_hit(SECRET, hit, now), Ok(()));
    }
}

#[tokio::test]
async fn a_virtual_latency_fault_delays_one_event_behind_a_later_one() {
    let app = frozen().await;
    let mut rx = Receiver::start(&[]).await;
    let endpoint = subscribe(&app, &rx.url(), SECRET, &["push.failed", "run.failed"]).await;
    add_fault(
        &app,
        json!({"api": "dataverse", "method": "POST", "entity_set": "otcm_inboundinvoices",
               "respond": {"status": 429}}),
    )
    .await;
    add_fault(
        &app,
        json!({"api": "webhook", "event": "push.failed", "latency": {"virtual": "3s"}}),
    )
    .await;
    dispatch(&app, SEED_DOC).await;
    app.advance("2s").await;
    let first = rx.next().await;
    assert_eq!(first.kind(), "run.failed", "push.failed is held back");
    let held: Vec<Value> = log(&app, &endpoint)
        .await
        .into_iter()
        .filter(|d| d["event"]["type"] == "push.failed")
        .collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["attempts"], json!([]));

    app.advance("3s").await;
    let late = rx.next().await;
    assert_eq!(late.kind(), "push.failed");
    assert_eq!(late.at(), first.at() + secs(3));
    // The event keeps the instant it happened; the delivery is signed when sent.
    assert_eq!(late.json()["created_at"], first.json()["created_at"]);
    assert_eq!(verify_hit(SECRET, &late, virtual_now(&app).await), Ok(()));
}

#[tokio::test]
async fn a_document_lifecycle_emits_processing_review_reviewed_and_pushed() {
    let app = frozen().await;
    let mut rx = Receiver::start(&[]).await;
    subscribe(&app, &rx.url(), SECRET, &[]).await;

    let r = app
        .post(
            "/v1/documents",
            r#"{"schema":"invoice_v2","file_url":"https://example.com/invoice-webhooks.pdf"}"#,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let doc = r.json()["data"]["id"].as_str().unwrap().to_string();
    let mut hits = vec![rx.next_about(&doc).await];
    app.advance("5s").await;
    hits.push(rx.next_about(&doc).await);
    approve(&app, &doc).await;
    hits.push(rx.next_about(&doc).await);
    dispatch(&app, &doc).await;
    app.advance("2s").await;
    hits.push(rx.next_about(&doc).await);
    assert_eq!(app.status_of(&doc).await, "push_succeeded");

    let now = virtual_now(&app).await;
    let mut seen: Vec<(String, String)> = hits
        .iter()
        .map(|hit| {
            assert_eq!(verify_hit(SECRET, hit, now), Ok(()));
            let event = hit.json();
            assert_eq!(event["data"]["document_id"], doc.as_str());
            (
                event["type"].as_str().unwrap().to_string(),
                event["data"]["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("document.processing".to_string(), "processing".to_string()),
            ("document.review_required".into(), "review_required".into()),
            ("document.reviewed".into(), "reviewed".into()),
            ("push.succeeded".into(), "push_succeeded".into()),
        ]
    );
    let mut ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "every event has its own id");
}

#[tokio::test]
async fn the_route_era_notifies_the_shared_n8n_webhook_signed() {
    let app = frozen().await;
    let mut n8n = Receiver::start(&[500]).await;
    let settings = json!({
        "route": "n8n_executor",
        "n8n_webhook": {"url": format!("{}/webhook/numora-delivery", n8n.base), "secret": "n8n_secret"},
    })
    .to_string();
    let r = app.control("PATCH", "/settings", Some(&settings)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        !r.text.contains("n8n_secret"),
        "the secret leaked: {}",
        r.text
    );

    let run_id = dispatch(&app, SEED_DOC).await;
    // No further request: the notification goes out on its own.
    let hit = n8n.next().await;
    assert_eq!(hit.path, "/webhook/numora-delivery");
    let event = hit.json();
    assert_eq!(event["type"], "delivery.requested");
    assert_eq!(event["data"]["document_id"], SEED_DOC);
    assert_eq!(event["data"]["run_id"], run_id.as_str());
    assert_eq!(event["data"]["provider"], "dynamics365");
    assert_eq!(hit.id, event["id"].as_str().unwrap());
    let now = virtual_now(&app).await;
    assert_eq!(verify_hit("n8n_secret", &hit, now), Ok(()));
    assert_eq!(app.status_of(SEED_DOC).await, "push_pending");

    // Answered 500: retried one virtual second later, like any endpoint.
    app.advance("1s").await;
    let retry = n8n.next().await;
    assert_eq!(retry.id, hit.id);
    assert_eq!(retry.at(), hit.at() + secs(1));
    let deliveries = settled_log(&app, "n8n", 2).await;
    assert_eq!(statuses(&deliveries[0]), [json!(500), json!(200)]);
}

/// `sign_with` and `backdate` tamper with one delivery; a receiver that
/// answers 2xx to it is judged, one that verifies (401) is not.
#[tokio::test]
async fn receivers_that_accept_bad_signatures_or_stale_timestamps_are_judged() {
    let cases = [
        (
            json!({"sign_with": "other-secret"}),
            "invalid_signature_accepted",
        ),
        (json!({"backdate": "1h"}), "stale_webhook_accepted"),
    ];
    for (action, rule) in cases {
        for verifying in [false, true] {
            let app = frozen().await;
            let now = virtual_now(&app).await;
            let mut rx = if verifying {
                Receiver::verifying(SECRET, now).await
            } else {
                Receiver::start(&[]).await
            };
            let endpoint = subscribe(&app, &rx.url(), SECRET, &["document.reviewed"]).await;
            let mut fault = json!({"api": "webhook", "event": "document.reviewed", "times": 1});
            fault
                .as_object_mut()
                .unwrap()
                .extend(action.as_object().unwrap().clone());
            add_fault(&app, fault).await;
            approve(&app, REVIEW_DOC).await;
            let hit = rx.next_about(REVIEW_DOC).await;
            assert!(
                verify_hit(SECRET, &hit, now).is_err(),
                "{rule}: the delivery was tampered with"
            );
            let deliveries = settled_log(&app, &endpoint, 1).await;
            let expected = if verifying { 401 } else { 200 };
            assert_eq!(statuses(&deliveries[0]), [json!(expected)]);
            let v = app.control("GET", "/verdicts", None).await.json();
            let found: Vec<&Value> = v["data"]["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["rule"] == rule)
                .collect();
            if verifying {
                assert!(found.is_empty(), "{rule}: {found:?}");
            } else {
                assert_eq!(found.len(), 1, "{rule}: {v}");
                assert_eq!(found[0]["severity"], "error");
                assert_eq!(found[0]["document_id"], REVIEW_DOC);
                let seq = found[0]["evidence"][0].clone();
                let journal = app
                    .control("GET", "/journal?api=webhook", None)
                    .await
                    .json();
                let entry = journal["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["seq"] == seq)
                    .cloned()
                    .expect("the evidence is a journaled delivery");
                assert_eq!(entry["status"], 200);
                assert_eq!(entry["path"], "/hooks/numora");
            }
        }
    }
}
