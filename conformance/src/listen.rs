//! `conformance listen`: a webhook receiver that checks what it receives.
//!
//! Each delivery is verified as the Webhooks page tells consumers to:
//! the `X-Numora-Webhook-Signature` header is `t=<timestamp>,v1=<hex>` where
//! `<hex>` is HMAC-SHA256 of `"<timestamp>.<raw body>"` under the endpoint
//! secret; the timestamp (`X-Numora-Webhook-Timestamp`, RFC 3339 without
//! fraction) must match `t` and be within the tolerance of now; the
//! `X-Numora-Webhook-Id` must be the body's `id`. Repeated ids are flagged
//! as duplicates (delivery is at least once), not rejected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::cli::ListenArgs;
use crate::error::{UsageError, EXIT_OK};

/// How to judge and answer deliveries.
#[derive(Debug, Clone)]
pub(crate) struct ListenConfig {
    pub secret: String,
    pub status: u16,
    pub fail_first: u32,
    pub fail_status: u16,
    /// Answers by arrival count of an event id: the n-th request carrying
    /// one id gets `respond[n-1]`, the last entry repeats. When set, it
    /// replaces `status`/`fail_first` (a scenario's receiver uses it to
    /// fail each event's first attempts, so that retries must come).
    pub respond: Vec<u16>,
    /// Seconds; 0 turns the timestamp-age check off.
    pub tolerance: u64,
    /// A fixed "now" (tests, or a fake on a virtual clock).
    pub now: Option<OffsetDateTime>,
}

/// The judgement on one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "detail", rename_all = "snake_case")]
pub(crate) enum Verdict {
    Valid,
    MissingHeader(String),
    MalformedSignatureHeader(String),
    TimestampMismatch(String),
    BadTimestamp(String),
    StaleTimestamp(String),
    BadSignature,
    IdMismatch(String),
}

impl Verdict {
    pub(crate) fn is_valid(&self) -> bool {
        *self == Verdict::Valid
    }
}

/// Where "now" comes from when a delivery is judged: a fake on a virtual
/// clock signs with its own time, so a scenario's receiver reads that clock.
/// It is given the delivery's own timestamp (when it parses), since a clock
/// that jumps can only bound the instant of an attempt made during the jump.
/// `None` falls back to the configured or wall clock.
pub(crate) type NowSource =
    Arc<dyn Fn(Option<OffsetDateTime>) -> BoxFuture<'static, Option<OffsetDateTime>> + Send + Sync>;

/// One received delivery and what was answered.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Received {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub timestamp: Option<String>,
    #[serde(flatten)]
    pub verdict: Verdict,
    pub duplicate: bool,
    pub answered: u16,
    /// The request's headers, for judging the delivery again (a tampered
    /// copy, a later "now").
    #[serde(skip)]
    pub headers: HeaderMap,
    /// The raw body, byte for byte.
    #[serde(skip)]
    pub raw_body: Bytes,
    /// The body as JSON, when it is JSON.
    #[serde(skip)]
    pub body: Option<Value>,
    /// The "now" the verdict was given at.
    #[serde(skip)]
    pub judged_at: Option<OffsetDateTime>,
}

/// The hex HMAC-SHA256 of `"<timestamp>.<body>"`, as Numora signs.
#[cfg(test)]
pub(crate) fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn header<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Judge one delivery.
pub(crate) fn verify(
    cfg: &ListenConfig,
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
) -> Verdict {
    let id_name = "x-numora-webhook-id";
    let ts_name = "x-numora-webhook-timestamp";
    let sig_name = "x-numora-webhook-signature";
    let Some(id) = header(headers, id_name) else {
        return Verdict::MissingHeader(id_name.into());
    };
    let Some(ts) = header(headers, ts_name) else {
        return Verdict::MissingHeader(ts_name.into());
    };
    let Some(sig) = header(headers, sig_name) else {
        return Verdict::MissingHeader(sig_name.into());
    };
    let mut t = None;
    let mut v1 = Vec::new();
    for part in sig.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v),
            Some(("v1", v)) => v1.push(v),
            _ => {}
        }
    }
    let (Some(t), false) = (t, v1.is_empty()) else {
        return Verdict::MalformedSignatureHeader(format!(
            "expected t=<timestamp>,v1=<hex>, got `{sig}`"
        ));
    };
    if t != ts {
        return Verdict::TimestampMismatch(format!("signature t={t} but {ts_name}: {ts}"));
    }
    let parsed = match OffsetDateTime::parse(ts, &Rfc3339) {
        Ok(p) => p,
        Err(e) => return Verdict::BadTimestamp(format!("`{ts}` is not RFC 3339: {e}")),
    };
    if parsed.nanosecond() != 0 || ts.contains('.') {
        return Verdict::BadTimestamp(format!(
            "`{ts}` has a fraction; webhook timestamps have none"
        ));
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(cfg.secret.as_bytes()) else {
        return Verdict::BadSignature;
    };
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let ok = v1
        .iter()
        .filter_map(|h| hex::decode(h).ok())
        .any(|bytes| mac.clone().verify_slice(&bytes).is_ok());
    if !ok {
        return Verdict::BadSignature;
    }
    if cfg.tolerance > 0 {
        let age = (now - parsed).whole_seconds().unsigned_abs();
        if age > cfg.tolerance {
            return Verdict::StaleTimestamp(format!(
                "{ts} is {age}s from now, beyond the {}s tolerance",
                cfg.tolerance
            ));
        }
    }
    let body_id = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned));
    if body_id.as_deref() != Some(id) {
        return Verdict::IdMismatch(format!("header id {id} but body id {body_id:?}"));
    }
    Verdict::Valid
}

/// The wall clock, for the timestamp-age check of a real deployment. The
/// workspace bans direct clock reads so that nothing non-deterministic
/// reaches the fake's responses; this receiver answers no API call.
fn wall_now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Arrivals per event id, and valid deliveries answered so far.
#[derive(Default)]
struct Seen {
    per_id: HashMap<String, usize>,
    valid: u32,
}

struct ListenState {
    cfg: ListenConfig,
    seen: Mutex<Seen>,
    sink: mpsc::UnboundedSender<Received>,
    clock: Option<NowSource>,
}

async fn receive(
    State(state): State<Arc<ListenState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let from_source = match &state.clock {
        Some(source) => {
            let stamped = header(&headers, "x-numora-webhook-timestamp")
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
            source(stamped).await
        }
        None => None,
    };
    let now = from_source.or(state.cfg.now).unwrap_or_else(wall_now);
    let verdict = verify(&state.cfg, &headers, &body, now);
    let id = header(&headers, "x-numora-webhook-id").map(str::to_owned);
    let (duplicate, answered) = {
        let mut seen = state.seen.lock().unwrap_or_else(|p| p.into_inner());
        let arrivals = match &id {
            Some(i) => {
                let n = seen.per_id.entry(i.clone()).or_default();
                *n += 1;
                *n
            }
            None => 1,
        };
        let duplicate = arrivals > 1;
        let answered = match &verdict {
            Verdict::Valid if !state.cfg.respond.is_empty() => {
                let r = &state.cfg.respond;
                r[(arrivals - 1).min(r.len() - 1)]
            }
            Verdict::Valid if seen.valid < state.cfg.fail_first => {
                seen.valid += 1;
                state.cfg.fail_status
            }
            Verdict::Valid => state.cfg.status,
            Verdict::MissingHeader(_)
            | Verdict::MalformedSignatureHeader(_)
            | Verdict::BadTimestamp(_) => 400,
            _ => 401,
        };
        (duplicate, answered)
    };
    let body_json: Option<Value> = serde_json::from_slice(&body).ok();
    let _ = state.sink.send(Received {
        id,
        event_type: body_json
            .as_ref()
            .and_then(|v| v["type"].as_str().map(str::to_owned)),
        timestamp: header(&headers, "x-numora-webhook-timestamp").map(str::to_owned),
        verdict,
        duplicate,
        answered,
        headers,
        raw_body: body,
        body: body_json,
        judged_at: Some(now),
    });
    StatusCode::from_u16(answered).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Serve on `listener` until the task is dropped; each delivery is sent to
/// `sink` after it is answered.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    cfg: ListenConfig,
    sink: mpsc::UnboundedSender<Received>,
) -> std::io::Result<()> {
    serve_with(listener, cfg, sink, None).await
}

/// [`serve`], judging timestamps against `clock` (a scenario's receiver
/// reads the fake's virtual clock).
pub(crate) async fn serve_with(
    listener: tokio::net::TcpListener,
    cfg: ListenConfig,
    sink: mpsc::UnboundedSender<Received>,
    clock: Option<NowSource>,
) -> std::io::Result<()> {
    let state = Arc::new(ListenState {
        cfg,
        seen: Mutex::new(Seen::default()),
        sink,
        clock,
    });
    let app = axum::Router::new()
        .fallback(axum::routing::any(receive))
        .with_state(state);
    axum::serve(listener, app).await
}

/// One line per delivery.
pub(crate) fn describe(r: &Received) -> String {
    let verdict = match &r.verdict {
        Verdict::Valid => "valid".to_owned(),
        other => match serde_json::to_value(other) {
            Ok(v) => format!(
                "REJECTED {}{}",
                v["verdict"].as_str().unwrap_or_default(),
                v["detail"]
                    .as_str()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
            Err(_) => "REJECTED".to_owned(),
        },
    };
    format!(
        "{} {} {} -> {}{}  {verdict}",
        r.timestamp.as_deref().unwrap_or("-"),
        r.id.as_deref().unwrap_or("-"),
        r.event_type.as_deref().unwrap_or("-"),
        r.answered,
        if r.duplicate { " (duplicate)" } else { "" },
    )
}

pub(crate) fn command(args: &ListenArgs) -> Result<u8, UsageError> {
    let now = args
        .now
        .as_deref()
        .map(|n| {
            OffsetDateTime::parse(n, &Rfc3339).map_err(|e| UsageError(format!("--now `{n}`: {e}")))
        })
        .transpose()?;
    for s in [args.status, args.fail_status] {
        if StatusCode::from_u16(s).is_err() {
            return Err(UsageError(format!("{s} is not an HTTP status")));
        }
    }
    let cfg = ListenConfig {
        secret: args.secret.clone(),
        status: args.status,
        fail_first: args.fail_first,
        fail_status: args.fail_status,
        respond: Vec::new(),
        tolerance: args.tolerance,
        now,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(e.to_string()))?;
    let json = args.json;
    let max = args.max_events;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.bind.as_str(), args.port))
            .await
            .map_err(|e| {
                UsageError(format!("cannot listen on {}:{}: {e}", args.bind, args.port))
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| UsageError(e.to_string()))?;
        println!("listening on http://{addr}");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let server = tokio::spawn(serve(listener, cfg, tx));
        let mut count = 0u64;
        while let Some(r) = rx.recv().await {
            if json {
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
            } else {
                println!("{}", describe(&r));
            }
            count += 1;
            if max.is_some_and(|m| count >= m) {
                break;
            }
        }
        server.abort();
        Ok(EXIT_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use time::macros::datetime;

    fn cfg() -> ListenConfig {
        ListenConfig {
            secret: "whsec_test".into(),
            status: 200,
            fail_first: 0,
            fail_status: 503,
            respond: Vec::new(),
            tolerance: 300,
            now: None,
        }
    }

    fn signed(body: &str, ts: &str, secret: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-numora-webhook-id", HeaderValue::from_static("evt_1"));
        h.insert(
            "x-numora-webhook-timestamp",
            HeaderValue::from_str(ts).unwrap(),
        );
        let sig = format!("t={ts},v1={}", sign(secret, ts, body.as_bytes()));
        h.insert(
            "x-numora-webhook-signature",
            HeaderValue::from_str(&sig).unwrap(),
        );
        h
    }

    #[test]
    fn accepts_a_good_delivery_and_rejects_each_defect() {
        let body = r#"{"id":"evt_1","type":"push.failed"}"#;
        let ts = "2026-03-21T14:24:11Z";
        let now = datetime!(2026-03-21 14:25:00 UTC);
        let h = signed(body, ts, "whsec_test");
        assert_eq!(verify(&cfg(), &h, body.as_bytes(), now), Verdict::Valid);
        let other_secret = signed(body, ts, "nope");
        assert_eq!(
            verify(&cfg(), &other_secret, body.as_bytes(), now),
            Verdict::BadSignature
        );
        assert_eq!(
            verify(
                &cfg(),
                &h,
                br#"{"id":"evt_1","type":"push.succeeded"}"#,
                now
            ),
            Verdict::BadSignature
        );
        let late = datetime!(2026-03-21 15:00:00 UTC);
        assert!(matches!(
            verify(&cfg(), &h, body.as_bytes(), late),
            Verdict::StaleTimestamp(_)
        ));
        let mut no_id = h.clone();
        no_id.remove("x-numora-webhook-id");
        assert!(matches!(
            verify(&cfg(), &no_id, body.as_bytes(), now),
            Verdict::MissingHeader(_)
        ));
        let frac = signed(body, "2026-03-21T14:24:11.000Z", "whsec_test");
        assert!(matches!(
            verify(&cfg(), &frac, body.as_bytes(), now),
            Verdict::BadTimestamp(_)
        ));
    }

    #[tokio::test]
    async fn serves_verdicts_and_flags_duplicates() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut c = cfg();
        c.now = Some(datetime!(2026-03-21 14:24:12 UTC));
        c.fail_first = 1;
        let server = tokio::spawn(serve(listener, c, tx));
        let body = r#"{"id":"evt_1","type":"document.reviewed"}"#;
        let ts = "2026-03-21T14:24:11Z";
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        for secret in ["whsec_test", "whsec_test", "wrong"] {
            let h = signed(body, ts, secret);
            let resp = client
                .post(format!("http://{addr}/hook"))
                .headers(h)
                .body(body)
                .send()
                .await
                .unwrap();
            statuses.push(resp.status().as_u16());
        }
        assert_eq!(statuses, vec![503, 200, 401]);
        let first = rx.recv().await.unwrap();
        let second = rx.recv().await.unwrap();
        let third = rx.recv().await.unwrap();
        assert!(first.verdict.is_valid() && !first.duplicate);
        assert!(second.duplicate);
        assert_eq!(third.verdict, Verdict::BadSignature);
        assert!(describe(&third).contains("REJECTED bad_signature"));
        server.abort();
    }

    #[tokio::test]
    async fn answers_per_event_id_and_judges_with_the_given_clock() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut c = cfg();
        c.respond = vec![500, 200];
        // The wall clock is years away; the source says it is 1 s later.
        let clock: NowSource =
            Arc::new(|_| Box::pin(async { Some(datetime!(2026-03-21 14:24:12 UTC)) }));
        let server = tokio::spawn(serve_with(listener, c, tx, Some(clock)));
        let client = reqwest::Client::new();
        let ts = "2026-03-21T14:24:11Z";
        let mut statuses = Vec::new();
        for id in ["evt_1", "evt_2", "evt_1", "evt_1"] {
            let body = format!(r#"{{"id":"{id}","type":"document.reviewed"}}"#);
            let mut h = signed(&body, ts, "whsec_test");
            h.insert("x-numora-webhook-id", HeaderValue::from_str(id).unwrap());
            let resp = client
                .post(format!("http://{addr}/hook"))
                .headers(h)
                .body(body)
                .send()
                .await
                .unwrap();
            statuses.push(resp.status().as_u16());
        }
        assert_eq!(statuses, vec![500, 500, 200, 200]);
        let first = rx.recv().await.unwrap();
        assert!(first.verdict.is_valid(), "{first:?}");
        assert_eq!(first.judged_at, Some(datetime!(2026-03-21 14:24:12 UTC)));
        assert_eq!(first.body.as_ref().unwrap()["id"], "evt_1");
        server.abort();
    }
}
