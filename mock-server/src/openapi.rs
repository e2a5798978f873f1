//! The OpenAPI 3.1 document served at `/openapi.json`.

pub(crate) const DOCUMENT: &str = include_str!("openapi.json");
