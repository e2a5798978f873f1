//! The admin token check in front of every control route.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::common::ControlError;
use crate::app_state::AppState;
use crate::numora::NumoraError;

/// With `--admin-token`, every control call must carry
/// `Authorization: Bearer <token>` (or `X-Admin-Token: <token>`, or the
/// inspector page's sign-in cookie); the page itself and its assets are public.
pub(crate) async fn admin_guard(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(expected) = &state.admin_token {
        let headers = req.headers();
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        let direct = headers.get("x-admin-token").and_then(|v| v.to_str().ok());
        if bearer.or(direct).map(str::trim) != Some(expected.as_str())
            && !crate::ui::cookie_grants(headers, expected)
            && !crate::ui::is_public(req.uri().path())
        {
            return ControlError(NumoraError::Unauthorized(
                "the control API needs the admin token: send Authorization: Bearer <admin token>"
                    .into(),
            ))
            .into_response();
        }
    }
    next.run(req).await
}
