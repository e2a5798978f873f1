//! Webhook receivers: `invalid_signature_accepted`, `stale_webhook_accepted`.
//! They judge the attempts the fault actions `sign_with` and `backdate`
//! tampered with (applied in `fault_pipeline`, journaled by `webhooks`).

use super::{success, Cx, Finding, Rule, Severity};
use crate::world::journal::Tampered;

pub(crate) const INVALID_SIGNATURE_ACCEPTED: Rule = Rule {
    id: "invalid_signature_accepted",
    severity: Severity::Error,
    source: "seed 003 / webhook-delivery.md (verify X-Numora-Webhook-Signature; reject requests with invalid signatures)",
    advice: "compute HMAC-SHA256(secret, \"<timestamp>.<raw body>\") over the raw body, compare it in constant time with v1= of X-Numora-Webhook-Signature, and answer 401 when it differs",
};

pub(crate) const STALE_WEBHOOK_ACCEPTED: Rule = Rule {
    id: "stale_webhook_accepted",
    severity: Severity::Error,
    source: "seed 003 / webhook-delivery.md (reject requests with stale timestamps)",
    advice: "reject a delivery whose X-Numora-Webhook-Timestamp is more than a few minutes from your clock (answer 400 or 401)",
};

pub(crate) fn judge(cx: &Cx<'_>, out: &mut Vec<Finding>) {
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
