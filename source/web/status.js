// The /status page: polls this server's /metrics every 2 s, reads the Prometheus text, and shows
// the hub's figures and their last minutes as charts (uPlot, vendored in /status/vendor/ and
// loaded before this module as the global uPlot). With --api-key set, /metrics answers 401 and
// the page asks for a key, which it keeps in sessionStorage only: it goes with the tab.
//
// The parsing and the arithmetic are exported (and need no DOM), so that Node tests them too.

const interval = 2000;
const window10min = (10 * 60 * 1000) / interval; // points kept: the last ten minutes
const lagWindowSeconds = 30; // delivery lag quantiles over the last 30 s: it is sampled
const storageKey = 'herald.status.apiKey';

// ---- The Prometheus text format (0.0.4): samples by family name.

// Reads `name{label="value",...} value [timestamp]` lines; comments and blank lines are skipped.
// Returns a Map from sample name to [{labels, value}].
export function parsePrometheus(text) {
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sample = parseSample(line);
    if (!sample) continue;
    if (!samples.has(sample.name)) samples.set(sample.name, []);
    samples.get(sample.name).push({ labels: sample.labels, value: sample.value });
  }
  return samples;
}

function parseSample(line) {
  const nameEnd = line.search(/[{ ]/);
  if (nameEnd <= 0) return null;
  const name = line.slice(0, nameEnd);
  const labels = {};
  let at = nameEnd;
  if (line[at] === '{') {
    at += 1;
    while (line[at] !== '}') {
      const equals = line.indexOf('="', at);
      if (equals < 0) return null;
      const label = line.slice(at, equals).trim();
      let value = '';
      at = equals + 2;
      for (; at < line.length && line[at] !== '"'; at += 1) {
        if (line[at] === '\\') {
          at += 1;
          value += line[at] === 'n' ? '\n' : line[at];
        } else {
          value += line[at];
        }
      }
      if (at >= line.length) return null;
      labels[label] = value;
      at += 1; // the closing quote
      if (line[at] === ',') at += 1;
    }
    at += 1; // the closing brace
  }
  const [valueText] = line.slice(at).trim().split(/\s+/);
  const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
  return Number.isNaN(value) && valueText !== 'NaN' ? null : { name, labels, value };
}

// The value of the sample `name` whose labels include `labels`; undefined when there is none.
export function valueOf(samples, name, labels = {}) {
  const found = (samples.get(name) ?? []).find((sample) =>
    Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  return found?.value;
}

// A histogram's cumulative buckets, [{le, count}] by increasing le (the last is Infinity).
export function bucketsOf(samples, name) {
  return (samples.get(`${name}_bucket`) ?? [])
    .map(({ labels, value }) => ({ le: labels.le === '+Inf' ? Infinity : Number(labels.le), count: value }))
    .sort((a, b) => a.le - b.le);
}

// The q-quantile of what a histogram observed between two scrapes of its buckets (the earlier
// may be null: since the start), interpolated within its bucket as PromQL's histogram_quantile
// does; null when nothing was observed in between.
export function quantile(q, now, before) {
  const counts = now.map((bucket, i) => ({ le: bucket.le, count: bucket.count - (before?.[i]?.count ?? 0) }));
  const total = counts.at(-1)?.count ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let below = 0;
  let lower = 0;
  for (const { le, count } of counts) {
    if (count >= rank) {
      if (le === Infinity) return lower; // past the last bound: its bound is all we know
      return lower + (le - lower) * ((rank - below) / Math.max(count - below, 1e-12));
    }
    below = count;
    lower = le;
  }
  return lower;
}

// A counter's increase per second between two readings; a counter that went back (the server
// restarted) counts from 0.
export function ratePerSecond(now, before, seconds) {
  if (now === undefined || before === undefined || seconds <= 0) return null;
  return (now >= before ? now - before : now) / seconds;
}

// ---- The page

const $ = (id) => document.getElementById(id);

const history = {
  time: [],
  connections: [],
  users: [],
  publishes: [],
  deliveries: [],
  slowPerMinute: [],
  lagP50: [],
  lagP99: [],
};
// For tests and the console: how many scrapes succeeded, the figures of the last, the series.
const status = { scrapes: 0, last: null, history };
globalThis.heraldStatus = status;

let previous = null; // the last scrape's counters
const lagSnapshots = []; // [{time, buckets}] of the last lagWindowSeconds and a bit
const charts = [];

function setState(state, text) {
  $('state').dataset.state = state;
  $('state').textContent = text;
}

function show(id, value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) {
    $(id).textContent = '–';
    return;
  }
  $(id).textContent =
    digits === 0 ? String(Math.round(value)) : value < 10 ? value.toFixed(digits) : String(Math.round(value));
}

function push(series, value) {
  series.push(value);
  if (series.length > window10min) series.shift();
}

function chart(element, series, yLabel) {
  const options = {
    width: Math.max(element.clientWidth, 300),
    height: 200,
    scales: { x: { time: true }, y: { range: (_, min, max) => [0, Math.max(max, 1)] } },
    axes: [{}, { label: yLabel, size: 56 }],
    series: [{}, ...series.map(({ label, color }) => ({ label, stroke: color, width: 2, spanGaps: false }))],
    legend: { live: false },
    cursor: { show: false },
  };
  const data = [history.time, ...series.map(({ key }) => history[key])];
  const plot = new globalThis.uPlot(options, data, element);
  charts.push({ plot, keys: series.map(({ key }) => key), element });
}

function makeCharts() {
  const blue = '#1f4e79';
  const green = '#1a7f37';
  const red = '#b42318';
  const amber = '#9a6700';
  chart($('chart-connections'), [
    { key: 'connections', label: 'connections', color: blue },
    { key: 'users', label: 'users', color: green },
  ], 'count');
  chart($('chart-messages'), [
    { key: 'publishes', label: 'publishes/s', color: blue },
    { key: 'deliveries', label: 'deliveries/s', color: green },
  ], 'per second');
  chart($('chart-slow'), [{ key: 'slowPerMinute', label: 'slow-consumer closes/min', color: red }], 'per minute');
  chart($('chart-lag'), [
    { key: 'lagP50', label: 'p50', color: green },
    { key: 'lagP99', label: 'p99', color: amber },
  ], 'ms');
  new ResizeObserver(() => {
    for (const { plot, element } of charts) plot.setSize({ width: Math.max(element.clientWidth, 300), height: 200 });
  }).observe($('chart-connections'));
}

function redraw() {
  for (const { plot, keys } of charts) plot.setData([history.time, ...keys.map((key) => history[key])]);
}

// One scrape's figures: the gauges as they are, the counters as rates since the last scrape,
// the lag's quantiles over the last lagWindowSeconds.
function record(samples, time) {
  const counters = {
    time,
    published: valueOf(samples, 'herald_messages_published_total'),
    delivered: valueOf(samples, 'herald_messages_delivered_total'),
    slow: valueOf(samples, 'herald_disconnects_total', { reason: 'slow_consumer' }),
  };
  const seconds = previous ? time - previous.time : 0;
  const figures = {
    connections: valueOf(samples, 'herald_connections') ?? null,
    users: valueOf(samples, 'herald_users') ?? null,
    nodes: valueOf(samples, 'herald_nodes') ?? null,
    publishes: previous ? ratePerSecond(counters.published, previous.published, seconds) : null,
    deliveries: previous ? ratePerSecond(counters.delivered, previous.delivered, seconds) : null,
    slowTotal: counters.slow ?? null,
    slowPerMinute: previous ? (ratePerSecond(counters.slow, previous.slow, seconds) ?? 0) * 60 : null,
  };
  previous = counters;

  const buckets = bucketsOf(samples, 'herald_delivery_lag_seconds');
  lagSnapshots.push({ time, buckets });
  while (lagSnapshots.length > 1 && time - lagSnapshots[1].time >= lagWindowSeconds) lagSnapshots.shift();
  const since = lagSnapshots.length > 1 ? lagSnapshots[0].buckets : null;
  const p50 = quantile(0.5, buckets, since);
  const p99 = quantile(0.99, buckets, since);
  figures.lagP50 = p50 === null ? null : p50 * 1000;
  figures.lagP99 = p99 === null ? null : p99 * 1000;

  push(history.time, time);
  for (const key of ['connections', 'users', 'publishes', 'deliveries', 'slowPerMinute', 'lagP50', 'lagP99'])
    push(history[key], figures[key]);

  show('connections', figures.connections);
  show('users', figures.users);
  show('nodes', figures.nodes);
  show('publishes', figures.publishes, 1);
  show('deliveries', figures.deliveries, 1);
  show('slow', figures.slowTotal);
  $('lag').textContent = figures.lagP99 === null ? '–' : `${figures.lagP99 < 10 ? figures.lagP99.toFixed(1) : Math.round(figures.lagP99)} ms`;

  const node = (samples.get('herald_node_info') ?? [])[0]?.labels.node;
  const version = (samples.get('herald_build_info') ?? [])[0]?.labels.version;
  const started = valueOf(samples, 'process_start_time_seconds');
  const parts = [];
  if (node) parts.push(`node ${node}`);
  if (version) parts.push(`version ${version}`);
  if (started) parts.push(`up ${describeDuration(time - started)}`);
  $('about').textContent = parts.join(' · ') || '–';
  return figures;
}

export function describeDuration(seconds) {
  if (seconds < 120) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

function askForKey(refused) {
  $('key-why').textContent = refused
    ? 'That key was refused. This server asks for an API key to read its metrics; it is kept in this tab only (sessionStorage).'
    : 'This server asks for an API key to read its metrics. It is kept in this tab only (sessionStorage).';
  $('key-form').classList.remove('hidden');
  setState('key', 'API key needed');
  $('key').focus();
}

let waitingForKey = false; // polling stops at a 401 until a key is typed in

async function poll() {
  const key = sessionStorage.getItem(storageKey);
  const headers = key ? { Authorization: `Bearer ${key}` } : {};
  let response;
  try {
    response = await fetch('/metrics', { headers, cache: 'no-store' });
  } catch (error) {
    setState('error', 'unreachable');
    $('error').textContent = `/metrics: ${error.message}`;
    setTimeout(poll, interval);
    return;
  }
  if (response.status === 401) {
    await response.body?.cancel();
    if (key) sessionStorage.removeItem(storageKey);
    waitingForKey = true;
    askForKey(Boolean(key));
    return; // until a key is given
  }
  if (!response.ok) {
    setState('error', `HTTP ${response.status}`);
    $('error').textContent = `/metrics answered ${response.status}`;
    setTimeout(poll, interval);
    return;
  }
  const samples = parsePrometheus(await response.text());
  status.last = record(samples, Date.now() / 1000);
  status.scrapes += 1;
  redraw();
  $('error').textContent = '';
  $('key-form').classList.add('hidden');
  setState('live', 'live');
  setTimeout(poll, interval);
}

function start() {
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = $('key').value.trim();
    if (!key) return;
    sessionStorage.setItem(storageKey, key);
    $('key').value = '';
    $('key-form').classList.add('hidden');
    setState('connecting', 'loading');
    if (waitingForKey) {
      waitingForKey = false;
      poll();
    }
  });
  makeCharts();
  poll();
}

if (typeof document !== 'undefined') {
  // uPlot is a classic script with `defer`: it has run by the time the document is parsed, and
  // so has this module (modules are deferred too, and run in order after it).
  start();
}
