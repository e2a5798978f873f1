//! The OpenAPI document at `/openapi.json`: it is OpenAPI 3.1, names every
//! route of the route table, and the fake's real responses validate against
//! the schema and headers it declares for each (path, method, status).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::*;

/// The route table of `numora::routes`: (method, path template), in table order.
const ROUTES: [(&str, &str); 21] = [
    ("POST", "/v1/documents"),
    ("GET", "/v1/documents/{id}"),
    ("GET", "/v1/documents/{id}/result"),
    ("POST", "/v1/documents/{id}/actions/approve"),
    ("POST", "/v1/documents/{id}/actions/reject"),
    ("POST", "/v1/documents/{id}/actions/retry-push"),
    ("POST", "/v1/documents/{id}/dispatch"),
    ("GET", "/v1/documents/{id}/delivery"),
    ("POST", "/v1/documents/{id}/delivery"),
    ("GET", "/v1/delivery/outbox"),
    ("POST", "/v1/dynamics/session"),
    ("GET", "/v1/schemas"),
    ("GET", "/v1/destinations"),
    ("POST", "/v1/destinations"),
    ("POST", "/v1/destinations/{id}/test"),
    ("GET", "/v1/mappings/{schema}/{destination}"),
    ("PUT", "/v1/mappings/{schema}/{destination}"),
    ("GET", "/v1/workflows"),
    ("POST", "/v1/workflows/{id}/dispatch"),
    ("GET", "/v1/runs/{id}"),
    ("GET", "/v1/runs/{id}/logs"),
];

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

const DESTINATION: &str = "dst_01jpx4m4j2j6x9j2k6r1m9aa0v";
const WORKFLOW: &str = "wf_01jpx8t0v5lg1sq3wy6c5c7h2x";
const FAILED_DOC: &str = "doc_01jq0b3c6d9f2g5h8j1k4m7n0p";

/// The served document plus what the checks found.
struct Spec {
    doc: Value,
    failures: Vec<String>,
    /// (METHOD, template, status) of every response checked.
    covered: BTreeSet<(String, String, u16)>,
}

/// A JSON Schema validator for `schema`, with the document's components
/// next to it so that `#/components/schemas/…` references resolve.
fn validator(doc: &Value, schema: &Value) -> Result<jsonschema::Validator, String> {
    let mut root = match schema {
        Value::Object(m) => Value::Object(m.clone()),
        other => json!({"allOf": [other]}),
    };
    root["components"] = doc["components"].clone();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| format!("invalid JSON Schema {schema}: {e}"))
}

/// Every `$ref` value anywhere in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

impl Spec {
    /// Follows a local `$ref` (repeatedly) to the object it names.
    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        while let Some(r) = value.get("$ref").and_then(Value::as_str) {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("non-local $ref {r}"));
            value = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
        }
        value
    }

    fn operation(&self, method: &str, template: &str) -> Option<&Value> {
        self.doc
            .get("paths")?
            .get(template)?
            .get(method.to_ascii_lowercase())
    }

    fn fail(&mut self, message: String) {
        self.failures.push(message);
    }

    /// Checks one real response against the response object `declared`.
    fn check_against(&mut self, label: &str, declared: &Value, res: &Res) {
        let declared = self.resolve(declared).clone();
        let mut problems = Vec::new();
        if let Some(headers) = declared.get("headers").and_then(Value::as_object) {
            for (name, header) in headers {
                let header = self.resolve(header);
                let required = header["required"].as_bool().unwrap_or(false);
                match res.header(name) {
                    None if required => problems.push(format!("missing required header {name}")),
                    None => {}
                    Some(text) => {
                        let schema = &header["schema"];
                        let value = match schema["type"].as_str() {
                            Some("integer") => match text.parse::<i64>() {
                                Ok(n) => json!(n),
                                Err(_) => {
                                    problems
                                        .push(format!("header {name}: '{text}' is not an integer"));
                                    continue;
                                }
                            },
                            _ => json!(text),
                        };
                        match validator(&self.doc, schema) {
                            Ok(v) => {
                                for e in v.iter_errors(&value) {
                                    problems.push(format!("header {name}: {e}"));
                                }
                            }
                            Err(e) => problems.push(e),
                        }
                    }
                }
            }
        }
        match declared.pointer("/content/application~1json/schema") {
            None => {
                if !res.text.is_empty() {
                    problems.push("a body was sent but none is declared".into());
                }
            }
            Some(schema) => {
                if res.header("content-type") != Some("application/json") {
                    problems.push(format!(
                        "content-type is {:?}, not application/json",
                        res.header("content-type")
                    ));
                }
                match serde_json::from_str::<Value>(&res.text) {
                    Err(e) => problems.push(format!("the body is not JSON ({e})")),
                    Ok(body) => match validator(&self.doc, schema) {
                        Err(e) => problems.push(e),
                        Ok(v) => {
                            for e in v.iter_errors(&body) {
                                let at = e.instance_path.to_string();
                                let at = if at.is_empty() { "/".to_string() } else { at };
                                problems.push(format!("body at {at}: {e}"));
                            }
                        }
                    },
                }
            }
        }
        if !problems.is_empty() {
            self.fail(format!(
                "{label}: does not match the document:\n    {}\n    body: {}",
                problems.join("\n    "),
                res.text
            ));
        }
    }

    /// Checks `res` against what the document declares for (template, method,
    /// its status), which must be declared explicitly (not only `default`).
    fn check(&mut self, method: &str, template: &str, res: &Res) {
        let label = format!("{method} {template} -> {}", res.status);
        self.covered
            .insert((method.to_string(), template.to_string(), res.status));
        let Some(op) = self.operation(method, template).cloned() else {
            return self.fail(format!("{label}: the operation is not in the document"));
        };
        let Some(declared) = op["responses"].get(res.status.to_string()).cloned() else {
            return self.fail(format!(
                "{label}: status not declared (declared: {:?}); body: {}",
                op["responses"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect::<Vec<_>>()),
                res.text
            ));
        };
        self.check_against(&label, &declared, res);
    }
}

async fn fetch_spec(app: &App) -> Spec {
    let res = app.send("GET", "/openapi.json", None, None).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.header("content-type"), Some("application/json"));
    Spec {
        doc: res.json(),
        failures: Vec::new(),
        covered: BTreeSet::new(),
    }
}

fn finish(spec: Spec) {
    assert!(
        spec.failures.is_empty(),
        "{} OpenAPI conformance failure(s):\n{}",
        spec.failures.len(),
        spec.failures.join("\n")
    );
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_names_every_route() {
    let app = app().await;
    let mut spec = fetch_spec(&app).await;
    let doc = spec.doc.clone();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "openapi must be 3.1.x, got {}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let bearer = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(
        (&bearer["type"], &bearer["scheme"]),
        (&json!("http"), &json!("bearer"))
    );
    assert_eq!(doc["security"], json!([{"bearerAuth": []}]));

    // Each route of ROUTES is routed by the fake: its concrete path answers
    // with neither a 405 nor the route-miss 404 ("no route for …"). A
    // resource 404 (an unknown id) would still prove the route exists.
    for (method, template) in ROUTES {
        let res = app
            .send(
                method,
                &concrete(template),
                Some(&app.key.clone()),
                Some("{}"),
            )
            .await;
        let miss = res.status == 405 || (res.status == 404 && res.text.contains("no route for"));
        assert!(
            !miss,
            "{method} {template} is not routed: {} {}",
            res.status, res.text
        );
    }
    let unrouted = app.get("/v1/no-such-route").await;
    assert_eq!(unrouted.status, 404, "an undeclared path is a 404");
    assert!(unrouted.text.contains("no route for"), "{}", unrouted.text);

    // Every route of the table, and nothing else.
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let mut declared = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in HTTP_METHODS {
            if item.get(method).is_some() {
                declared.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    for missing in table.difference(&declared) {
        spec.fail(format!(
            "route {} {} is not in the document",
            missing.0, missing.1
        ));
    }
    for extra in declared.difference(&table) {
        spec.fail(format!(
            "{} {} is in the document but not served",
            extra.0, extra.1
        ));
    }

    // Every operation: a unique operationId, the auth, rate-limit and scope
    // failures, a default, and a schema for every JSON response.
    let mut ids = BTreeSet::new();
    for (method, path) in &table {
        let Some(op) = spec.operation(method, path).cloned() else {
            continue;
        };
        let id = op["operationId"].as_str().unwrap_or_default().to_string();
        if id.is_empty() || !ids.insert(id.clone()) {
            spec.fail(format!(
                "{method} {path}: missing or duplicate operationId '{id}'"
            ));
        }
        for status in ["401", "403", "429", "default"] {
            if op["responses"].get(status).is_none() {
                spec.fail(format!("{method} {path}: no {status} response"));
            }
        }
        let placeholders: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_string)
            .collect();
        let item = &doc["paths"][path.as_str()];
        let params: Vec<Value> = item["parameters"]
            .as_array()
            .into_iter()
            .chain(op["parameters"].as_array())
            .flatten()
            .map(|p| spec.resolve(p).clone())
            .collect();
        let in_path: BTreeSet<String> = params
            .iter()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect();
        if in_path != placeholders {
            spec.fail(format!(
                "{method} {path}: path parameters {in_path:?} do not match {placeholders:?}"
            ));
        }
        for (status, response) in op["responses"].as_object().into_iter().flatten() {
            let response = spec.resolve(response);
            if response
                .pointer("/content/application~1json/schema")
                .is_none()
            {
                spec.fail(format!(
                    "{method} {path} {status}: no application/json schema"
                ));
            }
        }
    }

    // Every reference resolves and every component is a valid JSON Schema.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let resolves = r.strip_prefix('#').and_then(|p| doc.pointer(p)).is_some();
        if !resolves {
            spec.fail(format!("$ref {r} does not resolve"));
        }
    }
    for name in doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas")
        .keys()
    {
        if let Err(e) = validator(
            &doc,
            &json!({"$ref": format!("#/components/schemas/{name}")}),
        ) {
            spec.fail(format!("component {name}: {e}"));
        }
    }
    for name in [
        "Error",
        "Document",
        "DocumentEnvelope",
        "DispatchResponse",
        "OutboxItem",
        "OutboxPage",
        "DocumentResult",
        "ReviewState",
        "DeliveryAttempt",
        "DeliveryAttemptEnvelope",
        "DeliveryAttemptPage",
        "DeliveryCallbackRequest",
        "DynamicsSession",
        "Schema",
        "SchemaList",
        "Destination",
        "DestinationList",
        "DestinationCreateRequest",
        "DestinationTest",
        "Mapping",
        "Workflow",
        "WorkflowList",
        "WorkflowDispatchRequest",
        "WorkflowDispatchResponse",
        "Run",
        "RunEnvelope",
        "RunLogs",
        "CreateDocumentRequest",
        "CreateDocumentUpload",
        "ApproveRequest",
        "RejectRequest",
    ] {
        if doc["components"]["schemas"].get(name).is_none() {
            spec.fail(format!("component schema {name} is missing"));
        }
    }
    finish(spec);
}

#[tokio::test]
async fn the_exact_schemas_reject_drift() {
    let app = app().await;
    let spec = fetch_spec(&app).await;
    let of = |name: &str| {
        validator(
            &spec.doc,
            &json!({"$ref": format!("#/components/schemas/{name}")}),
        )
        .unwrap()
    };
    let error = of("Error");
    assert!(error
        .is_valid(&json!({"error": {"code": "conflict", "message": "m", "request_id": "req_1"}})));
    assert!(!error.is_valid(&json!({"error": {"code": "conflict", "message": "m"}})));
    assert!(!error.is_valid(
        &json!({"error": {"code": "conflict", "message": "m", "request_id": "r", "extra": 1}})
    ));
    let review = of("ReviewState");
    assert!(review.is_valid(&Value::Null));
    assert!(!review.is_valid(
        &json!({"version": 1, "confirmed_general_field_names": [], "confirmed_line_item_ids": []})
    ));
    let doc = app.get(&format!("/v1/documents/{SEED_DOC}")).await.json();
    let document = of("Document");
    assert!(document.is_valid(&doc["data"]));
    let mut drifted = doc["data"].clone();
    drifted["finalized"] = json!(true);
    assert!(
        !document.is_valid(&drifted),
        "an unknown field must be caught"
    );
    let mut drifted = doc["data"].clone();
    drifted["updated_at"] = json!("2026-03-24T02:36:37Z");
    assert!(
        !document.is_valid(&drifted),
        "timestamps carry milliseconds"
    );
    let callback = of("DeliveryCallbackRequest");
    assert!(callback.is_valid(&json!({"provider": "dynamics365", "status": "failed", "execution_id": "e", "attempted_at": "2026-03-24T03:00:00.000Z"})));
    assert!(!callback.is_valid(&json!({"provider": "dynamics365", "status": "succeeded", "execution_id": "e", "attempted_at": "2026-03-24T03:00:00.000Z"})));
}

/// A running fake, the document it serves, and the key requests use.
struct Ctx {
    app: App,
    spec: Spec,
    key: Option<String>,
}

impl Ctx {
    async fn new(app: App) -> Self {
        let spec = fetch_spec(&app).await;
        let key = Some(app.key.clone());
        Ctx { app, spec, key }
    }

    /// Sends a request with the current key, checks that it answers
    /// `expected`, then checks it against the document's declaration for
    /// (method, template, status).
    async fn go(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        body: Option<&str>,
        expected: u16,
    ) -> Res {
        let res = self.app.send(method, path, self.key.as_deref(), body).await;
        self.expect(method, template, path, res, expected)
    }

    fn expect(&mut self, method: &str, template: &str, path: &str, res: Res, expected: u16) -> Res {
        if res.status != expected {
            self.spec.fail(format!(
                "{method} {path}: expected {expected}, got {}: {}",
                res.status, res.text
            ));
        }
        self.spec.check(method, template, &res);
        res
    }

    /// Sends a multipart upload to `POST /v1/documents`.
    async fn upload(&mut self, boundary: &str, body: String, expected: u16) -> Res {
        let r = self
            .app
            .client
            .post(self.app.url("/v1/documents"))
            .bearer_auth(&self.app.key)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("request sent");
        let res = Res {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            text: r.text().await.unwrap_or_default(),
        };
        self.expect("POST", "/v1/documents", "multipart upload", res, expected)
    }
}

/// A route template filled in with ids of the default world.
fn concrete(template: &str) -> String {
    template
        .replace("{id}", SEED_DOC)
        .replace("{schema}", "invoice_v2")
        .replace("{destination}", DESTINATION)
}

fn doc(id: &str) -> String {
    format!("/v1/documents/{id}")
}

#[tokio::test]
async fn real_responses_validate_against_the_document() {
    let mut c = Ctx::new(app().await).await;

    // Catalog and configuration.
    c.go("GET", "/v1/schemas", "/v1/schemas", None, 200).await;
    c.go("GET", "/v1/workflows", "/v1/workflows", None, 200)
        .await;
    let dests = "/v1/destinations";
    c.go("GET", dests, dests, None, 200).await;
    let new = r#"{"provider":"dynamics365","display_name":"Second","credentials":{"k":"v"}}"#;
    let created = c.go("POST", dests, dests, Some(new), 201).await;
    let plain = r#"{"provider":"dynamics365","display_name":"Third","connection_id":null}"#;
    c.go("POST", dests, dests, Some(plain), 201).await;
    let no_name = r#"{"provider":"dynamics365"}"#;
    c.go("POST", dests, dests, Some(no_name), 400).await;
    let bad_provider = r#"{"provider":"sap","display_name":"x"}"#;
    c.go("POST", dests, dests, Some(bad_provider), 422).await;
    let bad_conn = r#"{"provider":"dynamics365","display_name":"x","connection_id":"conn_x"}"#;
    c.go("POST", dests, dests, Some(bad_conn), 422).await;
    c.go("GET", dests, dests, None, 200).await;

    let test = "/v1/destinations/{id}/test";
    let test_path = format!("/v1/destinations/{DESTINATION}/test");
    c.go("POST", test, &test_path, None, 200).await;
    c.go("POST", test, "/v1/destinations/dst_nope/test", None, 404)
        .await;
    let created_id = created.json()["data"]["id"]
        .as_str()
        .expect("a created destination has an id")
        .to_string();
    let path = format!("/v1/destinations/{created_id}/test");
    c.go("POST", test, &path, None, 200).await;

    let mapping = "/v1/mappings/{schema}/{destination}";
    let put = format!("/v1/mappings/invoice_v2/{DESTINATION}");
    let current = c.go("GET", mapping, &put, None, 200).await;
    let unknown_schema = format!("/v1/mappings/invoice_v9/{DESTINATION}");
    c.go("GET", mapping, &unknown_schema, None, 422).await;
    let unmapped = format!("/v1/mappings/receipt_v1/{DESTINATION}");
    c.go("GET", mapping, &unmapped, None, 404).await;
    c.go(
        "GET",
        mapping,
        "/v1/mappings/invoice_v2/dst_nope",
        None,
        404,
    )
    .await;
    let body = current.json()["data"].to_string();
    c.go("PUT", mapping, &put, Some(&body), 200).await;
    c.go("PUT", mapping, &put, Some("{}"), 400).await;
    c.go("PUT", mapping, &put, Some("{not json"), 400).await;
    let bad_path = r#"{"record":{"columns":{"x":"fields.nope.value"}}}"#;
    c.go("PUT", mapping, &put, Some(bad_path), 422).await;
    c.go("PUT", mapping, &unknown_schema, Some(&body), 422)
        .await;
    c.go("GET", mapping, &put, None, 200).await;

    // Reading documents and results.
    let one = "/v1/documents/{id}";
    for id in [SEED_DOC, REVIEW_DOC, PENDING_DOC, FAILED_DOC, RECEIPT_DOC] {
        c.go("GET", one, &doc(id), None, 200).await;
    }
    c.go("GET", one, &doc("nope"), None, 404).await;
    let result = "/v1/documents/{id}/result";
    for id in [SEED_DOC, RECEIPT_DOC, SUCCEEDED_DOC, NOT_FINAL_DOC] {
        c.go("GET", result, &format!("{}/result", doc(id)), None, 200)
            .await;
    }
    c.go("GET", result, &format!("{}/result", doc("nope")), None, 404)
        .await;
    let failed = c.app.get(&format!("{}/result", doc(FAILED_DOC))).await;
    c.spec.check("GET", result, &failed);

    // The outbox, walked page by page.
    let outbox = "/v1/delivery/outbox";
    let first = format!("{outbox}?provider=dynamics365&limit=2");
    let mut path = first.clone();
    let mut pages = 0;
    let mut ended = false;
    for _ in 0..20 {
        let page = c.go("GET", outbox, &path, None, 200).await;
        pages += 1;
        match page.json()["meta"]["next_cursor"].as_str() {
            Some(cursor) => path = format!("{first}&cursor={cursor}"),
            None => {
                ended = true;
                break;
            }
        }
    }
    assert!(ended, "the outbox walk ends with a null cursor");
    assert!(
        pages >= 3,
        "five eligible documents, two a page: {pages} pages"
    );
    c.go("GET", outbox, outbox, None, 200).await;
    for (query, status) in [
        ("provider=sap", 422),
        ("limit=0", 422),
        ("limit=101", 422),
        ("limit=ten", 400),
        ("cursor=cur_bad", 400),
        ("cursor=nope", 400),
    ] {
        c.go("GET", outbox, &format!("{outbox}?{query}"), None, status)
            .await;
    }

    // Delivery attempts.
    let list = "/v1/documents/{id}/delivery";
    let attempts = format!("{}/delivery", doc(FAILED_PUSH_DOC));
    c.go("GET", list, &attempts, None, 200).await;
    c.go(
        "GET",
        list,
        &format!("{attempts}?provider=dynamics365&limit=1"),
        None,
        200,
    )
    .await;
    let succeeded = format!("{}/delivery", doc(SUCCEEDED_DOC));
    c.go("GET", list, &succeeded, None, 200).await;
    for (query, status) in [
        ("limit=0", 422),
        ("provider=sap", 422),
        ("limit=x", 400),
        ("cursor=nope", 400),
    ] {
        c.go("GET", list, &format!("{attempts}?{query}"), None, status)
            .await;
    }
    let missing = format!("{}/delivery", doc("nope"));
    c.go("GET", list, &missing, None, 404).await;

    // The delivery callback.
    let cb = format!("{}/delivery", doc(OBRIEN_DOC));
    let ok = callback(
        "succeeded",
        "oa-1",
        r#","external_record_id":"crm-row-1","external_url":"https://org.example/r/1""#,
    );
    c.go("POST", list, &cb, Some(&ok), 201).await;
    c.go("POST", list, &cb, Some(&ok), 200).await;
    let changed = callback("failed", "oa-1", r#","error_code":"crm_429""#);
    c.go("POST", list, &cb, Some(&changed), 409).await;
    let skipped = callback("skipped", "oa-2", r#","error_code":"supplier_not_found""#);
    c.go("POST", list, &cb, Some(&skipped), 201).await;
    let nulls = callback(
        "failed",
        "oa-6",
        r#","external_record_id":null,"external_url":null,"error_code":null,"error_message":null"#,
    );
    c.go("POST", list, &cb, Some(&nulls), 201).await;
    c.go("POST", list, &cb, Some(no_name), 400).await;
    let no_record = callback("succeeded", "oa-3", "");
    c.go("POST", list, &cb, Some(&no_record), 400).await;
    c.go("POST", list, &cb, None, 400).await;
    let bad_status = callback("done", "oa-3", "");
    c.go("POST", list, &cb, Some(&bad_status), 422).await;
    let bad_time = r#"{"provider":"dynamics365","status":"failed","execution_id":"oa-4","attempted_at":"yesterday"}"#;
    c.go("POST", list, &cb, Some(bad_time), 422).await;
    let long_id = callback("failed", &"x".repeat(256), "");
    c.go("POST", list, &cb, Some(&long_id), 422).await;
    let not_final = format!("{}/delivery", doc(REVIEW_DOC));
    let failed_cb = callback("failed", "oa-5", "");
    c.go("POST", list, &not_final, Some(&failed_cb), 409).await;
    c.go("POST", list, &missing, Some(&ok), 404).await;
    c.go("GET", list, &cb, None, 200).await;
    // Three attempts now, one a page: the cursor's page is checked too.
    let paged = format!("{cb}?provider=dynamics365&limit=1");
    let page = c.go("GET", list, &paged, None, 200).await;
    let cursor = page.json()["meta"]["next_cursor"]
        .as_str()
        .expect("three attempts, one a page: a next cursor")
        .to_string();
    c.go("GET", list, &format!("{paged}&cursor={cursor}"), None, 200)
        .await;

    // The Dynamics session.
    let session = "/v1/dynamics/session";
    c.go("POST", session, session, Some("{}"), 200).await;
    c.go("POST", session, session, None, 200).await;
    let conn = r#"{"connection_id":"conn_123"}"#;
    c.go("POST", session, session, Some(conn), 200).await;
    let unknown_conn = r#"{"connection_id":"conn_nope"}"#;
    c.go("POST", session, session, Some(unknown_conn), 404)
        .await;
    let number = r#"{"connection_id":5}"#;
    c.go("POST", session, session, Some(number), 422).await;
    c.go("POST", session, session, Some("{oops"), 400).await;

    // Creating documents: JSON, idempotent replay, multipart, failures.
    let create = "/v1/documents";
    let body = r#"{"schema":"invoice_v2","file_url":"https://files.example/inv-1.pdf","external_id":"oa-ext-1","metadata":{"source":"openapi-test"}}"#;
    let fresh = c.go("POST", create, create, Some(body), 202).await;
    let fresh_id = fresh.json()["data"]["id"]
        .as_str()
        .unwrap_or("x")
        .to_string();
    let fresh_result = format!("{}/result", doc(&fresh_id));
    c.go("GET", result, &fresh_result, None, 409).await;
    c.go("POST", create, create, Some(body), 200).await;
    for (body, status) in [
        (
            r#"{"schema":"receipt_v1","file_url":"http://files.example/r"}"#,
            202,
        ),
        (
            r#"{"schema":"contract_v1","file_url":"https://f.example/c.PDF","metadata":null}"#,
            202,
        ),
        (
            r#"{"schema":"invoice_v9","file_url":"https://files.example/x.pdf"}"#,
            422,
        ),
        (
            r#"{"schema":"invoice_v2","file_url":"https://files.example/x.exe"}"#,
            422,
        ),
        (
            r#"{"schema":"invoice_v2","file_url":"ftp://files.example/x.pdf"}"#,
            422,
        ),
        (
            r#"{"schema":"invoice_v2","file_url":"https://f.example/a.pdf","metadata":[]}"#,
            422,
        ),
        (r#"{"schema":"invoice_v2"}"#, 400),
        ("[]", 400),
    ] {
        c.go("POST", create, create, Some(body), status).await;
    }
    c.go("POST", create, create, None, 400).await;
    let b = "oa-boundary";
    let multipart = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"schema\"\r\n\r\ncontract_v1\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{{\"batch\":7}}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n%PDF-1.7\r\n\
         --{b}--\r\n"
    );
    c.upload(b, multipart.clone(), 202).await;
    let exe = multipart
        .replace("c.pdf", "c.exe")
        .replace("application/pdf", "application/x-msdownload");
    c.upload(b, exe, 422).await;
    let no_file = multipart.replace("name=\"file\"", "name=\"attachment\"");
    c.upload(b, no_file, 400).await;
    c.upload(b, "garbage".into(), 400).await;
    let big = format!(
        r#"{{"schema":"invoice_v2","pad":"{}"}}"#,
        "x".repeat(1024 * 1024 + 1)
    );
    c.go("POST", create, create, Some(&big), 413).await;

    // Processing finishes; the new document has a result.
    c.app.advance("30s").await;
    c.go("GET", one, &doc(&fresh_id), None, 200).await;
    c.go("GET", result, &fresh_result, None, 200).await;

    // Approve and reject.
    let approve = "/v1/documents/{id}/actions/approve";
    let review = c.app.get(&doc(REVIEW_DOC)).await.json();
    let updated_at = review["data"]["updated_at"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let fields = c
        .app
        .get(&format!("{}/result", doc(REVIEW_DOC)))
        .await
        .json();
    let field = fields["data"]["data"]["fields"]
        .as_object()
        .and_then(|f| f.keys().next().cloned())
        .unwrap_or_default();
    let approve_path = format!("{}/actions/approve", doc(REVIEW_DOC));
    let stale = r#"{"expected_updated_at":"2020-01-01T00:00:00.000Z"}"#;
    c.go("POST", approve, &approve_path, Some(stale), 409).await;
    let not_time = r#"{"expected_updated_at":"soon"}"#;
    c.go("POST", approve, &approve_path, Some(not_time), 422)
        .await;
    c.go("POST", approve, &approve_path, Some("{}"), 400).await;
    c.go("POST", approve, &approve_path, None, 400).await;
    let unknown_field = format!(
        r#"{{"expected_updated_at":"{updated_at}","review_state":{{"version":1,"confirmed_general_field_names":["no_such_field"]}}}}"#
    );
    c.go("POST", approve, &approve_path, Some(&unknown_field), 422)
        .await;
    let extra_key = format!(
        r#"{{"expected_updated_at":"{updated_at}","review_state":{{"version":1,"extra":true}}}}"#
    );
    c.go("POST", approve, &approve_path, Some(&extra_key), 422)
        .await;
    let approval = format!(
        r#"{{"expected_updated_at":"{updated_at}","review_state":{{"version":1,"confirmed_general_field_names":["{field}"],"confirmed_line_item_ids":[]}}}}"#
    );
    c.go("POST", approve, &approve_path, Some(&approval), 200)
        .await;
    c.go("POST", approve, &approve_path, Some(&approval), 409)
        .await;
    let nope = format!("{}/actions/approve", doc("nope"));
    c.go("POST", approve, &nope, Some(&approval), 404).await;

    let reject = "/v1/documents/{id}/actions/reject";
    let reject_path = |id: &str| format!("{}/actions/reject", doc(id));
    let reason = r#"{"reason":"wrong vendor"}"#;
    c.go(
        "POST",
        reject,
        &reject_path(NOT_FINAL_DOC),
        Some(reason),
        200,
    )
    .await;
    c.go("POST", reject, &reject_path(PENDING_DOC), None, 409)
        .await;
    let number_reason = r#"{"reason":5}"#;
    c.go(
        "POST",
        reject,
        &reject_path(PENDING_DOC),
        Some(number_reason),
        422,
    )
    .await;
    c.go("POST", reject, &reject_path(PENDING_DOC), Some("{x"), 400)
        .await;
    c.go("POST", reject, &reject_path("nope"), None, 404).await;

    // Dispatch, retry-push, workflow dispatch, runs.
    let dispatch = "/v1/documents/{id}/dispatch";
    let dispatch_path = |id: &str| format!("{}/dispatch", doc(id));
    let provider = r#"{"provider":"dynamics365"}"#;
    let queued = c
        .go(
            "POST",
            dispatch,
            &dispatch_path(SEED_DOC),
            Some(provider),
            202,
        )
        .await;
    c.go("POST", dispatch, &dispatch_path(SEED_DOC), None, 409)
        .await;
    c.go("POST", dispatch, &dispatch_path(RECEIPT_DOC), None, 409)
        .await;
    let sap = r#"{"provider":"sap"}"#;
    c.go("POST", dispatch, &dispatch_path(ACME_DOC), Some(sap), 422)
        .await;
    c.go("POST", dispatch, &dispatch_path(ACME_DOC), Some("[1]"), 400)
        .await;
    c.go("POST", dispatch, &dispatch_path("nope"), None, 404)
        .await;

    let retry = "/v1/documents/{id}/actions/retry-push";
    let retry_path = |id: &str| format!("{}/actions/retry-push", doc(id));
    let retried = c
        .go("POST", retry, &retry_path(FAILED_PUSH_DOC), Some("{}"), 202)
        .await;
    c.go("POST", retry, &retry_path(SUCCEEDED_DOC), None, 409)
        .await;
    let number_provider = r#"{"provider":1}"#;
    c.go(
        "POST",
        retry,
        &retry_path(SUCCEEDED_DOC),
        Some(number_provider),
        422,
    )
    .await;
    c.go("POST", retry, &retry_path(SUCCEEDED_DOC), Some("{"), 400)
        .await;
    c.go("POST", retry, &retry_path("nope"), None, 404).await;

    let wf = "/v1/workflows/{id}/dispatch";
    let wf_path = format!("/v1/workflows/{WORKFLOW}/dispatch");
    let acme = format!(r#"{{"document_id":"{ACME_DOC}","execution_mode":"queued"}}"#);
    let wf_run = c.go("POST", wf, &wf_path, Some(&acme), 202).await;
    c.go("POST", wf, &wf_path, Some(&acme), 409).await;
    let receipt = format!(r#"{{"document_id":"{RECEIPT_DOC}"}}"#);
    c.go("POST", wf, &wf_path, Some(&receipt), 409).await;
    let mode = r#"{"document_id":"x","execution_mode":"now"}"#;
    c.go("POST", wf, &wf_path, Some(mode), 422).await;
    let unknown_doc = r#"{"document_id":"nope"}"#;
    c.go("POST", wf, &wf_path, Some(unknown_doc), 404).await;
    c.go("POST", wf, &wf_path, Some("{}"), 400).await;
    c.go(
        "POST",
        wf,
        "/v1/workflows/wf_nope/dispatch",
        Some(&acme),
        404,
    )
    .await;

    let run = "/v1/runs/{id}";
    let logs = "/v1/runs/{id}/logs";
    let run_ids: Vec<String> = [
        queued.json()["meta"]["run_id"].as_str().map(str::to_string),
        retried.json()["meta"]["run_id"]
            .as_str()
            .map(str::to_string),
        wf_run.json()["data"]["run_id"].as_str().map(str::to_string),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(run_ids.len(), 3, "every push names its run");
    for advance in [None, Some("60s")] {
        if let Some(by) = advance {
            c.app.advance(by).await;
        }
        for id in &run_ids {
            c.go("GET", run, &format!("/v1/runs/{id}"), None, 200).await;
            c.go("GET", logs, &format!("/v1/runs/{id}/logs"), None, 200)
                .await;
        }
    }
    c.go("GET", run, "/v1/runs/run_nope", None, 404).await;
    c.go("GET", logs, "/v1/runs/run_nope/logs", None, 404).await;
    for id in [SEED_DOC, ACME_DOC, FAILED_PUSH_DOC] {
        c.go("GET", one, &doc(id), None, 200).await;
        c.go("GET", list, &format!("{}/delivery", doc(id)), None, 200)
            .await;
    }

    // The session and the destination test with the connection inactive.
    let inactive = r#"{"status":"inactive"}"#;
    let r = c
        .app
        .control("PATCH", "/connections/conn_123", Some(inactive))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    c.go("POST", session, session, Some("{}"), 409).await;
    c.go("POST", session, session, Some(conn), 409).await;
    c.go("POST", test, &test_path, None, 200).await;

    // Unknown paths (404) and wrong methods (405 with Allow) are answered
    // with the document's shared responses.
    let not_found = c.app.get("/v1/nothing-here").await;
    if not_found.status != 404 {
        c.spec
            .fail(format!("GET /v1/nothing-here: {}", not_found.status));
    }
    let shared = json!({"$ref": "#/components/responses/NotFound"});
    c.spec
        .check_against("GET /v1/nothing-here", &shared, &not_found);
    let shared = json!({"$ref": "#/components/responses/MethodNotAllowed"});
    for (_, template) in ROUTES {
        let path = concrete(template);
        let declared: Vec<String> = HTTP_METHODS
            .iter()
            .filter(|m| c.spec.doc["paths"][template].get(**m).is_some())
            .map(|m| m.to_ascii_uppercase())
            .collect();
        let declared = declared.join(", ");
        let res = c.app.send("DELETE", &path, c.key.as_deref(), None).await;
        if res.status != 405 || res.header("allow") != Some(declared.as_str()) {
            c.spec.fail(format!(
                "DELETE {path}: expected 405 with Allow '{declared}', got {} with {:?}",
                res.status,
                res.header("allow")
            ));
        }
        c.spec
            .check_against(&format!("DELETE {template}"), &shared, &res);
    }

    // Missing and unknown keys on every route; keys without the scope.
    for (method, template) in ROUTES {
        let path = concrete(template);
        let body = (method != "GET").then_some("{}");
        for key in [None, Some("sk_wrong".to_string())] {
            c.key = key;
            c.go(method, template, &path, body, 401).await;
        }
        if method != "GET" {
            c.key = Some(READONLY_KEY.to_string());
            c.go(method, template, &path, body, 403).await;
        }
    }

    // A revoked key: 401 after the key lookup, with its key's rate-limit
    // headers (docs/behaviour.md: only a missing or unknown key has none).
    let revoke = r#"{"revoked":true}"#;
    let r = c
        .app
        .control("PATCH", &format!("/keys/{READONLY_KEY}"), Some(revoke))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    c.key = Some(READONLY_KEY.to_string());
    let revoked = c.go("GET", "/v1/schemas", "/v1/schemas", None, 401).await;
    if revoked.header("x-rate-limit-limit").is_none() {
        c.spec
            .fail("a revoked key's 401 lacks x-rate-limit-limit".into());
    }

    // Every route answered at least one success.
    for (method, template) in ROUTES {
        let success = c
            .spec
            .covered
            .iter()
            .any(|(m, t, st)| m == method && t == template && (200..300).contains(st));
        if !success {
            c.spec.fail(format!(
                "{method} {template}: no success response was checked"
            ));
        }
    }
    finish(c.spec);
}

#[tokio::test]
async fn rate_limited_responses_match_the_document() {
    let yaml = mock_server::fixtures::DEFAULT_WORLD.replace("rate_limit: 600", "rate_limit: 2");
    let mut c = Ctx::new(app_yaml(&yaml).await).await;
    let mut limited = 0;
    for (method, template) in ROUTES {
        let path = concrete(template);
        let body = (method != "GET").then_some("{}");
        let res = c.app.send(method, &path, c.key.as_deref(), body).await;
        if res.status == 429 {
            limited += 1;
            c.spec.check(method, template, &res);
        }
    }
    assert!(
        limited >= ROUTES.len() - 2,
        "only {limited} routes were rate limited"
    );
    finish(c.spec);
}
