// The dashboard's entry: signs in with the token the address carries,
// then shows the view the address names:
//   #/                          every mission
//   #/m/<mission>               one mission
//   #/m/<mission>/t/<task>      ... with a task open (its log)
//   #/m/<mission>/t/<task>/diff ... on its diff; /log/<n> on attempt n's log
// Moving between tasks of one mission keeps the mission's view (and its
// live feed) and only changes the open task.

import { signIn, signOut } from './api.js';
import { h, put } from './dom.js';
import { missionsView } from './missions.js';
import { missionView } from './mission.js';

const main = document.getElementById('main');
const crumbs = document.getElementById('crumbs');
let current = null;

function parse(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] !== 'm' || !parts[1]) return { view: 'missions' };
  const task = parts[2] === 't' ? parts[3] || null : null;
  const tab = parts[4] === 'diff' ? 'diff' : parts[4] === 'info' ? 'info' : 'log';
  const attempt = parts[4] === 'log' && parts[5] ? Number(parts[5]) : null;
  return { view: 'mission', mission: parts[1], task, tab, attempt };
}

function route() {
  const to = parse(location.hash);
  if (current && to.view === 'mission' && current.mission === to.mission) {
    current.select(to);
    return;
  }
  current?.destroy();
  put(main);
  if (to.view === 'mission') {
    put(crumbs, h('a', { href: '#/' }, 'missions'), h('span', { class: 'sep' }, '/'), h('span', {}, to.mission));
    current = missionView(main, to);
    current.mission = to.mission;
  } else {
    put(crumbs, h('span', {}, 'missions'));
    current = missionsView(main);
  }
}

function signInForm(message) {
  current?.destroy();
  current = null;
  put(crumbs);
  const input = h('input', {
    type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false',
    placeholder: '64 hex digits', 'aria-label': 'token',
  });
  const note = h('p', { class: 'form-error', role: 'alert' }, message || '');
  const form = h('form', { class: 'signin card' },
    h('h1', {}, 'Sign in to this techlead server'),
    h('p', {}, 'Open the address ', h('code', {}, 'techlead serve'),
      ' printed: it carries the token. Or paste the token from ', h('code', {}, 'server.token'),
      ' beside the database.'),
    h('div', { class: 'row' }, input, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
    note);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (await signIn(input.value)) route();
    else note.textContent = 'That is not this server’s token.';
  });
  put(main, form);
  input.focus();
}

addEventListener('techlead:signed-out', () => signInForm('Sign in to go on.'));
addEventListener('hashchange', route);
document.getElementById('sign-out').addEventListener('click', async () => {
  await signOut();
  signInForm('Signed out.');
});

async function start() {
  const token = location.hash.match(/^#token=([0-9a-fA-F]+)/);
  if (token) {
    // The token leaves the address bar and the history at once; the
    // cookie the server sets stands in for it from here on.
    const ok = await signIn(token[1]);
    history.replaceState(null, '', '/#/');
    if (!ok) return signInForm('The address’s token is not this server’s (was it restarted with a new one?).');
  }
  route();
}

start();
