// One mission: where it stands (progress, spend, ETA, critical path), its
// escalations, its task graph, its agents' lanes, its costs, and the open
// task. Fed live by the mission's event feed: each event (they come in
// bursts) asks for a refresh, and refreshes run one at a time, so the
// page is never more than one round of requests behind the record.

import { follow, get, missionPath } from './api.js';
import { h, put } from './dom.js';
import { ago, count, duration, hours, money } from './format.js';
import { pill, progress } from './missions.js';
import { dag } from './dag.js';
import { lanes } from './lanes.js';
import { taskPanel } from './task.js';
import { escalations } from './escalations.js';

/** Statuses after which no run is adding to a mission's record. */
const FINISHED = ['succeeded', 'failed', 'aborted'];

/** A failed mission with an escalation open may still get another round
 * from a decision, once `techlead resume` runs: the page keeps looking. */
function decidable(d) {
  return d.mission.status === 'failed' && d.escalations.some((e) => !e.resolved_at);
}

/** A refresh now and then even without events: times move, and an event
 *  type the page does not know yet is not missed for long. */
const TICK_MS = 1000;
const SLOW_REFRESH_MS = 5000;

export function missionView(root, to) {
  const id = to.mission;
  const live = document.getElementById('live');
  const summary = h('section', { class: 'summary card' }, h('p', { class: 'muted' }, 'Loading…'));
  const escalationBox = h('section', { class: 'card attention', hidden: true });
  const graph = h('div', { class: 'graph-scroll' });
  const legend = h('p', { class: 'legend' },
    ...['pending', 'queued', 'running', 'retrying', 'checking', 'succeeded', 'failed', 'blocked', 'skipped'].map((st) =>
      h('span', { class: `key st-${st}` }, st)),
    h('span', { class: 'key crit' }, 'critical path'));
  const laneBox = h('div', { class: 'lanes-box' });
  const costBox = h('div', { class: 'costs' });
  const panel = h('aside', { class: 'card task-panel' });
  put(root, summary, escalationBox,
    h('div', { class: 'columns' },
      h('div', { class: 'left' },
        h('section', { class: 'card' }, h('h2', {}, 'Tasks'), graph, legend),
        h('section', { class: 'card' }, h('h2', {}, 'Agents'), laneBox),
        h('section', { class: 'card' }, h('h2', {}, 'Costs'), costBox)),
      panel));

  let data = null;
  let graphView = null;
  let graphSize = 0;
  let escalationView = null;
  let selected = to;
  let stopFeed = null;
  let refreshing = null;
  let again = false;
  let stopped = false;
  let lastRefresh = 0;
  const tasks = taskPanel(panel, id, (hash) => (location.hash = hash));

  function select(task) {
    location.hash = `#/m/${encodeURIComponent(id)}/t/${encodeURIComponent(task)}`;
  }

  async function refresh() {
    if (refreshing) { again = true; return refreshing; }
    refreshing = (async () => {
      do {
        again = false;
        lastRefresh = Date.now();
        const [mission, list, outlook, attempts, escalated, costs] = await Promise.all([
          get(missionPath(id)), get(missionPath(id, 'tasks')), get(missionPath(id, 'outlook')),
          get(missionPath(id, 'attempts')), get(missionPath(id, 'escalations')), get(missionPath(id, 'costs')),
        ]);
        if (stopped) return;
        data = { mission, tasks: list, outlook, attempts: attempts.attempts, escalations: escalated, costs };
        render();
        if (FINISHED.includes(mission.status)) {
          // No run adds to it now: the feed has ended or is about to.
          stopFeed?.();
          stopFeed = null;
          setLive(decidable(data) ? 'decidable' : 'finished');
        } else if (!stopFeed) {
          startFeed();
        }
      } while (again && !stopped);
    })().catch((e) => {
      if (e.status !== 401) put(summary, h('p', { class: 'form-error' }, e.message), e.hint ? h('p', { class: 'muted' }, e.hint) : null);
    }).finally(() => { refreshing = null; });
    return refreshing;
  }

  function render() {
    const { mission, tasks: list, outlook } = data;
    renderSummary();
    // A split task adds its parts to the plan: the graph is drawn again.
    if (!graphView || graphSize !== mission.plan.tasks.length) {
      graphView = dag(graph, mission.plan, select);
      graphSize = mission.plan.tasks.length;
    }
    graphView.update(list, outlook.critical_path.tasks, selected.task);
    renderLanes();
    renderCosts();
    // Reassign offers the plan's agents, those its tasks name included.
    const agents = [...new Set([...mission.plan.agents, ...mission.plan.tasks.map((t) => t.agent)])].sort();
    if (!escalationView) escalationView = escalations(escalationBox, id, agents);
    escalationView.update(data.escalations);
    escalationBox.hidden = data.escalations.length === 0;
  }

  function renderSummary() {
    const { mission: m, outlook: o } = data;
    const c = m.counts;
    const spend = m.spend;
    const budget = spend.budget?.usd ?? null;
    // An ETA only while the mission moves: paused, it waits for the person.
    // It is the forecast's P50 (docs/forecast.md); a slip past the
    // baseline the run recorded is flagged.
    const f = o.forecast;
    const eta = FINISHED.includes(m.status) ? 'finished'
      : m.status !== 'running' ? m.status
        : o.eta_seconds != null ? `~${duration(o.eta_seconds * 1000)}` : '–';
    const etaNote = m.status !== 'running' || !f ? null
      : f.slip != null ? `P90 ${duration(f.p90_hours * 3600000)} · slipped ${Math.round(f.slip * 100)}% past the baseline`
        : `forecast P50 · P90 ${duration(f.p90_hours * 3600000)}`;
    const path = o.critical_path;
    put(summary,
      h('div', { class: 'title-row' },
        h('h1', {}, m.name, ' ', h('span', { class: 'muted mono' }, m.id)), pill(m.status),
        h('span', { class: 'muted small push' }, `run ${m.runs} · updated ${ago(m.updated_at)}`)),
      m.objective ? h('p', { class: 'objective' }, m.objective) : null,
      h('div', { class: 'progress-row' }, progress(c, m.tasks),
        h('span', { class: 'strong' }, `${o.progress.succeeded} of ${m.tasks} succeeded`)),
      h('dl', { class: 'stats' },
        stat('running', c.running + c.checking + c.queued, c.queued ? `${c.queued} queued` : null),
        stat('failed', c.failed, c.blocked ? `${c.blocked} blocked` : null, c.failed ? 'bad' : ''),
        stat('spend', money(spend.cost_usd), budget ? `of ${money(budget)}` : `${count(spend.tokens)} tokens`),
        stat('ETA', eta, etaNote, f?.slip != null ? 'warn' : ''),
        stat('critical path', path.tasks.length ? `${path.tasks.length} task${path.tasks.length === 1 ? '' : 's'}` : 'done',
          path.tasks.length ? `${hours(path.hours)} by estimate${path.unestimated.length ? ` (${path.unestimated.length} unestimated)` : ''}` : null),
        stat('escalations', m.escalations.open, `${m.escalations.raised} raised`, m.escalations.open ? 'warn' : '')),
      path.tasks.length ? h('p', { class: 'path muted small' }, 'critical: ', ...path.tasks.flatMap((t, i) => [i ? ' → ' : '',
        h('a', { href: `#/m/${encodeURIComponent(id)}/t/${encodeURIComponent(t)}`, class: 'mono' }, t)])) : null);
  }

  function renderLanes() {
    const agents = [...new Set(data.mission.plan.tasks.map((t) => t.agent))];
    lanes(laneBox, agents, data.attempts, Date.now(), (task, n) => {
      location.hash = `#/m/${encodeURIComponent(id)}/t/${encodeURIComponent(task)}/log/${n}`;
    });
  }

  function renderCosts() {
    const c = data.costs;
    const table = (title, rows) => {
      const most = Math.max(1e-9, ...rows.map((r) => r.cost_usd));
      return h('table', { class: 'grid cost' },
        h('thead', {}, h('tr', {}, h('th', {}, title), h('th', { class: 'num' }, 'attempts'), h('th', { class: 'num' }, 'tokens'), h('th', { class: 'num' }, 'cost'), h('th', { class: 'wide' }))),
        h('tbody', {}, ...rows.map((r) => {
          const bar = h('span', { class: 'cost-bar' });
          bar.style.width = `${(r.cost_usd * 100) / most}%`;
          return h('tr', {}, h('td', { class: 'mono' }, r.name), h('td', { class: 'num' }, r.attempts),
            h('td', { class: 'num' }, count(r.input_tokens + r.output_tokens)), h('td', { class: 'num' }, money(r.cost_usd)),
            h('td', { class: 'wide' }, bar));
        })));
    };
    put(costBox,
      h('p', { class: 'muted small' }, `total ${money(c.total.cost_usd)} · ${count(c.total.input_tokens)} in, ${count(c.total.output_tokens)} out`),
      h('div', { class: 'cost-tables' }, table('agent', c.by_agent), table('task', c.by_task)));
  }

  function setLive(state) {
    live.hidden = false;
    live.dataset.state = state;
    live.textContent = { live: 'live', reconnecting: 'reconnecting…', finished: 'finished', decidable: 'finished · waiting for your decision', closed: 'disconnected' }[state] || state;
  }

  /** Follows the mission's events from the last one shown. */
  function startFeed() {
    stopFeed = follow(id, data.mission.last_seq, (record) => {
      escalationView?.onEvent(record.event);
      refresh().then(() => {
        if (record.event.task && record.event.task === selected.task) tasks.refresh();
        else if (record.event.type === 'mission_finished') tasks.refresh();
      });
    }, setLive);
  }

  const tick = setInterval(() => {
    if (!data || stopped) return;
    if (FINISHED.includes(data.mission.status) && !decidable(data)) return;
    if (Date.now() - lastRefresh > SLOW_REFRESH_MS) refresh();
    else { renderSummary(); renderLanes(); }
  }, TICK_MS);

  // The first refresh starts the feed of a mission a run may add to.
  refresh().then(() => {
    if (stopped || !data) return;
    tasks.show(selected);
  });

  let resized = null;
  const onResize = () => { clearTimeout(resized); resized = setTimeout(() => data && renderLanes(), 100); };
  addEventListener('resize', onResize);

  return {
    select(next) {
      selected = next;
      if (data) graphView?.update(data.tasks, data.outlook.critical_path.tasks, selected.task);
      tasks.show(next);
    },
    destroy() {
      stopped = true;
      clearInterval(tick);
      removeEventListener('resize', onResize);
      stopFeed?.();
      tasks.destroy();
      live.hidden = true;
    },
  };
}

function stat(label, value, note, tone = '') {
  return h('div', { class: `stat ${tone}` }, h('dt', {}, label), h('dd', {}, h('span', { class: 'value' }, value), note ? h('span', { class: 'note' }, note) : null));
}
