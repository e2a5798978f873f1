//! uploads, schemas, destinations, mappings, workflows and runs.

use crate::helpers::*;
use serde_json::json;

const DST: &str = "dst_01jpx4m4j2j6x9j2k6r1m9aa0v";
const WF: &str = "wf_01jpx8t0v5lg1sq3wy6c5c7h2x";

async fn upload(app: &App, filename: &str, content_type: &str, size: usize) -> Res {
    let mut body = Vec::new();
    body.extend_from_slice(
        b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"schema\"\r\n\r\nreceipt_v1\r\n",
    );
    body.extend_from_slice(
        format!("--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes(),
    );
    body.extend(std::iter::repeat_n(b'x', size));
    body.extend_from_slice(b"\r\n--BOUNDARY--\r\n");
    let res = app
        .client
        .post(app.url("/v1/documents"))
        .bearer_auth(&app.key)
        .header("content-type", "multipart/form-data; boundary=BOUNDARY")
        .body(body)
        .send()
        .await
        .unwrap();
    Res::read(res).await
}

#[tokio::test]
async fn multipart_uploads_check_format_and_size() {
    let app = app().await;
    let r = upload(&app, "receipt.png", "image/png", 1024).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.json()["data"]["schema"], "receipt_v1");
    upload(&app, "notes.txt", "text/plain", 10)
        .await
        .assert_error(422, "unsupported_file_type");
    let r = upload(&app, "huge.pdf", "application/pdf", 30 * 1024 * 1024 + 1).await;
    let err = r.assert_error(422, "file_too_large");
    assert_eq!(err["error"]["message"], "file size exceeds the 30 MB limit");
}

#[tokio::test]
async fn every_schema_gets_a_deterministic_result() {
    let app = app_with(
        mock_server::MockServer::builder()
            .seed(7)
            .clock(mock_server::ClockMode::Frozen),
    )
    .await;
    for (schema, field) in [
        ("invoice_v2", "vendor_name"),
        ("receipt_v1", "merchant_name"),
        ("contract_v1", "party_b"),
    ] {
        let r = app
            .post(
                "/v1/documents",
                &format!(
                    r#"{{"schema":"{schema}","file_url":"https://example.com/{schema}.pdf"}}"#
                ),
            )
            .await;
        assert_eq!(r.status, 202);
        let id = r.json()["data"]["id"].as_str().unwrap().to_string();
        app.advance("5s").await;
        let result = app.get(&format!("/v1/documents/{id}/result")).await.json();
        assert!(
            result["data"]["data"]["fields"][field]["value"].is_string(),
            "{schema}: {result}"
        );
    }
}

#[tokio::test]
async fn processing_can_be_made_to_fail() {
    let app = app_with(
        mock_server::MockServer::builder()
            .seed(7)
            .clock(mock_server::ClockMode::Frozen),
    )
    .await;
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
}

#[tokio::test]
async fn schemas_are_the_documented_three() {
    let app = app().await;
    let body = app.get("/v1/schemas").await.json();
    assert_eq!(
        body,
        json!({"data": [
            {"id": "invoice_v2", "label": "Invoice", "status": "active"},
            {"id": "receipt_v1", "label": "Receipt", "status": "active"},
            {"id": "contract_v1", "label": "Contract", "status": "active"}
        ]})
    );
}

#[tokio::test]
async fn destinations_keep_credentials_write_only_and_test_calls_whoami() {
    let app = app().await;
    let r = app
        .post("/v1/destinations", r#"{"provider":"dynamics365","display_name":"Ops Dataverse","credentials":{"client_secret":"top-secret-value"}}"#)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!r.text.contains("top-secret-value"));
    let d = r.json()["data"].clone();
    assert!(d["id"].as_str().unwrap().starts_with("dst_"));
    assert_eq!(d["has_credentials"], true);
    let list = app.get("/v1/destinations").await;
    assert!(!list.text.contains("secret"), "{}", list.text);
    assert_eq!(list.json()["data"].as_array().unwrap().len(), 2);
    app.post(
        "/v1/destinations",
        r#"{"provider":"excel","display_name":"x"}"#,
    )
    .await
    .assert_error(422, "invalid_payload");
    app.post("/v1/destinations", r#"{"provider":"dynamics365"}"#)
        .await
        .assert_error(400, "invalid_payload");

    let test = app
        .post(&format!("/v1/destinations/{DST}/test"), "{}")
        .await
        .json();
    assert_eq!(test["data"]["status"], "succeeded", "{test}");
    assert!(test["data"]["details"]["whoami"]["UserId"].is_string());
    let whoami = app
        .control(
            "GET",
            "/journal/count?api=dataverse&path=/api/data/v9.2/WhoAmI",
            None,
        )
        .await
        .json();
    assert_eq!(whoami["data"]["count"], 1, "the test really calls WhoAmI");
    app.control("POST", "/faults", Some(r#"{"api":"dataverse","path":"/api/data/v9.2/WhoAmI","times":1,"respond":{"status":401}}"#)).await;
    let test = app
        .post(&format!("/v1/destinations/{DST}/test"), "{}")
        .await
        .json();
    assert_eq!(test["data"]["status"], "failed");
    assert_eq!(test["data"]["details"]["error"]["http_status"], 401);
    app.post("/v1/destinations/dst_nope/test", "{}")
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn a_mapping_put_changes_what_dispatch_writes() {
    let app = app().await;
    let current = app.get(&format!("/v1/mappings/invoice_v2/{DST}")).await;
    assert_eq!(current.status, 200, "{}", current.text);
    let mut mapping = current.json()["data"].clone();
    assert_eq!(
        mapping["record"]["columns"]["otcm_vendorname"],
        "fields.vendor_name.value"
    );
    // Unknown source paths are refused.
    let mut bad = mapping.clone();
    bad["record"]["columns"]["otcm_vendorname"] = json!("fields.vendor_colour.value");
    let err = app
        .put(&format!("/v1/mappings/invoice_v2/{DST}"), &bad.to_string())
        .await;
    let body = err.assert_error(422, "invalid_payload");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("vendor_colour"));
    for broken in [
        json!({"record": 5}),
        json!({"record": null}),
        json!({"record": {"columns": {}}, "supplier": {"source": {}}}),
        json!({"record": {"entity_set": 7}}),
    ] {
        let r = app
            .put(
                &format!("/v1/mappings/invoice_v2/{DST}"),
                &broken.to_string(),
            )
            .await;
        assert!(r.status == 422 || r.status == 400, "{broken}: {}", r.text);
    }
    // Write the invoice number into the vendor name column instead.
    mapping["record"]["columns"]["otcm_vendorname"] = json!("fields.invoice_number.value");
    let put = app
        .put(
            &format!("/v1/mappings/invoice_v2/{DST}"),
            &mapping.to_string(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(
        app.post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
            .await
            .status,
        202
    );
    app.advance("2s").await;
    let rows = app.rows("otcm_inboundinvoices").await;
    assert_eq!(rows[0]["otcm_vendorname"], "INV-2026-0142");
    // Without a line-item section, only the invoice is written.
    mapping.as_object_mut().unwrap().remove("line_items");
    let put = app
        .put(
            &format!("/v1/mappings/invoice_v2/{DST}"),
            &mapping.to_string(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let lines_before = app.rows("otcm_inboundinvoicelineitems").await.len();
    assert_eq!(
        app.post(&format!("/v1/documents/{OBRIEN_DOC}/dispatch"), "{}")
            .await
            .status,
        202
    );
    app.advance("2s").await;
    assert_eq!(app.status_of(OBRIEN_DOC).await, "push_succeeded");
    let lines_after = app.rows("otcm_inboundinvoicelineitems").await.len();
    assert_eq!(lines_before, lines_after);
    app.get("/v1/mappings/invoice_v9/dst_x")
        .await
        .assert_error(422, "invalid_schema");
    app.get("/v1/mappings/invoice_v2/dst_nope")
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn workflows_expose_public_fields_only_and_dispatch_queues_runs() {
    let app = app().await;
    let list = app.get("/v1/workflows").await.json();
    let wf = &list["data"][0];
    let keys: std::collections::BTreeSet<&str> =
        wf.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "binding_count",
            "id",
            "name",
            "status",
            "updated_at",
            "version"
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(wf["id"], WF);

    let path = format!("/v1/workflows/{WF}/dispatch");
    app.post(
        &path,
        &format!(r#"{{"document_id":"{SEED_DOC}","execution_mode":"inline"}}"#),
    )
    .await
    .assert_error(422, "invalid_payload");
    app.post(
        &path,
        &format!(r#"{{"document_id":"{REVIEW_DOC}","execution_mode":"queued"}}"#),
    )
    .await
    .assert_error(409, "conflict");
    app.post(&path, r#"{"execution_mode":"queued"}"#)
        .await
        .assert_error(400, "invalid_payload");
    app.post(
        "/v1/workflows/wf_nope/dispatch",
        &format!(r#"{{"document_id":"{SEED_DOC}"}}"#),
    )
    .await
    .assert_error(404, "not_found");
    let r = app
        .post(
            &path,
            &format!(r#"{{"document_id":"{SEED_DOC}","execution_mode":"queued"}}"#),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let body = r.json()["data"].clone();
    assert_eq!(body["workflow_id"], WF);
    assert_eq!(body["status"], "queued");
    assert_eq!(body["execution_mode"], "queued");
    let run_id = body["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        app.get(&format!("/v1/runs/{run_id}")).await.json()["data"]["status"],
        "queued"
    );
    app.advance("2s").await;
    let run = app.get(&format!("/v1/runs/{run_id}")).await.json();
    assert_eq!(run["data"]["status"], "succeeded");
    assert_eq!(run["data"]["outcome"], "succeeded");
    let logs = app.get(&format!("/v1/runs/{run_id}/logs")).await.json();
    assert!(logs["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["status"].as_u64().unwrap() < 300));
    app.get("/v1/runs/run_nope")
        .await
        .assert_error(404, "not_found");
}

/// A multipart part: (name, filename, content type, data).
type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A multipart create with the given parts.
async fn upload_parts(app: &App, parts: &[Part<'_>]) -> Res {
    let mut body = Vec::new();
    for (name, filename, content_type, data) in parts {
        body.extend_from_slice(b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"");
        body.extend_from_slice(name.as_bytes());
        body.push(b'"');
        if let Some(f) = filename {
            body.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        if let Some(t) = content_type {
            body.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--BOUNDARY--\r\n");
    let res = app
        .client
        .post(app.url("/v1/documents"))
        .bearer_auth(&app.key)
        .header("content-type", "multipart/form-data; boundary=BOUNDARY")
        .body(body)
        .send()
        .await
        .unwrap();
    Res::read(res).await
}

#[tokio::test]
async fn an_upload_of_exactly_30_mb_is_accepted() {
    let app = app().await;
    let r = upload(&app, "big.pdf", "application/pdf", 30 * 1024 * 1024).await;
    assert_eq!(r.status, 202, "{}", r.text);
}

#[tokio::test]
async fn the_file_type_is_known_by_its_extension_or_its_media_type() {
    let app = app().await;
    // Extension alone (the part's media type says nothing), BMP included.
    for name in ["scan.bmp", "scan.BMP", "photo.jpg", "page.tiff"] {
        let r = upload(&app, name, "application/octet-stream", 16).await;
        assert_eq!(r.status, 202, "{name}: {}", r.text);
    }
    // Media type alone (no extension), BMP included, parameters ignored.
    for media_type in ["image/bmp", "image/png", "IMAGE/WEBP; q=1"] {
        let r = upload(&app, "scan", media_type, 16).await;
        assert_eq!(r.status, 202, "{media_type}: {}", r.text);
    }
    // Neither.
    for (name, media_type) in [
        ("scan", "application/octet-stream"),
        ("a.bmp.txt", "text/plain"),
    ] {
        upload(&app, name, media_type, 16)
            .await
            .assert_error(422, "unsupported_file_type");
    }
}

#[tokio::test]
async fn multipart_metadata_and_external_id_parts_reach_the_document() {
    let app = app().await;
    let file: Part<'_> = ("file", Some("r.png"), Some("image/png"), b"png-bytes");
    let r = upload_parts(
        &app,
        &[
            file,
            (
                "metadata",
                None,
                Some("application/json"),
                br#"{"source":"scanner"}"#,
            ),
            ("external_id", None, None, b"ext-77"),
            ("schema", None, None, b"receipt_v1"),
        ],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let doc = r.json()["data"].clone();
    assert_eq!(doc["schema"], "receipt_v1");
    assert_eq!(doc["metadata"], json!({"source": "scanner"}));
    assert_eq!(doc["external_id"], "ext-77");

    // An empty external_id part is no external id.
    let r = upload_parts(
        &app,
        &[
            ("schema", None, None, b"receipt_v1"),
            file,
            ("external_id", None, None, b""),
        ],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.json()["data"]["external_id"], json!(null));
    assert_eq!(r.json()["data"]["metadata"], json!({}));

    // Metadata that is JSON but not an object is refused.
    upload_parts(
        &app,
        &[
            ("schema", None, None, b"receipt_v1"),
            file,
            ("metadata", None, None, b"[1]"),
        ],
    )
    .await
    .assert_error(422, "invalid_payload");
}
