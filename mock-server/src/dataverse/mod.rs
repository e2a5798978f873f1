//! The Dataverse Web API fake (`/api/data/v9.2/`).
//!
//! One `Store` per workspace holds that workspace's orgs, their tables and rows.
//! `Store::handle` serves one already-authenticated request for one org; the
//! caller (world/workspace.rs) resolves the bearer token to the org, checks its
//! expiry, ticks the clock, applies fault rules and journals the call, so the
//! fake's HTTP route and the internal workflow go through the same code.
//!
//! INTERFACE CONTRACT (kept stable for the rest of the crate):
//! - `DataverseFixture` (serde, `deny_unknown_fields`): the `dataverse:` section of a fixture.
//! - `Store::from_fixture(&DataverseFixture, &mut IdGen) -> Result<Store, String>`
//! - `Store::has_org(&self, org) -> bool`
//! - `Store::handle(&mut self, org, &DvRequest, &mut DvEnv) -> Reply`
//! - `Store::to_fixture(&self) -> DataverseFixture` (state dump; loads back identically)
//! - `Store::rows(&self, org, entity_set) -> Option<Vec<serde_json::Value>>` (control API)
//! - `unauthorized(origin, reason) -> Reply` (401 + WWW-Authenticate)
//! - `error_reply(status, code, message) -> Reply` (the Dataverse error envelope)
//!
//! Layout: `fixture` (the YAML format), `table` (definitions, types, coercion),
//! `filter` (the `$filter` language), `query` (reads), `write` (create, update,
//! delete, `@odata.bind`), `metadata` (`$metadata`, service document),
//! `throttle` (service protection), `error` (the one error type), `json`
//! (ordered output with exact decimals).

mod error;
mod filter;
mod fixture;
pub(crate) mod gate;
mod json;
mod metadata;
mod query;
mod table;
mod throttle;
mod undo;
mod write;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use axum::http::{header, HeaderName, Method, StatusCode};
use serde_json::Value;

use crate::call::{decode_component, Call, Reply};
use crate::world::ids::IdGen;
use crate::world::time::{format_seconds, parse_duration, parse_rfc3339, Millis};

pub(crate) use error::DataverseError;
pub(crate) use fixture::{
    ColumnLong, ColumnSpec, ColumnsFixture, DataverseFixture, OrgFixture, RowsFixture,
    ServiceProtection, TableFixture, WhoAmIFixture,
};
pub(crate) use table::ColumnType;

use error::DvResult;
use json::Out;
use table::{Attr, Column, TableDef, CREATEDON, MODIFIEDON, VERSIONNUMBER};
use throttle::Throttle;

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

/// One row: its id, its stored cells (null cells are absent), its version
/// (`@odata.etag` `W/"<version>"`) and its system timestamps (`None` until
/// stamped, see [`fixture`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub id: String,
    pub values: BTreeMap<String, Value>,
    pub version: u64,
    pub created: Option<Millis>,
    pub modified: Option<Millis>,
}

#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub def: TableDef,
    /// Insertion order; the default order of query results.
    pub rows: Vec<Row>,
}

impl Table {
    pub(crate) fn find(&self, id: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.id == id)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Org {
    pub name: String,
    pub whoami: WhoAmIFixture,
    pub tables: Vec<Table>,
}

impl Org {
    pub(crate) fn table(&self, set: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.def.entity_set == set)
    }

    pub(crate) fn table_index(&self, set: &str) -> Option<usize> {
        self.tables.iter().position(|t| t.def.entity_set == set)
    }
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

/// The Dataverse state of one workspace.
#[derive(Debug, Clone, Default)]
pub struct Store {
    orgs: Vec<Org>,
    next_version: u64,
    protection: Option<ServiceProtection>,
    throttle: Throttle,
    /// Writes since `begin`, to undo as one (see `undo`).
    stage: Option<undo::Stage>,
}

/// The first version number handed out when a fixture gives none.
const FIRST_VERSION: u64 = 1000;

impl Store {
    pub fn from_fixture(fixture: &DataverseFixture, ids: &mut IdGen) -> Result<Store, String> {
        Self::load(fixture, ids, None)
    }

    /// Like [`Store::from_fixture`], stamping rows without timestamps with `now`.
    pub fn from_fixture_at(
        fixture: &DataverseFixture,
        ids: &mut IdGen,
        now: Millis,
    ) -> Result<Store, String> {
        Self::load(fixture, ids, Some(now))
    }

    fn load(
        fixture: &DataverseFixture,
        ids: &mut IdGen,
        now: Option<Millis>,
    ) -> Result<Store, String> {
        let throttle = match &fixture.service_protection {
            None => Throttle::default(),
            Some(sp) => {
                let window = parse_duration(&sp.window)
                    .filter(|w| *w >= 1000)
                    .ok_or_else(|| format!("dataverse.service_protection.window: '{}' is not a duration of at least 1s", sp.window))?;
                if sp.requests == 0 {
                    return Err("dataverse.service_protection.requests must be at least 1".into());
                }
                Throttle::new(sp.requests, window)
            }
        };
        let mut store = Store {
            orgs: Vec::new(),
            next_version: fixture.next_version.unwrap_or(FIRST_VERSION),
            protection: fixture.service_protection.clone(),
            throttle,
            stage: None,
        };
        for org in &fixture.orgs {
            if store.has_org(&org.name) {
                return Err(format!("dataverse: org '{}' is declared twice", org.name));
            }
            let loaded = store
                .load_org(org, ids, now)
                .map_err(|e| format!("dataverse org '{}': {e}", org.name))?;
            store.orgs.push(loaded);
        }
        Ok(store)
    }

    fn load_org(
        &mut self,
        fx: &OrgFixture,
        ids: &mut IdGen,
        now: Option<Millis>,
    ) -> Result<Org, String> {
        let whoami = match &fx.whoami {
            Some(w) => {
                for (what, id) in [
                    ("user_id", &w.user_id),
                    ("business_unit_id", &w.business_unit_id),
                    ("organization_id", &w.organization_id),
                ] {
                    if table::parse_guid(id).is_none() {
                        return Err(format!("whoami.{what} '{id}' is not a GUID"));
                    }
                }
                w.clone()
            }
            None => WhoAmIFixture {
                user_id: ids.guid(),
                business_unit_id: ids.guid(),
                organization_id: ids.guid(),
            },
        };
        let defs = match &fx.tables {
            None => table::default_tables(),
            Some(tables) => tables
                .iter()
                .map(table_def)
                .collect::<Result<Vec<_>, _>>()?,
        };
        for (i, def) in defs.iter().enumerate() {
            def.validate()?;
            if defs[..i]
                .iter()
                .any(|d| d.entity_set == def.entity_set || d.logical_name == def.logical_name)
            {
                return Err(format!("table '{}' is declared twice", def.entity_set));
            }
            for l in &def.lookups {
                if !defs.iter().any(|d| d.entity_set == l.target) {
                    return Err(format!(
                        "table '{}': lookup '{}' targets unknown entity set '{}'",
                        def.entity_set, l.navigation, l.target
                    ));
                }
            }
        }
        let mut org = Org {
            name: fx.name.clone(),
            whoami,
            tables: defs
                .into_iter()
                .map(|def| Table {
                    def,
                    rows: Vec::new(),
                })
                .collect(),
        };
        for (set, rows) in &fx.rows.0 {
            let t = org
                .table_index(set)
                .ok_or_else(|| format!("rows for unknown entity set '{set}'"))?;
            for (n, fields) in rows.iter().enumerate() {
                let row = self
                    .fixture_row(&org.tables[t].def, fields, ids, now)
                    .map_err(|e| format!("rows.{set}[{n}]: {e}"))?;
                if org.tables[t].find(&row.id).is_some() {
                    return Err(format!("rows.{set}[{n}]: duplicate id {}", row.id));
                }
                org.tables[t].rows.push(row);
            }
        }
        Ok(org)
    }

    fn fixture_row(
        &mut self,
        def: &TableDef,
        fields: &serde_json::Map<String, Value>,
        ids: &mut IdGen,
        now: Option<Millis>,
    ) -> Result<Row, String> {
        let mut row = Row {
            id: String::new(),
            values: BTreeMap::new(),
            version: 0,
            created: now,
            modified: now,
        };
        let mut version = None;
        for (name, value) in fields {
            let attr = def
                .attr(name)
                .ok_or_else(|| format!("unknown column '{name}'"))?;
            let bad = |e: table::CoerceError| match e {
                table::CoerceError::Convert(m) => format!("column '{name}': {m}"),
                table::CoerceError::TooLong(max) => format!("column '{name}' is longer than {max}"),
            };
            match attr {
                Attr::PrimaryId => {
                    row.id = value
                        .as_str()
                        .and_then(table::parse_guid)
                        .ok_or_else(|| format!("primary id '{value}' is not a GUID"))?;
                }
                Attr::System(VERSIONNUMBER, _) => {
                    version = Some(
                        value
                            .as_u64()
                            .ok_or_else(|| format!("versionnumber '{value}' is not a number"))?,
                    );
                }
                Attr::System(system, _) => {
                    let ms = value.as_str().and_then(parse_rfc3339).ok_or_else(|| {
                        format!("{system} '{value}' is not an RFC 3339 timestamp")
                    })?;
                    if system == CREATEDON {
                        row.created = Some(ms);
                    } else {
                        row.modified = Some(ms);
                    }
                }
                Attr::Column(c) => {
                    if let Some(v) = table::coerce(c.ty, c.max_length, value).map_err(bad)? {
                        row.values.insert(name.clone(), v);
                    }
                }
                Attr::LookupValue(_) => {
                    if let Some(v) =
                        table::coerce(table::ColumnType::Guid, None, value).map_err(bad)?
                    {
                        row.values.insert(name.clone(), v);
                    }
                }
            }
        }
        if row.id.is_empty() {
            row.id = ids.guid();
        }
        row.version = match version {
            Some(v) => {
                self.next_version = self.next_version.max(v + 1);
                v
            }
            None => self.bump(),
        };
        Ok(row)
    }

    /// Hands out the next row version.
    fn bump(&mut self) -> u64 {
        let v = self.next_version;
        self.next_version += 1;
        v
    }

    pub fn has_org(&self, org: &str) -> bool {
        self.orgs.iter().any(|o| o.name == org)
    }

    /// Serves one request for `org`; every reply carries `OData-Version: 4.0`.
    pub fn handle(&mut self, org: &str, req: &DvRequest<'_>, env: &mut DvEnv<'_>) -> Reply {
        self.stamp(env.now);
        let reply = match self.serve(org, req, env) {
            Ok(reply) => reply,
            Err(e) => e.reply(),
        };
        reply.with_header(odata_version(), "4.0")
    }

    /// Gives rows loaded without timestamps the current virtual time.
    fn stamp(&mut self, now: Millis) {
        for row in self
            .orgs
            .iter_mut()
            .flat_map(|o| o.tables.iter_mut())
            .flat_map(|t| t.rows.iter_mut())
        {
            row.created.get_or_insert(now);
            row.modified.get_or_insert(now);
        }
    }

    fn serve(
        &mut self,
        org_name: &str,
        req: &DvRequest<'_>,
        env: &mut DvEnv<'_>,
    ) -> DvResult<Reply> {
        let Some(org_index) = self.orgs.iter().position(|o| o.name == org_name) else {
            return Err(DataverseError::new(
                403,
                error::NOT_MEMBER,
                "The user is not a member of the organization.",
            ));
        };
        if let Err((e, retry)) = self.throttle.check(req.token, env.now) {
            return Ok(e
                .reply()
                .with_header(header::RETRY_AFTER, retry.to_string()));
        }
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
            "$batch" => {
                return Err(DataverseError::new(
                    501,
                    error::NOT_IMPLEMENTED,
                    "$batch is not supported by this fake.",
                ));
            }
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
                let id = parse_key(&org.tables[t].def, key)?;
                match (rest, method) {
                    (None, Method::GET) => query::single(org, t, &id, &ctx),
                    (None, Method::PATCH) => write::update(self, org_index, t, &id, &ctx, env),
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

    pub fn to_fixture(&self) -> DataverseFixture {
        DataverseFixture {
            service_protection: self.protection.clone(),
            next_version: Some(self.next_version),
            orgs: self
                .orgs
                .iter()
                .map(|org| OrgFixture {
                    name: org.name.clone(),
                    whoami: Some(org.whoami.clone()),
                    tables: Some(org.tables.iter().map(|t| table_fixture(&t.def)).collect()),
                    rows: RowsFixture(
                        org.tables
                            .iter()
                            .filter(|t| !t.rows.is_empty())
                            .map(|t| {
                                (
                                    t.def.entity_set.clone(),
                                    t.rows.iter().map(|r| fixture_fields(&t.def, r)).collect(),
                                )
                            })
                            .collect(),
                    ),
                })
                .collect(),
        }
    }

    /// A table's rows with their primary ids (read by the verdicts).
    pub fn rows_by_id(
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
}

fn table_def(fx: &TableFixture) -> Result<TableDef, String> {
    let mut columns: Vec<Column> = fx
        .columns
        .0
        .iter()
        .map(|(name, spec)| match spec {
            ColumnSpec::Short(ty) => Column::new(name, *ty),
            ColumnSpec::Long(l) => match l.max_length {
                Some(max) => Column::with_max(name, l.ty, max),
                None => Column::new(name, l.ty),
            },
        })
        .collect();
    if !columns.iter().any(|c| c.name == fx.primary_name) {
        columns.insert(0, Column::new(&fx.primary_name, ColumnType::String));
    }
    Ok(TableDef {
        entity_set: fx.entity_set.clone(),
        logical_name: fx.logical_name.clone(),
        primary_id: fx.primary_id.clone(),
        primary_name: fx.primary_name.clone(),
        columns,
        lookups: fx.lookups.clone(),
    })
}

fn table_fixture(def: &TableDef) -> TableFixture {
    TableFixture {
        entity_set: def.entity_set.clone(),
        logical_name: def.logical_name.clone(),
        primary_id: def.primary_id.clone(),
        primary_name: def.primary_name.clone(),
        columns: ColumnsFixture(
            def.columns
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        ColumnSpec::Long(ColumnLong {
                            ty: c.ty,
                            max_length: c.max_length,
                        }),
                    )
                })
                .collect(),
        ),
        lookups: def.lookups.clone(),
    }
}

fn fixture_fields(def: &TableDef, row: &Row) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    out.insert(def.primary_id.clone(), Value::String(row.id.clone()));
    for (name, ty) in def.output_columns() {
        let value = match name.as_str() {
            CREATEDON => row.created.map(|m| Value::String(format_seconds(m))),
            MODIFIEDON => row.modified.map(|m| Value::String(format_seconds(m))),
            VERSIONNUMBER => Some(Value::from(row.version)),
            _ => row
                .values
                .get(&name)
                .map(|v| table::render_cell(ty, Some(v)).to_value()),
        };
        if let Some(v) = value {
            out.insert(name, v);
        }
    }
    out
}

/// Parses the key inside `set(...)` (already percent-decoded) into a GUID.
pub(crate) fn parse_key(def: &TableDef, key: &str) -> DvResult<String> {
    let key = key.trim();
    if let Some(id) = table::parse_guid(key) {
        return Ok(id);
    }
    if let Some((name, value)) = key.split_once('=') {
        if name.trim() == def.primary_id {
            if let Some(id) = table::parse_guid(value.trim()) {
                return Ok(id);
            }
        } else if !name.contains(['{', '}', '\'']) {
            let t = &def.logical_name;
            return Err(DataverseError::query(format!(
                "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.{t}'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource 'Microsoft.Dynamics.CRM.{t}'."
            )));
        }
    }
    // Braced GUIDs (dataverse.md §2: "GUIDs … must be clean") and other junk.
    Err(DataverseError::query(
        "Bad Request - Error in query syntax.",
    ))
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
