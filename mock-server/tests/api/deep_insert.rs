//! Through HTTP: deep insert (an invoice with its supplier and its
//! line items in one POST).

use crate::helpers::*;
use serde_json::Value;

async fn post(app: &App, t: &str, set: &str, body: &str) -> Res {
    app.dataverse(Some(t), "POST", set, Some(body.to_string()), &[])
        .await
}

async fn rows(app: &App, set: &str) -> Vec<Value> {
    let r = app.control("GET", &format!("/dataverse/{set}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"].as_array().cloned().unwrap_or_default()
}

const DEEP: &str = r#"{
  "otcm_name": "INV-DEEP-1", "otcm_invoicenumber": "INV-DEEP-1",
  "otcm_SupplierId": {"otcm_name": "Deep Supplier", "otcm_vendorcode": "DEEP"},
  "otcm_inboundinvoice_lineitems": [
    {"otcm_name": "line 1", "otcm_linenumber": 1, "otcm_amount": 10.5},
    {"otcm_name": "line 2", "otcm_linenumber": 2, "otcm_amount": 4}
  ]
}"#;

/// L-create (dataverse.md §3): the invoice, its new supplier and its two
/// lines are created by one POST, linked to each other.
#[tokio::test]
async fn a_deep_insert_creates_the_row_its_parent_and_its_children() {
    let app = app().await;
    let t = token(&app).await;
    let r = post(&app, &t, "otcm_inboundinvoices", DEEP).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let entity = r.header("odata-entityid").unwrap().to_string();
    let invoice = rows(&app, "otcm_inboundinvoices")
        .await
        .into_iter()
        .find(|r| r["otcm_invoicenumber"] == "INV-DEEP-1")
        .unwrap();
    let invoice_id = invoice["otcm_inboundinvoiceid"].as_str().unwrap();
    assert!(entity.ends_with(&format!("otcm_inboundinvoices({invoice_id})")));
    let supplier = rows(&app, "otcm_suppliers")
        .await
        .into_iter()
        .find(|r| r["otcm_vendorcode"] == "DEEP")
        .expect("the supplier was created");
    assert_eq!(
        invoice["_otcm_supplierid_value"],
        supplier["otcm_supplierid"]
    );
    let lines: Vec<Value> = rows(&app, "otcm_inboundinvoicelineitems")
        .await
        .into_iter()
        .filter(|r| r["_otcm_inboundinvoiceid_value"] == invoice_id)
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["otcm_name"], "line 1");
    assert_eq!(lines[1]["otcm_linenumber"], 2);
}

/// A bad nested row refuses the whole request: nothing is created.
#[tokio::test]
async fn a_bad_nested_row_creates_nothing() {
    let app = app().await;
    let t = token(&app).await;
    let before = (
        rows(&app, "otcm_inboundinvoices").await.len(),
        rows(&app, "otcm_suppliers").await.len(),
        rows(&app, "otcm_inboundinvoicelineitems").await.len(),
    );
    let bad = DEEP.replace("\"otcm_linenumber\": 2", "\"otcm_nosuchcolumn\": 2");
    let r = post(&app, &t, "otcm_inboundinvoices", &bad).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("otcm_nosuchcolumn"), "{}", r.text);
    let after = (
        rows(&app, "otcm_inboundinvoices").await.len(),
        rows(&app, "otcm_suppliers").await.len(),
        rows(&app, "otcm_inboundinvoicelineitems").await.len(),
    );
    assert_eq!(after, before);
    // A collection navigation property takes an array.
    let r = post(
        &app,
        &t,
        "otcm_inboundinvoices",
        r#"{"otcm_name":"x","otcm_inboundinvoice_lineitems":{"otcm_name":"one"}}"#,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("array"), "{}", r.text);
}

/// `$metadata` lists the collection-valued navigation properties deep
/// insert accepts.
#[tokio::test]
async fn metadata_names_collection_navigation_properties_and_keys() {
    let app = app().await;
    let t = token(&app).await;
    let res = app
        .client
        .get(app.url("/api/data/v9.2/$metadata"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let xml = res.text().await.unwrap();
    assert!(
        xml.contains("<NavigationProperty Name=\"otcm_inboundinvoice_lineitems\" Type=\"Collection(mscrm.otcm_inboundinvoicelineitem)\" Partner=\"otcm_InboundInvoiceId\" />"),
        "{xml}"
    );
    assert!(xml.contains(
        "<NavigationPropertyBinding Path=\"otcm_inboundinvoice_lineitems\" Target=\"otcm_inboundinvoicelineitems\" />"
    ));
    // The alternate key of otcm_suppliers, as Dataverse declares keys.
    let supplier = &xml[xml.find("<EntityType Name=\"otcm_supplier\"").unwrap()..];
    let supplier = &supplier[..supplier.find("</EntityType>").unwrap()];
    assert!(
        supplier.contains("<Annotation Term=\"OData.Community.Keys.V1.AlternateKeys\">")
            && supplier
                .contains("<PropertyValue Property=\"Name\" PropertyPath=\"otcm_vendorcode\" />"),
        "{supplier}"
    );
}
