// The /status page in Debian's chromium against a real herald: its figures follow the traffic
// (logins, publishes, a slow consumer's close) within a few of its 2-second polls; with an API
// key configured it asks for the key and works once it is typed in. No console error, no CSP
// violation. Writes the README's screenshot (docs/status.png with HERALD_SCREENSHOT_DIR=docs).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import WebSocket from 'ws';

import { publish, startHerald } from '../js/support.js';
import { launchChromium, newPage, screenshots } from './chromium.js';

let browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

// A JSON-protocol login; resolves with the open socket once the welcome has come.
async function login(server, uid, since) {
  const socket = new WebSocket(server.ws);
  await once(socket, 'open');
  socket.send(JSON.stringify(since ? { uid, v: 1, since } : { uid, v: 1 }));
  const [welcome] = await once(socket, 'message');
  assert.equal(JSON.parse(welcome.toString()).type, 'welcome');
  return socket;
}

// Resolves once the page has made `count` more successful scrapes (2 s apart).
async function scrapes(page, count) {
  const from = await page.evaluate(() => globalThis.heraldStatus.scrapes);
  await page.waitForFunction((target) => globalThis.heraldStatus.scrapes >= target, from + count, {
    timeout: 2500 * count + 5000,
  });
}

const text = (page, id) => page.textContent(`#${id}`);

describe('status page', () => {
  test('its figures and charts follow the traffic', async (t) => {
    const page = await newPage(browser, t);
    // A small send queue in bytes: a resume of kept messages over 4 KiB is a slow consumer, while
    // the live bursts below (at most 15 small messages a connection) fit.
    const server = await startHerald(['--send-queue-bytes', '4KiB']);
    t.after(() => server.stop());
    const sockets = [];
    t.after(() => sockets.forEach((socket) => socket.terminate()));

    await page.goto(`${server.http}/status`);
    await page.waitForSelector('#state[data-state="live"]');
    assert.equal(await text(page, 'connections'), '0');
    assert.equal(await text(page, 'nodes'), '1');
    assert.match(await text(page, 'about'), /node local · version \d+\.\d+\.\d+ · up \d+ s/);
    assert.equal(await page.locator('.chart canvas').count(), 4);

    // Three connections of two users, then publishes over a few polls, growing.
    sockets.push(await login(server, 'ann'), await login(server, 'ann'), await login(server, 'bob'));
    for (let round = 1; round <= 3; round++) {
      const sends = [];
      for (let i = 0; i < 10 * round; i++) sends.push(publish(server, i % 2 ? 'ann' : 'bob', `m${round}.${i}`));
      await Promise.all(sends);
      await scrapes(page, 1);
    }
    await page.waitForFunction(() => globalThis.heraldStatus.last.connections === 3);
    assert.equal(await text(page, 'connections'), '3');
    assert.equal(await text(page, 'users'), '2');
    // Each round's publishes fell between two scrapes: rates above 0 (the tiles show the last,
    // which may be a quiet poll's 0).
    const { publishes, deliveries } = await page.evaluate(() => globalThis.heraldStatus.history);
    assert.ok(Math.max(...publishes.filter(Number.isFinite)) > 0, `publishes/s ${publishes}`);
    assert.ok(Math.max(...deliveries.filter(Number.isFinite)) > 0, `deliveries/s ${deliveries}`);
    assert.match(await text(page, 'publishes'), /^\d+(\.\d)?$/);
    // Delivery lag is sampled, the first write on each I/O thread among them: a p99 shows.
    await page.waitForFunction(() => document.getElementById('lag').textContent.endsWith(' ms'));

    // A slow consumer: a resume longer than its send queue.
    for (let i = 0; i < 3; i++) await publish(server, 'slowpoke', `kept ${i} ${'x'.repeat(2000)}`);
    const slow = new WebSocket(server.ws);
    await once(slow, 'open');
    slow.send(JSON.stringify({ uid: 'slowpoke', v: 1, since: { seq: 0 } }));
    const [code, reason] = await once(slow, 'close');
    assert.equal(`${code} ${reason}`, '1008 slow consumer');
    await page.waitForFunction(() => document.getElementById('slow').textContent === '1');

    // A quiet poll, so that the chart shows the rates going back down.
    await scrapes(page, 1);
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: path.join(screenshots, 'status.png'), fullPage: true });

    // The page's files come with the strict policy, and the vendored uPlot with its licence.
    for (const route of ['/status', '/status/status.js', '/status/vendor/uPlot.iife.min.js']) {
      const response = await fetch(`${server.http}${route}`);
      assert.match(response.headers.get('content-security-policy'), /^default-src 'self'; script-src 'self'; style-src 'self'/);
    }
    const license = await (await fetch(`${server.http}/status/vendor/uPlot.LICENSE.txt`)).text();
    assert.match(license, /MIT License/);
  });

  test('with an API key configured it asks for the key, and works once it is typed in', async (t) => {
    // Chromium reports each refused fetch of /metrics on the console: those are expected here.
    const page = await newPage(browser, t, { expected: [/status of 401 \(Unauthorized\)$/] });
    const server = await startHerald(['--api-key', 'status-key']);
    t.after(() => server.stop());
    await page.goto(`${server.http}/status`);
    await page.waitForSelector('#key-form:not(.hidden)');
    assert.equal(await page.getAttribute('#state', 'data-state'), 'key');

    // A wrong key is refused, forgotten, and asked for again.
    await page.fill('#key', 'not-the-key');
    await page.click('#key-submit');
    await page.waitForFunction(() => document.getElementById('key-why').textContent.startsWith('That key was refused'));
    await page.waitForSelector('#key-form:not(.hidden)');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);

    await page.fill('#key', 'status-key');
    await page.click('#key-submit');
    await page.waitForSelector('#state[data-state="live"]');
    await page.waitForSelector('#key-form.hidden', { state: 'attached' });
    await publish(server, 'kim', 'hello', { apiKey: 'status-key' });
    await scrapes(page, 1);
    assert.equal(await text(page, 'connections'), '0');
    // Kept in the tab only: sessionStorage, never localStorage; a reload needs no key again.
    assert.equal(await page.evaluate(() => sessionStorage.getItem('herald.status.apiKey')), 'status-key');
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    await page.reload();
    await page.waitForSelector('#state[data-state="live"]');
  });
});
