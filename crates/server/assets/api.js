// The server's API as the page uses it: same-origin requests carrying the
// session cookie (set by POST /api/session), JSON answers, and the live
// feed through EventSource, which resumes by itself with Last-Event-ID.

export class ApiError extends Error {
  constructor(status, error, hint) {
    super(error);
    this.status = status;
    this.hint = hint;
  }
}

function failed(response, body) {
  if (response.status === 401) dispatchEvent(new Event('techlead:signed-out'));
  return new ApiError(response.status, body?.error || response.statusText, body?.hint);
}

export async function get(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json' } });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw failed(response, body);
  return body;
}

export async function post(path, payload) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(payload),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw failed(response, body);
  return body;
}

/** Trades the token for the session cookie; true when it was the right one. */
export async function signIn(token) {
  const response = await fetch('/api/session', {
    method: 'POST',
    headers: { Authorization: `Bearer ${token.trim()}` },
  });
  return response.ok;
}

export async function signOut() {
  await fetch('/api/session', { method: 'DELETE' });
}

export function missionPath(id, ...rest) {
  return ['/api/missions', id, ...rest].map(encodeURIComponent).join('/').replace(/%2F/g, '/');
}

/**
 * Follows a mission's events after seq `after`: `onEvent(record)` for each,
 * `onState('live' | 'reconnecting' | 'finished')` as the connection goes.
 * Returns a function that stops following.
 */
export function follow(id, after, onEvent, onState) {
  const source = new EventSource(`${missionPath(id, 'stream')}?after=${after}`);
  let finished = false;
  source.onopen = () => onState('live');
  source.onerror = () => {
    // The server ends the feed after `mission_finished`; anything else is
    // a dropped connection the browser retries on its own.
    if (!finished) onState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  };
  const handler = (e) => onEvent(JSON.parse(e.data));
  source.onmessage = handler;
  // SSE hands a named event only to listeners of that name: these are
  // the names the feed uses (each event's type). The mission view also
  // refreshes now and then, so a type added later is not missed for long.
  for (const type of EVENT_TYPES) source.addEventListener(type, handler);
  return () => {
    finished = true;
    source.close();
  };
}

const EVENT_TYPES = [
  'mission_created', 'run_started', 'attempt_queued', 'attempt_started', 'attempt_withdrawn',
  'attempt_progress', 'attempt_reported', 'attempt_finished', 'work_saved', 'task_gate_finished',
  'task_accepted', 'merge_conflicted', 'attempt_usage', 'executor_paused', 'handoff_incomplete',
  'task_blocked', 'phase_gate_finished', 'done_checked', 'dispatch_paused', 'budget_changed',
  'dispatch_resumed', 'escalation_raised', 'escalation_resolved', 'task_reopened', 'task_skipped',
  'decision_refused', 'forecast_baseline', 'forecast_slipped', 'run_interrupted', 'mission_finished',
];
