//! What a response shows of each row: `$select`, `$expand` (one level,
//! lookups and collections with their nested options), `$orderby` keys and
//! the annotations asked for with `Prefer` (dataverse.md §1.7–§1.9).
//!
//! Parsing only; `query` renders rows through a [`View`].

use super::error::{DataverseError, DvResult, NOT_IMPLEMENTED};
use super::filter;
use super::Ctx;
use crate::world::tables::Org;

/// What a response shows of each row.
#[derive(Debug, Clone, Default)]
pub(super) struct View {
    /// `$select` as given (`None`: every column).
    pub select: Option<Vec<String>>,
    pub expand: Vec<Expand>,
    /// `Prefer: odata.include-annotations` patterns (dataverse.md §1.9).
    pub annotations: Vec<String>,
}

/// One `$expand` item: a lookup (single-valued) or the rows pointing here
/// (collection-valued, with its own filter, order and top).
#[derive(Debug, Clone)]
pub(super) struct Expand {
    pub navigation: String,
    pub select: Option<Vec<String>>,
    pub many: Option<Many>,
}

/// The rows of a collection-valued `$expand`.
#[derive(Debug, Clone)]
pub(super) struct Many {
    /// The child table and its lookup column pointing at the parent.
    pub child: usize,
    pub column: String,
    pub filter: Option<filter::Expr>,
    pub order: Vec<(String, bool)>,
    pub top: Option<usize>,
}

impl View {
    pub(super) fn all() -> View {
        View::default()
    }

    /// `(a,b,nav(c))` for `@odata.context`, or empty without `$select`/`$expand`.
    pub(crate) fn context_list(&self) -> String {
        let mut items: Vec<String> = self.select.clone().unwrap_or_default();
        for e in &self.expand {
            items.push(format!(
                "{}({})",
                e.navigation,
                e.select.clone().unwrap_or_default().join(",")
            ));
        }
        if items.is_empty() {
            String::new()
        } else {
            format!("({})", items.join(","))
        }
    }
}

pub(crate) fn parse_select(org: &Org, t: usize, text: &str) -> DvResult<Option<Vec<String>>> {
    let def = &org.tables[t].def;
    let mut out: Vec<String> = Vec::new();
    for item in text.split(',').map(str::trim) {
        if item == "*" {
            return Ok(None);
        }
        if item.is_empty() {
            return Err(DataverseError::query(format!(
                "Syntax error at position {} in '{text}'.",
                text.len()
            )));
        }
        if def.attr(item).is_none() {
            return Err(DataverseError::no_property(item, &def.logical_name));
        }
        if !out.iter().any(|s| s == item) {
            out.push(item.to_string());
        }
    }
    Ok(Some(out))
}

/// Splits on `sep` outside parentheses.
pub(crate) fn split_top(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c == sep && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

pub(crate) fn parse_expand(org: &Org, t: usize, text: &str) -> DvResult<Vec<Expand>> {
    let def = &org.tables[t].def;
    let mut out = Vec::new();
    for item in split_top(text, ',').into_iter().map(str::trim) {
        let (nav, options) = match item.split_once('(') {
            Some((nav, rest)) => (
                nav.trim(),
                Some(rest.strip_suffix(')').ok_or_else(|| {
                    DataverseError::query(format!(
                        "Syntax error at position {} in '{text}'.",
                        text.len()
                    ))
                })?),
            ),
            None => (item, None),
        };
        if nav.ends_with("/$ref") {
            return Err(DataverseError::new(
                501,
                NOT_IMPLEMENTED,
                "$expand with $ref is not supported by this fake.",
            ));
        }
        if let Some((child, lookup)) = org.collection(t, nav) {
            out.push(parse_many(org, child, &lookup.column, nav, options)?);
            continue;
        }
        let Some(lookup) = def.navigation(nav) else {
            return Err(DataverseError::no_property(nav, &def.logical_name));
        };
        let target = org
            .table_index(&lookup.target)
            .ok_or_else(|| DataverseError::segment(&lookup.target))?;
        let mut select = None;
        for option in options.map(|o| split_top(o, ';')).unwrap_or_default() {
            let option = option.trim();
            if option.is_empty() {
                continue;
            }
            match option.split_once('=') {
                Some(("$select", cols)) => select = parse_select(org, target, cols)?,
                // Allowed by Dataverse on a single-valued expand but with no effect on one row.
                Some(("$filter" | "$orderby" | "$top", _)) => {}
                Some(("$expand", _)) => {
                    return Err(DataverseError::new(501, NOT_IMPLEMENTED, "Nested $expand is not supported by this fake."))
                }
                _ => {
                    return Err(DataverseError::query(
                        "Only $select and $filter clause can be provided while doing $expand on many-to-one relationship or nested one-to-many relationship.",
                    ))
                }
            }
        }
        out.push(Expand {
            navigation: nav.to_string(),
            select,
            many: None,
        });
    }
    Ok(out)
}

/// A collection-valued `$expand` with its options (`$select`, `$filter`,
/// `$orderby`, `$top`; one level: no nested `$expand`).
pub(crate) fn parse_many(
    org: &Org,
    child: usize,
    column: &str,
    nav: &str,
    options: Option<&str>,
) -> DvResult<Expand> {
    let mut expand = Expand {
        navigation: nav.to_string(),
        select: None,
        many: Some(Many {
            child,
            column: column.to_string(),
            filter: None,
            order: Vec::new(),
            top: None,
        }),
    };
    let many = expand.many.as_mut().expect("just set");
    for option in options.map(|o| split_top(o, ';')).unwrap_or_default() {
        let option = option.trim();
        if option.is_empty() {
            continue;
        }
        match option.split_once('=') {
            Some(("$select", cols)) => expand.select = parse_select(org, child, cols)?,
            Some(("$filter", text)) => {
                let set = &org.tables[child].def.entity_set;
                many.filter = Some(filter::parse(text, set, org, &|_: &str| None)?);
            }
            Some(("$orderby", text)) => many.order = parse_orderby(org, child, text)?,
            Some(("$top", n)) => {
                many.top = Some(n.trim().parse().map_err(|_| {
                    DataverseError::query(format!(
                        "Invalid value '{n}' for $top query option found. The $top query option requires a non-negative integer value."
                    ))
                })?)
            }
            Some(("$expand", _)) => {
                return Err(DataverseError::new(
                    501,
                    NOT_IMPLEMENTED,
                    "Nested $expand is not supported by this fake.",
                ))
            }
            _ => {
                return Err(DataverseError::query(format!(
                    "The option '{option}' is not supported inside $expand; use $select, $filter, $orderby or $top."
                )))
            }
        }
    }
    Ok(expand)
}

/// `$select` and `$expand` of the request.
pub(super) fn parse_view(org: &Org, t: usize, ctx: &Ctx<'_>) -> DvResult<View> {
    let select = match ctx.param("$select") {
        Some(text) => parse_select(org, t, text)?,
        None => None,
    };
    let expand = match ctx.param("$expand") {
        Some(text) => parse_expand(org, t, text)?,
        None => Vec::new(),
    };
    Ok(View {
        select,
        expand,
        annotations: annotation_patterns(ctx),
    })
}

/// The annotation patterns of `Prefer: odata.include-annotations="a,b*"`.
pub(crate) fn annotation_patterns(ctx: &Ctx<'_>) -> Vec<String> {
    ctx.prefer
        .annotations
        .as_deref()
        .map(|a| {
            a.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn wanted(view: &View, annotation: &str) -> bool {
    view.annotations.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => annotation.starts_with(prefix),
        None => p == annotation,
    })
}

pub(crate) fn parse_orderby(org: &Org, t: usize, text: &str) -> DvResult<Vec<(String, bool)>> {
    let def = &org.tables[t].def;
    let mut keys = Vec::new();
    for item in text.split(',').map(str::trim) {
        let mut words = item.split_whitespace();
        let Some(name) = words.next() else {
            return Err(DataverseError::query(format!(
                "Syntax error at position {} in '{text}'.",
                text.len()
            )));
        };
        let desc = match words.next() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(DataverseError::query(format!(
                    "Syntax error at position {} in '{text}'.",
                    text.len()
                )))
            }
        };
        if words.next().is_some() {
            return Err(DataverseError::query(format!(
                "Syntax error at position {} in '{text}'.",
                text.len()
            )));
        }
        if def.attr(name).is_none() {
            return Err(DataverseError::no_property(name, &def.logical_name));
        }
        keys.push((name.to_string(), desc));
    }
    Ok(keys)
}
