//! the state dump loads into a fresh server and answers the same reads.

use crate::helpers::*;

#[tokio::test]
async fn a_dump_loaded_into_a_fresh_server_answers_reads_byte_for_byte() {
    let app = app().await;
    // Some history: a dispatch that writes Dataverse rows, a callback, a new document.
    assert_eq!(
        app.post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
            .await
            .status,
        202
    );
    assert_eq!(
        app.post(
            &format!("/v1/documents/{OBRIEN_DOC}/delivery"),
            &callback("failed", "e-1", "")
        )
        .await
        .status,
        201
    );
    let created = app
        .post(
            "/v1/documents",
            r#"{"schema":"invoice_v2","file_url":"https://example.com/z.pdf"}"#,
        )
        .await;
    let new_doc = created.json()["data"]["id"].as_str().unwrap().to_string();
    for _ in 0..8 {
        app.get("/v1/schemas").await;
    }
    let run_id = app
        .get(&format!("/v1/documents/{SEED_DOC}/delivery"))
        .await
        .json()["data"][0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let dump = app.control("GET", "/state", None).await;
    assert_eq!(dump.status, 200);
    assert!(
        !dump.text.contains("mock-client-secret-never-returned"),
        "no secret in the dump"
    );

    let fresh = app_with(
        mock_server::MockServer::builder()
            .fixtures_yaml(dump.text.clone())
            .clock(mock_server::ClockMode::Frozen),
    )
    .await;
    let original = {
        let r = app
            .control("PATCH", "/clock", Some(r#"{"mode":"frozen"}"#))
            .await;
        assert_eq!(r.status, 200);
        &app
    };
    let reads = [
        format!("/v1/documents/{SEED_DOC}"),
        format!("/v1/documents/{SEED_DOC}/delivery"),
        format!("/v1/documents/{OBRIEN_DOC}/delivery"),
        format!("/v1/documents/{new_doc}"),
        format!("/v1/runs/{run_id}"),
        format!("/v1/runs/{run_id}/logs"),
        "/v1/delivery/outbox?provider=dynamics365&limit=100".to_string(),
        "/v1/workflows".to_string(),
        "/v1/destinations".to_string(),
    ];
    for path in &reads {
        let a = original.get(path).await;
        let b = fresh.get(path).await;
        assert_eq!(
            (a.status, &a.text),
            (b.status, &b.text),
            "{path} differs after loading the dump"
        );
    }
    for table in [
        "otcm_inboundinvoices",
        "otcm_inboundinvoicelineitems",
        "otcm_suppliers",
    ] {
        let a = original
            .control("GET", &format!("/dataverse/{table}"), None)
            .await;
        let b = fresh
            .control("GET", &format!("/dataverse/{table}"), None)
            .await;
        assert_eq!(a.text, b.text, "Dataverse rows of {table} differ");
        assert_eq!(a.status, 200);
    }
    // Dumping the loaded world again gives the same dump.
    let again = fresh.control("GET", "/state", None).await.text;
    let first = original.control("GET", "/state", None).await.text;
    let diff: Vec<(&str, &str)> = first
        .lines()
        .zip(again.lines())
        .filter(|(a, b)| a != b)
        .take(5)
        .collect();
    assert!(
        diff.is_empty() && first.lines().count() == again.lines().count(),
        "re-dump differs: {diff:?}"
    );
}
