// A task's diff as a code review shows it: what changed in how many
// files, then each file with its hunks, old and new line numbers, and
// added and removed lines coloured.

import { h } from './dom.js';

const LETTER = { added: 'A', deleted: 'D', modified: 'M', renamed: 'R', copied: 'C' };

export function review(answer) {
  const files = answer.files;
  const plus = files.reduce((n, f) => n + f.additions, 0);
  const minus = files.reduce((n, f) => n + f.deletions, 0);
  const root = h('div', { class: 'review' });
  root.append(h('p', { class: 'diff-summary' },
    h('span', { class: 'mono' }, answer.branch), ' since ', h('span', { class: 'mono' }, answer.base.slice(0, 10)), ' · ',
    `${files.length} file${files.length === 1 ? '' : 's'} changed, `,
    h('span', { class: 'plus' }, `+${plus}`), ' ', h('span', { class: 'minus' }, `−${minus}`)));
  if (!files.length) {
    root.append(h('p', { class: 'empty' }, 'No committed changes on the task’s branch yet.'));
    return root;
  }
  root.append(h('ul', { class: 'file-list' }, ...files.map((f, i) => h('li', {},
    h('span', { class: `letter ch-${f.status}`, title: f.status }, LETTER[f.status] || '?'),
    h('a', { href: `#file-${i}`, class: 'mono', onclick: (e) => { e.preventDefault(); root.querySelector(`#file-${i}`)?.scrollIntoView({ block: 'start' }); } },
      f.old_path ? `${f.old_path} → ${f.path}` : f.path),
    h('span', { class: 'counts' }, h('span', { class: 'plus' }, `+${f.additions}`), ' ', h('span', { class: 'minus' }, `−${f.deletions}`))))));
  files.forEach((f, i) => root.append(file(f, i)));
  if (answer.truncated) {
    root.append(h('p', { class: 'notice' }, 'The diff is longer than the page shows; all of it: ', h('code', {}, answer.command)));
  }
  return root;
}

function file(f, i) {
  const section = h('section', { class: 'diff-file', id: `file-${i}` },
    h('header', {}, h('span', { class: `letter ch-${f.status}` }, LETTER[f.status] || '?'),
      h('span', { class: 'mono' }, f.old_path ? `${f.old_path} → ${f.path}` : f.path),
      h('span', { class: 'counts' }, h('span', { class: 'plus' }, `+${f.additions}`), ' ', h('span', { class: 'minus' }, `−${f.deletions}`))));
  if (f.binary) {
    section.append(h('p', { class: 'muted pad' }, 'A binary file: not shown.'));
    return section;
  }
  if (!f.hunks.length) {
    section.append(h('p', { class: 'muted pad' }, f.status === 'renamed' ? 'Renamed without changes.' : 'No lines changed (mode only).'));
    return section;
  }
  const body = h('tbody');
  for (const hunk of f.hunks) {
    body.append(h('tr', { class: 'hunk' }, h('td', { colspan: 4 }, hunk.header)));
    for (const line of hunk.lines) {
      const sign = line.kind === 'add' ? '+' : line.kind === 'del' ? '−' : '';
      body.append(h('tr', { class: `ln ${line.kind}` },
        h('td', { class: 'no' }, line.old ?? ''),
        h('td', { class: 'no' }, line.new ?? ''),
        h('td', { class: 'sign' }, sign),
        h('td', { class: 'code' }, line.text)));
    }
  }
  section.append(h('div', { class: 'scroll' }, h('table', { class: 'diff' }, body)));
  return section;
}
