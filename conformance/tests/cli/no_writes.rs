//! Against a target without a control API and without --allow-writes, the
//! run sends no POST/PUT/PATCH/DELETE at all.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::IntoResponse;

use super::util::{conformance, serve, text};

type Log = Arc<Mutex<Vec<(Method, String)>>>;

async fn record(State(log): State<Log>, method: Method, uri: Uri) -> impl IntoResponse {
    log.lock().unwrap().push((method, uri.path().to_owned()));
    if uri.path().starts_with("/_mock") {
        return (StatusCode::NOT_FOUND, "{}".to_owned());
    }
    (
        StatusCode::OK,
        r#"{"data":[],"meta":{"next_cursor":null}}"#.to_owned(),
    )
}

#[test]
fn no_write_reaches_a_target_without_control() {
    let log: Log = Arc::default();
    let url = serve(axum::Router::new().fallback(record).with_state(log.clone()));
    let out = conformance(&["run", "--target", &url, "--api-key", "sk_test_x", "-q"]);
    let stdout = text(&out.stdout);
    // The stub is not Numora: the read-only scenarios that run fail.
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let requests = log.lock().unwrap().clone();
    assert!(!requests.is_empty(), "read-only scenarios ran");
    let writes: Vec<_> = requests
        .iter()
        .filter(|(m, _)| !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS))
        .collect();
    assert!(writes.is_empty(), "writes sent: {writes:?}");
    assert!(stdout.contains("pass --allow-writes"), "{stdout}");
    assert!(stdout.contains("needs the control API"), "{stdout}");
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.contains(" skipped in ") && !summary.contains(" 0 skipped"),
        "{summary}"
    );
}

#[test]
fn a_target_without_control_needs_a_key() {
    let log: Log = Arc::default();
    let url = serve(axum::Router::new().fallback(record).with_state(log));
    let out = conformance(&["run", "--target", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--api-key"));
}
