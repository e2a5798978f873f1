//! Proof that the checks can fail: the library runs against the embedded
//! fake behind a proxy that breaks one rule, and the run must fail and name
//! the broken rule.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use clap::Parser;

use conformance::cli::{Cli, Command};
use conformance::report::human;

use super::util::scenarios;

#[derive(Clone, Copy, Debug)]
enum Break {
    /// A changed delivery-callback replay is accepted (409 → 200).
    AcceptChangedReplay,
    /// Responses lose their x-request-id header.
    DropRequestId,
    /// The outbox ignores the cursor: every page is the first page.
    RepeatPage,
    /// Dispatch answers 200 instead of 202.
    DispatchOk,
}

struct Proxy {
    fake: String,
    origin: OnceLock<String>,
    mode: Break,
    client: reqwest::Client,
}

async fn forward(
    State(p): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let mut pq = uri
        .path_and_query()
        .map(|x| x.as_str().to_owned())
        .unwrap_or_default();
    if matches!(p.mode, Break::RepeatPage) && path == "/v1/delivery/outbox" {
        let query: Vec<&str> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.starts_with("cursor="))
            .collect();
        pq = format!("{path}?{}", query.join("&"));
    }
    let mut req = p
        .client
        .request(method.clone(), format!("{}{pq}", p.fake))
        .body(body);
    for (k, v) in &headers {
        if k != "host" {
            req = req.header(k, v);
        }
    }
    let Ok(resp) = req.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut status = resp.status();
    let mut out_headers = resp.headers().clone();
    let mut body = resp.bytes().await.unwrap_or_default().to_vec();
    let origin = p.origin.get().cloned().unwrap_or_default();
    if path == "/_mock/workspaces" {
        // Keep the scenarios' traffic flowing through the proxy.
        body = String::from_utf8_lossy(&body)
            .replace(&p.fake, &origin)
            .into_bytes();
    }
    match p.mode {
        Break::AcceptChangedReplay
            if method == Method::POST
                && path.ends_with("/delivery")
                && status == StatusCode::CONFLICT =>
        {
            status = StatusCode::OK;
        }
        Break::DropRequestId => {
            out_headers.remove("x-request-id");
        }
        Break::DispatchOk if path.ends_with("/dispatch") && status == StatusCode::ACCEPTED => {
            status = StatusCode::OK;
        }
        _ => {}
    }
    out_headers.remove("content-length");
    out_headers.remove("transfer-encoding");
    let mut r = Response::new(axum::body::Body::from(body));
    *r.status_mut() = status;
    *r.headers_mut() = out_headers;
    r
}

/// Start the embedded fake and a breaking proxy in front of it; returns the
/// proxy's origin.
fn broken_target(mode: Break) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let fake = conformance::target::embedded::start(7, None)
                .await
                .expect("fake starts");
            let proxy = Arc::new(Proxy {
                fake: fake.url.clone(),
                origin: OnceLock::new(),
                mode,
                client: reqwest::Client::new(),
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let origin = format!("http://{}", listener.local_addr().unwrap());
            let _ = proxy.origin.set(origin.clone());
            tx.send(origin).unwrap();
            let app = axum::Router::new().fallback(forward).with_state(proxy);
            axum::serve(listener, app).await.unwrap();
            drop(fake);
        });
    });
    rx.recv().unwrap()
}

/// Run one scenario file against `target`; returns (success, human report).
fn run(target: &str, scenario: &str) -> (bool, String) {
    let path = scenarios().join(scenario);
    let cli = Cli::try_parse_from([
        "conformance",
        "run",
        "--target",
        target,
        "-q",
        path.to_str().unwrap(),
    ])
    .unwrap();
    let Some(Command::Run(args)) = cli.command else {
        panic!("run command")
    };
    let cfg = conformance::config::resolve_run(&args).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let report = rt
        .block_on(conformance::app::run_config(
            &cfg,
            Arc::new(conformance::runner::Quiet),
        ))
        .unwrap_or_else(|_| panic!("the run starts"));
    (report.success(), human::render(&report))
}

#[test]
fn an_accepted_changed_replay_fails_the_idempotency_rule() {
    let target = broken_target(Break::AcceptChangedReplay);
    let (ok, report) = run(&target, "numora/delivery/callback_idempotency.yaml");
    assert!(!ok, "{report}");
    assert!(report.contains("FAILED callback_idempotency"), "{report}");
    assert!(
        report.contains("\"changed replay is a conflict\""),
        "{report}"
    );
    assert!(
        report.contains("✗ status\n      expected: \"409\"\n      actual:   \"200\""),
        "{report}"
    );
    assert!(
        report.ends_with("0 passed, 1 failed, 0 skipped\n"),
        "{report}"
    );
}

#[test]
fn a_dropped_request_id_header_fails_the_envelope_rule() {
    let target = broken_target(Break::DropRequestId);
    let (ok, report) = run(&target, "numora/errors/envelope_and_request_id.yaml");
    assert!(!ok, "{report}");
    assert!(report.contains("✗ header x-request-id present"), "{report}");
    assert!(
        report.contains("✗ header x-request-id equals body $.error.request_id"),
        "{report}"
    );
}

#[test]
fn a_repeated_page_fails_the_pagination_rule() {
    let target = broken_target(Break::RepeatPage);
    let (ok, report) = run(&target, "numora/outbox/pagination_walk.yaml");
    assert!(!ok, "{report}");
    assert!(
        report.contains("\"second page, cursor passed back unchanged\""),
        "{report}"
    );
    assert!(
        report.contains("✗ json $.data[*].document_id not_contains"),
        "{report}"
    );
}

#[test]
fn a_synchronous_dispatch_status_fails_the_dispatch_rule() {
    let target = broken_target(Break::DispatchOk);
    let (ok, report) = run(&target, "numora/dispatch/accepted_as_queued.yaml");
    assert!(!ok, "{report}");
    assert!(
        report.contains("rule: seed 000 \"Dispatch a Reviewed Document\""),
        "{report}"
    );
    assert!(report.contains("expected: \"202\""), "{report}");
}
