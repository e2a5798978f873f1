//! every control body, `PUT …/state` and fixture files refuse unknown
//! keys with a 400 (or a load error) that names the key and lists the valid
//! ones, so a typo cannot silently widen or disable what it configures.

use crate::helpers::*;

/// Asserts a 400 `invalid_payload` whose message names `key` and contains
/// each of `mentions`; returns the message.
fn refused(res: &Res, key: &str, mentions: &[&str]) -> String {
    let body = res.assert_error(400, "invalid_payload");
    let message = body["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(&format!("unknown field \"{key}\"")),
        "{message}"
    );
    for m in mentions {
        assert!(message.contains(m), "{m:?} missing from: {message}");
    }
    message
}

#[tokio::test]
async fn a_typo_in_a_fault_rule_is_refused_and_no_rule_is_added() {
    let app = app().await;
    let res = app
        .control(
            "POST",
            "/faults",
            Some(r#"{"api":"numora","path":"/v1/schemas","tims":1,"respond":{"status":503}}"#),
        )
        .await;
    let message = refused(
        &res,
        "tims",
        &[
            "fault rule",
            "valid: id, api, method, path",
            "times",
            "did you mean \"times\"?",
        ],
    );
    assert!(message.contains("drop_connection"), "{message}");
    // Nothing was added, so the route still answers.
    let list = app.control("GET", "/faults", None).await;
    assert_eq!(list.json()["data"], serde_json::json!([]));
    assert_eq!(app.get("/v1/schemas").await.status, 200);

    // A nested rule object is checked too.
    let res = app
        .control(
            "POST",
            "/faults",
            Some(r#"{"api":"numora","respond":{"stauts":503}}"#),
        )
        .await;
    refused(&res, "stauts", &["in fault rule at respond; valid: status"]);
}

#[tokio::test]
async fn a_typo_in_settings_or_clock_is_refused_and_nothing_is_applied() {
    let app = app().await;
    let before = app.control("GET", "/clock", None).await.json();
    let res = app
        .control(
            "PATCH",
            "/settings",
            Some(r#"{"run_delay":"9s","rate_limt":5}"#),
        )
        .await;
    refused(
        &res,
        "rate_limt",
        &[
            "settings",
            "rate_limit",
            "run_delay",
            "did you mean \"rate_limit\"?",
        ],
    );
    // The valid key beside the typo was not applied either.
    let now = app.control("PATCH", "/settings", Some("{}")).await.json();
    assert_eq!(now["data"]["run_delay"], "2s", "{now}");

    let res = app
        .control("PATCH", "/clock", Some(r#"{"mdoe":"frozen"}"#))
        .await;
    refused(&res, "mdoe", &["valid: mode, tick"]);
    let res = app
        .control("POST", "/clock/advance", Some(r#"{"by":"5s","until":"x"}"#))
        .await;
    refused(&res, "until", &["valid: by, to"]);
    assert_eq!(
        app.control("GET", "/clock", None).await.json()["data"]["now"],
        before["data"]["now"],
        "the refused advance did not move the clock"
    );
}

#[tokio::test]
async fn a_typo_in_a_document_body_is_refused() {
    let app = app().await;
    let count = || async {
        app.control("GET", "/documents", None).await.json()["data"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = count().await;
    let res = app
        .control(
            "POST",
            "/documents",
            Some(r#"{"schema":"invoice_v2","stauts":"reviewed"}"#),
        )
        .await;
    refused(&res, "stauts", &["document", "status"]);
    assert_eq!(count().await, before, "no document was created");

    let res = app
        .control(
            "PATCH",
            &format!("/documents/{SEED_DOC}"),
            Some(r#"{"feilds":{"total":1}}"#),
        )
        .await;
    refused(&res, "feilds", &["document edit", "fields", "line_items"]);

    // A wrong type names the field it is in.
    let res = app
        .control(
            "PATCH",
            &format!("/documents/{SEED_DOC}"),
            Some(r#"{"finalized":"yes"}"#),
        )
        .await;
    let body = res.assert_error(400, "invalid_payload");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("finalized: "),
        "{body}"
    );
}

#[tokio::test]
async fn keys_webhooks_and_workspace_bodies_refuse_unknown_keys() {
    let app = app().await;
    let res = app
        .control(
            "POST",
            "/keys",
            Some(r#"{"name":"k","scope":["documents:read"]}"#),
        )
        .await;
    refused(
        &res,
        "scope",
        &["valid: key, name, scopes", "did you mean \"scopes\"?"],
    );
    let res = app
        .control(
            "POST",
            "/webhooks",
            Some(r#"{"url":"http://127.0.0.1:9/h","secret":"s","event":["x"]}"#),
        )
        .await;
    refused(&res, "event", &["webhook endpoint", "events"]);
    let res = app
        .send("POST", "/_mock/workspaces", None, Some(r#"{"sead":3}"#))
        .await;
    refused(&res, "sead", &["valid: seed, fixtures"]);
}

#[tokio::test]
async fn put_state_refuses_unknown_keys_at_any_depth() {
    let app = app().await;
    let res = app
        .control("PUT", "/state", Some(r#"{"seed":1,"documentz":[]}"#))
        .await;
    refused(
        &res,
        "documentz",
        &["fixture", "documents", "did you mean \"documents\"?"],
    );

    let mut dump = app.control("GET", "/state", None).await.json();
    dump["documents"][0]["external_idd"] = serde_json::json!("x");
    let res = app.control("PUT", "/state", Some(&dump.to_string())).await;
    let message = refused(&res, "external_idd", &["external_id"]);
    assert!(message.contains("documents[0]"), "{message}");

    // Fault rules inside a state body are rules too.
    let res = app
        .control(
            "PUT",
            "/state",
            Some(r#"{"faults":[{"api":"numora","tims":1}]}"#),
        )
        .await;
    let message = refused(&res, "tims", &["times"]);
    assert!(message.starts_with("faults[0]"), "{message}");

    // The state is untouched by the refused loads.
    assert_eq!(
        app.get(&format!("/v1/documents/{SEED_DOC}")).await.status,
        200
    );
}

#[tokio::test]
async fn a_fixture_file_with_an_unknown_key_fails_to_load_with_its_location() {
    let dir = std::env::temp_dir().join(format!("mock-strict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("world.yaml");
    std::fs::write(
        &path,
        "seed: 3\nclock:\n  start: 2026-03-24T00:00:00.000Z\n  mdoe: frozen\n",
    )
    .unwrap();
    let err = mock_server::MockServer::builder()
        .fixtures(&path)
        .start()
        .await
        .expect_err("the fixture is refused");
    let text = err.to_string();
    std::fs::remove_dir_all(&dir).ok();
    let location = format!("{}:4:", path.display());
    assert!(text.contains(&location), "{location} missing from: {text}");
    assert!(text.contains("unknown field \"mdoe\""), "{text}");
    assert!(
        text.contains("in fixture at clock; valid: start, mode, tick"),
        "{text}"
    );
    assert!(text.contains("did you mean \"mode\"?"), "{text}");
}

#[test]
fn the_default_world_loads_under_the_strict_rules() {
    mock_server::fixtures::Fixture::from_yaml(
        "scenarios/fixtures/default.yaml",
        mock_server::fixtures::DEFAULT_WORLD,
    )
    .expect("the default world has no unknown keys");
}
