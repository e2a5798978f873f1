//! Seed 000 / Polling Reviewed Documents: the outbox.

use std::collections::BTreeSet;

use crate::helpers::*;

const OUTBOX: &str = "/v1/delivery/outbox?provider=dynamics365";

#[tokio::test]
async fn lists_reviewed_finalized_documents_in_the_seeds_shape() {
    let app = app().await;
    let body = app.get(&format!("{OUTBOX}&limit=100")).await.json();
    let items = body["data"].as_array().unwrap();
    let ids: Vec<&str> = items
        .iter()
        .map(|i| i["document_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            SEED_DOC,
            "9d0c6f1a-52e4-4b7e-8a31-6f2d0b9c4e17",
            ACME_DOC,
            OBRIEN_DOC,
            FAILED_PUSH_DOC
        ]
    );
    let first = &items[0];
    let keys: BTreeSet<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "document_id",
            "schema",
            "status",
            "external_id",
            "metadata",
            "result_url",
            "dispatch_url",
            "updated_at"
        ])
    );
    assert_eq!(first["updated_at"], "2026-03-24T02:36:37.684Z");
    assert_eq!(body["meta"]["provider"], "dynamics365");
    assert_eq!(body["meta"]["next_cursor"], serde_json::Value::Null);
    for excluded in [
        PENDING_DOC,
        SUCCEEDED_DOC,
        REVIEW_DOC,
        NOT_FINAL_DOC,
        RECEIPT_DOC,
    ] {
        assert!(!ids.contains(&excluded), "{excluded} must not be listed");
    }
}

#[tokio::test]
async fn limit_provider_and_cursor_are_validated() {
    let app = app().await;
    app.get(&format!("{OUTBOX}&limit=0"))
        .await
        .assert_error(422, "invalid_payload");
    app.get(&format!("{OUTBOX}&limit=101"))
        .await
        .assert_error(422, "invalid_payload");
    app.get(&format!("{OUTBOX}&limit=ten"))
        .await
        .assert_error(400, "invalid_payload");
    app.get("/v1/delivery/outbox?provider=salesforce")
        .await
        .assert_error(422, "invalid_payload");
    app.get(&format!("{OUTBOX}&cursor=cur_zzzz"))
        .await
        .assert_error(400, "invalid_payload");
    app.get(&format!("{OUTBOX}&cursor=not-a-cursor"))
        .await
        .assert_error(400, "invalid_payload");
}

#[tokio::test]
async fn dispatched_documents_leave_the_outbox() {
    let app = app().await;
    assert_eq!(
        app.post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
            .await
            .status,
        202
    );
    let body = app.get(&format!("{OUTBOX}&limit=100")).await.json();
    assert!(!body["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["document_id"] == SEED_DOC));
}

/// A walk page by page while other documents change state neither repeats
/// nor skips a document that stays eligible.
#[tokio::test]
async fn a_page_walk_has_no_repeat_and_no_gap_while_documents_change() {
    let app = app().await;
    // 30 more eligible documents.
    for n in 0..30 {
        let doc = format!(
            r#"{{"id":"walk-{n:02}","schema":"invoice_v2","status":"reviewed","finalized":true,"updated_at":"2026-03-24T0{}:{:02}:00.000Z","fields":{{"vendor_name":"Northwind Traders"}}}}"#,
            n % 8,
            n
        );
        let r = app.control("POST", "/documents", Some(&doc)).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let before: BTreeSet<String> = {
        let body = app.get(&format!("{OUTBOX}&limit=100")).await.json();
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["document_id"].as_str().unwrap().to_string())
            .collect()
    };
    let mut seen: Vec<String> = Vec::new();
    let mut touched: BTreeSet<String> = BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut page_no = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("{OUTBOX}&limit=4&cursor={c}"),
            None => format!("{OUTBOX}&limit=4"),
        };
        let body = app.get(&q).await.json();
        let items = body["data"].as_array().unwrap();
        assert!(items.len() <= 4);
        seen.extend(
            items
                .iter()
                .map(|i| i["document_id"].as_str().unwrap().to_string()),
        );
        // Between pages: dispatch one not-yet-seen document and edit another
        // (both leave the outbox), so the set changes under the walk.
        let unseen: Vec<String> = before
            .iter()
            .filter(|d| !seen.contains(d) && !touched.contains(*d))
            .cloned()
            .collect();
        if page_no % 2 == 0 {
            if let Some(d) = unseen.first() {
                let r = app.post(&format!("/v1/documents/{d}/dispatch"), "{}").await;
                assert_eq!(r.status, 202, "{}", r.text);
                touched.insert(d.clone());
            }
        } else if let Some(d) = unseen.last() {
            let r = app
                .control(
                    "PATCH",
                    &format!("/documents/{d}"),
                    Some(r#"{"fields":{"vendor_name":"Contoso Office Furniture"}}"#),
                )
                .await;
            assert_eq!(r.status, 200);
            touched.insert(d.clone());
        }
        page_no += 1;
        assert!(page_no < 50, "the walk ends");
        match body["meta"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "no document is listed twice: {seen:?}"
    );
    for d in before.difference(&touched) {
        assert!(
            unique.contains(d),
            "{d} stayed eligible and must not be skipped"
        );
    }
    // Touched documents were unseen when they left the outbox (dispatched or
    // sent back to review), so a later page must not list them.
    assert!(!touched.is_empty());
    for d in &touched {
        assert!(!unique.contains(d), "{d} left the outbox but was listed");
    }
}

#[tokio::test]
async fn a_page_that_holds_the_rest_has_no_next_cursor() {
    let app = app().await;
    // Five eligible documents: a page of five is the whole outbox.
    let whole = app.get(&format!("{OUTBOX}&limit=5")).await.json();
    assert_eq!(whole["data"].as_array().unwrap().len(), 5);
    assert!(whole["meta"]["next_cursor"].is_null(), "{whole}");
    // Pages of four and one: the second ends the walk.
    let first = app.get(&format!("{OUTBOX}&limit=4")).await.json();
    assert_eq!(first["data"].as_array().unwrap().len(), 4);
    let cursor = first["meta"]["next_cursor"]
        .as_str()
        .expect("a second page");
    let second = app
        .get(&format!("{OUTBOX}&limit=4&cursor={cursor}"))
        .await
        .json();
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert!(second["meta"]["next_cursor"].is_null(), "{second}");
}
