// The helper's own tests, against a real mock-server (see README.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { ControlError, VerdictsUnavailable, startFake, useFake, workspace } from '../index.mjs';

const OUTBOX = '/v1/delivery/outbox?provider=dynamics365&limit=100';
const SEED_DOC = '4be38121-3791-4856-80d5-c57dbec2cf78';
const INDEX = new URL('../index.mjs', import.meta.url).href;

const fake = useFake();

test('the fake was started from its ready file', () => {
  assert.match(fake.fake.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(fake.fake.organizationUrl, fake.fake.url);
  assert.equal(fake.fake.controlUrl, `${fake.fake.url}/_mock`);
  if (!process.env.NUMORA_FAKE_URL) assert.equal(typeof fake.fake.pid, 'number');
});

test('each test gets a fresh workspace with its own key', async () => {
  const ws = fake.workspace;
  assert.notEqual(ws.id, 'default');
  assert.notEqual(ws.apiKey, 'sk_test_numora_mock_default');
  const outbox = await ws.numora('GET', OUTBOX);
  assert.equal(outbox.status, 200, outbox.text);
  assert.ok(outbox.json.data.some((item) => item.document_id === SEED_DOC));
});

test('an injected Numora 429 reaches the client once and is journaled', async () => {
  const ws = fake.workspace;
  const fault = await ws.addFault({ api: 'numora', method: 'GET', path: '/v1/delivery/outbox', times: 1, respond: { status: 429, retry_after: 5 } });
  const first = await ws.numora('GET', OUTBOX);
  assert.equal(first.status, 429);
  assert.equal(first.headers.get('retry-after'), '5');
  assert.equal(first.json.error.code, 'rate_limited');
  assert.equal((await ws.numora('GET', OUTBOX)).status, 200, 'times=1: the next call goes through');

  const entries = await ws.journal({ api: 'numora', path: '/v1/delivery/outbox' });
  assert.deepEqual(entries.map((e) => e.status), [429, 200]);
  assert.equal(entries[0].fault, fault.id);
  assert.equal(await ws.journalCount({ status: 429 }), 1);
  await ws.clearFaults();
  assert.deepEqual(await ws.faults(), []);
});

test('faults stay in their workspace', async () => {
  await fake.workspace.addFault({ api: 'numora', respond: { status: 503 } });
  const other = await workspace(fake.fake);
  try {
    assert.equal((await fake.workspace.numora('GET', OUTBOX)).status, 503);
    assert.equal((await other.numora('GET', OUTBOX)).status, 200);
  } finally {
    await other.delete();
  }
});

test('advancing the clock runs a dispatch into Dataverse rows', async () => {
  const ws = fake.workspace;
  await ws.setClock({ mode: 'frozen' });
  const before = await ws.clock();
  assert.deepEqual(await ws.dataverseRows('otcm_inboundinvoices'), []);
  const dispatch = await ws.numora('POST', `/v1/documents/${SEED_DOC}/dispatch`, { body: { provider: 'dynamics365' } });
  assert.equal(dispatch.status, 202, dispatch.text);
  const after = await ws.advanceClock({ by: '5s' });
  assert.notEqual(after.now, before.now);
  const doc = await ws.numora('GET', `/v1/documents/${SEED_DOC}`);
  assert.equal(doc.json.data.status, 'push_succeeded');
  assert.equal((await ws.dataverseRows('otcm_inboundinvoices')).length, 1);
});

test('control errors carry the status, code and message', async () => {
  await assert.rejects(fake.workspace.addFault({ api: 'crm' }), (e) => e instanceof ControlError && e.status === 400 && e.message.includes('crm'));
  assert.throws(() => fake.workspace.advanceClock({}), /exactly one of/);
});

async function reuseExecutionId(ws) {
  const body = { provider: 'dynamics365', status: 'failed', execution_id: `n8n-${SEED_DOC}`, error_code: 'crm_429', attempted_at: '2026-03-24T03:00:00.000Z' };
  assert.equal((await ws.numora('POST', `/v1/documents/${SEED_DOC}/delivery`, { body })).status, 201);
  body.attempted_at = '2026-03-24T03:05:00.000Z';
  assert.equal((await ws.numora('POST', `/v1/documents/${SEED_DOC}/delivery`, { body })).status, 409);
}

// The fake serves verdicts: a VerdictsUnavailable here is a failure.
async function verdictsOrSkip(_t, ws) {
  return ws.verdicts();
}

test('verdicts report a reused execution_id as an error', async (t) => {
  const ws = fake.workspace;
  const clean = await verdictsOrSkip(t, ws);
  if (!clean) return;
  assert.equal(clean.summary.error, 0);
  await reuseExecutionId(ws);
  const verdicts = await ws.verdicts();
  for (const severity of ['error', 'warning', 'info']) {
    assert.equal(verdicts.summary[severity], verdicts.findings.filter((f) => f.severity === severity).length);
  }
  const finding = (await ws.findings('error')).find((f) => f.rule === 'execution_id_reused');
  assert.ok(finding, JSON.stringify(verdicts.findings));
  assert.equal(finding.document_id, SEED_DOC);
  await assert.rejects(ws.assertNoFindings('error'), /execution_id_reused/);
});

test('failOnErrorVerdicts fails only the test that left an error', async (t) => {
  if (!(await verdictsOrSkip(t, fake.workspace))) return;
  const dir = mkdtempSync(join(tmpdir(), 'numora-node-inner-'));
  try {
    const file = join(dir, 'inner.test.mjs');
    writeFileSync(
      file,
      `import { test } from 'node:test';
import { useFake } from ${JSON.stringify(INDEX)};
const fake = useFake({ failOnErrorVerdicts: true });
const doc = ${JSON.stringify(SEED_DOC)};
test('reuses', async () => {
  const body = { provider: 'dynamics365', status: 'failed', execution_id: 'x-' + doc, error_code: 'crm_429', attempted_at: '2026-03-24T03:00:00.000Z' };
  await fake.workspace.numora('POST', '/v1/documents/' + doc + '/delivery', { body });
  body.attempted_at = '2026-03-24T03:05:00.000Z';
  await fake.workspace.numora('POST', '/v1/documents/' + doc + '/delivery', { body });
});
test('clean', async () => {
  await fake.workspace.numora('GET', '/v1/schemas');
});
`,
    );
    // NODE_TEST_CONTEXT would make the inner runner report to this one.
    const { NODE_TEST_CONTEXT, ...env } = process.env;
    const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], {
      env: { ...env, NUMORA_FAKE_URL: fake.fake.url },
      encoding: 'utf8',
    });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /# pass 1/);
    assert.match(run.stdout, /# fail 1/);
    assert.match(run.stdout, /execution_id_reused/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing binary fails with how to fix it', async () => {
  const saved = process.env.NUMORA_FAKE_URL;
  delete process.env.NUMORA_FAKE_URL;
  try {
    await assert.rejects(startFake({ bin: '/nonexistent/mock-server' }), /NUMORA_FAKE_BIN=\/nonexistent\/mock-server is not an executable/);
  } finally {
    if (saved !== undefined) process.env.NUMORA_FAKE_URL = saved;
  }
});

test('a server that exits early reports its output', async (t) => {
  if (process.env.NUMORA_FAKE_URL) return t.skip('attached to a running fake: no binary to start');
  await assert.rejects(startFake({ args: ['--fault', 'crm:GET:/x,status=500'] }), (e) => /exited 2 before it was ready/.test(e.message) && /unknown api/.test(e.message));
});
