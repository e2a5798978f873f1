//! Query parameters of the `/v1` list routes (the query string itself is
//! split by [`Call::query_param`]).

use super::body::Provider;
use super::error::{NumoraError, NumoraResult};
use crate::call::Call;

/// A `provider` query parameter, if given: unknown ⇒ 422.
pub(super) fn provider(call: &Call) -> NumoraResult<Option<Provider>> {
    call.query_param("provider")
        .map(|text| {
            Provider::check(&text).map_err(|m| NumoraError::InvalidValue(format!("provider {m}")))
        })
        .transpose()
}

/// A `limit` query parameter: not a number ⇒ 400; outside `1..=max` ⇒ 422.
pub(super) fn limit(call: &Call, default: usize, max: usize) -> NumoraResult<usize> {
    match call.query_param("limit") {
        None => Ok(default),
        Some(text) => {
            let n: i64 = text.trim().parse().map_err(|_| {
                NumoraError::InvalidPayload(format!("limit must be an integer (got '{text}')"))
            })?;
            if n < 1 || n > max as i64 {
                return Err(NumoraError::InvalidValue(format!(
                    "limit must be between 1 and {max} (got {n})"
                )));
            }
            Ok(n as usize)
        }
    }
}
