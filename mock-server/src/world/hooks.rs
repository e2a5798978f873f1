//! Webhook state a workspace owns: endpoints, deliveries and their
//! attempts, and the channel to the background sender. Plain data and the
//! bookkeeping that queues deliveries; the attempt engine (fault rules,
//! signing, sending, retries) lives in `crate::webhooks` above.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::faults::FaultSpec;
use super::ids::IdGen;
use super::journal::Tampered;
use super::time::{format_seconds, Millis};
use crate::fixtures::N8nWebhookFixture;

/// A webhook event, as emitted at a transition.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub created_at: Millis,
    pub data: Value,
}

impl Event {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.kind,
            "created_at": format_seconds(self.created_at),
            "data": self.data,
        })
    }
}

/// The endpoint id of the route era's shared n8n webhook.
pub(crate) const N8N_ENDPOINT: &str = "n8n";

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

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event: Value,
    pub attempts: Vec<DeliveryAttempt>,
    pub state: DeliveryState,
    pub(crate) url: String,
    pub(crate) secret: String,
    /// The raw body, serialized once so every attempt signs the same bytes.
    pub(crate) body: String,
    /// The virtual instant of the latest attempt.
    pub(crate) last_at: Millis,
    /// The token of the attempt the sender is working on.
    pub(crate) in_flight: Option<u64>,
    /// The fault rule already chosen for the next attempt (after its latency).
    pub(crate) held: Option<(String, FaultSpec)>,
    /// Set on the second copy a `duplicate` fault makes.
    pub(crate) copy_of: Option<String>,
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

    pub(crate) fn new(
        id: String,
        endpoint_id: String,
        event: Value,
        url: String,
        secret: String,
    ) -> Self {
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
    pub(crate) workspace: String,
    pub(crate) tx: mpsc::UnboundedSender<Message>,
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
    pub(crate) token: u64,
    pub url: String,
    pub event_id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub timeout: Duration,
    /// How a fault tampered with this attempt (journaled with its answer).
    pub tampered: Option<Tampered>,
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
        hook: &Option<N8nWebhookFixture>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_counts_the_deliveries_being_sent() {
        let mut hooks = Webhooks::default();
        for id in ["whd_1", "whd_2", "whd_3"] {
            let d = Delivery::new(
                id.into(),
                "whe_1".into(),
                serde_json::json!({}),
                "http://x/h".into(),
                "s".into(),
            );
            hooks.deliveries.insert(id.into(), d);
        }
        assert_eq!(hooks.in_flight(), 0);
        hooks.deliveries.get_mut("whd_1").unwrap().in_flight = Some(7);
        hooks.deliveries.get_mut("whd_3").unwrap().in_flight = Some(8);
        assert_eq!(hooks.in_flight(), 2);
    }

    #[test]
    fn endpoints_take_http_and_https_urls_only() {
        let mut hooks = Webhooks::default();
        let mut ids = IdGen::new(1);
        for url in ["http://127.0.0.1:9/h", "https://hooks.example.com/h"] {
            let spec = serde_json::json!({"url": url, "secret": "s"});
            assert!(hooks.add_endpoint_json(spec, &mut ids, 0).is_ok(), "{url}");
        }
        for url in ["ftp://hooks.example.com/h", "not a url"] {
            let spec = serde_json::json!({"url": url, "secret": "s"});
            let err = hooks.add_endpoint_json(spec, &mut ids, 0).unwrap_err();
            assert!(err.starts_with("url:"), "{err}");
        }
    }
}
