//! Through HTTP: `$expand` of collection-valued navigation properties
//! (one level) with nested `$select`, `$filter`, `$orderby` and `$top`.

use crate::helpers::*;
use serde_json::Value;

async fn dv(app: &App, t: &str, method: reqwest::Method, path: &str, body: Option<&str>) -> Res {
    let prefer = [("prefer", "return=representation")];
    app.dataverse(
        Some(t),
        method.as_str(),
        path,
        body.map(str::to_string),
        &prefer,
    )
    .await
}

const DEEP: &str = r#"{"otcm_name":"INV-EXP","otcm_invoicenumber":"INV-EXP",
  "otcm_SupplierId@odata.bind":"otcm_suppliers(otcm_vendorcode='NWT')",
  "otcm_inboundinvoice_lineitems":[
    {"otcm_name":"c","otcm_linenumber":3,"otcm_amount":30},
    {"otcm_name":"a","otcm_linenumber":1,"otcm_amount":10},
    {"otcm_name":"b","otcm_linenumber":2,"otcm_amount":20}]}"#;

/// dataverse.md §1.8 (L-nav): one level of `$expand`, both kinds.
#[tokio::test]
async fn expand_collections_with_nested_options() {
    let app = app().await;
    let t = token(&app).await;
    let r = dv(
        &app,
        &t,
        reqwest::Method::POST,
        "otcm_inboundinvoices?$select=otcm_name",
        Some(DEEP),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["otcm_inboundinvoiceid"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!(
        "otcm_inboundinvoices({id})?$select=otcm_name&$expand=otcm_SupplierId($select=otcm_name),otcm_inboundinvoice_lineitems($select=otcm_linenumber;$filter=otcm_amount%20gt%2015;$orderby=otcm_linenumber%20desc;$top=1)"
    );
    let r = dv(&app, &t, reqwest::Method::GET, &path, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["otcm_SupplierId"]["otcm_name"], "Northwind Traders");
    let lines = v["otcm_inboundinvoice_lineitems"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{}", r.text);
    assert_eq!(lines[0]["otcm_linenumber"], 3);
    assert!(lines[0].get("otcm_name").is_none(), "{}", r.text);
    assert!(lines[0]["otcm_inboundinvoicelineitemid"].is_string());
    // Without options: every line, in insertion order.
    let r = dv(&app, &t, reqwest::Method::GET, &format!("otcm_inboundinvoices({id})?$select=otcm_name&$expand=otcm_inboundinvoice_lineitems($select=otcm_name)"), None).await;
    let names: Vec<Value> = r.json()["otcm_inboundinvoice_lineitems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["otcm_name"].clone())
        .collect();
    assert_eq!(names, vec!["c", "a", "b"]);
    // In a collection query, and from the other side (supplier -> invoices).
    let r = dv(&app, &t, reqwest::Method::GET, "otcm_suppliers?$select=otcm_name&$filter=otcm_vendorcode%20eq%20'NWT'&$expand=otcm_supplier_inboundinvoices($select=otcm_invoicenumber)", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let invoices = r.json()["value"][0]["otcm_supplier_inboundinvoices"].clone();
    assert!(
        invoices
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["otcm_invoicenumber"] == "INV-EXP"),
        "{}",
        r.text
    );
    // Nested $expand and unknown options are refused.
    let r = dv(
        &app,
        &t,
        reqwest::Method::GET,
        &format!(
            "otcm_inboundinvoices({id})?$expand=otcm_inboundinvoice_lineitems($expand=ownerid)"
        ),
        None,
    )
    .await;
    assert_eq!(r.status, 501, "{}", r.text);
    let r = dv(
        &app,
        &t,
        reqwest::Method::GET,
        &format!("otcm_inboundinvoices({id})?$expand=otcm_inboundinvoice_lineitems($skip=1)"),
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
}
