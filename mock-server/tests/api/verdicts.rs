//! the complete journal and the verdicts on what a client did. For
//! every rule, a client misbehaving exactly that way over HTTP gets the
//! finding with its evidence, and the same client done right gets none.
//! Waits are judged on `wall_ms`: the tests move a manual wall clock instead
//! of sleeping.

use std::sync::Arc;
use std::time::Duration;

use mock_server::ManualWall;
use serde_json::{json, Value};

use crate::helpers::*;

const DOC_ID_COLUMN: &str = "otcm_numoradocumentid";

async fn walled() -> (App, Arc<ManualWall>) {
    let wall = ManualWall::new();
    let app = app_with(
        mock_server::MockServer::builder()
            .seed(7)
            .wall_clock(wall.clone()),
    )
    .await;
    (app, wall)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

async fn verdicts(app: &App) -> Value {
    let r = app.control("GET", "/verdicts", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"].clone()
}

/// The findings of one rule.
async fn findings(app: &App, rule: &str) -> Vec<Value> {
    verdicts(app).await["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .cloned()
        .collect()
}

/// The only finding of `rule`, checked for its shape.
async fn one(app: &App, rule: &str, severity: &str) -> Value {
    let found = findings(app, rule).await;
    assert_eq!(found.len(), 1, "{rule}: {found:#?}");
    let f = found[0].clone();
    assert_eq!(f["severity"], severity, "{f}");
    for field in ["message", "advice", "source"] {
        assert!(
            f[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field} in {f}"
        );
    }
    f
}

async fn none(app: &App, rule: &str) {
    let found = findings(app, rule).await;
    assert!(found.is_empty(), "{rule} fired: {found:#?}");
}

async fn journal(app: &App) -> Vec<Value> {
    let r = app.control("GET", "/journal", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"].as_array().unwrap().clone()
}

/// The journal entries a finding names, in evidence order.
async fn evidence(app: &App, finding: &Value) -> Vec<Value> {
    let entries = journal(app).await;
    finding["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|seq| {
            entries
                .iter()
                .find(|e| e["seq"] == *seq)
                .unwrap_or_else(|| panic!("evidence {seq} is not in the journal"))
                .clone()
        })
        .collect()
}

fn statuses(entries: &[Value]) -> Vec<u64> {
    entries
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect()
}

async fn add_fault(app: &App, rule: Value) {
    let r = app
        .control("POST", "/faults", Some(&rule.to_string()))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn settings(app: &App, body: Value) {
    let r = app
        .control("PATCH", "/settings", Some(&body.to_string()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn dv(
    app: &App,
    token: &str,
    method: &str,
    path_and_query: &str,
    body: Option<Value>,
) -> Res {
    let body = body.map(|b| b.to_string());
    app.dataverse(Some(token), method, path_and_query, body, &[])
        .await
}

/// Creates an invoice row as a client would; returns its id.
async fn write_invoice(app: &App, token: &str, row: Value) -> String {
    let r = dv(app, token, "POST", "otcm_inboundinvoices", Some(row)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let entity = r.header("odata-entityid").unwrap();
    entity
        .rsplit_once('(')
        .unwrap()
        .1
        .trim_end_matches(')')
        .to_string()
}

async fn write_line(app: &App, token: &str, invoice: &str, n: u64) {
    let row = json!({
        "otcm_name": format!("line {n}"),
        "otcm_linenumber": n,
        "otcm_InboundInvoiceId@odata.bind": format!("/otcm_inboundinvoices({invoice})"),
    });
    let r = dv(
        app,
        token,
        "POST",
        "otcm_inboundinvoicelineitems",
        Some(row),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

/// Every column the default mapping fills for the seeds' document.
fn full_invoice() -> Value {
    json!({
        "otcm_name": "INV-2026-0142",
        "otcm_invoicenumber": "INV-2026-0142",
        "otcm_invoicedate": "2026-03-18",
        "otcm_duedate": "2026-04-17",
        "otcm_vendorname": "Northwind Traders",
        "otcm_subtotal": 1250.0,
        "otcm_taxamount": 250.0,
        "otcm_invoicetotal": 1500.0,
        DOC_ID_COLUMN: SEED_DOC,
        "otcm_SupplierId@odata.bind": "/otcm_suppliers(11d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f)",
    })
}

async fn succeeded(app: &App, doc: &str, execution_id: &str, record: &str) -> Res {
    app.post(
        &format!("/v1/documents/{doc}/delivery"),
        &callback(
            "succeeded",
            execution_id,
            &format!(r#","external_record_id":"{record}""#),
        ),
    )
    .await
}

// ---------------------------------------------------------------- journal

#[tokio::test]
async fn the_journal_keeps_requests_answers_faults_and_wall_time() {
    let (app, wall) = walled().await;
    add_fault(
        &app,
        json!({"api": "numora", "method": "GET", "path": "/v1/delivery/outbox", "times": 1,
               "respond": {"status": 503}}),
    )
    .await;
    let r = app.get("/v1/delivery/outbox?provider=dynamics365").await;
    assert_eq!(r.status, 503);
    assert!(
        !r.text.contains("injected"),
        "a fault's answer must not tell the client it was injected: {}",
        r.text
    );
    wall.advance(Duration::from_millis(1_500));
    let r = app
        .post(
            &format!("/v1/documents/{OBRIEN_DOC}/delivery"),
            &callback("failed", "e-1", r#","error_code":"crm_429""#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let entries = journal(&app).await;
    let faulted = &entries[0];
    assert!(faulted["fault"].is_string(), "{faulted}");
    assert_eq!(faulted["response"]["status"], 503);
    assert_eq!(faulted["request"]["headers"]["authorization"], "[redacted]");
    assert!(!faulted.to_string().contains(&app.key), "the key leaked");
    assert_eq!(faulted["wall_ms"], json!({"received": 0, "answered": 0}));
    let cb = &entries[1];
    assert_eq!(cb["request"]["body"]["execution_id"], "e-1", "{cb}");
    assert_eq!(cb["response"]["body"]["data"]["status"], "failed", "{cb}");
    assert_eq!(cb["wall_ms"]["received"], 1_500);
    // Old fields and filters are unchanged; `since` pages on.
    assert_eq!(cb["route"], "POST /v1/documents/{id}/delivery");
    let r = app.control("GET", "/journal?since=0", None).await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 1);
    // Wall time never appears in a state dump.
    let dump = app.control("GET", "/state", None).await.text;
    assert!(!dump.contains("wall_ms"), "{dump}");
}

#[tokio::test]
async fn a_dataverse_call_with_an_expired_token_is_journaled_with_its_401() {
    let app = app().await;
    let t = token(&app).await;
    assert_eq!(
        app.control("POST", "/sessions/expire", None).await.status,
        200
    );
    assert_eq!(dv(&app, &t, "GET", "WhoAmI", None).await.status, 401);
    let r = app
        .control("GET", "/journal?api=dataverse&status=401", None)
        .await;
    let entries = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["token_error"], "expired_token");
    assert_eq!(entries[0]["path"], "/api/data/v9.2/WhoAmI");
    assert!(!entries[0].to_string().contains(&t), "the token leaked");
}

#[tokio::test]
async fn a_mark_records_a_run_boundary() {
    let app = app().await;
    let r = app
        .control("POST", "/journal/mark", Some(r#"{"label": "run 2"}"#))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let entries = journal(&app).await;
    assert_eq!(entries[0]["api"], "mark");
    assert_eq!(entries[0]["label"], "run 2");
    assert_eq!(entries[0]["seq"], r.json()["data"]["seq"]);
    let r = app
        .control("POST", "/journal/mark", Some(r#"{"label": 5}"#))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("label"), "{}", r.text);
}

#[tokio::test]
async fn verdicts_answer_findings_and_a_summary() {
    let app = app().await;
    app.get("/v1/delivery/outbox?provider=dynamics365").await;
    let v = verdicts(&app).await;
    assert_eq!(
        v["summary"],
        json!({"error": 0, "warning": 0, "info": 1}),
        "{v}"
    );
    let r = app
        .send("GET", "/_mock/workspaces/nope/verdicts", None, None)
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn journal_truncated_says_the_record_is_partial() {
    let app = app().await;
    settings(&app, json!({"journal_max_entries": 3})).await;
    for _ in 0..3 {
        app.get("/v1/schemas").await;
    }
    none(&app, "journal_truncated").await;
    app.get("/v1/schemas").await;
    let f = one(&app, "journal_truncated", "info").await;
    assert!(f["message"].as_str().unwrap().contains("dropped"), "{f}");
    assert_eq!(journal(&app).await.len(), 3);
    // Clearing starts a fresh record.
    assert_eq!(app.control("DELETE", "/journal", None).await.status, 204);
    none(&app, "journal_truncated").await;
}

// ------------------------------------------------------------ waiting

#[tokio::test]
async fn retry_after_ignored() {
    for waited in [1, 5] {
        let (app, wall) = walled().await;
        add_fault(
            &app,
            json!({"api": "numora", "method": "GET", "path": "/v1/delivery/outbox", "times": 1,
                   "respond": {"status": 429, "retry_after": 5}}),
        )
        .await;
        let path = "/v1/delivery/outbox?provider=dynamics365";
        assert_eq!(app.get(path).await.status, 429);
        wall.advance(secs(waited));
        assert_eq!(app.get(path).await.status, 200);
        if waited < 5 {
            let f = one(&app, "retry_after_ignored", "error").await;
            assert_eq!(statuses(&evidence(&app, &f).await), [429, 200]);
        } else {
            none(&app, "retry_after_ignored").await;
        }
    }
}

#[tokio::test]
async fn retry_after_ignored_on_dataverse_and_not_across_a_run_boundary() {
    let (app, wall) = walled().await;
    let t = token(&app).await;
    add_fault(
        &app,
        json!({"api": "dataverse", "entity_set": "otcm_suppliers", "times": 1,
               "respond": {"status": 429, "retry_after": 3}}),
    )
    .await;
    assert_eq!(
        dv(&app, &t, "GET", "otcm_suppliers", None).await.status,
        429
    );
    wall.advance(secs(1));
    assert_eq!(
        dv(&app, &t, "GET", "otcm_suppliers", None).await.status,
        200
    );
    let f = one(&app, "retry_after_ignored", "error").await;
    assert_eq!(statuses(&evidence(&app, &f).await), [429, 200]);

    let (app, wall) = walled().await;
    let t = token(&app).await;
    add_fault(
        &app,
        json!({"api": "dataverse", "entity_set": "otcm_suppliers", "times": 1,
               "respond": {"status": 429, "retry_after": 3}}),
    )
    .await;
    assert_eq!(
        dv(&app, &t, "GET", "otcm_suppliers", None).await.status,
        429
    );
    app.control("POST", "/journal/mark", Some(r#"{"label":"run 2"}"#))
        .await;
    wall.advance(secs(1));
    assert_eq!(
        dv(&app, &t, "GET", "otcm_suppliers", None).await.status,
        200
    );
    none(&app, "retry_after_ignored").await;
}

#[tokio::test]
async fn retry_without_backoff() {
    for delays in [[1, 1, 1], [1, 2, 4]] {
        let (app, wall) = walled().await;
        add_fault(
            &app,
            json!({"api": "numora", "method": "GET", "document_id": SEED_DOC, "times": 3,
                   "respond": {"status": 500}}),
        )
        .await;
        let path = format!("/v1/documents/{SEED_DOC}/result");
        assert_eq!(app.get(&path).await.status, 500);
        for d in delays {
            wall.advance(secs(d));
            app.get(&path).await;
        }
        if delays == [1, 1, 1] {
            let f = one(&app, "retry_without_backoff", "warning").await;
            assert_eq!(statuses(&evidence(&app, &f).await), [500, 500, 500, 200]);
            assert_eq!(f["document_id"], SEED_DOC);
        } else {
            none(&app, "retry_without_backoff").await;
        }
    }
}

#[tokio::test]
async fn rate_limited() {
    for calls in [2, 3] {
        let app = app().await;
        settings(&app, json!({"rate_limit": 2})).await;
        for _ in 0..calls {
            app.get("/v1/schemas").await;
        }
        if calls == 3 {
            let f = one(&app, "rate_limited", "warning").await;
            assert_eq!(statuses(&evidence(&app, &f).await), [429]);
        } else {
            none(&app, "rate_limited").await;
        }
    }
}

#[tokio::test]
async fn no_request_id() {
    let app = app().await;
    let r = app
        .client
        .get(app.url("/v1/schemas"))
        .bearer_auth(&app.key)
        .header("x-request-id", "c0ffee")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    none(&app, "no_request_id").await;
    app.get("/v1/schemas").await;
    let f = one(&app, "no_request_id", "info").await;
    assert_eq!(f["evidence"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn expired_token_reused() {
    for renew in [false, true] {
        let app = app().await;
        let t = token(&app).await;
        app.control("POST", "/sessions/expire", None).await;
        assert_eq!(dv(&app, &t, "GET", "WhoAmI", None).await.status, 401);
        let next = if renew { token(&app).await } else { t.clone() };
        for _ in 0..2 {
            dv(&app, &next, "GET", "WhoAmI", None).await;
        }
        if renew {
            none(&app, "expired_token_reused").await;
        } else {
            let f = one(&app, "expired_token_reused", "error").await;
            assert_eq!(statuses(&evidence(&app, &f).await), [401, 401, 401]);
        }
    }
}

#[tokio::test]
async fn filter_quote_unescaped() {
    let app = app().await;
    let t = token(&app).await;
    let good = "otcm_suppliers?$filter=otcm_name%20eq%20'O''Brien%20Office%20Supply'";
    assert_eq!(dv(&app, &t, "GET", good, None).await.status, 200);
    none(&app, "filter_quote_unescaped").await;
    let bad = "otcm_suppliers?$filter=otcm_name%20eq%20'O'Brien%20Office%20Supply'";
    assert_eq!(dv(&app, &t, "GET", bad, None).await.status, 400);
    let f = one(&app, "filter_quote_unescaped", "error").await;
    assert_eq!(statuses(&evidence(&app, &f).await), [400]);
}

// ------------------------------------------------------------ delivery

#[tokio::test]
async fn execution_id_reused() {
    let app = app().await;
    let path = format!("/v1/documents/{OBRIEN_DOC}/delivery");
    let first = callback("failed", "n8n-1", r#","error_code":"crm_429""#);
    assert_eq!(app.post(&path, &first).await.status, 201);
    // Replaying the very same data is fine.
    assert_eq!(app.post(&path, &first).await.status, 200);
    let other = callback("failed", "n8n-2", r#","error_code":"crm_500""#);
    assert_eq!(app.post(&path, &other).await.status, 201);
    none(&app, "execution_id_reused").await;
    let reused = callback("failed", "n8n-1", r#","error_code":"crm_500""#);
    assert_eq!(app.post(&path, &reused).await.status, 409);
    let f = one(&app, "execution_id_reused", "error").await;
    assert_eq!(f["document_id"], OBRIEN_DOC);
    assert_eq!(statuses(&evidence(&app, &f).await), [201, 200, 409]);
}

#[tokio::test]
async fn dispatch_refused_retried() {
    for read_between in [false, true] {
        let app = app().await;
        let path = format!("/v1/documents/{SEED_DOC}/dispatch");
        let body = r#"{"provider":"dynamics365"}"#;
        assert_eq!(app.post(&path, body).await.status, 202);
        assert_eq!(app.post(&path, body).await.status, 409);
        if read_between {
            app.get(&format!("/v1/documents/{SEED_DOC}")).await;
        }
        app.post(&path, body).await;
        if read_between {
            none(&app, "dispatch_refused_retried").await;
        } else {
            let f = one(&app, "dispatch_refused_retried", "warning").await;
            assert_eq!(f["document_id"], SEED_DOC);
            assert_eq!(statuses(&evidence(&app, &f).await), [409, 409]);
        }
    }
}

#[tokio::test]
async fn outbox_page_skipped() {
    for follow in [false, true] {
        let app = app().await;
        settings(&app, json!({"outbox_max_page": 1})).await;
        let r = app
            .control("PATCH", "/settings", Some(r#"{"outbox_max_page": 0}"#))
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains("outbox_max_page"), "{}", r.text);
        let r = app.control("PATCH", "/settings", Some("{}")).await;
        assert_eq!(r.json()["data"]["outbox_max_page"], 1);
        let dump = app.control("GET", "/state", None).await.json();
        assert_eq!(
            dump["settings"]["outbox_max_page"], 1,
            "kept in a state dump"
        );
        let mut path = "/v1/delivery/outbox?provider=dynamics365&limit=50".to_string();
        let page = app.get(&path).await.json();
        assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
        let mut cursor = page["meta"]["next_cursor"].clone();
        assert!(cursor.is_string(), "the cap makes a second page: {page}");
        if follow {
            let mut pages = 1;
            while let Some(c) = cursor.as_str() {
                pages += 1;
                assert!(pages <= 10, "the walk ends");
                path = format!("/v1/delivery/outbox?provider=dynamics365&cursor={c}");
                cursor = app.get(&path).await.json()["meta"]["next_cursor"].clone();
            }
            none(&app, "outbox_page_skipped").await;
        } else {
            let found = findings(&app, "outbox_page_skipped").await;
            assert!(!found.is_empty());
            for f in &found {
                assert_eq!(f["severity"], "error");
                let e = evidence(&app, f).await;
                assert_eq!(e[0]["route"], "GET /v1/delivery/outbox");
                assert!(f["document_id"].is_string());
            }
        }
    }
}

#[tokio::test]
async fn mixed_delivery_modes() {
    for route in ["workflow", "n8n_executor"] {
        let app = app().await;
        settings(
            &app,
            json!({"route": route, "n8n_webhook": {"url": "http://127.0.0.1:9/hook", "secret": "s"}}),
        )
        .await;
        let r = app
            .post(
                &format!("/v1/documents/{SEED_DOC}/dispatch"),
                r#"{"provider":"dynamics365"}"#,
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let r = app
            .post(
                &format!("/v1/documents/{SEED_DOC}/delivery"),
                &callback("failed", "n8n-1", r#","error_code":"crm_500""#),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        if route == "workflow" {
            let f = one(&app, "mixed_delivery_modes", "error").await;
            assert_eq!(statuses(&evidence(&app, &f).await), [202, 201]);
        } else {
            none(&app, "mixed_delivery_modes").await;
        }
    }
    // A callback alone (the external executor mode) is fine.
    let app = app().await;
    app.post(
        &format!("/v1/documents/{SEED_DOC}/delivery"),
        &callback("failed", "n8n-1", r#","error_code":"crm_500""#),
    )
    .await;
    none(&app, "mixed_delivery_modes").await;
}

// ------------------------------------------------------------ records

#[tokio::test]
async fn success_without_record() {
    let app = app().await;
    let r = succeeded(
        &app,
        SEED_DOC,
        "n8n-1",
        "99999999-0000-0000-0000-000000000000",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let f = one(&app, "success_without_record", "error").await;
    assert_eq!(f["document_id"], SEED_DOC);

    let app = crate::helpers::app().await;
    let t = token(&app).await;
    let id = write_invoice(&app, &t, full_invoice()).await;
    assert_eq!(succeeded(&app, SEED_DOC, "n8n-1", &id).await.status, 201);
    none(&app, "success_without_record").await;
}

#[tokio::test]
async fn partial_write() {
    for lines in [1, 3] {
        let app = app().await;
        let t = token(&app).await;
        app.get(&format!("/v1/documents/{SEED_DOC}/result")).await;
        let id = write_invoice(&app, &t, full_invoice()).await;
        for n in 1..=lines {
            write_line(&app, &t, &id, n).await;
        }
        succeeded(&app, SEED_DOC, "n8n-1", &id).await;
        if lines == 1 {
            let f = one(&app, "partial_write", "error").await;
            assert_eq!(f["document_id"], SEED_DOC);
            let e = evidence(&app, &f).await;
            assert_eq!(e[0]["path"], "/api/data/v9.2/otcm_inboundinvoices");
            assert_eq!(e[1]["path"], "/api/data/v9.2/otcm_inboundinvoicelineitems");
        } else {
            none(&app, "partial_write").await;
        }
    }
    // A partial invoice that a failed attempt records is allowed.
    let app = app().await;
    let t = token(&app).await;
    let id = write_invoice(&app, &t, full_invoice()).await;
    write_line(&app, &t, &id, 1).await;
    app.post(
        &format!("/v1/documents/{SEED_DOC}/delivery"),
        &callback("failed", "n8n-1", r#","error_code":"crm_429""#),
    )
    .await;
    none(&app, "partial_write").await;
}

#[tokio::test]
async fn duplicate_write() {
    for writes in [1, 2] {
        let app = app().await;
        let t = token(&app).await;
        for _ in 0..writes {
            write_invoice(&app, &t, full_invoice()).await;
        }
        if writes == 2 {
            let f = one(&app, "duplicate_write", "error").await;
            assert_eq!(f["document_id"], SEED_DOC);
            assert_eq!(statuses(&evidence(&app, &f).await), [204, 204]);
        } else {
            none(&app, "duplicate_write").await;
        }
    }
}

#[tokio::test]
async fn incomplete_record() {
    let app = app().await;
    let t = token(&app).await;
    write_invoice(
        &app,
        &t,
        json!({"otcm_name": "INV-2026-0142", DOC_ID_COLUMN: SEED_DOC}),
    )
    .await;
    let f = one(&app, "incomplete_record", "warning").await;
    assert!(
        f["message"].as_str().unwrap().contains("otcm_invoicetotal"),
        "{f}"
    );
    assert_eq!(f["document_id"], SEED_DOC);

    let app = crate::helpers::app().await;
    let t = token(&app).await;
    write_invoice(&app, &t, full_invoice()).await;
    none(&app, "incomplete_record").await;
}

#[tokio::test]
async fn unreported_outcome() {
    for report in [false, true] {
        let app = app().await;
        let t = token(&app).await;
        let mut row = full_invoice();
        // No document-id column: the row is tied to the result read last.
        row.as_object_mut().unwrap().remove(DOC_ID_COLUMN);
        app.get(&format!("/v1/documents/{SEED_DOC}/result")).await;
        let id = write_invoice(&app, &t, row).await;
        if report {
            succeeded(&app, SEED_DOC, "n8n-1", &id).await;
            none(&app, "unreported_outcome").await;
        } else {
            let f = one(&app, "unreported_outcome", "warning").await;
            assert_eq!(f["document_id"], SEED_DOC);
        }
    }
}

#[tokio::test]
async fn a_row_without_any_link_is_reported_as_info() {
    let app = app().await;
    let t = token(&app).await;
    let mut row = full_invoice();
    row.as_object_mut().unwrap().remove(DOC_ID_COLUMN);
    write_invoice(&app, &t, row).await;
    one(&app, "record_unlinked", "info").await;
    none(&app, "unreported_outcome").await;
}

// ------------------------------------------------------------ the fake itself

/// The fake's own workflow passes the rules' spirit: after a mid-write 429
/// its next run completes the partly written invoice (no second invoice).
#[tokio::test]
async fn the_internal_workflow_completes_a_partly_written_invoice() {
    let app = app().await;
    add_fault(
        &app,
        json!({"api": "dataverse", "method": "POST", "entity_set": "otcm_inboundinvoicelineitems",
               "after": 1, "times": 1, "respond": {"status": 429}}),
    )
    .await;
    let dispatch = format!("/v1/documents/{SEED_DOC}/dispatch");
    let body = r#"{"provider":"dynamics365"}"#;
    assert_eq!(app.post(&dispatch, body).await.status, 202);
    app.advance("5s").await;
    assert_eq!(app.status_of(SEED_DOC).await, "push_failed");
    assert_eq!(app.rows("otcm_inboundinvoicelineitems").await.len(), 1);
    let r = app
        .post(
            &format!("/v1/documents/{SEED_DOC}/actions/retry-push"),
            body,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    app.advance("5s").await;
    assert_eq!(app.status_of(SEED_DOC).await, "push_succeeded");
    let invoices: Vec<Value> = app
        .rows("otcm_inboundinvoices")
        .await
        .into_iter()
        .filter(|r| r[DOC_ID_COLUMN] == SEED_DOC)
        .collect();
    assert_eq!(invoices.len(), 1, "one invoice: {invoices:#?}");
    assert_eq!(app.rows("otcm_inboundinvoicelineitems").await.len(), 3);
    let v = verdicts(&app).await;
    assert_eq!(v["summary"]["error"], 0, "{v}");
}

/// For the sweep case "token expired mid-run": a Dataverse fault that expires the
/// caller's session after N calls; the token stays expired.
#[tokio::test]
async fn an_expire_session_fault_expires_the_token_after_n_calls() {
    let app = app().await;
    add_fault(
        &app,
        json!({"api": "dataverse", "after": 1, "times": 1, "expire_session": true}),
    )
    .await;
    let t = token(&app).await;
    assert_eq!(dv(&app, &t, "GET", "WhoAmI", None).await.status, 200);
    let r = dv(&app, &t, "GET", "WhoAmI", None).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    assert_eq!(
        dv(&app, &t, "GET", "WhoAmI", None).await.status,
        401,
        "still expired"
    );
    let fresh = token(&app).await;
    assert_eq!(dv(&app, &fresh, "GET", "WhoAmI", None).await.status, 200);
    none(&app, "expired_token_reused").await;
    let refused = app
        .control("GET", "/journal?api=dataverse&status=401", None)
        .await
        .json();
    let refused = refused["data"].as_array().unwrap();
    assert_eq!(refused.len(), 2);
    assert!(refused[0]["fault"].is_string());
    assert_eq!(refused[0]["token_error"], "expired_token");
    assert_eq!(refused[1]["token_error"], "expired_token");
    let r = app
        .control(
            "POST",
            "/faults",
            Some(r#"{"api":"numora","expire_session":true}"#),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("expire_session"), "{}", r.text);
}

/// With a frozen clock, a script that moves virtual time by the retry-after
/// stands for the wait.
#[tokio::test]
async fn a_frozen_clock_counts_virtual_waits() {
    for advance in ["1s", "5s"] {
        let wall = ManualWall::new();
        let app = app_with(
            mock_server::MockServer::builder()
                .seed(7)
                .clock(mock_server::ClockMode::Frozen)
                .wall_clock(wall.clone()),
        )
        .await;
        add_fault(
            &app,
            json!({"api": "numora", "method": "GET", "path": "/v1/schemas", "times": 1,
                   "respond": {"status": 429, "retry_after": 5}}),
        )
        .await;
        assert_eq!(app.get("/v1/schemas").await.status, 429);
        app.advance(advance).await;
        assert_eq!(app.get("/v1/schemas").await.status, 200);
        if advance == "5s" {
            none(&app, "retry_after_ignored").await;
        } else {
            one(&app, "retry_after_ignored", "error").await;
        }
    }
}
