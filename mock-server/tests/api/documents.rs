//! Documents: create (202, idempotent on external_id), read, result, review.

use crate::helpers::*;

#[tokio::test]
async fn create_is_202_processing_then_review_required_on_the_clock() {
    let app = app_with(
        mock_server::MockServer::builder()
            .seed(7)
            .clock(mock_server::ClockMode::Frozen),
    )
    .await;
    let body = r#"{"schema":"invoice_v2","file_url":"https://example.com/invoice-001.pdf","external_id":"ap-900001","metadata":{"source":"email-import"}}"#;
    let r = app.post("/v1/documents", body).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let doc = r.json()["data"].clone();
    let id = doc["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("doc_") && id.len() == 30, "{id}");
    assert_eq!(doc["status"], "processing");
    assert_eq!(doc["status_url"], format!("/v1/documents/{id}"));
    assert_eq!(doc["metadata"]["source"], "email-import");
    app.get(&format!("/v1/documents/{id}/result"))
        .await
        .assert_error(409, "conflict");
    // Same external_id and schema: the existing document, 200, nothing new.
    let again = app.post("/v1/documents", body).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["data"]["id"], id.as_str());
    app.advance("5s").await;
    assert_eq!(app.status_of(&id).await, "review_required");
    let result = app.get(&format!("/v1/documents/{id}/result")).await.json();
    assert!(result["data"]["data"]["fields"]["vendor_name"]["value"].is_string());
    assert_eq!(result["data"]["data"]["line_items"][0]["id"], "li_1");
}

#[tokio::test]
async fn an_unknown_schema_is_422_invalid_schema_with_the_documented_message() {
    let app = app().await;
    let r = app
        .post(
            "/v1/documents",
            r#"{"schema":"invoice_v9","file_url":"https://example.com/a.pdf"}"#,
        )
        .await;
    let err = r.assert_error(422, "invalid_schema");
    assert_eq!(
        err["error"]["message"],
        "schema must be one of invoice_v2, receipt_v1, contract_v1"
    );
    app.post(
        "/v1/documents",
        r#"{"file_url":"https://example.com/a.pdf"}"#,
    )
    .await
    .assert_error(400, "invalid_payload");
    app.post(
        "/v1/documents",
        r#"{"schema":"invoice_v2","file_url":"https://example.com/a.docx"}"#,
    )
    .await
    .assert_error(422, "unsupported_file_type");
}

#[tokio::test]
async fn the_result_has_fields_and_line_items_where_the_seeds_read_them() {
    let app = app().await;
    let body = app
        .get(&format!("/v1/documents/{SEED_DOC}/result"))
        .await
        .json();
    let data = &body["data"];
    assert_eq!(data["id"], SEED_DOC);
    assert_eq!(
        data["data"]["fields"]["invoice_number"]["value"],
        "INV-2026-0142"
    );
    assert_eq!(
        data["data"]["fields"]["vendor_name"]["value"],
        "Northwind Traders"
    );
    assert!(data["data"]["fields"]["vendor_name"]["confidence"].is_number());
    let items = data["data"]["line_items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for key in [
        "id",
        "description",
        "quantity",
        "unit_price",
        "amount",
        "tax_code",
    ] {
        assert!(items[0].get(key).is_some(), "line item has {key}");
    }
}

#[tokio::test]
async fn approve_uses_optimistic_concurrency_and_normalises_review_state() {
    let app = app().await;
    let doc = app.get(&format!("/v1/documents/{REVIEW_DOC}")).await.json();
    let updated_at = doc["data"]["updated_at"].as_str().unwrap().to_string();
    let stale = r#"{"expected_updated_at":"2020-01-01T00:00:00.000Z","review_state":null}"#;
    app.post(
        &format!("/v1/documents/{REVIEW_DOC}/actions/approve"),
        stale,
    )
    .await
    .assert_error(409, "conflict");
    let body = format!(
        r#"{{"expected_updated_at":"{updated_at}","review_state":{{"version":1,"confirmed_general_field_names":[],"confirmed_line_item_ids":[]}}}}"#
    );
    let r = app
        .post(
            &format!("/v1/documents/{REVIEW_DOC}/actions/approve"),
            &body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["status"], "reviewed");
    assert_eq!(
        r.json()["data"]["review_state"],
        serde_json::Value::Null,
        "both arrays empty ⇒ null"
    );
    // Now reviewed and finalized: eligible.
    let outbox = app
        .get("/v1/delivery/outbox?provider=dynamics365&limit=100")
        .await
        .json();
    assert!(outbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["document_id"] == REVIEW_DOC));
    // Approving twice is a state conflict.
    app.post(
        &format!("/v1/documents/{REVIEW_DOC}/actions/approve"),
        &body,
    )
    .await
    .assert_error(409, "conflict");
}

#[tokio::test]
async fn editing_a_finalized_document_sends_it_back_to_review() {
    let app = app().await;
    let r = app
        .control(
            "PATCH",
            &format!("/documents/{SEED_DOC}"),
            Some(r#"{"fields":{"invoice_total":1600.0}}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["finalized"], false);
    assert_eq!(app.status_of(SEED_DOC).await, "review_required");
    app.post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
        .await
        .assert_error(409, "conflict");
}

#[tokio::test]
async fn reject_fails_the_document_and_retry_push_needs_push_failed() {
    let app = app().await;
    let r = app
        .post(
            &format!("/v1/documents/{REVIEW_DOC}/actions/reject"),
            r#"{"reason":"duplicate"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["status"], "failed");
    app.post(
        &format!("/v1/documents/{SEED_DOC}/actions/retry-push"),
        "{}",
    )
    .await
    .assert_error(409, "conflict");
    let r = app
        .post(
            &format!("/v1/documents/{FAILED_PUSH_DOC}/actions/retry-push"),
            "{}",
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(r.json()["meta"]["run_id"]
        .as_str()
        .unwrap()
        .starts_with("run_"));
}

#[tokio::test]
async fn a_rejected_document_keeps_its_result_and_a_failed_extraction_has_none() {
    let app = app_with(
        mock_server::MockServer::builder()
            .seed(7)
            .clock(mock_server::ClockMode::Frozen),
    )
    .await;
    // Rejected in review: failed, but the extraction is still there.
    let r = app
        .post(
            &format!("/v1/documents/{REVIEW_DOC}/actions/reject"),
            r#"{"reason":"duplicate"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let result = app.get(&format!("/v1/documents/{REVIEW_DOC}/result")).await;
    assert_eq!(result.status, 200, "{}", result.text);
    assert!(result.json()["data"]["data"]["fields"].is_object());

    // Processing that fails leaves no result: 409 naming the reason.
    let processing = "doc_01jq0a7x2m5k8p3r6t9v1w4y7z";
    let r = app
        .control(
            "PATCH",
            &format!("/documents/{processing}"),
            Some(r#"{"processing":"fail"}"#),
        )
        .await;
    assert_eq!(r.status, 200);
    app.advance("5s").await;
    assert_eq!(app.status_of(processing).await, "failed");
    let err = app
        .get(&format!("/v1/documents/{processing}/result"))
        .await
        .assert_error(409, "conflict");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("failed processing"),
        "{err}"
    );
}

#[tokio::test]
async fn a_file_url_is_judged_by_its_scheme_and_its_last_path_segment() {
    let app = app().await;
    for url in [
        // No extension in the last segment: nothing to judge, accepted.
        "https://example.com/download",
        "http://example.com/files/7?format=docx",
        // A supported extension, any case; the query is not the path.
        "https://example.com/scan.PDF?sig=a.b",
        "https://example.com/photo.heic#page=1",
    ] {
        let body = format!(r#"{{"schema":"invoice_v2","file_url":"{url}"}}"#);
        let r = app.post("/v1/documents", &body).await;
        assert_eq!(r.status, 202, "{url}: {}", r.text);
    }
    for url in ["ftp://example.com/a.pdf", "example.com/a.pdf"] {
        let body = format!(r#"{{"schema":"invoice_v2","file_url":"{url}"}}"#);
        app.post("/v1/documents", &body)
            .await
            .assert_error(422, "invalid_payload");
    }
}

#[tokio::test]
async fn review_state_must_name_fields_and_line_items_of_the_result() {
    let app = app().await;
    let doc = app.get(&format!("/v1/documents/{REVIEW_DOC}")).await.json();
    let updated_at = doc["data"]["updated_at"].as_str().unwrap().to_string();
    let result = app
        .get(&format!("/v1/documents/{REVIEW_DOC}/result"))
        .await
        .json();
    let item = result["data"]["data"]["line_items"][0]["id"]
        .as_str()
        .expect("the document has line items")
        .to_string();
    let field = result["data"]["data"]["fields"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .expect("the document has fields")
        .clone();
    let approve = |fields: &str, items: &str| {
        format!(
            r#"{{"expected_updated_at":"{updated_at}","review_state":{{"version":1,"confirmed_general_field_names":[{fields}],"confirmed_line_item_ids":[{items}]}}}}"#
        )
    };
    let path = format!("/v1/documents/{REVIEW_DOC}/actions/approve");
    for (body, names) in [
        (approve("", r#""li_404""#), "confirmed_line_item_ids"),
        (
            approve(r#""no_such_field""#, ""),
            "confirmed_general_field_names",
        ),
    ] {
        let err = app
            .post(&path, &body)
            .await
            .assert_error(422, "invalid_payload");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(names),
            "{err}"
        );
    }
    assert_eq!(app.status_of(REVIEW_DOC).await, "review_required");
    let r = app
        .post(
            &path,
            &approve(&format!(r#""{field}""#), &format!(r#""{item}""#)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let state = &r.json()["data"]["review_state"];
    assert_eq!(
        state["confirmed_line_item_ids"][0],
        item.as_str(),
        "{state}"
    );
    assert_eq!(
        state["confirmed_general_field_names"][0],
        field.as_str(),
        "{state}"
    );
}
