//! Through HTTP: Dataverse `$batch` with change sets, Content-ID
//! references, continue-on-error, and fault rules aimed at a part.

use crate::helpers::*;
use serde_json::Value;

/// One request of a batch: (Content-ID, method, target, JSON body).
type Op<'a> = (Option<u32>, &'a str, &'a str, Option<&'a str>);

fn part(out: &mut String, op: &Op<'_>) {
    out.push_str("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
    if let Some(id) = op.0 {
        out.push_str(&format!("Content-ID: {id}\r\n"));
    }
    out.push_str(&format!("\r\n{} {} HTTP/1.1\r\n", op.1, op.2));
    match op.3 {
        Some(body) => out.push_str(&format!("Content-Type: application/json\r\n\r\n{body}\r\n")),
        None => out.push_str("Accept: application/json\r\n\r\n"),
    }
}

/// A batch body: each group is a change set (`true`) or single requests.
fn batch_body(groups: &[(bool, Vec<Op<'_>>)]) -> String {
    let mut out = String::new();
    for (n, (change_set, ops)) in groups.iter().enumerate() {
        if *change_set {
            out.push_str(&format!(
                "--batch_B\r\nContent-Type: multipart/mixed; boundary=changeset_{n}\r\n\r\n"
            ));
            for op in ops {
                out.push_str(&format!("--changeset_{n}\r\n"));
                part(&mut out, op);
            }
            out.push_str(&format!("--changeset_{n}--\r\n"));
        } else {
            for op in ops {
                out.push_str("--batch_B\r\n");
                part(&mut out, op);
            }
        }
    }
    out.push_str("--batch_B--\r\n");
    out
}

async fn send_batch(app: &App, token: &str, body: String, prefer: Option<&str>) -> Res {
    let mut headers = vec![("content-type", "multipart/mixed; boundary=batch_B")];
    headers.extend(prefer.map(|p| ("prefer", p)));
    app.dataverse(Some(token), "POST", "$batch", Some(body), &headers)
        .await
}

/// The status lines of the parts of a batch answer, in order.
fn statuses(text: &str) -> Vec<u16> {
    text.lines()
        .filter_map(|l| l.strip_prefix("HTTP/1.1 "))
        .map(|l| l[..3].parse().unwrap())
        .collect()
}

async fn rows(app: &App, set: &str) -> Vec<Value> {
    let r = app.control("GET", &format!("/dataverse/{set}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"].as_array().cloned().unwrap_or_default()
}

const SUPPLIER: &str = r#"{"otcm_name":"Batch Supplier","otcm_vendorcode":"BAT"}"#;
const INVOICE_BOUND_TO_1: &str =
    r#"{"otcm_name":"INV-B1","otcm_invoicenumber":"INV-B1","otcm_SupplierId@odata.bind":"$1"}"#;

/// L-batch: a change set's writes all happen, `$1` names the row part 1
/// created, and a GET outside the change set sees them.
#[tokio::test]
async fn a_change_set_writes_atomically_and_resolves_content_ids() {
    let app = app().await;
    let t = token(&app).await;
    let suppliers_before = rows(&app, "otcm_suppliers").await.len();
    let body = batch_body(&[
        (
            true,
            vec![
                (Some(1), "POST", "otcm_suppliers", Some(SUPPLIER)),
                (
                    Some(2),
                    "POST",
                    "/api/data/v9.2/otcm_inboundinvoices",
                    Some(INVOICE_BOUND_TO_1),
                ),
            ],
        ),
        (
            false,
            vec![(
                None,
                "GET",
                "otcm_suppliers?$select=otcm_name&$filter=otcm_vendorcode%20eq%20'BAT'",
                None,
            )],
        ),
    ]);
    let r = send_batch(&app, &t, body, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ct = r.header("content-type").unwrap();
    assert!(
        ct.starts_with("multipart/mixed; boundary=batchresponse_"),
        "{ct}"
    );
    assert!(r.text.contains("changesetresponse_"), "{}", r.text);
    assert_eq!(statuses(&r.text), vec![204, 204, 200], "{}", r.text);
    assert!(r.text.contains("Content-ID: 2\r\n"), "{}", r.text);
    assert!(
        r.text.contains("\"otcm_name\":\"Batch Supplier\""),
        "{}",
        r.text
    );
    let suppliers = rows(&app, "otcm_suppliers").await;
    assert_eq!(suppliers.len(), suppliers_before + 1);
    let supplier_id = suppliers.last().unwrap()["otcm_supplierid"].clone();
    let invoice = rows(&app, "otcm_inboundinvoices")
        .await
        .into_iter()
        .find(|r| r["otcm_invoicenumber"] == "INV-B1")
        .expect("the invoice was created");
    assert_eq!(invoice["_otcm_supplierid_value"], supplier_id);
    // The journal shows the batch, then each part marked with its place.
    let journal = app
        .control("GET", "/journal?api=dataverse", None)
        .await
        .json();
    let entries = journal["data"].as_array().unwrap();
    let at = entries
        .iter()
        .position(|e| e["path"] == "/api/data/v9.2/$batch")
        .expect("the batch is journaled");
    let parts: Vec<(Value, Value)> = entries[at + 1..at + 4]
        .iter()
        .map(|e| (e["batch_part"].clone(), e["path"].clone()))
        .collect();
    assert_eq!(
        parts,
        vec![
            (1.into(), "/api/data/v9.2/otcm_suppliers".into()),
            (2.into(), "/api/data/v9.2/otcm_inboundinvoices".into()),
            (3.into(), "/api/data/v9.2/otcm_suppliers".into()),
        ]
    );
    assert!(entries[at].get("batch_part").is_none());
    // Each part is captured like any Dataverse call: its own request body
    // (with `$1` resolved) and its own answer.
    let first = &entries[at + 1];
    assert_eq!(
        first["request"]["body"]["otcm_vendorcode"], "BAT",
        "{first}"
    );
    assert_eq!(first["response"]["status"], 204, "{first}");
    assert!(
        first["response"]["headers"]["odata-entityid"].is_string(),
        "{first}"
    );
    let second = &entries[at + 2];
    let bound = second["request"]["body"]["otcm_SupplierId@odata.bind"]
        .as_str()
        .unwrap_or_default();
    assert!(bound.starts_with("/otcm_suppliers("), "{second}");
    assert_eq!(entries[at]["response"]["status"], 200, "{}", entries[at]);
}

/// A failing request inside a change set leaves no row behind: the first
/// part's supplier is rolled back, and so is the row version counter.
#[tokio::test]
async fn a_failing_part_rolls_its_change_set_back() {
    let app = app().await;
    let t = token(&app).await;
    let first = create_supplier(&app, &t).await;
    let before = rows(&app, "otcm_suppliers").await;
    let bad = r#"{"otcm_name":"INV-B2","otcm_nosuchcolumn":1}"#;
    let body = batch_body(&[(
        true,
        vec![
            (Some(1), "POST", "otcm_suppliers", Some(SUPPLIER)),
            (Some(2), "POST", "otcm_inboundinvoices", Some(bad)),
        ],
    )]);
    let r = send_batch(&app, &t, body, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(statuses(&r.text), vec![400], "{}", r.text);
    assert!(!r.text.contains("changesetresponse_"), "{}", r.text);
    assert!(r.text.contains("Content-ID: 2\r\n"), "{}", r.text);
    assert!(r.text.contains("otcm_nosuchcolumn"), "{}", r.text);
    assert_eq!(rows(&app, "otcm_suppliers").await, before);
    // The next create gets the version right after the last kept one, as
    // if the rolled-back create had never happened.
    let next = create_supplier(&app, &t).await;
    assert_eq!(next, first + 1);
}

/// Creates a supplier outside any batch; its `versionnumber`.
async fn create_supplier(app: &App, t: &str) -> u64 {
    let created = app
        .client
        .post(app.url("/api/data/v9.2/otcm_suppliers"))
        .bearer_auth(t)
        .header("content-type", "application/json")
        .header("prefer", "return=representation")
        .body(r#"{"otcm_name":"Outside the batch"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await.unwrap();
    created["versionnumber"].as_u64().unwrap()
}

/// The same with an injected fault: a `respond` rule aimed at the invoice
/// POST answers for that part and rolls its change set back.
#[tokio::test]
async fn an_injected_fault_in_a_change_set_leaves_no_row() {
    let app = app().await;
    let t = token(&app).await;
    let rule = r#"{"api":"dataverse","method":"POST","entity_set":"otcm_inboundinvoices","times":1,"respond":{"status":503}}"#;
    let added = app.control("POST", "/faults", Some(rule)).await;
    assert_eq!(added.status, 201, "{}", added.text);
    let suppliers = rows(&app, "otcm_suppliers").await;
    let invoices = rows(&app, "otcm_inboundinvoices").await;
    let body = || {
        batch_body(&[(
            true,
            vec![
                (Some(1), "POST", "otcm_suppliers", Some(SUPPLIER)),
                (
                    Some(2),
                    "POST",
                    "otcm_inboundinvoices",
                    Some(INVOICE_BOUND_TO_1),
                ),
            ],
        )])
    };
    let r = send_batch(&app, &t, body(), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(statuses(&r.text), vec![503], "{}", r.text);
    assert!(r.text.contains("0x80040216"), "{}", r.text);
    assert_eq!(rows(&app, "otcm_suppliers").await, suppliers);
    assert_eq!(rows(&app, "otcm_inboundinvoices").await, invoices);
    let journal = app
        .control("GET", "/journal?api=dataverse&status=503", None)
        .await
        .json();
    let faulted = &journal["data"][0];
    assert_eq!(faulted["batch_part"], 2);
    assert!(faulted["fault"].is_string());
    // The rule is spent: the same batch now succeeds.
    let r = send_batch(&app, &t, body(), None).await;
    assert_eq!(statuses(&r.text), vec![204, 204], "{}", r.text);
    assert_eq!(
        rows(&app, "otcm_suppliers").await.len(),
        suppliers.len() + 1
    );
}

/// Without `odata.continue-on-error` the batch stops at the first failure;
/// with it, later requests still run.
#[tokio::test]
async fn continue_on_error_runs_the_rest() {
    let app = app().await;
    let t = token(&app).await;
    let body = || {
        batch_body(&[(
            false,
            vec![
                (None, "GET", "otcm_nosuchset", None),
                (None, "GET", "otcm_suppliers?$select=otcm_name", None),
            ],
        )])
    };
    let r = send_batch(&app, &t, body(), None).await;
    assert_eq!(statuses(&r.text), vec![404], "{}", r.text);
    let r = send_batch(&app, &t, body(), Some("odata.continue-on-error")).await;
    assert_eq!(statuses(&r.text), vec![404, 200], "{}", r.text);
    assert_eq!(
        r.header("preference-applied"),
        Some("odata.continue-on-error")
    );
}

/// A rule aimed at a part that drops the connection or cuts the body acts
/// on the whole batch answer; a batch that is not multipart is a 400.
#[tokio::test]
async fn transport_faults_act_on_the_whole_batch() {
    let app = app().await;
    let t = token(&app).await;
    let rule = r#"{"api":"dataverse","method":"GET","entity_set":"otcm_suppliers","times":1,"malformed_body":true}"#;
    assert_eq!(app.control("POST", "/faults", Some(rule)).await.status, 201);
    let body = || {
        batch_body(&[(
            false,
            vec![
                (None, "GET", "teams", None),
                (None, "GET", "otcm_suppliers", None),
            ],
        )])
    };
    let cut = send_batch(&app, &t, body(), None).await;
    let whole = send_batch(&app, &t, body(), None).await;
    // The first answer was cut in half; the second (rule spent) is whole.
    assert!(cut.text.len() < whole.text.len() * 2 / 3, "{}", cut.text);
    assert!(whole.text.ends_with("--\r\n"), "{}", whole.text);
    let r = app
        .client
        .post(app.url("/api/data/v9.2/$batch"))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("multipart/mixed"));
}
