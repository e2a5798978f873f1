//! A proxy in front of the embedded fake that breaks one rule: the tests that
//! prove a check can fail run the harness through it.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One answer on its way back to the harness, for a [`Breaker`] to change.
pub(crate) struct Exchange<'a> {
    pub(crate) method: &'a Method,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    /// The headers and body the harness sent.
    pub(crate) request_headers: &'a HeaderMap,
    pub(crate) request: &'a [u8],
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// The rule a proxy breaks.
pub(crate) trait Breaker: Send + Sync + 'static {
    /// The path and query to forward to the fake (default: as sent).
    fn forward_to(&self, path: &str, query: &str) -> String {
        if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        }
    }

    /// Changes the fake's answer.
    fn answer(&self, exchange: &mut Exchange<'_>);
}

struct Proxy<B> {
    fake: String,
    origin: OnceLock<String>,
    breaker: B,
    client: reqwest::Client,
}

async fn relay<B: Breaker>(
    State(p): State<Arc<Proxy<B>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let query = uri.query().unwrap_or("");
    let target = format!("{}{}", p.fake, p.breaker.forward_to(path, query));
    let mut req = p.client.request(method.clone(), target).body(body.clone());
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            req = req.header(name, value);
        }
    }
    let Ok(resp) = req.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut exchange = Exchange {
        method: &method,
        path,
        query,
        request_headers: &headers,
        request: &body,
        status: resp.status(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.unwrap_or_default().to_vec(),
    };
    if path == "/_mock/workspaces" {
        // New workspaces must be reached through the proxy too.
        let origin = p.origin.get().cloned().unwrap_or_default();
        exchange.body = String::from_utf8_lossy(&exchange.body)
            .replace(&p.fake, &origin)
            .into_bytes();
    }
    p.breaker.answer(&mut exchange);
    exchange.headers.remove("content-length");
    exchange.headers.remove("transfer-encoding");
    let mut r = Response::new(axum::body::Body::from(exchange.body));
    *r.status_mut() = exchange.status;
    *r.headers_mut() = exchange.headers;
    r
}

/// Starts the embedded fake and a proxy breaking `breaker`'s rule in front of
/// it, on a thread of their own; returns the proxy's origin.
pub(crate) fn start<B: Breaker>(breaker: B) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let fake = conformance::start_embedded_fake(7)
                .await
                .expect("the fake starts");
            let proxy = Arc::new(Proxy {
                fake: fake.url.clone(),
                origin: OnceLock::new(),
                breaker,
                client: reqwest::Client::new(),
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let origin = format!("http://{}", listener.local_addr().expect("addr"));
            let _ = proxy.origin.set(origin.clone());
            tx.send(origin).expect("send origin");
            let app = axum::Router::new().fallback(relay::<B>).with_state(proxy);
            axum::serve(listener, app).await.expect("serve");
            drop(fake);
        });
    });
    rx.recv().expect("proxy origin")
}
