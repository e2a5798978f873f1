//! Through HTTP: alternate keys (the default `otcm_suppliers` is keyed
//! by `otcm_vendorcode`; fixtures declare others).

use crate::helpers::*;
use serde_json::Value;

async fn dv(
    app: &App,
    t: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Res {
    app.dataverse(Some(t), method, path, body.map(str::to_string), headers)
        .await
}

async fn suppliers(app: &App) -> Vec<Value> {
    let r = app.control("GET", "/dataverse/otcm_suppliers", None).await;
    r.json()["data"].as_array().cloned().unwrap_or_default()
}

/// L-altkey, L-update (dataverse.md §2, §4): GET, PATCH (upsert) and
/// DELETE address a row by its alternate key.
#[tokio::test]
async fn rows_are_addressed_and_upserted_by_alternate_key() {
    let app = app().await;
    let t = token(&app).await;
    let r = dv(
        &app,
        &t,
        "GET",
        "otcm_suppliers(otcm_vendorcode='NWT')?$select=otcm_name",
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["otcm_name"], "Northwind Traders");
    let count = suppliers(&app).await.len();
    // If-Match: * never creates.
    let r = dv(
        &app,
        &t,
        "PATCH",
        "otcm_suppliers(otcm_vendorcode='UPS1')",
        Some(r#"{"otcm_name":"Upserted"}"#),
        &[("if-match", "*")],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(r.text.contains("0x80040217"), "{}", r.text);
    assert_eq!(suppliers(&app).await.len(), count);
    // PATCH creates the row with the key's value ...
    let r = dv(
        &app,
        &t,
        "PATCH",
        "otcm_suppliers(otcm_vendorcode='UPS1')",
        Some(r#"{"otcm_name":"Upserted"}"#),
        &[],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let rows = suppliers(&app).await;
    assert_eq!(rows.len(), count + 1);
    let created = rows.last().unwrap();
    assert_eq!(created["otcm_vendorcode"], "UPS1");
    assert_eq!(created["otcm_name"], "Upserted");
    // ... and the same PATCH again updates it, with no duplicate.
    let r = dv(
        &app,
        &t,
        "PATCH",
        "otcm_suppliers(otcm_vendorcode='UPS1')",
        Some(r#"{"otcm_name":"Upserted twice"}"#),
        &[],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let rows = suppliers(&app).await;
    assert_eq!(rows.len(), count + 1);
    assert_eq!(rows.last().unwrap()["otcm_name"], "Upserted twice");
    // If-None-Match: * never updates.
    let r = dv(
        &app,
        &t,
        "PATCH",
        "otcm_suppliers(otcm_vendorcode='UPS1')",
        Some(r#"{"otcm_name":"no"}"#),
        &[("if-none-match", "*")],
    )
    .await;
    assert_eq!(r.status, 412, "{}", r.text);
    // DELETE by key.
    let r = dv(
        &app,
        &t,
        "DELETE",
        "otcm_suppliers(otcm_vendorcode='UPS1')",
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(suppliers(&app).await.len(), count);
    let r = dv(
        &app,
        &t,
        "GET",
        "otcm_suppliers(otcm_vendorcode='UPS1')",
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

/// A create or update that repeats another row's key value is refused.
#[tokio::test]
async fn a_duplicate_key_value_is_refused() {
    let app = app().await;
    let t = token(&app).await;
    let count = suppliers(&app).await.len();
    let r = dv(
        &app,
        &t,
        "POST",
        "otcm_suppliers",
        Some(r#"{"otcm_name":"Copy","otcm_vendorcode":"NWT"}"#),
        &[],
    )
    .await;
    assert_eq!(r.status, 412, "{}", r.text);
    let e = r.json();
    assert_eq!(e["error"]["code"], "0x80060892");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("otcm_vendorcode"),
        "{}",
        r.text
    );
    assert_eq!(suppliers(&app).await.len(), count);
    let r = dv(
        &app,
        &t,
        "PATCH",
        "otcm_suppliers(otcm_vendorcode='CON')",
        Some(r#"{"otcm_vendorcode":"NWT"}"#),
        &[],
    )
    .await;
    assert_eq!(r.status, 412, "{}", r.text);
    // Changing a row's key to a free value is fine.
    let r = dv(
        &app,
        &t,
        "PATCH",
        "otcm_suppliers(otcm_vendorcode='CON')",
        Some(r#"{"otcm_vendorcode":"CON2"}"#),
        &[],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

/// `@odata.bind` may name the target by its alternate key (L-altkey).
#[tokio::test]
async fn odata_bind_accepts_an_alternate_key() {
    let app = app().await;
    let t = token(&app).await;
    let body = r#"{"otcm_name":"INV-AK","otcm_invoicenumber":"INV-AK","otcm_SupplierId@odata.bind":"/otcm_suppliers(otcm_vendorcode='NWT')"}"#;
    let r = dv(
        &app,
        &t,
        "POST",
        "otcm_inboundinvoices",
        Some(body),
        &[("prefer", "return=representation")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let northwind = suppliers(&app)
        .await
        .into_iter()
        .find(|s| s["otcm_vendorcode"] == "NWT")
        .unwrap();
    assert_eq!(
        r.json()["_otcm_supplierid_value"],
        northwind["otcm_supplierid"]
    );
    let missing = body.replace("NWT", "NOPE");
    let r = dv(
        &app,
        &t,
        "POST",
        "otcm_inboundinvoices",
        Some(&missing),
        &[],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
}
