#!/usr/bin/env python3
"""A small Numora delivery client for `conformance sweep` (standard library only).

It reads its target from the environment the sweep sets (NUMORA_BASE_URL,
NUMORA_API_KEY) and delivers every document of the dynamics365 outbox:

  --mode executor (default): result, Dynamics session, team and supplier
      lookups (quotes doubled), the invoice row, one row per line item, and a
      delivery callback with an execution_id unique per attempt.
  --mode dispatch: POST each dispatch_url, then read the document until it
      leaves push_pending.

Done right, it never retries inside a run: a 429 or 5xx ends the document's
attempt (recorded `failed` with crm_<status> where a Dataverse write failed),
and the next scheduled run picks it up from the outbox again. That run first
looks for the invoice an earlier attempt wrote and completes it. On a
Dataverse 401 it asks for a new session once.

--bug NAME makes it wrong on purpose, for the sweep's own tests:
  reuse-execution-id  execution_id "py-<document_id>" for every attempt
  ignore-retry-after  retry a 429 at once, without waiting
  first-page-only     never follow next_cursor
  partial-success     after a failed line-item create, report succeeded
NUMORA_OUTBOX_LIMIT sets the outbox page size (default 100).
"""

import argparse
import datetime
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

BASE = os.environ["NUMORA_BASE_URL"].rstrip("/")
KEY = os.environ["NUMORA_API_KEY"]
LIMIT = os.environ.get("NUMORA_OUTBOX_LIMIT", "100")
TEAM = os.environ.get("NUMORA_OWNER_TEAM", "Accounts Payable")


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def ok(self):
        return 200 <= self.status < 300


def call(method, url, token, body=None, request_id=None):
    """One HTTP call; a dropped connection or cut body is status 0."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if request_id:
        req.add_header("x-request-id", request_id)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return Answer(r.status, dict(r.headers), r.read())
    except urllib.error.HTTPError as e:
        return Answer(e.code, dict(e.headers), e.read())
    except Exception as e:  # dropped, cut or timed out
        print(f"{method} {url}: no answer ({e})", file=sys.stderr)
        return Answer(0, {}, b"")


class Client:
    def __init__(self, bug):
        self.bug = bug

    def numora(self, method, path, body=None, rid=None):
        url = path if path.startswith("http") else BASE + path
        a = call(method, url, KEY, body, rid or "py-" + uuid.uuid4().hex[:16])
        tries = 0
        while a.status == 429 and self.bug == "ignore-retry-after" and tries < 5:
            tries += 1
            a = call(method, url, KEY, body, rid or "py-" + uuid.uuid4().hex[:16])
        return a

    def outbox(self):
        docs, cursor = [], None
        while True:
            q = {"provider": "dynamics365", "limit": LIMIT}
            if cursor:
                q["cursor"] = cursor
            a = self.numora("GET", "/v1/delivery/outbox?" + urllib.parse.urlencode(q))
            if not a.ok:
                print(f"outbox answered {a.status}; the next run polls again", file=sys.stderr)
                return docs
            docs += a.json["data"]
            cursor = a.json["meta"].get("next_cursor")
            if not cursor or self.bug == "first-page-only":
                return docs

    # -- external executor ------------------------------------------------

    def session(self):
        a = self.numora("POST", "/v1/dynamics/session", {})
        if not a.ok:
            return None
        return a.json["data"]

    def dv(self, method, path, body=None):
        url = self.sess["api_base_url"] + path
        a = call(method, url, self.sess["access_token"], body)
        if a.status == 401:
            fresh = self.session()
            if fresh:
                self.sess = fresh
                url = self.sess["api_base_url"] + path
                a = call(method, url, self.sess["access_token"], body)
        tries = 0
        while a.status == 429 and self.bug == "ignore-retry-after" and tries < 5:
            tries += 1
            a = call(method, url, self.sess["access_token"], body)
        return a

    def lookup(self, entity_set, select, column, value):
        q = urllib.parse.urlencode(
            {"$select": select, "$filter": f"{column} eq '{value.replace(chr(39), chr(39) * 2)}'", "$top": "1"},
            quote_via=urllib.parse.quote,
        )
        return self.dv("GET", f"/{entity_set}?{q}")

    def callback(self, doc_id, body):
        path = f"/v1/documents/{doc_id}/delivery"
        a = self.numora("POST", path, body, "py-delivery-" + body["execution_id"])
        if a.status == 0:
            # Lost answer: replay the same attempt (same id, same data).
            a = self.numora("POST", path, body, "py-delivery-" + body["execution_id"])
        print(f"{doc_id}: {body['status']} {body.get('error_code') or ''} -> {a.status}")

    def execute(self, doc):
        doc_id = doc["document_id"]
        r = self.numora("GET", doc["result_url"])
        if not r.ok:
            print(f"{doc_id}: result answered {r.status}; next run", file=sys.stderr)
            return
        data = r.json["data"]["data"]
        fields = {k: v.get("value") for k, v in (data.get("fields") or {}).items()}
        lines = data.get("line_items") or []
        self.sess = self.session()
        if not self.sess:
            print(f"{doc_id}: no Dynamics session; next run", file=sys.stderr)
            return
        execution_id = f"py-{doc_id}" if self.bug == "reuse-execution-id" else f"py-{doc_id}-{uuid.uuid4().hex[:12]}"
        attempt = {
            "provider": "dynamics365",
            "execution_id": execution_id,
            "attempted_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }

        def failed(step, a):
            msg = ((a.json or {}).get("error") or {}).get("message") or f"HTTP {a.status}"
            self.callback(doc_id, dict(attempt, status="failed", error_code=f"crm_{a.status}", error_message=f"{step}: {msg}"))

        team = self.lookup("teams", "teamid,name", "name", TEAM)
        if not team.ok:
            return failed("team_lookup", team)
        if not team.json["value"]:
            return self.callback(doc_id, dict(attempt, status="skipped", error_code="team_not_found",
                                              error_message=f'No team matched owner team name "{TEAM}".'))
        team_id = team.json["value"][0]["teamid"]
        vendor = str(fields.get("vendor_name") or "")
        sup = self.lookup("otcm_suppliers", "otcm_supplierid,otcm_name", "otcm_name", vendor)
        if not sup.ok:
            return failed("supplier_lookup", sup)
        if not sup.json["value"]:
            return self.callback(doc_id, dict(attempt, status="skipped", error_code="supplier_not_found",
                                              error_message=f'No supplier matched vendor_name "{vendor}".'))
        supplier_id = sup.json["value"][0]["otcm_supplierid"]

        # An earlier attempt may have written the invoice: complete it.
        found = self.lookup("otcm_inboundinvoices", "otcm_inboundinvoiceid", "otcm_numoradocumentid", doc_id)
        if not found.ok:
            return failed("invoice_lookup", found)
        done = set()
        if found.json["value"]:
            invoice_id = found.json["value"][0]["otcm_inboundinvoiceid"]
            q = urllib.parse.urlencode({"$select": "otcm_linenumber", "$filter": f"_otcm_inboundinvoiceid_value eq {invoice_id}"},
                                       quote_via=urllib.parse.quote)
            existing = self.dv("GET", f"/otcm_inboundinvoicelineitems?{q}")
            if not existing.ok:
                return failed("line_item_lookup", existing)
            done = {row.get("otcm_linenumber") for row in existing.json["value"]}
        else:
            row = {
                "otcm_name": fields.get("invoice_number"),
                "otcm_invoicenumber": fields.get("invoice_number"),
                "otcm_invoicedate": fields.get("invoice_date"),
                "otcm_duedate": fields.get("due_date"),
                "otcm_vendorname": fields.get("vendor_name"),
                "otcm_subtotal": fields.get("subtotal"),
                "otcm_taxamount": fields.get("tax_amount"),
                "otcm_invoicetotal": fields.get("invoice_total"),
                "otcm_numoradocumentid": doc_id,
                "otcm_SupplierId@odata.bind": f"/otcm_suppliers({supplier_id})",
                "ownerid@odata.bind": f"/teams({team_id})",
            }
            created = self.dv("POST", "/otcm_inboundinvoices", row)
            if not created.ok:
                return failed("invoice_create", created)
            invoice_id = created.headers.get("odata-entityid", "").rsplit("(", 1)[-1].rstrip(")")
        for n, line in enumerate(lines, start=1):
            if n in done:
                continue
            row = {
                "otcm_name": line.get("description"),
                "otcm_description": line.get("description"),
                "otcm_quantity": line.get("quantity"),
                "otcm_unitprice": line.get("unit_price"),
                "otcm_amount": line.get("amount"),
                "otcm_taxcode": line.get("tax_code"),
                "otcm_linenumber": n,
                "otcm_InboundInvoiceId@odata.bind": f"/otcm_inboundinvoices({invoice_id})",
                "ownerid@odata.bind": f"/teams({team_id})",
            }
            a = self.dv("POST", "/otcm_inboundinvoicelineitems", row)
            if not a.ok:
                if self.bug == "partial-success":
                    break
                return failed(f"line_item_create_{n}", a)
        self.callback(doc_id, dict(attempt, status="succeeded", external_record_id=invoice_id))

    # -- dispatch mode ----------------------------------------------------

    def dispatch(self, doc):
        doc_id = doc["document_id"]
        a = self.numora("POST", doc["dispatch_url"], {"provider": "dynamics365"})
        if a.status == 409:
            # Not eligible or in flight: read it, do not retry blindly.
            now = self.numora("GET", f"/v1/documents/{doc_id}")
            print(f"{doc_id}: dispatch refused; status {(now.json or {}).get('data', {}).get('status')}")
            return
        if not a.ok:
            print(f"{doc_id}: dispatch answered {a.status}; next run", file=sys.stderr)
            return
        for _ in range(30):
            d = self.numora("GET", f"/v1/documents/{doc_id}")
            status = (d.json or {}).get("data", {}).get("status") if d.ok else None
            if status and status != "push_pending":
                print(f"{doc_id}: {status}")
                return
        print(f"{doc_id}: still push_pending after 30 reads", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=["executor", "dispatch"], default="executor")
    p.add_argument("--bug", choices=["reuse-execution-id", "ignore-retry-after", "first-page-only", "partial-success"])
    args = p.parse_args()
    client = Client(args.bug)
    for doc in client.outbox():
        if args.mode == "dispatch":
            client.dispatch(doc)
        else:
            client.execute(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
