// The browser side, in Debian's chromium (headless, driven by playwright-core) against a real
// herald on a free port: pages are served by herald itself (Chromium keeps public pages off
// 127.0.0.1). The seed's console demo, the /demo page, and the client in a page through cuts,
// reloads and refusals. No page may log a console error or a CSP violation.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { publish, publishBatch, startHerald, startProxy } from '../js/support.js';
import { launchChromium, newPage as newRecordingPage, screenshots } from './chromium.js';

let browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

// A fresh page that records console errors, page errors and CSP violations (chromium.js).
const newPage = (t) => newRecordingPage(browser, t);

// The client in a page: imports /js/herald.js from the server and records what it sees in
// window.herald = {seqs, data, welcomes, closes}.
async function clientInPage(page, url, credentials, options = {}) {
  await page.evaluate(
    async ([url, credentials, options]) => {
      const { HeraldClient } = await import('/js/herald.js');
      const client = new HeraldClient(url, credentials, options);
      const seen = { seqs: [], data: [], welcomes: [], closes: [], client };
      client.on('message', ({ seq, data }) => {
        seen.seqs.push(seq);
        seen.data.push(data);
      });
      client.on('welcome', (welcome) => seen.welcomes.push(welcome));
      client.on('disconnected', (close) => seen.closes.push(close));
      window.herald = seen;
      const welcomed = new Promise((resolve) => client.on('welcome', resolve));
      client.connect();
      await welcomed;
    },
    [url, credentials, options],
  );
}

const rowsOf = (page) =>
  page.$$eval('#messages tbody tr', (rows) =>
    rows.map((row) => ({ seq: Number(row.dataset.seq), data: row.cells[2].textContent })).reverse(),
  );

describe('browser', () => {
  test("the seed's console demo, typed into a page that herald serves", async (t) => {
    const page = await newPage(t);
    const server = await startHerald();
    t.after(() => server.stop());
    await page.goto(`${server.http}/demo`);

    // The README's two lines, as typed into the console (the second once the socket is open).
    await page.evaluate(
      `ws = new WebSocket('ws://127.0.0.1:${server.port}/ws'); ws.onmessage = e => console.log(e.data)`,
    );
    await page.waitForFunction(() => window.ws.readyState === WebSocket.OPEN);
    const logs = [];
    page.on('console', (message) => message.type() === 'log' && logs.push(message.text()));
    const logged = page.waitForEvent('console', { predicate: (m) => m.type() === 'log' });
    await page.evaluate(`ws.send('{"uid":"123"}')`);

    // Seed mode has no acknowledgement: the backend sends until the login has registered.
    let answer;
    for (let attempt = 0; attempt < 500; attempt++) {
      const response = await fetch(`${server.http}/send?uid=123&message=Hello%20World`);
      answer = await response.json();
      if (answer.delivered === 1) break;
    }
    assert.equal(answer.delivered, 1);
    assert.equal((await logged).text(), 'Hello World');
    // Exactly the text, one frame each: nothing else arrives in between (no welcome, no ping).
    const next = page.waitForEvent('console', { predicate: (m) => m.type() === 'log' });
    await publish(server, '123', 'second');
    await next;
    assert.deepEqual(logs, ['Hello World', 'second']);
  });

  test('the demo page receives a published message and publishes one', async (t) => {
    const page = await newPage(t);
    const server = await startHerald();
    t.after(() => server.stop());
    await page.goto(`${server.http}/demo?uid=alice`);
    await page.waitForSelector('#state[data-state="connected"]');

    await publish(server, 'alice', 'Hello World');
    await page.waitForSelector('#messages tr[data-seq="1"]');
    await publish(server, 'alice', { job: 7, progress: 40 });
    await page.waitForSelector('#messages tr[data-seq="2"]');

    await page.fill('#message', 'published from the page');
    await page.click('#send');
    await page.waitForSelector('#messages tr[data-seq="3"]');
    assert.equal(await page.textContent('#sent'), 'delivered to 1 connection(s), seq 3');
    assert.deepEqual(await rowsOf(page), [
      { seq: 1, data: 'Hello World' },
      { seq: 2, data: '{"job":7,"progress":40}' },
      { seq: 3, data: 'published from the page' },
    ]);
    assert.equal(await page.textContent('#seq'), '3');

    // The pages come with their security headers.
    const response = await fetch(`${server.http}/demo`);
    assert.match(response.headers.get('content-security-policy'), /default-src 'self'/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');

    await page.waitForFunction(() => !document.querySelector('tr.fresh'));
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: path.join(screenshots, 'demo.png'), fullPage: true });
  });

  test('a client in a page keeps every message, in order and once, through server-side cuts during a burst', async (t) => {
    // A send queue of one message, and bursts of 50 in one batch request: the server queues a
    // batch's messages for the page in one step, so the second one overflows the queue and the
    // server closes the connection as a slow consumer, every time, however fast it writes.
    const page = await newPage(t);
    const server = await startHerald(['--send-queue', '1', '--history-size', '1000']);
    t.after(() => server.stop());
    await page.goto(`${server.http}/demo`);
    await clientInPage(page, server.ws, { uid: 'burst' }, { minReconnectDelay: 20, maxReconnectDelay: 200 });

    // The server's seqs, not the order of the entries, say which comes first.
    const bySeq = [];
    let published = 0;
    for (let cut = 1; cut <= 3; cut++) {
      const texts = Array.from({ length: 50 }, () => `m${++published}`);
      const results = await publishBatch(server, texts.map((message) => ({ uid: 'burst', message })));
      results.forEach(({ seq }, i) => (bySeq[seq - 1] = texts[i]));
      // Cut (and maybe cut again while the resume replays into the same small queue), then back
      // and caught up before the next burst.
      await page.waitForFunction(
        ([cuts, last]) => window.herald.closes.length >= cuts && window.herald.seqs.at(-1) === last,
        [cut, published],
        { timeout: 20000 },
      );
    }
    const cuts = await page.evaluate(() => window.herald.closes.length);
    assert.ok(cuts >= 3, `only ${cuts} cuts`);
    await page.waitForFunction((count) => window.herald.seqs.at(-1) === count, published, { timeout: 20000 });

    const seen = await page.evaluate(() => ({ seqs: window.herald.seqs, data: window.herald.data, closes: window.herald.closes, welcomes: window.herald.welcomes }));
    assert.deepEqual(seen.seqs, Array.from({ length: published }, (_, i) => i + 1));
    assert.deepEqual(seen.data, bySeq);
    assert.ok(seen.closes.every((close) => close.reason === 'slow consumer' && close.reconnect));
    assert.ok(seen.welcomes.slice(1).every((welcome) => welcome.recovered === true));
  });

  test('a reload resumes from localStorage with recovered:true and no gap', async (t) => {
    const page = await newPage(t);
    const server = await startHerald();
    t.after(() => server.stop());
    await page.goto(`${server.http}/demo?uid=reload`);
    await page.waitForSelector('#state[data-state="connected"]');
    for (let i = 1; i <= 3; i++) await publish(server, 'reload', `before ${i}`);
    await page.waitForSelector('#messages tr[data-seq="3"]');

    // Messages published while the page reloads arrive in the new page, or in the old one before
    // it went (its position is saved with each message): none is lost, none comes twice.
    const reloading = page.reload();
    for (let i = 4; i <= 6; i++) await publish(server, 'reload', `during ${i - 3}`);
    await reloading;
    await page.waitForSelector('#log li[data-kind="welcome"]');
    const from = await page.evaluate(() => window.heraldDemo.resumedFrom.seq);
    assert.ok(from >= 3 && from <= 6, `resumed after ${from}`);
    if (from < 6) await page.waitForSelector('#messages tr[data-seq="6"]');
    assert.match(await page.textContent('#log li[data-kind="welcome"]'), /recovered: true/);
    const rows = await rowsOf(page);
    assert.deepEqual(
      rows.map((row) => row.seq),
      Array.from({ length: 6 - from }, (_, i) => from + 1 + i),
    );
  });

  test('a refused login does not retry', async (t) => {
    const page = await newPage(t);
    const server = await startHerald(['--token-secret', 'browser test secret']);
    t.after(() => server.stop());
    await page.goto(`${server.http}/demo?uid=bob`);
    await page.waitForSelector('#log li.bad');
    assert.match(await page.textContent('#log li.bad'), /disconnected \(1008 token required\)$/);
    assert.equal(await page.textContent('#state'), 'disconnected');
    await page.reload(); // a second login, to compare with the server's log below
    await page.waitForSelector('#log li.bad');
    await server.stop();
    const refused = server.lines.filter((line) => / login_failed .*token required/.test(line));
    assert.equal(refused.length, 2, refused.join('\n'));
  });

  test("the browser's online event brings a waiting reconnect forward", async (t) => {
    const page = await newPage(t);
    const server = await startHerald();
    t.after(() => server.stop());
    const proxy = await startProxy(server.port);
    t.after(() => proxy.stop());
    await page.goto(`${proxy.http}/demo`);
    // A reconnect delay of up to a minute, unless the network comes back.
    await clientInPage(page, proxy.ws, { uid: 'online' }, { minReconnectDelay: 60000, maxReconnectDelay: 60000 });
    await publish(server, 'online', 'one');
    await page.waitForFunction(() => window.herald.seqs.length === 1);

    proxy.cut();
    await page.waitForFunction(() => window.herald.closes.length === 1);
    await publish(server, 'online', 'two');
    const started = Date.now();
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await page.waitForFunction(() => window.herald.seqs.length === 2, null, { timeout: 5000 });
    assert.ok(Date.now() - started < 5000);
    const seen = await page.evaluate(() => ({ data: window.herald.data, welcomes: window.herald.welcomes }));
    assert.deepEqual(seen.data, ['one', 'two']);
    assert.equal(seen.welcomes.at(-1).recovered, true);
  });
});
