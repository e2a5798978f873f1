//! The delivery contract's calls: `execution_id_reused`,
//! `dispatch_refused_retried`, `outbox_page_skipped`, `mixed_delivery_modes`.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{document_of, success, Cx, Finding, Rule, Severity};
use crate::fixtures::DeliveryRoute;
use crate::world::journal::JournalEntry;

pub(super) const CALLBACK: &str = "POST /v1/documents/{id}/delivery";
pub(super) const DISPATCH: &str = "POST /v1/documents/{id}/dispatch";
pub(super) const OUTBOX: &str = "GET /v1/delivery/outbox";

pub(super) const EXECUTION_ID_REUSED: Rule = Rule {
    id: "execution_id_reused",
    severity: Severity::Error,
    source: "seed 000 / delivery-status-callback.md (the callback is idempotent by execution_id; different data under the same execution_id is 409 conflict)",
    advice: "use a new execution_id for every delivery attempt (e.g. n8n's {{$execution.id}} plus the document id); resend an execution_id only to replay the very same data",
};

pub(super) const DISPATCH_REFUSED_RETRIED: Rule = Rule {
    id: "dispatch_refused_retried",
    severity: Severity::Warning,
    source: "seed 000 / n8n-outbound-delivery.md (dispatch answers 409 when the document is not eligible, e.g. already push_pending)",
    advice: "after a 409 on dispatch, read the document (GET /v1/documents/{id}) or the outbox before dispatching it again",
};

pub(super) const OUTBOX_PAGE_SKIPPED: Rule = Rule {
    id: "outbox_page_skipped",
    severity: Severity::Error,
    source: "seed 000 / polling-reviewed-documents.md (next_cursor is opaque and should be passed back unchanged when paginating)",
    advice: "while meta.next_cursor is not null, call GET /v1/delivery/outbox again with cursor=<next_cursor> (n8n: a loop, or the HTTP node's pagination option)",
};

pub(super) const MIXED_DELIVERY_MODES: Rule = Rule {
    id: "mixed_delivery_modes",
    severity: Severity::Error,
    source: "seed 000 (external executor: \"In this mode, do not call dispatch\")",
    advice: "pick one mode: either dispatch and let Numora write (no callback), or write to Dataverse yourself and report with the delivery callback (no dispatch)",
};

pub(super) fn judge(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    execution_id_reused(cx, out);
    dispatch_refused_retried(cx, out);
    outbox_page_skipped(cx, out);
    mixed_delivery_modes(cx, out);
}

fn execution_id(e: &JournalEntry) -> Option<String> {
    e.request_json()?
        .get("execution_id")?
        .as_str()
        .map(str::to_string)
}

fn execution_id_reused(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let callbacks: Vec<&JournalEntry> = cx.numora(CALLBACK).collect();
    for (i, refused) in callbacks.iter().enumerate() {
        let conflict = refused.status == 409
            && refused.fault.is_none()
            && refused
                .response_json()
                .and_then(|b| b.pointer("/error/message").cloned())
                .and_then(|m| m.as_str().map(|m| m.contains("already recorded")))
                .unwrap_or(false);
        if !conflict {
            continue;
        }
        let id = execution_id(refused).unwrap_or_default();
        let doc = document_of(refused);
        let mut evidence: Vec<u64> = callbacks[..i]
            .iter()
            .filter(|e| {
                success(e) && document_of(e) == doc && execution_id(e).as_deref() == Some(&id)
            })
            .map(|e| e.seq)
            .collect();
        evidence.push(refused.seq);
        out.push(EXECUTION_ID_REUSED.finding(
            format!("the delivery callback reused execution_id '{id}' with different data and was refused 409"),
            evidence,
            doc,
        ));
    }
}

/// The document ids an outbox answer listed.
fn listed(e: &JournalEntry) -> Vec<String> {
    e.response_json()
        .and_then(|b| b.get("data").cloned())
        .and_then(|d| match d {
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(|i| i.get("document_id").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

fn dispatch_refused_retried(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let client: Vec<&JournalEntry> = cx.client().filter(|e| e.api == "numora").collect();
    for (i, refused) in client.iter().enumerate() {
        if refused.route != DISPATCH || refused.status != 409 {
            continue;
        }
        let Some(doc) = document_of(refused) else {
            continue;
        };
        for e in &client[i + 1..] {
            let reads_document = e.method == "GET"
                && e.route.starts_with("GET /v1/documents/{id}")
                && document_of(e).as_deref() == Some(&doc);
            let reads_outbox = e.route == OUTBOX && success(e) && listed(e).contains(&doc);
            if reads_document || reads_outbox {
                break;
            }
            if e.route == DISPATCH && document_of(e).as_deref() == Some(&doc) {
                out.push(DISPATCH_REFUSED_RETRIED.finding(
                    format!("dispatch of {doc} answered 409 and the document was dispatched again without reading it first"),
                    vec![refused.seq, e.seq],
                    Some(doc.clone()),
                ));
                break;
            }
        }
    }
}

fn outbox_page_skipped(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let pages: Vec<&JournalEntry> = cx.numora(OUTBOX).filter(|e| success(e)).collect();
    let cursor_of = |e: &JournalEntry| {
        crate::call::parse_query(e.query.as_deref().unwrap_or(""))
            .into_iter()
            .find(|(k, _)| k == "cursor")
            .map(|(_, v)| v)
    };
    let seen: BTreeSet<String> = pages.iter().flat_map(|e| listed(e)).collect();
    let touched: BTreeSet<String> = cx.client().filter_map(document_of).collect();
    for (i, page) in pages.iter().enumerate() {
        let Some(next) = page
            .response_json()
            .and_then(|b| b.pointer("/meta/next_cursor").cloned())
            .and_then(|c| c.as_str().map(str::to_string))
        else {
            continue;
        };
        let followed = pages[i + 1..]
            .iter()
            .any(|p| cursor_of(p).as_deref() == Some(next.as_str()));
        if followed {
            continue;
        }
        let provider = crate::call::parse_query(page.query.as_deref().unwrap_or(""))
            .into_iter()
            .find(|(k, _)| k == "provider")
            .map(|(_, v)| v)
            .unwrap_or_else(|| "dynamics365".into());
        let schemas = cx.ws.schemas_with_destination(&provider);
        // Eligible when the page was read, still eligible, never listed to
        // the client and never touched by it.
        let missed: Vec<String> = cx
            .ws
            .outbox_after(None)
            .filter(|d| schemas.contains(&d.schema) && d.updated_at <= page.at.0)
            .filter(|d| !seen.contains(&*d.id) && !touched.contains(&*d.id))
            .map(|d| d.id.to_string())
            .collect();
        for doc in missed {
            out.push(OUTBOX_PAGE_SKIPPED.finding(
                format!("an outbox page said more pages exist (next_cursor), the next page was never read, and {doc} stayed eligible and untouched"),
                vec![page.seq],
                Some(doc),
            ));
        }
        // One unread page is enough: later pages would repeat the same documents.
        return;
    }
}

fn mixed_delivery_modes(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    if cx.ws.settings.route == DeliveryRoute::N8nExecutor {
        return;
    }
    let dispatched: Vec<&JournalEntry> = cx.numora(DISPATCH).filter(|e| success(e)).collect();
    let mut judged = BTreeSet::new();
    for d in &dispatched {
        let Some(doc) = document_of(d) else { continue };
        if !judged.insert(doc.clone()) {
            continue;
        }
        let callbacks: Vec<u64> = cx
            .numora(CALLBACK)
            .filter(|e| success(e) && document_of(e).as_deref() == Some(&doc))
            .map(|e| e.seq)
            .collect();
        if !callbacks.is_empty() {
            let mut evidence = vec![d.seq];
            evidence.extend(callbacks);
            out.push(MIXED_DELIVERY_MODES.finding(
                format!("{doc} was both dispatched (Numora writes it) and reported by a delivery callback (the client wrote it)"),
                evidence,
                Some(doc),
            ));
        }
    }
}
