// Run the Numora / Dataverse fake (mock-server) from node tests.
//
// No dependencies: node 20's fetch, child_process and node:test only, so the
// helper adds nothing to the project under test.
//
//   import { useFake } from './index.mjs';
//   const fake = useFake({ failOnErrorVerdicts: true }); // registers node:test hooks
//   test('...', async () => { const ws = fake.workspace; ... });
//
// or by hand:
//
//   const server = await startFake();            // --port 0 --ready-file …
//   const ws = await workspace(server);          // POST /_mock/workspaces
//   await ws.addFault({ api: 'numora', times: 1, respond: { status: 429, retry_after: 5 } });
//   await server.stop();

import { spawn } from 'node:child_process';
import { existsSync, accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, afterEach, before, beforeEach } from 'node:test';

const SEVERITIES = { error: ['error'], warning: ['error', 'warning'] };

/** A control API call answered an error. */
export class ControlError extends Error {
  constructor(method, url, status, body) {
    const error = (body && body.error) || {};
    super(`${method} ${url} answered ${status} ${error.code ?? ''}: ${error.message ?? JSON.stringify(body)}`);
    this.status = status;
    this.code = error.code;
    this.body = body;
  }
}

/** The fake answered 404 to the verdicts endpoint (a build without verdicts). */
export class VerdictsUnavailable extends Error {}

/** The mock-server binary: `explicit`, else $NUMORA_FAKE_BIN, else `mock-server` on PATH. */
export function findBinary(explicit) {
  const candidate = explicit || process.env.NUMORA_FAKE_BIN;
  if (candidate) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      throw new Error(
        `NUMORA_FAKE_BIN=${candidate} is not an executable file; point it at a built mock-server ` +
          '(e.g. target/debug/mock-server) or unset it to use PATH',
      );
    }
  }
  for (const dir of (process.env.PATH || '').split(delimiter)) {
    const path = join(dir, 'mock-server');
    if (dir && existsSync(path)) return path;
  }
  throw new Error(
    'mock-server is not on PATH and NUMORA_FAKE_BIN is not set; install it with ' +
      '`cargo install --locked --path mock-server` or set NUMORA_FAKE_BIN',
  );
}

async function http(method, url, { body, headers = {} } = {}) {
  const init = { method, headers: { accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function query(filters = {}) {
  const pairs = Object.entries(filters).filter(([, v]) => v !== undefined && v !== null);
  if (pairs.length === 0) return '';
  return '?' + pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v)).replace(/%2F/g, '/').replace(/%2A/g, '*')}`).join('&');
}

async function control(controlUrl, adminToken, method, path, body, expect = [200]) {
  const url = controlUrl + path;
  const headers = adminToken ? { authorization: `Bearer ${adminToken}` } : {};
  const res = await http(method, url, { body, headers });
  if (!expect.includes(res.status)) throw new ControlError(method, url, res.status, res.json ?? res.text);
  if (res.json === undefined) return undefined;
  return res.json && typeof res.json === 'object' && 'data' in res.json ? res.json.data : res.json;
}

function formatFindings(findings) {
  return findings
    .map((f) => {
      const doc = f.document_id ? ` (document ${f.document_id})` : '';
      const advice = f.advice ? `\n    advice: ${f.advice}` : '';
      return `- ${f.severity} ${f.rule}${doc}: ${f.message}${advice}`;
    })
    .join('\n');
}

/** One isolated world on a running fake, and the helpers to script and read it. */
export class Workspace {
  constructor(fake, data) {
    this.id = data.id;
    this.baseUrl = fake.url;
    this.apiKey = data.api_key;
    this.organizationUrl = data.dataverse_organization_url || fake.organizationUrl;
    this.controlUrl = fake.controlUrl;
    this.adminToken = fake.adminToken;
    this.info = data;
  }

  #ws(method, path, body, expect) {
    return control(this.controlUrl, this.adminToken, method, `/workspaces/${encodeURIComponent(this.id)}${path}`, body, expect);
  }

  /** Calls the Numora API as a client would, with this workspace's key: `{status, headers, text, json}`. */
  numora(method, path, { body, headers = {} } = {}) {
    return http(method, this.baseUrl + path, { body, headers: { authorization: `Bearer ${this.apiKey}`, ...headers } });
  }

  /** Adds a fault rule (the control API's JSON form, see docs/scripting.md); answers it with its id. */
  addFault(rule) {
    return this.#ws('POST', '/faults', rule, [201]);
  }
  faults() {
    return this.#ws('GET', '/faults');
  }
  clearFaults() {
    return this.#ws('DELETE', '/faults', undefined, [204]);
  }

  clock() {
    return this.#ws('GET', '/clock');
  }
  setClock({ mode, tick } = {}) {
    return this.#ws('PATCH', '/clock', { mode, tick });
  }
  /** Moves virtual time `{by: '5s'}` or `{to: '2026-03-24T03:00:00.000Z'}`; due work runs. */
  advanceClock({ by, to } = {}) {
    if ((by === undefined) === (to === undefined)) {
      throw new Error("advanceClock: give exactly one of {by: '5s'} or {to: '2026-03-24T03:00:00.000Z'}");
    }
    return this.#ws('POST', '/clock/advance', by !== undefined ? { by } : { to });
  }

  /** Journal entries; filters: method, path (glob), api, status, internal. */
  journal(filters) {
    return this.#ws('GET', '/journal' + query(filters));
  }
  async journalCount(filters) {
    return (await this.#ws('GET', '/journal/count' + query(filters))).count;
  }

  dataverseRows(entitySet, { org } = {}) {
    return this.#ws('GET', `/dataverse/${entitySet}` + query({ org }));
  }
  addDataverseRow(entitySet, row) {
    return this.#ws('POST', `/dataverse/${entitySet}`, row, [200, 201]);
  }
  addDocument(document) {
    return this.#ws('POST', '/documents', document, [200, 201]);
  }
  document(id) {
    return this.#ws('GET', `/documents/${encodeURIComponent(id)}`);
  }

  /** `{findings: [...], summary: {error, warning, info}}` on what the client did. */
  async verdicts() {
    try {
      return await this.#ws('GET', '/verdicts');
    } catch (e) {
      const message = e.body?.error?.message ?? '';
      const missingWorkspace = message.includes('workspace') && message.includes('was not found');
      if (e instanceof ControlError && e.status === 404 && !missingWorkspace) {
        throw new VerdictsUnavailable(
          `this mock-server answers 404 to GET /_mock/workspaces/${this.id}/verdicts: it has no verdicts (use a newer build)`,
        );
      }
      throw e;
    }
  }
  async findings(severity) {
    const { findings = [] } = await this.verdicts();
    return severity ? findings.filter((f) => f.severity === severity) : findings;
  }
  /** Throws, listing them, when the client left findings at `level` (`error` or `warning`) or worse. */
  async assertNoFindings(level = 'error') {
    const bad = (await this.findings()).filter((f) => SEVERITIES[level].includes(f.severity));
    if (bad.length > 0) {
      throw new Error(`the client left ${bad.length} verdict finding(s) at severity ${level} or worse in workspace ${this.id}:\n${formatFindings(bad)}`);
    }
  }

  delete() {
    return this.#ws('DELETE', '', undefined, [200, 204, 404]);
  }
}

/**
 * Starts `mock-server --port 0 --ready-file PATH ...args` and waits for the
 * ready file; or, with `url` (or $NUMORA_FAKE_URL), uses a fake already running.
 * Answers `{url, apiKey, organizationUrl, controlUrl, pid, info, stop()}`.
 */
export async function startFake({ bin, args = [], url = process.env.NUMORA_FAKE_URL, timeoutMs = 30000, adminToken = process.env.NUMORA_MOCK_ADMIN_TOKEN } = {}) {
  if (url) {
    const base = url.replace(/\/+$/, '');
    const health = await control(base + '/_mock', adminToken, 'GET', '/health');
    if (health?.status !== 'ok') throw new Error(`${base}/_mock/health did not answer a fake's health`);
    const def = await control(base + '/_mock', adminToken, 'GET', '/workspaces/default');
    return { url: base, apiKey: def.api_key, organizationUrl: base, controlUrl: base + '/_mock', adminToken, pid: undefined, info: health, stop: async () => undefined };
  }
  const binary = findBinary(bin);
  const dir = mkdtempSync(join(tmpdir(), 'numora-fake-'));
  const ready = join(dir, 'ready.json');
  const command = [binary, '--port', '0', '--ready-file', ready, ...args];
  const child = spawn(binary, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  let exited = null;
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve((exited = { code, signal }))));
  child.once('error', (error) => (exited = { code: null, error }));
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(ready)) {
    if (exited) {
      if (!exited.error) await exit;
      rmSync(dir, { recursive: true, force: true });
      const why = exited.error ? exited.error.message : `exited ${exited.code ?? exited.signal}`;
      throw new Error(`\`${command.join(' ')}\` ${why} before it was ready:\n${stderr.trim()}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`\`${command.join(' ')}\` wrote no ready file within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const info = JSON.parse(readFileSync(ready, 'utf8'));
  return {
    url: info.url,
    apiKey: info.api_key,
    organizationUrl: info.organization_url,
    controlUrl: info.control_url,
    adminToken,
    pid: info.pid,
    info,
    /** SIGTERM, then SIGKILL after 10 s; answers the exit code. */
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
      return exited.code;
    },
  };
}

/** A fresh isolated world (the default world unless `fixtures` is given), with its own key. */
export async function workspace(fake, { seed, fixtures } = {}) {
  if (!fake.controlUrl) throw new Error('this fake runs with --no-control: workspaces need the control API');
  const data = await control(fake.controlUrl, fake.adminToken, 'POST', '/workspaces', { seed, fixtures }, [201]);
  return new Workspace(fake, data);
}

/**
 * Registers node:test hooks in the current file or suite: one fake for all
 * of its tests (stopped after them), a fresh workspace before each test
 * (deleted after it), and, with `failOnErrorVerdicts` (or
 * `failOn: 'warning'`), a check after each test that fails it when the
 * client left such findings. Read `.fake` and `.workspace` inside tests.
 */
export function useFake({ failOnErrorVerdicts = false, failOn = failOnErrorVerdicts ? 'error' : undefined, ...options } = {}) {
  const state = { fake: undefined, workspace: undefined };
  before(async () => {
    state.fake = await startFake(options);
  });
  beforeEach(async () => {
    state.workspace = await workspace(state.fake);
  });
  afterEach(async () => {
    const ws = state.workspace;
    state.workspace = undefined;
    if (!ws) return; // beforeEach failed: that failure is the test's
    try {
      if (failOn) await ws.assertNoFindings(failOn);
    } finally {
      await ws.delete();
    }
  });
  after(async () => {
    await state.fake?.stop();
  });
  return state;
}
