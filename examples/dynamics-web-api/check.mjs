// Runs the DynamicsWebApi npm client (v2) against the Numora fake's Dataverse
// Web API, using a session token from POST /v1/dynamics/session.
//
// Environment:
//   NUMORA_BASE_URL  e.g. http://127.0.0.1:4010 (required)
//   NUMORA_API_KEY   e.g. sk_test_numora_mock_default (required)
//
// Prints one `ok - <name>` / `not ok - <name>: <reason>` line per check, then
// `N passed, N failed`; exits 0 when nothing failed, 1 otherwise.
//
// It expects the fake's default world (5 suppliers): the read-only checks run
// before the checks that create rows, and the last check deletes those rows
// again, so it can run repeatedly against the same server.

import { DynamicsWebApi } from "dynamics-web-api";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SUPPLIERS = "otcm_suppliers";
const DEFAULT_SUPPLIER_COUNT = 5;

const baseUrl = (process.env.NUMORA_BASE_URL || "").replace(/\/+$/, "");
const apiKey = process.env.NUMORA_API_KEY || "";
if (!baseUrl || !apiKey) {
  console.error("NUMORA_BASE_URL and NUMORA_API_KEY must be set");
  process.exit(2);
}

let passed = 0;
let failed = 0;

class CheckFailure extends Error {}

function expect(condition, reason) {
  if (!condition) throw new CheckFailure(reason);
}

function describe(value) {
  return JSON.stringify(value, (key, v) => (key === "headers" ? undefined : v));
}

// A thrown client error as `status <n>: <message>` for failure reasons.
function describeError(err) {
  if (err instanceof CheckFailure) return err.message;
  const status = err && err.status !== undefined ? `status ${err.status}: ` : "";
  const message = err && err.message ? err.message : String(err);
  return `${status}${message}`;
}

async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`not ok - ${name}: ${describeError(err).replace(/\s+/g, " ")}`);
  }
}

// Runs `fn`, which must throw; returns what it threw.
async function thrown(fn, what) {
  let result;
  try {
    result = await fn();
  } catch (err) {
    return err;
  }
  throw new CheckFailure(`${what} did not throw; it returned ${describe(result)}`);
}

async function openSession() {
  const response = await fetch(`${baseUrl}/v1/dynamics/session`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${apiKey}`,
      "Content-Type": "application/json",
      Accept: "application/json",
    },
    body: "{}",
  });
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(`POST /v1/dynamics/session answered ${response.status}: ${text}`);
  }
  const data = JSON.parse(text).data || {};
  if (!data.organization_url || !data.access_token) {
    throw new Error(`session answer lacks organization_url or access_token: ${text}`);
  }
  return { organizationUrl: data.organization_url, accessToken: data.access_token };
}

let session;
try {
  session = await openSession();
} catch (err) {
  console.log(`not ok - dynamics session: ${describeError(err)}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}
console.log(`# organization ${session.organizationUrl}`);

const client = new DynamicsWebApi({
  serverUrl: session.organizationUrl,
  dataApi: { version: "9.2" },
  onTokenRefresh: () => session.accessToken,
});

await check("WhoAmI() via callFunction returns UserId", async () => {
  const who = await client.callFunction("WhoAmI");
  expect(who && GUID.test(who.UserId || ""), `UserId missing or not a GUID in ${describe(who)}`);
  expect(GUID.test(who.BusinessUnitId || ""), `BusinessUnitId missing in ${describe(who)}`);
  expect(GUID.test(who.OrganizationId || ""), `OrganizationId missing in ${describe(who)}`);
});

await check("retrieveMultiple with an escaped apostrophe in the filter finds one row", async () => {
  const result = await client.retrieveMultiple({
    collection: SUPPLIERS,
    select: ["otcm_supplierid", "otcm_name"],
    filter: "otcm_name eq 'O''Brien Office Supply'",
  });
  const rows = result.value || [];
  expect(rows.length === 1, `expected 1 row, got ${rows.length}: ${describe(rows)}`);
  expect(rows[0].otcm_name === "O'Brien Office Supply", `wrong row ${describe(rows[0])}`);
  expect(GUID.test(rows[0].otcm_supplierid || ""), `no otcm_supplierid in ${describe(rows[0])}`);
});

await check("paging with maxPageSize 2 and nextPageLink returns every supplier once", async () => {
  const request = {
    collection: SUPPLIERS,
    select: ["otcm_supplierid", "otcm_name"],
    maxPageSize: 2,
  };
  const ids = [];
  const pageSizes = [];
  let nextLink;
  do {
    const page = await client.retrieveMultiple(request, nextLink);
    const rows = page.value || [];
    expect(rows.length <= 2, `a page held ${rows.length} rows (maxPageSize 2)`);
    pageSizes.push(rows.length);
    ids.push(...rows.map((r) => r.otcm_supplierid));
    nextLink = page.oDataNextLink;
    if (nextLink) {
      expect(nextLink.startsWith(`${session.organizationUrl.replace(/\/+$/, "")}/api/data/v9.2/`),
        `nextLink is not under the organization's Web API: ${nextLink}`);
    }
    expect(pageSizes.length <= 10, "more than 10 pages: the nextLink does not advance");
  } while (nextLink);
  expect(ids.length === DEFAULT_SUPPLIER_COUNT,
    `expected ${DEFAULT_SUPPLIER_COUNT} rows, got ${ids.length} (pages ${pageSizes.join("+")})`);
  expect(new Set(ids).size === ids.length, `duplicate ids across pages: ${ids.join(", ")}`);
  expect(ids.every((id) => GUID.test(id || "")), `a row lacks its id: ${ids.join(", ")}`);
  expect(pageSizes.join("+") === "2+2+1", `unexpected page sizes ${pageSizes.join("+")}`);
});

await check("retrieveAll with maxPageSize 2 follows @odata.nextLink to the end", async () => {
  const all = await client.retrieveAll({
    collection: SUPPLIERS,
    select: ["otcm_supplierid"],
    maxPageSize: 2,
  });
  const ids = (all.value || []).map((r) => r.otcm_supplierid);
  expect(ids.length === DEFAULT_SUPPLIER_COUNT, `expected ${DEFAULT_SUPPLIER_COUNT} rows, got ${ids.length}`);
  expect(new Set(ids).size === ids.length, `duplicate ids: ${ids.join(", ")}`);
});

await check("count: $count=true and /$count", async () => {
  const withCount = await client.retrieveMultiple({
    collection: SUPPLIERS,
    select: ["otcm_supplierid"],
    count: true,
  });
  expect(withCount.oDataCount === DEFAULT_SUPPLIER_COUNT,
    `@odata.count is ${describe(withCount["@odata.count"])}, expected ${DEFAULT_SUPPLIER_COUNT}`);
  // Without a filter the client asks GET otcm_suppliers/$count (text/plain).
  const bare = await client.count({ collection: SUPPLIERS });
  expect(bare === DEFAULT_SUPPLIER_COUNT, `/$count gave ${describe(bare)}`);
  // With a filter it asks $filter=...&$count=true and reads @odata.count.
  const filtered = await client.count({ collection: SUPPLIERS, filter: "otcm_vendorcode eq 'ACME'" });
  expect(filtered === 1, `count with a filter gave ${describe(filtered)}`);
});

await check("a Dataverse error surfaces with status 400 and its message", async () => {
  const err = await thrown(
    () => client.retrieveMultiple({ collection: SUPPLIERS, filter: "otcm_nosuchcolumn eq 'x'" }),
    "a filter on an unknown column",
  );
  expect(err.status === 400, `status ${describe(err.status)}, expected 400 (${describeError(err)})`);
  expect(String(err.message).includes("Could not find a property named"),
    `message ${describe(err.message)} lacks "Could not find a property named"`);
  expect(typeof err.code === "string" && err.code.length > 0, `no error code in ${describe(err)}`);
});

const suffix = `${process.pid}-${Date.now()}`;
const INVOICES = "otcm_inboundinvoices";
let createdId;
const createdIds = [];
// Invoices are deleted before suppliers (they look the suppliers up).
const createdInvoiceIds = [];
const createdLineIds = [];

await check("create without returnRepresentation returns the new id, then retrieve", async () => {
  const name = `DWA check supplier ${suffix}`;
  createdId = await client.create({
    collection: SUPPLIERS,
    data: { otcm_name: name, otcm_vendorcode: "DWA1" },
  });
  expect(typeof createdId === "string" && GUID.test(createdId),
    `create returned ${describe(createdId)}, expected the GUID from OData-EntityId`);
  createdIds.push(createdId);
  const row = await client.retrieve({
    collection: SUPPLIERS,
    key: createdId,
    select: ["otcm_supplierid", "otcm_name", "otcm_vendorcode"],
  });
  expect(row.otcm_supplierid === createdId, `retrieved ${describe(row)}`);
  expect(row.otcm_name === name, `name is ${describe(row.otcm_name)}, expected ${describe(name)}`);
});

await check("create with returnRepresentation and select returns the row", async () => {
  const name = `DWA check supplier (repr) ${suffix}`;
  const row = await client.create({
    collection: SUPPLIERS,
    data: { otcm_name: name, otcm_vendorcode: "DWA2" },
    returnRepresentation: true,
    select: ["otcm_supplierid", "otcm_name"],
  });
  expect(row && typeof row === "object", `create returned ${describe(row)}, expected the row`);
  expect(row.otcm_name === name, `otcm_name is ${describe(row.otcm_name)}, expected ${describe(name)}`);
  expect(GUID.test(row.otcm_supplierid || ""), `no otcm_supplierid in ${describe(row)}`);
  createdIds.push(row.otcm_supplierid);
  expect(!("otcm_vendorcode" in row), `select was ignored: ${describe(row)}`);
});

await check("update (If-Match: *) changes the row", async () => {
  expect(createdId, "no row was created by the earlier check");
  const updated = await client.update({
    collection: SUPPLIERS,
    key: createdId,
    data: { otcm_vendorcode: "DWA9" },
  });
  expect(updated === true, `update returned ${describe(updated)}, expected true`);
  const row = await client.retrieve({ collection: SUPPLIERS, key: createdId, select: ["otcm_vendorcode"] });
  expect(row.otcm_vendorcode === "DWA9", `otcm_vendorcode is ${describe(row.otcm_vendorcode)} after update`);
});

await check("update of a missing id is a 404 and does not upsert", async () => {
  const missing = "00000000-0000-4000-8000-00000000d3a1";
  // DynamicsWebApi v2 sends If-Match: * on update; it returns false only on
  // 412 and rethrows anything else, so a missing row throws with status 404.
  const err = await thrown(
    () => client.update({ collection: SUPPLIERS, key: missing, data: { otcm_name: "must not exist" } }),
    "update of a missing id",
  );
  expect(err.status === 404, `status ${describe(err.status)}, expected 404 (${describeError(err)})`);
  const gone = await thrown(
    () => client.retrieve({ collection: SUPPLIERS, key: missing, select: ["otcm_name"] }),
    "retrieve after the refused update (the row was upserted)",
  );
  expect(gone.status === 404, `retrieve after update: status ${describe(gone.status)}, expected 404`);
});


await check("executeBatch: a change set creates a supplier and an invoice bound to it by $1", async () => {
  const code = `DWAB${process.pid % 10000}`;
  const invoiceNumber = `DWA-B-${suffix}`;
  client.startBatch();
  client.create({
    collection: SUPPLIERS,
    data: { otcm_name: `DWA batch supplier ${suffix}`, otcm_vendorcode: code },
    contentId: "1",
  });
  client.create({
    collection: INVOICES,
    data: { otcm_name: invoiceNumber, otcm_invoicenumber: invoiceNumber, "otcm_SupplierId@odata.bind": "$1" },
  });
  client.retrieveMultiple({
    collection: SUPPLIERS,
    select: ["otcm_supplierid", "otcm_vendorcode"],
    filter: `otcm_vendorcode eq '${code}'`,
  });
  const results = await client.executeBatch();
  expect(Array.isArray(results) && results.length === 3, `executeBatch returned ${describe(results)}`);
  const [supplierId, invoiceId, found] = results;
  expect(GUID.test(supplierId || ""), `the supplier create answered ${describe(supplierId)}`);
  expect(GUID.test(invoiceId || ""), `the invoice create answered ${describe(invoiceId)}`);
  createdIds.push(supplierId);
  createdInvoiceIds.push(invoiceId);
  const rows = (found && found.value) || [];
  expect(rows.length === 1 && rows[0].otcm_supplierid === supplierId,
    `the GET after the change set saw ${describe(rows)}`);
  const invoice = await client.retrieve({ collection: INVOICES, key: invoiceId, select: ["_otcm_supplierid_value"] });
  expect(invoice._otcm_supplierid_value === supplierId,
    `the invoice's supplier is ${describe(invoice._otcm_supplierid_value)}, expected ${supplierId}`);
});

await check("executeBatch: a change set with a failing request leaves no row behind", async () => {
  const before = await client.count({ collection: SUPPLIERS });
  client.startBatch();
  client.create({ collection: SUPPLIERS, data: { otcm_name: `DWA doomed supplier ${suffix}` }, contentId: "1" });
  client.create({ collection: INVOICES, data: { otcm_name: "doomed", otcm_nosuchcolumn: 1 } });
  let outcome;
  try {
    outcome = await client.executeBatch();
  } catch (err) {
    outcome = err;
  }
  const errors = Array.isArray(outcome) ? outcome.filter((r) => r instanceof Error || (r && r.status >= 400)) : [outcome];
  expect(errors.length === 1, `expected one error part, got ${describe(outcome)}`);
  expect(errors[0].status === 400, `the failing part has status ${describe(errors[0].status)}, expected 400`);
  const after = await client.count({ collection: SUPPLIERS });
  expect(after === before, `${after} suppliers after the failed change set, ${before} before`);
});

await check("create with deep insert: an invoice with its supplier and two line items in one POST", async () => {
  const invoiceNumber = `DWA-D-${suffix}`;
  const invoiceId = await client.create({
    collection: INVOICES,
    data: {
      otcm_name: invoiceNumber,
      otcm_invoicenumber: invoiceNumber,
      otcm_SupplierId: { otcm_name: `DWA deep supplier ${suffix}`, otcm_vendorcode: "DWAD" },
      otcm_inboundinvoice_lineitems: [
        { otcm_name: "line 1", otcm_linenumber: 1, otcm_amount: 12.5 },
        { otcm_name: "line 2", otcm_linenumber: 2, otcm_amount: 7 },
      ],
    },
  });
  expect(GUID.test(invoiceId || ""), `create answered ${describe(invoiceId)}`);
  createdInvoiceIds.push(invoiceId);
  const invoice = await client.retrieve({ collection: INVOICES, key: invoiceId, select: ["_otcm_supplierid_value"] });
  const supplierId = invoice._otcm_supplierid_value;
  expect(GUID.test(supplierId || ""), `the invoice has no supplier: ${describe(invoice)}`);
  createdIds.push(supplierId);
  const lines = await client.retrieveMultiple({
    collection: "otcm_inboundinvoicelineitems",
    select: ["otcm_inboundinvoicelineitemid", "otcm_linenumber"],
    filter: `_otcm_inboundinvoiceid_value eq ${invoiceId}`,
    orderBy: ["otcm_linenumber"],
  });
  const numbers = (lines.value || []).map((l) => l.otcm_linenumber);
  expect(numbers.join(",") === "1,2", `line numbers ${describe(numbers)}, expected 1,2`);
  createdLineIds.push(...lines.value.map((l) => l.otcm_inboundinvoicelineitemid));
});

await check("upsert by alternate key (otcm_vendorcode) creates the row, then updates it", async () => {
  const code = `DWAU${process.pid % 10000}`;
  const key = `otcm_vendorcode='${code}'`;
  const before = await client.count({ collection: SUPPLIERS });
  const first = await client.upsert({ collection: SUPPLIERS, key, data: { otcm_name: `DWA upsert ${suffix}` } });
  const created = await client.retrieve({ collection: SUPPLIERS, key, select: ["otcm_supplierid", "otcm_name"] });
  expect(GUID.test(created.otcm_supplierid || ""), `after the first upsert: ${describe(created)} (upsert gave ${describe(first)})`);
  createdIds.push(created.otcm_supplierid);
  expect(created.otcm_name === `DWA upsert ${suffix}`, `name after create ${describe(created.otcm_name)}`);
  await client.upsert({ collection: SUPPLIERS, key, data: { otcm_name: `DWA upsert again ${suffix}` } });
  const updated = await client.retrieve({ collection: SUPPLIERS, key, select: ["otcm_supplierid", "otcm_name"] });
  expect(updated.otcm_supplierid === created.otcm_supplierid, `the second upsert made another row: ${describe(updated)}`);
  expect(updated.otcm_name === `DWA upsert again ${suffix}`, `name after update ${describe(updated.otcm_name)}`);
  const after = await client.count({ collection: SUPPLIERS });
  expect(after === before + 1, `${after} suppliers after two upserts, ${before} before`);
});

await check("retrieve with includeAnnotations reads formatted values (money, date, lookup) and statecode 0", async () => {
  const invoiceNumber = `DWA-F-${suffix}`;
  const invoiceId = await client.create({
    collection: INVOICES,
    data: {
      otcm_name: invoiceNumber,
      otcm_invoicenumber: invoiceNumber,
      otcm_invoicetotal: 1234.5,
      otcm_invoicedate: "2026-03-09",
      "otcm_SupplierId@odata.bind": "otcm_suppliers(otcm_vendorcode='NWT')",
    },
  });
  createdInvoiceIds.push(invoiceId);
  const row = await client.retrieve({
    collection: INVOICES,
    key: invoiceId,
    select: ["otcm_invoicetotal", "otcm_invoicedate", "_otcm_supplierid_value"],
    includeAnnotations: "OData.Community.Display.V1.FormattedValue",
  });
  expect(row.otcm_invoicetotal_Formatted === "$1,234.50", `money formatted as ${describe(row.otcm_invoicetotal_Formatted)}`);
  expect(row.otcm_invoicedate_Formatted === "3/9/2026", `date formatted as ${describe(row.otcm_invoicedate_Formatted)}`);
  expect(row._otcm_supplierid_value_Formatted === "Northwind Traders",
    `lookup formatted as ${describe(row._otcm_supplierid_value_Formatted)}`);
  const supplier = await client.retrieve({
    collection: SUPPLIERS,
    key: createdIds[0],
    select: ["statecode"],
    includeAnnotations: "*",
  });
  expect(supplier.statecode === 0, `statecode of a created supplier is ${describe(supplier.statecode)}, expected 0`);
  expect(supplier.statecode_Formatted === "Active", `statecode formatted as ${describe(supplier.statecode_Formatted)}`);
});

await check("retrieve with expand: the deep-inserted invoice with its supplier and its line items", async () => {
  const invoiceId = createdInvoiceIds[1];
  expect(invoiceId, "the deep insert check created no invoice");
  const row = await client.retrieve({
    collection: INVOICES,
    key: invoiceId,
    select: ["otcm_invoicenumber"],
    expand: [
      { property: "otcm_SupplierId", select: ["otcm_name"] },
      { property: "otcm_inboundinvoice_lineitems", select: ["otcm_linenumber"], orderBy: ["otcm_linenumber desc"], top: 5 },
    ],
  });
  expect(row.otcm_SupplierId && row.otcm_SupplierId.otcm_name === `DWA deep supplier ${suffix}`,
    `the expanded supplier is ${describe(row.otcm_SupplierId)}`);
  const numbers = (row.otcm_inboundinvoice_lineitems || []).map((l) => l.otcm_linenumber);
  expect(numbers.join(",") === "2,1", `expanded line numbers ${describe(numbers)}, expected 2,1`);
});

// Leaves the default world as it was, so the check can run again.
await check("deleteRecord removes the created rows", async () => {
  expect(createdIds.length > 0, "no row was created by the earlier checks");
  for (const id of createdLineIds) {
    const deleted = await client.deleteRecord({ collection: "otcm_inboundinvoicelineitems", key: id });
    expect(deleted === true, `deleteRecord(line ${id}) returned ${describe(deleted)}, expected true`);
  }
  for (const id of createdInvoiceIds) {
    const deleted = await client.deleteRecord({ collection: INVOICES, key: id });
    expect(deleted === true, `deleteRecord(${INVOICES} ${id}) returned ${describe(deleted)}, expected true`);
  }
  for (const id of createdIds) {
    const deleted = await client.deleteRecord({ collection: SUPPLIERS, key: id });
    expect(deleted === true, `deleteRecord(${id}) returned ${describe(deleted)}, expected true`);
  }
  const total = await client.count({ collection: SUPPLIERS });
  expect(total === DEFAULT_SUPPLIER_COUNT, `${total} suppliers left, expected ${DEFAULT_SUPPLIER_COUNT}`);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
