//! races, isolation, secrets, bad input, and nothing lost on restart.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::helpers::*;
use futures_util::future::join_all;

fn routes_with_ids(doc: &str) -> Vec<(&'static str, String, Option<String>)> {
    vec![
        ("GET", format!("/v1/documents/{doc}"), None),
        ("GET", format!("/v1/documents/{doc}/result"), None),
        (
            "POST",
            format!("/v1/documents/{doc}/actions/approve"),
            Some(r#"{"expected_updated_at":"2026-03-24T02:36:37.684Z"}"#.into()),
        ),
        (
            "POST",
            format!("/v1/documents/{doc}/actions/reject"),
            Some("{}".into()),
        ),
        (
            "POST",
            format!("/v1/documents/{doc}/actions/retry-push"),
            Some("{}".into()),
        ),
        (
            "POST",
            format!("/v1/documents/{doc}/dispatch"),
            Some("{}".into()),
        ),
        (
            "POST",
            format!("/v1/documents/{doc}/delivery"),
            Some(callback("failed", "iso", "")),
        ),
        ("GET", format!("/v1/documents/{doc}/delivery"), None),
    ]
}

/// 50 parallel dispatches of one document: exactly one 202.
#[tokio::test]
async fn parallel_dispatches_accept_exactly_one() {
    let app = app().await;
    let path = format!("/v1/documents/{SEED_DOC}/dispatch");
    let statuses: Vec<u16> = join_all((0..50).map(|_| app.post(&path, "{}")))
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49);
}

/// 50 identical callbacks: one attempt; 50 changed ones with one execution_id: one wins.
#[tokio::test]
async fn parallel_callbacks_record_one_attempt_per_execution_id() {
    let app = app().await;
    let path = format!("/v1/documents/{SEED_DOC}/delivery");
    let same = callback("succeeded", "race-1", r#","external_record_id":"row-1""#);
    let res = join_all((0..50).map(|_| app.post(&path, &same))).await;
    assert_eq!(res.iter().filter(|r| r.status == 201).count(), 1);
    assert_eq!(res.iter().filter(|r| r.status == 200).count(), 49);
    let bodies: Vec<String> = (0..50)
        .map(|n| {
            callback(
                "succeeded",
                "race-2",
                &format!(r#","external_record_id":"row-{n}""#),
            )
        })
        .collect();
    let res = join_all(bodies.iter().map(|b| app.post(&path, b))).await;
    assert_eq!(res.iter().filter(|r| r.status == 201).count(), 1);
    assert_eq!(res.iter().filter(|r| r.status == 409).count(), 49);
    let list = app.get(&path).await.json();
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        2,
        "one attempt per execution_id"
    );
}

/// 20 workspaces served in parallel: no cross-talk, and each one answers the
/// same bytes as a workspace that ran the same calls alone.
#[tokio::test]
async fn parallel_workspaces_keep_isolation_and_determinism() {
    let app = app().await;
    let mut keys = Vec::new();
    for _ in 0..21 {
        let r = app
            .send("POST", "/_mock/workspaces", None, Some(r#"{"seed": 5}"#))
            .await;
        keys.push(r.json()["data"]["api_key"].as_str().unwrap().to_string());
    }
    let script = |key: String| {
        let app = &app;
        async move {
            let mut out = Vec::new();
            for (method, path, body) in [
                (
                    "POST",
                    "/v1/documents".to_string(),
                    Some(
                        r#"{"schema":"invoice_v2","file_url":"https://example.com/a.pdf"}"#
                            .to_string(),
                    ),
                ),
                (
                    "POST",
                    format!("/v1/documents/{SEED_DOC}/dispatch"),
                    Some("{}".to_string()),
                ),
                (
                    "POST",
                    format!("/v1/documents/{OBRIEN_DOC}/delivery"),
                    Some(callback("failed", "p-1", "")),
                ),
                ("GET", format!("/v1/documents/{SEED_DOC}/delivery"), None),
                (
                    "GET",
                    "/v1/delivery/outbox?provider=dynamics365&limit=100".to_string(),
                    None,
                ),
            ] {
                let r = app.send(method, &path, Some(&key), body.as_deref()).await;
                out.push(format!("{} {}", r.status, r.text));
            }
            out
        }
    };
    let alone = script(keys[20].clone()).await;
    let parallel = join_all(keys[..20].iter().cloned().map(script)).await;
    for transcript in &parallel {
        assert_eq!(transcript, &alone);
    }
}

/// Every route with an id: another workspace's key gets 404, never the data.
#[tokio::test]
async fn another_workspaces_ids_are_404_on_every_route() {
    let app = app().await;
    let created = app
        .post(
            "/v1/documents",
            r#"{"schema":"invoice_v2","file_url":"https://example.com/mine.pdf"}"#,
        )
        .await;
    let mine = created.json()["data"]["id"].as_str().unwrap().to_string();
    let run = app
        .post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
        .await
        .json()["meta"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = app
        .send("POST", "/_mock/workspaces", None, Some("{}"))
        .await
        .json()["data"]["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let mut checks = routes_with_ids(&mine);
    checks.push(("GET", format!("/v1/runs/{run}"), None));
    checks.push(("GET", format!("/v1/runs/{run}/logs"), None));
    for (method, path, body) in checks {
        let r = app.send(method, &path, Some(&other), body.as_deref()).await;
        r.assert_error(404, "not_found");
        assert!(
            !r.text.contains("invoice_v2"),
            "{path} leaked data: {}",
            r.text
        );
    }
}

/// Every route: a key without the route's scope gets 403.
#[tokio::test]
async fn a_key_without_scopes_is_403_on_every_route() {
    let app = app().await;
    let r = app
        .control(
            "POST",
            "/keys",
            Some(r#"{"key":"sk_test_no_scopes","scopes":[]}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let mut checks = routes_with_ids(SEED_DOC);
    checks.extend([
        (
            "POST",
            "/v1/documents".to_string(),
            Some(r#"{"schema":"invoice_v2","file_url":"https://example.com/a.pdf"}"#.to_string()),
        ),
        ("GET", "/v1/delivery/outbox".to_string(), None),
        (
            "POST",
            "/v1/dynamics/session".to_string(),
            Some("{}".to_string()),
        ),
        ("GET", "/v1/schemas".to_string(), None),
        ("GET", "/v1/destinations".to_string(), None),
        (
            "POST",
            "/v1/destinations".to_string(),
            Some("{}".to_string()),
        ),
        (
            "POST",
            "/v1/destinations/dst_01jpx4m4j2j6x9j2k6r1m9aa0v/test".to_string(),
            Some("{}".to_string()),
        ),
        (
            "GET",
            "/v1/mappings/invoice_v2/dst_01jpx4m4j2j6x9j2k6r1m9aa0v".to_string(),
            None,
        ),
        (
            "PUT",
            "/v1/mappings/invoice_v2/dst_01jpx4m4j2j6x9j2k6r1m9aa0v".to_string(),
            Some("{}".to_string()),
        ),
        ("GET", "/v1/workflows".to_string(), None),
        (
            "POST",
            "/v1/workflows/wf_01jpx8t0v5lg1sq3wy6c5c7h2x/dispatch".to_string(),
            Some("{}".to_string()),
        ),
        ("GET", "/v1/runs/run_x".to_string(), None),
        ("GET", "/v1/runs/run_x/logs".to_string(), None),
    ]);
    for (method, path, body) in checks {
        let r = app
            .send(method, &path, Some("sk_test_no_scopes"), body.as_deref())
            .await;
        r.assert_error(403, "forbidden");
    }
    assert_eq!(app.status_of(SEED_DOC).await, "reviewed", "nothing changed");
}

/// Secrets never appear in any response, journal entry or state dump.
#[tokio::test]
async fn secrets_never_leak() {
    let app = app().await;
    let mut seen = Vec::new();
    seen.push(app.post("/v1/dynamics/session", "{}").await.text);
    seen.push(app.post("/v1/destinations", r#"{"provider":"dynamics365","display_name":"x","credentials":{"client_secret":"dest-secret-123"}}"#).await.text);
    seen.push(
        app.control(
            "POST",
            "/webhooks",
            Some(r#"{"url":"http://127.0.0.1:9/h","secret":"hook-secret-456"}"#),
        )
        .await
        .text,
    );
    for path in [
        "/v1/destinations",
        "/v1/workflows",
        "/v1/delivery/outbox?provider=dynamics365",
    ] {
        seen.push(app.get(path).await.text);
    }
    for path in [
        "/state",
        "/journal",
        "/webhooks",
        "/webhooks/deliveries",
        "/events",
        "/keys",
        "/faults",
    ] {
        seen.push(app.control("GET", path, None).await.text);
    }
    seen.push(app.send("GET", "/_mock/workspaces", None, None).await.text);
    for text in &seen {
        for secret in [
            "mock-client-secret-never-returned",
            "mock-destination-secret-never-returned",
            "dest-secret-123",
            "hook-secret-456",
        ] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    }
}

/// Bad input is rejected in the envelope: non-UTF-8, deep nesting, huge headers.
#[tokio::test]
async fn bad_input_is_rejected_cleanly() {
    let app = app().await;
    let res = app
        .client
        .post(app.url(&format!("/v1/documents/{SEED_DOC}/delivery")))
        .bearer_auth(&app.key)
        .body(vec![0xff, 0xfe, 0x7b, 0x22])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    app.post(&format!("/v1/documents/{SEED_DOC}/delivery"), &deep)
        .await
        .assert_error(400, "invalid_payload");
    let token = app.post("/v1/dynamics/session", "{}").await.json()["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let deep_filter = format!("{}otcm_name eq 'x'{}", "(".repeat(5_000), ")".repeat(5_000));
    let r = app
        .client
        .get(app.url("/api/data/v9.2/otcm_suppliers"))
        .query(&[("$filter", deep_filter)])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "deep nesting is a clear 400");
    let huge = "x".repeat(200 * 1024);
    let res = app
        .client
        .get(app.url("/v1/schemas"))
        .bearer_auth(&app.key)
        .header("x-padding", huge)
        .send()
        .await
        .expect("the server answers an oversized header");
    assert_eq!(res.status(), 431, "an oversized header is refused");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_payload");
    assert_eq!(
        app.get("/v1/schemas").await.status,
        200,
        "the server is still serving"
    );
}

/// A client that stalls mid-body holds no workspace: others are served.
#[tokio::test]
async fn a_stalled_connection_does_not_hold_the_workspace() {
    use tokio::io::AsyncWriteExt;
    let app = app().await;
    let mut stalled = tokio::net::TcpStream::connect(app.server.addr())
        .await
        .unwrap();
    let head = format!(
        "POST /v1/documents/{SEED_DOC}/dispatch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 100\r\n\r\n{{\"pro",
        app.key
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..5 {
        assert_eq!(
            app.get(&format!("/v1/documents/{SEED_DOC}")).await.status,
            200
        );
    }
    assert_eq!(
        app.post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
            .await
            .status,
        202
    );
    drop(stalled);
}

/// Requests pipelined on one connection, and many connections at once, are
/// all answered, in order: responses wait one turn before they are written
/// (so those of requests that arrived together leave together), never more.
#[tokio::test]
async fn pipelined_and_concurrent_requests_are_all_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = app().await;
    let guard = std::time::Duration::from_secs(10);
    let request = |path: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
            app.key
        )
    };
    let mut stream = tokio::net::TcpStream::connect(app.server.addr())
        .await
        .unwrap();
    let burst = format!(
        "{}{}{}",
        request("/v1/schemas"),
        request(&format!("/v1/documents/{SEED_DOC}")),
        request("/v1/documents/nope"),
    );
    stream.write_all(burst.as_bytes()).await.unwrap();
    let mut seen = String::new();
    let mut buf = vec![0u8; 65536];
    while seen.matches("HTTP/1.1 ").count() < 3 || !seen.ends_with('}') {
        let n = tokio::time::timeout(guard, stream.read(&mut buf))
            .await
            .expect("every pipelined request is answered")
            .unwrap();
        assert!(n > 0, "the connection closed early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let statuses: Vec<&str> = seen
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &seen[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "200", "404"], "in order: {seen}");

    let path = format!("/v1/documents/{SEED_DOC}");
    let gets = (0..64).map(|_| app.get(&path));
    let answers = tokio::time::timeout(guard, futures_util::future::join_all(gets))
        .await
        .expect("64 concurrent requests are answered");
    assert!(answers.iter().all(|a| a.status == 200));
}

/// A client that never finishes its headers, or its body, is disconnected
/// after the read timeout; the workspace keeps serving meanwhile.
#[tokio::test]
async fn half_open_connections_time_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = app_with(
        mock_server::MockServer::builder().read_timeout(std::time::Duration::from_millis(300)),
    )
    .await;
    let guard = std::time::Duration::from_secs(10);
    // Headers never finished: the server closes the connection.
    let mut headers_only = tokio::net::TcpStream::connect(app.server.addr())
        .await
        .unwrap();
    headers_only
        .write_all(b"GET /v1/schemas HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(guard, headers_only.read_to_end(&mut buf)).await;
    assert!(
        closed.is_ok(),
        "the server must close a connection whose headers never end"
    );
    // Body never finished: 408 in the envelope.
    let mut body_stalled = tokio::net::TcpStream::connect(app.server.addr())
        .await
        .unwrap();
    let head = format!(
        "POST /v1/documents/{SEED_DOC}/dispatch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 100\r\n\r\n{{",
        app.key
    );
    body_stalled.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(guard, body_stalled.read(&mut answer))
        .await
        .expect("answered")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("invalid_payload"), "{text}");
    assert_eq!(app.status_of(SEED_DOC).await, "reviewed");
}

struct Server {
    child: Child,
    url: String,
}

fn start(state: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-server"))
        .args(["--port", "0", "--clock", "frozen", "--state-file"])
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.strip_prefix("listening on ").unwrap().to_string();
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

fn terminate(mut server: Server) {
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "graceful exit after SIGTERM: {exit:?}");
}

/// `--state-file`: killed mid-flow and restarted, the fake finds every
/// document, attempt, run and Dataverse row as before.
#[tokio::test]
async fn a_restart_with_a_state_file_loses_nothing() {
    let dir = std::env::temp_dir().join(format!("numora-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let _ = std::fs::remove_file(&state);
    let client = reqwest::Client::new();
    let key = "sk_test_numora_mock_default";
    let server = start(&state);
    let url = server.url.clone();
    let post = |path: String, body: String| {
        client
            .post(format!("{url}{path}"))
            .bearer_auth(key)
            .body(body)
            .send()
    };
    post(format!("/v1/documents/{SEED_DOC}/dispatch"), "{}".into())
        .await
        .unwrap();
    post(format!("/v1/documents/{OBRIEN_DOC}/dispatch"), "{}".into())
        .await
        .unwrap();
    client
        .post(format!("{url}/_mock/workspaces/default/clock/advance"))
        .body(r#"{"by":"2s"}"#)
        .send()
        .await
        .unwrap();
    // Mid-flow: one more dispatch is queued but has not run yet.
    post(
        format!("/v1/documents/{FAILED_PUSH_DOC}/dispatch"),
        "{}".into(),
    )
    .await
    .unwrap();
    post(
        format!("/v1/documents/{ACME_DOC}/delivery"),
        callback("skipped", "cb-1", ""),
    )
    .await
    .unwrap();
    let reads = [
        format!("/v1/documents/{SEED_DOC}/delivery"),
        format!("/v1/documents/{OBRIEN_DOC}/delivery"),
        format!("/v1/documents/{ACME_DOC}/delivery"),
        format!("/v1/documents/{FAILED_PUSH_DOC}"),
        "/v1/delivery/outbox?provider=dynamics365&limit=100".to_string(),
    ];
    let snapshot = |url: String| {
        let client = client.clone();
        let reads = reads.clone();
        async move {
            let mut out = Vec::new();
            for r in &reads {
                out.push(
                    client
                        .get(format!("{url}{r}"))
                        .bearer_auth(key)
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap(),
                );
            }
            for table in ["otcm_inboundinvoices", "otcm_inboundinvoicelineitems"] {
                out.push(
                    client
                        .get(format!("{url}/_mock/workspaces/default/dataverse/{table}"))
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap(),
                );
            }
            out
        }
    };
    let before = snapshot(url.clone()).await;
    terminate(server);
    assert!(state.exists(), "the state was saved on SIGTERM");
    let restarted = start(&state);
    let after = snapshot(restarted.url.clone()).await;
    assert_eq!(before, after);
    // The queued run survives and completes after the restart.
    client
        .post(format!(
            "{}/_mock/workspaces/default/clock/advance",
            restarted.url
        ))
        .body(r#"{"by":"2s"}"#)
        .send()
        .await
        .unwrap();
    let doc: serde_json::Value = client
        .get(format!("{}/v1/documents/{FAILED_PUSH_DOC}", restarted.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["data"]["status"], "push_succeeded");
    terminate(restarted);
    let _ = std::fs::remove_dir_all(&dir);
}
