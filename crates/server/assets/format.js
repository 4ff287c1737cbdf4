// How numbers and times read on the dashboard, as the terminal writes
// them: short durations, dollars, local clock times.

export function duration(ms) {
  if (ms == null || !isFinite(ms)) return '–';
  const total = Math.max(0, Math.round(ms / 1000));
  if (total < 60) return `${total}s`;
  const m = Math.floor(total / 60);
  if (m < 60) return `${m}m ${String(total % 60).padStart(2, '0')}s`;
  const hours = Math.floor(m / 60);
  return `${hours}h ${String(m % 60).padStart(2, '0')}m`;
}

export function ago(at, now = Date.now()) {
  if (!at) return '–';
  const ms = now - Date.parse(at);
  if (ms < 5000) return 'just now';
  return `${duration(ms)} ago`;
}

export function money(usd) {
  if (!usd) return '$0';
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function count(n) {
  if (n == null) return '–';
  if (n < 1000) return String(n);
  if (n < 1e6) return `${(n / 1000).toFixed(n < 1e4 ? 1 : 0)}k`;
  return `${(n / 1e6).toFixed(1)}M`;
}

export function clock(at) {
  if (!at) return '–';
  return new Date(at).toLocaleTimeString([], { hour12: false });
}

export function hours(h) {
  if (h == null) return '–';
  return h < 1 ? `${Math.round(h * 60)} min` : `${h.toFixed(h < 10 ? 1 : 0)} h`;
}

/** The kind of an attempt's outcome, or `running`/`queued` while it has none. */
export function outcomeKind(attempt) {
  if (attempt.outcome) return attempt.outcome.kind;
  return attempt.started_at ? 'running' : 'queued';
}

export function outcomeText(attempt) {
  const o = attempt.outcome;
  if (!o) return attempt.started_at ? 'running' : 'queued';
  const words = o.kind.replace(/_/g, ' ');
  if (o.kind === 'failed') {
    const code = o.exit_code != null ? ` (exit ${o.exit_code})` : o.signal != null ? ` (signal ${o.signal})` : '';
    return `failed${code}${o.message ? ': ' + o.message : ''}`;
  }
  return o.message ? `${words}: ${o.message}` : words;
}
