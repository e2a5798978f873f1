//! `conformance props`: the properties pass against the fake, fail with a
//! shrunk sequence against a fake behind a proxy that breaks one rule, and
//! refuse (exit 2) to write to a target without being told which documents.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use serde_json::{json, Value};

use conformance::cli::Invocation;

use super::util::{conformance, scratch, serve, text};

/// A document of the default world that starts push_pending.
const PENDING_DOC: &str = "5e4a0d27-9b13-4c68-a2f5-7e1c3b8d9f06";

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// 409 on `POST …/delivery` becomes 200: changed replays are accepted.
    AcceptChangedReplay,
    /// The outbox's last page also lists a push_pending document.
    ListPending,
}

struct Breaker {
    fake: String,
    me: OnceLock<String>,
    fault: Fault,
    client: reqwest::Client,
}

async fn relay(
    State(b): State<Arc<Breaker>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let target = format!(
        "{}{}",
        b.fake,
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut req = b.client.request(method.clone(), target).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            req = req.header(name, value);
        }
    }
    let Ok(resp) = req.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut status = resp.status();
    let mut out = resp.headers().clone();
    let mut bytes = resp.bytes().await.unwrap_or_default().to_vec();
    if path == "/_mock/workspaces" {
        // New workspaces must be reached through the proxy too.
        let me = b.me.get().cloned().unwrap_or_default();
        bytes = String::from_utf8_lossy(&bytes)
            .replace(&b.fake, &me)
            .into_bytes();
    }
    match b.fault {
        Fault::AcceptChangedReplay
            if method == Method::POST
                && path.ends_with("/delivery")
                && status == StatusCode::CONFLICT =>
        {
            status = StatusCode::OK;
        }
        Fault::ListPending if path == "/v1/delivery/outbox" && status == StatusCode::OK => {
            if let Ok(mut page) = serde_json::from_slice::<Value>(&bytes) {
                let limit: usize = uri
                    .query()
                    .unwrap_or("")
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("limit="))
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(50);
                let room = page["data"].as_array().is_some_and(|a| a.len() < limit);
                if page["meta"]["next_cursor"].is_null() && room {
                    if let Some(items) = page["data"].as_array_mut() {
                        items.push(json!({
                            "document_id": PENDING_DOC,
                            "schema": "invoice_v2",
                            "status": "push_pending",
                            "external_id": null,
                            "metadata": {},
                            "result_url": format!("/v1/documents/{PENDING_DOC}/result"),
                            "dispatch_url": format!("/v1/documents/{PENDING_DOC}/dispatch"),
                            "updated_at": "2026-03-24T23:00:00.000Z",
                        }));
                    }
                    bytes = serde_json::to_vec(&page).unwrap_or_default();
                }
            }
        }
        _ => {}
    }
    out.remove("content-length");
    out.remove("transfer-encoding");
    let mut r = Response::new(axum::body::Body::from(bytes));
    *r.status_mut() = status;
    *r.headers_mut() = out;
    r
}

/// The embedded fake behind a proxy that breaks one rule; the proxy's origin.
fn broken_fake(fault: Fault) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let fake = conformance::target::embedded::start(7, None)
                .await
                .expect("the fake starts");
            let breaker = Arc::new(Breaker {
                fake: fake.url.clone(),
                me: OnceLock::new(),
                fault,
                client: reqwest::Client::new(),
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let me = format!("http://{}", listener.local_addr().expect("addr"));
            let _ = breaker.me.set(me.clone());
            tx.send(me).expect("send origin");
            let app = axum::Router::new().fallback(relay).with_state(breaker);
            axum::serve(listener, app).await.expect("serve");
            drop(fake);
        });
    });
    rx.recv().expect("proxy origin")
}

/// Run the properties through the library; (exit code, report).
fn props(args: &[&str]) -> (u8, String) {
    let mut argv = vec!["conformance", "props", "-q"];
    argv.extend_from_slice(args);
    let Err(args) = Invocation::try_parse_from(argv).expect("parses").split() else {
        panic!("the props command")
    };
    let cfg = conformance::props::resolve(&args).expect("valid arguments");
    let mut out = Vec::new();
    let code = conformance::props::run(&cfg, &mut out).expect("the run starts");
    (code, text(&out))
}

#[test]
fn the_properties_hold_on_the_embedded_fake() {
    let dir = scratch("props-ok");
    let out = conformance(&[
        "props",
        "--cases",
        "24",
        "-q",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("ok      delivery_state_machine   24 cases"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok      concurrent_requests      24 cases"),
        "{stdout}"
    );
    assert!(stdout.ends_with("\n48 passed, 0 failed\n"), "{stdout}");
}

#[test]
fn an_accepted_changed_replay_is_found_and_shrunk() {
    let proxy = broken_fake(Fault::AcceptChangedReplay);
    let dir = scratch("props-changed-replay");
    let (code, report) = props(&[
        "--target",
        &proxy,
        "--cases",
        "64",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("FAILED  "), "{report}");
    assert!(report.contains("shrunk failing sequence ("), "{report}");
    assert!(report.contains("expected status 409, got 200"), "{report}");
    assert!(
        report.contains("replay: conformance props --seed 7 --cases 64 --target"),
        "{report}"
    );
    assert!(report.ends_with(" failed\n"), "{report}");
    assert!(
        !report.contains("warning: the scenario file does not load"),
        "{report}"
    );
    // The shrunk case is short: two callbacks and a probe suffice.
    let shrunk = report
        .split("shrunk failing sequence (")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("a count");
    assert!(shrunk <= 3, "{report}");
    // The scenario file replays the failure with `conformance run` and
    // passes against the fake itself.
    let file = std::fs::read_dir(&dir)
        .expect("out dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "yaml"))
        .expect("a scenario file");
    let broken = conformance(&["run", "--target", &proxy, "-q", file.to_str().unwrap()]);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken.stdout));
    let fixed = conformance(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed.stdout));
    assert!(text(&fixed.stdout).ends_with("1 passed, 0 failed, 0 skipped\n"));
}

#[test]
fn a_pending_document_in_the_outbox_is_found() {
    let proxy = broken_fake(Fault::ListPending);
    let dir = scratch("props-list-pending");
    let (code, report) = props(&[
        "--target",
        &proxy,
        "--cases",
        "64",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains(&format!(
            "outbox: lists {PENDING_DOC} in status push_pending"
        )),
        "{report}"
    );
    assert!(report.contains("outbox walk limit="), "{report}");
    assert!(report.contains("regression scenario: "), "{report}");
}

#[test]
fn a_target_without_control_needs_writes_and_documents() {
    let stub = serve(axum::Router::new());
    let no_writes = conformance(&["props", "--target", &stub, "--api-key", "k"]);
    assert_eq!(no_writes.status.code(), Some(2));
    assert!(
        text(&no_writes.stderr).contains("needs --allow-writes"),
        "{}",
        text(&no_writes.stderr)
    );
    let no_docs = conformance(&[
        "props",
        "--target",
        &stub,
        "--api-key",
        "k",
        "--allow-writes",
    ]);
    assert_eq!(no_docs.status.code(), Some(2));
    assert!(
        text(&no_docs.stderr).contains("--var doc=<id>"),
        "{}",
        text(&no_docs.stderr)
    );
    let bad_var = conformance(&["props", "--var", "reviewed=x"]);
    assert_eq!(bad_var.status.code(), Some(2));
}
