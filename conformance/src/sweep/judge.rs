//! The delivery contract: where every document that was eligible at the
//! start of a case may end, judged from what the target reports after the
//! runs (Numora's public API for statuses, attempts and results; the
//! control API for Dataverse rows).

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::case::DocOutcome;

/// A delivery attempt, as `GET /v1/documents/{id}/delivery` lists it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Attempt {
    pub status: String,
    pub error_code: Option<String>,
    pub external_record_id: Option<String>,
    pub execution_id: Option<String>,
}

impl Attempt {
    pub(crate) fn from_json(v: &Value) -> Attempt {
        let s = |k: &str| v[k].as_str().map(str::to_owned);
        Attempt {
            status: s("status").unwrap_or_default(),
            error_code: s("error_code"),
            external_record_id: s("external_record_id"),
            execution_id: s("execution_id"),
        }
    }
}

/// An invoice row that belongs to the document, with its line-item count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Invoice {
    pub id: String,
    pub lines: usize,
}

/// What is known of one document after the runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct DocFacts {
    pub id: String,
    pub status: String,
    /// Newest first.
    pub attempts: Vec<Attempt>,
    /// Attempts the document had before the first run.
    pub attempts_before: usize,
    /// Listed by the outbox after the runs.
    pub in_outbox: bool,
    /// Line items of the document's result.
    pub result_lines: usize,
    pub invoices: Vec<Invoice>,
    /// Whether an `otcm_suppliers` row matches its vendor name.
    pub supplier_exists: Option<bool>,
}

/// The judgement of one document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct DocJudgement {
    pub id: String,
    pub outcome: DocOutcome,
    /// Broken promises, with the facts that show them; empty when the
    /// contract holds for this document.
    pub problems: Vec<String>,
}

const SKIP_CODES: &[&str] = &["supplier_not_found", "team_not_found"];

/// Classify one document and list what breaks the contract.
pub(crate) fn classify(f: &DocFacts, allow: &[DocOutcome]) -> DocJudgement {
    let mut problems = Vec::new();
    if f.invoices.len() > 1 {
        let ids: Vec<&str> = f.invoices.iter().map(|i| i.id.as_str()).collect();
        problems.push(format!(
            "duplicate rows: {} invoice rows for this document ({})",
            f.invoices.len(),
            ids.join(", ")
        ));
    }
    for inv in &f.invoices {
        if inv.lines > f.result_lines {
            problems.push(format!(
                "duplicate rows: invoice {} has {} line items, the result has {}",
                inv.id, inv.lines, f.result_lines
            ));
        }
    }
    let new = f.attempts.len() > f.attempts_before;
    let latest = if new { f.attempts.first() } else { None };
    let latest_failed = latest.is_some_and(|a| a.status == "failed");
    for inv in &f.invoices {
        if inv.lines < f.result_lines && !latest_failed {
            problems.push(format!(
                "partial write: invoice {} has {} of {} line items and the latest attempt is {} (allowed only while it is failed; the next run must complete it)",
                inv.id,
                inv.lines,
                f.result_lines,
                latest.map_or("none", |a| a.status.as_str())
            ));
        }
    }
    let outcome = match latest {
        Some(a) if a.status == "succeeded" => {
            if f.status != "push_succeeded" {
                problems.push(format!(
                    "latest attempt succeeded but the document is {}",
                    f.status
                ));
            }
            match f.invoices.as_slice() {
                [] => problems.push(
                    "latest attempt succeeded but no invoice row belongs to the document".into(),
                ),
                [one] => {
                    if let Some(rec) = &a.external_record_id {
                        if !rec.eq_ignore_ascii_case(&one.id) {
                            problems.push(format!(
                                "the succeeded attempt names record {rec}, but the document's invoice row is {}",
                                one.id
                            ));
                        }
                    }
                }
                _ => {}
            }
            DocOutcome::Delivered
        }
        Some(a) if a.status == "skipped" => {
            let code = a.error_code.as_deref().unwrap_or("");
            if !SKIP_CODES.contains(&code) {
                problems.push(format!(
                    "skipped with error_code `{code}`; a skip names supplier_not_found or team_not_found"
                ));
            }
            if code == "supplier_not_found" && f.supplier_exists == Some(true) {
                problems.push(
                    "skipped with supplier_not_found, but an otcm_suppliers row matches the vendor name"
                        .into(),
                );
            }
            if f.status != "push_succeeded" {
                problems.push(format!(
                    "latest attempt skipped but the document is {}",
                    f.status
                ));
            }
            if !f.invoices.is_empty() {
                problems.push("skipped, yet an invoice row was written".into());
            }
            DocOutcome::Skipped
        }
        Some(a) if a.status == "failed" => {
            if a.error_code.as_deref().unwrap_or("").is_empty() {
                problems.push("failed attempt without an error_code saying why".into());
            }
            if f.status != "push_failed" {
                problems.push(format!(
                    "latest attempt failed but the document is {}",
                    f.status
                ));
            }
            if !f.in_outbox {
                problems.push("failed, but the outbox does not offer it again".into());
            }
            DocOutcome::Failed
        }
        Some(a) => {
            problems.push(format!(
                "latest attempt is `{}`, document {}: the runs left it unfinished",
                a.status, f.status
            ));
            DocOutcome::Broken
        }
        None => {
            if !f.invoices.is_empty() {
                problems
                    .push("invoice rows were written but no delivery attempt was recorded".into());
                DocOutcome::Broken
            } else if !f.in_outbox {
                problems.push(format!(
                    "no new attempt, yet the document left the outbox (status {})",
                    f.status
                ));
                DocOutcome::Broken
            } else {
                DocOutcome::Untouched
            }
        }
    };
    if outcome != DocOutcome::Broken && !allow.contains(&outcome) {
        let names: Vec<&str> = allow.iter().map(|o| o.as_str()).collect();
        problems.push(format!(
            "ended {} (status {}), which this case does not allow (allowed: {})",
            outcome.as_str(),
            f.status,
            names.join(", ")
        ));
    }
    DocJudgement {
        id: f.id.clone(),
        outcome,
        problems,
    }
}

/// Invoice rows per document: by the mapping's document-id column, else by
/// a `succeeded` attempt's `external_record_id`. Line items count by their
/// invoice lookup column.
pub(crate) fn link_rows(
    invoices: &[Value],
    lines: &[Value],
    attempts_by_doc: &HashMap<String, Vec<Attempt>>,
) -> HashMap<String, Vec<Invoice>> {
    let mut per_invoice: HashMap<String, usize> = HashMap::new();
    for l in lines {
        if let Some(parent) = l["_otcm_inboundinvoiceid_value"].as_str() {
            *per_invoice.entry(parent.to_ascii_lowercase()).or_default() += 1;
        }
    }
    let mut out: HashMap<String, Vec<Invoice>> = HashMap::new();
    for row in invoices {
        let Some(id) = row["otcm_inboundinvoiceid"].as_str() else {
            continue;
        };
        let doc = row["otcm_numoradocumentid"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                attempts_by_doc.iter().find_map(|(d, atts)| {
                    atts.iter()
                        .any(|a| {
                            a.external_record_id
                                .as_deref()
                                .is_some_and(|r| r.eq_ignore_ascii_case(id))
                        })
                        .then(|| d.clone())
                })
            });
        if let Some(doc) = doc {
            out.entry(doc).or_default().push(Invoice {
                id: id.to_owned(),
                lines: per_invoice
                    .get(&id.to_ascii_lowercase())
                    .copied()
                    .unwrap_or(0),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BOTH: &[DocOutcome] = &[DocOutcome::Delivered, DocOutcome::Skipped];

    fn attempt(status: &str, code: Option<&str>, rec: Option<&str>) -> Attempt {
        Attempt {
            status: status.into(),
            error_code: code.map(Into::into),
            external_record_id: rec.map(Into::into),
            execution_id: None,
        }
    }

    fn delivered() -> DocFacts {
        DocFacts {
            id: "d1".into(),
            status: "push_succeeded".into(),
            attempts: vec![attempt("succeeded", None, Some("inv-1"))],
            attempts_before: 0,
            in_outbox: false,
            result_lines: 3,
            invoices: vec![Invoice {
                id: "inv-1".into(),
                lines: 3,
            }],
            supplier_exists: Some(true),
        }
    }

    #[test]
    fn a_complete_delivery_holds() {
        let j = classify(&delivered(), BOTH);
        assert_eq!(j.outcome, DocOutcome::Delivered);
        assert!(j.problems.is_empty(), "{:?}", j.problems);
    }

    #[test]
    fn a_second_invoice_row_is_a_duplicate() {
        let mut f = delivered();
        f.invoices.push(Invoice {
            id: "inv-2".into(),
            lines: 3,
        });
        let j = classify(&f, BOTH);
        assert!(j.problems[0].starts_with("duplicate rows: 2 invoice rows"));
    }

    #[test]
    fn a_partial_invoice_is_allowed_only_while_the_latest_attempt_failed() {
        let mut f = delivered();
        f.invoices[0].lines = 1;
        let j = classify(&f, BOTH);
        assert!(
            j.problems.iter().any(|p| p.starts_with("partial write")),
            "{:?}",
            j.problems
        );
        f.status = "push_failed".into();
        f.in_outbox = true;
        f.attempts
            .insert(0, attempt("failed", Some("crm_429"), None));
        let j = classify(&f, &[DocOutcome::Delivered, DocOutcome::Failed]);
        assert_eq!(j.outcome, DocOutcome::Failed);
        assert!(j.problems.is_empty(), "{:?}", j.problems);
        let j = classify(&f, BOTH);
        assert!(j.problems[0].contains("does not allow"), "{:?}", j.problems);
    }

    #[test]
    fn skips_need_the_right_code_and_a_really_missing_supplier() {
        let mut f = delivered();
        f.invoices.clear();
        f.attempts = vec![attempt("skipped", Some("supplier_not_found"), None)];
        f.supplier_exists = Some(false);
        assert!(classify(&f, BOTH).problems.is_empty());
        f.supplier_exists = Some(true);
        assert_eq!(classify(&f, BOTH).problems.len(), 1);
        f.attempts = vec![attempt("skipped", Some("whatever"), None)];
        f.supplier_exists = Some(false);
        assert!(classify(&f, BOTH).problems[0].contains("`whatever`"));
    }

    #[test]
    fn untouched_rows_without_attempts_and_old_attempts() {
        let f = DocFacts {
            id: "d".into(),
            status: "push_failed".into(),
            attempts: vec![attempt("failed", Some("crm_429"), None)],
            attempts_before: 1,
            in_outbox: true,
            result_lines: 1,
            ..DocFacts::default()
        };
        let j = classify(&f, &[DocOutcome::Untouched]);
        assert_eq!(j.outcome, DocOutcome::Untouched);
        assert!(j.problems.is_empty());
        assert!(!classify(&f, BOTH).problems.is_empty());
        let mut g = f.clone();
        g.invoices.push(Invoice {
            id: "x".into(),
            lines: 1,
        });
        assert_eq!(classify(&g, BOTH).outcome, DocOutcome::Broken);
    }

    #[test]
    fn rows_link_by_document_column_or_by_record_id() {
        let invoices = vec![
            json!({"otcm_inboundinvoiceid": "A", "otcm_numoradocumentid": "d1"}),
            json!({"otcm_inboundinvoiceid": "b"}),
            json!({"otcm_inboundinvoiceid": "c"}),
        ];
        let lines = vec![
            json!({"_otcm_inboundinvoiceid_value": "a"}),
            json!({"_otcm_inboundinvoiceid_value": "A"}),
            json!({"_otcm_inboundinvoiceid_value": "b"}),
        ];
        let mut atts = HashMap::new();
        atts.insert("d2".to_owned(), vec![attempt("succeeded", None, Some("B"))]);
        let linked = link_rows(&invoices, &lines, &atts);
        assert_eq!(
            linked["d1"],
            vec![Invoice {
                id: "A".into(),
                lines: 2
            }]
        );
        assert_eq!(linked["d2"][0].lines, 1);
        assert_eq!(linked.len(), 2, "row c belongs to no document");
    }
}
