//! Webhook endpoints and deliveries (seed 003, DESIGN §4.8).
//!
//! An event emitted at a transition becomes one delivery per subscribed
//! endpoint. Attempts are scheduler jobs on the virtual clock: a due attempt
//! is decided under the workspace lock (fault rules, signature, in-flight
//! mark) and handed to the background sender, which POSTs it without any lock
//! held, then locks the workspace again to record the outcome and schedule
//! the retry (1 s, 2 s, 4 s … after the failed attempt's virtual instant).
//! A workspace without a sender (router-level tests) only queues.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::call::Call;
use crate::fault_pipeline::{self, FaultAction, FaultDialect, Step};
use crate::world::faults::{FaultApi, FaultTarget, Respond};
use crate::world::hooks::{DeliveryAttempt, DeliveryState, Message, Outgoing};
use crate::world::journal::JournalEntry;
use crate::world::model::{Attempt, AttemptSource, DeliveryData};
use crate::world::time::{format_millis, Millis};
use crate::world::workspace::{Job, Workspace};
use crate::world::{lock, Registry};

/// Header names of a delivery.
pub(crate) const HEADER_ID: &str = "X-Numora-Webhook-Id";
pub(crate) const HEADER_TIMESTAMP: &str = "X-Numora-Webhook-Timestamp";
pub(crate) const HEADER_SIGNATURE: &str = "X-Numora-Webhook-Signature";

/// `lowercase hex HMAC-SHA256(secret, "<timestamp>.<raw body>")`
pub(crate) fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The `X-Numora-Webhook-Signature` value: `t=<timestamp>,v1=<signature>`.
pub(crate) fn signature_header(secret: &str, timestamp: &str, body: &str) -> String {
    format!("t={timestamp},v1={}", sign(secret, timestamp, body))
}

/// Tokens of in-flight attempts; unique in the process, so an outcome that
/// comes back after a reset never lands on a new delivery with the same id.
fn next_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The path of a URL (what `path` of a webhook fault rule matches).
fn url_path(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| "/".into())
}

/// When retry `n` (1-based: the attempt after `n` failures) is due.
fn backoff(last_at: Millis, failures: usize) -> Millis {
    let exponent = failures.saturating_sub(1).min(30) as u32;
    last_at.saturating_add(1000_i64 << exponent)
}

/// Emits a webhook event for a document (the world queues its deliveries)
/// and makes the attempts that are due already, before the caller goes on.
pub(crate) fn emit(
    ws: &mut Workspace,
    kind: &str,
    document_id: &str,
    at: Millis,
    run_id: Option<&str>,
) {
    ws.add_event(kind, document_id, at, run_id);
    attempt_ready(ws);
}

/// Records a delivery attempt on a document (see `Workspace::add_attempt`)
/// and makes the attempts of the event it emits that are due already.
pub(crate) fn record_attempt(
    ws: &mut Workspace,
    document_id: &str,
    data: DeliveryData,
    source: AttemptSource,
    run_id: Option<String>,
    at: Millis,
) -> Option<Attempt> {
    let attempt = ws.add_attempt(document_id, data, source, run_id, at);
    attempt_ready(ws);
    attempt
}

/// Makes the attempts the world queued as due already, in the order queued.
pub(crate) fn attempt_ready(ws: &mut Workspace) {
    for (at, job) in ws.take_ready() {
        match job {
            Job::DeliverWebhook { delivery_id } => attempt_due(ws, &delivery_id, at),
            // Only deliveries are queued as due already; anything else waits
            // for the scheduler like every other job.
            other => ws.scheduler.schedule(at, other),
        }
    }
}

/// How a fault answers for a webhook delivery: the attempt is recorded with
/// the rule's status, or as timed out when the connection drops.
struct WebhookFaults;

impl FaultDialect for WebhookFaults {
    /// (status, error) of the attempt.
    type Answer = (Option<u16>, Option<String>);

    fn respond(&self, respond: &Respond) -> Self::Answer {
        (Some(respond.status), None)
    }

    fn dropped(&self) -> Self::Answer {
        (None, Some("timeout".to_string()))
    }
}

/// A delivery attempt is due at `at` (a `Job::DeliverWebhook`, or an event
/// emitted for now). Runs under the workspace lock; never waits on I/O.
pub(crate) fn attempt_due(ws: &mut Workspace, delivery_id: &str, at: Millis) {
    let Some(link) = ws.webhooks.link.clone() else {
        return; // no sender: the delivery stays queued
    };
    let Some(d) = ws.webhooks.deliveries.get_mut(delivery_id) else {
        return;
    };
    if d.state != DeliveryState::Pending || d.in_flight.is_some() {
        return;
    }
    let fault = match d.held.take() {
        Some((id, spec)) => Some(FaultAction::new(id, spec)),
        None => {
            let path = url_path(&d.url);
            let target = FaultTarget {
                method: "POST",
                path: &path,
                event: d.event["type"].as_str(),
                document_id: d.event["data"]["document_id"].as_str(),
                ..FaultTarget::default()
            };
            let hit = fault_pipeline::matching(&mut ws.faults, FaultApi::Webhook, &target);
            if let Some(action) = hit {
                // Latency holds the attempt: it is made that much later.
                let latency = action.latency();
                if latency > 0 {
                    d.held = Some(action.without_latency().into_parts());
                    ws.scheduler.schedule(
                        at + latency,
                        Job::DeliverWebhook {
                            delivery_id: delivery_id.to_string(),
                        },
                    );
                    return;
                }
                Some(action)
            } else {
                None
            }
        }
    };
    let copy = match &fault {
        Some(action) if action.duplicate() && d.attempts.is_empty() && d.copy_of.is_none() => {
            let mut copy = d.clone();
            copy.held = Some(action.for_copy().into_parts());
            copy.copy_of = Some(delivery_id.to_string());
            Some(copy)
        }
        _ => None,
    };
    d.last_at = at;
    let signing = fault_pipeline::signing(fault.as_ref(), at, &d.secret);
    let answered = match fault.as_ref().map(|f| f.step(&WebhookFaults)) {
        Some(Step::Answer(outcome)) => Some(outcome),
        _ => None,
    };
    d.attempts.push(DeliveryAttempt {
        at: format_millis(at),
        status: None,
        error: None,
    });
    match answered {
        Some((status, error)) => conclude(ws, delivery_id, status, error),
        None => {
            let token = next_token();
            d.in_flight = Some(token);
            let outgoing = Outgoing {
                workspace: link.workspace.clone(),
                delivery_id: delivery_id.to_string(),
                token,
                url: d.url.clone(),
                event_id: d.event["id"].as_str().unwrap_or_default().to_string(),
                signature: signature_header(&signing.secret, &signing.timestamp, &d.body),
                timestamp: signing.timestamp,
                body: d.body.clone(),
                timeout: Duration::from_millis(ws.settings.webhook_timeout.max(1) as u64),
                tampered: signing.tampered,
                sent_wall: ws.wall.now_ms().saturating_sub(ws.began),
            };
            if link.tx.send(Message::Send(outgoing)).is_err() {
                // The sender is gone (the server is stopping): back to queued.
                d.in_flight = None;
                d.attempts.pop();
            }
        }
    }
    if let Some(mut copy) = copy {
        copy.id = ws.ids.prefixed("whd_", at);
        let copy_id = copy.id.clone();
        ws.webhooks.deliveries.insert(copy_id.clone(), copy);
        attempt_due(ws, &copy_id, at);
    }
}

/// Records the outcome of a delivery's latest attempt: 2xx delivers; anything
/// else schedules the next attempt on the virtual clock, or fails the delivery
/// once `webhook_max_attempts` attempts were made.
fn conclude(ws: &mut Workspace, delivery_id: &str, status: Option<u16>, error: Option<String>) {
    let max_attempts = ws.settings.webhook_max_attempts.max(1) as usize;
    let Some(d) = ws.webhooks.deliveries.get_mut(delivery_id) else {
        return;
    };
    d.in_flight = None;
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    if let Some(last) = d.attempts.last_mut() {
        last.status = status;
        last.error = error;
    }
    if ok {
        d.state = DeliveryState::Delivered;
    } else if d.attempts.len() >= max_attempts {
        d.state = DeliveryState::Failed;
    } else {
        let due = backoff(d.last_at, d.attempts.len());
        ws.scheduler.schedule(
            due,
            Job::DeliverWebhook {
                delivery_id: delivery_id.to_string(),
            },
        );
    }
}

/// How the sender runs a workspace's due work (the driver's `run_due`,
/// passed in so this engine does not depend on the layer that calls it).
pub(crate) type RunDue = fn(&mut Workspace);

/// Starts the background sender for every workspace of `registry`, present
/// and future (the registry hands the channel to workspaces it builds).
pub(crate) fn start(registry: &Arc<Registry>, run_due: RunDue) -> tokio::task::JoinHandle<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = registry.webhook_sender.set(tx.clone());
    let tx = registry.webhook_sender.get().cloned().unwrap_or(tx);
    for id in registry.workspace_ids() {
        if let Some(ws) = registry.workspace(&id) {
            lock(&ws).webhooks.attach(&id, Some(&tx));
        }
    }
    drop(tx);
    tokio::spawn(dispatch(Arc::downgrade(registry), rx, run_due))
}

/// Receives attempts and sends each on its destination's lane: one lane per
/// URL, so deliveries to one receiver arrive in the order they were made and
/// a slow receiver never holds up another.
async fn dispatch(
    registry: Weak<Registry>,
    mut rx: mpsc::UnboundedReceiver<Message>,
    run_due: RunDue,
) {
    let client = reqwest::Client::new();
    let mut lanes: HashMap<String, mpsc::UnboundedSender<Outgoing>> = HashMap::new();
    while let Some(message) = rx.recv().await {
        match message {
            Message::Kick(workspace) => {
                let Some(registry) = registry.upgrade() else {
                    return;
                };
                if let Some(ws) = registry.workspace(&workspace) {
                    run_due(&mut lock(&ws));
                }
            }
            Message::Send(outgoing) => {
                let lane = lanes.entry(outgoing.url.clone()).or_insert_with(|| {
                    let (tx, rx) = mpsc::unbounded_channel();
                    tokio::spawn(lane(client.clone(), registry.clone(), rx, run_due));
                    tx
                });
                let _ = lane.send(outgoing);
            }
        }
    }
}

async fn lane(
    client: reqwest::Client,
    registry: Weak<Registry>,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    run_due: RunDue,
) {
    while let Some(outgoing) = rx.recv().await {
        let (status, error) = post(&client, &outgoing).await;
        let Some(registry) = registry.upgrade() else {
            return;
        };
        let Some(shared) = registry.workspace(&outgoing.workspace) else {
            continue;
        };
        let mut ws = lock(&shared);
        let current = ws
            .webhooks
            .deliveries
            .get(&outgoing.delivery_id)
            .is_some_and(|d| d.in_flight == Some(outgoing.token));
        if current {
            journal(&mut ws, &outgoing, status);
            conclude(&mut ws, &outgoing.delivery_id, status, error);
            // A retry may already be due (the clock moved while we sent).
            run_due(&mut ws);
        }
    }
}

/// Journals an attempt the sender made, with the receiver's answer (`status`
/// `None`: no answer, journaled as 0) and how a fault tampered with it.
fn journal(ws: &mut Workspace, o: &Outgoing, status: Option<u16>) {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("content-type", "application/json"),
        ("x-numora-webhook-id", o.event_id.as_str()),
        ("x-numora-webhook-timestamp", o.timestamp.as_str()),
        ("x-numora-webhook-signature", o.signature.as_str()),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    let call = Call {
        method: Method::POST,
        path: url_path(&o.url),
        query: None,
        headers,
        body: o.body.clone().into(),
        origin: String::new(),
    };
    let entry = JournalEntry {
        tampered: o.tampered,
        ..JournalEntry::of(
            "webhook",
            &call,
            "POST (webhook endpoint)",
            status.unwrap_or(0),
        )
        .received(o.sent_wall)
    };
    ws.log_call(entry);
}

async fn post(client: &reqwest::Client, o: &Outgoing) -> (Option<u16>, Option<String>) {
    let sent = client
        .post(&o.url)
        .timeout(o.timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(HEADER_ID, &o.event_id)
        .header(HEADER_TIMESTAMP, &o.timestamp)
        .header(HEADER_SIGNATURE, &o.signature)
        .body(o.body.clone())
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            // Read the answer so the connection can be reused; its content does not matter.
            match response.bytes().await {
                Err(e) if e.is_timeout() => (None, Some("timeout".into())),
                _ => (Some(status), None),
            }
        }
        Err(e) if e.is_timeout() => (None, Some("timeout".into())),
        Err(e) if e.is_connect() => (None, Some("connection refused".into())),
        Err(_) => (None, Some("request failed".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_dot_body() {
        // Expected value computed independently with
        // `printf '%s' '<timestamp>.<body>' | openssl dgst -sha256 -hmac whsec_test`.
        assert_eq!(
            sign("whsec_test", "2026-03-21T14:24:11Z", r#"{"id":"evt_1"}"#),
            "51d69fa24329fb751b5752cad9bd25a5c2f96ac57f4d3253faf6a6df1ccd4a3e"
        );
        assert_ne!(
            sign("whsec_test", "2026-03-21T14:24:12Z", r#"{"id":"evt_1"}"#),
            sign("whsec_test", "2026-03-21T14:24:11Z", r#"{"id":"evt_1"}"#)
        );
        assert_eq!(
            signature_header("k", "t0", "b"),
            format!("t=t0,v1={}", sign("k", "t0", "b"))
        );
    }

    #[test]
    fn backoff_doubles_from_one_second() {
        assert_eq!(backoff(10_000, 1), 11_000);
        assert_eq!(backoff(11_000, 2), 13_000);
        assert_eq!(backoff(13_000, 3), 17_000);
    }
}
