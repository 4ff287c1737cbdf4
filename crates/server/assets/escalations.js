// The mission's escalations and what the person can answer. An open one
// shows its options as buttons (retry, skip, reassign to another agent,
// abort), a note, and what became of the decision sent: recorded by the
// server, then carried out by the mission's run (`escalation_resolved`)
// or refused (`decision_refused`). Each escalation's block is made once
// and updated in place, so a note being typed survives live updates.

import { post, missionPath } from './api.js';
import { h, put } from './dom.js';
import { clock } from './format.js';

const ACTIONS = ['retry', 'split', 'skip', 'reassign', 'approve', 'abort'];
const WHAT = {
  retry: 'Another round for its tasks, with fresh retries',
  split: 'Split its failed task into the parts its agent proposed (named in the message); the task then finishes what remains',
  skip: 'Go on without its failed tasks: their dependents start',
  reassign: 'Another round for its tasks, on another agent',
  approve: 'Accept it as it is: the work merges without its gates, or the check counts as met',
  abort: 'Stop the mission for good',
};

export function escalations(root, mission, agents) {
  const blocks = new Map(); // escalation id -> { el, update }
  const decisions = new Map(); // escalation id -> { id, action, state, reason }
  const list = h('div', { class: 'escalations' });
  put(root, list);

  function block(e) {
    const note = h('input', { type: 'text', class: 'note', placeholder: 'a note for the record (optional)', 'aria-label': 'note' });
    const agent = h('select', { 'aria-label': 'agent to reassign to' }, ...agents.map((a) => h('option', { value: a }, a)));
    const status = h('p', { class: 'decision', role: 'status' });
    const buttons = h('div', { class: 'actions' });
    const others = e.options.filter((o) => !ACTIONS.includes(o));
    for (const action of e.options.filter((o) => ACTIONS.includes(o))) {
      const button = h('button', { type: 'button', class: action === 'abort' ? 'danger' : action === 'retry' ? 'primary' : '', 'data-action': action, title: WHAT[action] },
        action === 'reassign' ? 'Reassign to' : action[0].toUpperCase() + action.slice(1));
      button.addEventListener('click', () => decide(e, action, button));
      buttons.append(h('span', { class: 'action' }, button, action === 'reassign' ? agent : null));
    }
    const el = h('article', { class: 'escalation', 'data-escalation': e.id },
      h('header', {}, h('span', { class: 'kind' }, e.kind.replace(/-/g, ' ')), h('span', { class: 'muted' }, `#${e.id} · raised ${clock(e.raised_at)}`),
        h('span', { class: 'resolved muted' })),
      h('p', { class: 'message' }, e.message),
      e.tasks.length ? h('p', { class: 'muted' }, 'tasks: ', ...e.tasks.flatMap((t, i) => [i ? ', ' : '', h('a', { href: `#/m/${encodeURIComponent(mission)}/t/${encodeURIComponent(t)}`, class: 'mono' }, t)])) : null,
      h('div', { class: 'answer' }, buttons, note),
      others.length ? h('p', { class: 'muted small' }, `Also: ${others.join(' · ')} — from the terminal.`) : null,
      status);
    let armed = null;
    async function decide(esc, action, button) {
      // Abort ends the mission: it asks twice.
      if (action === 'abort' && armed !== button) {
        armed = button;
        button.textContent = 'Confirm abort';
        return;
      }
      const payload = { action };
      if (action === 'reassign') payload.agent = agent.value;
      if (note.value.trim()) payload.note = note.value.trim();
      for (const b of buttons.querySelectorAll('button')) b.disabled = true;
      status.className = 'decision';
      status.textContent = `Sending ${action}…`;
      try {
        const answer = await post(missionPath(mission, 'escalations', String(esc.id), 'decisions'), payload);
        decisions.set(esc.id, { id: answer.decision, action, state: 'recorded' });
      } catch (err) {
        decisions.set(esc.id, { action, state: 'failed', reason: err.hint ? `${err.message} (${err.hint})` : err.message });
      }
      update(esc);
    }
    function update(now) {
      const d = decisions.get(now.id);
      const open = !now.resolved_at;
      el.classList.toggle('open', open);
      el.querySelector('.answer').hidden = !open || d?.state === 'recorded';
      el.querySelector('.resolved').textContent = open ? '' : `· resolved ${clock(now.resolved_at)}`;
      for (const b of buttons.querySelectorAll('button')) b.disabled = false;
      if (!d) {
        status.textContent = '';
        return;
      }
      const sent = d.id != null ? `Decision ${d.id} (${d.action})` : `${d.action[0].toUpperCase()}${d.action.slice(1)}`;
      status.dataset.state = d.state;
      status.className = `decision ${d.state}`;
      status.textContent = {
        recorded: `${sent} recorded; waiting for the mission’s run to carry it out.`,
        applied: `${sent} carried out.`,
        refused: `${sent} refused: ${d.reason}`,
        failed: `Not sent: ${d.reason}`,
      }[d.state];
    }
    return { el, update };
  }

  return {
    update(all) {
      // Open ones first, then the newest.
      const sorted = [...all].sort((a, b) => (!a.resolved_at - !b.resolved_at) * -1 || b.id - a.id);
      for (const e of sorted) {
        if (!blocks.has(e.id)) blocks.set(e.id, block(e));
        const b = blocks.get(e.id);
        b.last = e;
        b.update(e);
        list.append(b.el);
      }
      root.hidden = all.length === 0;
    },
    /** What the feed says of decisions; shown at once, whichever of the
     * event and the refreshed list arrives first. */
    onEvent(event) {
      const id = event.type === 'escalation_resolved' ? event.id : event.escalation;
      this.note(event);
      const b = blocks.get(id);
      if (b?.last) b.update(b.last);
    },
    note(event) {
      if (event.type === 'escalation_resolved') {
        const d = decisions.get(event.id);
        const action = event.decision?.action || 'decision';
        if (!d || d.id == null || event.request == null || event.request === d.id) {
          decisions.set(event.id, { id: event.request ?? d?.id, action, state: 'applied' });
        }
      } else if (event.type === 'decision_refused') {
        const d = decisions.get(event.escalation);
        if (d && (d.id == null || d.id === event.request)) {
          decisions.set(event.escalation, { ...d, state: 'refused', reason: event.reason });
        }
      }
    },
  };
}
