// The Numora mock inspector. It only reads the control API (/_mock), which
// never moves a workspace's clock, except for the clock view's explicit
// "Advance" control. No framework: small DOM helpers and one poll loop.

const BASE = '/_mock';
const POLL_MS = 1000;

const VIEWS = [
  ['workspaces', 'Workspaces'],
  ['documents', 'Documents'],
  ['journal', 'Journal'],
  ['dataverse', 'Dataverse'],
  ['webhooks', 'Webhooks'],
  ['verdicts', 'Verdicts'],
  ['faults', 'Faults'],
  ['clock', 'Clock'],
];

const app = {
  ws: 'default',
  route: null,
  signature: null,
  busy: false,
  generation: 0,
  journalFilter: '',
  journalInternal: true,
  signedInByCookie: false,
};

// ---------------------------------------------------------------- helpers

/** Creates an element: attributes (on* become listeners), then children. */
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

function announce(text) {
  const el = document.getElementById('announce');
  el.textContent = '';
  el.textContent = text;
}

class NeedLogin extends Error {}
class ApiError extends Error {
  constructor(res, path) {
    const msg = res.json && res.json.error ? res.json.error.message : res.text;
    super(`${path} answered ${res.status}: ${msg}`);
    this.status = res.status;
  }
}

async function call(path, { method = 'GET', body } = {}) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(BASE + path, init);
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  const out = { status: res.status, ok: res.ok, json, text };
  if (res.status === 401 && !path.startsWith('/ui/')) throw new NeedLogin();
  return out;
}

async function data(path) {
  const res = await call(path);
  if (!res.ok) throw new ApiError(res, path);
  return res.json ? res.json.data : null;
}

/** The whole JSON body (for answers without the `data` envelope, e.g. the state dump). */
async function whole(path) {
  const res = await call(path);
  if (!res.ok) throw new ApiError(res, path);
  return res.json;
}

/** Like `data`, but a 404 or 405 (an endpoint this server lacks) is null. */
async function optional(path) {
  const res = await call(path);
  if (res.status === 404 || res.status === 405) return null;
  if (!res.ok) throw new ApiError(res, path);
  return res.json ? res.json.data : null;
}

const enc = encodeURIComponent;
const wsPath = (rest = '') => `/workspaces/${enc(app.ws)}${rest}`;
const link = (view, arg, query) =>
  `#/ws/${enc(app.ws)}/${view}${arg !== undefined && arg !== null ? '/' + enc(arg) : ''}${query ? '?' + new URLSearchParams(query) : ''}`;

function clockTime(at) {
  if (!at) return '';
  const m = /T(\d\d:\d\d:\d\d(?:\.\d+)?)/.exec(at);
  return m ? m[1] : at;
}

function wallText(entry) {
  const w = entry.wall_ms;
  const ms = w && typeof w === 'object' ? w.received : (typeof w === 'number' ? w : null);
  if (ms === null || ms === undefined) return '';
  return ms >= 10000 ? `+${(ms / 1000).toFixed(1)} s` : `+${ms} ms`;
}

function statusClass(status) {
  if (!status) return 'st st-none';
  return `st st-${Math.floor(status / 100)}xx`;
}

function badge(text, cls, title) {
  return h('span', { class: `badge ${cls || ''}`, title }, text);
}

function docStatusBadge(status) {
  const tone = /failed|error/.test(status) ? 'bad'
    : /succeeded|delivered|reviewed/.test(status) ? 'good'
    : /pending|processing|review_required/.test(status) ? 'warn' : 'neutral';
  return badge(status, tone);
}

function pretty(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') {
    try { return JSON.stringify(JSON.parse(value), null, 2); } catch { return value; }
  }
  return JSON.stringify(value, null, 2);
}

function table(caption, columns, rows, opts = {}) {
  return h('div', { class: 'table-wrap', tabindex: opts.scrollable === false ? null : '0', role: 'region', 'aria-label': caption },
    h('table', { class: opts.class || '' },
      h('caption', { class: opts.showCaption ? '' : 'sr-only' }, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.length
        ? rows.map((r) => h('tr', r.attrs || {}, r.cells.map((c) => h('td', {}, c))))
        : h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, opts.empty || 'Nothing yet.')))));
}

function section(title, ...kids) {
  return h('section', { class: 'card' }, h('h2', {}, title), kids);
}

function notAvailable(what, path) {
  return h('p', { class: 'notice' }, `${what} is not available on this server: GET ${BASE}${path} answered 404. `,
    'A newer mock-server serves it.');
}

// ---------------------------------------------------------------- routing

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const pathPart = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'ws' && parts[1]) {
    return { ws: parts[1], view: parts[2] || 'journal', arg: parts[3], query };
  }
  if (parts[0] === 'workspaces') return { ws: app.ws, view: 'workspaces', query };
  return null;
}

function renderTabs() {
  const ul = document.getElementById('tabs');
  ul.replaceChildren(...VIEWS.map(([id, label]) => {
    const current = app.route && app.route.view === id;
    return h('li', {}, h('a', { href: id === 'workspaces' ? '#/workspaces' : link(id), 'aria-current': current ? 'page' : null, id: `tab-${id}` }, label));
  }));
}

async function navigate() {
  const route = parseHash();
  if (!route) {
    location.replace(`#/ws/${enc(app.ws)}/journal`);
    return;
  }
  const wsChanged = route.ws !== app.ws;
  app.ws = route.ws;
  app.route = route;
  app.signature = null;
  app.clockMessage = '';
  app.generation += 1;
  renderTabs();
  const select = document.getElementById('ws-select');
  if (wsChanged || select.value !== app.ws) await loadWorkspaces();
  const title = (VIEWS.find(([id]) => id === route.view) || [null, 'Not found'])[1];
  document.title = `${title} · ${app.ws} · Numora mock inspector`;
  await refresh(true);
}

// ---------------------------------------------------------------- views

const views = {
  workspaces: {
    load: () => data('/workspaces'),
    render(list) {
      return [
        h('h2', { class: 'view-title' }, 'Workspaces'),
        table('Workspaces', ['Workspace', 'Seed', 'Virtual time', 'API key', 'Base URL'],
          list.map((w) => ({
            cells: [
              h('a', { href: `#/ws/${enc(w.id)}/documents` }, w.id),
              w.seed === null || w.seed === undefined ? '' : String(w.seed),
              h('time', { datetime: w.now }, w.now),
              h('code', {}, w.api_key || '(none)'),
              h('code', {}, w.numora_base_url),
            ],
          })), { showCaption: false }),
      ];
    },
  },

  documents: {
    async load(route) {
      if (route.arg) return loadDocument(route.arg);
      return { list: await data(wsPath('/documents')) };
    },
    render(d, route) {
      if (route.arg) return renderDocument(d);
      return [
        h('h2', { class: 'view-title' }, 'Documents'),
        table('Documents', ['Document', 'Schema', 'Status', 'Finalized', 'Attempts', 'Updated'],
          d.list.map((doc) => ({
            cells: [
              h('a', { href: link('documents', doc.id), class: 'mono' }, doc.id),
              doc.schema,
              docStatusBadge(doc.status),
              doc.finalized ? 'yes' : 'no',
              String((doc.attempts || []).length),
              h('time', { datetime: doc.updated_at }, doc.updated_at),
            ],
          }))),
      ];
    },
  },

  journal: {
    // A poll asks for the count first and reads the whole journal only when
    // it changed (and every fifth poll, for a journal at its cap).
    async load(route, poll) {
      if (poll && app.lastJournal) {
        const { count } = await data(wsPath('/journal/count'));
        app.journalPolls = (app.journalPolls || 0) + 1;
        if (count === app.lastJournal.length && app.journalPolls % 5 !== 0) return app.lastJournal;
      }
      return data(wsPath('/journal'));
    },
    render(entries, route) {
      const list = h('ol', { class: 'journal', id: 'journal-list', 'aria-label': 'Journal entries, newest first', onkeydown: journalKeys });
      const count = h('p', { class: 'muted', id: 'journal-count' });
      const filter = h('input', {
        id: 'journal-filter', type: 'search', value: app.journalFilter,
        placeholder: 'method, path, status, fault, api…', 'aria-describedby': 'journal-count',
        oninput: (e) => { app.journalFilter = e.target.value; applyJournalFilter(); },
      });
      const internal = h('input', {
        id: 'journal-internal', type: 'checkbox', checked: app.journalInternal,
        onchange: (e) => { app.journalInternal = e.target.checked; applyJournalFilter(); },
      });
      const view = [
        h('h2', { class: 'view-title' }, 'Journal'),
        h('div', { class: 'toolbar' },
          h('div', { class: 'field' }, h('label', { for: 'journal-filter' }, 'Filter'), filter),
          h('div', { class: 'check' }, internal, h('label', { for: 'journal-internal' }, 'Show the fake\'s own calls')),
          count),
        list,
      ];
      patchJournal(list, entries);
      return view;
    },
    mounted(route) {
      applyJournalFilter();
      if (route.arg !== undefined) openEntry(route.arg);
    },
    patch(entries) {
      const list = document.getElementById('journal-list');
      if (!list) return false;
      patchJournal(list, entries);
      return true;
    },
  },

  dataverse: {
    load: loadDataverse,
    render: renderDataverse,
  },

  webhooks: {
    async load() {
      const [endpoints, deliveries, events] = await Promise.all([
        data(wsPath('/webhooks')), data(wsPath('/webhooks/deliveries')), data(wsPath('/events'))]);
      return { endpoints, deliveries, events };
    },
    render(d) {
      return [
        h('h2', { class: 'view-title' }, 'Webhooks'),
        section('Endpoints', table('Webhook endpoints', ['Endpoint', 'URL', 'Events', 'Signed'],
          d.endpoints.map((e) => ({ cells: [h('code', {}, e.id), h('code', {}, e.url), (e.events || []).join(', ') || 'all', e.has_secret ? 'yes' : 'no'] })),
          { empty: 'No endpoint registered (POST /_mock/workspaces/{ws}/webhooks).' })),
        section('Deliveries', deliveriesTable(d.deliveries)),
        section('Events emitted', table('Events', ['Event', 'Type', 'Document', 'Created'],
          d.events.map((e) => ({ cells: [h('code', {}, e.id), e.type, docLink(e.data && e.data.document_id), e.created_at] })))),
      ];
    },
  },

  verdicts: {
    async load() {
      return { verdicts: await optional(wsPath('/verdicts')) };
    },
    render(d) {
      const title = h('h2', { class: 'view-title' }, 'Verdicts');
      if (!d.verdicts) return [title, notAvailable('Judging the client (verdicts)', wsPath('/verdicts'))];
      const findings = d.verdicts.findings || [];
      const summary = d.verdicts.summary || {};
      return [
        title,
        h('p', { class: 'summary' }, ['error', 'warning', 'info'].map((s) => badge(`${summary[s] || 0} ${s}`, `sev-${s}`))),
        findings.length
          ? h('ol', { class: 'findings' }, findings.map(renderFinding))
          : h('p', { class: 'muted' }, 'No findings: nothing the client did breaks a rule.'),
      ];
    },
  },

  faults: {
    load: () => data(wsPath('/faults')),
    render(list) {
      const selects = ['method', 'path', 'entity_set', 'document_id', 'header', 'event', 'after', 'times'];
      const counts = ['id', 'api', 'matched', 'hits'];
      return [
        h('h2', { class: 'view-title' }, 'Fault rules'),
        table('Fault rules', ['Rule', 'API', 'Selects', 'Does', 'Matched', 'Hits'],
          list.map((f) => {
            const sel = selects.filter((k) => f[k] !== undefined && f[k] !== null).map((k) => `${k}=${typeof f[k] === 'object' ? JSON.stringify(f[k]) : f[k]}`);
            const rest = Object.fromEntries(Object.entries(f).filter(([k]) => !selects.includes(k) && !counts.includes(k)));
            return { cells: [h('code', {}, f.id), f.api, h('code', {}, sel.join(' ') || 'every call'), h('code', {}, JSON.stringify(rest)), String(f.matched ?? 0), String(f.hits ?? 0)] };
          }), { empty: 'No fault rule. Add one with POST /_mock/workspaces/{ws}/faults or --fault.' }),
      ];
    },
  },

  clock: {
    load: () => data(wsPath('/clock')),
    render(c) {
      const by = h('input', { id: 'advance-by', type: 'text', value: '5s', inputmode: 'text', 'aria-describedby': 'advance-help', size: '8' });
      const result = h('p', { id: 'advance-result', role: 'status' }, app.clockMessage || '');
      const advance = async (body) => {
        let res;
        try {
          res = await call(wsPath('/clock/advance'), { method: 'POST', body });
        } catch (err) {
          if (err instanceof NeedLogin) showLogin('Sign in again to advance the clock.');
          else result.textContent = `Not advanced: ${err.message || err}`;
          return;
        }
        app.clockMessage = res.ok ? `The clock now reads ${res.json.data.now}.` : `Not advanced: ${res.json && res.json.error ? res.json.error.message : res.status}`;
        result.textContent = app.clockMessage;
        await refresh(false);
      };
      return [
        h('h2', { class: 'view-title' }, 'Clock'),
        section('Virtual clock', h('dl', { class: 'facts' },
          h('dt', {}, 'Now'), h('dd', {}, h('time', { datetime: c.now, id: 'clock-now' }, c.now)),
          h('dt', {}, 'Mode'), h('dd', {}, c.mode),
          h('dt', {}, 'Tick'), h('dd', {}, c.tick),
          h('dt', {}, 'Pending jobs'), h('dd', {}, String(c.pending_jobs)),
          h('dt', {}, 'Next job at'), h('dd', {}, c.next_job_at || 'none'))),
        section('Advance',
          h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); advance({ by: by.value.trim() }); } },
            h('label', { for: 'advance-by' }, 'Advance by'), by,
            h('button', { type: 'submit', id: 'advance' }, 'Advance')),
          h('p', { class: 'muted', id: 'advance-help' }, 'A duration such as 500ms, 5s, 2m or 1h. Due work (processing, runs, webhook retries) runs as the clock passes it.'),
          c.next_job_at ? h('button', { type: 'button', id: 'advance-next', onclick: () => advance({ to: c.next_job_at }) }, `Advance to the next job (${c.next_job_at})`) : null,
          result),
      ];
    },
  },
};

// ---------------------------------------------------------------- journal

function entryText(e) {
  return [e.seq, e.api, e.method, e.path, e.query, e.route, e.status, e.fault, e.request_id, e.internal ? 'internal' : '']
    .filter((x) => x !== null && x !== undefined).join(' ').toLowerCase();
}

function applyJournalFilter() {
  const list = document.getElementById('journal-list');
  if (!list) return;
  const words = app.journalFilter.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const li of list.children) {
    const ok = words.every((w) => li.dataset.text.includes(w)) && (app.journalInternal || li.dataset.internal !== 'true');
    li.hidden = !ok;
    if (ok) shown += 1;
  }
  const count = document.getElementById('journal-count');
  if (count) count.textContent = `${list.children.length} ${list.children.length === 1 ? 'entry' : 'entries'}, ${shown} shown`;
}

function patchJournal(list, entries) {
  const have = new Map([...list.children].map((li) => [li.dataset.seq, li]));
  const seen = new Set();
  let added = 0;
  for (const e of entries) {
    const key = String(e.seq);
    seen.add(key);
    if (have.has(key)) continue;
    const li = journalItem(e);
    list.prepend(li);
    added += 1;
  }
  for (const [key, li] of have) if (!seen.has(key)) li.remove();
  applyJournalFilter();
  if (added && have.size) announce(`${added} new journal ${added === 1 ? 'entry' : 'entries'}`);
}

function journalItem(e) {
  const id = `je-${e.seq}`;
  const detail = h('div', { class: 'detail', id: `${id}-detail`, hidden: true });
  const button = h('button', {
    type: 'button', class: 'row', id, 'aria-expanded': 'false', 'aria-controls': `${id}-detail`,
    onclick: () => toggleEntry(li, e),
  },
  h('span', { class: 'seq' }, `#${e.seq}`),
  h('span', { class: 'time', title: `virtual time ${e.at}` }, clockTime(e.at)),
  h('span', { class: 'wall', title: 'wall-clock milliseconds since the workspace began, at receipt' }, wallText(e)),
  h('span', { class: `api api-${e.api}` }, e.api),
  h('span', { class: 'method' }, e.method),
  h('span', { class: 'path' }, e.path + (e.query ? `?${decodeSafe(e.query)}` : '')),
  h('span', { class: statusClass(e.status) }, String(e.status)),
  h('span', { class: 'flags' },
    e.fault ? badge(`fault ${e.fault}`, 'fault', 'the fault rule that shaped this answer') : null,
    e.internal ? badge('internal', 'neutral', 'a call the fake made itself') : null));
  const li = h('li', { 'data-seq': String(e.seq), 'data-text': entryText(e), 'data-internal': String(!!e.internal) }, button, detail);
  return li;
}

function decodeSafe(q) {
  try { return decodeURIComponent(q); } catch { return q; }
}

function toggleEntry(li, e, force) {
  const button = li.querySelector('button.row');
  const detail = li.querySelector('.detail');
  const open = force !== undefined ? force : button.getAttribute('aria-expanded') !== 'true';
  button.setAttribute('aria-expanded', String(open));
  detail.hidden = !open;
  if (open && !detail.childElementCount) detail.append(...entryDetail(e));
}

function headersList(headers) {
  if (!headers) return null;
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  if (!pairs.length) return h('p', { class: 'muted' }, 'No headers.');
  return h('dl', { class: 'headers' }, pairs.map((p) => {
    const [k, v] = Array.isArray(p) ? p : [p.name, p.value];
    return [h('dt', {}, k), h('dd', {}, Array.isArray(v) ? v.join(', ') : String(v))];
  }));
}

function exchangePart(title, part) {
  if (!part) return h('div', { class: 'part' }, h('h3', {}, title), h('p', { class: 'muted' }, 'Not recorded by this server.'));
  const body = part.body !== undefined ? part.body : part.body_text;
  const rest = Object.fromEntries(Object.entries(part).filter(([k]) => !['headers', 'body', 'body_text', 'truncated', 'status'].includes(k)));
  return h('div', { class: 'part' }, h('h3', {}, title),
    part.truncated ? h('p', {}, badge('body cut', 'warn', 'the fake keeps the first part of long bodies'), ' Only the start of this body was kept.') : null,
    Object.keys(rest).length ? h('p', { class: 'mono small' }, Object.entries(rest).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' · ')) : null,
    headersList(part.headers),
    body === undefined || body === null || body === '' ? h('p', { class: 'muted' }, 'No body.') : h('pre', { class: 'body', tabindex: '0' }, pretty(body)));
}

function entryDetail(e) {
  const facts = [['Route', e.route], ['Virtual time', e.at], ['Request id', e.request_id], ['Fault', e.fault || 'none'], ['Internal', e.internal ? 'yes' : 'no']];
  if (e.wall_ms && typeof e.wall_ms === 'object') facts.push(['Wall ms', Object.entries(e.wall_ms).map(([k, v]) => `${k} ${v}`).join(', ')]);
  return [
    h('dl', { class: 'facts' }, facts.filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])),
    h('div', { class: 'exchange' }, exchangePart(`Request: ${e.method} ${e.path}`, e.request), exchangePart(`Response: ${e.status}`, e.response)),
  ];
}

function openEntry(seq) {
  const list = document.getElementById('journal-list');
  if (!list) return;
  let li = list.querySelector(`li[data-seq="${CSS.escape(String(seq))}"]`);
  if (!li) { announce(`Journal entry #${seq} is no longer in the journal.`); return; }
  if (li.hidden) {
    app.journalFilter = '';
    app.journalInternal = true;
    document.getElementById('journal-filter').value = '';
    document.getElementById('journal-internal').checked = true;
    applyJournalFilter();
  }
  for (const other of list.querySelectorAll('li.target')) other.classList.remove('target');
  li.classList.add('target');
  const entry = app.lastJournal && app.lastJournal.find((x) => String(x.seq) === String(seq));
  if (entry) toggleEntry(li, entry, true);
  const button = li.querySelector('button.row');
  button.focus();
  li.scrollIntoView({ block: 'center' });
}

function journalKeys(ev) {
  if (!ev.target.matches('button.row')) return;
  const rows = [...document.querySelectorAll('#journal-list > li:not([hidden]) > button.row')];
  const i = rows.indexOf(ev.target);
  let next = null;
  if (ev.key === 'ArrowDown') next = rows[i + 1];
  else if (ev.key === 'ArrowUp') next = rows[i - 1];
  else if (ev.key === 'Home') next = rows[0];
  else if (ev.key === 'End') next = rows[rows.length - 1];
  else return;
  ev.preventDefault();
  if (next) next.focus();
}

// ---------------------------------------------------------------- documents

function docLink(id) {
  return id ? h('a', { href: link('documents', id), class: 'mono' }, id) : '';
}

async function loadDocument(id) {
  const [doc, journal, dump, deliveries, events] = await Promise.all([
    data(wsPath(`/documents/${enc(id)}`)), data(wsPath('/journal')), whole(wsPath('/state')),
    data(wsPath('/webhooks/deliveries')), data(wsPath('/events'))]);
  const runs = ((dump && dump.runs) || []).filter((r) => r.document_id === id);
  const calls = journal.filter((e) => e.path.includes(id));
  const mine = (ev) => ev && ev.data && ev.data.document_id === id;
  return { doc, runs, calls, deliveries: deliveries.filter((d) => mine(d.event)), events: events.filter(mine) };
}

function stage(title, at, ...kids) {
  const body = kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false);
  return h('li', { class: `stage${body.length ? '' : ' empty'}` },
    h('h3', {}, title, at ? h('time', { datetime: at, class: 'at' }, at) : null),
    body.length ? body : h('p', { class: 'muted' }, 'Nothing yet.'));
}

function renderDocument({ doc, runs, calls, deliveries, events }) {
  const dispatches = calls.filter((e) => e.route && e.route.endsWith('/dispatch'));
  const others = calls.filter((e) => !dispatches.includes(e));
  const callList = (list) => list.length ? h('ul', { class: 'plain' }, list.map((e) => h('li', {},
    h('a', { href: link('journal', e.seq) }, `#${e.seq}`), ' ', h('span', { class: 'mono' }, `${clockTime(e.at)} ${e.method} ${e.path}`), ' ',
    h('span', { class: statusClass(e.status) }, String(e.status)), e.fault ? badge(`fault ${e.fault}`, 'fault') : null))) : null;
  const review = doc.review_state;
  return [
    h('p', {}, h('a', { href: link('documents') }, '← All documents')),
    h('h2', { class: 'view-title' }, 'Document ', h('span', { class: 'mono' }, doc.id)),
    h('p', { class: 'summary' }, docStatusBadge(doc.status), ' ', badge(doc.finalized ? 'finalized' : 'not finalized', doc.finalized ? 'good' : 'neutral'), ' ',
      `${doc.schema} · ${(doc.attempts || []).length} attempt(s)`, doc.failure_reason ? ` · failure: ${doc.failure_reason}` : ''),
    h('ol', { class: 'timeline', 'aria-label': 'Document timeline' },
      stage('Created', doc.created_at, h('p', {}, `Schema ${doc.schema}`, doc.external_id ? `, external id ${doc.external_id}` : '')),
      stage('Review', null,
        h('p', {}, `Status ${doc.status}; ${doc.finalized ? 'finalized' : 'not finalized'}.`),
        review ? h('p', { class: 'small' }, `Review state v${review.version}: confirmed fields ${(review.confirmed_general_field_names || []).join(', ') || 'none'}; confirmed line items ${(review.confirmed_line_item_ids || []).join(', ') || 'none'}.`) : null),
      stage('Dispatch', dispatches[0] && dispatches[0].at, callList(dispatches)),
      stage('Runs', runs[0] && runs[0].created_at, runs.map((r) => h('div', { class: 'run' },
        h('p', {}, h('code', {}, r.id), ' ', docStatusBadge(r.status), r.outcome && r.outcome !== r.status ? ` outcome ${r.outcome}` : '',
          ` · started ${r.started_at || '—'} · finished ${r.finished_at || '—'}`, r.external_record_id ? ` · record ${r.external_record_id}` : ''),
        (r.logs || []).length ? h('ol', { class: 'plain small' }, r.logs.map((l) => h('li', {}, h('span', { class: 'mono' }, `${clockTime(l.at)} ${l.node} ${l.method || ''} ${l.path || ''}`), ' ',
          l.status ? h('span', { class: statusClass(l.status) }, String(l.status)) : null, l.message ? ` ${l.message}` : ''))) : null))),
      stage('Delivery attempts', doc.attempts && doc.attempts[0] && doc.attempts[0].attempted_at, (doc.attempts || []).map((a) => h('p', {},
        docStatusBadge(a.status), ' ', h('code', {}, a.id), ` via ${a.source || '?'} at ${a.attempted_at}`, a.execution_id ? ` · execution ${a.execution_id}` : '',
        a.external_record_id ? ` · record ${a.external_record_id}` : '', a.error_code ? ` · ${a.error_code}: ${a.error_message || ''}` : ''))),
      stage('Webhook deliveries', events[0] && events[0].created_at,
        events.map((e) => h('p', {}, `Event ${e.type} at ${e.created_at}`)),
        deliveries.length ? deliveriesTable(deliveries) : null),
      stage('Other API calls', null, callList(others))),
  ];
}

function deliveriesTable(list) {
  return table('Webhook deliveries', ['Delivery', 'Event', 'Document', 'State', 'Attempts'],
    list.map((d) => ({
      cells: [h('code', {}, d.id), d.event && d.event.type, docLink(d.event && d.event.data && d.event.data.document_id),
        docStatusBadge(d.state),
        h('ul', { class: 'plain small' }, (d.attempts || []).map((a) => h('li', {}, `${a.at} → ${a.status ?? 'no answer'}${a.error ? ` (${a.error})` : ''}`)))],
    })), { empty: 'No delivery yet.' });
}

// ---------------------------------------------------------------- dataverse

async function loadDataverse(route) {
  const dump = await whole(wsPath('/state'));
  const orgs = (dump && dump.dataverse && dump.dataverse.orgs) || [];
  const orgName = route.query.get('org') || (orgs[0] && orgs[0].name) || 'default';
  const org = orgs.find((o) => o.name === orgName) || { name: orgName, tables: [] };
  const tables = org.tables || [];
  const set = route.arg || (tables.find((t) => t.entity_set === 'otcm_inboundinvoices') || tables[0] || {}).entity_set;
  const current = tables.find((t) => t.entity_set === set);
  if (!current) return { orgs, org, tables, set, rows: [], children: [] };
  const q = orgName === 'default' ? '' : `?org=${enc(orgName)}`;
  const rows = await data(wsPath(`/dataverse/${enc(set)}${q}`));
  const childTables = tables.flatMap((t) => (t.lookups || []).filter((l) => l.target === set).map((l) => ({ table: t, lookup: l })));
  const children = await Promise.all(childTables.map(async (c) => ({ ...c, rows: await data(wsPath(`/dataverse/${enc(c.table.entity_set)}${q}`)) })));
  return { orgs, org, tables, set, current, rows, children };
}

function renderDataverse(d, route) {
  const out = [h('h2', { class: 'view-title' }, 'Dataverse')];
  if (d.orgs.length > 1) {
    out.push(h('p', {}, 'Organisation: ', d.orgs.map((o) => [h('a', { href: link('dataverse', null, { org: o.name }), 'aria-current': o.name === d.org.name ? 'page' : null }, o.name), ' '])));
  }
  const orgQuery = d.org.name === 'default' ? {} : { org: d.org.name };
  out.push(h('nav', { 'aria-label': 'Tables', class: 'subnav' }, h('ul', {}, d.tables.map((t) => h('li', {},
    h('a', { href: link('dataverse', t.entity_set, orgQuery), 'aria-current': t.entity_set === d.set ? 'page' : null }, t.entity_set))))));
  if (!d.current) {
    out.push(h('p', { class: 'muted' }, d.tables.length ? `No table ${d.set}.` : 'This organisation has no table.'));
    return out;
  }
  const t = d.current;
  const filters = [...route.query.entries()].filter(([k]) => k !== 'org');
  const rows = d.rows.filter((r) => filters.every(([k, v]) => String(r[k]) === v));
  const lookupCols = new Map((t.lookups || []).map((l) => [l.column, l]));
  const skip = new Set(['@odata.etag', 'versionnumber']);
  const keys = [];
  const add = (k) => { if (!skip.has(k) && !keys.includes(k)) keys.push(k); };
  add(t.primary_id); add(t.primary_name);
  (t.lookups || []).forEach((l) => add(l.column));
  const leading = keys.length;
  Object.keys(t.columns || {}).forEach(add);
  rows.forEach((r) => Object.keys(r).forEach(add));
  const primaryOf = (set) => (d.tables.find((x) => x.entity_set === set) || {}).primary_id;
  const cell = (r, k) => {
    const v = r[k];
    if (v === null || v === undefined) return h('span', { class: 'muted' }, '—');
    const l = lookupCols.get(k);
    if (l && primaryOf(l.target)) return h('a', { href: link('dataverse', l.target, { ...orgQuery, [primaryOf(l.target)]: v }), class: 'mono', title: `${l.navigation} → ${l.target}` }, String(v));
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  };
  const childCols = d.children.map((c) => `${c.table.entity_set} (${c.lookup.navigation})`);
  out.push(h('h3', {}, `${t.entity_set} `, h('span', { class: 'muted' }, `${rows.length} of ${d.rows.length} row(s)`)));
  if (filters.length) {
    out.push(h('p', { class: 'notice' }, `Showing rows where ${filters.map(([k, v]) => `${k} = ${v}`).join(' and ')}. `,
      h('a', { href: link('dataverse', t.entity_set, orgQuery) }, 'Show every row')));
  }
  const head = keys.slice(0, leading);
  const tail = keys.slice(leading);
  out.push(table(`Rows of ${t.entity_set}`, [...head, ...childCols, ...tail],
    rows.map((r) => ({
      attrs: { 'data-row': r[t.primary_id] },
      cells: [...head.map((k) => cell(r, k)), ...d.children.map((c) => {
        const n = c.rows.filter((x) => x[c.lookup.column] === r[t.primary_id]).length;
        return h('a', { href: link('dataverse', c.table.entity_set, { ...orgQuery, [c.lookup.column]: r[t.primary_id] }) }, `${n} row${n === 1 ? '' : 's'}`);
      }), ...tail.map((k) => cell(r, k))],
    })), { class: 'rows', empty: 'No rows.' }));
  return out;
}

// ---------------------------------------------------------------- verdicts

function renderFinding(f) {
  return h('li', { class: `finding sev-${f.severity}` },
    h('h3', {}, badge(f.severity, `sev-${f.severity}`), ' ', h('code', {}, f.rule)),
    h('p', {}, f.message),
    f.advice ? h('p', { class: 'advice' }, h('strong', {}, 'Fix: '), f.advice) : null,
    h('p', { class: 'small' },
      f.document_id ? ['Document ', docLink(f.document_id), ' · '] : null,
      'Evidence: ', (f.evidence || []).length
        ? (f.evidence || []).map((seq, i) => [i ? ', ' : '', h('a', { href: link('journal', seq), class: 'evidence' }, `journal #${seq}`)])
        : 'none',
      f.source ? [' · Source: ', /^https?:/.test(f.source) ? h('a', { href: f.source }, f.source) : f.source] : null));
}

// ---------------------------------------------------------------- refresh loop

function focusKey() {
  const el = document.activeElement;
  return el && el.id ? el.id : null;
}

async function refresh(full) {
  if (app.busy && !full) return;
  app.busy = true;
  const generation = app.generation;
  try {
    const clock = await optional(wsPath('/clock'));
    document.getElementById('clock-badge').textContent = clock
      ? `Virtual time ${clock.now.replace('T', ' ').replace('Z', '')} · ${clock.mode}`
      : `Workspace ${app.ws} not found`;
    const route = app.route;
    const view = views[route.view];
    const main = document.getElementById('main');
    if (!view) {
      main.replaceChildren(h('h2', { class: 'view-title' }, 'Not found'), h('p', {}, 'No such view. ', h('a', { href: link('journal') }, 'Open the journal')));
      return;
    }
    if (!clock && route.view !== 'workspaces') {
      main.replaceChildren(h('h2', { class: 'view-title' }, 'No such workspace'), h('p', {}, `Workspace ${app.ws} does not exist. `, h('a', { href: '#/workspaces' }, 'Pick one')));
      return;
    }
    const loaded = await view.load(route, !full);
    if (generation !== app.generation) return;
    if (!full && loaded === app.lastLoaded) return;
    app.lastLoaded = loaded;
    if (route.view === 'journal') app.lastJournal = loaded;
    const signature = JSON.stringify(loaded);
    if (!full && signature === app.signature) return;
    app.signature = signature;
    if (!full && view.patch && view.patch(loaded, route)) return;
    const keep = focusKey();
    const scroll = window.scrollY;
    main.replaceChildren(...[view.render(loaded, route)].flat(Infinity).filter(Boolean));
    if (view.mounted) view.mounted(route);
    if (full) {
      if (route.arg === undefined || route.view !== 'journal') main.focus({ preventScroll: true });
    } else {
      window.scrollTo(0, scroll);
      if (keep && document.getElementById(keep)) document.getElementById(keep).focus({ preventScroll: true });
    }
  } catch (err) {
    if (err instanceof NeedLogin) { showLogin(); return; }
    document.getElementById('main').replaceChildren(h('h2', { class: 'view-title' }, 'Cannot show this view'),
      h('p', { class: 'notice', role: 'alert' }, String(err.message || err)));
    app.signature = null;
  } finally {
    app.busy = false;
  }
}

async function loadWorkspaces() {
  const select = document.getElementById('ws-select');
  const list = await data('/workspaces');
  const ids = list.map((w) => w.id);
  if (!ids.includes(app.ws)) ids.push(app.ws);
  select.replaceChildren(...ids.map((id) => h('option', { value: id, selected: id === app.ws }, id)));
  select.value = app.ws;
}

// ---------------------------------------------------------------- sign-in

function showLogin(message) {
  app.generation += 1;
  document.body.classList.add('signed-out');
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { id: 'login-error', class: 'error', role: 'alert' }, message || '');
  document.getElementById('main').replaceChildren(
    h('section', { class: 'card login' },
      h('h2', {}, 'Sign in'),
      h('p', {}, 'This fake was started with --admin-token. Enter that token once; the page keeps it in a cookie only the fake can read.'),
      h('form', {
        onsubmit: async (e) => {
          e.preventDefault();
          const res = await call('/ui/login', { method: 'POST', body: { token: input.value } });
          if (res.ok) {
            document.getElementById('logout').hidden = false;
            await start();
          } else {
            error.textContent = res.json && res.json.error ? res.json.error.message : `Sign-in failed (${res.status}).`;
            input.focus();
          }
        },
      },
      h('label', { for: 'token' }, 'Admin token'), input, h('button', { type: 'submit', id: 'sign-in' }, 'Sign in'), error)));
  input.focus();
}

async function start() {
  document.body.classList.remove('signed-out');
  await navigate();
}

async function boot() {
  const session = await call('/ui/session');
  const info = session.json && session.json.data;
  document.getElementById('ws-select').addEventListener('change', (e) => {
    const view = app.route ? app.route.view : 'journal';
    location.hash = `#/ws/${enc(e.target.value)}/${view === 'workspaces' ? 'documents' : view}`;
  });
  document.getElementById('logout').addEventListener('click', async () => {
    await call('/ui/logout', { method: 'POST' });
    document.getElementById('logout').hidden = true;
    showLogin('Signed out.');
  });
  window.addEventListener('hashchange', () => { navigate(); });
  setInterval(() => {
    if (document.getElementById('live').checked && app.route && !document.getElementById('token')) refresh(false);
  }, POLL_MS);
  if (info && info.token_required) {
    document.getElementById('logout').hidden = !info.signed_in;
    if (!info.signed_in) { showLogin(); return; }
  }
  await start();
}

boot();
