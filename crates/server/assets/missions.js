// Every mission in the database, newest first: status, progress, spend
// and when it last moved. There is no feed of all missions, so the list
// asks again every few seconds while it is shown.

import { get, missionPath } from './api.js';
import { h, put } from './dom.js';
import { ago, money } from './format.js';
import { portfolioPanel } from './portfolio.js';

const EVERY_MS = 3000;
/** Missions whose spend is looked up (one request each). */
const DETAILED = 30;

export function missionsView(root) {
  const body = h('tbody');
  const empty = h('p', { class: 'empty', hidden: true },
    'No missions yet. ', h('code', {}, 'techlead run mission.yaml'), ' records one here.');
  const portfolio = portfolioPanel();
  put(root, portfolio.element, h('section', { class: 'card' },
    h('h2', {}, 'Missions'),
    h('table', { class: 'grid missions' },
      h('thead', {}, h('tr', {},
        h('th', {}, 'mission'), h('th', {}, 'status'), h('th', { class: 'wide' }, 'progress'),
        h('th', { class: 'num' }, 'spend'), h('th', { class: 'num' }, 'updated'))),
      body),
    empty));
  let timer = null;
  let stopped = false;
  const spend = new Map();

  async function load() {
    try {
      const [missions] = await Promise.all([get('/api/missions'), portfolio.load()]);
      empty.hidden = missions.length > 0;
      await Promise.all(missions.slice(0, DETAILED).map(async (m) => {
        const known = spend.get(m.id);
        if (known && known.seq === m.last_seq) return;
        const detail = await get(missionPath(m.id)).catch(() => null);
        if (detail) spend.set(m.id, { seq: m.last_seq, detail });
      }));
      if (!stopped) put(body, ...missions.map((m) => row(m, spend.get(m.id)?.detail)));
    } catch (e) {
      if (e.status !== 401) put(body, h('tr', {}, h('td', { colspan: 5, class: 'form-error' }, e.message)));
    }
    if (!stopped) timer = setTimeout(load, EVERY_MS);
  }
  load();
  return { destroy() { stopped = true; clearTimeout(timer); }, select() {} };
}

function row(m, detail) {
  const href = `#/m/${encodeURIComponent(m.id)}`;
  const counts = detail?.counts;
  const done = m.succeeded + m.failed;
  const cost = detail ? money(detail.spend.cost_usd) : '–';
  return h('tr', { 'data-mission': m.id },
    h('td', {}, h('a', { href, class: 'strong' }, m.id),
      detail?.objective ? h('div', { class: 'muted clip' }, detail.objective) : null),
    h('td', {}, pill(m.status)),
    h('td', { class: 'wide' }, progress(counts, m.tasks),
      h('span', { class: 'muted small' }, `${m.succeeded} of ${m.tasks} succeeded`,
        m.failed ? ` · ${m.failed} failed` : '', done < m.tasks && counts?.running ? ` · ${counts.running} running` : '')),
    h('td', { class: 'num' }, cost),
    h('td', { class: 'num muted', title: m.updated_at }, ago(m.updated_at)));
}

export function pill(status) {
  return h('span', { class: `pill st-${status}` }, status.replace(/_/g, ' '));
}

const SEGMENTS = ['succeeded', 'skipped', 'checking', 'running', 'queued', 'retrying', 'failed', 'blocked'];

/** A bar of the tasks by status, in the order work flows. */
export function progress(counts, total) {
  const bar = h('div', { class: 'bar', role: 'img' });
  if (!counts || !total) return bar;
  const said = [];
  for (const status of SEGMENTS) {
    const n = counts[status] || 0;
    if (!n) continue;
    const part = h('span', { class: `seg st-${status}`, title: `${n} ${status}` });
    part.style.width = `${(n * 100) / total}%`;
    bar.append(part);
    said.push(`${n} ${status}`);
  }
  bar.setAttribute('aria-label', said.join(', ') || 'nothing done yet');
  return bar;
}
