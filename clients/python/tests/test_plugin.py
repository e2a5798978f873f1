"""The plugin's own tests, against a real mock-server (see README.md)."""

import json
import os
import sys

import pytest

from numora_fake import ControlError, FakeServer, VerdictsUnavailable

OUTBOX = "/v1/delivery/outbox?provider=dynamics365&limit=100"
SEED_DOC = "4be38121-3791-4856-80d5-c57dbec2cf78"
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_session_server_was_started_from_its_ready_file(numora_fake):
    assert numora_fake.url.startswith("http://127.0.0.1:")
    assert numora_fake.organization_url == numora_fake.url
    assert numora_fake.control_url == numora_fake.url + "/_mock"
    if numora_fake.process is not None:
        assert numora_fake.info["pid"] == numora_fake.process.pid


def test_each_test_gets_a_fresh_workspace_with_its_own_key(numora_workspace):
    ws = numora_workspace
    assert ws.id != "default"
    assert ws.api_key and ws.api_key != "sk_test_numora_mock_default"
    assert ws.organization_url == ws.base_url
    outbox = ws.numora("GET", OUTBOX)
    assert outbox.status == 200, outbox.text()
    ids = [item["document_id"] for item in outbox.json()["data"]]
    assert SEED_DOC in ids


def test_an_injected_numora_429_reaches_the_client_once_and_is_journaled(numora_workspace):
    ws = numora_workspace
    fault = ws.add_fault(
        {
            "api": "numora",
            "method": "GET",
            "path": "/v1/delivery/outbox",
            "times": 1,
            "respond": {"status": 429, "retry_after": 5},
        }
    )
    first = ws.numora("GET", OUTBOX)
    assert first.status == 429
    assert first.headers["retry-after"] == "5"
    assert first.json()["error"]["code"] == "rate_limited"
    assert ws.numora("GET", OUTBOX).status == 200, "times=1: the next call goes through"

    entries = ws.journal(api="numora", path="/v1/delivery/outbox")
    assert [e["status"] for e in entries] == [429, 200]
    assert entries[0]["fault"] == fault["id"]
    assert entries[1]["fault"] is None
    assert ws.journal_count(status=429) == 1
    assert [f["id"] for f in ws.faults()] == [fault["id"]]
    ws.clear_faults()
    assert ws.faults() == []


def test_faults_stay_in_their_workspace(numora_fake, numora_workspace):
    numora_workspace.add_fault({"api": "numora", "respond": {"status": 503}})
    other = numora_fake.new_workspace()
    try:
        assert numora_workspace.numora("GET", OUTBOX).status == 503
        assert other.numora("GET", OUTBOX).status == 200
    finally:
        other.delete()


def test_advancing_the_clock_runs_a_dispatch_into_dataverse_rows(numora_workspace):
    ws = numora_workspace
    ws.set_clock(mode="frozen")
    before = ws.clock()
    assert ws.dataverse_rows("otcm_inboundinvoices") == []
    suppliers = ws.dataverse_rows("otcm_suppliers")
    assert "Northwind Traders" in [row["otcm_name"] for row in suppliers]

    dispatch = ws.numora("POST", f"/v1/documents/{SEED_DOC}/dispatch", {"provider": "dynamics365"})
    assert dispatch.status == 202, dispatch.text()
    assert ws.numora("GET", f"/v1/documents/{SEED_DOC}").json()["data"]["status"] == "push_pending"

    after = ws.advance_clock(by="5s")
    assert after["now"] != before["now"]
    assert ws.numora("GET", f"/v1/documents/{SEED_DOC}").json()["data"]["status"] == "push_succeeded"
    invoices = ws.dataverse_rows("otcm_inboundinvoices")
    assert len(invoices) == 1
    assert ws.journal_count(api="dataverse", internal=True) >= 1


def test_control_errors_name_the_status_code_and_message(numora_workspace):
    with pytest.raises(ControlError) as raised:
        numora_workspace.add_fault({"api": "crm"})
    assert raised.value.status == 400
    assert "crm" in raised.value.message
    with pytest.raises(ValueError):
        numora_workspace.advance_clock()


def _reuse_an_execution_id(ws):
    """A client mistake the verdicts call an error: a new attempt under a recorded execution_id."""
    callback = {
        "provider": "dynamics365",
        "status": "failed",
        "execution_id": f"n8n-{SEED_DOC}",
        "error_code": "crm_429",
        "error_message": "Dataverse rate limited",
        "attempted_at": "2026-03-24T03:00:00.000Z",
    }
    assert ws.numora("POST", f"/v1/documents/{SEED_DOC}/delivery", callback).status == 201
    callback["attempted_at"] = "2026-03-24T03:05:00.000Z"
    assert ws.numora("POST", f"/v1/documents/{SEED_DOC}/delivery", callback).status == 409


def _verdicts_or_skip(ws):
    # The fake serves verdicts: a VerdictsUnavailable here is a failure.
    return ws.verdicts()


def test_verdicts_report_a_reused_execution_id_as_an_error(numora_workspace):
    ws = numora_workspace
    clean = _verdicts_or_skip(ws)
    assert clean["summary"]["error"] == 0
    _reuse_an_execution_id(ws)
    verdicts = ws.verdicts()
    errors = ws.findings("error")
    assert "execution_id_reused" in [f["rule"] for f in errors]
    for severity in ("error", "warning", "info"):
        counted = [f for f in verdicts["findings"] if f["severity"] == severity]
        assert verdicts["summary"][severity] == len(counted)
    finding = next(f for f in errors if f["rule"] == "execution_id_reused")
    for key in ("message", "advice", "source", "evidence"):
        assert finding[key], key
    assert finding["document_id"] == SEED_DOC


def test_fail_on_error_fails_only_the_test_that_left_an_error(numora_fake, pytester, monkeypatch):
    probe = numora_fake.new_workspace()
    try:
        _verdicts_or_skip(probe)
    finally:
        probe.delete()
    monkeypatch.setenv("NUMORA_FAKE_URL", numora_fake.url)
    monkeypatch.setenv("PYTHONPATH", PACKAGE_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    pytester.makepyfile(
        test_inner=f"""
        import pytest
        SEED_DOC = {SEED_DOC!r}

        def reuse(ws):
            body = {{"provider": "dynamics365", "status": "failed", "execution_id": "x-" + SEED_DOC,
                     "error_code": "crm_429", "attempted_at": "2026-03-24T03:00:00.000Z"}}
            assert ws.numora("POST", f"/v1/documents/{{SEED_DOC}}/delivery", body).status == 201
            body["attempted_at"] = "2026-03-24T03:05:00.000Z"
            assert ws.numora("POST", f"/v1/documents/{{SEED_DOC}}/delivery", body).status == 409

        @pytest.mark.numora_verdicts(fail_on="error")
        def test_reuses(numora_workspace):
            reuse(numora_workspace)

        @pytest.mark.numora_verdicts(fail_on="error")
        def test_clean(numora_workspace):
            assert numora_workspace.numora("GET", "/v1/schemas").status == 200

        def test_reuses_unchecked(numora_workspace):
            reuse(numora_workspace)
        """
    )
    result = pytester.runpytest_subprocess("-p", "numora_fake.plugin")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*error execution_id_reused*", "*FAILED*test_reuses*"])


def test_a_missing_binary_fails_with_how_to_fix_it(pytester, monkeypatch):
    monkeypatch.delenv("NUMORA_FAKE_URL", raising=False)
    monkeypatch.setenv("NUMORA_FAKE_BIN", "/nonexistent/mock-server")
    monkeypatch.setenv("PYTHONPATH", PACKAGE_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    pytester.makepyfile(test_inner="def test_x(numora_workspace):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "numora_fake.plugin")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*NUMORA_FAKE_BIN='/nonexistent/mock-server' is not an executable*"])


def test_a_server_that_exits_early_reports_its_output(numora_fake, tmp_path):
    if numora_fake.process is None:
        pytest.skip("attached to a running fake: no binary to start")
    binary = numora_fake.process.args[0]
    with pytest.raises(Exception) as raised:
        FakeServer.start(binary=binary, args=["--fault", "crm:GET:/x,status=500"])
    assert "exited 2 before it was ready" in str(raised.value)
    assert "unknown api" in str(raised.value)
