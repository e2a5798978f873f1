//! The inspector page at `/_mock/ui`: a plain HTML/CSS/ES-module page,
//! embedded in the binary, that reads the control API and shows the world
//! (workspaces, documents and their timelines, the journal, Dataverse rows,
//! webhook deliveries, verdicts, fault rules, the clock).
//!
//! The page and its assets are public (they hold no data); everything they
//! show comes from the control API, behind the admin guard. With
//! `--admin-token`, `POST /_mock/ui/login` checks the token once and sets an
//! HttpOnly, SameSite=Strict cookie that the guard accepts in place of the
//! header. The cookie holds a digest of the token, never the token itself.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::app_state::AppState;
use crate::control::common::ControlError;
use crate::numora::NumoraError;

const INDEX: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("app.js");
const STYLE: &str = include_str!("app.css");

/// The cookie that carries the signed-in state.
pub(crate) const COOKIE: &str = "numora_mock_admin";

/// What the page may load from: itself only, nothing inline.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The page's routes, relative to `/_mock`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/app.js", get(script))
        .route("/ui/app.css", get(style))
        .route("/ui/session", get(session))
        .route("/ui/login", post(login))
        .route("/ui/logout", post(logout))
}

/// True for the page's own paths, which the admin guard lets through: the
/// page, its assets and the login calls carry no workspace data.
pub(crate) fn is_public(path: &str) -> bool {
    let path = path.strip_prefix("/_mock").unwrap_or(path);
    matches!(
        path,
        "/ui" | "/ui/" | "/ui/app.js" | "/ui/app.css" | "/ui/session" | "/ui/login" | "/ui/logout"
    )
}

/// The cookie value that stands for `token`.
fn digest(token: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"numora-mock-ui\0");
    hash.update(token.as_bytes());
    hex::encode(hash.finalize())
}

/// True when the request carries the sign-in cookie for `expected`.
pub(crate) fn cookie_grants(headers: &HeaderMap, expected: &str) -> bool {
    let want = digest(expected);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && value == want)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// `{"token_required": bool, "signed_in": bool}`: whether the page must ask.
async fn session(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let required = state.admin_token.is_some();
    let signed_in = state
        .admin_token
        .as_deref()
        .is_none_or(|t| cookie_grants(&headers, t));
    json_ok(json!({"token_required": required, "signed_in": signed_in}))
}

fn json_ok(data: Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "data": data }).to_string(),
    )
        .into_response()
}

fn set_cookie(mut response: Response, value: &str, max_age: Option<u32>) -> Response {
    let mut cookie = format!("{COOKIE}={value}; Path=/_mock; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `POST /_mock/ui/login` with `{"token": "..."}`: 204 and the cookie when
/// the token is the admin token; 401 otherwise.
async fn login(State(state): State<AppState>, body: Bytes) -> Response {
    let token = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_string));
    let Some(token) = token else {
        return ControlError::from(NumoraError::InvalidPayload(
            "send {\"token\": \"<admin token>\"} as JSON".into(),
        ))
        .into_response();
    };
    match &state.admin_token {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(expected) if token.trim() == expected => set_cookie(
            StatusCode::NO_CONTENT.into_response(),
            &digest(expected),
            None,
        ),
        Some(_) => ControlError::from(NumoraError::Unauthorized(
            "token: that is not the admin token; use the value given to --admin-token".into(),
        ))
        .into_response(),
    }
}

/// `POST /_mock/ui/logout`: clears the cookie.
async fn logout() -> Response {
    set_cookie(StatusCode::NO_CONTENT.into_response(), "", Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_grants_only_its_own_token() {
        let mut headers = HeaderMap::new();
        let value = format!("other=1; {COOKIE}={}", digest("s3cret"));
        headers.insert(header::COOKIE, HeaderValue::from_str(&value).unwrap());
        assert!(cookie_grants(&headers, "s3cret"));
        assert!(!cookie_grants(&headers, "s3cret2"));
        assert!(!cookie_grants(&HeaderMap::new(), "s3cret"));
    }

    #[test]
    fn only_the_page_and_its_assets_are_public() {
        assert!(is_public("/ui"));
        assert!(is_public("/_mock/ui/app.js"));
        assert!(!is_public("/workspaces"));
        assert!(!is_public("/ui/../workspaces"));
    }

    #[test]
    fn the_assets_fit_the_budget() {
        let total = INDEX.len() + SCRIPT.len() + STYLE.len();
        assert!(total <= 200 * 1024, "the page's assets weigh {total} bytes");
    }
}
