// Event streams (GET /sse) with Node's own EventSource, against a real herald: what a page gets
// when WebSockets are blocked. Needs `node --experimental-eventsource` on Node 20 (test-js.sh
// passes it). The server's side is tested in tests/integration/sse_test.cpp; this is the
// client's: events arrive with their ids, and after the server cuts the stream EventSource comes
// back by itself with Last-Event-ID and resumes with no gap.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { publish, startHerald } from './support.js';

// An EventSource that records every frame (parsed) and the id it came with.
function openEventSource(url) {
  const seen = { frames: [], ids: [], opens: 0 };
  const source = new EventSource(url);
  source.onopen = () => seen.opens++;
  source.onmessage = (event) => {
    seen.frames.push(JSON.parse(event.data));
    seen.ids.push(event.lastEventId);
  };
  return { source, seen };
}

// Resolves once `condition()` holds, polling each event loop turn; bounded.
async function waitFor(condition, what, timeout = 10000) {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('EventSource gets the welcome and messages, and resumes by Last-Event-ID after a cut', async (t) => {
  assert.equal(typeof EventSource, 'function', 'run with node --experimental-eventsource');
  const server = await startHerald();
  t.after(() => server.stop());
  const { source, seen } = openEventSource(`${server.http}/sse?v=1&uid=node-reader`);
  t.after(() => source.close());
  await waitFor(() => seen.frames.length === 1, 'welcome');
  const [welcome] = seen.frames;
  assert.equal(welcome.type, 'welcome');
  assert.equal(welcome.uid, 'node-reader');
  assert.equal(seen.ids[0], `${welcome.epoch}:0`);

  await publish(server, 'node-reader', 'one');
  await publish(server, 'node-reader', { two: 2 });
  await waitFor(() => seen.frames.length === 3, 'two messages');
  assert.deepEqual(seen.frames.slice(1).map((f) => [f.type, f.seq, f.data]), [['message', 1, 'one'], ['message', 2, { two: 2 }]]);
  assert.deepEqual(seen.ids.slice(1), [`${welcome.epoch}:1`, `${welcome.epoch}:2`]);

  // The server cuts the stream (a close event, then its end): EventSource comes back by itself.
  const answer = await fetch(`${server.http}/disconnect`, {
    method: 'POST',
    body: JSON.stringify({ uid: 'node-reader', reconnect: true }),
  });
  assert.deepEqual(await answer.json(), { disconnected: 1 });
  await publish(server, 'node-reader', 'while away');
  await waitFor(() => seen.frames.filter((f) => f.type === 'welcome').length === 2, 'a second welcome');
  await publish(server, 'node-reader', 'back');
  await waitFor(() => seen.frames.filter((f) => f.type === 'message').length === 4, 'four messages');

  const close = seen.frames.find((f) => f.type === 'close');
  assert.deepEqual(close, { type: 'close', code: 1012, reason: 'reconnect' });
  const again = seen.frames.filter((f) => f.type === 'welcome')[1];
  assert.equal(again.recovered, true); // it sent Last-Event-ID: nothing was missed
  const messages = seen.frames.filter((f) => f.type === 'message');
  assert.deepEqual(messages.map((m) => m.seq), [1, 2, 3, 4]);
  assert.deepEqual(messages.map((m) => m.data).slice(2), ['while away', 'back']);
  assert.equal(seen.opens, 2);
});

test('a refused stream (no token where tokens are required) is final for EventSource', async (t) => {
  const server = await startHerald(['--token-secret', 'sse-secret']);
  t.after(() => server.stop());
  const source = new EventSource(`${server.http}/sse?v=1&uid=nobody`);
  t.after(() => source.close());
  await new Promise((resolve) => (source.onerror = resolve));
  assert.equal(source.readyState, EventSource.CLOSED); // a 401: it does not come back
});
