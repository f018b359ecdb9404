// The console's pages. Each renders into main from the review API.
import {h, replace, marked, fmtTime, fpHex, truncate, badge} from './dom.js';
import {get, post, del} from './api.js';
import {lineChart, barList, totals} from './chart.js';

// ---------- shared pieces ----------

// go builds a console link: go('events', {peer: 'x'}) -> '#/events?peer=x'.
export function go(route, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  }
  const qs = q.toString();
  return '#/' + route + (qs ? '?' + qs : '');
}

function toast(msg, kind = 'ok') {
  const box = document.getElementById('toast');
  const el = h('div', {class: 'toast ' + kind, role: kind === 'error' ? 'alert' : 'status'}, msg);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 10000 : 4000);
}

// ask shows a modal form and resolves to its values, or null when cancelled.
// fields: [{name, label, type: 'text'|'textarea'|'select', options, required, value}]
function ask(title, fields, confirmLabel) {
  return new Promise((resolve) => {
    const dlg = h('dialog', {id: 'ask', class: 'ask'});
    const inputs = {};
    const form = h('form', {method: 'dialog'},
      h('h3', {}, title),
      fields.map((f) => {
        let input;
        if (f.type === 'select') {
          input = h('select', {name: f.name}, f.options.map(([v, label]) => h('option', {value: v, selected: v === f.value}, label)));
        } else if (f.type === 'textarea') {
          input = h('textarea', {name: f.name, rows: 3, required: f.required, maxlength: 1000});
        } else {
          input = h('input', {name: f.name, type: 'text', required: f.required, value: f.value || ''});
        }
        inputs[f.name] = input;
        return h('label', {}, h('span', {}, f.label), input);
      }),
      h('div', {class: 'buttons'},
        h('button', {type: 'button', id: 'ask-cancel', onclick: () => dlg.close('cancel')}, 'Cancel'),
        h('button', {type: 'submit', id: 'ask-ok', class: 'primary', value: 'ok'}, confirmLabel)));
    form.addEventListener('submit', (e) => {
      // Let the browser's required checks run; keep the dialog open on
      // blank reasons (spaces only).
      for (const f of fields) {
        if (f.required && !inputs[f.name].value.trim()) {
          e.preventDefault();
          inputs[f.name].setCustomValidity('required');
          inputs[f.name].reportValidity();
          return;
        }
      }
    });
    for (const input of Object.values(inputs)) input.addEventListener('input', () => input.setCustomValidity(''));
    dlg.append(form);
    dlg.addEventListener('close', () => {
      const out = dlg.returnValue === 'ok' ? Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()])) : null;
      dlg.remove();
      resolve(out);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

// act runs an API call from a button, with feedback, then refreshes.
async function act(label, fn, after) {
  try {
    const r = await fn();
    // Several nodes: a release handed to another node answers its decision (202).
    const pending = r && (r.state === 'pending' || r.state === 'claimed');
    toast(label + (pending ? ': handed to another node, not sent yet (see the event later)' : ': done'));
    if (after) await after();
  } catch (err) {
    toast(label + ': ' + err.message, 'error');
  }
}

function table(id, columns, rows, rowAttrs) {
  return h('table', {id, class: 'grid'},
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {class: c.cls}, c.label)))),
    h('tbody', {}, rows.length === 0
      ? h('tr', {}, h('td', {colspan: columns.length, class: 'muted empty'}, 'Nothing matches.'))
      : rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {}, columns.map((c) => h('td', {class: c.cls}, c.cell(r)))))));
}

// Input values for datetime-local fields are local times; the API takes
// RFC 3339.
function toLocalInput(iso) {
  if (!iso) return '';
  const d = /^\d+$/.test(iso) ? new Date(Number(iso) * 1000) : new Date(iso);
  if (isNaN(d)) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function fromLocalInput(v) {
  if (!v) return '';
  const d = new Date(v);
  return isNaN(d) ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const ACTIONS = ['', 'allow', 'flag', 'reject', 'throttle', 'drop', 'quarantine'];
const QSTATES = ['held', 'released', 'rejected', 'expired'];

// filterForm renders the event filters; submitting navigates to route with
// them. names: which filters to show.
function filterForm(route, params, names) {
  const all = {
    from: () => h('input', {type: 'datetime-local', name: 'from', value: toLocalInput(params.get('from'))}),
    to: () => h('input', {type: 'datetime-local', name: 'to', value: toLocalInput(params.get('to'))}),
    peer: () => h('input', {name: 'peer', value: params.get('peer') || '', size: 8}),
    sender: () => h('input', {name: 'sender', value: params.get('sender') || '', size: 10}),
    dest: () => h('input', {name: 'dest', value: params.get('dest') || '', size: 12}),
    rule: () => h('input', {name: 'rule', value: params.get('rule') || '', size: 12}),
    action: () => h('select', {name: 'action'}, ACTIONS.map((a) => h('option', {value: a, selected: params.get('action') === a}, a || 'any'))),
    class: () => h('select', {name: 'class'}, ['', 'a2p', 'p2p', 'mo', 'receipt', 'enterprise', 'interconnect'].map((a) =>
      h('option', {value: a, selected: params.get('class') === a}, a || 'any'))),
    direction: () => h('select', {name: 'direction'}, ['', 'mt', 'mo'].map((a) => h('option', {value: a, selected: params.get('direction') === a}, a || 'any'))),
    text: () => h('input', {name: 'text', value: params.get('text') || '', size: 14, placeholder: 'contains…'}),
    fingerprint: () => h('input', {name: 'fingerprint', value: params.get('fingerprint') || '', size: 12, placeholder: 'hex'}),
    quarantine: () => h('select', {name: 'quarantine'}, ['', ...QSTATES].map((a) => h('option', {value: a, selected: params.get('quarantine') === a}, a || 'any'))),
    monitor: () => h('select', {name: 'monitor'}, [['', 'any'], ['true', 'monitor only'], ['false', 'enforced only']].map(([v, l]) =>
      h('option', {value: v, selected: params.get('monitor') === v}, l))),
    route: () => h('input', {name: 'route', value: params.get('route') || '', size: 10}),
    target: () => h('select', {name: 'target'}, ['', 'http', 'pull', 'email', 'webhook', 'reply'].map((a) =>
      h('option', {value: a, selected: params.get('target') === a}, a || 'any'))),
    state: () => h('select', {name: 'state'}, ['', ...MOSTATES].map((a) => h('option', {value: a, selected: params.get('state') === a}, a || 'any'))),
    limit: () => h('select', {name: 'limit'}, ['50', '100', '200', '500', '1000'].map((v) => h('option', {value: v, selected: (params.get('limit') || '50') === v}, v))),
  };
  const form = h('form', {id: 'filters', class: 'filters'},
    names.map((n) => h('label', {}, h('span', {}, n), all[n]())),
    h('div', {class: 'buttons'},
      h('button', {type: 'submit', class: 'primary', id: 'apply'}, 'Apply'),
      h('a', {href: go(route), class: 'button'}, 'Clear')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const out = {};
    for (const n of names) {
      let v = form.elements[n].value.trim();
      if (n === 'from' || n === 'to') v = fromLocalInput(v);
      if (n === 'limit' && v === '50') v = '';
      out[n] = v;
    }
    location.hash = go(route, out);
  });
  return form;
}

function paramsObject(params, names) {
  const out = {};
  for (const n of names) if (params.get(n)) out[n] = params.get(n);
  return out;
}

function pager(route, params, next) {
  const base = Object.fromEntries(params);
  delete base.cursor;
  return h('div', {class: 'pager'},
    params.get('cursor') ? h('a', {href: go(route, base), class: 'button', id: 'first-page'}, '« Newest') : null,
    next ? h('a', {href: go(route, {...base, cursor: next}), class: 'button', id: 'next-page'}, 'Older »') : h('span', {class: 'muted'}, 'end of results'));
}

function eventLink(ev) {
  return go('event/' + ev.id);
}

const eventColumns = [
  {label: 'Time', cls: 'time', cell: (e) => h('a', {href: eventLink(e)}, fmtTime(e.time))},
  {label: 'Dir', cls: 'narrow', cell: (e) => e.direction},
  {label: 'Peer', cell: (e) => e.peer},
  {label: 'Sender', cell: (e) => e.sender},
  {label: 'Dest', cell: (e) => e.dest},
  {label: 'Class', cls: 'narrow', cell: (e) => e.class},
  {label: 'Action', cell: (e) => [badge(e.action), e.monitor ? h('span', {class: 'tag', title: 'monitor mode: the message went on'}, 'monitor') : null]},
  {label: 'Rule', cell: (e) => e.rule_id},
  {label: 'Text', cls: 'text', cell: (e) => h('span', {title: truncate(e.text, 500)}, truncate(e.text, 80))},
  {label: 'Quarantine', cell: (e) => e.quarantine ? h('span', {class: 'q q-' + e.quarantine}, e.quarantine) : ''},
];

const EVENT_FILTERS = ['from', 'to', 'peer', 'sender', 'dest', 'rule', 'action', 'class', 'direction', 'text', 'fingerprint', 'quarantine', 'monitor', 'limit'];

// ---------- dashboard ----------

const RANGES = {'1h': [3600, '1m'], '6h': [6 * 3600, '5m'], '24h': [86400, '15m'], '7d': [7 * 86400, '1h']};

export async function dashboard(main, ctx) {
  const range = RANGES[ctx.params.get('range')] ? ctx.params.get('range') : '24h';
  const [secs, step] = RANGES[range];
  const draw = async () => {
    const to = new Date();
    const from = new Date(to.getTime() - secs * 1000);
    const q = {from: from.toISOString().replace(/\.\d{3}Z$/, 'Z'), to: to.toISOString().replace(/\.\d{3}Z$/, 'Z'), step};
    const [byAction, byDir, byClass, byRule, byPeer, held] = await Promise.all([
      get('stats', {...q, by: 'action'}), get('stats', {...q, by: 'direction'}), get('stats', {...q, by: 'class'}),
      get('stats', {...q, by: 'rule'}), get('stats', {...q, by: 'peer'}), get('quarantine', {limit: 1000}),
    ]);
    const link = (k) => (key) => go('events', {[k]: key === '(none)' ? '' : key, from: q.from, to: q.to});
    replace(main,
      h('div', {class: 'toolbar'},
        h('h2', {}, 'Dashboard'),
        h('div', {class: 'ranges'}, Object.keys(RANGES).map((r) => h('a', {href: go('dashboard', {range: r}), class: 'button' + (r === range ? ' active' : '')}, r))),
        h('span', {class: 'muted'}, `updated ${fmtTime(to)}`),
        h('a', {href: go('quarantine'), class: 'held-count' + (held.events.length ? ' warn' : '')}, `${held.events.length}${held.next ? '+' : ''} held in quarantine`)),
      h('div', {class: 'charts'},
        lineChart(byAction, {width: 600, height: 200, title: 'Verdicts over time (events by action)'}),
        lineChart(byDir, {width: 600, height: 200, title: 'Traffic over time (events by direction)'})),
      h('div', {class: 'cards'},
        barList(totals(byAction), {title: 'By action', link: link('action')}),
        barList(totals(byClass), {title: 'By class', link: link('class')}),
        barList(totals(byRule), {title: 'By rule', link: link('rule')}),
        barList(totals(byPeer), {title: 'By peer', link: link('peer')})),
      h('p', {class: 'muted small'}, 'Events are every non-allow verdict, every monitor-mode hit and a sample of allowed traffic.'));
  };
  await draw();
  ctx.every(30000, () => draw().catch(() => {}));
}

// ---------- events ----------

export async function events(main, ctx) {
  const q = paramsObject(ctx.params, [...EVENT_FILTERS, 'cursor']);
  const page = await get('events', q);
  replace(main,
    h('div', {class: 'toolbar'}, h('h2', {}, 'Events'), h('a', {href: go('campaigns', paramsObject(ctx.params, ['from', 'to', 'peer', 'rule', 'action'])), class: 'button'}, 'Group as campaigns')),
    filterForm('events', ctx.params, EVENT_FILTERS),
    table('events-table', eventColumns, page.events, (e) => ({dataset: {id: e.id}, class: 'clickable', onclick: (ev) => {
      if (ev.target.tagName !== 'A') location.hash = eventLink(e);
    }})),
    pager('events', ctx.params, page.next));
}

// ---------- event detail ----------

export async function eventDetail(main, ctx) {
  const id = ctx.arg;
  const ev = await get('events/' + encodeURIComponent(id));
  const fp = fpHex(ev.fingerprint);
  const reload = () => eventDetail(main, ctx);
  const row = (label, ...value) => [h('dt', {}, label), h('dd', {}, ...value)];
  const decide = (what) => async () => {
    const v = await ask(`${what === 'release' ? 'Release' : 'Reject'} message ${ev.id}`,
      [{name: 'reason', label: 'Reason (kept in the audit log)', type: 'textarea', required: true}],
      what === 'release' ? 'Release to the SMSC' : 'Reject');
    if (v) await act(what, () => post(`quarantine/${ev.id}/${what}`, {reason: v.reason}), reload);
  };
  const falsePositive = async () => {
    const v = await ask(`False positive: allow similar messages`, [
      {name: 'scope', label: 'Allow', type: 'select', value: fp ? 'sender_fingerprint' : 'sender', options: [
        ['sender', `everything from sender ${ev.sender}`],
        ...(fp ? [['fingerprint', `this text (fingerprint ${fp}) from anyone`], ['sender_fingerprint', `this text from ${ev.sender} only`]] : [])]},
      {name: 'reason', label: 'Reason', type: 'textarea', required: true}], 'Add allow override');
    if (v) await act('false positive', () => post(`events/${ev.id}/false-positive`, {scope: v.scope, reason: v.reason}));
  };
  const block = (kind) => async () => {
    const v = await ask(kind === 'sender' ? `Block sender ${ev.sender}` : `Block text fingerprint ${fp}`,
      [{name: 'reason', label: 'Reason', type: 'textarea', required: true}], 'Block');
    if (!v) return;
    const body = {kind, action: 'block', reason: v.reason, event_id: ev.id};
    if (kind === 'sender') body.sender = ev.sender;
    else body.fingerprint = fp;
    await act('block ' + kind, () => post('overrides', body));
  };
  const held = ev.quarantine === 'held';
  replace(main,
    h('div', {class: 'toolbar'},
      h('h2', {}, 'Event ', h('span', {class: 'mono'}, ev.id)),
      badge(ev.action),
      ev.monitor ? h('span', {class: 'tag'}, 'monitor') : null,
      ev.sampled ? h('span', {class: 'tag'}, 'sampled') : null,
      h('a', {href: go('events'), class: 'button', id: 'back', onclick: (e) => { e.preventDefault(); history.back(); }}, '← Back')),
    h('div', {id: 'event-detail', class: 'detail'},
      h('section', {class: 'card wide'},
        h('h3', {}, 'Message text', ev.text_masked ? h('span', {class: 'tag'}, 'masked') : null),
        h('pre', {id: 'ev-text', class: 'msgtext'}, marked(ev.text, ev.highlight)),
        h('dl', {class: 'kv'},
          row('Rule', ev.rule_id ? h('a', {href: go('events', {rule: ev.rule_id})}, ev.rule_id) : '—'),
          row('Reason', ev.reason || '—'),
          row('Evidence', h('span', {id: 'ev-evidence'}, ev.evidence || '—')),
          row('Highlight', ev.highlight ? h('mark', {class: 'hl'}, ev.highlight) : '—'),
          ev.leakage ? row('Leakage', String(ev.leakage)) : null)),
      h('section', {class: 'card'},
        h('h3', {}, 'Message'),
        h('dl', {class: 'kv'},
          row('Time', fmtTime(ev.time)),
          row('Direction', ev.direction),
          row('Peer', h('a', {href: go('events', {peer: ev.peer})}, ev.peer), ev.system_id && ev.system_id !== ev.peer ? ` (${ev.system_id})` : ''),
          row('Peer class', ev.peer_class || '—'),
          row('Class', ev.class),
          row('Sender', h('a', {href: go('events', {sender: ev.sender})}, ev.sender), ev.sender_kind ? ` (${ev.sender_kind})` : ''),
          row('Destination', h('a', {href: go('events', {dest: ev.dest})}, ev.dest), ev.dest_country ? ` (${ev.dest_country})` : '', ev.dest_count > 1 ? ` · one of ${ev.dest_count} destinations (submit_multi)` : ''),
          row('Fingerprint', fp ? h('a', {href: go('events', {fingerprint: fp}), class: 'mono'}, fp) : '—'),
          row('Segments', String(ev.segments), ` · data_coding ${ev.data_coding}`),
          row('Status', '0x' + Number(ev.status || 0).toString(16).padStart(8, '0')),
          row('Message id', ev.message_id || '—'))),
      h('section', {class: 'card'},
        h('h3', {}, 'Quarantine'),
        h('dl', {class: 'kv'},
          row('State', h('span', {id: 'ev-quarantine', class: ev.quarantine ? 'q q-' + ev.quarantine : ''}, ev.quarantine || 'not quarantined')),
          ev.decided_by ? row('Decided', `${ev.decided_by}, ${fmtTime(ev.decided_at)}`) : null,
          ev.upstream_message_id ? row('SMSC id', h('span', {id: 'ev-upstream-id', class: 'mono'}, ev.upstream_message_id)) : null),
        held ? h('div', {class: 'buttons'},
          h('button', {id: 'btn-release', class: 'primary', onclick: decide('release')}, 'Release…'),
          h('button', {id: 'btn-reject', class: 'danger', onclick: decide('reject')}, 'Reject…')) : null,
        h('h3', {}, 'Analyst decisions'),
        h('div', {class: 'buttons'},
          h('button', {id: 'btn-fp', onclick: falsePositive}, 'False positive…'),
          ev.sender ? h('button', {id: 'btn-block-sender', class: 'danger', onclick: block('sender')}, 'Block sender…') : null,
          fp ? h('button', {id: 'btn-block-fp', class: 'danger', onclick: block('fingerprint')}, 'Block text…') : null),
        h('p', {class: 'small'}, h('a', {href: go('audit')}, 'Audit log'), ' · ', h('a', {href: go('overrides')}, 'Overrides')))));
}

// ---------- campaigns ----------

const CAMPAIGN_FILTERS = ['from', 'to', 'peer', 'sender', 'rule', 'action', 'class', 'direction', 'text', 'limit'];

export async function campaigns(main, ctx) {
  const q = paramsObject(ctx.params, CAMPAIGN_FILTERS);
  const {campaigns: cs} = await get('campaigns', q);
  const scope = paramsObject(ctx.params, ['from', 'to', 'peer', 'rule', 'action', 'class', 'direction']);
  const counts = (m) => Object.entries(m || {}).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  replace(main,
    h('div', {class: 'toolbar'}, h('h2', {}, 'Campaigns'), h('span', {class: 'muted'}, 'events grouped by text fingerprint, largest first')),
    filterForm('campaigns', ctx.params, CAMPAIGN_FILTERS),
    table('campaigns-table', [
      {label: 'Fingerprint', cls: 'mono', cell: (c) => h('a', {href: go('events', {...scope, fingerprint: fpHex(c.fingerprint)})}, fpHex(c.fingerprint))},
      {label: 'Events', cls: 'num', cell: (c) => String(c.count)},
      {label: 'Senders', cls: 'num', cell: (c) => String(c.senders)},
      {label: 'Recipients', cls: 'num', cell: (c) => String(c.recipients)},
      {label: 'Peers', cell: (c) => (c.peers || []).join(', ')},
      {label: 'First', cls: 'time', cell: (c) => fmtTime(c.first)},
      {label: 'Last', cls: 'time', cell: (c) => fmtTime(c.last)},
      {label: 'Actions', cell: (c) => counts(c.actions)},
      {label: 'Rules', cell: (c) => counts(c.rules)},
      {label: 'Sample', cls: 'text', cell: (c) => h('a', {href: go('event/' + c.sample_event_id), title: truncate(c.sample_text, 500)}, truncate(c.sample_text, 70))},
    ], cs));
}

// ---------- quarantine ----------

export async function quarantine(main, ctx) {
  const state = QSTATES.includes(ctx.params.get('state')) ? ctx.params.get('state') : 'held';
  const q = {...paramsObject(ctx.params, ['peer', 'sender', 'rule', 'limit', 'cursor']), state};
  const page = await get('quarantine', q);
  const reload = () => quarantine(main, ctx);
  const decide = (ev, what) => async (e) => {
    e.stopPropagation();
    const v = await ask(`${what === 'release' ? 'Release' : 'Reject'} message ${ev.id} from ${ev.sender}`,
      [{name: 'reason', label: 'Reason (kept in the audit log)', type: 'textarea', required: true}], what === 'release' ? 'Release' : 'Reject');
    if (v) await act(what, () => post(`quarantine/${ev.id}/${what}`, {reason: v.reason}), reload);
  };
  const cols = [...eventColumns.filter((c) => c.label !== 'Quarantine')];
  if (state === 'held') {
    cols.push({label: '', cls: 'actions', cell: (ev) => [
      h('button', {class: 'primary small btn-release', onclick: decide(ev, 'release')}, 'Release…'),
      h('button', {class: 'danger small btn-reject', onclick: decide(ev, 'reject')}, 'Reject…')]});
  } else {
    cols.push({label: 'Decided', cell: (ev) => `${ev.decided_by || ''} ${fmtTime(ev.decided_at)}`});
  }
  replace(main,
    h('div', {class: 'toolbar'},
      h('h2', {}, 'Quarantine'),
      h('div', {class: 'ranges'}, QSTATES.map((st) => h('a', {href: go('quarantine', {state: st}), class: 'button' + (st === state ? ' active' : '')}, st)))),
    table('quarantine-table', cols, page.events, (e) => ({dataset: {id: e.id}, class: 'clickable', onclick: (ev) => {
      if (ev.target.tagName !== 'A' && ev.target.tagName !== 'BUTTON') location.hash = eventLink(e);
    }})),
    pager('quarantine', ctx.params, page.next));
}

// ---------- overrides ----------

export async function overrides(main, ctx) {
  const {overrides: list} = await get('overrides');
  const reload = () => overrides(main, ctx);
  const remove = (o) => async () => {
    const v = await ask(`Delete override ${o.id} (${o.action} ${o.kind})`, [{name: 'reason', label: 'Reason (optional)', type: 'textarea'}], 'Delete');
    if (v) await act('delete override', () => del('overrides/' + o.id, v.reason ? {reason: v.reason} : undefined), reload);
  };
  const add = h('form', {id: 'add-override', class: 'filters'},
    h('label', {}, h('span', {}, 'action'), h('select', {name: 'action'}, h('option', {value: 'block'}, 'block'), h('option', {value: 'allow'}, 'allow'))),
    h('label', {}, h('span', {}, 'kind'), h('select', {name: 'kind'}, ['sender', 'fingerprint', 'sender_fingerprint'].map((k) => h('option', {value: k}, k)))),
    h('label', {}, h('span', {}, 'sender'), h('input', {name: 'sender', size: 12})),
    h('label', {}, h('span', {}, 'fingerprint'), h('input', {name: 'fingerprint', size: 16, placeholder: 'hex'})),
    h('label', {}, h('span', {}, 'reason'), h('input', {name: 'reason', size: 30, required: true})),
    h('div', {class: 'buttons'}, h('button', {type: 'submit', class: 'primary'}, 'Add override')));
  add.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = add.elements;
    const body = {kind: f.kind.value, action: f.action.value, reason: f.reason.value.trim()};
    if (f.kind.value !== 'fingerprint') body.sender = f.sender.value.trim();
    if (f.kind.value !== 'sender') body.fingerprint = f.fingerprint.value.trim();
    await act('add override', () => post('overrides', body), reload);
  });
  replace(main,
    h('div', {class: 'toolbar'}, h('h2', {}, 'Overrides'), h('span', {class: 'muted'}, 'analysts\' allow and block decisions, applied before the rules')),
    add,
    table('overrides-table', [
      {label: 'Id', cls: 'mono', cell: (o) => o.id},
      {label: 'Action', cell: (o) => h('span', {class: 'badge a-' + (o.action === 'block' ? 'reject' : 'allow')}, o.action)},
      {label: 'Kind', cell: (o) => o.kind},
      {label: 'Sender', cell: (o) => o.sender ? h('a', {href: go('events', {sender: o.sender})}, o.sender) : ''},
      {label: 'Fingerprint', cls: 'mono', cell: (o) => fpHex(o.fingerprint) ? h('a', {href: go('events', {fingerprint: fpHex(o.fingerprint)})}, fpHex(o.fingerprint)) : ''},
      {label: 'Reason', cls: 'text', cell: (o) => o.reason},
      {label: 'Author', cell: (o) => o.author},
      {label: 'Created', cls: 'time', cell: (o) => fmtTime(o.created)},
      {label: 'Event', cell: (o) => o.event_id && o.event_id !== '0' ? h('a', {href: go('event/' + o.event_id)}, o.event_id) : ''},
      {label: '', cls: 'actions', cell: (o) => h('button', {class: 'danger small', onclick: remove(o)}, 'Delete…')},
    ], list));
}

// ---------- leakage ----------

export async function leakage(main) {
  let data;
  try {
    data = await get('leakage');
  } catch (err) {
    if (err.status === 404 || err.status === 503) {
      replace(main, h('h2', {}, 'Revenue leakage'), h('p', {class: 'muted'}, 'No ledger: it is kept in the event store, and smsfw runs without one.'));
      return;
    }
    throw err;
  }
  const peers = data.peers || [];
  const sum = peers.reduce((a, p) => a + p.amount, 0);
  const segs = peers.reduce((a, p) => a + p.segments, 0);
  replace(main,
    h('div', {class: 'toolbar'}, h('h2', {}, 'Revenue leakage'),
      h('span', {class: 'muted'}, `grey-route traffic the SMSC accepted, ${data.from} to ${data.to} (UTC), per peer, largest first`)),
    table('leakage-table', [
      {label: 'Peer', cell: (p) => h('a', {href: go('events', {peer: p.peer})}, p.peer)},
      {label: 'Messages', cls: 'num', cell: (p) => String(p.messages)},
      {label: 'Segments', cls: 'num', cell: (p) => String(p.segments)},
      {label: 'Estimated loss', cls: 'num', cell: (p) => p.amount.toFixed(2)},
    ], peers),
    h('p', {class: 'total'}, `Total: ${segs} segments, ${sum.toFixed(2)} estimated.`));
}

// ---------- peers ----------

// peers shows every peer with its sessions and upstream pool, refreshed
// every 5 s (a live status page).
export async function peers(main, ctx) {
  const draw = async () => {
    const data = await get('peers');
    const list = data.peers || [];
    const rows = [];
    for (const p of list) {
      const up = p.upstream;
      rows.push({peer: p, session: null, pool: up});
      for (const s of p.sessions || []) rows.push({peer: p, session: s});
    }
    replace(main,
      h('div', {class: 'toolbar'}, h('h2', {}, 'Peers'), h('span', {class: 'muted'}, 'live, ' + fmtTime(data.time))),
      table('peers-table', [
        {label: 'Peer', cell: (r) => r.session ? '' : h('a', {href: go('events', {peer: r.peer.name})}, r.peer.name)},
        {label: 'Class', cell: (r) => r.session ? '' : (r.peer.class || '')},
        {label: 'Sessions', cls: 'num', cell: (r) => r.session ? r.session.bind : String((r.peer.sessions || []).length) +
          (r.peer.max_sessions ? ' of ' + r.peer.max_sessions : '')},
        {label: 'Address', cell: (r) => r.session ? r.session.remote : ''},
        {label: 'In flight', cls: 'num', cell: (r) => r.session ? String(r.session.in_flight) : ''},
        {label: 'Deliveries', cls: 'num', cell: (r) => r.session
          ? r.session.deliveries_in_flight + ' / ' + r.session.window + (r.session.deliveries_queued ? ' (+' + r.session.deliveries_queued + ' queued)' : '')
          : ''},
        {label: 'Messages/s', cls: 'num', cell: (r) => r.session ? '' : rateText(r.peer)},
        {label: 'Upstream', cell: (r) => !r.session && r.pool
          ? r.pool.upstream + ' ' + r.pool.bound + '/' + r.pool.sessions + ' bound, ' + r.pool.in_flight + ' in flight'
          : ''},
        {label: 'Last error', cell: (r) => r.session ? '' : lastErrorText(r.peer)},
      ], rows, (r) => r.session ? {class: 'sub'} : (r.pool && r.pool.bound === 0 ? {class: 'warn'} : {})));
  };
  await draw();
  ctx.every(5000, () => draw().catch(() => {}));
}

// rateText is a peer's messages a second (MT, MO, receipts) over the
// last minute, with its totals since the start.
function rateText(p) {
  const r = p.rates || {}, m = p.messages || {};
  if (!r.window_seconds) return '';
  const f = (x) => (x || 0).toFixed(x >= 10 ? 0 : 1);
  return `MT ${f(r.mt)}, MO ${f(r.mo)}, DLR ${f(r.receipts)} (total ${m.mt || 0} / ${m.mo || 0} / ${m.receipts || 0})`;
}

// lastErrorText is the latest of the peer's refused bind and its pool's
// upstream failure.
function lastErrorText(p) {
  const errs = [p.last_error, p.upstream && p.upstream.last_error].filter(Boolean);
  if (errs.length === 0) return '';
  errs.sort((a, b) => (a.time < b.time ? 1 : -1));
  const e = errs[0];
  return `${fmtTime(e.time)} ${e.what.replace(/_/g, ' ')}: ${e.detail}` + (e.remote ? ` (${e.remote})` : '');
}

// ---------- bans ----------

// bans lists the ban list with what each ban stopped: packets the kernel
// program dropped, connections refused at accept.
export async function bans(main) {
  let data;
  try {
    data = await get('bans');
  } catch (err) {
    if (err.status === 404) {
      replace(main, h('h2', {}, 'Bans'), h('p', {class: 'muted'}, 'No ban list on this node.'));
      return;
    }
    throw err;
  }
  const enf = data.enforcement || {};
  const where = enf.kernel
    ? 'dropped in the kernel (' + (enf.attachments || []).map((a) => a.interface + ' ' + a.mode).join(', ') + ') and refused at accept'
    : 'refused when connections are accepted (the kernel program is not attached' + (enf.reason ? ': ' + enf.reason : '') + ')';
  const packets = (data.packets || []).filter((p) => p.packets > 0);
  replace(main,
    h('div', {class: 'toolbar'}, h('h2', {}, 'Bans'), h('span', {class: 'muted'}, 'banned sources are ' + where)),
    table('bans-table', [
      {label: 'Source', cell: (b) => b.source},
      {label: 'Origin', cell: (b) => b.origin},
      {label: 'Reason', cell: (b) => b.reason},
      {label: 'By', cell: (b) => b.actor || ''},
      {label: 'Since', cls: 'time', cell: (b) => fmtTime(b.created)},
      {label: 'Until', cls: 'time', cell: (b) => b.expires ? fmtTime(b.expires) : 'no expiry'},
      {label: 'Packets dropped', cls: 'num', cell: (b) => enf.kernel ? String(b.drops || 0) : '–'},
      {label: 'Connections refused', cls: 'num', cell: (b) => String(b.refused || 0)},
    ], data.bans || []),
    h('h3', {}, 'Packets seen by the kernel program'),
    packets.length
      ? table('bans-packets', [
        {label: 'Action', cell: (p) => p.action},
        {label: 'Reason', cell: (p) => p.reason},
        {label: 'Packets', cls: 'num', cell: (p) => String(p.packets)},
      ], packets)
      : h('p', {class: 'muted'}, enf.kernel ? 'none yet' : 'no kernel program attached'));
}

// ---------- inbound (MO routes) ----------

const MOSTATES = ['queued', 'delivered', 'dead', 'skipped'];

// moState is what an operator reads: a queued message tried before is
// retrying; dead letters are dead-lettered.
function moState(m) {
  if (m.state === 'queued') return m.attempts > 0 ? 'retrying' : 'queued';
  return m.state === 'dead' ? 'dead-lettered' : m.state;
}

export async function inbound(main, ctx) {
  let routes;
  try {
    routes = (await get('mo/routes')).routes;
  } catch (err) {
    if (err.status !== 404) throw err;
    routes = [];
  }
  if (routes.length === 0) {
    replace(main, h('h2', {}, 'Inbound'), h('p', {class: 'muted'}, 'No MO routes nor rule actions: MO go to the peers over SMPP only (see mo_routes, and actions in the policy).'));
    return;
  }
  const q = paramsObject(ctx.params, ['route', 'target', 'state', 'cursor', 'limit']);
  if (q.state && !MOSTATES.includes(q.state)) delete q.state;
  const page = await get('mo/messages', q);
  const reload = () => inbound(main, ctx);
  const replay = (m) => async (e) => {
    e.stopPropagation();
    const v = await ask(`Replay MO ${m.id} to ${m.route}/${m.target}`,
      [{name: 'reason', label: 'Reason (kept in the audit log)', type: 'textarea', required: true}], 'Replay');
    if (v) await act('replay', () => post(`mo/${m.id}/replay`, {reason: v.reason}), reload);
  };
  const n = (counts, st) => (counts && counts[st]) || 0;
  const countRows = [];
  for (const r of routes) {
    for (const t of r.targets) countRows.push({route: r.name, target: t, c: r.counts[t] || {}});
    if (r.targets.length === 0) countRows.push({route: r.name, target: r.smpp ? 'smpp' : '', c: null});
  }
  const countLink = (row, st) => row.c ? h('a', {href: go('inbound', {route: row.route, target: row.target, state: st})}, String(n(row.c, st))) : '';
  replace(main,
    h('div', {class: 'toolbar'},
      h('h2', {}, 'Inbound'),
      h('span', {class: 'muted'}, 'MO by route and target: queued, retrying, delivered, dead-lettered, skipped (automatic replies held back by their limits)')),
    table('mo-routes-table', [
      {label: 'Route', cell: (r) => h('a', {href: go('inbound', {route: r.route})}, r.route)},
      {label: 'Target', cell: (r) => r.target},
      {label: 'Queued', cls: 'num', cell: (r) => countLink(r, 'queued')},
      {label: 'Delivered', cls: 'num', cell: (r) => countLink(r, 'delivered')},
      {label: 'Dead-lettered', cls: 'num', cell: (r) => countLink(r, 'dead')},
      {label: 'Skipped', cls: 'num', cell: (r) => countLink(r, 'skipped')},
    ], countRows, (r) => ({dataset: {route: r.route, target: r.target}})),
    filterForm('inbound', ctx.params, ['route', 'target', 'state']),
    table('mo-table', [
      {label: 'Id', cls: 'num', cell: (m) => m.id},
      {label: 'Received', cell: (m) => fmtTime(m.received)},
      {label: 'Route', cell: (m) => m.route},
      {label: 'Target', cell: (m) => m.target},
      {label: 'From', cell: (m) => m.sender},
      {label: 'To', cell: (m) => m.destination},
      {label: 'Text', cls: 'text', cell: (m) => truncate(m.text, 80)},
      {label: 'State', cell: (m) => badge(moState(m))},
      {label: 'Attempts', cls: 'num', cell: (m) => String(m.attempts)},
      {label: 'Last error', cls: 'text', cell: (m) => truncate(m.last_error || '', 80)},
      {label: '', cls: 'actions', cell: (m) => m.state === 'dead'
        ? h('button', {class: 'primary small btn-replay', onclick: replay(m)}, 'Replay…') : ''},
    ], page.messages, (m) => ({dataset: {id: m.id, state: m.state}})),
    pager('inbound', ctx.params, page.next));
}

// ---------- audit ----------

export async function audit(main, ctx) {
  const q = paramsObject(ctx.params, ['from', 'to', 'actor', 'limit']);
  const {entries} = await get('audit', q);
  // The target is an event for quarantine decisions and for overrides made
  // from an event (their detail names the override); else an override id.
  const isEvent = (a) => ['release', 'reject', 'expire', 'false_positive'].includes(a.action) || (a.detail || '').includes('"override_id"');
  const form = h('form', {class: 'filters', id: 'audit-filters'},
    h('label', {}, h('span', {}, 'actor'), h('input', {name: 'actor', value: ctx.params.get('actor') || '', size: 10})),
    h('div', {class: 'buttons'}, h('button', {type: 'submit', class: 'primary'}, 'Apply')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = go('audit', {actor: form.elements.actor.value.trim()});
  });
  replace(main,
    h('div', {class: 'toolbar'}, h('h2', {}, 'Audit log'), h('span', {class: 'muted'}, 'every analyst action, newest first')),
    form,
    table('audit-table', [
      {label: 'Time', cls: 'time', cell: (a) => fmtTime(a.time)},
      {label: 'Actor', cell: (a) => h('a', {href: go('audit', {actor: a.actor})}, a.actor)},
      {label: 'Action', cell: (a) => a.action},
      {label: 'Target', cls: 'mono', cell: (a) => isEvent(a) ? h('a', {href: go('event/' + a.target)}, a.target) : a.target},
      {label: 'Reason', cls: 'text', cell: (a) => a.reason},
      {label: 'Detail', cls: 'text mono small', cell: (a) => a.detail || ''},
    ], entries));
}

export async function notFound(main) {
  replace(main, h('h2', {}, 'Not found'), h('p', {}, h('a', {href: '#/'}, 'Dashboard')));
}
