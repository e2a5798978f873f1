//! Webhook endpoints and deliveries (seed 003, DESIGN §4.8).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::world::faults::Faults;
use crate::world::ids::IdGen;
use crate::world::time::Millis;
use crate::world::workspace::Event;

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

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event: Value,
    pub attempts: Vec<DeliveryAttempt>,
}

#[derive(Debug, Clone, Default)]
pub struct Webhooks {
    pub endpoints: Vec<Endpoint>,
    pub deliveries: BTreeMap<String, Delivery>,
}

impl Webhooks {
    pub fn add_endpoint_json(
        &mut self,
        spec: Value,
        ids: &mut IdGen,
        now: Millis,
    ) -> Result<&Endpoint, String> {
        let spec: EndpointSpec = serde_json::from_value(spec).map_err(|e| e.to_string())?;
        let id = spec.id.clone().unwrap_or_else(|| ids.prefixed("whe_", now));
        self.endpoints.push(Endpoint { id, spec });
        Ok(self.endpoints.last().expect("just pushed"))
    }

    /// Queues one delivery per subscribed endpoint; returns (due, delivery id) jobs.
    pub fn enqueue(
        &mut self,
        event: &Event,
        ids: &mut IdGen,
        at: Millis,
        _faults: &mut Faults,
    ) -> Vec<(Millis, String)> {
        let mut jobs = Vec::new();
        for endpoint in &self.endpoints {
            if !endpoint.spec.events.is_empty() && !endpoint.spec.events.contains(&event.kind) {
                continue;
            }
            let id = ids.prefixed("whd_", at);
            self.deliveries.insert(
                id.clone(),
                Delivery {
                    id: id.clone(),
                    endpoint_id: endpoint.id.clone(),
                    event: event.to_json(),
                    attempts: Vec::new(),
                },
            );
            jobs.push((at, id));
        }
        jobs
    }

    /// Queues the route era's notification of the shared n8n webhook.
    pub fn enqueue_n8n(
        &mut self,
        hook: &Option<crate::fixtures::N8nWebhookFixture>,
        document_id: &str,
        run_id: &str,
        provider: &str,
        ids: &mut IdGen,
        at: Millis,
    ) -> Vec<(Millis, String)> {
        let Some(_hook) = hook else { return Vec::new() };
        let id = ids.prefixed("whd_", at);
        let event = serde_json::json!({
            "id": ids.prefixed("evt_", at),
            "type": "delivery.requested",
            "created_at": crate::world::time::format_seconds(at),
            "data": {"document_id": document_id, "run_id": run_id, "provider": provider},
        });
        self.deliveries.insert(
            id.clone(),
            Delivery {
                id: id.clone(),
                endpoint_id: "n8n".into(),
                event,
                attempts: Vec::new(),
            },
        );
        vec![(at, id)]
    }

    /// A delivery attempt is due; returns when to retry, if at all.
    pub fn attempt_due(&mut self, _delivery_id: &str, _at: Millis) -> Option<Millis> {
        None
    }
}
