// Event streams in Debian's chromium (headless, driven by playwright-core): a page that herald
// serves opens an EventSource on /sse, gets its events, and after the server cuts the stream
// comes back by itself with Last-Event-ID and resumes with no gap. No console error, no CSP
// violation (the pages' policy allows connections to their own origin only).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { publish, startHerald } from '../js/support.js';
import { launchChromium, newPage } from './chromium.js';

let browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

test('an EventSource in a page resumes by Last-Event-ID after the server cuts its stream', async (t) => {
  const page = await newPage(browser, t);
  const server = await startHerald();
  t.after(() => server.stop());
  await page.goto(`${server.http}/demo`); // a page of herald's: the stream is same-origin
  await page.evaluate(() => {
    const seen = { frames: [], ids: [], opens: 0 };
    const source = new EventSource('/sse?v=1&uid=in-page');
    source.onopen = () => seen.opens++;
    source.onmessage = (event) => {
      seen.frames.push(JSON.parse(event.data));
      seen.ids.push(event.lastEventId);
    };
    window.sse = { seen, source };
  });
  const count = (type) => page.evaluate((type) => window.sse.seen.frames.filter((f) => f.type === type).length, type);
  await page.waitForFunction(() => window.sse.seen.frames.length === 1);
  await publish(server, 'in-page', 'one');
  await publish(server, 'in-page', 'two');
  await page.waitForFunction(() => window.sse.seen.frames.length === 3);

  // The server cuts the stream; what is published meanwhile comes after the browser is back.
  const answer = await fetch(`${server.http}/disconnect`, {
    method: 'POST',
    body: JSON.stringify({ uid: 'in-page', reconnect: true }),
  });
  assert.deepEqual(await answer.json(), { disconnected: 1 });
  await publish(server, 'in-page', 'while away');
  await page.waitForFunction(() => window.sse.seen.frames.filter((f) => f.type === 'welcome').length === 2);
  await publish(server, 'in-page', 'back');
  await page.waitForFunction(() => window.sse.seen.frames.filter((f) => f.type === 'message').length === 4);
  assert.equal(await count('close'), 1);

  const seen = await page.evaluate(() => {
    window.sse.source.close();
    return window.sse.seen;
  });
  const [first, second] = seen.frames.filter((f) => f.type === 'welcome');
  assert.equal(first.recovered, undefined);
  assert.equal(second.recovered, true); // Chromium sent Last-Event-ID
  assert.deepEqual(seen.frames.find((f) => f.type === 'close'), { type: 'close', code: 1012, reason: 'reconnect' });
  const messages = seen.frames.filter((f) => f.type === 'message');
  assert.deepEqual(messages.map((m) => m.seq), [1, 2, 3, 4]);
  assert.deepEqual(messages.map((m) => m.data), ['one', 'two', 'while away', 'back']);
  assert.equal(seen.ids.at(-1), `${first.epoch}:4`);
  assert.equal(seen.opens, 2);
});
