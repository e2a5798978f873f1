//! The Dataverse tables of one workspace: orgs, their table definitions and
//! rows, the row version counter, the per-token request counters, and the
//! undo log of an open stage (change sets roll back through it).
//!
//! This is state only: the Web API engine that reads and writes it over
//! OData (`dataverse/`) sits above and names it; nothing here names the
//! engine. Submodules: `schema` (table definitions, column types,
//! coercion), `fixture` (the YAML format), `undo` (staged writes), `json`
//! (ordered output with exact decimals), `throttle` (service protection
//! counters).

mod defaults;
pub(crate) mod fixture;
pub(crate) mod json;
pub(crate) mod schema;
pub(crate) mod throttle;
pub(crate) mod undo;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::world::ids::IdGen;
use crate::world::time::{format_seconds, parse_duration, parse_rfc3339, Millis};

pub(crate) use fixture::{
    ColumnLong, ColumnSpec, ColumnsFixture, DataverseFixture, OrgFixture, RowsFixture,
    ServiceProtection, TableFixture, WhoAmIFixture,
};
pub(crate) use schema::ColumnType;

use schema::{Attr, Column, TableDef, CREATEDON, MODIFIEDON, VERSIONNUMBER};
use throttle::Throttle;

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
    /// Never changes once loaded: shared by every copy of the workspace.
    pub def: std::sync::Arc<TableDef>,
    /// Insertion order; the default order of query results. Shared with the
    /// pristine copy until a write changes them.
    pub rows: std::sync::Arc<Vec<Row>>,
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

    /// The table and lookup behind collection-valued navigation property
    /// `name` of table `t`: the rows of another table pointing at `t`.
    pub(crate) fn collection(&self, t: usize, name: &str) -> Option<(usize, &schema::Lookup)> {
        let set = &self.tables[t].def.entity_set;
        self.tables.iter().enumerate().find_map(|(ci, child)| {
            child
                .def
                .lookups
                .iter()
                .find(|l| &l.target == set && l.collection_name(&child.def) == name)
                .map(|l| (ci, l))
        })
    }

    pub(crate) fn table_index(&self, set: &str) -> Option<usize> {
        self.tables.iter().position(|t| t.def.entity_set == set)
    }
}

/// The Dataverse state of one workspace.
#[derive(Debug, Clone, Default)]
pub struct Store {
    pub(crate) orgs: Vec<Org>,
    pub(crate) next_version: u64,
    pub(crate) protection: Option<ServiceProtection>,
    pub(crate) throttle: Throttle,
    /// Writes since `begin`, to undo as one (see `undo`).
    pub(crate) stage: Option<undo::Stage>,
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
                    if schema::parse_guid(id).is_none() {
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
            None => defaults::default_tables(),
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
                    def: std::sync::Arc::new(def),
                    rows: Default::default(),
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
                std::sync::Arc::make_mut(&mut org.tables[t].rows).push(row);
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
            let bad = |e: schema::CoerceError| match e {
                schema::CoerceError::Convert(m) => format!("column '{name}': {m}"),
                schema::CoerceError::TooLong(max) => {
                    format!("column '{name}' is longer than {max}")
                }
            };
            match attr {
                Attr::PrimaryId => {
                    row.id = value
                        .as_str()
                        .and_then(schema::parse_guid)
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
                    if let Some(v) = schema::coerce(c.ty, c.max_length, value).map_err(bad)? {
                        row.values.insert(name.clone(), v);
                    }
                }
                Attr::LookupValue(_) => {
                    if let Some(v) =
                        schema::coerce(schema::ColumnType::Guid, None, value).map_err(bad)?
                    {
                        row.values.insert(name.clone(), v);
                    }
                }
            }
        }
        if row.id.is_empty() {
            row.id = ids.guid();
        }
        def.default_state(&mut row.values);
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
    pub(crate) fn bump(&mut self) -> u64 {
        let v = self.next_version;
        self.next_version += 1;
        v
    }

    pub fn has_org(&self, org: &str) -> bool {
        self.orgs.iter().any(|o| o.name == org)
    }

    /// Gives rows loaded without timestamps the current virtual time.
    pub(crate) fn stamp(&mut self, now: Millis) {
        // Only a table with an unstamped row stops sharing its rows.
        for table in self
            .orgs
            .iter_mut()
            .flat_map(|o| o.tables.iter_mut())
            .filter(|t| {
                t.rows
                    .iter()
                    .any(|r| r.created.is_none() || r.modified.is_none())
            })
        {
            for row in std::sync::Arc::make_mut(&mut table.rows).iter_mut() {
                row.created.get_or_insert(now);
                row.modified.get_or_insert(now);
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
}

fn table_def(fx: &TableFixture) -> Result<TableDef, String> {
    let mut columns: Vec<Column> = fx
        .columns
        .0
        .iter()
        .map(|(name, spec)| match spec {
            ColumnSpec::Short(ty) => Column::new(name, *ty),
            ColumnSpec::Long(l) => {
                let mut column = match l.max_length {
                    Some(max) => Column::with_max(name, l.ty, max),
                    None => Column::new(name, l.ty),
                };
                column.options = l.options.iter().map(|(v, t)| (*v, t.clone())).collect();
                column
            }
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
        alternate_keys: fx.alternate_keys.clone(),
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
                            options: c.options.iter().cloned().collect(),
                        }),
                    )
                })
                .collect(),
        ),
        lookups: def.lookups.clone(),
        alternate_keys: def.alternate_keys.clone(),
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
                .map(|v| schema::render_cell(ty, Some(v)).to_value()),
        };
        if let Some(v) = value {
            out.insert(name, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(tables: &str, rows: &str) -> DataverseFixture {
        let yaml = format!("orgs:\n  - name: default\n    tables:\n{tables}{rows}");
        serde_yaml_ng::from_str(&yaml).unwrap()
    }

    fn table(entity_set: &str, logical_name: &str) -> String {
        format!(
            "      - {{entity_set: {entity_set}, logical_name: {logical_name}, primary_id: thingid, \
             primary_name: name, columns: {{name: string}}}}\n"
        )
    }

    #[test]
    fn a_table_is_declared_once_by_entity_set_and_by_logical_name() {
        let mut ids = IdGen::new(1);
        let load = |fx: &DataverseFixture, ids: &mut IdGen| Store::from_fixture(fx, ids);
        let same_set = org(&(table("things", "thing") + &table("things", "other")), "");
        let err = load(&same_set, &mut ids).unwrap_err();
        assert!(err.contains("'things' is declared twice"), "{err}");
        let same_name = org(&(table("things", "thing") + &table("others", "thing")), "");
        let err = load(&same_name, &mut ids).unwrap_err();
        assert!(err.contains("'others' is declared twice"), "{err}");
        let apart = org(&(table("things", "thing") + &table("others", "other")), "");
        assert!(load(&apart, &mut ids).is_ok());
    }

    #[test]
    fn a_fixture_rows_version_is_never_handed_out_again() {
        let mut ids = IdGen::new(1);
        let fx = org(
            &table("things", "thing"),
            "    rows:\n      things: [{name: a, versionnumber: 5000000}]\n",
        );
        let mut store = Store::from_fixture(&fx, &mut ids).unwrap();
        assert_eq!(store.bump(), 5_000_001);
    }
}
