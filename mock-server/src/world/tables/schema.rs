//! Table definitions, column types and value coercion.
//!
//! Stored cell values are canonical `serde_json::Value`s, one form per type:
//! strings for `string`/`memo`/`guid` (lowercase)/`datetime`
//! (`2023-04-07T21:59:01Z`)/`dateonly` (`2023-04-07`), integers for
//! `integer`/`choice`/`bigint`, booleans for `boolean`, and decimal *text* with
//! the column's scale for `decimal` (10 places) and `money` (4 places), so a
//! value is written back exactly as Dataverse writes it (dataverse.md §1.1).
//! A null cell is simply absent from the row.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json::Out;
use crate::world::time::{format_seconds, parse_rfc3339};

/// A column type of a fixture table definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Single line of text (`Edm.String`).
    String,
    /// Multiple lines of text (`Edm.String`).
    Memo,
    /// Whole number (`Edm.Int32`).
    Integer,
    /// Big integer (`Edm.Int64`), e.g. `versionnumber`.
    Bigint,
    /// Decimal number (`Edm.Decimal`, 10 decimal places on the wire).
    Decimal,
    /// Currency (`Edm.Decimal`, 4 decimal places on the wire).
    Money,
    /// Yes/No (`Edm.Boolean`).
    Boolean,
    /// Date and time (`Edm.DateTimeOffset`, UTC, no fraction).
    Datetime,
    /// Date only (`Edm.Date`, `YYYY-MM-DD`).
    Dateonly,
    /// Unique identifier (`Edm.Guid`).
    Guid,
    /// Choice / option set (`Edm.Int32`).
    Choice,
}

impl ColumnType {
    pub fn edm(self) -> &'static str {
        match self {
            ColumnType::String | ColumnType::Memo => "Edm.String",
            ColumnType::Integer | ColumnType::Choice => "Edm.Int32",
            ColumnType::Bigint => "Edm.Int64",
            ColumnType::Decimal | ColumnType::Money => "Edm.Decimal",
            ColumnType::Boolean => "Edm.Boolean",
            ColumnType::Datetime => "Edm.DateTimeOffset",
            ColumnType::Dateonly => "Edm.Date",
            ColumnType::Guid => "Edm.Guid",
        }
    }

    /// The maximum length when a fixture gives none (Dataverse's upper limits).
    fn default_max_length(self) -> Option<usize> {
        match self {
            ColumnType::String => Some(4000),
            ColumnType::Memo => Some(1_048_576),
            _ => None,
        }
    }
}

/// One declared column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    pub name: String,
    pub ty: ColumnType,
    /// Maximum length in characters (strings only).
    pub max_length: Option<usize>,
    /// Choice labels (value, en-US label), for formatted values.
    pub options: Vec<(i64, String)>,
}

/// Default `statecode` of a new row (0, Active) and `statuscode` (1, Active).
pub(crate) const STATECODE: &str = "statecode";
pub(crate) const STATUSCODE: &str = "statuscode";

impl Column {
    pub(crate) fn new(name: &str, ty: ColumnType) -> Self {
        Self {
            name: name.into(),
            ty,
            max_length: ty.default_max_length(),
            options: Vec::new(),
        }
    }

    /// The en-US label of choice value `value`: the declared options, or
    /// Dataverse's standard labels for `statecode`/`statuscode`.
    pub(crate) fn label(&self, value: i64) -> Option<String> {
        if let Some((_, label)) = self.options.iter().find(|(v, _)| *v == value) {
            return Some(label.clone());
        }
        match (self.name.as_str(), value) {
            (STATECODE, 0) | (STATUSCODE, 1) => Some("Active".into()),
            (STATECODE, 1) | (STATUSCODE, 2) => Some("Inactive".into()),
            _ => None,
        }
    }

    pub(crate) fn with_max(name: &str, ty: ColumnType, max: usize) -> Self {
        Self {
            name: name.into(),
            ty,
            options: Vec::new(),
            max_length: Some(max),
        }
    }
}

/// A single-valued navigation property (a lookup).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    /// Navigation property name, case-sensitive (e.g. `otcm_SupplierId`).
    pub navigation: String,
    /// The read-only value column (e.g. `_otcm_supplierid_value`).
    pub column: String,
    /// Target entity set name (e.g. `otcm_suppliers`).
    pub target: String,
    /// The collection-valued navigation property on the target that lists
    /// the rows pointing at it (deep insert, `$expand`); default
    /// `<entity set>_<navigation>` of the referencing table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
}

impl Lookup {
    /// The name of the collection-valued navigation property this lookup
    /// gives its target, for a lookup declared on `referencing`.
    pub(crate) fn collection_name(&self, referencing: &TableDef) -> String {
        self.collection
            .clone()
            .unwrap_or_else(|| format!("{}_{}", referencing.entity_set, self.navigation))
    }
}

/// A table's definition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TableDef {
    pub entity_set: String,
    pub logical_name: String,
    pub primary_id: String,
    pub primary_name: String,
    /// Declared columns in definition order (the primary name is always one of them).
    pub columns: Vec<Column>,
    pub lookups: Vec<Lookup>,
    /// Alternate keys: each a list of declared columns whose values
    /// together address one row (`set(col='v')`) and must be unique.
    pub alternate_keys: Vec<Vec<String>>,
}

/// The system columns every row carries.
pub(crate) const CREATEDON: &str = "createdon";
pub(crate) const MODIFIEDON: &str = "modifiedon";
pub(crate) const VERSIONNUMBER: &str = "versionnumber";

/// What a property name on a table refers to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Attr<'a> {
    PrimaryId,
    Column(&'a Column),
    /// The `_x_value` column of a lookup.
    LookupValue(&'a Lookup),
    /// `createdon`, `modifiedon` (datetime) or `versionnumber` (bigint).
    System(&'static str, ColumnType),
}

impl Attr<'_> {
    pub(crate) fn ty(&self) -> ColumnType {
        match self {
            Attr::PrimaryId | Attr::LookupValue(_) => ColumnType::Guid,
            Attr::Column(c) => c.ty,
            Attr::System(_, ty) => *ty,
        }
    }
}

impl TableDef {
    /// Resolves a (case-sensitive) structural property name.
    pub(crate) fn attr(&self, name: &str) -> Option<Attr<'_>> {
        if name == self.primary_id {
            return Some(Attr::PrimaryId);
        }
        if let Some(c) = self.columns.iter().find(|c| c.name == name) {
            return Some(Attr::Column(c));
        }
        if let Some(l) = self.lookups.iter().find(|l| l.column == name) {
            return Some(Attr::LookupValue(l));
        }
        match name {
            CREATEDON => Some(Attr::System(CREATEDON, ColumnType::Datetime)),
            MODIFIEDON => Some(Attr::System(MODIFIEDON, ColumnType::Datetime)),
            VERSIONNUMBER => Some(Attr::System(VERSIONNUMBER, ColumnType::Bigint)),
            _ => None,
        }
    }

    /// Gives a row without `statecode`/`statuscode` (where the table has
    /// them) Dataverse's defaults: 0 (Active) and 1 (Active).
    pub(crate) fn default_state(&self, values: &mut std::collections::BTreeMap<String, Value>) {
        for (column, value) in [(STATECODE, 0), (STATUSCODE, 1)] {
            if self.columns.iter().any(|c| c.name == column) && !values.contains_key(column) {
                values.insert(column.to_string(), Value::from(value));
            }
        }
    }

    /// Resolves a (case-sensitive) navigation property name.
    pub(crate) fn navigation(&self, name: &str) -> Option<&Lookup> {
        self.lookups.iter().find(|l| l.navigation == name)
    }

    /// Every structural property in output order (without the primary id).
    pub(crate) fn output_columns(&self) -> Vec<(String, ColumnType)> {
        let mut out: Vec<(String, ColumnType)> = self
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.ty))
            .collect();
        out.extend(
            self.lookups
                .iter()
                .map(|l| (l.column.clone(), ColumnType::Guid)),
        );
        out.push((CREATEDON.into(), ColumnType::Datetime));
        out.push((MODIFIEDON.into(), ColumnType::Datetime));
        out.push((VERSIONNUMBER.into(), ColumnType::Bigint));
        out
    }

    /// Checks a definition on its own (targets are checked by the caller).
    pub(crate) fn validate(&self) -> Result<(), String> {
        let set = &self.entity_set;
        for (what, name) in [
            ("entity_set", &self.entity_set),
            ("logical_name", &self.logical_name),
            ("primary_id", &self.primary_id),
            ("primary_name", &self.primary_name),
        ] {
            if !is_identifier(name) {
                return Err(format!(
                    "table '{set}': {what} '{name}' is not a valid name"
                ));
            }
        }
        let mut seen: Vec<&str> = vec![&self.primary_id, CREATEDON, MODIFIEDON, VERSIONNUMBER];
        for c in &self.columns {
            if !is_identifier(&c.name) {
                return Err(format!(
                    "table '{set}': column '{}' is not a valid name",
                    c.name
                ));
            }
            if seen.contains(&c.name.as_str()) {
                return Err(format!(
                    "table '{set}': column '{}' is declared twice or is a system column",
                    c.name
                ));
            }
            if c.max_length.is_some() && !matches!(c.ty, ColumnType::String | ColumnType::Memo) {
                return Err(format!(
                    "table '{set}': max_length is only allowed on string and memo columns ('{}')",
                    c.name
                ));
            }
            seen.push(&c.name);
        }
        match self.columns.iter().find(|c| c.name == self.primary_name) {
            Some(c) if matches!(c.ty, ColumnType::String | ColumnType::Memo) => {}
            _ => {
                return Err(format!(
                    "table '{set}': primary_name '{}' must be a string column",
                    self.primary_name
                ))
            }
        }
        let mut navs: Vec<&str> = Vec::new();
        for l in &self.lookups {
            if !(l.column.starts_with('_')
                && l.column.ends_with("_value")
                && l.column.len() > 7
                && is_identifier(&l.column))
            {
                return Err(format!(
                    "table '{set}': lookup column '{}' must look like _<name>_value",
                    l.column
                ));
            }
            if !is_identifier(&l.navigation) {
                return Err(format!(
                    "table '{set}': navigation property '{}' is not a valid name",
                    l.navigation
                ));
            }
            if seen.contains(&l.column.as_str())
                || seen.contains(&l.navigation.as_str())
                || navs.contains(&l.navigation.as_str())
            {
                return Err(format!(
                    "table '{set}': lookup '{}' clashes with another property",
                    l.navigation
                ));
            }
            seen.push(&l.column);
            navs.push(&l.navigation);
        }
        for key in &self.alternate_keys {
            if key.is_empty() {
                return Err(format!("table '{set}': an alternate key names no column"));
            }
            for column in key {
                if !self.columns.iter().any(|c| &c.name == column) {
                    return Err(format!(
                        "table '{set}': alternate key column '{column}' is not a declared column"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Why a JSON value does not fit a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CoerceError {
    /// The OData reader's message (`Cannot convert the literal …` or
    /// `An incompatible primitive type …`).
    Convert(String),
    /// Longer than the column's maximum length.
    TooLong(usize),
}

/// The OData name of a JSON value's own type.
fn json_edm(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "Edm.Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => "Edm.Int32",
            _ => "Edm.Int64",
        },
        Value::Number(_) => "Edm.Double",
        _ => "Edm.String",
    }
}

fn literal_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn cannot_convert(value: &Value, edm: &str) -> CoerceError {
    CoerceError::Convert(format!(
        "Cannot convert the literal '{}' to the expected type '{edm}'.",
        literal_text(value)
    ))
}

fn incompatible(value: &Value, edm: &str) -> CoerceError {
    CoerceError::Convert(format!(
        "An incompatible primitive type '{}[Nullable=False]' was found for an item that was expected to be of type '{edm}[Nullable=True]'.",
        json_edm(value)
    ))
}

/// Formats a decimal with a fixed scale; `None` when not finite.
pub(crate) fn format_decimal(value: f64, scale: usize) -> Option<String> {
    value.is_finite().then(|| format!("{value:.scale$}"))
}

/// `YYYY-MM-DD` with a real calendar date.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    parse_rfc3339(&format!("{text}T00:00:00Z"))
}

/// Canonical lowercase hyphenated GUID, or `None`.
pub(crate) fn parse_guid(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if b.len() != 36 {
        return None;
    }
    for (i, c) in b.iter().enumerate() {
        let ok = if matches!(i, 8 | 13 | 18 | 23) {
            *c == b'-'
        } else {
            c.is_ascii_hexdigit()
        };
        if !ok {
            return None;
        }
    }
    Some(text.to_ascii_lowercase())
}

/// Converts a JSON payload value into the stored form of `column`
/// (`Ok(None)` for null).
pub(crate) fn coerce(
    ty: ColumnType,
    max_length: Option<usize>,
    value: &Value,
) -> Result<Option<Value>, CoerceError> {
    if value.is_null() {
        return Ok(None);
    }
    let edm = ty.edm();
    let stored = match ty {
        ColumnType::String | ColumnType::Memo => {
            let Value::String(s) = value else {
                return Err(incompatible(value, edm));
            };
            if let Some(max) = max_length {
                if s.chars().count() > max {
                    return Err(CoerceError::TooLong(max));
                }
            }
            Value::String(s.clone())
        }
        ColumnType::Integer | ColumnType::Choice | ColumnType::Bigint => match value {
            Value::Number(n) => {
                let i = n.as_i64().ok_or_else(|| cannot_convert(value, edm))?;
                if ty != ColumnType::Bigint && i32::try_from(i).is_err() {
                    return Err(cannot_convert(value, edm));
                }
                Value::from(i)
            }
            Value::String(_) => return Err(cannot_convert(value, edm)),
            _ => return Err(incompatible(value, edm)),
        },
        ColumnType::Decimal | ColumnType::Money => match value {
            Value::Number(n) => {
                let scale = if ty == ColumnType::Money { 4 } else { 10 };
                let f = n.as_f64().ok_or_else(|| cannot_convert(value, edm))?;
                Value::String(format_decimal(f, scale).ok_or_else(|| cannot_convert(value, edm))?)
            }
            Value::String(_) => return Err(cannot_convert(value, edm)),
            _ => return Err(incompatible(value, edm)),
        },
        ColumnType::Boolean => match value {
            Value::Bool(b) => Value::Bool(*b),
            Value::String(_) => return Err(cannot_convert(value, edm)),
            _ => return Err(incompatible(value, edm)),
        },
        ColumnType::Datetime => {
            let Value::String(s) = value else {
                return Err(incompatible(value, edm));
            };
            let ms = parse_rfc3339(s)
                .or_else(|| parse_date(s))
                .ok_or_else(|| cannot_convert(value, edm))?;
            Value::String(format_seconds(ms))
        }
        ColumnType::Dateonly => {
            let Value::String(s) = value else {
                return Err(incompatible(value, edm));
            };
            parse_date(s).ok_or_else(|| cannot_convert(value, edm))?;
            Value::String(s.clone())
        }
        ColumnType::Guid => {
            let Value::String(s) = value else {
                return Err(incompatible(value, edm));
            };
            Value::String(parse_guid(s).ok_or_else(|| cannot_convert(value, edm))?)
        }
    };
    Ok(Some(stored))
}

/// A stored cell as it is written in a response.
pub(crate) fn render_cell(ty: ColumnType, value: Option<&Value>) -> Out {
    match (ty, value) {
        (_, None) => Out::Json(Value::Null),
        (ColumnType::Decimal | ColumnType::Money, Some(Value::String(text))) => {
            Out::Raw(text.clone())
        }
        (_, Some(v)) => Out::Json(v.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn money_and_decimal_keep_their_scale() {
        // dataverse.md §1.1: money 20000.0000
        assert_eq!(
            coerce(ColumnType::Money, None, &json!(20000)).unwrap(),
            Some(json!("20000.0000"))
        );
        assert_eq!(
            coerce(ColumnType::Decimal, None, &json!(2.5)).unwrap(),
            Some(json!("2.5000000000"))
        );
        assert_eq!(
            render_cell(ColumnType::Money, Some(&json!("1.5000"))),
            Out::Raw("1.5000".into())
        );
    }

    #[test]
    fn wrong_types_use_the_odata_messages() {
        // dataverse.md §3: Cannot convert the literal 'Charity' to the expected type 'Edm.Int32'.
        assert_eq!(
            coerce(ColumnType::Integer, None, &json!("Charity")),
            Err(CoerceError::Convert(
                "Cannot convert the literal 'Charity' to the expected type 'Edm.Int32'.".into()
            ))
        );
        assert!(
            matches!(coerce(ColumnType::String, None, &json!(5)), Err(CoerceError::Convert(m)) if m.contains("Edm.Int32[Nullable=False]"))
        );
        assert!(coerce(ColumnType::Integer, None, &json!(1.5)).is_err());
        assert!(coerce(ColumnType::Integer, None, &json!(3_000_000_000i64)).is_err());
        assert!(coerce(ColumnType::Dateonly, None, &json!("2023-02-30")).is_err());
        assert!(coerce(ColumnType::Dateonly, None, &json!("2023-02-03T00:00:00Z")).is_err());
        assert!(coerce(
            ColumnType::Guid,
            None,
            &json!("{00000000-0000-0000-0000-000000000001}")
        )
        .is_err());
        assert!(coerce(ColumnType::Boolean, None, &json!("true")).is_err());
    }

    #[test]
    fn strings_are_length_checked() {
        // dataverse.md §3: 0x80044331 maximum allowed length
        assert_eq!(
            coerce(ColumnType::String, Some(3), &json!("abcd")),
            Err(CoerceError::TooLong(3))
        );
        assert_eq!(
            coerce(ColumnType::String, Some(3), &json!("äbc")).unwrap(),
            Some(json!("äbc"))
        );
    }

    #[test]
    fn datetimes_are_normalised_to_utc_seconds() {
        // dataverse.md §1.1: "2023-04-07T21:59:01Z"
        assert_eq!(
            coerce(
                ColumnType::Datetime,
                None,
                &json!("2023-04-07T23:59:01.250+02:00")
            )
            .unwrap(),
            Some(json!("2023-04-07T21:59:01Z"))
        );
        assert_eq!(
            coerce(
                ColumnType::Guid,
                None,
                &json!("AAAAAAAA-0000-0000-0000-000000000001")
            )
            .unwrap(),
            Some(json!("aaaaaaaa-0000-0000-0000-000000000001"))
        );
        assert_eq!(coerce(ColumnType::Guid, None, &Value::Null).unwrap(), None);
    }

    fn table(lookups: Vec<Lookup>) -> TableDef {
        TableDef {
            entity_set: "otcm_things".into(),
            logical_name: "otcm_thing".into(),
            primary_id: "otcm_thingid".into(),
            primary_name: "otcm_name".into(),
            columns: vec![
                Column::new("otcm_name", ColumnType::String),
                Column::new(STATECODE, ColumnType::Integer),
                Column::new(STATUSCODE, ColumnType::Integer),
            ],
            lookups,
            alternate_keys: Vec::new(),
        }
    }

    fn lookup(navigation: &str, column: &str) -> Lookup {
        Lookup {
            navigation: navigation.into(),
            column: column.into(),
            target: "otcm_suppliers".into(),
            collection: None,
        }
    }

    #[test]
    fn text_columns_default_to_dataverses_upper_lengths() {
        assert_eq!(Column::new("a", ColumnType::String).max_length, Some(4000));
        assert_eq!(
            Column::new("a", ColumnType::Memo).max_length,
            Some(1_048_576)
        );
        assert_eq!(Column::new("a", ColumnType::Integer).max_length, None);
    }

    #[test]
    fn state_and_status_have_the_standard_labels_unless_declared() {
        let state = Column::new(STATECODE, ColumnType::Integer);
        let status = Column::new(STATUSCODE, ColumnType::Integer);
        assert_eq!(state.label(0).as_deref(), Some("Active"));
        assert_eq!(state.label(1).as_deref(), Some("Inactive"));
        assert_eq!(status.label(1).as_deref(), Some("Active"));
        assert_eq!(status.label(2).as_deref(), Some("Inactive"));
        assert_eq!(state.label(2), None);
        let mut declared = Column::new(STATUSCODE, ColumnType::Integer);
        declared.options = vec![(2, "Paused".into())];
        assert_eq!(declared.label(2).as_deref(), Some("Paused"));
        assert_eq!(Column::new("other", ColumnType::Integer).label(0), None);
    }

    #[test]
    fn a_new_row_gets_the_default_state_only_where_it_has_none() {
        let mut values = std::collections::BTreeMap::new();
        table(Vec::new()).default_state(&mut values);
        assert_eq!(values.get(STATECODE), Some(&json!(0)));
        assert_eq!(values.get(STATUSCODE), Some(&json!(1)));
        let mut values = std::collections::BTreeMap::from([(STATUSCODE.to_string(), json!(2))]);
        table(Vec::new()).default_state(&mut values);
        assert_eq!(values.get(STATUSCODE), Some(&json!(2)));
        let mut without = table(Vec::new());
        without.columns.retain(|c| c.name == "otcm_name");
        let mut values = std::collections::BTreeMap::new();
        without.default_state(&mut values);
        assert!(values.is_empty());
    }

    #[test]
    fn lookup_columns_and_navigations_are_checked_one_rule_at_a_time() {
        let ok = |l: Vec<Lookup>| table(l).validate();
        assert_eq!(
            ok(vec![lookup("otcm_SupplierId", "_otcm_supplierid_value")]),
            Ok(())
        );
        assert_eq!(ok(vec![lookup("Nav", "_a_value")]), Ok(()));
        for column in ["a_value", "_a_valu", "__value", "_a-b_value"] {
            let err = ok(vec![lookup("Nav", column)]).unwrap_err();
            assert!(
                err.contains("must look like _<name>_value"),
                "{column}: {err}"
            );
        }
        let err = ok(vec![lookup("1Nav", "_a_value")]).unwrap_err();
        assert!(err.contains("navigation property '1Nav'"), "{err}");
        // A clash with a column, with a navigation property, or between two lookups.
        for (l, clash) in [
            (vec![lookup("otcm_name", "_a_value")], "otcm_name"),
            (
                vec![lookup("Nav", "_a_value"), lookup("Nav", "_b_value")],
                "Nav",
            ),
            (
                vec![lookup("Nav", "_a_value"), lookup("Other", "_a_value")],
                "Other",
            ),
            (vec![lookup("otcm_thingid", "_a_value")], "otcm_thingid"),
        ] {
            let err = ok(l).unwrap_err();
            assert!(err.contains(&format!("lookup '{clash}' clashes")), "{err}");
        }
    }

    #[test]
    fn identifiers_start_with_a_letter_or_underscore() {
        for name in ["a", "_", "a1", "_x_9", "Z"] {
            assert!(is_identifier(name), "{name}");
        }
        for name in ["", "1a", "a-b", "a b", "é", "a.b"] {
            assert!(!is_identifier(name), "{name}");
        }
    }

    #[test]
    fn an_incompatible_value_is_named_by_its_own_type() {
        let named = |ty, value: Value| match coerce(ty, None, &value) {
            Err(CoerceError::Convert(m)) => m,
            other => panic!("{value}: {other:?}"),
        };
        assert!(named(ColumnType::Integer, json!(true)).contains("'Edm.Boolean[Nullable=False]'"));
        assert!(named(ColumnType::Boolean, json!(5)).contains("'Edm.Int32[Nullable=False]'"));
        assert!(named(ColumnType::Boolean, json!(3_000_000_000i64))
            .contains("'Edm.Int64[Nullable=False]'"));
        assert!(named(ColumnType::Boolean, json!(u64::MAX)).contains("'Edm.Int64[Nullable=False]'"));
        assert!(named(ColumnType::Boolean, json!(1.5)).contains("'Edm.Double[Nullable=False]'"));
        assert!(named(ColumnType::Integer, json!([1])).contains("'Edm.String[Nullable=False]'"));
        // Text where a number or a Yes/No is expected: the literal is named.
        for ty in [ColumnType::Money, ColumnType::Decimal, ColumnType::Boolean] {
            let m = named(ty, json!("x"));
            assert!(m.starts_with("Cannot convert the literal 'x'"), "{m}");
        }
    }

    #[test]
    fn a_date_is_ten_characters_with_two_dashes() {
        assert!(parse_date("2023-02-03").is_some());
        for text in [
            "2023-02-3",
            "2023-02-033",
            "2023x02-03",
            "2023-02x03",
            "2023-02-30",
        ] {
            assert_eq!(parse_date(text), None, "{text}");
        }
    }
}
