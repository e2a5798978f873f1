//! The Dataverse Web API fake (`/api/data/v9.2/`): the OData engine over
//! the tables of `world::tables`.
//!
//! `Store::handle` serves one already-authenticated request for one org; the
//! gate (`gate.rs`) resolves the bearer token to the org, checks its expiry,
//! applies fault rules and journals the call, so the fake's HTTP route and the
//! internal workflow go through the same code.
//!
//! - `unauthorized(origin, reason) -> Reply` (401 + WWW-Authenticate)
//! - `error_reply(status, code, message) -> Reply` (the Dataverse error envelope)
//!
//! Layout: `filter` (the `$filter` language), `view` (`$select`, `$expand`,
//! `$orderby` and annotation parsing), `query` (reads), `write`
//! (create, update, delete, `@odata.bind`), `metadata` (`$metadata`, service
//! document), `error` (the one error type), `gate` (faults, journal, tokens,
//! and running a `$batch`), `batch` (the `$batch` wire format), `formatted`
//! (en-US formatted values).
//! The state itself (orgs, tables, rows, column types, the undo log) is
//! `world::tables`.

pub(crate) mod batch;
mod error;
mod filter;
mod formatted;
pub(crate) mod gate;
mod metadata;
mod query;
mod view;
mod write;

#[cfg(test)]
mod tests;

use axum::http::{header, HeaderName, Method, StatusCode};

use crate::call::{decode_component, Call, Reply};
use crate::world::ids::IdGen;
use crate::world::tables::json::Out;
use crate::world::tables::schema::{self as table, TableDef};
use crate::world::tables::{Org, Store, Table};
use crate::world::time::Millis;

pub(crate) use error::DataverseError;

use error::DvResult;

/// The Web API path prefix, after the origin.
pub(crate) const API_PREFIX: &str = "/api/data/v9.2";

/// One request to an org, as the Web API sees it.
#[derive(Debug, Clone)]
pub struct DvRequest<'a> {
    pub call: &'a Call,
    /// The path after `/api/data/v9.2` (starting with `/`, may be empty), still percent-encoded.
    pub resource: &'a str,
    /// The bearer token (per-token service protection limits key on it).
    pub token: &'a str,
}

/// What the store may use besides its own state.
#[derive(Debug)]
pub struct DvEnv<'a> {
    pub now: Millis,
    pub ids: &'a mut IdGen,
}

impl filter::Schema for Org {
    fn logical_name(&self, set: &str) -> String {
        self.table(set)
            .map(|t| t.def.logical_name.clone())
            .unwrap_or_default()
    }

    fn column(&self, set: &str, name: &str) -> Option<filter::Ty> {
        Some(filter::column_ty(self.table(set)?.def.attr(name)?.ty()))
    }

    fn navigation(&self, set: &str, name: &str) -> Option<String> {
        Some(self.table(set)?.def.navigation(name)?.target.clone())
    }
}

impl Store {
    /// Serves one request for `org`; every reply carries `OData-Version: 4.0`.
    pub fn handle(&mut self, org: &str, req: &DvRequest<'_>, env: &mut DvEnv<'_>) -> Reply {
        self.stamp(env.now);
        let reply = match self.admit(org, req.token, env.now) {
            Ok(org_index) => self
                .serve(org_index, req, env)
                .unwrap_or_else(|e| e.reply()),
            Err(reply) => reply,
        };
        reply.with_header(odata_version(), "4.0")
    }

    /// Checks that `org` exists and that `token` is within its request
    /// limit (a `$batch` counts once, dataverse.md §6); the org's index, or
    /// the refusal.
    pub(crate) fn admit(
        &mut self,
        org_name: &str,
        token: &str,
        now: Millis,
    ) -> Result<usize, Reply> {
        let Some(org_index) = self.orgs.iter().position(|o| o.name == org_name) else {
            return Err(DataverseError::new(
                403,
                error::NOT_MEMBER,
                "The user is not a member of the organization.",
            )
            .reply()
            .with_header(odata_version(), "4.0"));
        };
        if let Err(t) = self.throttle.check(token, now) {
            let e = DataverseError::new(
                429,
                error::THROTTLED,
                format!(
                    "Number of requests exceeded the limit of {} over time window of {} seconds.",
                    t.limit, t.window_seconds
                ),
            );
            return Err(e
                .reply()
                .with_header(header::RETRY_AFTER, t.retry_after.to_string())
                .with_header(odata_version(), "4.0"));
        }
        Ok(org_index)
    }

    /// Serves one request of an admitted `$batch` (no second admission).
    pub(crate) fn handle_part(
        &mut self,
        org_index: usize,
        req: &DvRequest<'_>,
        env: &mut DvEnv<'_>,
    ) -> Reply {
        self.stamp(env.now);
        self.serve(org_index, req, env)
            .unwrap_or_else(|e| e.reply())
            .with_header(odata_version(), "4.0")
    }

    fn serve(
        &mut self,
        org_index: usize,
        req: &DvRequest<'_>,
        env: &mut DvEnv<'_>,
    ) -> DvResult<Reply> {
        let ctx = Ctx::new(req);
        let method = req.call.method.clone();
        let path = req.resource.trim_start_matches('/');
        let (head, rest) = match path.split_once('/') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        let head = decode_component(head);
        let org = &self.orgs[org_index];
        if head.is_empty() && rest.is_none_or(str::is_empty) {
            return only_get(&method, || Ok(metadata::service_document(org, &ctx)));
        }
        match head.as_str() {
            "$metadata" if rest.is_none() => return only_get(&method, || Ok(metadata::csdl(org))),
            "WhoAmI" | "WhoAmI()" if rest.is_none() => {
                if method != Method::GET {
                    let url = format!("{}{}", ctx.base, req.resource);
                    return Err(DataverseError::new(
                        404,
                        "",
                        format!("No HTTP resource was found that matches the request URI '{url}'."),
                    ));
                }
                return Ok(whoami(org, &ctx));
            }
            "$batch" if method == Method::POST => {
                // The gate serves a top-level $batch; this one sits inside one.
                return Err(DataverseError::new(
                    400,
                    error::PAYLOAD,
                    "A $batch request can't contain another $batch request; send it on its own.",
                ));
            }
            "$batch" => return Err(DataverseError::method(method.as_str())),
            _ => {}
        }
        let (set, key) = match head.split_once('(') {
            Some((set, key)) => (
                set,
                Some(key.strip_suffix(')').ok_or_else(|| {
                    DataverseError::query("Bad Request - Error in query syntax.")
                })?),
            ),
            None => (head.as_str(), None),
        };
        let t = org
            .table_index(set)
            .ok_or_else(|| DataverseError::segment(set))?;
        let rest = rest.map(decode_component).filter(|r| !r.is_empty());
        match (key, rest.as_deref()) {
            (None, None) => match method {
                Method::GET => query::collection(org, t, &ctx),
                Method::POST => write::create(self, org_index, t, &ctx, env),
                _ => Err(DataverseError::method(method.as_str())),
            },
            (None, Some("$count")) => only_get(&method, || query::count(org, t, &ctx)),
            (None, Some(other)) => Err(DataverseError::segment(
                other.split('/').next().unwrap_or(other),
            )),
            (Some(key), rest) => {
                let (id, key_values) = match resolve_key(&org.tables[t], key)? {
                    Address::Id(id)
                    | Address::Alternate {
                        found: Some(id), ..
                    } => (id, Vec::new()),
                    // An upsert by alternate key creates the row with them.
                    Address::Alternate {
                        found: None,
                        values,
                    } if method == Method::PATCH && rest.is_none() => (env.ids.guid(), values),
                    Address::Alternate { found: None, .. } => {
                        return Err(key_missing(&org.tables[t].def))
                    }
                };
                match (rest, method) {
                    (None, Method::GET) => query::single(org, t, &id, &ctx),
                    (None, Method::PATCH) => {
                        write::update(self, org_index, t, &id, key_values, &ctx, env)
                    }
                    (None, Method::DELETE) => write::delete(self, org_index, t, &id, &ctx, env),
                    (None, m) => Err(DataverseError::method(m.as_str())),
                    (Some(prop), Method::GET) if !prop.contains('/') => {
                        query::property(org, t, &id, prop, &ctx)
                    }
                    (Some(prop), _) => Err(DataverseError::segment(
                        prop.split('/').next().unwrap_or(prop),
                    )),
                }
            }
        }
    }

    pub fn rows(&self, org: &str, entity_set: &str) -> Option<Vec<serde_json::Value>> {
        let org = self.orgs.iter().find(|o| o.name == org)?;
        let t = org.table_index(entity_set)?;
        let view = query::View::all();
        Some(
            org.tables[t]
                .rows
                .iter()
                .map(|r| query::render_row(org, t, r, &view, true).to_value())
                .collect(),
        )
    }

    /// A table's rows with their primary ids (read by the verdicts).
    pub(crate) fn rows_by_id(
        &self,
        org: &str,
        entity_set: &str,
    ) -> Option<Vec<(String, serde_json::Value)>> {
        let org = self.orgs.iter().find(|o| o.name == org)?;
        let t = org.table_index(entity_set)?;
        let view = query::View::all();
        Some(
            org.tables[t]
                .rows
                .iter()
                .map(|r| {
                    let shown = query::render_row(org, t, r, &view, true).to_value();
                    (r.id.clone(), shown)
                })
                .collect(),
        )
    }
}

/// What the key inside `set(...)` addresses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Address {
    /// A primary id (the row may or may not exist).
    Id(String),
    /// Alternate-key values (stored form, in the key's column order) and
    /// the row holding them, if there is one.
    Alternate {
        found: Option<String>,
        values: Vec<(String, serde_json::Value)>,
    },
}

fn invalid_key(def: &TableDef) -> DataverseError {
    let t = &def.logical_name;
    DataverseError::query(format!(
        "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.{t}'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource 'Microsoft.Dynamics.CRM.{t}'."
    ))
}

fn syntax_error() -> DataverseError {
    DataverseError::query("Bad Request - Error in query syntax.")
}

/// A primary id, or the alternate-key pairs (`name`, stored value) in the
/// order of the declared key they match.
#[allow(clippy::type_complexity)]
fn parse_address(
    def: &TableDef,
    key: &str,
) -> DvResult<(Option<String>, Vec<(String, serde_json::Value)>)> {
    let key = key.trim();
    if let Some(id) = table::parse_guid(key) {
        return Ok((Some(id), Vec::new()));
    }
    let mut pairs: Vec<(String, serde_json::Value)> = Vec::new();
    for part in split_outside_quotes_char(key, ',') {
        let (name, literal) = part.split_once('=').ok_or_else(syntax_error)?;
        let (name, literal) = (name.trim(), literal.trim());
        if name.is_empty() || name.contains(['{', '}', '\'']) {
            return Err(syntax_error());
        }
        let value = if let Some(quoted) = literal
            .strip_prefix('\'')
            .and_then(|l| l.strip_suffix('\''))
        {
            serde_json::Value::String(quoted.replace("''", "'"))
        } else if let Some(id) = table::parse_guid(literal) {
            serde_json::Value::String(id)
        } else if let Ok(number) = literal.parse::<i64>() {
            serde_json::Value::from(number)
        } else if let Ok(number) = literal.parse::<f64>() {
            serde_json::Value::from(number)
        } else if let Ok(flag) = literal.parse::<bool>() {
            serde_json::Value::Bool(flag)
        } else {
            return Err(syntax_error());
        };
        pairs.push((name.to_string(), value));
    }
    if let [(name, serde_json::Value::String(id))] = pairs.as_slice() {
        if name == &def.primary_id {
            return table::parse_guid(id)
                .map(|id| (Some(id), Vec::new()))
                .ok_or_else(syntax_error);
        }
    }
    let key = def
        .alternate_keys
        .iter()
        .find(|k| k.len() == pairs.len() && k.iter().all(|c| pairs.iter().any(|(n, _)| n == c)))
        .ok_or_else(|| invalid_key(def))?;
    let mut values = Vec::new();
    for column in key {
        let raw = &pairs.iter().find(|(n, _)| n == column).expect("matched").1;
        let Some(table::Attr::Column(c)) = def.attr(column) else {
            return Err(invalid_key(def));
        };
        let stored = table::coerce(c.ty, None, raw)
            .ok()
            .flatten()
            .ok_or_else(syntax_error)?;
        values.push((column.clone(), stored));
    }
    Ok((None, values))
}

/// Resolves the key inside `set(...)` against the rows of `table`.
pub(crate) fn resolve_key(table: &Table, key: &str) -> DvResult<Address> {
    match parse_address(&table.def, key)? {
        (Some(id), _) => Ok(Address::Id(id)),
        (None, values) => {
            let found = table
                .rows
                .iter()
                .find(|r| values.iter().all(|(c, v)| r.values.get(c) == Some(v)))
                .map(|r| r.id.clone());
            Ok(Address::Alternate { found, values })
        }
    }
}

/// `404` for alternate-key values no row holds.
pub(crate) fn key_missing(def: &TableDef) -> DataverseError {
    DataverseError::new(
        404,
        error::NOT_FOUND,
        format!(
            "A record with the specified key values does not exist in {} entity",
            def.logical_name
        ),
    )
}

fn split_outside_quotes_char(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == '\'' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&text[start..i]);
            start = i + 1;
        }
    }
    parts.push(&text[start..]);
    parts
}

/// What every part of a request handler needs from the request.
pub(crate) struct Ctx<'a> {
    pub call: &'a Call,
    /// `<origin>/api/data/v9.2`
    pub base: String,
    /// Decoded query pairs.
    pub pairs: Vec<(String, String)>,
    pub prefer: Prefer,
}

impl<'a> Ctx<'a> {
    fn new(req: &DvRequest<'a>) -> Self {
        Ctx {
            call: req.call,
            base: format!("{}{API_PREFIX}", req.call.origin.trim_end_matches('/')),
            pairs: req.call.query_pairs(),
            prefer: Prefer::parse(req.call),
        }
    }

    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The `Prefer` preferences the fake honours (dataverse.md §8).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Prefer {
    pub representation: bool,
    pub maxpagesize: Option<usize>,
    pub annotations: Option<String>,
}

impl Prefer {
    fn parse(call: &Call) -> Prefer {
        let mut out = Prefer::default();
        for value in call
            .headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            for item in split_outside_quotes(value) {
                let item = item.trim();
                let (name, arg) = match item.split_once('=') {
                    Some((n, a)) => (n.trim(), a.trim()),
                    None => (item, ""),
                };
                match name.to_ascii_lowercase().as_str() {
                    "return" if arg.eq_ignore_ascii_case("representation") => {
                        out.representation = true
                    }
                    "odata.maxpagesize" => out.maxpagesize = arg.parse().ok().filter(|n| *n > 0),
                    "odata.include-annotations" => {
                        out.annotations = Some(arg.trim_matches('"').to_string())
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

fn split_outside_quotes(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn odata_version() -> HeaderName {
    HeaderName::from_static("odata-version")
}

/// A JSON reply with Dataverse's content type.
pub(crate) fn json_reply(status: StatusCode, body: &Out) -> Reply {
    Reply::new(status).with_body(body.to_text()).with_header(
        header::CONTENT_TYPE,
        "application/json; odata.metadata=minimal",
    )
}

fn only_get(method: &Method, f: impl FnOnce() -> DvResult<Reply>) -> DvResult<Reply> {
    if method == Method::GET {
        f()
    } else {
        Err(DataverseError::method(method.as_str()))
    }
}

fn whoami(org: &Org, ctx: &Ctx<'_>) -> Reply {
    let w = &org.whoami;
    json_reply(
        StatusCode::OK,
        &Out::Obj(vec![
            (
                "@odata.context".into(),
                Out::str(format!(
                    "{}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                    ctx.base
                )),
            ),
            ("BusinessUnitId".into(), Out::str(&w.business_unit_id)),
            ("UserId".into(), Out::str(&w.user_id)),
            ("OrganizationId".into(), Out::str(&w.organization_id)),
        ]),
    )
}

/// Dataverse's error envelope (dataverse.md §5): always JSON, with
/// `Content-Type: application/json; odata.metadata=minimal` and `OData-Version: 4.0`.
pub(crate) fn error_reply(status: u16, code: &str, message: &str) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    Reply::json(
        status,
        &serde_json::json!({"error": {"code": code, "message": message}}),
    )
    .with_header(
        header::CONTENT_TYPE,
        "application/json; odata.metadata=minimal",
    )
    .with_header(odata_version(), "4.0")
}

/// `401` with Dataverse's `WWW-Authenticate` challenge (dataverse.md §7).
///
/// `reason` empty or mentioning "missing": the bare challenge (what clients
/// probe to discover the tenant). Any other reason (expired, unknown,
/// malformed token): the same challenge plus `error="invalid_token"` and the
/// reason as `error_description` (RFC 6750 §3). The body is empty.
pub(crate) fn unauthorized(origin: &str, reason: &str) -> Reply {
    let origin = origin.trim_end_matches('/');
    let mut challenge = format!(
        "Bearer authorization_uri=https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/oauth2/authorize, resource_id={origin}/"
    );
    let reason = reason.trim();
    if !reason.is_empty() && !reason.to_ascii_lowercase().contains("missing") {
        let description: String = reason
            .chars()
            .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
            .collect();
        challenge.push_str(&format!(
            ", error=\"invalid_token\", error_description=\"{description}\""
        ));
    }
    Reply::new(StatusCode::UNAUTHORIZED)
        .with_header(header::WWW_AUTHENTICATE, challenge)
        .with_header(odata_version(), "4.0")
}
