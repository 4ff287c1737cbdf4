// A lane per agent, a bar per attempt along one time axis: the thin part
// is the wait from queued to started, the thick part the run, coloured by
// how it ended (still growing while it runs). Every agent of the plan has
// its lane from the start, so lanes never appear or move as work begins.

import { s } from './dom.js';
import { duration, outcomeKind, outcomeText, clock } from './format.js';

const LABEL = 150;
const LANE = 26;
const AXIS = 22;
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400];

export function lanes(container, agents, attempts, now, onSelect) {
  const names = [...new Set([...agents, ...attempts.map((a) => a.agent)])].sort();
  const width = Math.max(480, container.clientWidth || 800);
  const plot = width - LABEL - 12;
  const height = AXIS + names.length * LANE + 4;
  const times = attempts.flatMap((a) => [a.queued_at, a.started_at, a.finished_at]).filter(Boolean).map(Date.parse);
  const running = attempts.some((a) => !a.finished_at);
  const t0 = times.length ? Math.min(...times) : now;
  const t1 = Math.max(t0 + 1000, ...(running ? [now] : []), ...times);
  const x = (t) => LABEL + ((t - t0) / (t1 - t0)) * plot;
  const svg = s('svg', { class: 'lanes', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'attempts per agent over time' });
  const span = (t1 - t0) / 1000;
  const step = STEPS.find((st) => span / st <= 7) || 86400;
  for (let k = 0; k * step <= span; k++) {
    const tx = x(t0 + k * step * 1000);
    svg.append(
      s('line', { x1: tx, x2: tx, y1: AXIS - 4, y2: height, class: 'tick' }),
      s('text', { x: tx + 3, y: 12, class: 'axis' }, k === 0 ? clock(new Date(t0).toISOString()) : `+${duration(k * step * 1000)}`));
  }
  names.forEach((agent, i) => {
    const y = AXIS + i * LANE;
    svg.append(
      s('rect', { x: 0, y, width, height: LANE, class: i % 2 ? 'lane odd' : 'lane' }),
      s('text', { x: 8, y: y + 17, class: 'lane-name' }, agent.length > 20 ? `${agent.slice(0, 19)}…` : agent));
  });
  for (const a of attempts) {
    const lane = names.indexOf(a.agent);
    const y = AXIS + lane * LANE;
    const q = Date.parse(a.queued_at);
    const st = a.started_at ? Date.parse(a.started_at) : null;
    const end = a.finished_at ? Date.parse(a.finished_at) : now;
    const kind = outcomeKind(a);
    const g = s('g', { class: `attempt oc-${kind}`, 'data-task': a.task, 'data-attempt': a.number, role: 'button', tabindex: 0 });
    const took = a.duration_ms ?? (st ? end - st : null);
    g.append(s('title', {}, `${a.task} #${a.number} · ${a.agent}\n${outcomeText(a)}\nqueued ${clock(a.queued_at)}, started ${clock(a.started_at)}, finished ${clock(a.finished_at)}${took != null ? `\nran ${duration(took)}` : ''}`));
    const waitEnd = st ?? end;
    g.append(s('rect', { x: x(q), y: y + 12, width: Math.max(1, x(waitEnd) - x(q)), height: 2, class: 'wait' }));
    if (st != null) {
      const bw = Math.max(3, x(end) - x(st));
      g.append(s('rect', { x: x(st), y: y + 5, width: bw, height: LANE - 10, rx: 3, class: 'run' }));
      if (bw > 46) g.append(s('text', { x: x(st) + 5, y: y + 17, class: 'run-label' }, `${a.task}${a.number > 1 ? ` #${a.number}` : ''}`));
    }
    g.addEventListener('click', () => onSelect(a.task, a.number));
    svg.append(g);
  }
  container.replaceChildren(svg);
}
