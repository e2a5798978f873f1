"""Run the Numora / Dataverse fake (``mock-server``) from Python tests.

Standard library only: the HTTP calls use ``urllib`` so the plugin adds no
dependency to the project under test besides pytest itself.

``FakeServer.start()`` runs the binary with ``--port 0 --ready-file PATH`` and
waits for the ready file (written atomically once the server accepts
connections). ``FakeServer.new_workspace()`` answers a fresh, isolated copy
of the default world (``POST /_mock/workspaces``) with its own API key, and
``Workspace`` wraps the control API: faults, the virtual clock, the request
journal, Dataverse rows and verdicts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional

__all__ = [
    "ControlError",
    "FakeServer",
    "FakeStartError",
    "Response",
    "VerdictsUnavailable",
    "Workspace",
    "find_binary",
]

DEFAULT_START_TIMEOUT = 30.0


class FakeStartError(RuntimeError):
    """The fake could not be found or did not become ready."""


class ControlError(RuntimeError):
    """A control API call answered an error (status, code and message)."""

    def __init__(self, method: str, url: str, response: "Response"):
        self.status = response.status
        body = response.json_or_none() or {}
        error = body.get("error", {}) if isinstance(body, dict) else {}
        self.code = error.get("code")
        self.message = error.get("message") or response.text()
        super().__init__(f"{method} {url} answered {self.status} {self.code}: {self.message}")


class VerdictsUnavailable(RuntimeError):
    """The fake answered 404 to GET /_mock/workspaces/{ws}/verdicts (a build without verdicts)."""


@dataclass
class Response:
    """One HTTP answer: status, headers (lower-case names) and the raw body."""

    status: int
    headers: Dict[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def json_or_none(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: Optional[Mapping[str, str]] = None,
    timeout: float = 30.0,
) -> Response:
    """Sends one request and answers every status (4xx and 5xx included) as a Response."""
    data = None
    all_headers = {"accept": "application/json"}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers["content-type"] = "application/json"
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(
                answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
            )
    except urllib.error.HTTPError as answer:
        return Response(
            answer.code, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
        )


def find_binary(explicit: Optional[str] = None) -> str:
    """The mock-server binary: `explicit`, else $NUMORA_FAKE_BIN, else `mock-server` on PATH."""
    candidate = explicit or os.environ.get("NUMORA_FAKE_BIN")
    if candidate:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
        raise FakeStartError(
            f"NUMORA_FAKE_BIN={candidate!r} is not an executable file; point it at a built "
            "mock-server (e.g. target/debug/mock-server) or unset it to use PATH"
        )
    found = shutil.which("mock-server")
    if not found:
        raise FakeStartError(
            "mock-server is not on PATH and NUMORA_FAKE_BIN is not set; install it with "
            "`cargo install --locked --path mock-server` or set NUMORA_FAKE_BIN"
        )
    return found


def _query(filters: Mapping[str, Any]) -> str:
    pairs = []
    for key, value in filters.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        pairs.append((key, str(value)))
    return ("?" + urllib.parse.urlencode(pairs, safe="/*")) if pairs else ""


class _Control:
    """Calls under /_mock, with the admin token when one is set."""

    def __init__(self, control_url: str, admin_token: Optional[str]):
        self.control_url = control_url.rstrip("/")
        self.admin_token = admin_token

    def call(self, method: str, path: str, body: Any = None, expect: Iterable[int] = (200,)) -> Any:
        url = self.control_url + path
        headers = {"authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}
        response = http(method, url, body, headers)
        if response.status not in tuple(expect):
            raise ControlError(method, url, response)
        if not response.body:
            return None
        parsed = response.json()
        return parsed.get("data", parsed) if isinstance(parsed, dict) else parsed


@dataclass
class Workspace:
    """One isolated world on a running fake, and the helpers to script and read it."""

    id: str
    base_url: str
    api_key: str
    organization_url: str
    control_url: str
    admin_token: Optional[str] = None
    info: Dict[str, Any] = field(default_factory=dict)

    @property
    def _control(self) -> _Control:
        return _Control(self.control_url, self.admin_token)

    def _ws(self, method: str, path: str, body: Any = None, expect: Iterable[int] = (200,)) -> Any:
        quoted = urllib.parse.quote(self.id, safe="")
        return self._control.call(method, f"/workspaces/{quoted}{path}", body, expect)

    # -- the APIs under test -------------------------------------------------

    def numora(
        self, method: str, path: str, body: Any = None, headers: Optional[Mapping[str, str]] = None
    ) -> Response:
        """Calls the Numora API as a client would, with this workspace's key."""
        all_headers = {"authorization": f"Bearer {self.api_key}"}
        all_headers.update(headers or {})
        return http(method, self.base_url + path, body, all_headers)

    # -- faults ---------------------------------------------------------------

    def add_fault(self, rule: Mapping[str, Any]) -> Dict[str, Any]:
        """Adds a fault rule (the control API's JSON form, see docs/scripting.md); answers it with its id."""
        return self._ws("POST", "/faults", dict(rule), expect=(201,))

    def faults(self) -> List[Dict[str, Any]]:
        return self._ws("GET", "/faults")

    def clear_faults(self) -> None:
        self._ws("DELETE", "/faults", expect=(204,))

    # -- the virtual clock ------------------------------------------------------

    def clock(self) -> Dict[str, Any]:
        return self._ws("GET", "/clock")

    def set_clock(self, mode: Optional[str] = None, tick: Optional[str] = None) -> Dict[str, Any]:
        body = {k: v for k, v in {"mode": mode, "tick": tick}.items() if v is not None}
        return self._ws("PATCH", "/clock", body)

    def advance_clock(self, by: Optional[str] = None, to: Optional[str] = None) -> Dict[str, Any]:
        """Moves virtual time `by` a duration ("5s") or `to` an RFC 3339 instant; due work runs."""
        if (by is None) == (to is None):
            raise ValueError("advance_clock: give exactly one of by='5s' or to='2026-03-24T03:00:00.000Z'")
        return self._ws("POST", "/clock/advance", {"by": by} if by is not None else {"to": to})

    # -- what happened ------------------------------------------------------------

    def journal(self, **filters: Any) -> List[Dict[str, Any]]:
        """Journal entries; filters: method, path (glob), api, status, internal."""
        return self._ws("GET", "/journal" + _query(filters))

    def journal_count(self, **filters: Any) -> int:
        return self._ws("GET", "/journal/count" + _query(filters))["count"]

    def dataverse_rows(self, entity_set: str, org: Optional[str] = None) -> List[Dict[str, Any]]:
        return self._ws("GET", f"/dataverse/{entity_set}" + _query({"org": org}))

    def add_dataverse_row(self, entity_set: str, row: Mapping[str, Any]) -> Any:
        return self._ws("POST", f"/dataverse/{entity_set}", dict(row), expect=(200, 201))

    def add_document(self, document: Mapping[str, Any]) -> Dict[str, Any]:
        return self._ws("POST", "/documents", dict(document), expect=(200, 201))

    def document(self, document_id: str) -> Dict[str, Any]:
        return self._ws("GET", f"/documents/{urllib.parse.quote(document_id, safe='')}")

    # -- verdicts ---------------------------------------------------------------

    def verdicts(self) -> Dict[str, Any]:
        """`{"findings": [...], "summary": {"error", "warning", "info"}}` on what the client did."""
        try:
            return self._ws("GET", "/verdicts")
        except ControlError as e:
            missing_workspace = "workspace" in (e.message or "") and "was not found" in (e.message or "")
            if e.status == 404 and not missing_workspace:
                raise VerdictsUnavailable(
                    f"this mock-server answers 404 to GET /_mock/workspaces/{self.id}/verdicts: "
                    "it has no verdicts (use a newer build)"
                ) from e
            raise

    def findings(self, severity: Optional[str] = None) -> List[Dict[str, Any]]:
        found = self.verdicts().get("findings", [])
        return [f for f in found if severity is None or f.get("severity") == severity]

    def delete(self) -> None:
        self._ws("DELETE", "", expect=(200, 204, 404))


def format_findings(findings: Iterable[Mapping[str, Any]]) -> str:
    lines = []
    for f in findings:
        doc = f" (document {f['document_id']})" if f.get("document_id") else ""
        lines.append(f"- {f.get('severity')} {f.get('rule')}{doc}: {f.get('message')}")
        if f.get("advice"):
            lines.append(f"    advice: {f['advice']}")
    return "\n".join(lines)


class FakeServer:
    """A mock-server process (or one already running, by URL)."""

    def __init__(
        self,
        url: str,
        api_key: str,
        organization_url: str,
        control_url: Optional[str],
        process: Optional[subprocess.Popen] = None,
        workdir: Optional[str] = None,
        admin_token: Optional[str] = None,
        info: Optional[Dict[str, Any]] = None,
    ):
        self.url = url
        self.api_key = api_key
        self.organization_url = organization_url
        self.control_url = control_url
        self.process = process
        self.admin_token = admin_token
        self.info = info or {}
        self._workdir = workdir

    @classmethod
    def start(
        cls,
        binary: Optional[str] = None,
        args: Iterable[str] = (),
        timeout: float = DEFAULT_START_TIMEOUT,
        admin_token: Optional[str] = None,
    ) -> "FakeServer":
        """Starts `binary --port 0 --ready-file PATH ARGS…` and waits for the ready file."""
        binary = find_binary(binary)
        workdir = tempfile.mkdtemp(prefix="numora-fake-")
        ready = os.path.join(workdir, "ready.json")
        log_path = os.path.join(workdir, "server.log")
        command = [binary, "--port", "0", "--ready-file", ready, *args]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready):
            code = process.poll()
            if code is not None:
                output = open(log_path, "rb").read().decode("utf-8", "replace").strip()
                shutil.rmtree(workdir, ignore_errors=True)
                raise FakeStartError(f"`{' '.join(command)}` exited {code} before it was ready:\n{output}")
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                shutil.rmtree(workdir, ignore_errors=True)
                raise FakeStartError(f"`{' '.join(command)}` wrote no ready file within {timeout:g}s")
            time.sleep(0.02)
        with open(ready, encoding="utf-8") as f:
            info = json.load(f)
        return cls(
            url=info["url"],
            api_key=info["api_key"],
            organization_url=info["organization_url"],
            control_url=info.get("control_url"),
            process=process,
            workdir=workdir,
            admin_token=admin_token,
            info=info,
        )

    @classmethod
    def attach(cls, url: str, admin_token: Optional[str] = None) -> "FakeServer":
        """Uses a fake that is already running at `url` (its control API must be on)."""
        url = url.rstrip("/")
        control = _Control(url + "/_mock", admin_token)
        health = control.call("GET", "/health")
        if not isinstance(health, dict) or health.get("status") != "ok":
            raise FakeStartError(f"{url}/_mock/health did not answer a fake's health: {health!r}")
        default = control.call("GET", "/workspaces/default")
        return cls(url, default["api_key"], url, url + "/_mock", admin_token=admin_token, info=health)

    def new_workspace(self, seed: Optional[int] = None, fixtures: Any = None) -> Workspace:
        """A fresh isolated world (the default world unless `fixtures` is given), with its own key."""
        if not self.control_url:
            raise FakeStartError("this fake runs with --no-control: workspaces need the control API")
        body = {k: v for k, v in {"seed": seed, "fixtures": fixtures}.items() if v is not None}
        data = _Control(self.control_url, self.admin_token).call(
            "POST", "/workspaces", body, expect=(201,)
        )
        return Workspace(
            id=data["id"],
            base_url=self.url,
            api_key=data["api_key"],
            organization_url=data.get("dataverse_organization_url") or self.organization_url,
            control_url=self.control_url,
            admin_token=self.admin_token,
            info=data,
        )

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """SIGTERM, then SIGKILL after `timeout`; answers the exit code (None when attached)."""
        code = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            code = self.process.returncode
            self.process = None
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        return code

    def __enter__(self) -> "FakeServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
