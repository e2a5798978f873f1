//! Through HTTP: `Prefer: odata.include-annotations` formatted values
//! (en-US) and the `statecode`/`statuscode` defaults on create.

use crate::helpers::*;

async fn send(
    app: &App,
    t: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
    prefer: &str,
) -> Res {
    let body = body.map(str::to_string);
    app.dataverse(Some(t), method.as_str(), path, body, &[("prefer", prefer)])
        .await
}

const FV: &str = "OData.Community.Display.V1.FormattedValue";

/// dataverse.md §1.9, §8: formatted values for money, dates, lookups and
/// state; each annotation precedes its property; none without the Prefer.
#[tokio::test]
async fn formatted_values_are_en_us_and_only_on_request() {
    let app = app().await;
    let t = token(&app).await;
    let body = r#"{"otcm_name":"INV-FV","otcm_invoicenumber":"INV-FV","otcm_invoicetotal":98765.4,"otcm_invoicedate":"2026-12-01","otcm_SupplierId@odata.bind":"otcm_suppliers(otcm_vendorcode='NWT')"}"#;
    let r = send(
        &app,
        &t,
        reqwest::Method::POST,
        "otcm_inboundinvoices",
        Some(body),
        "return=representation",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["otcm_inboundinvoiceid"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("otcm_inboundinvoices({id})?$select=otcm_invoicetotal,otcm_invoicedate,_otcm_supplierid_value");
    let r = send(
        &app,
        &t,
        reqwest::Method::GET,
        &path,
        None,
        &format!("odata.include-annotations=\"{FV}\""),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v[format!("otcm_invoicetotal@{FV}")], "$98,765.40");
    assert_eq!(v[format!("otcm_invoicedate@{FV}")], "12/1/2026");
    assert_eq!(
        v[format!("_otcm_supplierid_value@{FV}")],
        "Northwind Traders"
    );
    assert!(
        r.text.find(&format!("\"otcm_invoicetotal@{FV}\"")).unwrap()
            < r.text.find("\"otcm_invoicetotal\"").unwrap(),
        "{}",
        r.text
    );
    // Lookup annotations with "*".
    let r = send(
        &app,
        &t,
        reqwest::Method::GET,
        &path,
        None,
        "odata.include-annotations=\"*\"",
    )
    .await;
    let v = r.json();
    assert_eq!(
        v["_otcm_supplierid_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
        "otcm_supplier"
    );
    assert_eq!(
        v["_otcm_supplierid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"],
        "otcm_SupplierId"
    );
    // Without the preference: no annotation at all.
    let r = send(
        &app,
        &t,
        reqwest::Method::GET,
        &path,
        None,
        "return=minimal",
    )
    .await;
    assert!(!r.text.contains(FV), "{}", r.text);
}

/// A created supplier has statecode 0 (Active) when the body gives none.
#[tokio::test]
async fn statecode_defaults_to_active_on_create() {
    let app = app().await;
    let t = token(&app).await;
    let r = send(
        &app,
        &t,
        reqwest::Method::POST,
        "otcm_suppliers?$select=statecode",
        Some(r#"{"otcm_name":"State default"}"#),
        &format!("return=representation,odata.include-annotations=\"{FV}\""),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let v = r.json();
    assert_eq!(v["statecode"], 0);
    assert_eq!(v[format!("statecode@{FV}")], "Active");
    let r = send(
        &app,
        &t,
        reqwest::Method::POST,
        "otcm_suppliers?$select=statecode",
        Some(r#"{"otcm_name":"State given","statecode":1}"#),
        "return=representation",
    )
    .await;
    assert_eq!(r.json()["statecode"], 1);
}
