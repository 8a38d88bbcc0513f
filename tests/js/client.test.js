// The JavaScript client (source/js/herald.js) against a real herald (build/release/herald) on a
// free port: reconnects, resume, dedup, tokens, heartbeat and the close table. Nothing is mocked;
// the only stand-ins are a TCP proxy (to cut or blackhole a connection) and a WebSocket subclass
// that watches what the client does on the wire. Every wait is bounded and awaits an event.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import WebSocket from 'ws';

import {
  HeraldClient,
  backoffDelay,
  closeDecision,
  closeDecisions,
  tokenExpiry,
} from '../../source/js/herald.js';
import {
  mintToken,
  nextEvent,
  nowSeconds,
  publish,
  record,
  root,
  startHerald,
  startProxy,
  until,
} from './support.js';

// A WebSocket that remembers what it sent and received, and can be made to stop reading (a slow
// consumer) or to rewrite its login; every instance is listed in `sockets`, in order.
function watchedWebSocket({ rewriteLogin } = {}) {
  const sockets = [];
  class Watched extends WebSocket {
    constructor(url) {
      super(url);
      this.createdAt = Date.now();
      this.sent = [];
      this.received = [];
      sockets.push(this);
      this.on('message', (data) => {
        this.received.push(JSON.parse(String(data)));
        this.receivedAt = Date.now();
      });
    }
    send(text) {
      const frame = JSON.parse(text);
      if (frame.v === 1 && rewriteLogin) text = JSON.stringify(rewriteLogin(frame, sockets.length));
      this.sent.push(JSON.parse(text));
      super.send(text);
    }
  }
  return { WebSocket: Watched, sockets };
}

const messages = (events) => events.filter(([name]) => name === 'message').map(([, m]) => m);
const seqs = (events) => messages(events).map((m) => m.seq);
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('backoff', () => {
  test('full jitter stays within [0, min(max, base * 2^n))', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(20000, 500 * 2 ** attempt);
      assert.equal(backoffDelay(attempt, 500, 20000, () => 0), 0);
      assert.ok(backoffDelay(attempt, 500, 20000, () => 0.999999) < ceiling);
      for (let i = 0; i < 200; i++) {
        const delay = backoffDelay(attempt, 500, 20000);
        assert.ok(delay >= 0 && delay < ceiling, `attempt ${attempt}: ${delay} not below ${ceiling}`);
      }
    }
    // Large attempt counts neither overflow nor exceed the maximum.
    assert.ok(backoffDelay(5000, 500, 20000, () => 0.999999) < 20000);
  });

  test('reconnects to a server that refuses them wait within the bounds, growing', async (t) => {
    // A server full at one connection answers every other upgrade with 503: a network error
    // for the client, which comes back with backoff.
    const server = await startHerald(['--max-connections', '1']);
    t.after(() => server.stop());
    const holder = new HeraldClient(server.ws, { uid: 'holder' }, { WebSocket });
    const welcomed = nextEvent(holder, 'welcome');
    holder.connect();
    await welcomed;
    t.after(() => holder.disconnect());

    const watched = watchedWebSocket();
    const min = 100;
    const max = 400;
    const client = new HeraldClient(
      server.ws,
      { uid: 'refused' },
      { WebSocket: watched.WebSocket, minReconnectDelay: min, maxReconnectDelay: max },
    );
    const closes = [];
    client.on('disconnected', (close) => closes.push({ ...close, at: Date.now() }));
    client.connect();
    await until(client, ['disconnected'], () => closes.length >= 7, 10000, '7 refused attempts');
    client.disconnect();

    for (let attempt = 0; attempt < 6; attempt++) {
      assert.equal(closes[attempt].reconnect, true);
      const waited = watched.sockets[attempt + 1].createdAt - closes[attempt].at;
      const ceiling = Math.min(max, min * 2 ** attempt);
      // The ceiling, plus what a busy machine adds to a timer and a connection's start.
      assert.ok(waited >= 0 && waited <= ceiling + 100, `attempt ${attempt}: waited ${waited} ms, ceiling ${ceiling}`);
    }
  });
});

describe('resume', () => {
  test('a connection cut by the server (slow consumer) resumes with every message once, in order', async (t) => {
    const server = await startHerald(['--send-queue', '4', '--send-queue-bytes', '256KiB', '--history-size', '1000']);
    t.after(() => server.stop());
    const watched = watchedWebSocket();
    const client = new HeraldClient(server.ws, { uid: 'slow' }, { WebSocket: watched.WebSocket, minReconnectDelay: 50 });
    const events = record(client);
    const welcomed = nextEvent(client, 'welcome');
    client.connect();
    await welcomed;
    t.after(() => client.disconnect());

    // The first connection stops reading, so the server's queue for it fills and it is closed as
    // a slow consumer once the socket buffers are full: publish until nobody is left to deliver to.
    watched.sockets[0]._socket.pause();
    const big = 'x'.repeat(60 * 1024);
    let published = 0;
    for (;;) {
      const answer = await publish(server, 'slow', `${big}${published + 1}`);
      published++;
      if (answer.delivered === 0) break;
      assert.ok(published < 400, 'never closed as a slow consumer');
    }
    const cut = nextEvent(client, 'disconnected');
    const resumed = nextEvent(client, 'welcome');
    watched.sockets[0]._socket.resume();
    assert.deepEqual(await cut, { code: 1008, reason: 'slow consumer', reconnect: true });
    const welcome = await resumed;
    assert.equal(welcome.recovered, true);
    await publish(server, 'slow', 'after');
    await until(client, ['message'], () => seqs(events).at(-1) === published + 1, 15000, 'all messages');

    assert.deepEqual(seqs(events), range(1, published + 1));
    assert.ok(messages(events).slice(0, published).every((m, i) => m.data === `${big}${i + 1}`));
    // The resume asked for what followed the last message delivered.
    const login = watched.sockets[1].sent[0];
    assert.equal(login.since.epoch, welcome.epoch);
    assert.ok(login.since.seq >= 1 && login.since.seq < published);
  });

  test('seqs that a resume replays again are dropped', async (t) => {
    const server = await startHerald();
    t.after(() => server.stop());
    const proxy = await startProxy(server.port);
    t.after(() => proxy.stop());
    // The second login claims an older position than the client had (as a stale resume would),
    // so that the server replays messages the client has already delivered.
    const watched = watchedWebSocket({
      rewriteLogin: (login, count) => (count === 2 ? { ...login, since: { ...login.since, seq: 1 } } : login),
    });
    const client = new HeraldClient(proxy.ws, { uid: 'dedup' }, { WebSocket: watched.WebSocket, minReconnectDelay: 50 });
    const events = record(client);
    const welcomed = nextEvent(client, 'welcome');
    client.connect();
    await welcomed;
    t.after(() => client.disconnect());
    for (let i = 1; i <= 5; i++) await publish(server, 'dedup', `m${i}`);
    await until(client, ['message'], () => seqs(events).length === 5, 10000, 'five messages');

    const back = nextEvent(client, 'welcome');
    proxy.cut();
    assert.equal((await back).recovered, true);
    await publish(server, 'dedup', 'm6');
    await until(client, ['message'], () => seqs(events).at(-1) === 6, 10000, 'message 6');

    assert.deepEqual(seqs(events), range(1, 6));
    assert.deepEqual(messages(events).map((m) => m.data), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    // The server did replay 2..5 on the second connection; the client delivered none of them.
    const replayed = watched.sockets[1].received.filter((f) => f.type === 'message').map((f) => f.seq);
    assert.deepEqual(replayed, [2, 3, 4, 5, 6]);
  });

  test('after a server restart (a new stream) the new messages are delivered from seq 1, recovered false', async (t) => {
    let server = await startHerald();
    const port = server.port;
    const client = new HeraldClient(server.ws, { uid: 'restart' }, { WebSocket, minReconnectDelay: 50 });
    const events = record(client);
    const first = nextEvent(client, 'welcome');
    client.connect();
    await first;
    t.after(() => client.disconnect());
    for (let i = 1; i <= 3; i++) await publish(server, 'restart', `old${i}`);
    await until(client, ['message'], () => seqs(events).length === 3, 10000, 'three messages');

    const gone = nextEvent(client, 'disconnected');
    await server.stop();
    assert.deepEqual(await gone, { code: 1001, reason: 'server shutting down', reconnect: true });
    const back = nextEvent(client, 'welcome', () => true, 15000);
    server = await startHerald([], { port });
    t.after(() => server.stop());
    const welcome = await back;
    assert.equal(welcome.recovered, false);
    await publish(server, 'restart', 'new1');
    await until(client, ['message'], () => messages(events).length === 4, 10000, 'the new message');
    const last = messages(events).at(-1);
    assert.equal(last.seq, 1);
    assert.equal(last.data, 'new1');
  });

  test('the position kept in a storage lets a new client resume where the last one was', async (t) => {
    const server = await startHerald();
    t.after(() => server.stop());
    const saved = new Map();
    const storage = { getItem: (k) => saved.get(k) ?? null, setItem: (k, v) => saved.set(k, v) };
    const first = new HeraldClient(server.ws, { uid: 'kept' }, { WebSocket, storage });
    const firstEvents = record(first);
    const welcomed = nextEvent(first, 'welcome');
    first.connect();
    await welcomed;
    for (let i = 1; i <= 3; i++) await publish(server, 'kept', `m${i}`);
    await until(first, ['message'], () => seqs(firstEvents).length === 3, 10000, 'three messages');
    first.disconnect();
    for (let i = 4; i <= 5; i++) await publish(server, 'kept', `m${i}`);

    const second = new HeraldClient(server.ws, { uid: 'kept' }, { WebSocket, storage });
    const events = record(second);
    const resumed = nextEvent(second, 'welcome');
    second.connect();
    t.after(() => second.disconnect());
    assert.equal((await resumed).recovered, true);
    await until(second, ['message'], () => seqs(events).length === 2, 10000, 'the two missed messages');
    assert.deepEqual(seqs(events), [4, 5]);
  });
});

const secret = 'a test secret of some length';

test('since {seq: 0} lets a first login get what was published before it', async (t) => {
  const server = await startHerald();
  t.after(() => server.stop());
  await publish(server, 'late', 'job done');
  await publish(server, 'late', { job: 7 });
  const client = new HeraldClient(server.ws, { uid: 'late' }, { WebSocket, since: { seq: 0 } });
  const events = record(client);
  const welcomed = nextEvent(client, 'welcome');
  client.connect();
  t.after(() => client.disconnect());
  assert.equal((await welcomed).recovered, true);
  await until(client, ['message'], () => seqs(events).length === 2, 10000, 'the two kept messages');
  assert.deepEqual(messages(events).map((m) => m.data), ['job done', { job: 7 }]);
});

test('progress with a key: a page opened later gets the last state, with its key', async (t) => {
  const server = await startHerald();
  t.after(() => server.stop());
  for (const percent of [10, 50, 100]) await publish(server, 'job-owner', { percent }, { key: 'job-7' });
  await publish(server, 'job-owner', 'unkeyed');
  const client = new HeraldClient(server.ws, { uid: 'job-owner' }, { WebSocket, since: { seq: 0 } });
  const events = record(client);
  const welcomed = nextEvent(client, 'welcome');
  client.connect();
  t.after(() => client.disconnect());
  assert.equal((await welcomed).recovered, true); // the collapsed seqs are no loss
  await until(client, ['message'], () => seqs(events).length === 2, 10000, 'the two kept messages');
  assert.deepEqual(
    messages(events).map(({ seq, data, key }) => ({ seq, data, key })),
    [
      { seq: 3, data: { percent: 100 }, key: 'job-7' },
      { seq: 4, data: 'unkeyed', key: undefined },
    ],
  );
});

describe('delivery receipts', () => {
  test('the client acks what its handlers returned from, and a publisher waiting for it is answered', async (t) => {
    const server = await startHerald();
    t.after(() => server.stop());
    const { WebSocket: Watched, sockets } = watchedWebSocket();
    const client = new HeraldClient(server.ws, { uid: 'receipts' }, { WebSocket: Watched });
    const handled = [];
    client.on('message', ({ seq }) => handled.push(seq));
    const welcomed = nextEvent(client, 'welcome');
    client.connect();
    t.after(() => client.disconnect());
    await welcomed;
    for (let i = 1; i <= 5; i++) await publish(server, 'receipts', i);
    const answer = await publish(server, 'receipts', 6, { wait: 'ack', timeoutMs: 20000 });
    assert.equal(answer.acked, true);
    assert.equal(answer.seq, 6);
    assert.ok(handled.includes(6), 'the handler ran before the ack');
    const acks = sockets[0].sent.filter((frame) => frame.type === 'ack').map((frame) => frame.seq);
    assert.equal(acks.at(-1), 6);
    assert.ok(acks.length <= 6, `at most one ack per message: ${acks}`);
    assert.deepEqual(acks, [...acks].sort((a, b) => a - b), 'cumulative: they only grow');
  });

  test('with acks: false nothing is acknowledged, and the publisher gets acked: false', async (t) => {
    const server = await startHerald();
    t.after(() => server.stop());
    const { WebSocket: Watched, sockets } = watchedWebSocket();
    const client = new HeraldClient(server.ws, { uid: 'silent' }, { WebSocket: Watched, acks: false });
    const welcomed = nextEvent(client, 'welcome');
    client.connect();
    t.after(() => client.disconnect());
    await welcomed;
    const received = nextEvent(client, 'message');
    const answer = await publish(server, 'silent', 'm', { wait: 'ack', timeoutMs: 300 });
    await received;
    assert.equal(answer.acked, false);
    assert.deepEqual(sockets[0].sent.filter((frame) => frame.type === 'ack'), []);
  });
});

describe('tokens', () => {
  test('getToken is called again before exp, and the fresh token goes as a refresh on the same connection', async (t) => {
    const server = await startHerald(['--token-secret', secret]);
    t.after(() => server.stop());
    const calls = [];
    const getToken = async () => {
      const exp = calls.length === 0 ? nowSeconds() + 3 : nowSeconds() + 3600;
      calls.push({ at: Date.now(), exp });
      return mintToken(secret, { sub: 'fresh', exp });
    };
    const watched = watchedWebSocket();
    const client = new HeraldClient(server.ws, { getToken }, { WebSocket: watched.WebSocket });
    const events = record(client);
    const welcomed = nextEvent(client, 'welcome');
    client.connect();
    assert.equal((await welcomed).uid, 'fresh'); // the token's sub
    t.after(() => client.disconnect());

    const refreshed = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no refresh sent within 5 s')), 5000);
      const socket = watched.sockets[0];
      const send = socket.send.bind(socket);
      socket.send = (text) => {
        send(text);
        if (JSON.parse(text).type === 'refresh') {
          clearTimeout(timer);
          resolve(JSON.parse(text));
        }
      };
    });
    const refresh = await refreshed;
    assert.equal(calls.length, 2);
    assert.ok(calls[1].at < calls[0].exp * 1000, 'refreshed before exp');
    assert.equal(tokenExpiry(refresh.token), calls[1].exp * 1000);
    const arrived = nextEvent(client, 'message', (m) => m.data === 'still here');
    await publish(server, 'fresh', 'still here');
    await arrived;
    assert.equal(watched.sockets.length, 1);
    assert.equal(events.filter(([name]) => name === 'disconnected').length, 0);
  });

  test('a refreshed connection outlives its first token, which closes one that did not refresh', async (t) => {
    const server = await startHerald(['--token-secret', secret]);
    t.after(() => server.stop());
    // The server accepts a token 30 s past its exp: this one has about 3 s left there, and looks
    // expired already to the client, which refreshes it after a second.
    const stale = mintToken(secret, { sub: 'refreshing', exp: nowSeconds() - 27 });
    let calls = 0;
    const getToken = async () =>
      ++calls === 1 ? stale : mintToken(secret, { sub: 'refreshing', exp: nowSeconds() + 3600 });
    const refreshing = new HeraldClient(server.ws, { getToken }, { WebSocket });
    const events = record(refreshing);
    const fixed = new HeraldClient(server.ws, { token: stale }, { WebSocket });
    const welcomes = [nextEvent(refreshing, 'welcome'), nextEvent(fixed, 'welcome')];
    refreshing.connect();
    fixed.connect();
    await Promise.all(welcomes);
    t.after(() => refreshing.disconnect());

    // The client with a fixed token is closed when it runs out, and does not come back.
    assert.deepEqual(await nextEvent(fixed, 'disconnected'), { code: 1008, reason: 'token expired', reconnect: false });
    assert.equal(fixed.state, 'disconnected');
    assert.equal(calls, 2);
    const arrived = nextEvent(refreshing, 'message', (m) => m.data === 'after the first token');
    await publish(server, 'refreshing', 'after the first token');
    await arrived;
    assert.equal(events.filter(([name]) => name === 'disconnected').length, 0);
  });

  test('a getToken that rejects stops the client', async (t) => {
    const server = await startHerald(['--token-secret', secret]);
    t.after(() => server.stop());
    const watched = watchedWebSocket();
    const client = new HeraldClient(
      server.ws,
      { getToken: () => Promise.reject(new Error('logged out')) },
      { WebSocket: watched.WebSocket },
    );
    const events = record(client);
    const stopped = nextEvent(client, 'state', (state) => state === 'disconnected');
    client.connect();
    await stopped;
    assert.equal(watched.sockets.length, 0);
    const error = events.find(([name]) => name === 'error')[1];
    assert.equal(error.type, 'getToken');
    assert.equal(error.error.message, 'logged out');
    assert.deepEqual(events.find(([name]) => name === 'disconnected')[1], {
      code: 4002,
      reason: 'getToken failed',
      reconnect: false,
    });
  });

  test('after a close for an expired token, a fresh getToken() logs in again; a rejecting one stops', async (t) => {
    const server = await startHerald(['--token-secret', secret]);
    t.after(() => server.stop());
    // Tokens that the server holds for about a second past the login: each connection is closed
    // as expired (the client's own refreshes, with more such tokens, only put that off). Once the
    // second connection is closed, getToken() rejects.
    let expiredCloses = 0;
    const getToken = async () => {
      if (expiredCloses >= 2) throw new Error('session over');
      return mintToken(secret, { sub: 'expiring', exp: nowSeconds() - 29 });
    };
    const watched = watchedWebSocket();
    const client = new HeraldClient(server.ws, { getToken }, { WebSocket: watched.WebSocket, minReconnectDelay: 50 });
    const events = record(client);
    client.on('disconnected', ({ reason }) => reason === 'token expired' && expiredCloses++);
    client.connect();
    await until(client, ['state'], () => client.state === 'disconnected', 15000, 'the stop');
    const closes = events.filter(([name]) => name === 'disconnected').map(([, close]) => close);
    assert.deepEqual(closes, [
      { code: 1008, reason: 'token expired', reconnect: true },
      { code: 1008, reason: 'token expired', reconnect: true },
      { code: 4002, reason: 'getToken failed', reconnect: false },
    ]);
    assert.equal(events.filter(([name]) => name === 'welcome').length, 2);
    assert.equal(watched.sockets.length, 2);
  });
});

describe('heartbeat', () => {
  test('two ping intervals of silence end the connection; the client resumes', async (t) => {
    const server = await startHerald(['--ping-interval', '200ms']);
    t.after(() => server.stop());
    const proxy = await startProxy(server.port);
    t.after(() => proxy.stop());
    const watched = watchedWebSocket();
    const client = new HeraldClient(proxy.ws, { uid: 'beat' }, { WebSocket: watched.WebSocket, minReconnectDelay: 50 });
    const events = record(client);
    const welcomed = nextEvent(client, 'welcome');
    client.connect();
    await welcomed;
    t.after(() => client.disconnect());
    const arrived = nextEvent(client, 'message');
    await publish(server, 'beat', 'before');
    await arrived;

    // The server's {"type":"ping"} frames keep a quiet connection alive past two intervals: four
    // of them come, and the connection stays.
    const socket = watched.sockets[0];
    const pings = () => socket.received.filter((frame) => frame.type === 'ping').length;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fewer than 4 pings in 3 s')), 3000);
      socket.on('message', () => pings() >= 4 && (clearTimeout(timer), resolve()));
    });
    assert.equal(client.state, 'connected');
    assert.equal(events.filter(([name]) => name === 'disconnected').length, 0);

    const dead = nextEvent(client, 'disconnected');
    const back = nextEvent(client, 'welcome');
    proxy.blackhole();
    await publish(server, 'beat', 'during');
    assert.deepEqual(await dead, { code: 4000, reason: 'heartbeat timeout', reconnect: true });
    // Two intervals (400 ms) after the last frame heard, give or take the timers' lateness.
    const silence = Date.now() - socket.receivedAt;
    assert.ok(silence >= 390 && silence < 1000, `ended after ${silence} ms of silence`);
    assert.equal((await back).recovered, true);
    await until(client, ['message'], () => seqs(events).length === 2, 10000, 'the missed message');
    assert.deepEqual(messages(events).map((m) => m.data), ['before', 'during']);
  });
});

describe('server side of the heartbeat', () => {
  test('the welcome says the ping interval; JSON-protocol connections get ping frames, seed ones never', async (t) => {
    const server = await startHerald(['--ping-interval', '100ms']);
    t.after(() => server.stop());
    const open = (login) =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(server.ws);
        const frames = [];
        let pings = 0;
        socket.on('open', () => socket.send(JSON.stringify(login)));
        socket.on('message', (data) => frames.push(String(data)));
        socket.on('ping', () => ++pings >= 3 && resolve({ socket, frames }));
        socket.on('error', reject);
        setTimeout(() => reject(new Error('fewer than 3 pings in 3 s')), 3000);
      });
    const [seed, json] = await Promise.all([open({ uid: 'seed' }), open({ uid: 'json', v: 1 })]);
    seed.socket.close();
    json.socket.close();
    assert.deepEqual(seed.frames, []);
    const welcome = JSON.parse(json.frames[0]);
    assert.equal(welcome.type, 'welcome');
    assert.equal(welcome.ping_interval_ms, 100);
    assert.ok(json.frames.slice(1).length >= 2);
    assert.ok(json.frames.slice(1).every((frame) => frame === '{"type":"ping"}'));
  });
});

describe('close table', () => {
  test('the decisions of the issue', () => {
    for (const reason of ['slow consumer', 'pong timeout', 'server shutting down', 'stream reset', 'try again later'])
      assert.equal(closeDecision(reason), 'reconnect', reason);
    assert.equal(closeDecision('token expired'), 'refresh');
    for (const reason of ['bad token signature', 'uid is empty', 'token required', 'disconnected'])
      assert.equal(closeDecision(reason), 'stop', reason);
    assert.equal(closeDecision('something new'), 'reconnect');
    assert.equal(closeDecision(''), 'reconnect');
    assert.equal(closeDecision('constructor'), 'reconnect'); // no inherited names
  });

  test("every reason in the README's close table has a decision", () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('**Closes by the server'));
    const rows = table.slice(0, table.indexOf('\n\n', table.indexOf('|---'))).split('\n').filter((l) => /^\| \d/.test(l));
    const reasons = rows.flatMap((row) => [...row.split('|')[2].matchAll(/`([^`]+)`/g)].map((m) => m[1]));
    assert.ok(reasons.length > 20, `read ${reasons.length} reasons`);
    for (const reason of reasons) assert.ok(Object.hasOwn(closeDecisions, reason), `no decision for '${reason}'`);
  });

  test("the decisions are the server's close table's", () => {
    // source/herald/close_reason.hpp is the one table; the client keeps the same contract.
    const header = readFileSync(path.join(root, 'source/herald/close_reason.hpp'), 'utf8');
    const entries = [...header.matchAll(/CloseReason \w+\{\s*(\d+),\s*"((?:[^"\\]|\\.)*)",\s*Comeback::(\w+)/g)];
    assert.ok(entries.length > 20, `read ${entries.length} entries`);
    const expected = { now: 'reconnect', with_new_token: 'refresh', never: 'stop' };
    for (const [, , text, comeback] of entries) {
      const reason = text.replace(/\\"/g, '"');
      assert.equal(closeDecisions[reason], expected[comeback], reason);
    }
  });

  test('a refused login does not come back', async (t) => {
    const server = await startHerald(['--token-secret', secret]);
    t.after(() => server.stop());
    for (const [credentials, reason] of [
      [{ uid: 'no-token' }, 'token required'],
      [{ token: mintToken('another secret', { sub: 'x', exp: nowSeconds() + 60 }) }, 'bad token signature'],
      [{ token: 'not.a.token' }, 'malformed token'],
    ]) {
      const watched = watchedWebSocket();
      const client = new HeraldClient(server.ws, credentials, { WebSocket: watched.WebSocket, minReconnectDelay: 10 });
      const stopped = nextEvent(client, 'state', (state) => state === 'disconnected');
      const close = nextEvent(client, 'disconnected');
      client.connect();
      assert.deepEqual(await close, { code: 1008, reason, reconnect: false });
      await stopped;
      assert.equal(watched.sockets.length, 1, reason);
    }
  });

  test('a URL that WebSocket refuses stops the client at once', async () => {
    const client = new HeraldClient('not a url', { uid: 'x' }, { WebSocket });
    const events = record(client);
    client.connect();
    assert.equal(client.state, 'disconnected');
    assert.equal(events.find(([name]) => name === 'error')[1].type, 'transport');
    assert.deepEqual(events.find(([name]) => name === 'disconnected')[1], {
      code: 4003,
      reason: 'cannot open a WebSocket',
      reconnect: false,
    });
  });

  test('a bad uid is refused for good; an unknown close (1009) comes back', async (t) => {
    const server = await startHerald(['--max-message-size', '1KiB']);
    t.after(() => server.stop());
    const empty = new HeraldClient(server.ws, { uid: '\u0001' }, { WebSocket });
    const refused = nextEvent(empty, 'disconnected');
    empty.connect();
    assert.deepEqual(await refused, { code: 1008, reason: 'uid has control characters', reconnect: false });
    assert.equal(empty.state, 'disconnected');

    const huge = new HeraldClient(server.ws, { uid: 'u'.repeat(2000) }, { WebSocket, minReconnectDelay: 10 });
    const closes = [];
    huge.on('disconnected', (close) => closes.push(close));
    huge.connect();
    await until(huge, ['disconnected'], () => closes.length >= 2, 10000, 'a second attempt');
    huge.disconnect();
    assert.deepEqual(closes[0], { code: 1009, reason: '', reconnect: true });
  });
});

describe('POST /disconnect', () => {
  // POST /disconnect {"uid":U[,"reconnect":true]}; resolves with the answer.
  async function disconnect(server, body) {
    const response = await fetch(`${server.http}/disconnect`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10000),
    });
    assert.equal(response.status, 200);
    return response.json();
  }

  test('"disconnected" stops the client: it does not come back', async (t) => {
    const server = await startHerald();
    t.after(() => server.stop());
    const watched = watchedWebSocket();
    const client = new HeraldClient(server.ws, { uid: 'banned' }, { WebSocket: watched.WebSocket, minReconnectDelay: 10 });
    const welcomed = nextEvent(client, 'welcome');
    client.connect();
    t.after(() => client.disconnect());
    await welcomed;
    const closed = nextEvent(client, 'disconnected');
    assert.deepEqual(await disconnect(server, { uid: 'banned' }), { disconnected: 1 });
    assert.deepEqual(await closed, { code: 1008, reason: 'disconnected', reconnect: false });
    assert.equal(client.state, 'disconnected');
    // Nobody is left to deliver to, and no second connection was opened meanwhile.
    assert.equal((await publish(server, 'banned', 'anyone there?')).delivered, 0);
    assert.equal(watched.sockets.length, 1);
  });

  test('"reconnect" brings the client back at once, resumed without a gap', async (t) => {
    const server = await startHerald();
    t.after(() => server.stop());
    const client = new HeraldClient(server.ws, { uid: 'relogin' }, { WebSocket, minReconnectDelay: 10 });
    const events = record(client);
    const welcomed = nextEvent(client, 'welcome');
    client.connect();
    t.after(() => client.disconnect());
    await welcomed;
    await publish(server, 'relogin', 'before');
    await until(client, ['message'], () => seqs(events).length === 1, 10000, 'the first message');
    const closed = nextEvent(client, 'disconnected');
    const back = nextEvent(client, 'welcome');
    assert.deepEqual(await disconnect(server, { uid: 'relogin', reconnect: true }), { disconnected: 1 });
    assert.deepEqual(await closed, { code: 1012, reason: 'reconnect', reconnect: true });
    assert.equal((await back).recovered, true);
    await publish(server, 'relogin', 'after');
    await until(client, ['message'], () => seqs(events).length === 2, 10000, 'the second message');
    assert.deepEqual(seqs(events), [1, 2]);
  });
});
