//! The default world's tables: team, suppliers, invoices and their line
//! items, as the seeds' executor writes them.

use super::schema::*;

fn table(
    set: &str,
    logical: &str,
    id: &str,
    name: (&str, usize),
    columns: Vec<Column>,
    lookups: &[(&str, &str, &str, Option<&str>)],
    keys: &[&str],
) -> TableDef {
    let mut all = vec![Column::with_max(name.0, ColumnType::String, name.1)];
    all.extend(columns);
    TableDef {
        entity_set: set.into(),
        logical_name: logical.into(),
        primary_id: id.into(),
        primary_name: name.0.into(),
        columns: all,
        lookups: lookups
            .iter()
            .map(|(nav, col, target, collection)| Lookup {
                navigation: (*nav).into(),
                column: (*col).into(),
                target: (*target).into(),
                collection: collection.map(str::to_string),
            })
            .collect(),
        alternate_keys: keys.iter().map(|k| vec![(*k).to_string()]).collect(),
    }
}

/// The four tables used when a fixture org declares none (DESIGN.md §5, §4.6).
pub(crate) fn default_tables() -> Vec<TableDef> {
    use ColumnType::*;
    vec![
        table("teams", "team", "teamid", ("name", 160), vec![], &[], &[]),
        table(
            "otcm_suppliers",
            "otcm_supplier",
            "otcm_supplierid",
            ("otcm_name", 200),
            vec![
                Column::with_max("otcm_vendorcode", String, 100),
                Column::new("statecode", Integer),
            ],
            &[],
            &["otcm_vendorcode"],
        ),
        table(
            "otcm_inboundinvoices",
            "otcm_inboundinvoice",
            "otcm_inboundinvoiceid",
            ("otcm_name", 200),
            vec![
                Column::with_max("otcm_invoicenumber", String, 100),
                Column::new("otcm_invoicedate", Dateonly),
                Column::new("otcm_duedate", Dateonly),
                Column::with_max("otcm_vendorname", String, 200),
                Column::new("otcm_subtotal", Money),
                Column::new("otcm_taxamount", Money),
                Column::new("otcm_invoicetotal", Money),
                Column::with_max("otcm_currency", String, 10),
                Column::with_max("otcm_numoradocumentid", String, 100),
            ],
            &[
                (
                    "otcm_SupplierId",
                    "_otcm_supplierid_value",
                    "otcm_suppliers",
                    Some("otcm_supplier_inboundinvoices"),
                ),
                (
                    "ownerid",
                    "_ownerid_value",
                    "teams",
                    Some("team_otcm_inboundinvoices"),
                ),
            ],
            &[],
        ),
        table(
            "otcm_inboundinvoicelineitems",
            "otcm_inboundinvoicelineitem",
            "otcm_inboundinvoicelineitemid",
            ("otcm_name", 200),
            vec![
                Column::with_max("otcm_description", String, 4000),
                Column::new("otcm_quantity", Decimal),
                Column::new("otcm_unitprice", Money),
                Column::new("otcm_amount", Money),
                Column::with_max("otcm_taxcode", String, 50),
                Column::new("otcm_linenumber", Integer),
            ],
            &[
                (
                    "otcm_InboundInvoiceId",
                    "_otcm_inboundinvoiceid_value",
                    "otcm_inboundinvoices",
                    Some("otcm_inboundinvoice_lineitems"),
                ),
                (
                    "ownerid",
                    "_ownerid_value",
                    "teams",
                    Some("team_otcm_inboundinvoicelineitems"),
                ),
            ],
            &[],
        ),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn defaults_are_valid() {
        for t in super::default_tables() {
            t.validate().unwrap();
        }
    }
}
