//! Webhook receivers: `invalid_signature_accepted`, `stale_webhook_accepted`,
//! and the two webhook fault actions they need (`sign_with`, `backdate`).

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::{success, Cx, Finding, Rule, Severity};
use crate::world::faults::FaultSpec;
use crate::world::journal::{JournalEntry, Tampered};
use crate::world::time::{format_seconds, parse_duration, Millis};
use crate::world::workspace::Workspace;

pub const INVALID_SIGNATURE_ACCEPTED: Rule = Rule {
    id: "invalid_signature_accepted",
    severity: Severity::Error,
    source: "seed 003 / webhook-delivery.md (verify X-Numora-Webhook-Signature; reject requests with invalid signatures)",
    advice: "compute HMAC-SHA256(secret, \"<timestamp>.<raw body>\") over the raw body, compare it in constant time with v1= of X-Numora-Webhook-Signature, and answer 401 when it differs",
};

pub const STALE_WEBHOOK_ACCEPTED: Rule = Rule {
    id: "stale_webhook_accepted",
    severity: Severity::Error,
    source: "seed 003 / webhook-delivery.md (reject requests with stale timestamps)",
    advice: "reject a delivery whose X-Numora-Webhook-Timestamp is more than a few minutes from your clock (answer 400 or 401)",
};

pub fn judge(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    for e in cx
        .entries
        .iter()
        .filter(|e| e.api == "webhook" && success(e))
    {
        let (rule, what) = match e.tampered {
            Some(Tampered::Signature) => {
                (&INVALID_SIGNATURE_ACCEPTED, "signed with a wrong secret")
            }
            Some(Tampered::Timestamp) => (&STALE_WEBHOOK_ACCEPTED, "with a stale timestamp"),
            None => continue,
        };
        out.push(
            rule.finding(
                format!(
                    "the receiver at {} answered {} to a delivery {what}",
                    e.path, e.status
                ),
                vec![e.seq],
                e.request_json()
                    .and_then(|b| b.pointer("/data/document_id").cloned())
                    .and_then(|d| d.as_str().map(str::to_string)),
            ),
        );
    }
}

/// Applies a webhook fault's tampering: (what was done, the timestamp to
/// send, the secret to sign with).
pub fn tamper(
    fault: Option<&FaultSpec>,
    at: Millis,
    secret: &str,
) -> (Option<Tampered>, Option<String>, String) {
    let Some(spec) = fault else {
        return (None, None, secret.to_string());
    };
    let back = spec
        .backdate
        .as_deref()
        .and_then(parse_duration)
        .filter(|ms| *ms > 0);
    let timestamp = back.map(|ms| format_seconds(at - ms));
    match (&spec.sign_with, back) {
        (Some(other), _) => (Some(Tampered::Signature), timestamp, other.clone()),
        (None, Some(_)) => (Some(Tampered::Timestamp), timestamp, secret.to_string()),
        (None, None) => (None, None, secret.to_string()),
    }
}

/// Journals a delivery the fake sent, with the receiver's answer (`status`
/// 0: no answer).
pub fn journal(ws: &mut Workspace, o: &crate::webhooks::Outgoing, status: Option<u16>) {
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
    let path = reqwest::Url::parse(&o.url)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| "/".into());
    let call = crate::call::Call {
        method: Method::POST,
        path,
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
