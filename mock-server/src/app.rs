//! The HTTP surface: axum routes that turn requests into [`Call`]s for the
//! world, and [`Reply`]s back into responses.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;

pub(crate) use crate::app_state::AppState;
use crate::call::{Call, Reply};
use crate::numora::{self, NumoraError};
use crate::world::lock;

/// The largest request body read at all (uploads are capped at 30 MB inside).
pub(crate) const MAX_BODY: usize = 32 * 1024 * 1024;
/// The largest JSON body accepted.
pub(crate) const MAX_JSON_BODY: usize = 1024 * 1024;

/// The whole router: `/v1`, `/api/data/v9.2`, `/_mock` (unless disabled) and `/openapi.json`.
pub(crate) fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/v1", any(numora_entry))
        .route("/v1/{*rest}", any(numora_entry))
        .route("/api/data/v9.2", any(dataverse_entry))
        .route("/api/data/v9.2/", any(dataverse_entry))
        .route("/api/data/v9.2/{*rest}", any(dataverse_entry));
    if state.control {
        let control = crate::control::routes().layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::control::admin_guard,
        ));
        router = router.nest("/_mock", control);
    }
    router.fallback(fallback).with_state(state)
}

/// The server's front door. A `/v1` call goes straight to the Numora entry:
/// one prefix test instead of the router's match, its captured path
/// parameters and their percent-decoding, which cost more than a third of
/// the fake's own work on a document read. Everything else (and `HEAD`,
/// whose body the router strips) goes through [`router`], which routes `/v1`
/// the same way, so the answers are identical either way. (`CONNECT` goes
/// through the router too.)
#[derive(Clone)]
pub(crate) struct Front {
    state: AppState,
    router: Router,
}

impl Front {
    pub(crate) fn new(state: AppState) -> Front {
        Front {
            router: router(state.clone()),
            state,
        }
    }

    /// The paths the router sends to [`numora_entry`]: `/v1` and `/v1/…`
    /// (a catch-all never matches an empty rest).
    fn is_numora(req: &Request) -> bool {
        let path = req.uri().path();
        req.method() != Method::HEAD
            && req.method() != Method::CONNECT
            && (path == "/v1" || (path.len() > 4 && path.starts_with("/v1/")))
    }
}

type FrontFuture = futures_util::future::Either<
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>,
    <Router as tower::Service<Request>>::Future,
>;

impl tower::Service<Request> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = FrontFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> FrontFuture {
        if !Front::is_numora(&req) {
            return futures_util::future::Either::Right(self.router.call(req));
        }
        let state = self.state.clone();
        futures_util::future::Either::Left(Box::pin(async move {
            let mut response = numora_entry(State(state), req).await;
            // What the router adds to every answer it sends.
            if !response.headers().contains_key(header::CONTENT_LENGTH) {
                if let Some(size) = axum::body::HttpBody::size_hint(response.body()).exact() {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
                }
            }
            Ok(response)
        }))
    }
}

/// The most header bytes (names and values) a request may carry.
pub(crate) const MAX_HEADER_BYTES: usize = 32 * 1024;

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT,
    )
        .into_response()
}

async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    let request_id = state.registry.next_id("req_");
    let error = NumoraError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ));
    Reply::json(error.status(), &error.body(&request_id))
        .with_header(HeaderName::from_static("x-request-id"), &request_id)
        .into_response()
}

/// Which limit a request broke.
pub(crate) enum Limit {
    Body,
    Headers,
    /// The body did not arrive within the read timeout.
    Timeout,
}

/// Reads a request into a [`Call`]; `Err` when its headers are over
/// [`MAX_HEADER_BYTES`] or its body over `limit`.
pub(crate) async fn to_call(
    req: Request,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Call, (Call, Limit)> {
    let (parts, body) = req.into_parts();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    let origin = ["http://", host].concat();
    let mut call = Call {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body: Default::default(),
        origin,
    };
    let header_bytes: usize = call
        .headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err((call, Limit::Headers));
    }
    let declared = call
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    if declared > limit {
        return Err((call, Limit::Body));
    }
    // Most calls (every GET) carry no body: nothing to read, no timer to arm.
    if axum::body::HttpBody::size_hint(&body).exact() == Some(0) {
        return Ok(call);
    }
    // A body that came with its headers (most JSON bodies) is read on the
    // first poll, without arming the timer; one still on its way gets the
    // whole `timeout` from here.
    let read = axum::body::to_bytes(body, limit);
    let mut read = std::pin::pin!(read);
    let read = match futures_util::FutureExt::now_or_never(read.as_mut()) {
        Some(read) => Ok(read),
        None => tokio::time::timeout(timeout, read).await,
    };
    match read {
        Ok(Ok(bytes)) => {
            call.body = bytes;
            Ok(call)
        }
        Ok(Err(_)) => Err((call, Limit::Body)),
        Err(_) => Err((call, Limit::Timeout)),
    }
}

/// The body limit for a call: uploads may be large, JSON may not.
fn numora_limit(req: &Request) -> usize {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/"));
    if multipart {
        MAX_BODY
    } else {
        MAX_JSON_BODY
    }
}

async fn numora_entry(State(state): State<AppState>, req: Request) -> Response {
    let limit = numora_limit(&req);
    let reply = match to_call(req, limit, state.read_timeout).await {
        Ok(call) => serve_numora(&state, call),
        Err((call, broken)) => {
            let id = numora::request_id(&call, || state.registry.next_id("req_"));
            let error = if matches!(broken, Limit::Timeout) {
                NumoraError::Custom {
                    status: 408,
                    code: "invalid_payload".into(),
                    message: format!(
                        "the request body did not arrive within {} ms",
                        state.read_timeout.as_millis()
                    ),
                }
            } else if matches!(broken, Limit::Headers) {
                NumoraError::Custom {
                    status: 431,
                    code: "invalid_payload".into(),
                    message: format!(
                        "request headers exceed the {} KiB limit",
                        MAX_HEADER_BYTES / 1024
                    ),
                }
            } else if limit == MAX_BODY {
                NumoraError::PayloadTooLarge("the request body exceeds the 32 MB limit".into())
            } else {
                NumoraError::PayloadTooLarge(format!(
                    "the JSON request body exceeds the {} KiB limit",
                    MAX_JSON_BODY / 1024
                ))
            };
            Reply::json(error.status(), &error.body(&id))
                .with_header(HeaderName::from_static("x-request-id"), &id)
        }
    };
    finish(reply).await
}

fn serve_numora(state: &AppState, call: Call) -> Reply {
    let key = call.bearer();
    match key.and_then(|k| state.registry.by_key(k).map(|ws| (k, ws))) {
        Some((key, ws)) => numora::serve(&mut lock(&ws), &call, key),
        None => {
            let id = numora::request_id(&call, || state.registry.next_id("req_"));
            let message = if key.is_some() {
                "the API key is not valid"
            } else {
                "missing API key: send Authorization: Bearer <api_key>"
            };
            let error = NumoraError::Unauthorized(message.into());
            Reply::json(error.status(), &error.body(&id))
                .with_header(HeaderName::from_static("x-request-id"), &id)
                .with_header(header::WWW_AUTHENTICATE, "Bearer")
        }
    }
}

async fn dataverse_entry(State(state): State<AppState>, req: Request) -> Response {
    let reply = match to_call(req, MAX_JSON_BODY * 16, state.read_timeout).await {
        Ok(call) => serve_dataverse(&state, call),
        Err((_, Limit::Headers)) => {
            crate::dataverse::error_reply(431, "0x8004418A", "Request header is too large.")
        }
        Err((_, Limit::Body)) => {
            crate::dataverse::error_reply(413, "0x8004418A", "Request is too large.")
        }
        Err((_, Limit::Timeout)) => crate::dataverse::error_reply(
            408,
            "0x80040216",
            "The request body was not received in time.",
        ),
    };
    finish(reply).await
}

fn serve_dataverse(state: &AppState, call: Call) -> Reply {
    let Some(token) = call.bearer().map(str::to_string) else {
        return crate::dataverse::unauthorized(&call.origin, "missing_token");
    };
    // Tokens name their workspace: `dv.<workspace>.<random>`.
    let workspace = token
        .split('.')
        .nth(1)
        .and_then(|id| state.registry.workspace(id));
    match workspace {
        Some(ws) => {
            let mut ws = lock(&ws);
            let received = ws.wall_ms();
            ws.clock.on_request();
            crate::driver::run_due(&mut ws);
            crate::dataverse::gate::serve(&mut ws, &call, &token, received)
        }
        None => crate::dataverse::unauthorized(&call.origin, "invalid_token"),
    }
}

/// Applies real latency (after every lock is released) and converts.
pub(crate) async fn finish(reply: Reply) -> Response {
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = reply.into_response();
    if response.status() == StatusCode::NO_CONTENT {
        *response.body_mut() = Body::empty();
    }
    response
}
