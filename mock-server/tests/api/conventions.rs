//! Errors and Limits, API Conventions: envelope, request ids, 400 vs 422,
//! operational headers, rate limiting on virtual time.

use crate::helpers::*;

#[tokio::test]
async fn a_client_request_id_is_echoed_and_one_is_generated_otherwise() {
    let app = app().await;
    let r = app
        .client
        .get(app.url("/v1/delivery/outbox?provider=dynamics365&limit=100"))
        .bearer_auth(&app.key)
        .header("x-request-id", "n8n-outbox-001")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "n8n-outbox-001");
    let r = app.get("/v1/documents/nope").await;
    let body = r.assert_error(404, "not_found");
    assert!(body["error"]["request_id"]
        .as_str()
        .unwrap()
        .starts_with("req_"));
}

#[tokio::test]
async fn every_response_carries_rate_limit_headers() {
    let app = app().await;
    for path in ["/v1/schemas", "/v1/documents/nope"] {
        let r = app.get(path).await;
        assert_eq!(r.header("x-rate-limit-limit"), Some("600"));
        assert!(r
            .header("x-rate-limit-remaining")
            .unwrap()
            .parse::<u32>()
            .is_ok());
        assert!(
            r.header("x-rate-limit-reset")
                .unwrap()
                .parse::<u32>()
                .unwrap()
                >= 1
        );
    }
}

#[tokio::test]
async fn the_rate_limit_is_per_key_on_virtual_time() {
    let yaml = mock_server::fixtures::DEFAULT_WORLD.replace("rate_limit: 600", "rate_limit: 3");
    let app = app_yaml(&yaml).await;
    for expected in [2, 1, 0] {
        let r = app.get("/v1/schemas").await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("x-rate-limit-remaining"),
            Some(expected.to_string().as_str())
        );
    }
    let r = app.get("/v1/schemas").await;
    r.assert_error(429, "rate_limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // Another key has its own budget.
    let r = app
        .send("GET", "/v1/schemas", Some(READONLY_KEY), None)
        .await;
    assert_eq!(r.status, 200);
    // The window resets on the virtual clock.
    app.advance("60s").await;
    assert_eq!(app.get("/v1/schemas").await.status, 200);
}

#[tokio::test]
async fn malformed_json_is_400_in_the_envelope_never_plain_text() {
    let app = app().await;
    let r = app
        .post(&format!("/v1/documents/{SEED_DOC}/delivery"), "{not json")
        .await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    r.assert_error(400, "invalid_payload");
    let r = app
        .post(&format!("/v1/documents/{SEED_DOC}/delivery"), "[1,2]")
        .await;
    r.assert_error(400, "invalid_payload");
}

#[tokio::test]
async fn an_oversized_json_body_is_413_in_the_envelope() {
    let app = app().await;
    let big = format!(
        r#"{{"provider":"dynamics365","pad":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let r = app
        .post(&format!("/v1/documents/{SEED_DOC}/dispatch"), &big)
        .await;
    r.assert_error(413, "invalid_payload");
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = app().await;
    app.get("/v1/nothing-here")
        .await
        .assert_error(404, "not_found");
    let r = app
        .send(
            "DELETE",
            &format!("/v1/documents/{SEED_DOC}"),
            Some(&app.key),
            None,
        )
        .await;
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET"));
    // A path with two methods lists both; HEAD is served as GET, but a
    // path without GET refuses it.
    let r = app
        .send("DELETE", "/v1/destinations", Some(&app.key), None)
        .await;
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let r = app.send("HEAD", "/v1/schemas", Some(&app.key), None).await;
    assert_eq!(r.status, 200);
    let r = app
        .send("HEAD", "/v1/documents", Some(&app.key), None)
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
}
