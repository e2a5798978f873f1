//! The `dataverse:` section of a fixture file.
//!
//! ```yaml
//! dataverse:
//!   service_protection: {requests: 6000, window: 300s}  # optional; per token, virtual time
//!   next_version: 1000       # optional; the next row version (state dumps set it)
//!   orgs:
//!     - name: default        # connections reference an org by name
//!       whoami:              # optional; generated from the seeded IdGen when absent
//!         user_id: 22cc22cc-0000-0000-0000-000000000001
//!         business_unit_id: 11bb11bb-0000-0000-0000-000000000001
//!         organization_id: 00aa00aa-0000-0000-0000-000000000001
//!       tables:              # optional; absent => teams, otcm_suppliers,
//!                            # otcm_inboundinvoices, otcm_inboundinvoicelineitems
//!         - entity_set: otcm_suppliers
//!           logical_name: otcm_supplier
//!           primary_id: otcm_supplierid
//!           primary_name: otcm_name      # a string column (declared or implied)
//!           columns:                     # name -> type, or {type, max_length}
//!             otcm_name: {type: string, max_length: 200}
//!             otcm_vendorcode: string
//!             statecode: integer       # string memo integer bigint decimal money
//!                                      # boolean datetime dateonly guid choice
//!             otcm_kind: {type: choice, options: {1: Goods, 2: Services}}
//!           lookups:                     # collection: optional name of the target's
//!                                        # collection-valued navigation property
//!             - {navigation: otcm_ParentId, column: _otcm_parentid_value, target: otcm_suppliers}
//!           alternate_keys: [[otcm_vendorcode]]  # optional; columns addressing one row
//!       rows:                # keyed by entity set name, in insertion order
//!         otcm_suppliers:
//!           - {otcm_supplierid: 9c7a…, otcm_name: Northwind Traders}
//!           - {otcm_name: Contoso}   # no id => IdGen::guid()
//! ```
//!
//! Row maps use column names as in responses: the primary id, declared
//! columns, lookup value columns (`_x_value: <guid>`), and optionally the
//! system columns `createdon`/`modifiedon` (RFC 3339) and `versionnumber`.
//! Rows without timestamps are stamped with the virtual time of the first
//! request the store serves (or the instant given to `from_fixture_at`).

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::schema::{ColumnType, Lookup};

/// The `dataverse:` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataverseFixture {
    /// Per-token request limit; default 6000 requests per 300 s (dataverse.md §6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_protection: Option<ServiceProtection>,
    /// The next row version number to hand out (store-wide counter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_version: Option<u64>,
    #[serde(default)]
    pub orgs: Vec<OrgFixture>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceProtection {
    pub requests: u32,
    /// A duration such as `300s` or `5m`.
    pub window: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgFixture {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whoami: Option<WhoAmIFixture>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<TableFixture>>,
    /// Rows per entity set, as ordered (set name, rows) pairs.
    #[serde(default, skip_serializing_if = "RowsFixture::is_empty")]
    pub rows: RowsFixture,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhoAmIFixture {
    pub user_id: String,
    pub business_unit_id: String,
    pub organization_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableFixture {
    pub entity_set: String,
    pub logical_name: String,
    pub primary_id: String,
    pub primary_name: String,
    #[serde(default)]
    pub columns: ColumnsFixture,
    #[serde(default)]
    pub lookups: Vec<Lookup>,
    /// Alternate keys, each a list of columns (`[[otcm_invoicenumber]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternate_keys: Vec<Vec<String>>,
}

/// A column type, short (`string`) or long (`{type: string, max_length: 100}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ColumnSpec {
    Short(ColumnType),
    Long(ColumnLong),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnLong {
    #[serde(rename = "type")]
    pub ty: ColumnType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// Choice labels: value -> en-US label (formatted values).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub options: std::collections::BTreeMap<i64, String>,
}

/// An ordered map `name -> ColumnSpec` (definition order is output order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnsFixture(pub Vec<(String, ColumnSpec)>);

/// An ordered map `entity set -> rows`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowsFixture(pub Vec<(String, Vec<serde_json::Map<String, serde_json::Value>>)>);

impl RowsFixture {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Deserialises a map into ordered pairs, rejecting duplicate keys.
struct PairsVisitor<V>(std::marker::PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for PairsVisitor<V> {
    type Value = Vec<(String, V)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: Vec<(String, V)> = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, V>()? {
            if out.iter().any(|(seen, _)| *seen == k) {
                return Err(serde::de::Error::custom(format!("duplicate key '{k}'")));
            }
            out.push((k, v));
        }
        Ok(out)
    }
}

fn serialize_pairs<S: Serializer, V: Serialize>(
    pairs: &[(String, V)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

impl<'de> Deserialize<'de> for ColumnsFixture {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PairsVisitor(std::marker::PhantomData))
            .map(ColumnsFixture)
    }
}

impl Serialize for ColumnsFixture {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_pairs(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for RowsFixture {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PairsVisitor(std::marker::PhantomData))
            .map(RowsFixture)
    }
}

impl Serialize for RowsFixture {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_pairs(&self.0, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_shape() {
        let yaml = r#"
service_protection: {requests: 10, window: 60s}
orgs:
  - name: default
    whoami: {user_id: a, business_unit_id: b, organization_id: c}
    tables:
      - entity_set: things
        logical_name: thing
        primary_id: thingid
        primary_name: name
        columns:
          zeta: string
          alpha: {type: money}
          name: {type: string, max_length: 20}
        lookups:
          - {navigation: Parent, column: _parent_value, target: things}
    rows:
      things: [{name: x}]
"#;
        let fx: DataverseFixture = serde_yaml_ng::from_str(yaml).unwrap();
        let org = &fx.orgs[0];
        let cols = &org.tables.as_ref().unwrap()[0].columns.0;
        assert_eq!(cols[0].0, "zeta");
        assert_eq!(
            cols[1].1,
            ColumnSpec::Long(ColumnLong {
                ty: ColumnType::Money,
                max_length: None,
                options: Default::default(),
            })
        );
        assert_eq!(org.rows.0[0].0, "things");
        let back: DataverseFixture =
            serde_yaml_ng::from_str(&serde_yaml_ng::to_string(&fx).unwrap()).unwrap();
        assert_eq!(back, fx);
    }

    #[test]
    fn rejects_unknown_fields_and_duplicates() {
        assert!(serde_yaml_ng::from_str::<DataverseFixture>("orgz: []").is_err());
        assert!(
            serde_yaml_ng::from_str::<DataverseFixture>("orgs: [{name: a, extra: 1}]").is_err()
        );
        let dup = "orgs: [{name: a, tables: [{entity_set: s, logical_name: l, primary_id: i, primary_name: n, columns: {n: string, n: memo}}]}]";
        assert!(serde_yaml_ng::from_str::<DataverseFixture>(dup).is_err());
        assert!(serde_yaml_ng::from_str::<DataverseFixture>("orgs: [{name: a, tables: [{entity_set: s, logical_name: l, primary_id: i, primary_name: n, columns: {n: text}}]}]").is_err());
    }

    #[test]
    fn an_org_without_rows_is_written_without_them_and_columns_must_be_a_map() {
        let yaml = "orgs:\n  - name: default\n";
        let fx: DataverseFixture = serde_yaml_ng::from_str(yaml).unwrap();
        let written = serde_json::to_value(&fx).unwrap();
        assert!(written["orgs"][0].get("rows").is_none(), "{written}");
        let bad = "orgs:\n  - name: default\n    tables:\n      - entity_set: things\n        logical_name: thing\n        primary_id: thingid\n        primary_name: name\n        columns: [name]\n";
        let err = serde_yaml_ng::from_str::<DataverseFixture>(bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a map"), "{err}");
    }
}
