//! The `/v1` route table, declared once.
//!
//! Each line of [`ROUTES`] is a journal pattern (`"GET /v1/documents/{id}"`,
//! the name the journal and fault rules use), the scope the key needs and the
//! handler call. Everything else is derived from the table: a `matchit`
//! router over the paths, the 404 for a path no line declares, the 405 and
//! its `Allow` header for a path declared with other methods, and HEAD served
//! as GET.
//!
//! To add a route: one line here, one handler, and the path in the OpenAPI
//! document.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::Method;
use percent_encoding::percent_decode_str;

use super::handler::{Input, Outcome, Respond};
use super::{catalog, delivery, documents, session};
use crate::call::Call;
use crate::world::workspace::Workspace;

type Handler = fn(&mut Workspace, &Input<'_>) -> Outcome;

/// One line of the table.
pub(crate) struct Route {
    /// `METHOD /v1/path/{param}`: the journal's route name.
    pub pattern: &'static str,
    /// The API key scope the route needs.
    pub scope: &'static str,
    handler: Handler,
}

macro_rules! route {
    ($pattern:literal, $scope:literal, |$ws:ident, $input:ident| $call:expr) => {
        Route {
            pattern: $pattern,
            scope: $scope,
            handler: |$ws, $input| Respond::respond($call),
        }
    };
}

/// Every `/v1` route. Within a path, the order of the lines is the order of
/// the methods in a 405's `Allow` header.
#[rustfmt::skip]
pub(crate) static ROUTES: [Route; 21] = [
    route!("POST /v1/documents", "documents:write", |ws, r| documents::create(ws, r.call)),
    route!("GET /v1/documents/{id}", "documents:read", |ws, r| documents::get(ws, r.param("id"))),
    route!("GET /v1/documents/{id}/result", "documents:read", |ws, r| documents::result(ws, r.param("id"))),
    route!("POST /v1/documents/{id}/actions/approve", "documents:write", |ws, r| documents::approve(ws, r.param("id"), r.call)),
    route!("POST /v1/documents/{id}/actions/reject", "documents:write", |ws, r| documents::reject(ws, r.param("id"), r.call)),
    route!("POST /v1/documents/{id}/actions/retry-push", "delivery:write", |ws, r| delivery::retry_push(ws, r.param("id"), r.call)),
    route!("POST /v1/documents/{id}/dispatch", "delivery:write", |ws, r| delivery::dispatch(ws, r.param("id"), r.call)),
    route!("GET /v1/documents/{id}/delivery", "delivery:read", |ws, r| delivery::list(ws, r.param("id"), r.call)),
    route!("POST /v1/documents/{id}/delivery", "delivery:write", |ws, r| delivery::callback(ws, r.param("id"), r.call)),
    route!("GET /v1/delivery/outbox", "delivery:read", |ws, r| delivery::outbox(ws, r.call)),
    route!("POST /v1/dynamics/session", "dynamics:session", |ws, r| session::create(ws, r.call)),
    route!("GET /v1/schemas", "destinations:read", |_ws, _r| catalog::schemas()),
    route!("GET /v1/destinations", "destinations:read", |ws, _r| catalog::destinations_list(ws)),
    route!("POST /v1/destinations", "destinations:write", |ws, r| catalog::destinations_create(ws, r.call)),
    route!("POST /v1/destinations/{id}/test", "destinations:write", |ws, r| catalog::destinations_test(ws, r.param("id"))),
    route!("GET /v1/mappings/{schema}/{destination}", "destinations:read", |ws, r| catalog::mapping_get(ws, r.param("schema"), r.param("destination"))),
    route!("PUT /v1/mappings/{schema}/{destination}", "destinations:write", |ws, r| catalog::mapping_put(ws, r.param("schema"), r.param("destination"), r.call)),
    route!("GET /v1/workflows", "workflows:read", |ws, _r| catalog::workflows_list(ws)),
    route!("POST /v1/workflows/{id}/dispatch", "workflows:write", |ws, r| catalog::workflow_dispatch(ws, r.param("id"), r.call)),
    route!("GET /v1/runs/{id}", "workflows:read", |ws, r| catalog::run_get(ws, r.param("id"))),
    route!("GET /v1/runs/{id}/logs", "workflows:read", |ws, r| catalog::run_logs(ws, r.param("id"))),
];

/// The prefix every pattern's path starts with; the router sees the rest.
const PREFIX: &str = "/v1";

/// The routes of one path: (method, index into [`ROUTES`]) and the `Allow`
/// header a 405 on it sends.
struct PathRoutes {
    methods: Vec<(&'static str, usize)>,
    allow: String,
}

static ROUTER: LazyLock<matchit::Router<PathRoutes>> = LazyLock::new(|| {
    let mut paths: BTreeMap<&'static str, PathRoutes> = BTreeMap::new();
    for (index, route) in ROUTES.iter().enumerate() {
        let (method, path) = route
            .pattern
            .split_once(' ')
            .expect("a route pattern is `METHOD /path`");
        let path = path
            .strip_prefix(PREFIX)
            .expect("a route pattern's path starts with /v1");
        let entry = paths.entry(path).or_insert_with(|| PathRoutes {
            methods: Vec::new(),
            allow: String::new(),
        });
        if !entry.allow.is_empty() {
            entry.allow.push_str(", ");
        }
        entry.allow.push_str(method);
        entry.methods.push((method, index));
    }
    let mut router = matchit::Router::new();
    for (path, routes) in paths {
        router
            .insert(path, routes)
            .expect("the route table's paths do not conflict");
    }
    router
});

/// A call matched to a line of the table.
#[derive(Debug, Clone)]
pub(crate) struct Matched {
    pub pattern: &'static str,
    pub scope: &'static str,
    /// The path parameters' names, in path order.
    pub names: Vec<&'static str>,
    /// Their values, percent-decoded.
    pub params: Vec<String>,
    handler: Handler,
}

impl Matched {
    /// Runs the route's handler.
    pub(crate) fn handle(&self, ws: &mut Workspace, call: &Call) -> Outcome {
        (self.handler)(ws, &Input::new(call, &self.names, &self.params))
    }
}

/// Why no route matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteMiss {
    NotFound,
    /// The path exists with other methods; the value is the `Allow` header.
    MethodNotAllowed(&'static str),
}

/// Routes `method path` (the full request path, still percent-encoded).
///
/// Empty segments are ignored and each segment is percent-decoded before it
/// is matched, so `/v1//documents/` is `/v1/documents` and a parameter may
/// hold an encoded `/`.
pub(crate) fn route(method: &Method, path: &str) -> Result<Matched, RouteMiss> {
    let rest = path.strip_prefix(PREFIX).ok_or(RouteMiss::NotFound)?;
    // The usual path (`/documents/abc`) is already in the router's form.
    // One pass over the bytes: no `%`, no empty segment.
    let bytes = rest.as_bytes();
    let clean = bytes.len() > 1
        && bytes[0] == b'/'
        && bytes[bytes.len() - 1] != b'/'
        && !bytes
            .iter()
            .zip(&bytes[1..])
            .any(|(&a, &b)| a == b'%' || (a == b'/' && b == b'/'))
        && bytes[bytes.len() - 1] != b'%';
    if clean {
        return matched(method, rest);
    }
    // Decoded segments, with `%` and `/` re-escaped so that a decoded segment
    // stays one segment for the router.
    let mut normalized = String::with_capacity(rest.len() + 1);
    for segment in rest.split('/').filter(|s| !s.is_empty()) {
        normalized.push('/');
        if !segment.contains('%') {
            // Nothing to decode or re-escape.
            normalized.push_str(segment);
            continue;
        }
        for c in percent_decode_str(segment).decode_utf8_lossy().chars() {
            match c {
                '%' => normalized.push_str("%25"),
                '/' => normalized.push_str("%2F"),
                c => normalized.push(c),
            }
        }
    }
    if normalized.is_empty() {
        return Err(RouteMiss::NotFound);
    }
    matched(method, &normalized)
}

/// Looks a normalized path (decoded segments, `%` and `/` re-escaped) up.
fn matched(method: &Method, normalized: &str) -> Result<Matched, RouteMiss> {
    let found = ROUTER.at(normalized).map_err(|_| RouteMiss::NotFound)?;
    let wanted = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let routes = found.value;
    let Some(&(_, index)) = routes.methods.iter().find(|(m, _)| *m == wanted) else {
        return Err(RouteMiss::MethodNotAllowed(&routes.allow));
    };
    let route = &ROUTES[index];
    let (names, params) = found
        .params
        .iter()
        .map(|(name, value)| {
            let value = if value.as_bytes().contains(&b'%') {
                value.replace("%2F", "/").replace("%25", "%")
            } else {
                value.to_string()
            };
            (name, value)
        })
        .unzip();
    Ok(Matched {
        pattern: route.pattern,
        scope: route.scope,
        names,
        params,
        handler: route.handler,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_methods_of_a_path_in_table_order() {
        let miss = |m: Method, p: &str| route(&m, p).err();
        assert_eq!(
            miss(Method::DELETE, "/v1/destinations"),
            Some(RouteMiss::MethodNotAllowed("GET, POST"))
        );
        assert_eq!(
            miss(Method::POST, "/v1/mappings/invoice_v2/dst_1"),
            Some(RouteMiss::MethodNotAllowed("GET, PUT"))
        );
        assert_eq!(
            miss(Method::GET, "/v1/documents"),
            Some(RouteMiss::MethodNotAllowed("POST"))
        );
        assert_eq!(miss(Method::GET, "/v1/nothing"), Some(RouteMiss::NotFound));
        assert_eq!(miss(Method::GET, "/v1"), Some(RouteMiss::NotFound));
    }

    #[test]
    fn segments_are_decoded_and_empty_ones_ignored() {
        let r = route(&Method::HEAD, "/v1//documents/a%2Fb%25c/").unwrap();
        assert_eq!(r.pattern, "GET /v1/documents/{id}");
        assert_eq!(r.params, ["a/b%c"]);
        let r = route(&Method::GET, "/v1/mappings/invoice_v2/dst%201").unwrap();
        assert_eq!(r.names, ["schema", "destination"]);
        assert_eq!(r.params, ["invoice_v2", "dst 1"]);
    }
}
