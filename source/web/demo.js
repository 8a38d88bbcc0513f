// The /demo page: logs in with the JavaScript client, shows what arrives, publishes through
// POST /send. /demo?uid=U connects as U at once. The position in each user's stream is kept in
// localStorage, so a reload resumes where the page was.
import { HeraldClient } from '/js/herald.js';

const $ = (id) => document.getElementById(id);
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
const maxRows = 200;

let client = null;
let unsubscribe = [];
let count = 0;

// For the console and for tests: the client in use, and where it resumed from.
const demo = { client: null, resumedFrom: undefined };
globalThis.heraldDemo = demo;

$('host').textContent = location.host;

function log(text, kind = '') {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  if (kind) item.className = kind;
  item.dataset.kind = kind || 'info';
  const list = $('log');
  list.append(item);
  while (list.children.length > maxRows) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

function show(data) {
  return typeof data === 'string' ? data : JSON.stringify(data);
}

function addMessage({ seq, time, data }) {
  const row = document.createElement('tr');
  row.dataset.seq = String(seq);
  for (const [kind, text] of [
    ['seq', String(seq)],
    ['time', new Date(time).toLocaleTimeString()],
    ['data', show(data)],
  ]) {
    const cell = document.createElement('td');
    cell.className = kind;
    cell.textContent = text;
    row.append(cell);
  }
  row.className = 'fresh';
  setTimeout(() => row.classList.remove('fresh'), 1500);
  const body = $('messages').tBodies[0];
  body.prepend(row);
  while (body.rows.length > maxRows) body.lastElementChild.remove();
  $('count').textContent = String(++count);
  $('empty').classList.add('hidden');
}

function showPosition() {
  const position = client?.position;
  $('epoch').textContent = position?.epoch ?? '–';
  $('seq').textContent = position ? String(position.seq) : '–';
}

function stop() {
  for (const off of unsubscribe) off();
  unsubscribe = [];
  client?.disconnect();
  client = null;
  demo.client = null;
}

function start(credentials, label) {
  stop();
  client = new HeraldClient(wsUrl, credentials, { storage: localStorage });
  demo.client = client;
  unsubscribe = [
    client.on('state', (state) => {
      $('state').textContent = state;
      $('state').dataset.state = state;
      $('disconnect').disabled = state === 'disconnected';
    }),
    client.on('welcome', ({ uid, epoch, seq, recovered }) => {
      log(`welcome: epoch ${epoch}, stream at seq ${seq}, recovered: ${recovered}`, 'welcome');
      $('who').textContent = uid;
      if (!$('to').value) $('to').value = uid;
      showPosition();
    }),
    client.on('message', (message) => {
      addMessage(message);
      showPosition();
    }),
    client.on('disconnected', ({ code, reason, reconnect }) => {
      const why = reason ? `${code} ${reason}` : `${code}`;
      log(`disconnected (${why})${reconnect ? ', reconnecting' : ''}`, reconnect ? '' : 'bad');
    }),
    client.on('error', ({ type, error }) => log(`${type} error: ${error?.message ?? error}`, 'bad')),
  ];
  client.connect();
  demo.resumedFrom = client.position;
  const from = client.position ? `, resuming after seq ${client.position.seq}` : '';
  log(`connecting as ${label}${from}`);
  $('who').textContent = label;
  showPosition();
}

$('login').addEventListener('submit', (event) => {
  event.preventDefault();
  const uid = $('uid').value.trim();
  const token = $('token').value.trim();
  if (token) start({ token }, 'the token’s sub');
  else if (uid) start({ uid }, uid);
  else $('uid').focus();
  if (uid && !$('to').value) $('to').value = uid;
});

$('disconnect').addEventListener('click', () => stop());

$('publish').addEventListener('submit', async (event) => {
  event.preventDefault();
  const output = $('sent');
  const uid = $('to').value.trim() || $('uid').value.trim();
  if (!uid) {
    $('to').focus();
    return;
  }
  const headers = { 'Content-Type': 'application/json' };
  const key = $('apikey').value.trim();
  if (key) headers.Authorization = `Bearer ${key}`;
  output.className = '';
  output.textContent = 'sending…';
  try {
    const response = await fetch('/send', {
      method: 'POST',
      headers,
      body: JSON.stringify({ uid, message: $('message').value }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error ?? `HTTP ${response.status}`);
    output.textContent = `delivered to ${answer.delivered} connection(s), seq ${answer.seq}`;
  } catch (error) {
    output.className = 'error';
    output.textContent = error.message;
  }
});

const wanted = new URLSearchParams(location.search).get('uid');
if (wanted) {
  $('uid').value = wanted;
  $('to').value = wanted;
  start({ uid: wanted }, wanted);
}
