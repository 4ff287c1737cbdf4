// The portfolio panel of the mission list: each agent's allocation across
// the missions under way as a bar (GET /api/portfolio), over-allocation
// highlighted; each mission's standing among those sharing agents
// (priority, share) and what it waits for in other missions; and the
// portfolio's risks. Hidden while nothing is under way. The list
// refreshes it with itself.

import { get } from './api.js';
import { h, put } from './dom.js';

export function portfolioPanel() {
  const rows = h('div', { class: 'alloc-rows' });
  const missions = h('ul', { class: 'portfolio-missions' });
  const risks = h('ul', { class: 'alloc-risks' });
  const note = h('p', { class: 'muted small' });
  const panel = h('section', { class: 'card portfolio', hidden: true },
    h('h2', {}, 'Portfolio: allocation per agent'), note, rows,
    h('h3', {}, 'Missions, first served first'), missions, risks);

  async function load() {
    const p = await get('/api/portfolio').catch(() => null);
    panel.hidden = !p || p.agents.length === 0;
    if (panel.hidden) return;
    put(note, `${p.missions.length} missions under way · alert over ${p.threshold}% · `,
      'the tightest window before a deadline (or the ', `${p.horizon_hours} h horizon) counts`);
    put(rows, ...p.agents.map(agentRow));
    put(missions, ...[...p.missions].sort(byStanding).map(missionRow));
    put(risks, ...p.risks.map((r) => h('li', { class: `risk lvl-${r.level}` },
      h('span', { class: 'strong' }, `${r.level} · ${r.kind}`), ' ', r.message,
      h('div', { class: 'muted small' }, `→ ${r.mitigation}`))));
  }
  return { element: panel, load };
}

function agentRow(a) {
  const percent = a.percent == null ? null : Math.round(a.percent);
  const fill = h('span', { class: 'alloc-fill' });
  fill.style.width = `${Math.min(percent ?? 100, 100)}%`;
  const label = percent == null ? 'overdue' : `${percent}%`;
  const missions = a.missions.map((s) => `${s.mission} (${hours(s.hours)})`).join(', ');
  return h('div', { class: `alloc-row${a.over ? ' over' : ''}`, 'data-agent': a.agent },
    h('span', { class: 'strong' }, a.agent),
    h('div', { class: 'bar', role: 'img', 'aria-label': `${a.agent}: ${label} allocated` }, fill),
    h('span', { class: 'num' }, label, a.over ? ' ⚠' : ''),
    h('span', { class: 'muted small clip', title: missions }, `${hours(a.hours)} left · ${missions}`));
}

// Who takes a shared agent's free slot first: the higher priority, then
// the larger share (docs/portfolio.md, "Shares and priorities").
function byStanding(a, b) {
  return b.priority - a.priority || b.share - a.share || a.id.localeCompare(b.id);
}

function missionRow(m) {
  const standing = `priority ${m.priority} · share ${m.share}`;
  const waits = (m.waits_for ?? []).map((w) => h('div', { class: `wait ${w.state}` },
    `${w.task} waits for ${w.on}: `, waitState(w)));
  return h('li', { 'data-mission': m.id },
    h('span', { class: 'strong' }, m.name), ' ',
    h('span', { class: 'muted small' }, m.id), ' · ',
    h('span', { class: 'standing' }, standing), ' · ',
    h('span', { class: 'muted' }, `${m.tasks} task${m.tasks === 1 ? '' : 's'}, ${hours(m.hours)} left`),
    ...waits);
}

function waitState(w) {
  if (w.state === 'succeeded') return `succeeded in ${w.mission}`;
  if (w.state === 'failed') return `cannot succeed: ${w.reason}`;
  return 'waiting';
}

function hours(h) {
  return `${Math.round(h * 10) / 10} h`;
}
