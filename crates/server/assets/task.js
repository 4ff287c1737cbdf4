// The open task: what it is and where it stands, its attempts, the log of
// the chosen one (followed while it grows), its diff, its checks.

import { get, missionPath } from './api.js';
import { h, put } from './dom.js';
import { clock, duration, money, outcomeKind, outcomeText } from './format.js';
import { pill } from './missions.js';
import { review } from './review.js';

/** How often a running attempt's log is asked for more. */
const LOG_EVERY_MS = 600;
// Colour codes agents print for terminals; the page has its own colours.
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

export function taskPanel(root, mission, navigate) {
  let open = null; // { task, tab, attempt }
  let detail = null;
  let follower = null;
  let diffShown = null;
  const head = h('div', { class: 'task-head' });
  const tabs = h('nav', { class: 'tabs', role: 'tablist' });
  const body = h('div', { class: 'task-body' });
  put(root, head, tabs, body);
  showNothing();

  function showNothing() {
    put(head, h('h2', {}, 'Task'));
    put(tabs);
    put(body, h('p', { class: 'empty' }, 'Choose a task in the graph or a bar in the lanes to see its log and diff.'));
  }

  async function load() {
    if (!open) return;
    const wanted = open.task;
    try {
      const d = await get(missionPath(mission, 'tasks', wanted));
      if (open?.task !== wanted) return;
      detail = d;
      render();
    } catch (e) {
      put(body, h('p', { class: 'form-error' }, e.message));
    }
  }

  function attemptNumber() {
    const n = open.attempt ?? detail.attempts.at(-1)?.number;
    return detail.attempts.some((a) => a.number === n) ? n : null;
  }

  function render() {
    const d = detail;
    put(head,
      h('h2', {}, h('span', { class: 'mono' }, d.id), ' ', pill(d.status)),
      h('p', { class: 'title' }, d.title),
      h('dl', { class: 'facts' },
        h('dt', {}, 'agent'), h('dd', {}, d.agent),
        h('dt', {}, 'priority'), h('dd', {}, d.priority),
        h('dt', {}, 'waits for'), h('dd', {}, waitsFor(d)),
        h('dt', {}, 'time'), h('dd', {}, duration(d.time_ms)),
        h('dt', {}, 'cost'), h('dd', {}, money(d.cost_usd))),
      d.progress ? h('p', { class: 'muted' }, d.progress.percent != null ? `${d.progress.percent}% · ` : '', d.progress.message) : null,
      d.summary ? h('p', { class: 'summary' }, d.summary) : null);
    const base = `#/m/${encodeURIComponent(mission)}/t/${encodeURIComponent(d.id)}`;
    const tab = (name, label, href) => h('a', {
      href, role: 'tab', class: open.tab === name ? 'tab on' : 'tab', 'aria-selected': open.tab === name ? 'true' : 'false',
    }, label);
    put(tabs, tab('log', 'Log', base), tab('diff', 'Diff', `${base}/diff`), tab('info', 'Details', `${base}/info`));
    if (open.tab === 'diff') return showDiff(d);
    stopLog();
    diffShown = null;
    if (open.tab === 'info') return put(body, info(d));
    showLog(d, base);
  }

  function showLog(d, base) {
    const n = attemptNumber();
    const list = h('div', { class: 'attempts' }, ...d.attempts.map((a) => h('a', {
      href: `${base}/log/${a.number}`, class: `attempt-chip oc-${outcomeKind(a)}${a.number === n ? ' on' : ''}`,
      title: `${outcomeText(a)}\nqueued ${clock(a.queued_at)} · started ${clock(a.started_at)} · finished ${clock(a.finished_at)}`,
    }, `#${a.number} ${outcomeKind(a).replace(/_/g, ' ')}`, a.duration_ms != null ? ` · ${duration(a.duration_ms)}` : '')));
    if (n == null) {
      stopLog();
      const on = [...d.depends_on, ...(d.external ?? []).filter((w) => w.state === 'waiting').map((w) => w.on)];
      return put(body, list, h('p', { class: 'empty' }, 'No attempt yet: the task waits for ', on.join(', ') || 'a slot', '.'));
    }
    const a = d.attempts.find((x) => x.number === n);
    if (follower?.key === `${d.id}#${n}`) {
      follower.outcome.textContent = outcomeText(a);
      body.firstChild.replaceWith(list);
      follower.poke();
      return;
    }
    stopLog();
    const pre = h('pre', { class: 'log', tabindex: 0, 'aria-label': `log of attempt ${n}` });
    const state = h('span', { class: 'log-state' });
    const outcome = h('span', { class: 'muted' }, outcomeText(a));
    put(body, list, h('div', { class: 'log-head' }, h('span', { class: 'mono' }, `${a.agent} · ${a.executor}`), outcome, state), pre);
    follower = follow(missionPath(mission, 'tasks', d.id, 'attempts', String(n), 'log'), pre, state);
    follower.key = `${d.id}#${n}`;
    follower.outcome = outcome;
  }

  async function showDiff(d) {
    stopLog();
    const key = `${d.id}:${d.status}:${d.commit || ''}:${d.merged || ''}`;
    if (diffShown === key) return;
    diffShown = key;
    put(body, h('p', { class: 'muted' }, 'Reading the diff…'));
    try {
      const answer = await get(missionPath(mission, 'tasks', d.id, 'diff'));
      if (open?.task === d.id && open.tab === 'diff') put(body, review(answer));
    } catch (e) {
      diffShown = null;
      put(body, h('p', { class: 'empty' }, e.message), e.hint ? h('p', { class: 'muted' }, e.hint) : null);
    }
  }

  function stopLog() {
    follower?.stop();
    follower = null;
  }

  return {
    show(to) {
      const same = open && to.task === open.task;
      open = to.task ? { task: to.task, tab: to.tab || 'log', attempt: to.attempt } : null;
      if (!open) { stopLog(); detail = null; return showNothing(); }
      if (same && detail) render();
      load();
    },
    /** Something happened in the mission: bring the open task up to date. */
    refresh() { load(); },
    destroy() { stopLog(); },
  };
}

function info(d) {
  const list = (items) => (items?.length ? h('ul', {}, ...items.map((i) => h('li', {}, i))) : h('p', { class: 'muted' }, '–'));
  return h('div', { class: 'info' },
    h('h3', {}, 'What it does'), h('p', { class: 'pre' }, d.description || '–'),
    h('h3', {}, 'Acceptance'), list(d.acceptance),
    h('h3', {}, 'Checks'), d.checks?.length
      ? h('ul', {}, ...d.checks.map((c) => h('li', { class: c.passed ? 'ok' : 'bad' }, `${c.passed ? '✓' : '✗'} ${c.gate} (attempt ${c.attempt})`, c.reasons?.length ? `: ${c.reasons.join('; ')}` : '')))
      : h('p', { class: 'muted' }, d.gates?.length ? `gates: ${d.gates.join(', ')}` : 'no gates'),
    h('h3', {}, 'Decisions and artifacts'), list([...(d.decisions || []), ...(d.artifacts || []).map((a) => `artifact ${a}`)]),
    d.blockers?.length ? h('h3', {}, 'Blockers') : null, d.blockers?.length ? list(d.blockers) : null,
    h('h3', {}, 'Git'), h('p', { class: 'mono' }, d.commit ? `commit ${d.commit.slice(0, 12)}` : 'no commit',
      d.merged ? ` · merged ${d.merged.slice(0, 12)}` : '', d.conflict ? ` · conflict in ${d.conflict.join(', ')}` : ''));
}

/** Reads a log from where the last answer ended until it is complete. */
function follow(url, pre, state) {
  let offset = 0;
  let stopped = false;
  let busy = false;
  let timer = null;
  const decoder = new TextDecoder();
  async function pull() {
    if (busy || stopped) return;
    busy = true;
    clearTimeout(timer);
    let complete = false;
    try {
      for (;;) {
        const response = await fetch(`${url}?offset=${offset}`);
        if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          state.textContent = body.error || response.statusText;
          state.className = 'log-state bad';
          stopped = true;
          return;
        }
        const bytes = await response.arrayBuffer();
        if (stopped) return;
        const text = decoder.decode(bytes, { stream: true }).replace(ANSI, '');
        if (text) {
          // Stay at the bottom if the reader was there; leave them where
          // they scrolled otherwise.
          const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
          pre.append(text);
          if (atEnd) pre.scrollTop = pre.scrollHeight;
        }
        offset = Number(response.headers.get('x-log-next'));
        complete = response.headers.get('x-log-complete') === 'true';
        if (complete || bytes.byteLength === 0) break;
      }
    } finally {
      busy = false;
    }
    if (complete) {
      state.textContent = offset ? `end of log · ${offset} bytes` : 'it printed nothing';
      state.className = 'log-state';
      stopped = true;
    } else {
      state.textContent = 'following';
      state.className = 'log-state live';
      timer = setTimeout(pull, LOG_EVERY_MS);
    }
  }
  pull();
  return { poke: pull, stop() { stopped = true; clearTimeout(timer); } };
}

// Its own mission's tasks, then other missions' (`billing/API`), each of
// those with where it stands: the person sees at once which mission holds
// the task up.
function waitsFor(d) {
  const other = (d.external ?? []).map((w) => {
    const where = w.state === 'waiting' ? 'waiting' : w.state === 'succeeded' ? `done in ${w.mission}` : `failed: ${w.reason}`;
    return `${w.on} (${where})`;
  });
  const all = [...d.depends_on, ...other];
  return all.length ? all.join(', ') : '–';
}
