// The pages that herald serves itself: the embedded files, their headers, revalidation, and
// --no-web.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { root, startHerald } from './support.js';

const files = {
  '/demo': ['source/web/demo.html', 'text/html; charset=utf-8'],
  '/demo/demo.js': ['source/web/demo.js', 'text/javascript; charset=utf-8'],
  '/demo/style.css': ['source/web/style.css', 'text/css; charset=utf-8'],
  '/demo/favicon.svg': ['source/web/favicon.svg', 'image/svg+xml'],
  '/js/herald.js': ['source/js/herald.js', 'text/javascript; charset=utf-8'],
};

test('each embedded file is served as it is in the tree, with its type, CSP, nosniff and an ETag', async (t) => {
  const server = await startHerald();
  t.after(() => server.stop());
  for (const [route, [file, type]] of Object.entries(files)) {
    const response = await fetch(`${server.http}${route}`);
    assert.equal(response.status, 200, route);
    assert.equal(response.headers.get('content-type'), type, route);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), readFileSync(path.join(root, file)), route);
    const csp = response.headers.get('content-security-policy');
    assert.match(csp, /^default-src 'self';/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    const etag = response.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{20}"$/);

    const again = await fetch(`${server.http}${route}`, { headers: { 'If-None-Match': `"other", ${etag}` } });
    assert.equal(again.status, 304, route);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
  }
  const post = await fetch(`${server.http}/demo`, { method: 'POST', body: '{}' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET');
  assert.equal((await fetch(`${server.http}/demo/nothing.js`)).status, 404);
});

test('the pages have no inline script or style', () => {
  const html = readFileSync(path.join(root, 'source/web/demo.html'), 'utf8');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
});

test('--no-web serves no page', async (t) => {
  const server = await startHerald(['--no-web']);
  t.after(() => server.stop());
  for (const route of Object.keys(files)) assert.equal((await fetch(`${server.http}${route}`)).status, 404, route);
  assert.equal((await fetch(`${server.http}/healthz`)).status, 200);
});
