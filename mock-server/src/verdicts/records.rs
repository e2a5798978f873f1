//! What the client left in Dataverse: `success_without_record`,
//! `partial_write`, `duplicate_write`, `incomplete_record`,
//! `unreported_outcome`, `filter_quote_unescaped`, and `record_unlinked`
//! (info: a row no rule could tie to a document).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::delivery::CALLBACK;
use super::{document_of, success, Cx, Finding, Rule, Severity};
use crate::world::journal::JournalEntry;
use crate::world::model::AttemptStatus;

pub(super) const SUCCESS_WITHOUT_RECORD: Rule = Rule {
    id: "success_without_record",
    severity: Severity::Error,
    source: "seed 000 / delivery-status-callback.md (external_record_id: the id of the record written in the destination)",
    advice: "report succeeded only after the invoice row exists, with external_record_id set to that row's id (from the OData-EntityId header of the create)",
};

pub(super) const PARTIAL_WRITE: Rule = Rule {
    id: "partial_write",
    severity: Severity::Error,
    source: "seed 000 (the executor writes the invoice and then each line item); mappings-and-destinations.md",
    advice: "when a line-item write fails, report a failed attempt (delivery callback status failed), and on the next run complete the existing invoice's missing line items instead of creating a new invoice",
};

pub(super) const DUPLICATE_WRITE: Rule = Rule {
    id: "duplicate_write",
    severity: Severity::Error,
    source: "idempotency-and-external-identifiers.md (deliver each document once)",
    advice: "before creating an invoice, look for one an earlier attempt wrote (by the document-id column, or by invoice number and supplier) and reuse it",
};

pub(super) const INCOMPLETE_RECORD: Rule = Rule {
    id: "incomplete_record",
    severity: Severity::Warning,
    source: "mappings-and-destinations.md (GET /v1/mappings/{schema}/{destination}: the columns to fill and their sources)",
    advice: "fill every column the workspace's mapping lists (GET /v1/mappings/invoice_v2/{destination}) from the document's result",
};

pub(super) const UNREPORTED_OUTCOME: Rule = Rule {
    id: "unreported_outcome",
    severity: Severity::Warning,
    source: "seed 000 / delivery-status-callback.md (report every attempt with POST /v1/documents/{id}/delivery)",
    advice: "after writing a document's rows, report the outcome with POST /v1/documents/{id}/delivery (succeeded with external_record_id, or failed with error_code)",
};

pub(super) const FILTER_QUOTE_UNESCAPED: Rule = Rule {
    id: "filter_quote_unescaped",
    severity: Severity::Error,
    source: "dataverse.md (OData string literals: a single quote inside a literal is doubled)",
    advice: "escape string literals in $filter by doubling single quotes (O'Brien → 'O''Brien'), then URL-encode the filter",
};

pub(super) const RECORD_UNLINKED: Rule = Rule {
    id: "record_unlinked",
    severity: Severity::Info,
    source: "docs/verdicts.md (how a row is tied to a document)",
    advice: "write the mapping's document-id column (e.g. otcm_numoradocumentid), or report the row's id as external_record_id, so the row can be tied to its document",
};

pub(super) fn judge(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    filter_quote_unescaped(cx, out);
    let model = Model::new(cx);
    success_without_record(cx, &model, out);
    for row in &model.client_rows {
        if row.document.is_none() {
            out.push(RECORD_UNLINKED.finding(
                format!(
                    "the {} row {} the client wrote could not be tied to a document, so partial_write, incomplete_record and unreported_outcome did not judge it",
                    row.set, row.id
                ),
                vec![row.seq],
                None,
            ));
        }
    }
    partial_write(cx, &model, out);
    duplicate_write(&model, out);
    incomplete_record(cx, &model, out);
    unreported_outcome(cx, &model, out);
}

/// What a mapping says about the invoice table.
struct Shape {
    set: String,
    columns: Vec<(String, String)>,
    doc_column: Option<String>,
    number_column: Option<String>,
    supplier_column: Option<String>,
    items_set: Option<String>,
}

fn text(map: &Map<String, Value>, pointer: &str) -> Option<String> {
    Value::Object(map.clone())
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl Shape {
    fn of(mapping: &Map<String, Value>) -> Shape {
        let columns: Vec<(String, String)> = mapping
            .get("record")
            .and_then(|r| r.get("columns"))
            .and_then(Value::as_object)
            .map(|c| {
                c.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let column_for = |source: &str| {
            columns
                .iter()
                .find(|(_, s)| s == source)
                .map(|(c, _)| c.clone())
        };
        Shape {
            set: text(mapping, "/record/entity_set")
                .unwrap_or_else(|| "otcm_inboundinvoices".into()),
            doc_column: column_for("document.id"),
            number_column: column_for("fields.invoice_number.value"),
            supplier_column: Some(format!(
                "_{}_value",
                text(mapping, "/supplier/navigation")
                    .unwrap_or_else(|| "otcm_SupplierId".into())
                    .to_ascii_lowercase()
            )),
            items_set: mapping.get("line_items").map(|_| {
                text(mapping, "/line_items/entity_set")
                    .unwrap_or_else(|| "otcm_inboundinvoicelineitems".into())
            }),
            columns,
        }
    }
}

/// An invoice row the client created (from its journaled POST).
struct ClientRow {
    seq: u64,
    set: String,
    id: String,
    /// The row as stored now (None: deleted since).
    row: Option<Value>,
    document: Option<String>,
    shape: usize,
}

struct Model {
    shapes: Vec<Shape>,
    /// (shape index, row id, row) of every invoice row in every org.
    invoice_rows: Vec<(usize, String, Value)>,
    /// Line-item rows of every org, by item set.
    item_rows: BTreeMap<String, Vec<(String, Value)>>,
    client_rows: Vec<ClientRow>,
    /// Whether any org has an invoice table to judge against.
    has_invoice_table: bool,
    /// Row id → seq of the client call that created it (any set).
    created_by: BTreeMap<String, u64>,
}

/// The id at the end of an `OData-EntityId` header (`…/set(id)`).
fn created_id(e: &JournalEntry) -> Option<String> {
    let entity = e.response_header("odata-entityid")?;
    let inside = entity.rsplit_once('(')?.1.strip_suffix(')')?;
    Some(inside.to_string())
}

fn entity_set(e: &JournalEntry) -> Option<String> {
    crate::dataverse::gate::entity_set(e.path.strip_prefix(crate::dataverse::API_PREFIX)?)
        .map(crate::call::decode_component)
}

impl Model {
    fn new(cx: &Cx<'_>) -> Model {
        let ws = cx.ws;
        let mut shapes: Vec<Shape> = Vec::new();
        for mapping in ws.mappings.values() {
            let shape = Shape::of(mapping);
            if !shapes.iter().any(|s| s.set == shape.set) {
                shapes.push(shape);
            }
        }
        let orgs: BTreeSet<&str> = ws.connections.iter().map(|c| c.org.as_str()).collect();
        let mut invoice_rows = Vec::new();
        let mut has_invoice_table = false;
        let mut item_rows: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
        for org in &orgs {
            for (i, shape) in shapes.iter().enumerate() {
                if let Some(rows) = ws.dataverse.rows_by_id(org, &shape.set) {
                    has_invoice_table = true;
                    invoice_rows.extend(rows.into_iter().map(|(id, row)| (i, id, row)));
                }
                if let Some(items) = &shape.items_set {
                    item_rows
                        .entry(items.clone())
                        .or_default()
                        .extend(ws.dataverse.rows_by_id(org, items).unwrap_or_default());
                }
            }
        }
        let mut created_by = BTreeMap::new();
        let mut client_rows = Vec::new();
        for e in cx.client() {
            if e.api != "dataverse" || e.method != "POST" || !success(e) {
                continue;
            }
            let (Some(set), Some(id)) = (entity_set(e), created_id(e)) else {
                continue;
            };
            created_by.insert(id.clone(), e.seq);
            let Some(shape) = shapes.iter().position(|s| s.set == set) else {
                continue;
            };
            let row = invoice_rows
                .iter()
                .find(|(_, rid, _)| *rid == id)
                .map(|(_, _, r)| r.clone());
            client_rows.push(ClientRow {
                seq: e.seq,
                set,
                id,
                row,
                document: None,
                shape,
            });
        }
        let mut model = Model {
            shapes,
            invoice_rows,
            item_rows,
            client_rows,
            has_invoice_table,
            created_by,
        };
        for i in 0..model.client_rows.len() {
            let doc = model.link(cx, &model.client_rows[i]);
            model.client_rows[i].document = doc;
        }
        model
    }

    /// The document a client-written invoice row belongs to.
    fn link(&self, cx: &Cx<'_>, row: &ClientRow) -> Option<String> {
        let shape = &self.shapes[row.shape];
        let by_column = shape
            .doc_column
            .as_ref()
            .and_then(|c| row.row.as_ref()?.get(c)?.as_str().map(str::to_string))
            .filter(|d| cx.ws.documents.contains_key(d.as_str()));
        if by_column.is_some() {
            return by_column;
        }
        let by_callback = cx
            .numora(CALLBACK)
            .filter(|e| success(e))
            .find(|e| {
                e.request_json()
                    .and_then(|b| b.get("external_record_id").cloned())
                    .and_then(|v| v.as_str().map(|s| s.eq_ignore_ascii_case(&row.id)))
                    .unwrap_or(false)
            })
            .and_then(document_of);
        if by_callback.is_some() {
            return by_callback;
        }
        cx.numora("GET /v1/documents/{id}/result")
            .filter(|e| success(e) && e.seq < row.seq)
            .last()
            .and_then(document_of)
    }

    /// Line-item rows whose parent lookup points at `invoice`.
    fn items_of(&self, shape: &Shape, invoice: &str) -> Vec<&(String, Value)> {
        let Some(set) = &shape.items_set else {
            return Vec::new();
        };
        self.item_rows
            .get(set)
            .map(|rows| {
                rows.iter()
                    .filter(|(_, row)| {
                        row.as_object().is_some_and(|o| {
                            o.iter().any(|(k, v)| {
                                k.starts_with('_')
                                    && k.ends_with("_value")
                                    && v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(invoice))
                            })
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn filter_quote_unescaped(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    for e in cx.client() {
        if e.api != "dataverse" || e.status != 400 {
            continue;
        }
        let message = e
            .response_json()
            .and_then(|b| b.pointer("/error/message").cloned())
            .and_then(|m| m.as_str().map(str::to_string))
            .unwrap_or_default();
        let filter = crate::call::parse_query(e.query.as_deref().unwrap_or(""))
            .into_iter()
            .find(|(k, _)| k == "$filter")
            .map(|(_, v)| v)
            .unwrap_or_default();
        let literal_problem = message.contains("unterminated literal")
            || (message.starts_with("Syntax error") && filter.contains('\''));
        if literal_problem {
            out.push(FILTER_QUOTE_UNESCAPED.finding(
                format!("$filter {filter:?} failed: {message}"),
                vec![e.seq],
                None,
            ));
        }
    }
}

fn success_without_record(cx: &Cx<'_>, model: &Model, out: &mut Vec<Finding>) {
    if !model.has_invoice_table {
        return; // no mapping or no org with its invoice table: nothing to check against
    }
    let ids: BTreeSet<String> = model
        .invoice_rows
        .iter()
        .map(|(_, id, _)| id.to_ascii_lowercase())
        .collect();
    let mut judged = BTreeSet::new();
    for e in cx.numora(CALLBACK).filter(|e| success(e)) {
        let Some(body) = e.request_json() else {
            continue;
        };
        if body.get("status").and_then(Value::as_str) != Some("succeeded") {
            continue;
        }
        let record = body
            .get("external_record_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if ids.contains(&record.to_ascii_lowercase()) || !judged.insert(record.clone()) {
            continue;
        }
        out.push(SUCCESS_WITHOUT_RECORD.finding(
            format!("a succeeded callback names external_record_id '{record}', which is no row of the invoice table"),
            vec![e.seq],
            document_of(e),
        ));
    }
}

fn partial_write(cx: &Cx<'_>, model: &Model, out: &mut Vec<Finding>) {
    for row in &model.client_rows {
        let (Some(doc_id), Some(_)) = (&row.document, &row.row) else {
            continue;
        };
        let shape = &model.shapes[row.shape];
        if shape.items_set.is_none() {
            continue;
        }
        let Some(doc) = cx.ws.documents.get(doc_id.as_str()) else {
            continue;
        };
        let items = model.items_of(shape, &row.id);
        if items.len() >= doc.line_items.len() {
            continue;
        }
        let latest_failed = doc
            .latest_attempt
            .is_some_and(|i| doc.attempts[i].data.status == AttemptStatus::Failed);
        if latest_failed {
            continue;
        }
        let mut evidence = vec![row.seq];
        evidence.extend(items.iter().filter_map(|(id, _)| model.created_by.get(id)));
        out.push(PARTIAL_WRITE.finding(
            format!(
                "invoice row {} has {} of the document's {} line items, and no failed attempt records it",
                row.id,
                items.len(),
                doc.line_items.len()
            ),
            evidence,
            Some(doc_id.clone()),
        ));
    }
}

fn duplicate_write(model: &Model, out: &mut Vec<Finding>) {
    let client: BTreeMap<&str, &ClientRow> = model
        .client_rows
        .iter()
        .map(|r| (r.id.as_str(), r))
        .collect();
    let mut groups: BTreeMap<(usize, String), BTreeSet<String>> = BTreeMap::new();
    for (shape_index, id, row) in &model.invoice_rows {
        let shape = &model.shapes[*shape_index];
        let get = |c: &Option<String>| {
            c.as_ref()
                .and_then(|c| row.get(c))
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        if let Some(doc) = get(&shape.doc_column) {
            groups
                .entry((*shape_index, format!("document {doc}")))
                .or_default()
                .insert(id.clone());
        }
        if let (Some(number), Some(supplier)) =
            (get(&shape.number_column), get(&shape.supplier_column))
        {
            groups
                .entry((
                    *shape_index,
                    format!("invoice {number} of supplier {supplier}"),
                ))
                .or_default()
                .insert(id.clone());
        }
    }
    let mut reported: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    for ((_, key), rows) in groups {
        if rows.len() < 2 || !rows.iter().any(|r| client.contains_key(r.as_str())) {
            continue;
        }
        if !reported.insert(rows.clone()) {
            continue;
        }
        let mut evidence: Vec<u64> = rows
            .iter()
            .filter_map(|r| client.get(r.as_str()).map(|c| c.seq))
            .collect();
        evidence.sort_unstable();
        let document = rows
            .iter()
            .find_map(|r| client.get(r.as_str()).and_then(|c| c.document.clone()));
        out.push(DUPLICATE_WRITE.finding(
            format!("{} invoice rows exist for {key}", rows.len()),
            evidence,
            document,
        ));
    }
}

fn incomplete_record(cx: &Cx<'_>, model: &Model, out: &mut Vec<Finding>) {
    for row in &model.client_rows {
        let (Some(doc_id), Some(stored)) = (&row.document, &row.row) else {
            continue;
        };
        let Some(doc) = cx.ws.documents.get(doc_id.as_str()) else {
            continue;
        };
        let shape = &model.shapes[row.shape];
        let missing: Vec<&str> = shape
            .columns
            .iter()
            .filter(|(_, source)| {
                !crate::numora::executor::source_value(doc, None, source).is_null()
            })
            .filter(|(column, _)| stored.get(column).is_none_or(Value::is_null))
            .map(|(column, _)| column.as_str())
            .collect();
        if !missing.is_empty() {
            out.push(INCOMPLETE_RECORD.finding(
                format!(
                    "invoice row {} lacks {} although the document has values for them",
                    row.id,
                    missing.join(", ")
                ),
                vec![row.seq],
                Some(doc_id.clone()),
            ));
        }
    }
}

fn unreported_outcome(cx: &Cx<'_>, model: &Model, out: &mut Vec<Finding>) {
    let mut judged = BTreeSet::new();
    for row in &model.client_rows {
        let Some(doc) = &row.document else { continue };
        if !judged.insert(doc.clone()) {
            continue;
        }
        let read = cx
            .numora("GET /v1/documents/{id}/result")
            .filter(|e| success(e) && document_of(e).as_deref() == Some(doc))
            .map(|e| e.seq)
            .next();
        let Some(read) = read else { continue };
        let reported = cx
            .numora(CALLBACK)
            .any(|e| success(e) && document_of(e).as_deref() == Some(doc));
        if !reported {
            out.push(UNREPORTED_OUTCOME.finding(
                format!("the client read {doc}'s result and wrote invoice row {}, but recorded no delivery attempt", row.id),
                vec![read, row.seq],
                Some(doc.clone()),
            ));
        }
    }
}
