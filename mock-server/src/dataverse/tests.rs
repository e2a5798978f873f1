//! End-to-end tests of `Store::handle`, one request at a time, each citing
//! the section of `reference/dataverse.md` it checks.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use bytes::Bytes;
use serde_json::{json, Value};

use super::*;
use crate::call::{Call, Reply};
use crate::world::ids::IdGen;
use crate::world::tables::{DataverseFixture, ServiceProtection};

const ORIGIN: &str = "http://127.0.0.1:4010";
const BASE: &str = "http://127.0.0.1:4010/api/data/v9.2";
const TEAM: &str = "11111111-1111-1111-1111-111111111111";
const NORTHWIND: &str = "22222222-2222-2222-2222-222222222222";
const OBRIEN: &str = "33333333-3333-3333-3333-333333333333";
const CONTOSO: &str = "44444444-4444-4444-4444-444444444444";
const INVOICE: &str = "55555555-5555-5555-5555-555555555555";
const MISSING: &str = "99999999-9999-9999-9999-999999999999";
const START: Millis = 1_774_319_797_000;

const FIXTURE: &str = r#"
orgs:
  - name: default
    whoami:
      user_id: 22cc22cc-0000-0000-0000-000000000001
      business_unit_id: 11bb11bb-0000-0000-0000-000000000001
      organization_id: 00aa00aa-0000-0000-0000-000000000001
    rows:
      teams:
        - {teamid: 11111111-1111-1111-1111-111111111111, name: Accounts Payable}
      otcm_suppliers:
        - {otcm_supplierid: 22222222-2222-2222-2222-222222222222, otcm_name: Northwind Traders, otcm_vendorcode: NW, statecode: 0}
        - {otcm_supplierid: 33333333-3333-3333-3333-333333333333, otcm_name: "O'Brien Office Supply", statecode: 0}
        - {otcm_supplierid: 44444444-4444-4444-4444-444444444444, otcm_name: Contoso, otcm_vendorcode: CT, statecode: 1}
      otcm_inboundinvoices:
        - otcm_inboundinvoiceid: 55555555-5555-5555-5555-555555555555
          otcm_name: INV-1
          otcm_invoicetotal: 120.5
          otcm_invoicedate: "2026-03-01"
          _otcm_supplierid_value: 22222222-2222-2222-2222-222222222222
          _ownerid_value: 11111111-1111-1111-1111-111111111111
"#;

struct Harness {
    store: Store,
    ids: IdGen,
    now: Millis,
    origin: String,
}

fn fixture() -> DataverseFixture {
    serde_yaml_ng::from_str(FIXTURE).unwrap()
}

fn harness() -> Harness {
    harness_with(fixture())
}

fn harness_with(fx: DataverseFixture) -> Harness {
    let mut ids = IdGen::new(7);
    let store = Store::from_fixture(&fx, &mut ids).unwrap();
    Harness {
        store,
        ids,
        now: START,
        origin: ORIGIN.into(),
    }
}

/// Builds a `Call` for `url` (a path under `/api/data/v9.2`, with query).
fn make_call(method: &str, url: &str, headers: &[(&str, &str)], body: &str, origin: &str) -> Call {
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (url, None),
    };
    let mut map = HeaderMap::new();
    map.insert("authorization", HeaderValue::from_static("Bearer tok"));
    for (k, v) in headers {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    Call {
        method: Method::from_bytes(method.as_bytes()).unwrap(),
        path: format!("{API_PREFIX}{path}"),
        query,
        headers: map,
        body: Bytes::from(body.to_string()),
        origin: origin.into(),
    }
}

impl Harness {
    fn send(&mut self, method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        self.send_as("tok", method, url, headers, body)
    }

    fn send_as(
        &mut self,
        token: &str,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let call = make_call(method, url, headers, body, &self.origin);
        let resource = call.path[API_PREFIX.len()..].to_string();
        let req = DvRequest {
            call: &call,
            resource: &resource,
            token,
        };
        let mut env = DvEnv {
            now: self.now,
            ids: &mut self.ids,
        };
        self.now += 1000;
        self.store.handle("default", &req, &mut env)
    }

    fn get(&mut self, url: &str) -> Reply {
        self.send("GET", url, &[], "")
    }
}

fn body(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or(Value::Null)
}

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn assert_error(reply: &Reply, status: u16, code: &str, message: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", text(reply));
    let b = body(reply);
    assert_eq!(b["error"]["code"], code, "{b}");
    assert_eq!(b["error"]["message"], message, "{b}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; odata.metadata=minimal")
    );
    assert_eq!(reply.header("odata-version"), Some("4.0"));
}

fn assert_error_contains(reply: &Reply, status: u16, code: &str, fragment: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", text(reply));
    let b = body(reply);
    assert_eq!(b["error"]["code"], code, "{b}");
    let message = b["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains(fragment), "{message}");
}

// ---------------------------------------------------------------- reads

#[test]
fn collection_shape_and_headers() {
    // dataverse.md §1.1, §8
    let mut h = harness();
    let r = h.get("/otcm_suppliers");
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/json; odata.metadata=minimal")
    );
    assert_eq!(r.header("odata-version"), Some("4.0"));
    let b = body(&r);
    assert_eq!(keys(&b), ["@odata.context", "value"]);
    assert_eq!(
        b["@odata.context"],
        format!("{BASE}/$metadata#otcm_suppliers")
    );
    let rows = b["value"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let first = &rows[0];
    assert_eq!(keys(first)[0], "@odata.etag");
    assert!(first["@odata.etag"].as_str().unwrap().starts_with("W/\""));
    assert_eq!(first["otcm_supplierid"], NORTHWIND);
    assert_eq!(first["otcm_name"], "Northwind Traders");
    // Null columns are emitted as null (§1.1, UNCONFIRMED; widespread experience).
    assert_eq!(rows[1]["otcm_vendorcode"], Value::Null);
    assert!(rows[1].as_object().unwrap().contains_key("otcm_vendorcode"));
    // Timestamps: UTC, Z, no fraction (§1.1).
    assert_eq!(first["createdon"], "2026-03-24T02:36:37Z");
}

#[test]
fn money_is_written_with_four_decimals() {
    // dataverse.md §1.1: money 20000.0000
    let mut h = harness();
    let r = h.get(&format!(
        "/otcm_inboundinvoices({INVOICE})?$select=otcm_invoicetotal"
    ));
    assert!(
        text(&r).contains("\"otcm_invoicetotal\":120.5000"),
        "{}",
        text(&r)
    );
}

#[test]
fn select_lists_columns_and_always_returns_the_key() {
    // dataverse.md §1.1: context lists the selected columns; primary key always returned
    let mut h = harness();
    let b = body(&h.get("/otcm_suppliers?$select=otcm_name,statecode"));
    assert_eq!(
        b["@odata.context"],
        format!("{BASE}/$metadata#otcm_suppliers(otcm_name,statecode)")
    );
    assert_eq!(
        keys(&b["value"][0]),
        ["@odata.etag", "otcm_name", "statecode", "otcm_supplierid"]
    );
    let b = body(&h.get("/otcm_suppliers?$select=otcm_name,otcm_supplierid"));
    assert_eq!(
        b["@odata.context"],
        format!("{BASE}/$metadata#otcm_suppliers(otcm_name,otcm_supplierid)")
    );
    assert_eq!(
        keys(&b["value"][0]),
        ["@odata.etag", "otcm_name", "otcm_supplierid"]
    );
}

#[test]
fn select_unknown_column_is_rejected() {
    // dataverse.md §1.7 (code 0x80060888, the field captures' code; see error.rs)
    let mut h = harness();
    let r = h.get("/otcm_suppliers?$select=Otcm_name");
    assert_error(&r, 400, "0x80060888", "Could not find a property named 'Otcm_name' on type 'Microsoft.Dynamics.CRM.otcm_supplier'.");
    // The lookup's navigation name is not a selectable property (§1.7 [FIELD]).
    let r = h.get("/otcm_inboundinvoices?$select=otcm_SupplierId");
    assert_error(&r, 400, "0x80060888", "Could not find a property named 'otcm_SupplierId' on type 'Microsoft.Dynamics.CRM.otcm_inboundinvoice'.");
}

#[test]
fn filter_with_doubled_quote_and_encoded_names() {
    // dataverse.md §1.5 (O''Bryan), §10.2 (n8n sends %24filter)
    let mut h = harness();
    let b = body(&h.get("/otcm_suppliers?%24filter=otcm_name%20eq%20'o''brien%20office%20supply'&%24select=otcm_name"));
    assert_eq!(b["value"].as_array().unwrap().len(), 1);
    assert_eq!(b["value"][0]["otcm_supplierid"], OBRIEN);
    // `+` is a space (§1.5)
    let b = body(&h.get("/otcm_suppliers?$filter=statecode+eq+1"));
    assert_eq!(b["value"][0]["otcm_supplierid"], CONTOSO);
    let b = body(
        &h.get("/otcm_suppliers?$filter=contains(otcm_name,'north') or otcm_vendorcode eq 'CT'"),
    );
    assert_eq!(b["value"].as_array().unwrap().len(), 2);
    // `ne` does not match nulls (SQL semantics).
    let b = body(&h.get("/otcm_suppliers?$filter=otcm_vendorcode ne 'NW'"));
    assert_eq!(b["value"].as_array().unwrap().len(), 1);
    let b = body(&h.get("/otcm_suppliers?$filter=otcm_vendorcode eq null"));
    assert_eq!(b["value"][0]["otcm_supplierid"], OBRIEN);
}

#[test]
fn filter_errors() {
    // dataverse.md §1.5, §1.6, §1.7
    let mut h = harness();
    let r = h.get("/otcm_suppliers?$filter=otcm_name eq 'O'Brien'");
    assert_error(
        &r,
        400,
        "0x80060888",
        "There is an unterminated literal at position 22 in 'otcm_name eq 'O'Brien''.",
    );
    let r = h.get(&format!(
        "/otcm_inboundinvoices?$filter=_otcm_supplierid_value eq '{NORTHWIND}'"
    ));
    assert_error(&r, 400, "0x80060888", "A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'.");
    let r = h.get("/otcm_suppliers?$filter=name eq 'x'");
    assert_error(
        &r,
        400,
        "0x80060888",
        "Could not find a property named 'name' on type 'Microsoft.Dynamics.CRM.otcm_supplier'.",
    );
    let r = h.get("/otcm_suppliers?$filter=otcm_name eq");
    assert_error(
        &r,
        400,
        "0x80060888",
        "Expression expected at position 12 in 'otcm_name eq'.",
    );
    let deep = format!(
        "/otcm_suppliers?$filter={}statecode eq 1{}",
        "(".repeat(20_000),
        ")".repeat(20_000)
    );
    assert_error_contains(&h.get(&deep), 400, "0x80060888", "recursion limit");
}

#[test]
fn filter_on_lookup_values_and_paths() {
    // dataverse.md §1.5: unquoted GUIDs on _x_value; lookup paths
    let mut h = harness();
    let b = body(&h.get(&format!(
        "/otcm_inboundinvoices?$filter=_otcm_supplierid_value eq {NORTHWIND}"
    )));
    assert_eq!(b["value"][0]["otcm_inboundinvoiceid"], INVOICE);
    let b = body(
        &h.get("/otcm_inboundinvoices?$filter=otcm_SupplierId/otcm_name eq 'northwind traders'"),
    );
    assert_eq!(b["value"].as_array().unwrap().len(), 1);
    let b = body(&h.get(
        "/otcm_inboundinvoices?$filter=otcm_invoicedate ge 2026-03-01 and otcm_invoicetotal gt 100",
    ));
    assert_eq!(b["value"].as_array().unwrap().len(), 1);
    // Navigation names are case-sensitive (§1.8).
    let r = h.get("/otcm_inboundinvoices?$filter=otcm_supplierid/otcm_name eq 'x'");
    assert_error_contains(
        &r,
        400,
        "0x80060888",
        "Could not find a property named 'otcm_supplierid'",
    );
}

#[test]
fn parameter_aliases_in_filter() {
    // dataverse.md §1.2: aliases; a missing alias is null
    let mut h = harness();
    let b = body(&h.get("/otcm_suppliers?$filter=@p1 eq @p2&@p1=otcm_vendorcode&@p2='CT'"));
    assert_eq!(b["value"][0]["otcm_supplierid"], CONTOSO);
    let b = body(&h.get("/otcm_suppliers?$filter=otcm_vendorcode eq @missing"));
    assert_eq!(b["value"][0]["otcm_supplierid"], OBRIEN);
}

#[test]
fn orderby_multiple_keys() {
    // dataverse.md §1.2: $orderby
    let mut h = harness();
    let b = body(&h.get("/otcm_suppliers?$orderby=statecode desc,otcm_name asc&$select=otcm_name"));
    let names: Vec<&str> = b["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["otcm_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Contoso", "Northwind Traders", "O'Brien Office Supply"]
    );
    let b = body(&h.get("/otcm_suppliers?$orderby=otcm_vendorcode"));
    assert_eq!(b["value"][0]["otcm_supplierid"], OBRIEN); // nulls first
    let r = h.get("/otcm_suppliers?$orderby=nope desc");
    assert_error(
        &r,
        400,
        "0x80060888",
        "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.otcm_supplier'.",
    );
    assert_error_contains(
        &h.get("/otcm_suppliers?$orderby=otcm_name sideways"),
        400,
        "0x80060888",
        "Syntax error",
    );
}

#[test]
fn top_alone_gives_no_next_link() {
    // dataverse.md §1.4, §10.2 (n8n Return All sends $top=100)
    let mut h = harness();
    let b = body(&h.get("/otcm_suppliers?$top=2"));
    assert_eq!(b["value"].as_array().unwrap().len(), 2);
    assert!(b.get("@odata.nextLink").is_none());
    assert_error_contains(&h.get("/otcm_suppliers?$top=-1"), 400, "0x80060888", "$top");
}

#[test]
fn maxpagesize_pages_with_next_link() {
    // dataverse.md §1.4
    let mut h = harness();
    let r = h.send(
        "GET",
        "/otcm_suppliers?$select=otcm_name&$top=1",
        &[("prefer", "odata.maxpagesize=2")],
        "",
    );
    assert_eq!(r.header("preference-applied"), Some("odata.maxpagesize=2"));
    let b = body(&r);
    assert_eq!(
        b["value"].as_array().unwrap().len(),
        2,
        "$top is ignored with maxpagesize"
    );
    assert_eq!(keys(&b).last().unwrap(), "@odata.nextLink");
    let next = b["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&format!(
            "{BASE}/otcm_suppliers?$select=otcm_name&$top=1&$skiptoken=%3Ccookie"
        )),
        "{next}"
    );
    let url = next.strip_prefix(BASE).unwrap();
    let r = h.send("GET", url, &[("prefer", "odata.maxpagesize=2")], "");
    let b = body(&r);
    assert_eq!(b["value"].as_array().unwrap().len(), 1);
    assert_eq!(b["value"][0]["otcm_name"], "Contoso");
    assert!(b.get("@odata.nextLink").is_none());
    assert_error_contains(
        &h.get("/otcm_suppliers?$skiptoken=garbage"),
        400,
        "0x80060888",
        "$skiptoken",
    );
    // A larger maxpagesize is ignored (§1.4).
    let r = h.send(
        "GET",
        "/otcm_suppliers",
        &[("prefer", "odata.maxpagesize=9000")],
        "",
    );
    assert_eq!(r.header("preference-applied"), None);
    // Preferences can be comma-joined with others (§10.1).
    let r = h.send(
        "GET",
        "/otcm_suppliers",
        &[(
            "prefer",
            "return=representation,odata.include-annotations=\"*\",odata.maxpagesize=1",
        )],
        "",
    );
    assert_eq!(body(&r)["value"].as_array().unwrap().len(), 1);
}

#[test]
fn count_option_and_count_segment() {
    // dataverse.md §1.3
    let mut h = harness();
    let r = h.send(
        "GET",
        "/otcm_suppliers?$count=true&$select=otcm_name",
        &[("prefer", "odata.maxpagesize=1")],
        "",
    );
    let b = body(&r);
    assert_eq!(
        keys(&b),
        ["@odata.context", "@odata.count", "value", "@odata.nextLink"]
    );
    assert_eq!(b["@odata.count"], 3);
    let r = h.get("/otcm_suppliers/$count");
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(text(&r), "3");
    assert_eq!(
        text(&h.get("/otcm_suppliers/$count?$filter=statecode eq 0")),
        "2"
    );
    assert_error_contains(
        &h.get("/otcm_suppliers?$count=maybe"),
        400,
        "0x80060888",
        "count",
    );
}

#[test]
fn unsupported_options_are_rejected() {
    // dataverse.md §1.2: $skip $search $format not supported; names are case-sensitive
    let mut h = harness();
    for option in ["$skip=1", "$search=x", "$format=json", "$Top=1"] {
        let r = h.get(&format!("/otcm_suppliers?{option}"));
        assert_error_contains(&r, 400, "0x80060888", "is not supported");
    }
    assert_error_contains(
        &h.get("/otcm_suppliers?$top=1&$top=2"),
        400,
        "0x80060888",
        "more than once",
    );
    // Non-$ parameters are ignored.
    assert_eq!(h.get("/otcm_suppliers?foo=bar").status.as_u16(), 200);
}

#[test]
fn expand_single_valued_lookup() {
    // dataverse.md §1.1 (context with expand), §1.8
    let mut h = harness();
    let r = h.get(&format!("/otcm_inboundinvoices({INVOICE})?$select=otcm_name&$expand=otcm_SupplierId($select=otcm_name)"));
    let b = body(&r);
    assert_eq!(
        b["@odata.context"],
        format!(
            "{BASE}/$metadata#otcm_inboundinvoices(otcm_name,otcm_SupplierId(otcm_name))/$entity"
        )
    );
    assert_eq!(b["otcm_SupplierId"]["otcm_name"], "Northwind Traders");
    assert_eq!(b["otcm_SupplierId"]["otcm_supplierid"], NORTHWIND);
    assert!(b["otcm_SupplierId"].get("@odata.etag").is_none());
    let r = h.get("/otcm_inboundinvoices?$expand=otcm_supplierid");
    assert_error_contains(
        &r,
        400,
        "0x80060888",
        "Could not find a property named 'otcm_supplierid'",
    );
}

#[test]
fn retrieve_by_key() {
    // dataverse.md §2
    let mut h = harness();
    let r = h.get(&format!("/otcm_suppliers({NORTHWIND})?$select=otcm_name"));
    assert_eq!(r.status.as_u16(), 200);
    let b = body(&r);
    assert_eq!(
        keys(&b),
        [
            "@odata.context",
            "@odata.etag",
            "otcm_name",
            "otcm_supplierid"
        ]
    );
    assert_eq!(
        b["@odata.context"],
        format!("{BASE}/$metadata#otcm_suppliers(otcm_name)/$entity")
    );
    let b = body(&h.get(&format!("/otcm_suppliers(otcm_supplierid={NORTHWIND})")));
    assert_eq!(
        b["@odata.context"],
        format!("{BASE}/$metadata#otcm_suppliers/$entity")
    );
    assert_eq!(b["otcm_name"], "Northwind Traders");
    let upper = NORTHWIND.to_uppercase();
    assert_eq!(
        h.get(&format!("/otcm_suppliers({upper})")).status.as_u16(),
        200
    );
}

#[test]
fn retrieve_failures() {
    // dataverse.md §2 (missing row, braces, alternate key), §1.1 (unknown set)
    let mut h = harness();
    let r = h.get(&format!("/otcm_suppliers({MISSING})"));
    assert_error(
        &r,
        404,
        "0x80040217",
        &format!("Entity 'otcm_supplier' With Id = {MISSING} Does Not Exist"),
    );
    let r = h.get("/Otcm_suppliers");
    assert_error(
        &r,
        404,
        "0x8006088a",
        "Resource not found for the segment 'Otcm_suppliers'.",
    );
    let r = h.get(&format!("/otcm_suppliers(%7B{NORTHWIND}%7D)"));
    assert_error(
        &r,
        400,
        "0x80060888",
        "Bad Request - Error in query syntax.",
    );
    // otcm_vendorcode is the default tables' alternate key; otcm_name is not a key.
    let r = h.get("/otcm_suppliers(otcm_name='Northwind Traders')");
    assert_error_contains(&r, 400, "0x80060888", "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.otcm_supplier'.");
    let r = h.get("/otcm_suppliers(otcm_vendorcode='NW')");
    assert_eq!(r.status, 200, "{}", text(&r));
    let r = h.get("/otcm_suppliers(otcm_vendorcode='NOPE')");
    assert_error_contains(
        &r,
        404,
        "0x80040217",
        "A record with the specified key values does not exist in otcm_supplier entity",
    );
    let r = h.get("/otcm_suppliers/nope");
    assert_error(
        &r,
        404,
        "0x8006088a",
        "Resource not found for the segment 'nope'.",
    );
}

#[test]
fn conditional_get_and_single_property() {
    // dataverse.md §2: If-None-Match → 304; single property value
    let mut h = harness();
    let etag = body(&h.get(&format!("/otcm_suppliers({NORTHWIND})")))["@odata.etag"]
        .as_str()
        .unwrap()
        .to_string();
    let r = h.send(
        "GET",
        &format!("/otcm_suppliers({NORTHWIND})"),
        &[("if-none-match", &etag)],
        "",
    );
    assert_eq!(r.status.as_u16(), 304);
    assert!(r.body.is_empty());
    let r = h.get(&format!("/otcm_suppliers({NORTHWIND})/otcm_name"));
    let b = body(&r);
    assert_eq!(
        b["@odata.context"],
        format!("{BASE}/$metadata#otcm_suppliers({NORTHWIND})/otcm_name")
    );
    assert_eq!(b["value"], "Northwind Traders");
    assert_eq!(
        h.get(&format!("/otcm_suppliers({OBRIEN})/otcm_vendorcode"))
            .status
            .as_u16(),
        204
    );
}

#[test]
fn lookup_annotations_on_request() {
    // dataverse.md §1.9: lookup annotations before the raw value; Preference-Applied echoes
    let mut h = harness();
    let prefer = "odata.include-annotations=\"*\"";
    let r = h.send(
        "GET",
        &format!("/otcm_inboundinvoices({INVOICE})?$select=_otcm_supplierid_value"),
        &[("prefer", prefer)],
        "",
    );
    assert_eq!(r.header("preference-applied"), Some(prefer));
    let b = body(&r);
    assert_eq!(
        keys(&b),
        [
            "@odata.context",
            "@odata.etag",
            "_otcm_supplierid_value@OData.Community.Display.V1.FormattedValue",
            "_otcm_supplierid_value@Microsoft.Dynamics.CRM.associatednavigationproperty",
            "_otcm_supplierid_value@Microsoft.Dynamics.CRM.lookuplogicalname",
            "_otcm_supplierid_value",
            "otcm_inboundinvoiceid"
        ]
    );
    assert_eq!(
        b["_otcm_supplierid_value@OData.Community.Display.V1.FormattedValue"],
        "Northwind Traders"
    );
    assert_eq!(
        b["_otcm_supplierid_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
        "otcm_supplier"
    );
    let prefer = "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\"";
    let b = body(&h.send("GET", "/otcm_inboundinvoices", &[("prefer", prefer)], ""));
    assert_eq!(
        b["value"][0]["_ownerid_value@OData.Community.Display.V1.FormattedValue"],
        "Accounts Payable"
    );
    assert!(b["value"][0]
        .get("_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname")
        .is_none());
    // Without the preference, no annotations.
    assert!(!text(&h.get("/otcm_inboundinvoices")).contains("FormattedValue"));
}

// ---------------------------------------------------------------- create

#[test]
fn create_returns_204_with_entity_id() {
    // dataverse.md §3
    let mut h = harness();
    let r = h.send(
        "POST",
        "/otcm_suppliers",
        &[("content-type", "application/json; charset=utf-8")],
        r#"{"otcm_name":"Fabrikam","statecode":0}"#,
    );
    assert_eq!(r.status.as_u16(), 204, "{}", text(&r));
    assert!(r.body.is_empty());
    assert_eq!(r.header("odata-version"), Some("4.0"));
    let location = r.header("odata-entityid").unwrap().to_string();
    let id = location
        .strip_prefix(&format!("{BASE}/otcm_suppliers("))
        .unwrap()
        .trim_end_matches(')');
    assert!(table::parse_guid(id).is_some());
    let b = body(&h.get(&format!("/otcm_suppliers({id})")));
    assert_eq!(b["otcm_name"], "Fabrikam");
    assert_eq!(b["createdon"], "2026-03-24T02:36:37Z");
}

#[test]
fn create_with_representation() {
    // dataverse.md §3: 201, Preference-Applied, no OData-EntityId, $select honoured; n8n §10.2
    let mut h = harness();
    let r = h.send(
        "POST",
        "/otcm_suppliers?$select=otcm_supplierid",
        &[
            ("prefer", "return=representation"),
            ("content-type", "application/json"),
        ],
        r#"{"otcm_name":"Fabrikam"}"#,
    );
    assert_eq!(r.status.as_u16(), 201);
    assert_eq!(
        r.header("preference-applied"),
        Some("return=representation")
    );
    assert_eq!(r.header("odata-entityid"), None);
    let b = body(&r);
    assert_eq!(
        keys(&b),
        ["@odata.context", "@odata.etag", "otcm_supplierid"]
    );
    assert_eq!(
        b["@odata.context"],
        format!("{BASE}/$metadata#otcm_suppliers(otcm_supplierid)/$entity")
    );
}

#[test]
fn create_with_caller_id_and_duplicate() {
    // dataverse.md §3 (caller-supplied id), §4 (0x80040237, 412)
    let mut h = harness();
    let id = "66666666-6666-6666-6666-666666666666";
    let r = h.send(
        "POST",
        "/otcm_suppliers",
        &[],
        &format!(r#"{{"otcm_supplierid":"{id}","otcm_name":"A"}}"#),
    );
    assert_eq!(
        r.header("odata-entityid"),
        Some(format!("{BASE}/otcm_suppliers({id})").as_str())
    );
    let r = h.send(
        "POST",
        "/otcm_suppliers",
        &[],
        &format!(r#"{{"otcm_supplierid":"{id}","otcm_name":"B"}}"#),
    );
    assert_error(
        &r,
        412,
        "0x80040237",
        "A record with matching key values already exists.",
    );
}

#[test]
fn create_rejects_unknown_and_miscased_columns() {
    // dataverse.md §3: 0x80048d19 Invalid property
    let mut h = harness();
    let r = h.send("POST", "/otcm_suppliers", &[], r#"{"Otcm_name":"x"}"#);
    assert_error_contains(&r, 400, "0x80048d19", "Error identified in Payload provided by the user for Entity :'otcm_suppliers', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.Crm.CrmException: Invalid property 'Otcm_name' was found in entity 'Microsoft.Dynamics.CRM.otcm_supplier'.");
    assert_eq!(body(&h.get("/otcm_suppliers/$count")).as_u64(), Some(3));
}

#[test]
fn create_rejects_wrong_types_and_long_strings() {
    // dataverse.md §3: Cannot convert the literal; 0x80044331
    let mut h = harness();
    let r = h.send(
        "POST",
        "/otcm_suppliers",
        &[],
        r#"{"otcm_name":"x","statecode":"Charity"}"#,
    );
    assert_error_contains(&r, 400, "0x80048d19", "InnerException : Microsoft.OData.ODataException: Cannot convert the literal 'Charity' to the expected type 'Edm.Int32'. ---> System.FormatException: Input string was not in a correct format.");
    let long = "x".repeat(201);
    let r = h.send(
        "POST",
        "/otcm_suppliers",
        &[],
        &format!(r#"{{"otcm_name":"{long}"}}"#),
    );
    assert_error(&r, 400, "0x80044331", "A validation error occurred.  The length of the 'otcm_name' attribute of the 'otcm_supplier' entity exceeded the maximum allowed length of '200'.");
    for bad in ["[1]", "\"x\"", "", "{not json"] {
        let r = h.send("POST", "/otcm_suppliers", &[], bad);
        assert_error_contains(&r, 400, "0x80048d19", "Entity :'otcm_suppliers'");
    }
}

#[test]
fn create_rejects_direct_lookup_writes() {
    // dataverse.md §3 [FIELD]/[DECOMP]
    let mut h = harness();
    let r = h.send(
        "POST",
        "/otcm_inboundinvoices",
        &[],
        &format!(r#"{{"otcm_name":"x","_otcm_supplierid_value":"{NORTHWIND}"}}"#),
    );
    assert_error(&r, 400, "0x80060888", "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.");
}

#[test]
fn bind_accepts_every_documented_form() {
    // dataverse.md §3: /set(id), set(id), absolute URL; DWA strips braces (§10.1)
    let mut h = harness();
    for (i, form) in [
        format!("/otcm_suppliers({NORTHWIND})"),
        format!("otcm_suppliers({NORTHWIND})"),
        format!("{BASE}/otcm_suppliers({NORTHWIND})"),
        format!("https://org.crm.dynamics.com/api/data/v9.1/otcm_suppliers(otcm_supplierid={NORTHWIND})"),
    ]
    .iter()
    .enumerate()
    {
        let payload = json!({"otcm_name": format!("INV-{i}"), "otcm_SupplierId@odata.bind": form, "ownerid@odata.bind": format!("/teams({TEAM})")});
        let r = h.send("POST", "/otcm_inboundinvoices?$select=_otcm_supplierid_value,_ownerid_value", &[("prefer", "return=representation")], &payload.to_string());
        assert_eq!(r.status.as_u16(), 201, "{form}: {}", text(&r));
        let b = body(&r);
        assert_eq!(b["_otcm_supplierid_value"], NORTHWIND);
        assert_eq!(b["_ownerid_value"], TEAM);
    }
}

#[test]
fn bind_failures() {
    // dataverse.md §3: undeclared (wrong case) navigation property; missing target; wrong table
    let mut h = harness();
    let r = h.send(
        "POST",
        "/otcm_inboundinvoices",
        &[],
        &json!({"otcm_supplierid@odata.bind": format!("/otcm_suppliers({NORTHWIND})")}).to_string(),
    );
    assert_error_contains(&r, 400, "0x80048d19", "An undeclared property 'otcm_supplierid' which only has property annotations in the payload but no property value was found in the payload.");
    let r = h.send(
        "POST",
        "/otcm_inboundinvoices",
        &[],
        &json!({"otcm_SupplierId@odata.bind": format!("/otcm_suppliers({MISSING})")}).to_string(),
    );
    assert_error(
        &r,
        404,
        "0x80040217",
        &format!("Entity 'otcm_supplier' With Id = {MISSING} Does Not Exist"),
    );
    let r = h.send(
        "POST",
        "/otcm_inboundinvoices",
        &[],
        &json!({"otcm_SupplierId@odata.bind": format!("/teams({TEAM})")}).to_string(),
    );
    assert_error_contains(
        &r,
        400,
        "0x80048d19",
        "is not the target of navigation property 'otcm_SupplierId'",
    );
    let r = h.send(
        "POST",
        "/otcm_inboundinvoices",
        &[],
        &json!({"otcm_SupplierId@odata.bind": "/nothing(1)"}).to_string(),
    );
    assert_eq!(r.status.as_u16(), 404);
    let r = h.send(
        "POST",
        "/otcm_inboundinvoices",
        &[],
        &json!({"otcm_SupplierId@odata.bind": [format!("/otcm_suppliers({NORTHWIND})")]})
            .to_string(),
    );
    assert_error_contains(&r, 400, "0x80048d19", "single-valued navigation property");
    assert_eq!(text(&h.get("/otcm_inboundinvoices/$count")), "1");
}

// ---------------------------------------------------------------- update

#[test]
fn patch_updates_and_bumps_the_etag() {
    // dataverse.md §4
    let mut h = harness();
    let before = body(&h.get(&format!("/otcm_suppliers({NORTHWIND})")));
    let r = h.send(
        "PATCH",
        &format!("/otcm_suppliers({NORTHWIND})"),
        &[],
        r#"{"otcm_vendorcode":"NW2"}"#,
    );
    assert_eq!(r.status.as_u16(), 204);
    let after = body(&h.get(&format!("/otcm_suppliers({NORTHWIND})")));
    assert_eq!(after["otcm_vendorcode"], "NW2");
    assert_eq!(after["otcm_name"], "Northwind Traders");
    assert_ne!(after["@odata.etag"], before["@odata.etag"]);
    assert_ne!(after["modifiedon"], before["modifiedon"]);
    assert_eq!(after["createdon"], before["createdon"]);
    // return=representation → 200 + row (§4, n8n update §10.2)
    let r = h.send(
        "PATCH",
        &format!("/otcm_suppliers({NORTHWIND})?$select=otcm_supplierid"),
        &[("prefer", "return=representation")],
        r#"{"statecode":1}"#,
    );
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(
        r.header("preference-applied"),
        Some("return=representation")
    );
    assert_eq!(
        keys(&body(&r)),
        ["@odata.context", "@odata.etag", "otcm_supplierid"]
    );
}

#[test]
fn patch_without_if_match_upserts() {
    // dataverse.md §4: no If-Match + missing row ⇒ create
    let mut h = harness();
    let r = h.send(
        "PATCH",
        &format!("/otcm_suppliers({MISSING})"),
        &[],
        r#"{"otcm_name":"Upserted"}"#,
    );
    assert_eq!(r.status.as_u16(), 204);
    assert_eq!(
        body(&h.get(&format!("/otcm_suppliers({MISSING})")))["otcm_name"],
        "Upserted"
    );
}

#[test]
fn patch_conditional_headers() {
    // dataverse.md §4: If-Match * ⇒ 404; If-None-Match * ⇒ 412; stale If-Match ⇒ 412 0x80060882
    let mut h = harness();
    let r = h.send(
        "PATCH",
        &format!("/otcm_suppliers({MISSING})"),
        &[("if-match", "*")],
        r#"{"otcm_name":"x"}"#,
    );
    assert_error(
        &r,
        404,
        "0x80040217",
        &format!("Entity 'otcm_supplier' With Id = {MISSING} Does Not Exist"),
    );
    assert_eq!(
        h.get(&format!("/otcm_suppliers({MISSING})"))
            .status
            .as_u16(),
        404
    );
    let r = h.send(
        "PATCH",
        &format!("/otcm_suppliers({NORTHWIND})"),
        &[("if-none-match", "*")],
        r#"{"otcm_name":"x"}"#,
    );
    assert_error(
        &r,
        412,
        "0x80040237",
        "A record with matching key values already exists.",
    );
    let r = h.send(
        "PATCH",
        &format!("/otcm_suppliers({NORTHWIND})"),
        &[("if-match", "W/\"1\"")],
        r#"{"otcm_name":"x"}"#,
    );
    assert_error(
        &r,
        412,
        "0x80060882",
        "The version of the existing record doesn't match the RowVersion property provided.",
    );
    let etag = body(&h.get(&format!("/otcm_suppliers({NORTHWIND})")))["@odata.etag"]
        .as_str()
        .unwrap()
        .to_string();
    let r = h.send(
        "PATCH",
        &format!("/otcm_suppliers({NORTHWIND})"),
        &[("if-match", &etag)],
        r#"{"otcm_name":"y"}"#,
    );
    assert_eq!(r.status.as_u16(), 204);
    // If-None-Match: null (recommended header, §8) is harmless; so is If-Match: * on an existing row (DWA update, §10.1).
    let r = h.send(
        "PATCH",
        &format!("/otcm_suppliers({NORTHWIND})"),
        &[("if-none-match", "null"), ("if-match", "*")],
        r#"{"otcm_name":"z"}"#,
    );
    assert_eq!(r.status.as_u16(), 204);
    let r = h.send(
        "PATCH",
        &format!("/otcm_suppliers({MISSING})"),
        &[("if-none-match", "*")],
        r#"{"otcm_name":"new"}"#,
    );
    assert_eq!(r.status.as_u16(), 204);
}

#[test]
fn patch_bind_null_clears_the_lookup() {
    // dataverse.md §4: {"nav@odata.bind": null} and {"nav": null}
    let mut h = harness();
    let r = h.send(
        "PATCH",
        &format!("/otcm_inboundinvoices({INVOICE})"),
        &[],
        r#"{"otcm_SupplierId@odata.bind":null}"#,
    );
    assert_eq!(r.status.as_u16(), 204);
    let r = h.send(
        "PATCH",
        &format!("/otcm_inboundinvoices({INVOICE})"),
        &[],
        r#"{"ownerid":null}"#,
    );
    assert_eq!(r.status.as_u16(), 204);
    let b = body(&h.get(&format!("/otcm_inboundinvoices({INVOICE})")));
    assert_eq!(b["_otcm_supplierid_value"], Value::Null);
    assert_eq!(b["_ownerid_value"], Value::Null);
}

#[test]
fn delete_and_method_errors() {
    // dataverse.md §4: 204 / 404; 405 for wrong method and resource pairs
    let mut h = harness();
    assert_eq!(
        h.send("DELETE", &format!("/otcm_suppliers({CONTOSO})"), &[], "{}")
            .status
            .as_u16(),
        204
    );
    let r = h.send("DELETE", &format!("/otcm_suppliers({CONTOSO})"), &[], "");
    assert_error(
        &r,
        404,
        "0x80040217",
        &format!("Entity 'otcm_supplier' With Id = {CONTOSO} Does Not Exist"),
    );
    let r = h.send(
        "DELETE",
        &format!("/otcm_suppliers({NORTHWIND})"),
        &[("if-match", "W/\"1\"")],
        "",
    );
    assert_eq!(r.status.as_u16(), 412);
    // Deleting a referenced row removes the link.
    assert_eq!(
        h.send("DELETE", &format!("/otcm_suppliers({NORTHWIND})"), &[], "")
            .status
            .as_u16(),
        204
    );
    assert_eq!(
        body(&h.get(&format!("/otcm_inboundinvoices({INVOICE})")))["_otcm_supplierid_value"],
        Value::Null
    );
    for (method, url) in [
        ("DELETE", "/otcm_suppliers"),
        ("PATCH", "/otcm_suppliers"),
        ("PUT", "/otcm_suppliers"),
        ("POST", &format!("/otcm_suppliers({OBRIEN})")),
        ("PUT", &format!("/otcm_suppliers({OBRIEN})")),
    ] {
        let r = h.send(method, url, &[], "{}");
        assert_eq!(r.status.as_u16(), 405, "{method} {url}");
        assert_eq!(r.header("odata-version"), Some("4.0"));
    }
}

// ---------------------------------------------------------------- WhoAmI, metadata, service document

#[test]
fn whoami() {
    // dataverse.md §9.1
    let mut h = harness();
    for url in ["/WhoAmI", "/WhoAmI()"] {
        let r = h.get(url);
        assert_eq!(r.status.as_u16(), 200);
        let b = body(&r);
        assert_eq!(
            keys(&b),
            [
                "@odata.context",
                "BusinessUnitId",
                "UserId",
                "OrganizationId"
            ]
        );
        assert_eq!(
            b["@odata.context"],
            format!("{BASE}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse")
        );
        assert_eq!(b["UserId"], "22cc22cc-0000-0000-0000-000000000001");
    }
    let r = h.send("POST", "/WhoAmI", &[], "");
    assert_error(
        &r,
        404,
        "",
        &format!("No HTTP resource was found that matches the request URI '{BASE}/WhoAmI'."),
    );
    // Case-sensitive function names (§1.1).
    assert_eq!(h.get("/whoami").status.as_u16(), 404);
}

#[test]
fn metadata_document() {
    // dataverse.md §9.2
    let mut h = harness();
    let r = h.get("/$metadata");
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert_eq!(r.header("odata-version"), Some("4.0"));
    let xml = text(&r);
    assert!(xml.contains("<Schema Namespace=\"Microsoft.Dynamics.CRM\" Alias=\"mscrm\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">"));
    assert!(xml.contains("<EntityType Name=\"otcm_inboundinvoice\" BaseType=\"mscrm.crmbaseentity\">\n<Key><PropertyRef Name=\"otcm_inboundinvoiceid\" /></Key>"));
    assert!(xml.contains("<Property Name=\"otcm_invoicetotal\" Type=\"Edm.Decimal\" />"));
    assert!(xml.contains("<Property Name=\"otcm_invoicedate\" Type=\"Edm.Date\" />"));
    assert!(xml.contains("<NavigationProperty Name=\"otcm_SupplierId\" Type=\"mscrm.otcm_supplier\">\n<ReferentialConstraint Property=\"_otcm_supplierid_value\" ReferencedProperty=\"otcm_supplierid\" />"));
    assert!(xml.contains(
        "<EntitySet Name=\"otcm_suppliers\" EntityType=\"Microsoft.Dynamics.CRM.otcm_supplier\">"
    ));
    assert_eq!(h.send("POST", "/$metadata", &[], "").status.as_u16(), 405);
}

#[test]
fn service_document() {
    // dataverse.md §1.1
    let mut h = harness();
    for url in ["", "/"] {
        let b = body(&h.get(url));
        assert_eq!(b["@odata.context"], format!("{BASE}/$metadata"));
        assert_eq!(
            b["value"][0],
            json!({"name": "teams", "kind": "EntitySet", "url": "teams"})
        );
        assert_eq!(b["value"].as_array().unwrap().len(), 4);
    }
}

// ---------------------------------------------------------------- service protection, auth

#[test]
fn service_protection_429() {
    // dataverse.md §6
    let mut fx = fixture();
    fx.service_protection = Some(ServiceProtection {
        requests: 2,
        window: "60s".into(),
    });
    let mut h = harness_with(fx);
    assert_eq!(h.get("/WhoAmI").status.as_u16(), 200);
    assert_eq!(h.get("/WhoAmI").status.as_u16(), 200);
    let r = h.get("/WhoAmI");
    assert_error(
        &r,
        429,
        "0x80072322",
        "Number of requests exceeded the limit of 2 over time window of 60 seconds.",
    );
    assert_eq!(r.header("retry-after"), Some("58"));
    // Per token.
    assert_eq!(
        h.send_as("other", "GET", "/WhoAmI", &[], "")
            .status
            .as_u16(),
        200
    );
    h.now += 60_000;
    assert_eq!(h.get("/WhoAmI").status.as_u16(), 200);
}

#[test]
fn unauthorized_challenge() {
    // dataverse.md §7
    let r = unauthorized(ORIGIN, "");
    assert_eq!(r.status.as_u16(), 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer authorization_uri=https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/oauth2/authorize, resource_id=http://127.0.0.1:4010/")
    );
    assert_eq!(r.header("odata-version"), Some("4.0"));
    let r = unauthorized(ORIGIN, "token expired");
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .ends_with(", error=\"invalid_token\", error_description=\"token expired\""));
}

#[test]
fn unknown_org_is_refused() {
    // dataverse.md §7: not a member of the organization
    let mut h = harness();
    let call = make_call("GET", "/WhoAmI", &[], "", ORIGIN);
    let req = DvRequest {
        call: &call,
        resource: "/WhoAmI",
        token: "t",
    };
    let mut env = DvEnv {
        now: START,
        ids: &mut h.ids,
    };
    let r = h.store.handle("nope", &req, &mut env);
    assert_error(
        &r,
        403,
        "0x80072560",
        "The user is not a member of the organization.",
    );
}

// ---------------------------------------------------------------- state, determinism, fixtures

#[test]
fn internal_origin_builds_urls() {
    // DESIGN.md §4.6: the internal workflow calls with origin http://internal
    let mut h = harness();
    h.origin = "http://internal".into();
    let r = h.send("POST", "/teams", &[], r#"{"name":"Ops"}"#);
    assert!(r
        .header("odata-entityid")
        .unwrap()
        .starts_with("http://internal/api/data/v9.2/teams("));
    assert_eq!(
        body(&h.get("/teams"))["@odata.context"],
        "http://internal/api/data/v9.2/$metadata#teams"
    );
}

#[test]
fn state_dump_round_trips() {
    // Store::to_fixture contract: from_fixture(to_fixture()) answers every read the same.
    let mut h = harness();
    h.send(
        "POST",
        "/otcm_suppliers",
        &[],
        r#"{"otcm_name":"Fabrikam"}"#,
    );
    h.send(
        "PATCH",
        &format!("/otcm_suppliers({NORTHWIND})"),
        &[],
        r#"{"otcm_vendorcode":"X"}"#,
    );
    h.send("DELETE", &format!("/otcm_suppliers({CONTOSO})"), &[], "");
    h.send("POST", "/otcm_inboundinvoicelineitems", &[], &json!({"otcm_name":"L1","otcm_quantity":2.5,"otcm_InboundInvoiceId@odata.bind":format!("/otcm_inboundinvoices({INVOICE})")}).to_string());
    let dump = h.store.to_fixture();
    let yaml = serde_yaml_ng::to_string(&dump).unwrap();
    let reloaded: DataverseFixture = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(reloaded, dump);
    let mut copy = Harness {
        store: Store::from_fixture(&reloaded, &mut IdGen::new(99)).unwrap(),
        ids: IdGen::new(1),
        now: h.now,
        origin: ORIGIN.into(),
    };
    for url in [
        "",
        "/$metadata",
        "/WhoAmI",
        "/teams",
        "/otcm_suppliers",
        "/otcm_inboundinvoices",
        "/otcm_inboundinvoicelineitems?$count=true",
    ] {
        let (a, b) = (h.get(url), copy.get(url));
        assert_eq!(a.status, b.status, "{url}");
        assert_eq!(a.body, b.body, "{url}");
    }
    assert!(
        text(&h.get("/otcm_inboundinvoicelineitems")).contains("\"otcm_quantity\":2.5000000000")
    );
    // Version numbers continue identically after reload.
    let x = h.send(
        "PATCH",
        &format!("/otcm_suppliers({OBRIEN})?$select=otcm_name"),
        &[("prefer", "return=representation")],
        "{}",
    );
    let y = copy.send(
        "PATCH",
        &format!("/otcm_suppliers({OBRIEN})?$select=otcm_name"),
        &[("prefer", "return=representation")],
        "{}",
    );
    assert_eq!(x.body, y.body);
}

#[test]
fn same_seed_same_responses() {
    // DESIGN.md §3: byte-identical responses for the same fixtures, seed and requests
    let run = || {
        let mut h = harness_with(
            serde_yaml_ng::from_str("orgs: [{name: default, rows: {teams: [{name: A}]}}]").unwrap(),
        );
        h.send("POST", "/teams", &[], r#"{"name":"B"}"#);
        (text(&h.get("/teams")), text(&h.get("/WhoAmI")))
    };
    assert_eq!(run(), run());
}

#[test]
fn rows_for_the_control_api() {
    let h = harness();
    let rows = h.store.rows("default", "otcm_suppliers").unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(keys(&rows[0])[0], "@odata.etag");
    assert_eq!(rows[0]["otcm_name"], "Northwind Traders");
    assert!(h.store.rows("default", "nope").is_none());
    assert!(h.store.rows("nope", "teams").is_none());
    assert!(h.store.has_org("default"));
    assert!(!h.store.has_org("other"));
}

#[test]
fn fixture_validation() {
    let bad = [
        "orgs: [{name: a, rows: {nope: [{}]}}]",
        "orgs: [{name: a, rows: {teams: [{Name: x}]}}]",
        "orgs: [{name: a, rows: {teams: [{teamid: not-a-guid}]}}]",
        "orgs: [{name: a, rows: {otcm_suppliers: [{statecode: x}]}}]",
        "orgs: [{name: a}, {name: a}]",
        "orgs: [{name: a, whoami: {user_id: x, business_unit_id: x, organization_id: x}}]",
        "orgs: [{name: a, tables: [{entity_set: s, logical_name: l, primary_id: i, primary_name: n, lookups: [{navigation: N, column: _n_value, target: nowhere}]}]}]",
        "orgs: [{name: a, tables: [{entity_set: s, logical_name: l, primary_id: i, primary_name: n, columns: {n: integer}}]}]",
        "orgs: [{name: a, tables: [{entity_set: s, logical_name: l, primary_id: i, primary_name: n, columns: {x: {type: integer, max_length: 3}}}]}]",
        "service_protection: {requests: 5, window: soon}",
        "orgs: [{name: a, rows: {teams: [{teamid: 11111111-1111-1111-1111-111111111111}, {teamid: 11111111-1111-1111-1111-111111111111}]}}]",
    ];
    for yaml in bad {
        let fx: DataverseFixture = serde_yaml_ng::from_str(yaml).unwrap();
        assert!(
            Store::from_fixture(&fx, &mut IdGen::new(1)).is_err(),
            "{yaml}"
        );
    }
}

#[test]
fn custom_tables_and_generated_ids() {
    let yaml = r#"
orgs:
  - name: default
    tables:
      - entity_set: contacts
        logical_name: contact
        primary_id: contactid
        primary_name: fullname
        columns: {emailaddress1: {type: string, max_length: 5}, birthdate: dateonly, active: boolean}
        lookups: [{navigation: parentcustomerid_contact, column: _parentcustomerid_value, target: contacts}]
    rows:
      contacts: [{fullname: Joe, createdon: "2020-01-01T00:00:00Z", versionnumber: 77}]
"#;
    let mut h = harness_with(serde_yaml_ng::from_str(yaml).unwrap());
    let b = body(&h.get("/contacts"));
    let row = &b["value"][0];
    assert_eq!(row["@odata.etag"], "W/\"77\"");
    assert_eq!(row["createdon"], "2020-01-01T00:00:00Z");
    assert_eq!(row["modifiedon"], "2026-03-24T02:36:37Z");
    assert_eq!(
        keys(row),
        [
            "@odata.etag",
            "contactid",
            "fullname",
            "emailaddress1",
            "birthdate",
            "active",
            "_parentcustomerid_value",
            "createdon",
            "modifiedon",
            "versionnumber"
        ]
    );
    let r = h.send(
        "POST",
        "/contacts",
        &[("prefer", "return=representation")],
        r#"{"fullname":"Ann","active":true}"#,
    );
    assert_eq!(body(&r)["@odata.etag"], "W/\"1000\"");
    let r = h.send("POST", "/contacts", &[], r#"{"emailaddress1":"toolong"}"#);
    assert_error_contains(&r, 400, "0x80044331", "'emailaddress1' attribute of the 'contact' entity exceeded the maximum allowed length of '5'");
}

#[test]
fn from_fixture_at_stamps_rows() {
    let mut ids = IdGen::new(1);
    let store = Store::from_fixture_at(&fixture(), &mut ids, 0).unwrap();
    let rows = store.rows("default", "teams").unwrap();
    assert_eq!(rows[0]["createdon"], "1970-01-01T00:00:00Z");
}

#[test]
fn a_stage_rolls_back_every_write_as_one() {
    let mut h = harness();
    // The first call stamps fixture rows with their system times; that is not a write.
    assert_eq!(h.get("/teams").status.as_u16(), 200);
    let before = serde_json::to_value(h.store.to_fixture()).unwrap();
    h.store.begin();
    let created = h.send(
        "POST",
        "/otcm_suppliers",
        &[("content-type", "application/json")],
        r#"{"otcm_name": "Fabrikam"}"#,
    );
    assert_eq!(created.status.as_u16(), 204, "{}", text(&created));
    let patched = h.send(
        "PATCH",
        "/otcm_suppliers(33333333-3333-3333-3333-333333333333)",
        &[("content-type", "application/json")],
        r#"{"otcm_vendorcode": "OB"}"#,
    );
    assert_eq!(patched.status.as_u16(), 204, "{}", text(&patched));
    // Deleting a supplier also clears the invoice's lookup to it.
    let deleted = h.send(
        "DELETE",
        "/otcm_suppliers(22222222-2222-2222-2222-222222222222)",
        &[],
        "",
    );
    assert_eq!(deleted.status.as_u16(), 204, "{}", text(&deleted));
    let during = serde_json::to_value(h.store.to_fixture()).unwrap();
    assert_ne!(during, before, "the writes changed the store");
    h.store.rollback();
    assert_eq!(serde_json::to_value(h.store.to_fixture()).unwrap(), before);
}

#[test]
fn a_committed_stage_keeps_its_writes() {
    let mut h = harness();
    let before = serde_json::to_value(h.store.to_fixture()).unwrap();
    h.store.begin();
    let deleted = h.send(
        "DELETE",
        "/otcm_suppliers(44444444-4444-4444-4444-444444444444)",
        &[],
        "",
    );
    assert_eq!(deleted.status.as_u16(), 204, "{}", text(&deleted));
    h.store.commit();
    h.store.rollback(); // nothing is staged any more
    let after = serde_json::to_value(h.store.to_fixture()).unwrap();
    assert_ne!(after, before);
    assert_eq!(
        h.get("/otcm_suppliers(44444444-4444-4444-4444-444444444444)")
            .status
            .as_u16(),
        404
    );
}

/// Fixtures declare alternate keys per table (multi-column too); a
/// key on an undeclared column is refused at load.
#[test]
fn fixtures_declare_alternate_keys() {
    let yaml = r#"
orgs:
  - name: default
    tables:
      - entity_set: things
        logical_name: thing
        primary_id: thingid
        primary_name: name
        columns: {code: string, region: integer}
        alternate_keys: [[code, region]]
    rows:
      things: [{name: A, code: X, region: 1}]
"#;
    let fx: DataverseFixture = serde_yaml_ng::from_str(yaml).unwrap();
    let mut h = harness_with(fx);
    let r = h.get("/things(region=1,code='X')?$select=name");
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(text(&r).contains("\"name\":\"A\""), "{}", text(&r));
    let r = h.get("/things(code='X')");
    assert_eq!(r.status, 400, "{}", text(&r));
    let bad: DataverseFixture =
        serde_yaml_ng::from_str(&yaml.replace("[[code, region]]", "[[nosuch]]")).unwrap();
    let e = Store::from_fixture(&bad, &mut IdGen::new(1)).unwrap_err();
    assert!(e.contains("alternate key column 'nosuch'"), "{e}");
}

// ------------------------------------------------- query details (pinned)

const EVENTS: &str = r#"
orgs:
  - name: default
    tables:
      - entity_set: otcm_events
        logical_name: otcm_event
        primary_id: otcm_eventid
        primary_name: otcm_name
        columns:
          otcm_at: datetime
          otcm_flag: boolean
    rows:
      otcm_events:
        - {otcm_eventid: e1000000-0000-0000-0000-000000000001, otcm_name: e1, otcm_at: "2026-03-01T10:00:00Z", otcm_flag: true}
        - {otcm_eventid: e1000000-0000-0000-0000-000000000002, otcm_name: e2, otcm_flag: false}
        - {otcm_eventid: e1000000-0000-0000-0000-000000000003, otcm_name: e3, otcm_at: "2026-02-01T10:00:00Z"}
        - {otcm_eventid: e1000000-0000-0000-0000-000000000004, otcm_name: e4}
"#;

fn names(reply: &Reply) -> Vec<String> {
    body(reply)["value"]
        .as_array()
        .expect("a collection")
        .iter()
        .map(|row| row["otcm_name"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn datetime_and_boolean_columns_filter_and_order_with_nulls_first() {
    // dataverse.md §1.2 ($filter on typed columns), §1.5 ($orderby: nulls
    // sort first ascending and last descending; ties keep insertion order)
    let mut h = harness_with(serde_yaml_ng::from_str(EVENTS).unwrap());
    assert_eq!(
        names(&h.get("/otcm_events?$filter=otcm_flag eq true")),
        ["e1"]
    );
    assert_eq!(
        names(&h.get("/otcm_events?$filter=otcm_flag eq false")),
        ["e2"]
    );
    assert_eq!(
        names(&h.get("/otcm_events?$filter=otcm_at gt 2026-02-15T00:00:00Z")),
        ["e1"]
    );
    assert_eq!(
        names(&h.get("/otcm_events?$filter=otcm_at lt 2026-02-15T00:00:00Z")),
        ["e3"]
    );
    assert_eq!(
        names(&h.get("/otcm_events?$orderby=otcm_at")),
        ["e2", "e4", "e3", "e1"]
    );
    assert_eq!(
        names(&h.get("/otcm_events?$orderby=otcm_at desc")),
        ["e1", "e3", "e2", "e4"]
    );
    assert_eq!(
        names(&h.get("/otcm_events?$orderby=otcm_flag desc,otcm_name desc")),
        ["e1", "e2", "e4", "e3"]
    );
}

#[test]
fn select_of_the_key_and_of_system_columns_gives_their_values() {
    // dataverse.md §1.1: the key is always returned, once; versionnumber is a number
    let mut h = harness();
    let b = body(&h.get(&format!(
        "/otcm_suppliers?$select=otcm_supplierid,versionnumber,otcm_name&$filter=otcm_supplierid eq {NORTHWIND}"
    )));
    let row = &b["value"][0];
    assert_eq!(
        keys(row),
        [
            "@odata.etag",
            "otcm_supplierid",
            "versionnumber",
            "otcm_name"
        ]
    );
    assert_eq!(row["otcm_supplierid"], NORTHWIND);
    let version = row["versionnumber"].as_u64().expect("a number");
    assert_eq!(row["@odata.etag"], format!("W/\"{version}\""));
}

#[test]
fn formatted_values_are_given_for_plain_columns_too() {
    // dataverse.md §1.9: FormattedValue on money, dates and choices, not only lookups
    let mut h = harness();
    let prefer = "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\"";
    let b = body(&h.send(
        "GET",
        "/otcm_inboundinvoices?$select=otcm_invoicetotal,otcm_invoicedate",
        &[("prefer", prefer)],
        "",
    ));
    let row = &b["value"][0];
    assert_eq!(
        row["otcm_invoicetotal@OData.Community.Display.V1.FormattedValue"],
        "$120.50"
    );
    assert_eq!(
        row["otcm_invoicedate@OData.Community.Display.V1.FormattedValue"],
        "3/1/2026"
    );
}

#[test]
fn collection_valued_expand_lists_each_parents_own_rows() {
    // dataverse.md §1.8: $expand of a one-to-many navigation property
    let mut h = harness();
    let b = body(&h.get(
        "/otcm_suppliers?$select=otcm_name&$expand=otcm_supplier_inboundinvoices($select=otcm_name)",
    ));
    let rows = b["value"].as_array().unwrap();
    let expanded: Vec<(String, usize)> = rows
        .iter()
        .map(|row| {
            (
                row["otcm_name"].as_str().unwrap().to_string(),
                row["otcm_supplier_inboundinvoices"]
                    .as_array()
                    .expect("an array per supplier")
                    .len(),
            )
        })
        .collect();
    assert_eq!(
        expanded,
        [
            ("Northwind Traders".to_string(), 1),
            ("O'Brien Office Supply".to_string(), 0),
            ("Contoso".to_string(), 0)
        ]
    );
    assert_eq!(
        rows[0]["otcm_supplier_inboundinvoices"][0]["otcm_name"],
        "INV-1"
    );
}

#[test]
fn paging_ends_exactly_and_numbers_its_pages() {
    // dataverse.md §1.4
    let mut h = harness();
    // A page that holds exactly the rest has no nextLink.
    let r = h.send(
        "GET",
        "/otcm_suppliers?$select=otcm_name",
        &[("prefer", "odata.maxpagesize=3")],
        "",
    );
    assert_eq!(names(&r).len(), 3);
    assert!(body(&r).get("@odata.nextLink").is_none());
    // One row per page: the skiptoken carries the next page's number.
    let mut url = "/otcm_suppliers?$select=otcm_name".to_string();
    let mut seen = Vec::new();
    for page in 2..=4 {
        let r = h.send("GET", &url, &[("prefer", "odata.maxpagesize=1")], "");
        seen.extend(names(&r));
        let Some(next) = body(&r)["@odata.nextLink"].as_str().map(str::to_string) else {
            assert_eq!(page, 4, "the third page is the last");
            break;
        };
        let decoded = crate::call::decode_component(&next);
        assert!(
            decoded.contains(&format!("pagenumber=\"{page}\"")),
            "{decoded}"
        );
        url = next.strip_prefix(BASE).unwrap().to_string();
    }
    assert_eq!(
        seen,
        ["Northwind Traders", "O'Brien Office Supply", "Contoso"]
    );
    // A maxpagesize above 5000 is ignored, and `$top` with it (§1.4).
    let r = h.send(
        "GET",
        "/otcm_suppliers?$top=1",
        &[("prefer", "odata.maxpagesize=9000")],
        "",
    );
    assert_eq!(names(&r).len(), 3);
}

#[test]
fn filter_literals_end_where_the_docs_say() {
    // dataverse.md §1.5: an unquoted GUID literal ends at a character that
    // cannot continue a name; numbers and dates; operand types
    let mut h = harness();
    let r = h.get(&format!(
        "/otcm_suppliers?$filter=otcm_supplierid eq {NORTHWIND} and statecode eq 0&$select=otcm_name"
    ));
    assert_eq!(names(&r), ["Northwind Traders"]);
    let r = h.get(&format!(
        "/otcm_suppliers?$filter=(otcm_supplierid eq {CONTOSO})&$select=otcm_name"
    ));
    assert_eq!(names(&r), ["Contoso"]);
    let text = format!("otcm_supplierid eq {NORTHWIND}x");
    assert_error(
        &h.get(&format!("/otcm_suppliers?$filter={text}")),
        400,
        "0x80060888",
        &format!("Syntax error at position 19 in '{text}'."),
    );
    let text = format!("otcm_supplierid eq {NORTHWIND}-1");
    assert_error(
        &h.get(&format!("/otcm_suppliers?$filter={text}")),
        400,
        "0x80060888",
        &format!("Syntax error at position 19 in '{text}'."),
    );
    assert_error(
        &h.get("/otcm_suppliers?$filter=statecode eq -x"),
        400,
        "0x80060888",
        "Syntax error: character '-' is not valid at position 13 in 'statecode eq -x'.",
    );
    // A number longer than a date is still a number.
    let r =
        h.get("/otcm_inboundinvoices?$filter=otcm_invoicetotal lt 12345678901.5&$select=otcm_name");
    assert_eq!(names(&r), ["INV-1"]);
    let r = h.get("/otcm_suppliers?$filter=statecode eq -1&$select=otcm_name");
    assert_eq!(names(&r).len(), 0);
    // Whole numbers are Edm.Int32, others Edm.Decimal; an exponent with a
    // sign, or a number too large to hold, is no literal.
    assert_error_contains(
        &h.get("/otcm_suppliers?$filter=otcm_name eq 7"),
        400,
        "0x80060888",
        "Found operand types 'Edm.String' and 'Edm.Int32'",
    );
    for literal in ["7.5", "7e2"] {
        assert_error_contains(
            &h.get(&format!("/otcm_suppliers?$filter=otcm_name eq {literal}")),
            400,
            "0x80060888",
            "Found operand types 'Edm.String' and 'Edm.Decimal'",
        );
    }
    for (literal, in_url) in [("1e+5", "1e%2B5"), ("1e999", "1e999")] {
        let text = format!("statecode eq {literal}");
        assert_error(
            &h.get(&format!("/otcm_suppliers?$filter=statecode eq {in_url}")),
            400,
            "0x80060888",
            &format!("Syntax error at position 13 in '{text}'."),
        );
    }
    // A date compares with a date or a time only.
    assert_error_contains(
        &h.get("/otcm_inboundinvoices?$filter=otcm_invoicedate eq 'abc'"),
        400,
        "0x80060888",
        "Found operand types 'Edm.Date' and 'Edm.String'",
    );
    let r = h.get(
        "/otcm_inboundinvoices?$filter=otcm_invoicedate lt 2026-03-02T00:00:00Z&$select=otcm_name",
    );
    assert_eq!(names(&r), ["INV-1"]);
    // A number compares with a number only.
    assert_error_contains(
        &h.get("/otcm_suppliers?$filter=statecode eq 'abc'"),
        400,
        "0x80060888",
        "A binary operator with incompatible types was detected.",
    );
    assert_error_contains(
        &h.get("/otcm_suppliers?$filter='abc' eq statecode"),
        400,
        "0x80060888",
        "A binary operator with incompatible types was detected.",
    );
}

#[test]
fn filter_nesting_stops_at_one_hundred_levels() {
    // The filter as a whole is the first level, each parenthesis one more:
    // 99 parentheses are 100 levels, the most there may be.
    let mut h = harness();
    let nested = |n: usize| {
        format!(
            "/otcm_suppliers?$filter={}statecode eq 1{}&$select=otcm_name",
            "(".repeat(n),
            ")".repeat(n)
        )
    };
    assert_eq!(names(&h.get(&nested(99))), ["Contoso"]);
    assert_error(
        &h.get(&nested(100)),
        400,
        "0x80060888",
        "The recursion limit has been exceeded: $filter nests deeper than 100 levels.",
    );
}

/// The names of the suppliers `filter` selects (more parameters may follow it).
fn suppliers_where(h: &mut Harness, filter: &str) -> Vec<String> {
    names(&h.get(&format!(
        "/otcm_suppliers?$filter={filter}&$select=otcm_name"
    )))
}

#[test]
fn filter_conditions_stop_at_five_hundred_and_sibling_groups_do_not_nest() {
    // dataverse.md §1.5: at most 500 conditions in one query
    let mut h = harness();
    let many = |n: usize, join: &str| {
        format!(
            "/otcm_suppliers?$filter={}&$select=otcm_name",
            vec!["(statecode eq 1)"; n].join(join)
        )
    };
    assert_eq!(names(&h.get(&many(500, " or "))), ["Contoso"]);
    assert_error(
        &h.get(&many(501, " or ")),
        400,
        "0x8004430C",
        "Number of conditions in query exceeded maximum limit.",
    );
    // 150 groups side by side are two levels deep, not 150; so are 150
    // negations side by side.
    assert_eq!(names(&h.get(&many(150, " and "))), ["Contoso"]);
    let negations = vec!["not (statecode eq 0)"; 150].join(" and ");
    assert_eq!(suppliers_where(&mut h, &negations), ["Contoso"]);
}

#[test]
fn filter_errors_point_at_the_token_and_groups_of_any_kind_stay_shallow() {
    // dataverse.md §1.5, §1.7
    let mut h = harness();
    assert_error(
        &h.get("/otcm_suppliers?$filter=statecode eq eq 1"),
        400,
        "0x80060888",
        "Expression expected at position 13 in 'statecode eq eq 1'.",
    );
    assert_error(
        &h.get("/otcm_inboundinvoices?$filter=otcm_SupplierId/1 eq 2"),
        400,
        "0x80060888",
        "Syntax error at position 16 in 'otcm_SupplierId/1 eq 2'.",
    );
    // `or` of two false conditions is false, so its negation holds.
    assert_eq!(
        suppliers_where(&mut h, "not (statecode eq 5 or statecode eq 6)").len(),
        3
    );
    // 150 aliases and 150 function calls side by side are no deeper than one.
    let aliases = vec!["statecode eq @s"; 150].join(" and ");
    assert_eq!(
        suppliers_where(&mut h, &format!("{aliases}&@s=1")),
        ["Contoso"]
    );
    let calls = vec!["contains(otcm_name,'on')"; 150].join(" and ");
    assert_eq!(suppliers_where(&mut h, &calls), ["Contoso"]);
}

#[test]
fn a_lookup_path_may_be_one_hundred_navigations_long() {
    // The same bound as nesting: 100 navigation properties, not 101.
    const PARENTS: &str = r#"
orgs:
  - name: default
    tables:
      - entity_set: otcm_nodes
        logical_name: otcm_node
        primary_id: otcm_nodeid
        primary_name: otcm_name
        lookups:
          - {navigation: otcm_ParentId, column: _otcm_parentid_value, target: otcm_nodes}
    rows:
      otcm_nodes:
        - {otcm_nodeid: a1000000-0000-0000-0000-000000000001, otcm_name: root}
        - {otcm_nodeid: a1000000-0000-0000-0000-000000000002, otcm_name: leaf, _otcm_parentid_value: a1000000-0000-0000-0000-000000000001}
"#;
    let mut h = harness_with(serde_yaml_ng::from_str(PARENTS).unwrap());
    assert_eq!(
        names(&h.get("/otcm_nodes?$filter=otcm_ParentId/otcm_name eq 'root'")),
        ["leaf"]
    );
    let path = |n: usize| format!("{}otcm_name eq 'x'", "otcm_ParentId/".repeat(n));
    assert_eq!(
        names(&h.get(&format!("/otcm_nodes?$filter={}", path(100)))).len(),
        0
    );
    let r = h.get(&format!("/otcm_nodes?$filter={}", path(101)));
    assert_eq!(r.status, 400, "{}", text(&r));
}
