//! Resuming a partly written invoice: after a run failed mid-write (the
//! invoice row exists, some line items do not), the next run finds that
//! invoice by the mapping's document-id column and writes only the missing
//! line items, so a document never gets a second invoice.
//!
//! Only a document whose earlier attempt failed is looked up, so a first
//! run makes exactly the calls it always made.

use std::collections::BTreeSet;

use axum::http::Method;
use serde_json::{Map, Value};

use super::{columns, failure_of, lookup, query_encode, text, Ctx, Outcome};
use crate::world::model::{AttemptStatus, Document};

fn retried(doc: &Document) -> bool {
    doc.attempts
        .iter()
        .any(|a| a.data.status == AttemptStatus::Failed)
}

/// The invoice an earlier failed run wrote for `doc`, if any.
pub(super) fn find_invoice(
    ctx: &mut Ctx<'_>,
    doc: &Document,
    mapping: &Map<String, Value>,
    record_set: &str,
) -> Result<Option<String>, Outcome> {
    if !retried(doc) {
        return Ok(None);
    }
    let Some((doc_column, _)) = columns(mapping, "record")
        .into_iter()
        .find(|(_, source)| source == "document.id")
    else {
        return Ok(None);
    };
    let id_column = text(
        mapping,
        "/record/id_column",
        &format!("{}id", record_set.trim_end_matches('s')),
    );
    lookup(
        ctx,
        "invoice_lookup",
        record_set,
        &id_column,
        &doc_column,
        &doc.id,
    )
}

/// The positions (1-based) of the line items already written under `invoice`.
pub(super) fn written_items(
    ctx: &mut Ctx<'_>,
    doc: &Document,
    mapping: &Map<String, Value>,
    item_set: &str,
    parent_nav: &str,
    invoice: &str,
) -> Result<BTreeSet<usize>, Outcome> {
    if !retried(doc) {
        return Ok(BTreeSet::new());
    }
    let position = columns(mapping, "line_items")
        .into_iter()
        .find(|(_, source)| source == "line_items[*].position")
        .map(|(column, _)| column);
    let filter = format!("_{}_value eq {invoice}", parent_nav.to_ascii_lowercase());
    let mut query = format!("$filter={}", query_encode(&filter));
    if let Some(column) = &position {
        query = format!("$select={column}&{query}");
    }
    let (reply, json) = ctx.call("line_item_lookup", Method::GET, item_set, Some(query), None);
    if !reply.status.is_success() {
        return Err(failure_of(&reply, &json, "line_item_lookup"));
    }
    let rows = json
        .as_ref()
        .and_then(|j| j.get("value"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(match position {
        Some(column) => rows
            .iter()
            .filter_map(|r| r.get(&column).and_then(Value::as_f64))
            .map(|p| p as usize)
            .collect(),
        // Without a position column, the first rows.len() items count as written.
        None => (1..=rows.len()).collect(),
    })
}
