//! The schema catalog: each schema's fields and line-item keys, and the
//! deterministic extraction result processing produces for it.

use serde_json::{json, Map, Value};

use crate::world::ids::IdGen;

/// (schema, field names, line-item keys)
pub(crate) const CATALOG: [(&str, &[&str], &[&str]); 3] = [
    (
        "invoice_v2",
        &[
            "invoice_number",
            "invoice_date",
            "due_date",
            "vendor_name",
            "vendor_tax_id",
            "currency",
            "subtotal",
            "tax_amount",
            "invoice_total",
            "purchase_order",
        ],
        &[
            "description",
            "quantity",
            "unit_price",
            "amount",
            "tax_code",
        ],
    ),
    (
        "receipt_v1",
        &[
            "merchant_name",
            "transaction_date",
            "currency",
            "subtotal",
            "tax_amount",
            "total",
            "payment_method",
        ],
        &["description", "quantity", "unit_price", "amount"],
    ),
    (
        "contract_v1",
        &[
            "contract_number",
            "party_a",
            "party_b",
            "effective_date",
            "expiration_date",
            "term_months",
            "contract_value",
            "currency",
            "governing_law",
        ],
        &["description", "amount"],
    ),
];

pub(crate) fn fields_of(
    schema: &str,
) -> Option<(&'static [&'static str], &'static [&'static str])> {
    CATALOG
        .iter()
        .find(|(s, ..)| *s == schema)
        .map(|(_, f, l)| (*f, *l))
}

/// Checks a mapping source path against a schema: `fields.<name>.value`,
/// `fields.<name>.confidence`, `line_items[*].<key>`, `line_items[*].position`,
/// `document.id`, `document.external_id`, `metadata.<key>`.
pub(crate) fn check_source_path(schema: &str, path: &str) -> Result<(), String> {
    let (fields, items) = fields_of(schema).ok_or_else(|| format!("unknown schema '{schema}'"))?;
    if let Some(rest) = path.strip_prefix("fields.") {
        let (name, leaf) = rest.rsplit_once('.').unwrap_or((rest, ""));
        if !matches!(leaf, "value" | "confidence") {
            return Err(format!(
                "source path '{path}' must end in .value or .confidence"
            ));
        }
        return fields.contains(&name).then_some(()).ok_or_else(|| {
            format!(
                "unknown source path '{path}': {schema} has no field '{name}' (fields: {})",
                fields.join(", ")
            )
        });
    }
    if let Some(key) = path.strip_prefix("line_items[*].") {
        return (items.contains(&key) || key == "position" || key == "id").then_some(()).ok_or_else(|| {
            format!("unknown source path '{path}': {schema} line items have no '{key}' (keys: id, position, {})", items.join(", "))
        });
    }
    if matches!(path, "document.id" | "document.external_id")
        || path
            .strip_prefix("metadata.")
            .is_some_and(|k| !k.is_empty())
    {
        return Ok(());
    }
    Err(format!(
        "unknown source path '{path}' (expected fields.<name>.value, line_items[*].<key>, document.id, document.external_id or metadata.<key>)"
    ))
}

const VENDORS: [&str; 4] = [
    "Northwind Traders",
    "Contoso Office Furniture",
    "Fabrikam Logistics",
    "O'Brien Office Supply",
];
const ITEMS: [(&str, f64); 6] = [
    ("Printer paper A4, 5 reams", 24.50),
    ("Toner cartridge, black", 89.00),
    ("Desk chair, ergonomic", 249.00),
    ("Courier delivery", 15.75),
    ("USB-C dock", 129.90),
    ("Whiteboard markers, 12 pack", 9.80),
];

fn field(value: Value, confidence: f64) -> Value {
    json!({"value": value, "confidence": confidence})
}

fn pick(ids: &mut IdGen, n: usize) -> usize {
    (ids.token(2).bytes().map(usize::from).sum::<usize>()) % n
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A deterministic extraction result: (confidence, fields, line items).
pub(crate) fn extract(
    schema: &str,
    ids: &mut IdGen,
    date: &str,
) -> (f64, Map<String, Value>, Vec<Map<String, Value>>) {
    let mut fields = Map::new();
    let mut items = Vec::new();
    let count = 2 + pick(ids, 2);
    let mut subtotal = 0.0;
    for n in 0..count {
        let (description, price) = ITEMS[pick(ids, ITEMS.len())];
        let quantity = (1 + pick(ids, 4)) as f64;
        let amount = round2(price * quantity);
        subtotal += amount;
        let mut item = Map::new();
        item.insert("id".into(), json!(format!("li_{}", n + 1)));
        item.insert("description".into(), json!(description));
        item.insert("quantity".into(), json!(quantity));
        item.insert("unit_price".into(), json!(price));
        item.insert("amount".into(), json!(amount));
        if schema == "invoice_v2" {
            item.insert("tax_code".into(), json!("VAT20"));
        }
        if schema == "contract_v1" {
            item.remove("quantity");
            item.remove("unit_price");
        }
        items.push(item);
    }
    let subtotal = round2(subtotal);
    let tax = round2(subtotal * 0.2);
    let number = ids.token(6).to_uppercase();
    match schema {
        "receipt_v1" => {
            fields.insert(
                "merchant_name".into(),
                field(json!(VENDORS[pick(ids, VENDORS.len())]), 0.97),
            );
            fields.insert("transaction_date".into(), field(json!(date), 0.95));
            fields.insert("currency".into(), field(json!("EUR"), 0.99));
            fields.insert("subtotal".into(), field(json!(subtotal), 0.94));
            fields.insert("tax_amount".into(), field(json!(tax), 0.93));
            fields.insert("total".into(), field(json!(round2(subtotal + tax)), 0.96));
            fields.insert("payment_method".into(), field(json!("card"), 0.9));
        }
        "contract_v1" => {
            fields.insert(
                "contract_number".into(),
                field(json!(format!("CTR-{number}")), 0.96),
            );
            fields.insert("party_a".into(), field(json!("Numora Demo Ltd"), 0.97));
            fields.insert(
                "party_b".into(),
                field(json!(VENDORS[pick(ids, VENDORS.len())]), 0.95),
            );
            fields.insert("effective_date".into(), field(json!(date), 0.94));
            fields.insert("expiration_date".into(), field(Value::Null, 0.5));
            fields.insert("term_months".into(), field(json!(12), 0.9));
            fields.insert("contract_value".into(), field(json!(subtotal), 0.92));
            fields.insert("currency".into(), field(json!("EUR"), 0.99));
            fields.insert(
                "governing_law".into(),
                field(json!("England and Wales"), 0.88),
            );
        }
        _ => {
            fields.insert(
                "invoice_number".into(),
                field(json!(format!("INV-{number}")), 0.97),
            );
            fields.insert("invoice_date".into(), field(json!(date), 0.96));
            fields.insert("due_date".into(), field(Value::Null, 0.42));
            fields.insert(
                "vendor_name".into(),
                field(json!(VENDORS[pick(ids, VENDORS.len())]), 0.98),
            );
            fields.insert("currency".into(), field(json!("EUR"), 0.99));
            fields.insert("subtotal".into(), field(json!(subtotal), 0.95));
            fields.insert("tax_amount".into(), field(json!(tax), 0.94));
            fields.insert(
                "invoice_total".into(),
                field(json!(round2(subtotal + tax)), 0.96),
            );
        }
    }
    (0.93, fields, items)
}
