//! Seed 000: dispatch, its 409 rules, the status machine on the virtual clock,
//! and the Dynamics session.

use crate::helpers::*;

fn path(doc: &str) -> String {
    format!("/v1/documents/{doc}/dispatch")
}

#[tokio::test]
async fn dispatch_answers_202_with_the_seeds_body() {
    let app = app().await;
    let r = app
        .post(&path(SEED_DOC), r#"{"provider": "dynamics365"}"#)
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let body = r.json();
    let data = &body["data"];
    assert_eq!(data["id"], SEED_DOC);
    assert_eq!(data["schema"], "invoice_v2");
    assert_eq!(data["status"], "push_pending");
    assert_eq!(data["external_id"], serde_json::Value::Null);
    assert_eq!(data["metadata"], serde_json::json!({}));
    assert_eq!(
        data["review_state"]["confirmed_general_field_names"],
        serde_json::json!(["invoice_number"])
    );
    assert_eq!(data["duplicate_of"], serde_json::Value::Null);
    assert_eq!(data["created_at"], "2026-03-20T20:25:04.644Z");
    assert_eq!(data["status_url"], format!("/v1/documents/{SEED_DOC}"));
    assert_eq!(
        data["result_url"],
        format!("/v1/documents/{SEED_DOC}/result")
    );
    assert_eq!(
        data["dispatch_url"],
        format!("/v1/documents/{SEED_DOC}/dispatch")
    );
    let run_id = body["meta"]["run_id"].as_str().unwrap();
    assert!(run_id.starts_with("run_"));
    let run = app.get(&format!("/v1/runs/{run_id}")).await.json();
    assert_eq!(run["data"]["status"], "queued");
}

#[tokio::test]
async fn a_second_dispatch_while_pending_is_409() {
    let app = app().await;
    assert_eq!(app.post(&path(SEED_DOC), "{}").await.status, 202);
    app.post(&path(SEED_DOC), "{}")
        .await
        .assert_error(409, "conflict");
    app.post(&path(PENDING_DOC), "{}")
        .await
        .assert_error(409, "conflict");
    app.post(&path(SUCCEEDED_DOC), "{}")
        .await
        .assert_error(409, "conflict");
}

#[tokio::test]
async fn dispatch_needs_a_reviewed_and_finalized_document() {
    let app = app().await;
    app.post(&path(REVIEW_DOC), "{}")
        .await
        .assert_error(409, "conflict");
    app.post(&path(NOT_FINAL_DOC), "{}")
        .await
        .assert_error(409, "conflict");
    app.post(&path("doc_nope"), "{}")
        .await
        .assert_error(404, "not_found");
    app.post(&path(SEED_DOC), r#"{"provider":"hubspot"}"#)
        .await
        .assert_error(422, "invalid_payload");
}

#[tokio::test]
async fn dispatch_without_an_active_workflow_is_409() {
    let app = app().await;
    // No destination takes receipt_v1.
    app.post(&path(RECEIPT_DOC), "{}")
        .await
        .assert_error(409, "conflict");
    let r = app
        .control(
            "PATCH",
            "/workflows/wf_01jpx8t0v5lg1sq3wy6c5c7h2x",
            Some(r#"{"status":"inactive"}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let err = app
        .post(&path(SEED_DOC), "{}")
        .await
        .assert_error(409, "conflict");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("workflow"));
    assert_eq!(app.status_of(SEED_DOC).await, "reviewed");
}

#[tokio::test]
async fn the_run_completes_on_the_virtual_clock() {
    let app = app_with(
        mock_server::MockServer::builder()
            .seed(7)
            .clock(mock_server::ClockMode::Frozen),
    )
    .await;
    let r = app.post(&path(FAILED_PUSH_DOC), "{}").await;
    assert_eq!(r.status, 202);
    let run_id = r.json()["meta"]["run_id"].as_str().unwrap().to_string();
    // Frozen clock: nothing happens until time moves.
    assert_eq!(app.status_of(FAILED_PUSH_DOC).await, "push_pending");
    assert_eq!(app.status_of(FAILED_PUSH_DOC).await, "push_pending");
    app.advance("2s").await;
    let status = app.status_of(FAILED_PUSH_DOC).await;
    assert!(
        status == "push_succeeded" || status == "push_failed",
        "left push_pending: {status}"
    );
    let run = app.get(&format!("/v1/runs/{run_id}")).await.json();
    assert!(run["data"]["finished_at"].is_string());
    let attempts = app
        .get(&format!("/v1/documents/{FAILED_PUSH_DOC}/delivery"))
        .await
        .json();
    assert_eq!(attempts["data"][0]["source"], "dispatch");
    assert_eq!(attempts["data"][0]["run_id"], run_id.as_str());
}

#[tokio::test]
async fn an_injected_409_on_dispatch_answers_in_the_envelope_once() {
    let app = app().await;
    let rule = r#"{"api":"numora","method":"POST","path":"/v1/documents/*/dispatch","times":1,"respond":{"status":409}}"#;
    assert_eq!(app.control("POST", "/faults", Some(rule)).await.status, 201);
    app.post(&path(SEED_DOC), "{}")
        .await
        .assert_error(409, "conflict");
    assert_eq!(app.status_of(SEED_DOC).await, "reviewed");
    assert_eq!(app.post(&path(SEED_DOC), "{}").await.status, 202);
}

#[tokio::test]
async fn the_session_has_the_seeds_shape_and_never_the_secret() {
    let app = app().await;
    let r = app.post("/v1/dynamics/session", "{}").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains("secret"), "no secret in {}", r.text);
    let d = &r.json()["data"];
    let origin = app.server.url();
    assert_eq!(d["provider"], "dynamics365");
    assert_eq!(d["token_type"], "Bearer");
    assert!(d["access_token"].as_str().unwrap().len() > 20);
    assert_eq!(d["organization_url"], origin.as_str());
    assert_eq!(d["organization_origin"], origin.as_str());
    assert_eq!(d["api_base_url"], format!("{origin}/api/data/v9.2"));
    assert_eq!(d["connection"]["id"], "conn_123");
    assert_eq!(d["connection"]["status"], "active");
    assert!(d["connection"]["tenant_id"].is_string() && d["connection"]["client_id"].is_string());
    assert!(d["expires_at"].as_str().unwrap().ends_with('Z'));
    app.post("/v1/dynamics/session", r#"{"connection_id":"conn_nope"}"#)
        .await
        .assert_error(404, "not_found");
    app.control(
        "PATCH",
        "/connections/conn_123",
        Some(r#"{"status":"inactive"}"#),
    )
    .await;
    app.post("/v1/dynamics/session", "{}")
        .await
        .assert_error(409, "conflict");
}

/// An edit after dispatch sends the document back to review; the queued run
/// then writes nothing and fails with `document_not_finalized`.
#[tokio::test]
async fn a_run_whose_document_was_edited_after_dispatch_writes_nothing() {
    let app = app_with(
        mock_server::MockServer::builder()
            .seed(7)
            .clock(mock_server::ClockMode::Frozen),
    )
    .await;
    let r = app.post(&path(SEED_DOC), "{}").await;
    let run_id = r.json()["meta"]["run_id"].as_str().unwrap().to_string();
    let edit = app
        .control(
            "PATCH",
            &format!("/documents/{SEED_DOC}"),
            Some(r#"{"fields":{"invoice_total":1.0}}"#),
        )
        .await;
    assert_eq!(edit.status, 200);
    app.advance("2s").await;
    assert_eq!(app.status_of(SEED_DOC).await, "review_required");
    let run = app.get(&format!("/v1/runs/{run_id}")).await.json();
    assert_eq!(run["data"]["status"], "failed");
    assert_eq!(run["data"]["error"]["code"], "document_not_finalized");
    let attempts = app
        .get(&format!("/v1/documents/{SEED_DOC}/delivery"))
        .await
        .json();
    assert_eq!(attempts["data"], serde_json::json!([]));
    assert!(app.rows("otcm_inboundinvoices").await.is_empty());
}
