//! Reads: collection queries (`$select`, `$filter`, `$orderby`, `$top`,
//! `$count`, `$expand`, paging), single rows, single properties and `/$count`
//! (dataverse.md §1, §2).

use std::cmp::Ordering;

use axum::http::{header, HeaderName, StatusCode};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;

use super::error::{DataverseError, DvResult};
use super::filter::{self, Val};
use super::view::{parse_orderby, wanted};
pub(super) use super::view::{parse_view, View};
use super::{json_reply, Ctx};
use crate::call::Reply;
use crate::world::tables::json::Out;
use crate::world::tables::schema::{
    parse_date, render_cell, Attr, ColumnType, CREATEDON, MODIFIEDON, VERSIONNUMBER,
};
use crate::world::tables::{Org, Row};
use crate::world::time::{format_seconds, parse_rfc3339};

/// Default and maximum page size; also the `@odata.count` cap (dataverse.md §1.2–§1.4).
pub(super) const MAX_PAGE: usize = 5000;

/// `<base>/$metadata#<set>(<list>)` (dataverse.md §1.1).
pub(super) fn context(ctx: &Ctx<'_>, set: &str, view: &View, entity: bool) -> String {
    format!(
        "{}/$metadata#{set}{}{}",
        ctx.base,
        view.context_list(),
        if entity { "/$entity" } else { "" }
    )
}

/// Rejects query options Dataverse does not support and repeated options.
pub(super) fn check_options(ctx: &Ctx<'_>) -> DvResult<()> {
    for (i, (name, _)) in ctx.pairs.iter().enumerate() {
        if !name.starts_with('$') {
            continue;
        }
        match name.as_str() {
            "$select" | "$filter" | "$orderby" | "$top" | "$count" | "$expand" | "$skiptoken" => {}
            // dataverse.md §1.2: not supported. The body is UNCONFIRMED (§11 item 3);
            // this fake answers 400 0x80060888 with the option's name.
            _ => {
                return Err(DataverseError::query(format!(
                    "The query parameter '{name}' is not supported."
                )))
            }
        }
        if ctx.pairs[..i].iter().any(|(n, _)| n == name) {
            return Err(DataverseError::query(format!(
                "Query option '{name}' was specified more than once, but it must be specified at most once."
            )));
        }
    }
    Ok(())
}

/// A cell as a filter/orderby value.
pub(super) fn cell_val(org: &Org, t: usize, row: &Row, name: &str) -> Val {
    let def = &org.tables[t].def;
    let Some(attr) = def.attr(name) else {
        return Val::Null;
    };
    match attr {
        Attr::PrimaryId => Val::Guid(row.id.clone()),
        Attr::System(CREATEDON, _) => row.created.map_or(Val::Null, Val::Time),
        Attr::System(MODIFIEDON, _) => row.modified.map_or(Val::Null, Val::Time),
        Attr::System(_, _) => Val::Num(row.version as f64),
        Attr::Column(_) | Attr::LookupValue(_) => {
            let Some(v) = row.values.get(name) else {
                return Val::Null;
            };
            match (attr.ty(), v) {
                (ColumnType::String | ColumnType::Memo, Value::String(s)) => Val::Str(s.clone()),
                (ColumnType::Guid, Value::String(s)) => Val::Guid(s.clone()),
                (ColumnType::Decimal | ColumnType::Money, Value::String(s)) => {
                    s.parse().map_or(Val::Null, Val::Num)
                }
                (ColumnType::Datetime, Value::String(s)) => {
                    parse_rfc3339(s).map_or(Val::Null, Val::Time)
                }
                (ColumnType::Dateonly, Value::String(s)) => {
                    parse_date(s).map_or(Val::Null, Val::Time)
                }
                (_, Value::Number(n)) => n.as_f64().map_or(Val::Null, Val::Num),
                (_, Value::Bool(b)) => Val::Bool(*b),
                _ => Val::Null,
            }
        }
    }
}

/// The row a lookup of `row` points at, if it exists.
pub(super) fn follow<'o>(
    org: &'o Org,
    t: usize,
    row: &Row,
    navigation: &str,
) -> Option<(usize, &'o Row)> {
    let lookup = org.tables[t].def.navigation(navigation)?;
    let id = row.values.get(&lookup.column)?.as_str()?;
    let target = org.table_index(&lookup.target)?;
    Some((target, org.tables[target].find(id)?))
}

/// Does `row` pass the filter?
pub(super) fn matches(org: &Org, t: usize, row: &Row, expr: &filter::Expr) -> bool {
    let get = |path: &[String], name: &str| -> Val {
        let mut table = t;
        let mut current = row;
        for nav in path {
            match follow(org, table, current, nav) {
                Some((next_t, next_row)) => {
                    table = next_t;
                    current = next_row;
                }
                None => return Val::Null,
            }
        }
        cell_val(org, table, current, name)
    };
    filter::eval(expr, &get) == Some(true)
}

const FORMATTED: &str = "OData.Community.Display.V1.FormattedValue";
const NAVIGATION: &str = "Microsoft.Dynamics.CRM.associatednavigationproperty";
const LOGICAL: &str = "Microsoft.Dynamics.CRM.lookuplogicalname";

/// Lookup annotations, emitted before the `_x_value` they describe
/// (dataverse.md §1.9): the target's primary name as the formatted value,
/// the navigation property and the target's logical name. Other columns
/// carry their en-US formatted value (`formatted.rs`) where their type has one.
fn annotate(
    org: &Org,
    t: usize,
    row: &Row,
    name: &str,
    view: &View,
    fields: &mut Vec<(String, Out)>,
) {
    if view.annotations.is_empty() {
        return;
    }
    let lookup = match org.tables[t].def.attr(name) {
        Some(Attr::LookupValue(lookup)) => lookup,
        Some(Attr::Column(column)) => {
            if wanted(view, FORMATTED) {
                if let Some(text) = row
                    .values
                    .get(name)
                    .and_then(|v| super::formatted::formatted(column, v))
                {
                    fields.push((format!("{name}@{FORMATTED}"), Out::str(text)));
                }
            }
            return;
        }
        _ => return,
    };
    let Some(id) = row.values.get(name).and_then(Value::as_str) else {
        return;
    };
    let Some(target) = org.table(&lookup.target) else {
        return;
    };
    if wanted(view, FORMATTED) {
        if let Some(Value::String(label)) = target
            .find(id)
            .and_then(|r| r.values.get(&target.def.primary_name))
        {
            fields.push((format!("{name}@{FORMATTED}"), Out::str(label)));
        }
    }
    if wanted(view, NAVIGATION) {
        fields.push((format!("{name}@{NAVIGATION}"), Out::str(&lookup.navigation)));
    }
    if wanted(view, LOGICAL) {
        fields.push((
            format!("{name}@{LOGICAL}"),
            Out::str(&target.def.logical_name),
        ));
    }
}

/// `Preference-Applied` for the honoured preferences (dataverse.md §8).
pub(super) fn applied(ctx: &Ctx<'_>, mut parts: Vec<String>) -> Option<String> {
    if let Some(a) = &ctx.prefer.annotations {
        parts.push(format!("odata.include-annotations=\"{a}\""));
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

/// Renders a row: `@odata.etag` first (when `etag`), then the selected
/// columns in order (the primary key always), then expanded lookups.
pub(super) fn render_row(org: &Org, t: usize, row: &Row, view: &View, etag: bool) -> Out {
    let def = &org.tables[t].def;
    let mut fields: Vec<(String, Out)> = Vec::new();
    if etag {
        fields.push((
            "@odata.etag".into(),
            Out::str(format!("W/\"{}\"", row.version)),
        ));
    }
    let cell = |name: &str, ty: ColumnType| -> Out {
        match name {
            n if n == def.primary_id => Out::str(&row.id),
            CREATEDON => row
                .created
                .map_or(Out::Json(Value::Null), |m| Out::str(format_seconds(m))),
            MODIFIEDON => row
                .modified
                .map_or(Out::Json(Value::Null), |m| Out::str(format_seconds(m))),
            VERSIONNUMBER => Out::Json(Value::from(row.version)),
            _ => render_cell(ty, row.values.get(name)),
        }
    };
    match &view.select {
        None => {
            fields.push((def.primary_id.clone(), Out::str(&row.id)));
            for (name, ty) in def.output_columns() {
                annotate(org, t, row, &name, view, &mut fields);
                let value = cell(&name, ty);
                fields.push((name, value));
            }
        }
        Some(columns) => {
            for name in columns {
                let ty = def.attr(name).map_or(ColumnType::String, |a| a.ty());
                annotate(org, t, row, name, view, &mut fields);
                fields.push((name.clone(), cell(name, ty)));
            }
            if !columns.contains(&def.primary_id) {
                fields.push((def.primary_id.clone(), Out::str(&row.id)));
            }
        }
    }
    for e in &view.expand {
        if let Some(many) = &e.many {
            let mut children: Vec<&Row> = org.tables[many.child]
                .rows
                .iter()
                .filter(|r| r.values.get(&many.column).and_then(Value::as_str) == Some(&row.id))
                .filter(|r| {
                    many.filter
                        .as_ref()
                        .is_none_or(|f| matches(org, many.child, r, f))
                })
                .collect();
            sort_rows(org, many.child, &mut children, &many.order);
            children.truncate(many.top.unwrap_or(MAX_PAGE));
            let child_view = View {
                select: e.select.clone(),
                expand: Vec::new(),
                annotations: view.annotations.clone(),
            };
            let items = children
                .into_iter()
                .map(|r| render_row(org, many.child, r, &child_view, true))
                .collect();
            fields.push((e.navigation.clone(), Out::Arr(items)));
            continue;
        }
        let value = match follow(org, t, row, &e.navigation) {
            Some((target, related)) => render_row(
                org,
                target,
                related,
                &View {
                    select: e.select.clone(),
                    expand: Vec::new(),
                    annotations: view.annotations.clone(),
                },
                false,
            ),
            None => Out::Json(Value::Null),
        };
        fields.push((e.navigation.clone(), value));
    }
    Out::Obj(fields)
}

fn parse_filter(org: &Org, t: usize, ctx: &Ctx<'_>) -> DvResult<Option<filter::Expr>> {
    let Some(text) = ctx.param("$filter") else {
        return Ok(None);
    };
    let aliases = |name: &str| ctx.param(name).map(str::to_string);
    filter::parse(text, &org.tables[t].def.entity_set, org, &aliases).map(Some)
}

/// The rows matching `$filter`, ordered by `$orderby` (nulls first
/// ascending; ties keep insertion order).
fn matching<'o>(org: &'o Org, t: usize, ctx: &Ctx<'_>, with_order: bool) -> DvResult<Vec<&'o Row>> {
    let expr = parse_filter(org, t, ctx)?;
    let order = match ctx.param("$orderby") {
        Some(text) if with_order => parse_orderby(org, t, text)?,
        _ => Vec::new(),
    };
    let mut rows: Vec<&Row> = org.tables[t]
        .rows
        .iter()
        .filter(|r| expr.as_ref().is_none_or(|e| matches(org, t, r, e)))
        .collect();
    sort_rows(org, t, &mut rows, &order);
    Ok(rows)
}

/// Orders rows by `$orderby` keys (nulls first ascending; ties keep order).
fn sort_rows(org: &Org, t: usize, rows: &mut [&Row], order: &[(String, bool)]) {
    if !order.is_empty() {
        rows.sort_by(|a, b| {
            for (name, desc) in order {
                let (va, vb) = (cell_val(org, t, a, name), cell_val(org, t, b, name));
                let ord = match (&va, &vb) {
                    (Val::Null, Val::Null) => Ordering::Equal,
                    (Val::Null, _) => Ordering::Less,
                    (_, Val::Null) => Ordering::Greater,
                    _ => va.compare(&vb).unwrap_or(Ordering::Equal),
                };
                let ord = if *desc { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
    }
}

/// The opaque `$skiptoken`: `<cookie pagenumber="N" offset="K" />`, where
/// `offset` is the index of the page's first row in the ordered results.
fn skiptoken(page: usize, offset: usize) -> String {
    format!("<cookie pagenumber=\"{page}\" offset=\"{offset}\" />")
}

fn parse_skiptoken(text: &str) -> DvResult<(usize, usize)> {
    let attr = |name: &str| -> Option<usize> {
        let start = text.find(&format!("{name}=\""))? + name.len() + 2;
        let len = text[start..].find('"')?;
        text[start..start + len].parse().ok()
    };
    match (
        text.starts_with("<cookie "),
        attr("pagenumber"),
        attr("offset"),
    ) {
        (true, Some(page), Some(offset)) => Ok((page, offset)),
        _ => Err(DataverseError::query(format!(
            "The $skiptoken value '{text}' is not valid."
        ))),
    }
}

/// `GET <set>`.
pub(super) fn collection(org: &Org, t: usize, ctx: &Ctx<'_>) -> DvResult<Reply> {
    check_options(ctx)?;
    let set = &org.tables[t].def.entity_set;
    let view = parse_view(org, t, ctx)?;
    let top = match ctx.param("$top") {
        Some(v) => Some(v.trim().parse::<usize>().map_err(|_| {
            DataverseError::query(format!(
                "Invalid value '{v}' for $top query option found. The $top query option requires a non-negative integer value."
            ))
        })?),
        None => None,
    };
    let count = match ctx.param("$count") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(DataverseError::query(format!(
                "'{other}' is not a valid count option."
            )))
        }
    };
    let (page_number, offset) = match ctx.param("$skiptoken") {
        Some(token) => parse_skiptoken(token)?,
        None => (1, 0),
    };
    let rows = matching(org, t, ctx, true)?;
    let requested = ctx.prefer.maxpagesize;
    // dataverse.md §1.4: a maxpagesize above 5000 is ignored.
    let honoured = requested.filter(|n| *n <= MAX_PAGE);
    let (page, next) = match (honoured, top) {
        // `$top` alone: at most `$top` rows and never a nextLink (§1.4, §10.2).
        (None, Some(top)) if requested.is_none() => (
            rows.iter()
                .skip(offset)
                .take(top.min(MAX_PAGE))
                .collect::<Vec<_>>(),
            None,
        ),
        // With maxpagesize, `$top` is ignored (§1.4).
        (size, _) => {
            let size = size.unwrap_or(MAX_PAGE);
            let page: Vec<_> = rows.iter().skip(offset).take(size).collect();
            let next = (offset + size < rows.len()).then(|| offset + size);
            (page, next)
        }
    };
    let mut body: Vec<(String, Out)> = vec![(
        "@odata.context".into(),
        Out::str(context(ctx, set, &view, false)),
    )];
    if count {
        body.push((
            "@odata.count".into(),
            Out::Json(Value::from(rows.len().min(MAX_PAGE))),
        ));
    }
    body.push((
        "value".into(),
        Out::Arr(
            page.iter()
                .map(|r| render_row(org, t, r, &view, true))
                .collect(),
        ),
    ));
    if let Some(next_offset) = next {
        body.push((
            "@odata.nextLink".into(),
            Out::str(next_link(ctx, set, page_number + 1, next_offset)),
        ));
    }
    let mut reply = json_reply(StatusCode::OK, &Out::Obj(body));
    let pagesize = honoured.map(|n| format!("odata.maxpagesize={n}"));
    if let Some(value) = applied(ctx, pagesize.into_iter().collect()) {
        reply = reply.with_header(HeaderName::from_static("preference-applied"), value);
    }
    Ok(reply)
}

/// The request's own query with `$skiptoken` replaced (dataverse.md §1.4).
fn next_link(ctx: &Ctx<'_>, set: &str, page: usize, offset: usize) -> String {
    let mut parts: Vec<String> = ctx
        .call
        .query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let name = p.split_once('=').map_or(*p, |(k, _)| k);
            crate::call::decode_component(&name.replace('+', " ")) != "$skiptoken"
        })
        .map(str::to_string)
        .collect();
    parts.push(format!(
        "$skiptoken={}",
        utf8_percent_encode(&skiptoken(page, offset), NON_ALPHANUMERIC)
    ));
    format!("{}/{set}?{}", ctx.base, parts.join("&"))
}

/// `GET <set>/$count`: a bare number, `text/plain` (dataverse.md §1.3).
pub(super) fn count(org: &Org, t: usize, ctx: &Ctx<'_>) -> DvResult<Reply> {
    check_options(ctx)?;
    let n = matching(org, t, ctx, false)?.len().min(MAX_PAGE);
    Ok(Reply::new(StatusCode::OK)
        .with_body(n.to_string())
        .with_header(header::CONTENT_TYPE, "text/plain"))
}

fn find<'o>(org: &'o Org, t: usize, id: &str) -> DvResult<&'o Row> {
    let table = &org.tables[t];
    table
        .find(id)
        .ok_or_else(|| DataverseError::row_missing(&table.def.logical_name, id))
}

/// `GET <set>(<id>)`, with `If-None-Match: W/"n"` → 304 when unchanged (dataverse.md §2).
pub(super) fn single(org: &Org, t: usize, id: &str, ctx: &Ctx<'_>) -> DvResult<Reply> {
    check_options(ctx)?;
    let view = parse_view(org, t, ctx)?;
    let row = find(org, t, id)?;
    let etag = format!("W/\"{}\"", row.version);
    if view.expand.is_empty()
        && ctx.prefer.annotations.is_none()
        && ctx
            .call
            .header("if-none-match")
            .is_some_and(|v| v.split(',').any(|e| e.trim() == etag))
    {
        return Ok(Reply::new(StatusCode::NOT_MODIFIED));
    }
    let reply = entity_reply(org, t, row, &view, ctx, StatusCode::OK);
    Ok(match applied(ctx, Vec::new()) {
        Some(value) => reply.with_header(HeaderName::from_static("preference-applied"), value),
        None => reply,
    })
}

/// A single row with `…/$entity` context.
pub(super) fn entity_reply(
    org: &Org,
    t: usize,
    row: &Row,
    view: &View,
    ctx: &Ctx<'_>,
    status: StatusCode,
) -> Reply {
    let set = &org.tables[t].def.entity_set;
    let Out::Obj(fields) = render_row(org, t, row, view, true) else {
        return json_reply(status, &Out::Obj(Vec::new()));
    };
    let mut body = vec![(
        "@odata.context".to_string(),
        Out::str(context(ctx, set, view, true)),
    )];
    body.extend(fields);
    json_reply(status, &Out::Obj(body))
}

/// `GET <set>(<id>)/<property>` (dataverse.md §2); a null value is `204`.
pub(super) fn property(
    org: &Org,
    t: usize,
    id: &str,
    name: &str,
    ctx: &Ctx<'_>,
) -> DvResult<Reply> {
    let def = &org.tables[t].def;
    let Some(attr) = def.attr(name) else {
        return Err(DataverseError::segment(name));
    };
    let row = find(org, t, id)?;
    let view = View {
        select: Some(vec![name.to_string()]),
        ..View::default()
    };
    let Out::Obj(fields) = render_row(org, t, row, &view, false) else {
        return Err(DataverseError::segment(name));
    };
    let value = fields
        .into_iter()
        .next()
        .map(|(_, v)| v)
        .unwrap_or(Out::Json(Value::Null));
    if value == Out::Json(Value::Null) {
        return Ok(Reply::new(StatusCode::NO_CONTENT));
    }
    let _ = attr;
    Ok(json_reply(
        StatusCode::OK,
        &Out::Obj(vec![
            (
                "@odata.context".into(),
                Out::str(format!(
                    "{}/$metadata#{}({id})/{name}",
                    ctx.base, def.entity_set
                )),
            ),
            ("value".into(), value),
        ]),
    ))
}
