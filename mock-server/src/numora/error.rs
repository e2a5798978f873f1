//! The Numora error dialect: `{"error": {"code", "message", "request_id"}}`.

use axum::http::StatusCode;

/// Every failure a Numora route can answer with. The status and the stable
/// `code` follow the Errors and Limits page; the message names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum NumoraError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    InvalidPayload(String),
    /// Valid JSON with an invalid value (422 `invalid_payload`).
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    InvalidSchema(String),
    #[error("{0}")]
    UnsupportedFileType(String),
    #[error("{0}")]
    FileTooLarge(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    RateLimited(String),
    #[error("{0}")]
    Internal(String),
    /// Anything else a fault rule asks for: status, code and message as given.
    #[error("{message}")]
    Custom {
        status: u16,
        code: String,
        message: String,
    },
}

impl NumoraError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::InvalidPayload(_) => StatusCode::BAD_REQUEST,
            Self::InvalidValue(_)
            | Self::InvalidSchema(_)
            | Self::UnsupportedFileType(_)
            | Self::FileTooLarge(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Custom { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    pub(crate) fn code(&self) -> &str {
        match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::InvalidPayload(_) | Self::InvalidValue(_) | Self::PayloadTooLarge(_) => {
                "invalid_payload"
            }
            Self::InvalidSchema(_) => "invalid_schema",
            Self::UnsupportedFileType(_) => "unsupported_file_type",
            Self::FileTooLarge(_) => "file_too_large",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::RateLimited(_) => "rate_limited",
            Self::Internal(_) => "internal_error",
            Self::Custom { code, .. } => code,
        }
    }

    pub(crate) fn not_found(what: &str, id: &str) -> Self {
        Self::NotFound(format!("{what} '{id}' was not found"))
    }

    pub(crate) fn missing(field: &str) -> Self {
        Self::InvalidPayload(format!("{field} is required"))
    }

    /// The body, given the request id to embed.
    pub(crate) fn body(&self, request_id: &str) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "code": self.code(),
                "message": self.to_string(),
                "request_id": request_id,
            }
        })
    }

    /// The error a fault rule produces for `status` when it gives no body.
    /// It reads like the real API's: the client must not be able to tell an
    /// injected answer from a real one (the journal's `fault` says which it was).
    pub(crate) fn for_status(status: u16, message: Option<String>) -> Self {
        let msg = |default: &str| message.clone().unwrap_or_else(|| default.to_string());
        match status {
            400 => Self::InvalidPayload(msg("the request was malformed")),
            401 => Self::Unauthorized(msg("the API key is missing or invalid")),
            403 => Self::Forbidden(msg("the API key may not access this resource")),
            404 => Self::NotFound(msg("the resource was not found")),
            409 => Self::Conflict(msg("the request conflicts with the current resource state")),
            422 => Self::InvalidValue(msg("the payload values were invalid")),
            429 => Self::RateLimited(msg("rate limit exceeded for this API key")),
            500 => Self::Internal(msg("an internal error occurred; retry later")),
            502..=504 => Self::Custom {
                status,
                code: "provider_error".into(),
                message: msg("a downstream provider failed"),
            },
            other => Self::Custom {
                status: other,
                code: "internal_error".into(),
                message: msg("the request could not be completed"),
            },
        }
    }
}

pub(crate) type NumoraResult<T> = Result<T, NumoraError>;
