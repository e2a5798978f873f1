//! Writes: create (POST), update/upsert (PATCH), delete, and `@odata.bind`
//! (dataverse.md §3, §4).

use std::collections::BTreeMap;

use axum::http::{HeaderName, StatusCode};
use serde_json::Value;

use super::error::{DataverseError, DvResult, DUPLICATE_KEY, LENGTH, QUERY};
use super::query;
use super::{key_missing, resolve_key, Address, Ctx, DvEnv};
use crate::call::Reply;
use crate::world::tables::schema::{self as table, Attr, CoerceError, Lookup};
use crate::world::tables::{Org, Row, Store, Table};

/// One cell to set (`None` clears it).
type Change = (String, Option<Value>);

/// A validated request body.
struct Payload {
    /// A primary id given in the body.
    id: Option<String>,
    changes: Vec<Change>,
    /// Deep insert through single-valued navigation properties: the lookup
    /// column to set, the target table and the row to create there first.
    parents: Vec<(String, usize, Payload)>,
    /// Deep insert through collection-valued navigation properties: the
    /// child table, its lookup column pointing here, and the rows.
    children: Vec<(usize, String, Vec<Payload>)>,
}

/// How deep a deep insert may nest (a guard against runaway bodies).
const MAX_DEPTH: usize = 10;

fn invalid_property(set: &str, logical: &str, name: &str) -> DataverseError {
    DataverseError::payload(
        set,
        &format!(
            "Microsoft.Crm.CrmException: Invalid property '{name}' was found in entity 'Microsoft.Dynamics.CRM.{logical}'. ---> Microsoft.OData.ODataException: The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM.{logical}'. Make sure to only use property names that are defined by the type."
        ),
    )
}

fn undeclared(set: &str, name: &str) -> DataverseError {
    DataverseError::payload(
        set,
        &format!(
            "Microsoft.OData.ODataException: An undeclared property '{name}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values."
        ),
    )
}

fn coerce_error(set: &str, logical: &str, column: &str, e: CoerceError) -> DataverseError {
    match e {
        CoerceError::Convert(message) => {
            let suffix = if message.starts_with("Cannot convert the literal") {
                " ---> System.FormatException: Input string was not in a correct format."
            } else {
                ""
            };
            DataverseError::payload(set, &format!("Microsoft.OData.ODataException: {message}{suffix}"))
        }
        CoerceError::TooLong(max) => DataverseError::new(
            400,
            LENGTH,
            format!(
                "A validation error occurred.  The length of the '{column}' attribute of the '{logical}' entity exceeded the maximum allowed length of '{max}'."
            ),
        ),
    }
}

/// Resolves an `@odata.bind` value to the id of an existing target row.
///
/// Accepted forms (dataverse.md §3): `/set(id)`, `set(id)`, an absolute URL
/// `…/api/data/v9.x/set(id)`, and `set(primaryid=id)`.
fn resolve_bind(org: &Org, set: &str, lookup: &Lookup, text: &str) -> DvResult<String> {
    let mut path = text.trim();
    if let Some(at) = path.find("/api/data/v") {
        let after = &path[at + "/api/data/v".len()..];
        path = after.split_once('/').map_or("", |(_, rest)| rest);
    }
    let path = path.trim_start_matches('/');
    if path.starts_with('$') {
        return Err(DataverseError::query(format!(
            "Content-ID Reference: '{path}' does not exist in the batch context."
        )));
    }
    let bad = || {
        DataverseError::payload(
            set,
            &format!("Microsoft.OData.ODataException: The value '{text}' of '{}@odata.bind' is not a valid entity reference URL.", lookup.navigation),
        )
    };
    let (target_set, key) = path.split_once('(').ok_or_else(bad)?;
    let key = key.strip_suffix(')').ok_or_else(bad)?;
    let target_set = crate::call::decode_component(target_set);
    let Some(target) = org.table(&target_set) else {
        return Err(DataverseError::segment(&target_set));
    };
    if target_set != lookup.target {
        return Err(DataverseError::payload(
            set,
            &format!(
                "Microsoft.OData.ODataException: The entity set '{target_set}' is not the target of navigation property '{}', which binds to '{}'.",
                lookup.navigation, lookup.target
            ),
        ));
    }
    match resolve_key(target, &crate::call::decode_component(key))? {
        Address::Id(id) if target.find(&id).is_none() => {
            Err(DataverseError::row_missing(&target.def.logical_name, &id))
        }
        Address::Id(id)
        | Address::Alternate {
            found: Some(id), ..
        } => Ok(id),
        Address::Alternate { found: None, .. } => Err(key_missing(&target.def)),
    }
}

/// Validates a request body against table `t`; the first problem wins, in body order.
fn read_payload(org: &Org, t: usize, ctx: &Ctx<'_>) -> DvResult<Payload> {
    let set = org.tables[t].def.entity_set.as_str();
    let object = match serde_json::from_slice::<Value>(&ctx.call.body) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(DataverseError::payload(
                set,
                "Microsoft.OData.ODataException: The request body must be a JSON object describing one entity.",
            ))
        }
        Err(e) => {
            return Err(DataverseError::payload(
                set,
                &format!("Microsoft.OData.ODataException: Invalid JSON. {e}"),
            ))
        }
    };
    read_object(org, t, &object, 0)
}

/// Validates one entity of a body (nested ones too: deep insert).
fn read_object(
    org: &Org,
    t: usize,
    object: &serde_json::Map<String, Value>,
    depth: usize,
) -> DvResult<Payload> {
    let def = &org.tables[t].def;
    let (set, logical) = (def.entity_set.as_str(), def.logical_name.as_str());
    if depth > MAX_DEPTH {
        return Err(DataverseError::payload(
            set,
            &format!("Microsoft.OData.ODataException: A deep insert may nest at most {MAX_DEPTH} levels; create the deeper rows in a second request."),
        ));
    }
    let mut payload = Payload {
        id: None,
        changes: Vec::new(),
        parents: Vec::new(),
        children: Vec::new(),
    };
    for (key, value) in object {
        if key.starts_with('@') {
            continue; // instance annotations such as @odata.type
        }
        if let Some((prop, annotation)) = key.split_once('@') {
            if annotation == "odata.bind" {
                let Some(lookup) = def.navigation(prop) else {
                    return Err(undeclared(set, prop));
                };
                let target = match value {
                    Value::Null => None,
                    Value::String(text) => Some(Value::String(resolve_bind(org, set, lookup, text)?)),
                    _ => {
                        return Err(DataverseError::payload(
                            set,
                            &format!("Microsoft.OData.ODataException: The value of '{key}' must be a single entity reference URL for the single-valued navigation property '{prop}'."),
                        ))
                    }
                };
                payload.changes.push((lookup.column.clone(), target));
            } else if def.attr(prop).is_none() && def.navigation(prop).is_none() {
                return Err(undeclared(set, prop));
            }
            continue;
        }
        match def.attr(key) {
            Some(Attr::PrimaryId) => {
                let id = table::coerce(table::ColumnType::Guid, None, value)
                    .map_err(|e| coerce_error(set, logical, key, e))?
                    .and_then(|v| v.as_str().map(str::to_string));
                payload.id = id;
            }
            // Read-only system columns are ignored on write.
            Some(Attr::System(..)) => {}
            Some(Attr::LookupValue(_)) => {
                return Err(DataverseError::new(
                    400,
                    QUERY,
                    "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.",
                ))
            }
            Some(Attr::Column(c)) => {
                let stored = table::coerce(c.ty, c.max_length, value).map_err(|e| coerce_error(set, logical, key, e))?;
                payload.changes.push((key.clone(), stored));
            }
            None => match def.navigation(key) {
                // dataverse.md §4: `{"parentaccountid": null}` disassociates.
                Some(lookup) if value.is_null() => payload.changes.push((lookup.column.clone(), None)),
                Some(lookup) if value.is_object() => {
                    let target = org
                        .table_index(&lookup.target)
                        .ok_or_else(|| DataverseError::segment(&lookup.target))?;
                    let nested = value.as_object().expect("checked: an object");
                    let parent = read_object(org, target, nested, depth + 1)?;
                    check_new(org, target, &parent)?;
                    payload.parents.push((lookup.column.clone(), target, parent));
                }
                Some(_) => {
                    return Err(DataverseError::payload(
                        set,
                        &format!("Microsoft.OData.ODataException: A primitive value was found for the navigation property '{key}'; use '{key}@odata.bind' to set a reference."),
                    ))
                }
                None => match org.collection(t, key) {
                    Some((child, lookup)) => {
                        let Value::Array(items) = value else {
                            return Err(DataverseError::payload(
                                set,
                                &format!("Microsoft.OData.ODataException: The collection-valued navigation property '{key}' takes an array of entities."),
                            ));
                        };
                        let mut rows = Vec::new();
                        for item in items {
                            let Value::Object(item) = item else {
                                return Err(DataverseError::payload(
                                    set,
                                    &format!("Microsoft.OData.ODataException: Each item of '{key}' must be an entity (a JSON object)."),
                                ));
                            };
                            let row = read_object(org, child, item, depth + 1)?;
                            check_new(org, child, &row)?;
                            rows.push(row);
                        }
                        payload.children.push((child, lookup.column.clone(), rows));
                    }
                    None => return Err(invalid_property(set, logical, key)),
                },
            },
        }
    }
    Ok(payload)
}

/// A row a deep insert creates must not exist yet, nor repeat a key.
fn check_new(org: &Org, t: usize, payload: &Payload) -> DvResult<()> {
    match &payload.id {
        Some(id) if org.tables[t].find(id).is_some() => Err(DataverseError::duplicate()),
        _ => check_keys(&org.tables[t], None, &values_of(&payload.changes)),
    }
}

fn values_of(changes: &[Change]) -> BTreeMap<String, Value> {
    let mut values = BTreeMap::new();
    apply(&mut values, changes.to_vec());
    values
}

/// A row (`id`, or a new one) with `values` must not repeat the values of
/// an alternate key another row holds (keys with a null part are exempt).
fn check_keys(table: &Table, id: Option<&str>, values: &BTreeMap<String, Value>) -> DvResult<()> {
    for key in &table.def.alternate_keys {
        let Some(mine) = key
            .iter()
            .map(|c| values.get(c))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let clash = table.rows.iter().any(|r| {
            Some(r.id.as_str()) != id
                && key
                    .iter()
                    .zip(&mine)
                    .all(|(c, v)| r.values.get(c) == Some(*v))
        });
        if clash {
            return Err(DataverseError::new(
                412,
                DUPLICATE_KEY,
                format!(
                    "A record that has the attribute values {} already exists. The entity key {}_{} requires that this set of attributes contains unique values. Select unique values and try again.",
                    key.join(", "),
                    table.def.logical_name,
                    key.join("_")
                ),
            ));
        }
    }
    Ok(())
}

fn apply(values: &mut BTreeMap<String, Value>, changes: Vec<Change>) {
    for (column, value) in changes {
        match value {
            Some(v) => values.insert(column, v),
            None => values.remove(&column),
        };
    }
}

fn preference_applied() -> HeaderName {
    HeaderName::from_static("preference-applied")
}

fn entity_id(ctx: &Ctx<'_>, set: &str, id: &str) -> String {
    format!("{}/{set}({id})", ctx.base)
}

/// The reply of a successful write of row `id`.
fn written(
    store: &Store,
    o: usize,
    t: usize,
    id: &str,
    ctx: &Ctx<'_>,
    status: StatusCode,
) -> DvResult<Reply> {
    let org = &store.orgs[o];
    let set = &org.tables[t].def.entity_set;
    if !ctx.prefer.representation {
        return Ok(Reply::new(StatusCode::NO_CONTENT).with_header(
            HeaderName::from_static("odata-entityid"),
            entity_id(ctx, set, id),
        ));
    }
    let view = query::parse_view(org, t, ctx)?;
    let row = org.tables[t]
        .find(id)
        .ok_or_else(|| DataverseError::row_missing(&org.tables[t].def.logical_name, id))?;
    Ok(
        query::entity_reply(org, t, row, &view, ctx, status).with_header(
            preference_applied(),
            query::applied(ctx, vec!["return=representation".into()]).unwrap_or_default(),
        ),
    )
}

/// `POST <set>`: 204 + `OData-EntityId`, or 201 + the row with
/// `Prefer: return=representation` (dataverse.md §3).
pub(super) fn create(
    store: &mut Store,
    o: usize,
    t: usize,
    ctx: &Ctx<'_>,
    env: &mut DvEnv<'_>,
) -> DvResult<Reply> {
    let org = &store.orgs[o];
    query::check_options(ctx)?;
    query::parse_view(org, t, ctx)?;
    let payload = read_payload(org, t, ctx)?;
    if let Some(id) = &payload.id {
        if org.tables[t].find(id).is_some() {
            return Err(DataverseError::duplicate());
        }
    }
    check_keys(&org.tables[t], None, &values_of(&payload.changes))?;
    let id = insert_deep(store, o, t, payload, env);
    written(store, o, t, &id, ctx, StatusCode::CREATED)
}

/// Creates a validated payload with everything nested in it, parents
/// first, then the row, then its children; the row's id. Every check ran
/// in `read_object`, so nothing here fails half-way.
fn insert_deep(
    store: &mut Store,
    o: usize,
    t: usize,
    mut payload: Payload,
    env: &mut DvEnv<'_>,
) -> String {
    for (column, target, parent) in std::mem::take(&mut payload.parents) {
        let parent_id = insert_deep(store, o, target, parent, env);
        payload
            .changes
            .push((column, Some(Value::String(parent_id))));
    }
    let id = payload.id.clone().unwrap_or_else(|| env.ids.guid());
    insert(store, o, t, &id, payload.changes, env);
    for (child, column, rows) in payload.children {
        for mut row in rows {
            row.changes
                .push((column.clone(), Some(Value::String(id.clone()))));
            insert_deep(store, o, child, row, env);
        }
    }
    id
}

fn insert(store: &mut Store, o: usize, t: usize, id: &str, changes: Vec<Change>, env: &DvEnv<'_>) {
    let mut row = Row {
        id: id.to_string(),
        values: BTreeMap::new(),
        version: store.bump(),
        created: Some(env.now),
        modified: Some(env.now),
    };
    apply(&mut row.values, changes);
    store.orgs[o].tables[t].def.default_state(&mut row.values);
    store.append_row(o, t, row);
}

/// Weak ETags listed in an `If-Match`/`If-None-Match` header (`None` for `*`).
fn etags(value: &str) -> Option<Vec<String>> {
    let value = value.trim();
    (value != "*").then(|| value.split(',').map(|e| e.trim().to_string()).collect())
}

/// `PATCH <set>(<id>)`: update, or upsert when the row is missing and no
/// `If-Match` is given (dataverse.md §4).
///
/// An upsert that creates answers `201` with `Prefer: return=representation`
/// (UNCONFIRMED in the reference, §11 item 10; OData's rule for a create).
pub(super) fn update(
    store: &mut Store,
    o: usize,
    t: usize,
    id: &str,
    key_values: Vec<(String, Value)>,
    ctx: &Ctx<'_>,
    env: &mut DvEnv<'_>,
) -> DvResult<Reply> {
    let org = &store.orgs[o];
    query::check_options(ctx)?;
    query::parse_view(org, t, ctx)?;
    let table = &org.tables[t];
    let existing = table.find(id);
    let by_key = !key_values.is_empty();
    let missing = || {
        if by_key {
            key_missing(&table.def)
        } else {
            DataverseError::row_missing(&table.def.logical_name, id)
        }
    };
    if let Some(if_match) = ctx.call.header("if-match") {
        let Some(row) = existing else {
            return Err(missing());
        };
        if let Some(tags) = etags(if_match) {
            if !tags.contains(&format!("W/\"{}\"", row.version)) {
                return Err(DataverseError::version_mismatch());
            }
        }
    }
    if let (Some(value), Some(row)) = (ctx.call.header("if-none-match"), existing) {
        let value = value.trim();
        let tag = format!("W/\"{}\"", row.version);
        if value == "*" || etags(value).is_some_and(|tags| tags.contains(&tag)) {
            return Err(DataverseError::duplicate());
        }
    }
    let mut payload = read_payload(org, t, ctx)?;
    payload
        .changes
        .extend(key_values.into_iter().map(|(c, v)| (c, Some(v))));
    let exists = existing.is_some();
    if exists && !(payload.parents.is_empty() && payload.children.is_empty()) {
        return Err(DataverseError::payload(
            &table.def.entity_set,
            "Microsoft.OData.ODataException: Related rows can only be created with their row (deep insert on create); update this row without nested entities and create the related rows on their own.",
        ));
    }
    if let Some(row) = existing {
        let mut after = row.values.clone();
        apply(&mut after, payload.changes.clone());
        check_keys(&org.tables[t], Some(id), &after)?;
    } else {
        check_keys(&org.tables[t], None, &values_of(&payload.changes))?;
    }
    if exists {
        let version = store.bump();
        let Some(index) = store.orgs[o].tables[t].rows.iter().position(|r| r.id == id) else {
            return Err(DataverseError::row_missing("", id));
        };
        let row = store.row_mut(o, t, index);
        apply(&mut row.values, payload.changes);
        row.version = version;
        row.modified = Some(env.now);
        written(store, o, t, id, ctx, StatusCode::OK)
    } else {
        let payload = Payload {
            id: Some(id.to_string()),
            ..payload
        };
        insert_deep(store, o, t, payload, env);
        written(store, o, t, id, ctx, StatusCode::CREATED)
    }
}

/// `DELETE <set>(<id>)`: 204, 404 when missing, 412 on a stale `If-Match`.
/// Lookups pointing at the deleted row are cleared ("remove link", the
/// default cascade of custom relationships).
pub(super) fn delete(
    store: &mut Store,
    o: usize,
    t: usize,
    id: &str,
    ctx: &Ctx<'_>,
    env: &DvEnv<'_>,
) -> DvResult<Reply> {
    let table = &store.orgs[o].tables[t];
    let Some(row) = table.find(id) else {
        return Err(DataverseError::row_missing(&table.def.logical_name, id));
    };
    if let Some(tags) = ctx.call.header("if-match").and_then(etags) {
        if !tags.contains(&format!("W/\"{}\"", row.version)) {
            return Err(DataverseError::version_mismatch());
        }
    }
    let set = table.def.entity_set.clone();
    store.remove_row(o, t, id);
    let mut referencing: Vec<(usize, String)> = Vec::new();
    for (ti, table) in store.orgs[o].tables.iter().enumerate() {
        for lookup in table.def.lookups.iter().filter(|l| l.target == set) {
            referencing.push((ti, lookup.column.clone()));
        }
    }
    for (ti, column) in referencing {
        let rows: Vec<usize> = store.orgs[o].tables[ti]
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.values.get(&column).and_then(Value::as_str) == Some(id))
            .map(|(i, _)| i)
            .collect();
        for i in rows {
            let version = store.bump();
            let row = store.row_mut(o, ti, i);
            row.values.remove(&column);
            row.version = version;
            row.modified = Some(env.now);
        }
    }
    Ok(Reply::new(StatusCode::NO_CONTENT))
}
