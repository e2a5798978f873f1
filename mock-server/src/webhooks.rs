//! Webhook endpoints and deliveries (seed 003, DESIGN §4.8).
//!
//! An event emitted at a transition becomes one delivery per subscribed
//! endpoint. Attempts are scheduler jobs on the virtual clock: a due attempt
//! is decided under the workspace lock (fault rules, signature, in-flight
//! mark) and handed to the background sender, which POSTs it without any lock
//! held, then locks the workspace again to record the outcome and schedule
//! the retry (1 s, 2 s, 4 s … after the failed attempt's virtual instant).
//! A workspace without a sender (router-level tests) only queues.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::world::faults::{FaultApi, FaultSpec, FaultTarget};
use crate::world::ids::IdGen;
use crate::world::time::{format_millis, format_seconds, Millis};
use crate::world::workspace::{Event, Job, Workspace};
use crate::world::{lock, Registry};

/// Header names of a delivery.
pub const HEADER_ID: &str = "X-Numora-Webhook-Id";
pub const HEADER_TIMESTAMP: &str = "X-Numora-Webhook-Timestamp";
pub const HEADER_SIGNATURE: &str = "X-Numora-Webhook-Signature";

/// The endpoint id of the route era's shared n8n webhook.
pub const N8N_ENDPOINT: &str = "n8n";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub url: String,
    pub secret: String,
    /// Event types to send; empty means all.
    #[serde(default)]
    pub events: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub spec: EndpointSpec,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryAttempt {
    pub at: String,
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event: Value,
    pub attempts: Vec<DeliveryAttempt>,
    pub state: DeliveryState,
    url: String,
    secret: String,
    /// The raw body, serialized once so every attempt signs the same bytes.
    body: String,
    /// The virtual instant of the latest attempt.
    last_at: Millis,
    /// The token of the attempt the sender is working on.
    in_flight: Option<u64>,
    /// The fault rule already chosen for the next attempt (after its latency).
    held: Option<FaultSpec>,
    /// Set on the second copy a `duplicate` fault makes.
    copy_of: Option<String>,
}

impl Delivery {
    /// The control API's view (`GET /_mock/workspaces/{ws}/webhooks/deliveries`).
    /// Never contains the secret.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "endpoint_id": self.endpoint_id,
            "event": self.event,
            "attempts": self.attempts,
            "state": self.state,
        })
    }

    fn new(id: String, endpoint_id: String, event: Value, url: String, secret: String) -> Self {
        let body = serde_json::to_string(&event).unwrap_or_default();
        Delivery {
            id,
            endpoint_id,
            event,
            attempts: Vec::new(),
            state: DeliveryState::Pending,
            url,
            secret,
            body,
            last_at: 0,
            in_flight: None,
            held: None,
            copy_of: None,
        }
    }
}

/// Where a workspace hands attempts to the background sender.
#[derive(Debug, Clone)]
pub struct Link {
    workspace: String,
    tx: mpsc::UnboundedSender<Message>,
}

#[derive(Debug, Clone, Default)]
pub struct Webhooks {
    pub endpoints: Vec<Endpoint>,
    pub deliveries: BTreeMap<String, Delivery>,
    /// The background sender; `None` means deliveries only queue.
    pub link: Option<Link>,
}

/// A request the background sender makes.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub workspace: String,
    pub delivery_id: String,
    token: u64,
    pub url: String,
    pub event_id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub timeout: Duration,
    /// How a fault tampered with this attempt (journaled with its answer).
    pub tampered: Option<crate::world::journal::Tampered>,
    /// Wall ms (since the workspace began) when the attempt was handed over.
    pub sent_wall: u64,
}

/// What the workspaces tell the background sender.
#[derive(Debug, Clone)]
pub enum Message {
    /// POST this attempt.
    Send(Outgoing),
    /// Run the due jobs of this workspace (a delivery was queued for now
    /// outside a request's own drain).
    Kick(String),
}

/// `lowercase hex HMAC-SHA256(secret, "<timestamp>.<raw body>")`
pub fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The `X-Numora-Webhook-Signature` value: `t=<timestamp>,v1=<signature>`.
pub fn signature_header(secret: &str, timestamp: &str, body: &str) -> String {
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

impl Webhooks {
    pub fn add_endpoint_json(
        &mut self,
        spec: Value,
        ids: &mut IdGen,
        now: Millis,
    ) -> Result<&Endpoint, String> {
        let spec: EndpointSpec = serde_json::from_value(spec).map_err(|e| e.to_string())?;
        match reqwest::Url::parse(&spec.url) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
            _ => return Err(format!("url: '{}' is not an http(s) URL", spec.url)),
        }
        let id = spec.id.clone().unwrap_or_else(|| ids.prefixed("whe_", now));
        self.endpoints.push(Endpoint { id, spec });
        Ok(self.endpoints.last().expect("just pushed"))
    }

    /// Connects (or disconnects) the background sender.
    /// Deliveries whose latest attempt is being sent right now.
    pub fn in_flight(&self) -> usize {
        self.deliveries
            .values()
            .filter(|d| d.in_flight.is_some())
            .count()
    }

    pub fn attach(&mut self, workspace: &str, tx: Option<&mpsc::UnboundedSender<Message>>) {
        self.link = tx.map(|tx| Link {
            workspace: workspace.to_string(),
            tx: tx.clone(),
        });
    }

    /// Queues one delivery per subscribed endpoint; returns (due, delivery id) jobs.
    pub fn enqueue(&mut self, event: &Event, ids: &mut IdGen, at: Millis) -> Vec<(Millis, String)> {
        let mut jobs = Vec::new();
        let body = event.to_json();
        for endpoint in &self.endpoints {
            if !endpoint.spec.events.is_empty() && !endpoint.spec.events.contains(&event.kind) {
                continue;
            }
            let id = ids.prefixed("whd_", at);
            self.deliveries.insert(
                id.clone(),
                Delivery::new(
                    id.clone(),
                    endpoint.id.clone(),
                    body.clone(),
                    endpoint.spec.url.clone(),
                    endpoint.spec.secret.clone(),
                ),
            );
            jobs.push((at, id));
        }
        jobs
    }

    /// Queues the route era's notification of the shared n8n webhook, and
    /// asks the sender to run it once the current request lets go of the lock.
    pub fn enqueue_n8n(
        &mut self,
        hook: &Option<crate::fixtures::N8nWebhookFixture>,
        document_id: &str,
        run_id: &str,
        provider: &str,
        ids: &mut IdGen,
        at: Millis,
    ) -> Vec<(Millis, String)> {
        let Some(hook) = hook else { return Vec::new() };
        let id = ids.prefixed("whd_", at);
        let event = json!({
            "id": ids.prefixed("evt_", at),
            "type": "delivery.requested",
            "created_at": format_seconds(at),
            "data": {"document_id": document_id, "run_id": run_id, "provider": provider},
        });
        self.deliveries.insert(
            id.clone(),
            Delivery::new(
                id.clone(),
                N8N_ENDPOINT.into(),
                event,
                hook.url.clone(),
                hook.secret.clone(),
            ),
        );
        if let Some(link) = &self.link {
            let _ = link.tx.send(Message::Kick(link.workspace.clone()));
        }
        vec![(at, id)]
    }
}

/// A delivery attempt is due at `at` (a `Job::DeliverWebhook`, or an event
/// emitted for now). Runs under the workspace lock; never waits on I/O.
pub fn attempt_due(ws: &mut Workspace, delivery_id: &str, at: Millis) {
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
        Some(held) => Some(held),
        None => {
            let path = url_path(&d.url);
            let target = FaultTarget {
                method: "POST",
                path: &path,
                event: d.event["type"].as_str(),
                document_id: d.event["data"]["document_id"].as_str(),
                ..FaultTarget::default()
            };
            let hit = ws.faults.check(FaultApi::Webhook, &target).map(|(_, s)| s);
            if let Some(mut spec) = hit {
                let latency = spec.virtual_latency();
                if latency > 0 {
                    spec.latency = None;
                    d.held = Some(spec);
                    ws.scheduler.schedule(
                        at + latency,
                        Job::DeliverWebhook {
                            delivery_id: delivery_id.to_string(),
                        },
                    );
                    return;
                }
                Some(spec)
            } else {
                None
            }
        }
    };
    let copy = match &fault {
        Some(spec) if spec.duplicate && d.attempts.is_empty() && d.copy_of.is_none() => {
            let mut copy = d.clone();
            let mut spec = spec.clone();
            spec.duplicate = false;
            copy.held = Some(spec);
            copy.copy_of = Some(delivery_id.to_string());
            Some(copy)
        }
        _ => None,
    };
    d.last_at = at;
    let (tampered, timestamp, secret) =
        crate::verdicts::webhooks::tamper(fault.as_ref(), at, &d.secret);
    let timestamp = timestamp.unwrap_or_else(|| format_seconds(at));
    let answered = fault.as_ref().and_then(|spec| {
        if let Some(r) = &spec.respond {
            Some((Some(r.status), None))
        } else if spec.drop_connection {
            Some((None, Some("timeout".to_string())))
        } else {
            None
        }
    });
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
                signature: signature_header(&secret, &timestamp, &d.body),
                timestamp,
                body: d.body.clone(),
                timeout: Duration::from_millis(ws.settings.webhook_timeout.max(1) as u64),
                tampered,
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

/// Starts the background sender for every workspace of `registry`, present
/// and future (the registry hands the channel to workspaces it builds).
pub fn start(registry: &Arc<Registry>) -> tokio::task::JoinHandle<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = registry.webhook_sender.set(tx.clone());
    let tx = registry.webhook_sender.get().cloned().unwrap_or(tx);
    for id in registry.workspace_ids() {
        if let Some(ws) = registry.workspace(&id) {
            lock(&ws).webhooks.attach(&id, Some(&tx));
        }
    }
    drop(tx);
    tokio::spawn(dispatch(Arc::downgrade(registry), rx))
}

/// Receives attempts and sends each on its destination's lane: one lane per
/// URL, so deliveries to one receiver arrive in the order they were made and
/// a slow receiver never holds up another.
async fn dispatch(registry: Weak<Registry>, mut rx: mpsc::UnboundedReceiver<Message>) {
    let client = reqwest::Client::new();
    let mut lanes: HashMap<String, mpsc::UnboundedSender<Outgoing>> = HashMap::new();
    while let Some(message) = rx.recv().await {
        match message {
            Message::Kick(workspace) => {
                let Some(registry) = registry.upgrade() else {
                    return;
                };
                if let Some(ws) = registry.workspace(&workspace) {
                    lock(&ws).run_due();
                }
            }
            Message::Send(outgoing) => {
                let lane = lanes.entry(outgoing.url.clone()).or_insert_with(|| {
                    let (tx, rx) = mpsc::unbounded_channel();
                    tokio::spawn(lane(client.clone(), registry.clone(), rx));
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
            crate::verdicts::webhooks::journal(&mut ws, &outgoing, status);
            conclude(&mut ws, &outgoing.delivery_id, status, error);
            // A retry may already be due (the clock moved while we sent).
            ws.run_due();
        }
    }
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
