// The mission's tasks as a graph drawn left to right: a column per layer
// (a task sits one column right of the last thing it waits for: its
// dependencies, and the previous phase), each column ordered to keep
// edges short. The layout depends on the plan alone, which never changes,
// so it is made once: live updates change colours and labels, never
// positions.

import { s } from './dom.js';

const W = 176;
const H = 46;
const GAP_X = 44;
const GAP_Y = 14;
const PAD = 12;

/** Layers and order for the plan summary's tasks. */
export function layout(plan) {
  const tasks = plan.tasks;
  const index = new Map(tasks.map((t, i) => [t.id, i]));
  const phaseOrder = new Map(plan.phases.map((p, i) => [p.name, i]));
  const byPhase = plan.phases.map(() => []);
  tasks.forEach((t, i) => {
    if (t.phase != null && phaseOrder.has(t.phase)) byPhase[phaseOrder.get(t.phase)].push(i);
  });
  const deps = tasks.map((t) => t.depends_on.map((d) => index.get(d)).filter((d) => d != null));
  const waits = tasks.map((t, i) => {
    const all = [...deps[i]];
    const p = phaseOrder.get(t.phase);
    if (p != null) {
      for (let q = p - 1; q >= 0; q--) {
        if (byPhase[q].length) { all.push(...byPhase[q]); break; }
      }
    }
    return all;
  });
  const layer = new Array(tasks.length).fill(-1);
  const visit = (i, seen) => {
    if (layer[i] >= 0) return layer[i];
    if (seen.has(i)) return 0; // a cycle, which validation refuses anyway
    seen.add(i);
    layer[i] = waits[i].reduce((m, d) => Math.max(m, visit(d, seen) + 1), 0);
    return layer[i];
  };
  tasks.forEach((_, i) => visit(i, new Set()));
  const columns = [];
  tasks.forEach((_, i) => (columns[layer[i]] ||= []).push(i));
  // Two sweeps of the barycentre heuristic: each task moves toward the
  // mean row of what it waits for.
  const row = new Array(tasks.length).fill(0);
  columns.forEach((col) => col.forEach((t, r) => (row[t] = r)));
  for (let sweep = 0; sweep < 2; sweep++) {
    for (const col of columns.slice(1)) {
      const weight = (t) => (deps[t].length ? deps[t].reduce((a, d) => a + row[d], 0) / deps[t].length : row[t]);
      const keyed = col.map((t) => [weight(t), t]);
      keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      col.splice(0, col.length, ...keyed.map((k) => k[1]));
      col.forEach((t, r) => (row[t] = r));
    }
  }
  const tallest = Math.max(1, ...columns.map((c) => c.length));
  const height = PAD * 2 + tallest * H + (tallest - 1) * GAP_Y;
  const at = tasks.map((_, t) => {
    const col = columns[layer[t]];
    const top = (height - (col.length * H + (col.length - 1) * GAP_Y)) / 2;
    return { x: PAD + layer[t] * (W + GAP_X), y: top + row[t] * (H + GAP_Y) };
  });
  const width = PAD * 2 + columns.length * W + (columns.length - 1) * GAP_X;
  return { at, deps, width, height };
}

/** Draws the graph once; `update` recolours it. */
export function dag(container, plan, onSelect) {
  const { at, deps, width, height } = layout(plan);
  // Drawn to fit the card's width, never larger than its own size: a
  // wide graph shrinks a little rather than hide columns behind a scroll.
  const svg = s('svg', {
    class: 'dag', viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'xMinYMin meet',
    role: 'img', 'aria-label': 'tasks and their dependencies',
  });
  svg.style.maxWidth = `${width}px`;
  const edges = s('g', { class: 'edges' });
  const nodes = s('g', { class: 'nodes' });
  svg.append(edges, nodes);
  const edgeEls = [];
  plan.tasks.forEach((_, t) => {
    for (const d of deps[t]) {
      const x1 = at[d].x + W, y1 = at[d].y + H / 2, x2 = at[t].x, y2 = at[t].y + H / 2;
      const mid = (x1 + x2) / 2;
      const path = s('path', { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, class: 'edge' });
      edges.append(path);
      edgeEls.push({ from: d, to: t, path });
    }
  });
  const nodeEls = plan.tasks.map((task, t) => {
    const { x, y } = at[t];
    const status = s('text', { x: x + 14, y: y + 39, class: 'n-status' });
    const bar = s('rect', { x: x + 8, y: y + H - 3, height: 2, width: 0, class: 'n-progress' });
    const g = s('g', {
      class: 'node', tabindex: 0, role: 'button', 'data-task': task.id,
      'aria-label': `${task.id}: ${task.title}`,
    },
    s('title', {}, `${task.id}: ${task.title}\nagent ${task.agent}`),
    s('rect', { x, y, width: W, height: H, rx: 5, class: 'n-box' }),
    s('rect', { x, y, width: 5, height: H, rx: 2, class: 'n-strip' }),
    s('text', { x: x + 14, y: y + 16, class: 'n-id' }, clip(task.id, 22)),
    s('text', { x: x + 14, y: y + 28, class: 'n-title' }, clip(task.title, 27)),
    status, bar);
    g.addEventListener('click', () => onSelect(task.id));
    g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') onSelect(task.id); });
    nodes.append(g);
    return { g, status, bar };
  });
  container.replaceChildren(svg);

  return {
    /** Colours by status, marks the critical path and the open task. */
    update(tasks, critical, selected) {
      const onPath = new Set(critical);
      tasks.forEach((task, t) => {
        const el = nodeEls[t];
        if (!el) return;
        const classes = ['node', `st-${task.status}`];
        if (onPath.has(task.id)) classes.push('crit');
        if (task.id === selected) classes.push('selected');
        el.g.setAttribute('class', classes.join(' '));
        el.g.dataset.status = task.status;
        el.status.textContent = statusLine(task);
        const percent = task.status === 'running' ? task.progress?.percent ?? 0 : 0;
        el.bar.setAttribute('width', ((W - 16) * percent) / 100);
      });
      // Consecutive tasks of the path: its edges are drawn on top.
      const order = new Map(critical.map((id, i) => [id, i]));
      for (const { from, to, path } of edgeEls) {
        const a = order.get(plan.tasks[from].id), b = order.get(plan.tasks[to].id);
        const hot = a != null && b === a + 1;
        path.setAttribute('class', hot ? 'edge crit' : 'edge');
        if (hot) edges.append(path);
      }
    },
  };
}

function statusLine(task) {
  const n = task.attempt_count > 1 ? ` · try ${task.attempt_count}` : '';
  if (task.status === 'running' && task.progress?.percent != null) return `running ${task.progress.percent}%${n}`;
  if (task.status === 'blocked' && task.blocked_by) return clip(`blocked by ${task.blocked_by}`, 28);
  return `${task.status}${n} · ${clip(task.agent, 16)}`;
}

function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}
