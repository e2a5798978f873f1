"""pytest plugin: one mock-server per test session, a fresh workspace per test.

Fixtures:

- ``numora_fake`` (session): the running fake (``FakeServer``): ``url``,
  ``api_key``, ``organization_url``, ``new_workspace()``.
- ``numora_workspace`` (function): a fresh isolated world (``Workspace``):
  ``base_url``, ``api_key``, ``organization_url``, ``id`` and the control
  helpers (``add_fault``, ``advance_clock``, ``journal``, ``dataverse_rows``,
  ``verdicts``…). It is deleted after the test.

The server comes from ``--numora-fake-bin``, ``$NUMORA_FAKE_BIN`` or
``mock-server`` on PATH, and is started with ``--port 0 --ready-file …``
plus ``--numora-fake-args``. ``$NUMORA_FAKE_URL`` (or ``--numora-fake-url``)
uses a fake that is already running instead.

Verdicts: ``--numora-fail-on=error`` (or the ini option
``numora_fail_on = error``, or ``@pytest.mark.numora_verdicts(fail_on="error")``
on a test) fails a test whose workspace has findings of that severity or
worse after the test body ran. ``warning`` includes errors.
"""

from __future__ import annotations

import os
import shlex
from typing import Iterator, Optional

import pytest

from . import FakeServer, FakeStartError, VerdictsUnavailable, Workspace, format_findings

_SEVERITIES = {"error": ("error",), "warning": ("error", "warning")}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("numora-fake", "Numora / Dataverse fake (mock-server)")
    group.addoption(
        "--numora-fake-bin",
        default=None,
        help="the mock-server binary (default: $NUMORA_FAKE_BIN, then mock-server on PATH)",
    )
    group.addoption(
        "--numora-fake-args",
        default=None,
        help="extra mock-server arguments, e.g. '--seed 7 --clock frozen'",
    )
    group.addoption(
        "--numora-fake-url",
        default=None,
        help="use a fake already running at this URL (default: $NUMORA_FAKE_URL; unset starts one)",
    )
    group.addoption(
        "--numora-fail-on",
        default=None,
        choices=("error", "warning", "never"),
        help="fail a test whose workspace has verdict findings of this severity (default: never)",
    )
    parser.addini("numora_fake_args", "extra mock-server arguments", default="")
    parser.addini("numora_fail_on", "error, warning or never (see --numora-fail-on)", default="never")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        'numora_verdicts(fail_on="error"): fail this test if its numora_workspace has '
        "verdict findings of that severity (error or warning) after the test body ran",
    )


@pytest.fixture(scope="session")
def numora_fake(pytestconfig: pytest.Config) -> Iterator[FakeServer]:
    """The fake for the whole session, stopped (SIGTERM) at the end."""
    url = pytestconfig.getoption("numora_fake_url") or os.environ.get("NUMORA_FAKE_URL")
    admin_token = os.environ.get("NUMORA_MOCK_ADMIN_TOKEN")
    try:
        if url:
            server = FakeServer.attach(url, admin_token=admin_token)
        else:
            args = pytestconfig.getoption("numora_fake_args") or pytestconfig.getini("numora_fake_args")
            server = FakeServer.start(
                binary=pytestconfig.getoption("numora_fake_bin"),
                args=shlex.split(args or ""),
                admin_token=admin_token,
            )
    except FakeStartError as e:
        pytest.fail(f"numora-fake: {e}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def numora_workspace(numora_fake: FakeServer) -> Iterator[Workspace]:
    """A fresh isolated world for one test, deleted afterwards."""
    workspace = numora_fake.new_workspace()
    try:
        yield workspace
    finally:
        workspace.delete()


def _fail_on(item: pytest.Item) -> Optional[str]:
    marker = item.get_closest_marker("numora_verdicts")
    if marker is not None:
        level = marker.kwargs.get("fail_on", marker.args[0] if marker.args else "error")
    else:
        level = item.config.getoption("numora_fail_on") or item.config.getini("numora_fail_on")
    if level in (None, "", "never"):
        return None
    if level not in _SEVERITIES:
        raise pytest.UsageError(f"numora_verdicts: fail_on must be error, warning or never, not {level!r}")
    return level


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    # Runs the test body first; a body that already failed keeps its own failure.
    result = yield
    level = _fail_on(item)
    funcargs = getattr(item, "funcargs", {})
    workspace = funcargs.get("numora_workspace")
    if level is None or not isinstance(workspace, Workspace):
        return result
    try:
        findings = workspace.findings()
    except VerdictsUnavailable as e:
        pytest.fail(f"numora-fake: fail_on={level} was asked for, but {e}", pytrace=False)
    bad = [f for f in findings if f.get("severity") in _SEVERITIES[level]]
    if bad:
        pytest.fail(
            f"the client left {len(bad)} verdict finding(s) at severity {level} or worse "
            f"in workspace {workspace.id}:\n{format_findings(bad)}",
            pytrace=False,
        )
    return result
